package virtualboard

import (
	"context"
	"encoding/binary"

	"github.com/iotbench/iotbench/flasher"
)

// ramLoader is a ROM loader's RAM download state: MEM_BEGIN, MEM_DATA and
// MEM_END (esp-serial-protocol.md §10.1), shared by the ESP8266 and
// ESP32-family ROMs. fits says whether [addr, addr+size) is RAM the ROM
// accepts code into.
type ramLoader struct {
	fits func(addr, size uint32) bool

	active    bool
	addr      uint32
	size      uint32
	blocks    uint32
	blockSize uint32
	segs      map[uint32][]byte // loaded segments by address
}

func newRAMLoader(fits func(addr, size uint32) bool) *ramLoader {
	return &ramLoader{fits: fits, segs: map[uint32][]byte{}}
}

// begin handles MEM_BEGIN (size, packets, packet size, address); it
// returns 0 or the ROM error code.
func (m *ramLoader) begin(d []byte) byte {
	size, blocks, blockSize, addr := le(d, 0), le(d, 1), le(d, 2), le(d, 3)
	if !m.fits(addr, 1) {
		return romErrRAMAddr
	}
	if !m.fits(addr, size) {
		return romErrRAMSize
	}
	m.active, m.addr, m.size, m.blocks, m.blockSize = true, addr, size, blocks, blockSize
	m.segs[addr] = make([]byte, size)
	return 0
}

// data handles MEM_DATA: the 16-byte header, the checksum over the
// payload, and the payload copied to seq × packet size.
func (m *ramLoader) data(d []byte, chk uint32) byte {
	payload, seq, code := dataPayload(d, chk)
	if !m.active && code == 0 {
		code = romErrInvalidMsg
	}
	if code != 0 {
		return code
	}
	off := seq * m.blockSize
	seg := m.segs[m.addr]
	if uint64(off)+uint64(len(payload)) > uint64(len(seg)) {
		return romErrRAMSize
	}
	copy(seg[off:], payload)
	return 0
}

// end handles MEM_END's state change; the caller decides what running
// the entry point means.
func (m *ramLoader) end() { m.active = false }

// holds reports whether entry lies in code that was loaded.
func (m *ramLoader) holds(entry uint32) bool {
	for a, seg := range m.segs {
		if entry >= a && entry < a+uint32(len(seg)) {
			return true
		}
	}
	return false
}

// memEnd is what follows MEM_END's reply (flag, entry): with the
// "run" flag and an entry point in loaded code the CPU jumps there and the
// flasher stub takes over the UART; jumping where nothing was loaded
// hangs the chip. It reports whether the ROM loop is over.
func (b *Board) memEnd(ctx context.Context, ram *ramLoader, regs *regFile, d []byte) bool {
	noRun, entry := le(d, 0), le(d, 1)
	if noRun != 0 || entry == 0 {
		return false
	}
	if err := b.waitTx(ctx); err != nil {
		return true
	}
	if !ram.holds(entry) {
		// The CPU runs whatever is there and the loader is gone.
		b.logf("MEM_END jumped to 0x%08X where nothing was loaded: chip hangs", entry)
		<-ctx.Done()
		return true
	}
	b.logf("MEM_END: running uploaded code at 0x%08X (stub personality)", entry)
	// The stub attaches the flash itself as it starts (§13).
	regs.flashPins = true
	runStub(ctx, b, regs)
	return true
}

// dataPayload checks a FLASH_DATA / MEM_DATA / FLASH_DEFL_DATA request:
// the length word of the 16-byte header must match the payload (§7.4)
// and the request's checksum must be the payload's (§3.5). It returns
// the payload, the sequence number, and 0 or the ROM error code.
func dataPayload(d []byte, chk uint32) ([]byte, uint32, byte) {
	if len(d) < 16 || int(binary.LittleEndian.Uint32(d)) != len(d)-16 {
		return nil, 0, romErrInvalidMsg
	}
	payload := d[16:]
	if flasher.Checksum(payload) != chk&0xFF {
		return nil, 0, romErrChecksum
	}
	return payload, le(d, 1), 0
}

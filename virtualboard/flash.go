package virtualboard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

var errClosed = errors.New("virtualboard: closed")

// FlashTiming are SPI NOR latencies. The defaults are the typical values
// of the Winbond W25Q32JV (the 4 MB part, JEDEC EF 40 16, on most ESP8266
// modules): datasheet rev. F (2017), §9.6 AC Electrical Characteristics —
// page program tPP 0.4 ms, 4 KB sector erase tSE 45 ms, 32 KB block erase
// tBE1 120 ms, 64 KB block erase tBE2 150 ms, chip erase tCE 10 s.
type FlashTiming struct {
	PageProgram  time.Duration // per 256-byte page
	SectorErase  time.Duration // 4 KiB
	Block32Erase time.Duration
	Block64Erase time.Duration
	ChipErase    time.Duration
	// ReadRate is bytes per second for reads (MD5, boot): a 40 MHz dual-I/O
	// read moves 10 MB/s.
	ReadRate float64
}

// W25Q32JVTiming is the default timing.
var W25Q32JVTiming = FlashTiming{
	PageProgram:  400 * time.Microsecond,
	SectorErase:  45 * time.Millisecond,
	Block32Erase: 120 * time.Millisecond,
	Block64Erase: 150 * time.Millisecond,
	ChipErase:    10 * time.Second,
	ReadRate:     10e6,
}

const (
	pageSize    = 256
	sectorSize  = 4096
	block64Size = 65536
)

// Flash is a SPI NOR flash chip: erasing sets whole sectors to 0xFF,
// programming can only clear bits (new = old AND data), a page program
// wraps at its 256-byte page boundary, and addresses beyond the chip wrap
// around (the chip ignores the upper address bits). Operations charge
// their datasheet latency on the board's clock; the flash is busy (WIP)
// until it has elapsed.
type Flash struct {
	clk    *Clock
	timing FlashTiming

	mu        sync.Mutex
	data      []byte
	jedec     [3]byte
	busyUntil time.Duration
	wel       bool
	status    [3]byte
	charged   time.Duration
	erases    int
	programs  int
	powerDown bool
}

// NewFlash makes an erased flash of size bytes with a Winbond-style JEDEC
// ID for that size.
func NewFlash(clk *Clock, size int, timing FlashTiming) (*Flash, error) {
	if size < 256<<10 || size > 16<<20 || size&(size-1) != 0 {
		return nil, fmt.Errorf("flash size %d: use a power of two between 256KB and 16MB", size)
	}
	f := &Flash{clk: clk, timing: timing, data: make([]byte, size)}
	for i := range f.data {
		f.data[i] = 0xFF
	}
	// Capacity code: 0x12 = 256 KB … 0x18 = 16 MB (esp-serial-protocol.md §12.4).
	capCode := byte(0x12)
	for n := 256 << 10; n < size; n <<= 1 {
		capCode++
	}
	f.jedec = [3]byte{0xEF, 0x40, capCode}
	return f, nil
}

// Size is the flash size in bytes.
func (f *Flash) Size() int { return len(f.data) }

// JEDEC returns the RDID bytes (manufacturer, type, capacity).
func (f *Flash) JEDEC() [3]byte { return f.jedec }

// SetJEDEC overrides the RDID answer (e.g. an XMC part, or 0xFFFFFF for a
// flash that does not answer).
func (f *Flash) SetJEDEC(id [3]byte) {
	f.mu.Lock()
	f.jedec = id
	f.mu.Unlock()
}

// Snapshot copies the whole content.
func (f *Flash) Snapshot() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.data...)
}

// Read copies n bytes from addr (wrapping like the chip).
func (f *Flash) Read(addr uint32, n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readLocked(addr, n)
}

func (f *Flash) readLocked(addr uint32, n int) []byte {
	out := make([]byte, n)
	size := uint32(len(f.data))
	for i := range out {
		out[i] = f.data[(addr+uint32(i))%size]
	}
	return out
}

// Load writes bytes directly, as a factory programmer would (tests use it
// to set up a flash; it charges no time and ignores NOR rules).
func (f *Flash) Load(addr uint32, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	size := uint32(len(f.data))
	for i, b := range p {
		f.data[(addr+uint32(i))%size] = b
	}
}

// Charged is the total erase/program/read time the flash has charged.
func (f *Flash) Charged() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.charged
}

// Stats returns the number of erase and page-program operations.
func (f *Flash) Stats() (erases, programs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.erases, f.programs
}

// charge books d of busy time starting when the chip is next free and
// returns when the operation completes (virtual time).
func (f *Flash) chargeLocked(d time.Duration) time.Duration {
	now := f.clk.Now()
	start := max(now, f.busyUntil)
	f.busyUntil = start + d
	f.charged += d
	return f.busyUntil
}

func (f *Flash) eraseLocked(addr uint32, n int) {
	size := uint32(len(f.data))
	for i := 0; i < n; i++ {
		f.data[(addr+uint32(i))%size] = 0xFF
	}
	f.erases++
}

// EraseSector erases the 4 KiB sector holding addr; returns completion time.
func (f *Flash) EraseSector(addr uint32) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eraseLocked(addr&^(sectorSize-1), sectorSize)
	return f.chargeLocked(f.timing.SectorErase)
}

// EraseBlock64 erases the 64 KiB block holding addr.
func (f *Flash) EraseBlock64(addr uint32) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eraseLocked(addr&^(block64Size-1), block64Size)
	return f.chargeLocked(f.timing.Block64Erase)
}

// EraseChip erases everything.
func (f *Flash) EraseChip() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eraseLocked(0, len(f.data))
	return f.chargeLocked(f.timing.ChipErase)
}

// Program writes p at addr page by page (a program that crosses a page
// boundary is split, as the ESP ROM's SPIWrite does); each byte becomes
// old AND new, because programming NOR flash can only clear bits.
func (f *Flash) Program(addr uint32, p []byte) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var done time.Duration
	for len(p) > 0 {
		room := pageSize - int(addr%pageSize)
		n := min(room, len(p))
		f.programPageLocked(addr, p[:n])
		done = f.chargeLocked(f.timing.PageProgram)
		addr += uint32(n)
		p = p[n:]
	}
	return done
}

// programPageLocked programs within one page; like the real chip, bytes
// past the page end wrap to the page start.
func (f *Flash) programPageLocked(addr uint32, p []byte) {
	size := uint32(len(f.data))
	page := addr &^ (pageSize - 1)
	off := addr % pageSize
	for i, b := range p {
		a := (page + (off+uint32(i))%pageSize) % size
		f.data[a] &= b
	}
	f.programs++
}

// ChargeRead books the time to read n bytes and returns its completion.
func (f *Flash) ChargeRead(n int) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := time.Duration(float64(n) / f.timing.ReadRate * float64(time.Second))
	return f.chargeLocked(d)
}

// WaitIdle sleeps until the flash finished its last operation.
func (f *Flash) WaitIdle(ctx context.Context) error {
	f.mu.Lock()
	until := f.busyUntil
	f.mu.Unlock()
	return f.clk.SleepUntil(ctx, until)
}

// sfdp is the start of a JEDEC SFDP table as a Winbond part answers it:
// signature "SFDP", revision 1.6, one parameter header (the basic flash
// parameter table). Byte 0x10 is past the headers and reads 0xFF, which is
// what esptool's XMC check reads on non-XMC parts (§12.5).
var sfdp = []byte{'S', 'F', 'D', 'P', 0x06, 0x01, 0x00, 0xFF, 0x00, 0x06, 0x01, 0x10, 0x80, 0x00, 0x00, 0xFF}

// SPI executes one SPI flash command as the controller issues it: command
// byte, optional address, MOSI data, and misoLen bytes to clock back. It
// supports what an ESP loader or a flasher driving the registers sends.
func (f *Flash) SPI(cmd byte, addr uint32, mosi []byte, misoLen int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]byte, misoLen)
	busy := f.clk.Now() < f.busyUntil
	if f.powerDown && cmd != 0xAB {
		for i := range out {
			out[i] = 0xFF
		}
		return out
	}
	switch cmd {
	case 0x9F: // RDID
		copy(out, f.jedec[:])
	case 0x5A: // RDSFDP
		for i := range out {
			j := int(addr) + i
			if j < len(sfdp) {
				out[i] = sfdp[j]
			} else {
				out[i] = 0xFF
			}
		}
	case 0x05, 0x35, 0x15: // RDSR1..3
		idx := map[byte]int{0x05: 0, 0x35: 1, 0x15: 2}[cmd]
		s := f.status[idx]
		if idx == 0 {
			if busy {
				s |= 0x01 // WIP
			}
			if f.wel {
				s |= 0x02 // WEL
			}
		}
		for i := range out {
			out[i] = s
		}
	case 0x06:
		f.wel = true
	case 0x04:
		f.wel = false
	case 0x01, 0x31, 0x11: // WRSR1..3
		if f.wel && !busy && len(mosi) > 0 {
			idx := map[byte]int{0x01: 0, 0x31: 1, 0x11: 2}[cmd]
			f.status[idx] = mosi[0] &^ 0x03
			if cmd == 0x01 && len(mosi) > 1 {
				f.status[1] = mosi[1]
			}
			f.wel = false
		}
	case 0x66, 0x99, 0x79, 0xFF:
		// reset enable / reset / XMC wake-up steps: nothing to change here
	case 0xB9:
		f.powerDown = true
	case 0xAB:
		f.powerDown = false
	case 0x03, 0x0B: // READ, FAST READ (the dummy byte is the caller's)
		copy(out, f.readLocked(addr, misoLen))
	case 0x02: // PAGE PROGRAM
		if f.wel && !busy {
			f.programPageLocked(addr, mosi)
			f.chargeLocked(f.timing.PageProgram)
			f.wel = false
		}
	case 0x20, 0x52, 0xD8: // SECTOR / 32K / 64K ERASE
		if f.wel && !busy {
			switch cmd {
			case 0x20:
				f.eraseLocked(addr&^(sectorSize-1), sectorSize)
				f.chargeLocked(f.timing.SectorErase)
			case 0x52:
				f.eraseLocked(addr&^(32768-1), 32768)
				f.chargeLocked(f.timing.Block32Erase)
			default:
				f.eraseLocked(addr&^(block64Size-1), block64Size)
				f.chargeLocked(f.timing.Block64Erase)
			}
			f.wel = false
		}
	case 0xC7, 0x60:
		if f.wel && !busy {
			f.eraseLocked(0, len(f.data))
			f.chargeLocked(f.timing.ChipErase)
			f.wel = false
		}
	default:
		for i := range out {
			out[i] = 0xFF
		}
	}
	return out
}

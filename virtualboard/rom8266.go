package virtualboard

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

// ESP8266 ROM error codes used here (esp-serial-protocol.md §5.1).
const (
	romErrInvalidParam = 0x01
	romErrInvalidMsg   = 0x05
	romErrChecksum     = 0x07
	romErrRAMSize      = 0x0E
	romErrRAMAddr      = 0x0F
	// The ROM's receive buffer holds a MEM_DATA packet of 0x1800 bytes
	// plus its header; anything longer cannot be received.
	romMaxData = 0x1800 + 16
)

// runChip is the CPU from a reset (banner) or a software jump (no banner).
func (b *Board) runChip(ctx context.Context, cause, strap int, banner bool) {
	b.mu.Lock()
	b.cause = cause
	b.mu.Unlock()
	// Bytes that arrived while the chip was held in reset were never
	// received by anything.
	b.toChip.purge()
	b.setBaud(b.romBaud())
	if !b.chip.IsESP8266() {
		b.run32(ctx, cause, strap, banner)
		return
	}
	if banner {
		b.logf("reset: rst cause %d, boot mode (%d,6)", cause, strap)
		// device-side.md §1.2: leading space, two spaces before 8, no
		// space after the comma; B (second number) is undocumented, 6 is
		// the common value.
		b.print(fmt.Sprintf("\n ets Jan  8 2013,rst cause:%d, boot mode:(%d,6)\n\n", cause, strap))
		if cause == 4 {
			b.print("wdt reset\n")
		}
	}
	switch strap {
	case 1:
		r := &rom8266{b: b, fr: newFrames(b, true), regs: newRegFile(b), ram: newRAMLoader(inESP8266RAM)}
		r.loop(ctx)
	case 3:
		b.bootFlash(ctx)
	default:
		// SDIO boot or an invalid strap: the ROM waits for a host that
		// never comes (device-side.md §1.4).
		if strap >= 4 {
			b.print("waiting for host\n")
		}
		<-ctx.Done()
	}
}

// rom8266 is the ESP8266 mask ROM's UART download loop.
type rom8266 struct {
	b    *Board
	fr   *frames
	regs *regFile
	junk uint32 // the ROM leaves stale data in the value field (§3.2)

	fl struct {
		active    bool
		offset    uint32
		blocks    uint32
		blockSize uint32
	}
	ram *ramLoader
}

func (r *rom8266) ok(op byte, result []byte) {
	r.b.reply(op, r.junk, result, []byte{0, 0})
}

func (r *rom8266) fail(op byte, code byte) {
	r.b.reply(op, r.junk, nil, []byte{1, code})
}

// status answers success for code 0, else failure with that ROM code.
func (r *rom8266) status(op, code byte) {
	if code != 0 {
		r.fail(op, code)
		return
	}
	r.ok(op, nil)
}

func (r *rom8266) loop(ctx context.Context) {
	for {
		f, err := r.fr.next(ctx)
		if err != nil {
			return
		}
		if len(f) < 8 || f[0] != 0 {
			continue
		}
		req, err := flasher.ParseRequest(f)
		if err != nil || len(req.Data) > romMaxData {
			r.fail(f[1], romErrInvalidMsg)
			continue
		}
		if stop := r.handle(ctx, req); stop {
			return
		}
	}
}

func le(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }

// romDataLen is the exact request length of each ESP8266 ROM command;
// anything else is "invalid message" (§4.1: the ROM even refuses a
// 20-byte FLASH_BEGIN).
var romDataLen = map[byte]int{
	flasher.OpSync: 36, flasher.OpReadReg: 4, flasher.OpWriteReg: 16, flasher.OpFlashBegin: 16,
	flasher.OpFlashEnd: 4, flasher.OpMemBegin: 16, flasher.OpMemEnd: 8,
}

// handle runs one command; it returns true when the ROM leaves the loader.
func (r *rom8266) handle(ctx context.Context, q flasher.Request) bool {
	d := q.Data
	if want, ok := romDataLen[q.Op]; ok && len(d) != want {
		r.fail(q.Op, romErrInvalidMsg)
		return false
	}
	switch q.Op {
	case flasher.OpSync:
		if string(d) != string(flasher.SyncPayload) {
			r.fail(q.Op, romErrInvalidMsg)
			return false
		}
		// Eight identical replies, value 0x20120707 (§6.3).
		r.junk = 0x20120707
		for i := 0; i < 8; i++ {
			r.ok(q.Op, nil)
		}
	case flasher.OpReadReg:
		v := r.regs.read(le(d, 0))
		r.b.reply(q.Op, v, nil, []byte{0, 0})
		r.junk = v
	case flasher.OpWriteReg:
		r.regs.write(le(d, 0), le(d, 1), le(d, 2))
		if us := le(d, 3); us > 0 {
			r.b.clk.Sleep(ctx, time.Duration(us)*time.Microsecond)
		}
		r.ok(q.Op, nil)
	case flasher.OpFlashBegin:
		eraseSize, blocks, blockSize, offset := le(d, 0), le(d, 1), le(d, 2), le(d, 3)
		if blockSize == 0 && blocks > 0 || blockSize > romMaxData-16 {
			r.fail(q.Op, romErrInvalidParam)
			return false
		}
		r.fl.active, r.fl.offset, r.fl.blocks, r.fl.blockSize = true, offset, blocks, blockSize
		if eraseSize > 0 {
			if err := r.b.romEraseArea(ctx, offset, eraseSize); err != nil {
				return true
			}
		}
		r.ok(q.Op, nil)
	case flasher.OpFlashData:
		if !r.fl.active {
			r.fail(q.Op, romErrInvalidParam)
			return false
		}
		payload, seq, code := dataPayload(d, q.Checksum)
		if code != 0 {
			r.fail(q.Op, code)
			return false
		}
		if seq >= r.fl.blocks {
			r.fail(q.Op, romErrInvalidParam)
			return false
		}
		// Packets land at offset + seq × block size (§7.4), so a packet
		// resent after a lost reply rewrites the same bytes.
		done := r.b.flash.Program(r.fl.offset+seq*r.fl.blockSize, payload)
		if err := r.b.clk.SleepUntil(ctx, done); err != nil {
			return true
		}
		r.ok(q.Op, nil)
	case flasher.OpFlashEnd:
		r.fl.active = false
		r.ok(q.Op, nil)
		if err := r.b.waitTx(ctx); err != nil {
			return true
		}
		if le(d, 0) == 0 {
			r.b.logf("FLASH_END(reboot)")
			r.b.softReset()
		} else {
			r.b.logf("FLASH_END(run user code)")
			go r.b.startCPU(0, 3, false)
		}
		return true
	case flasher.OpMemBegin:
		r.status(q.Op, r.ram.begin(d))
	case flasher.OpMemData:
		r.status(q.Op, r.ram.data(d, q.Checksum))
	case flasher.OpMemEnd:
		r.ram.end()
		r.ok(q.Op, nil)
		return r.b.memEnd(ctx, r.ram, r.regs, d)
	default:
		// Unknown opcodes: same opcode, status 1 / 0x05 (one of the two
		// behaviours esptool tolerates; chosen as in the doc's own
		// emulator, §5.3, §17).
		r.fail(q.Op, romErrInvalidMsg)
	}
	return false
}

// inESP8266RAM: the ROM accepts RAM downloads into DRAM 0x3FFE8000–
// 0x40000000 and IRAM 0x40100000–0x40110000 (the upper half is the
// instruction cache, free while the loader runs; the esptool stub's text
// sits at 0x4010D000, §10.2).
func inESP8266RAM(addr, size uint32) bool {
	end := uint64(addr) + uint64(size)
	return (addr >= 0x3FFE8000 && end <= 0x40000000) || (addr >= 0x40100000 && end <= 0x40110000)
}

// romEraseArea is the ESP8266 ROM's FLASH_BEGIN erase with its bug. The
// doc's model (esp-serial-protocol.md §7.3 — an inference consistent with
// esptool's workaround, which nobody outside Espressif has documented):
// asked for r sectors starting at sector s, with h = 16 − s mod 16 sectors
// left in that 64 KiB block, the ROM erases r + min(r, h) sectors. It
// erases sector by sector up to the block boundary, then whole 64 KiB
// blocks, then sectors; the reply comes when the erase is done.
func (b *Board) romEraseArea(ctx context.Context, offset, eraseSize uint32) error {
	s := int(offset / sectorSize)
	r := int((eraseSize + sectorSize - 1) / sectorSize)
	h := 16 - s%16
	total := r + min(r, h)
	b.logf("ROM FLASH_BEGIN erase: asked 0x%X bytes at 0x%X, erasing %d sectors from 0x%X", eraseSize, offset, total, s*sectorSize)
	return b.eraseSectors(ctx, s, total)
}

// eraseSectors erases total sectors from sector s the way the ROMs'
// SPIEraseArea does — sector by sector up to a 64 KiB block boundary,
// then whole blocks, then sectors — and returns when the flash is done.
func (b *Board) eraseSectors(ctx context.Context, s, total int) error {
	var done time.Duration
	for i := 0; i < total; {
		sec := s + i
		if sec%16 == 0 && total-i >= 16 {
			done = b.flash.EraseBlock64(uint32(sec * sectorSize))
			i += 16
			continue
		}
		done = b.flash.EraseSector(uint32(sec * sectorSize))
		i++
	}
	return b.clk.SleepUntil(ctx, done)
}

// bootFlash is the ROM loading the image at flash offset 0 and printing
// its trace (device-side.md §1.5; the room/tail/ho arithmetic is the doc's
// inference from real logs, with ho = offset in the 16-byte read block
// where the previous segment's last data began).
func (b *Board) bootFlash(ctx context.Context) {
	fl := b.flash
	hdr := fl.Read(0, 8)
	if hdr[0] != 0xE9 {
		// Nothing loadable: the banner is all a real board shows with an
		// erased or foreign flash (§1.5 "banner only").
		b.logf("flash boot: no image at 0x0 (first byte 0x%02X)", hdr[0])
		<-ctx.Done()
		return
	}
	nseg := int(hdr[1])
	entry := binary.LittleEndian.Uint32(hdr[4:])
	pos := uint32(8)
	chk := byte(0xEF)
	var out strings.Builder
	size := uint32(fl.Size())
	var prevTail, prevHo int
	for i := 0; i < nseg; i++ {
		if i > 0 {
			if left := int(16-pos%16) % 16; left > 0 && left < 8 {
				fmt.Fprintf(&out, "ho %d tail %d room %d\n", prevHo, prevTail, left)
			}
		}
		sh := fl.Read(pos, 8)
		addr := binary.LittleEndian.Uint32(sh[0:])
		n := binary.LittleEndian.Uint32(sh[4:])
		pos += 8
		room := int(16 - pos%16)
		fmt.Fprintf(&out, "load 0x%08x, len %d, room %d \n", addr, int32(n), room)
		if n > size || pos+n > size {
			// A length no flash can hold (an erased header reads
			// 0xFFFFFFFF): the ROM starts copying and never returns.
			b.print(out.String())
			b.logf("flash boot: segment %d claims %d bytes: ROM hangs", i, int32(n))
			<-ctx.Done()
			return
		}
		data := fl.Read(pos, int(n))
		for _, x := range data {
			chk ^= x
		}
		if int(n) <= room {
			prevTail, prevHo = int(n), 16-room
		} else {
			prevTail, prevHo = (int(n)-room)%16, 0
		}
		fmt.Fprintf(&out, "tail %d\nchksum 0x%02x\n", prevTail, chk)
		pos += n
	}
	for pos%16 != 15 {
		pos++
	}
	stored := fl.Read(pos, 1)[0]
	fmt.Fprintf(&out, "csum 0x%02x\n", stored)
	done := fl.ChargeRead(int(pos + 1))
	if err := b.clk.SleepUntil(ctx, done); err != nil {
		return
	}
	if stored != chk {
		out.WriteString("csum err\nets_main.c\n")
		b.print(out.String())
		b.logf("flash boot: checksum 0x%02x, image says 0x%02x: ROM halts", chk, stored)
		<-ctx.Done()
		return
	}
	b.print(out.String())
	b.logf("flash boot: image loaded, jumping to 0x%08x", entry)
	if b.cfg.App != nil {
		b.cfg.App(ctx, &AppEnv{b: b, Entry: entry, ResetCause: b.lastCause()})
	}
	<-ctx.Done()
}

func (b *Board) lastCause() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cause
}

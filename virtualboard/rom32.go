package virtualboard

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
)

// ESP32-family ROM error codes beyond the ESP8266 ROM's (§5.1).
const (
	romErrFailed     = 0x06
	romErrFlashWrite = 0x08
	romErrReadLen    = 0x0A
	romErrInflate    = 0x0B
)

// esp32ROMDefaultFlashSize bounds flash accesses until SPI_SET_PARAMS
// says otherwise. The ROMs check every read, write, erase and MD5 against
// the size in their flashchip structure; its power-on value is not
// documented, but public reports agree on 2 MB: SPI_FLASH_MD5 above
// 0x200000 fails on an ESP32 ROM unless a flash write (which sends
// SPI_SET_PARAMS first) came before (espressif/esp-serial-flasher issue
// #23), and esptool answers a failed READ_FLASH_SLOW with "Consider
// specifying flash size" (targets/esp32.py read_flash_slow).
const esp32ROMDefaultFlashSize = 2 << 20

// romHashRate is how fast an ESP32-family ROM hashes flash for
// SPI_FLASH_MD5, in bytes per second of CPU time on top of the flash read.
// The ROM runs its CPU from the 40 MHz crystal (APB = crystal during the
// ROM loader, §9.2) and hashes in software; at roughly 10 cycles per byte
// for MD5 on an in-order core that is 4 MB/s. An estimate, not a
// measurement; it only decides how long verification takes.
const romHashRate = 4e6

// readSlowLen is READ_FLASH_SLOW's fixed answer size (§10.3).
const readSlowLen = 64

// run32 is an ESP32-family chip after reset: the ROM banner, then either
// the UART download loop (rom32) or the boot from flash (bootFlash32).
func (b *Board) run32(ctx context.Context, cause, strap int, banner bool) {
	start := b.clk.Now()
	if banner {
		b.print(b.banner32(cause, strap))
	}
	if strap != 1 {
		if strap == 3 {
			b.bootFlash32(ctx, start)
		}
		<-ctx.Done()
		return
	}
	r := &rom32{b: b, fr: newFrames(b, true), regs: newRegFile(b), junk: 0x55201207, flashSize: esp32ROMDefaultFlashSize}
	windows, _ := image.RAMWindows(b.chip.Name)
	r.ram = newRAMLoader(func(addr, size uint32) bool {
		end := uint64(addr) + uint64(size)
		for _, w := range windows {
			if addr >= w[0] && end <= uint64(w[1]) {
				return true
			}
		}
		return false
	})
	r.loop(ctx)
}

// causeUSBChipReset is the reset the USB-Serial/JTAG controller causes
// (device-side.md §1.8: 0x15 USB_UART_CHIP_RESET on S2/S3/C3 and later).
const causeUSBChipReset = 0x15

// romCause32 is the rst code and name an ESP32-family ROM prints for a
// reset cause (device-side.md §1.8): EN and power-on are POWERON_RESET, a
// software restart SW_CPU_RESET on the ESP32 and RTC_SW_SYS_RESET on the
// later chips.
func (b *Board) romCause32(cause int) (int, string) {
	switch {
	case cause == causeUSBChipReset:
		return 0x15, "USB_UART_CHIP_RESET"
	case cause == causeRTCWDT && b.chip.Name == "ESP32":
		return 0x10, "RTCWDT_RTC_RESET"
	case cause == 2 && b.chip.Name == "ESP32":
		return 0xc, "SW_CPU_RESET"
	case cause == 2:
		return 0x3, "RTC_SW_SYS_RESET"
	}
	return 0x1, "POWERON_RESET"
}

// banner32 is the ROM's first lines (device-side.md §1.8): "ets <date>"
// on the ESP32, "ESP-ROM:<chip>" on later chips, the reset cause and the
// strapping word; download mode ends with "waiting for download", which
// esptool looks for (§6.2).
func (b *Board) banner32(cause, strap int) string {
	code, name := b.romCause32(cause)
	rst := fmt.Sprintf("0x%x (%s)", code, name)
	boot := "0x13 (SPI_FAST_FLASH_BOOT)"
	head := "ets Jun  8 2016 00:22:57\r\n\r\n"
	if b.chip.Name == "ESP32" {
		if strap == 1 {
			boot = "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"
		}
	} else {
		head = fmt.Sprintf("ESP-ROM:%s\r\n", strings.ToLower(strings.ReplaceAll(b.chip.Name, "-", "")))
		if strap == 1 {
			boot = "0x0 (DOWNLOAD(USB/UART0))"
		}
	}
	s := head + "rst:" + rst + ",boot:" + boot + "\r\n"
	if strap == 1 {
		s += "waiting for download\r\n"
	}
	return s
}

// rom32 is an ESP32-family ROM's UART download loop, from the ROM's side
// of esp-serial-protocol.md: four status bytes (§3.3), SPI_ATTACH before
// any flash access, SPI_SET_PARAMS bounding it, erase on FLASH_BEGIN and
// FLASH_DEFL_BEGIN (§7.2, §7.7), every block written before it is
// acknowledged and read back (error 0x08 when the flash does not hold what
// was written), FLASH_DEFL_* inflating as it goes, SPI_FLASH_MD5 answered
// in 32 hex characters (§7.8), READ_FLASH_SLOW (§10.3), CHANGE_BAUDRATE
// (§6.6) and RAM downloads that start the flasher stub (§10).
type rom32 struct {
	b         *Board
	fr        *frames
	regs      *regFile
	junk      uint32 // what the value field holds (§3.2: stale data)
	flashSize uint32
	ram       *ramLoader
	slowBuf   [readSlowLen]byte // READ_FLASH_SLOW's buffer keeps stale bytes

	fl struct {
		active    bool
		deflate   bool
		offset    uint32
		blocks    uint32
		blockSize uint32
		next      uint32 // deflate: where the next inflated byte goes
		z         *inflater
	}
}

// dataLen is the exact request length of each fixed-size command;
// FLASH_BEGIN and FLASH_DEFL_BEGIN take a fifth word on S2+ ROMs (§4.1).
func (r *rom32) dataLen(op byte) (int, bool) {
	switch op {
	case flasher.OpSync:
		return 36, true
	case flasher.OpReadReg, flasher.OpFlashEnd, flasher.OpFlashDeflEnd:
		return 4, true
	case flasher.OpWriteReg, flasher.OpMemBegin, flasher.OpSPIFlashMD5:
		return 16, true
	case flasher.OpMemEnd, flasher.OpSPIAttach, flasher.OpChangeBaudrate, flasher.OpReadFlashSlow:
		return 8, true
	case flasher.OpSPISetParams:
		return 24, true
	case flasher.OpGetSecInfo:
		return 0, true
	case flasher.OpFlashBegin, flasher.OpFlashDeflBegin:
		if r.b.chip.ROMBeginEncryptedWord {
			return 20, true
		}
		return 16, true
	}
	return 0, false
}

func (r *rom32) reply(op byte, value uint32, result []byte, code byte) {
	status := []byte{0, 0, 0, 0}
	if code != 0 {
		status[0], status[1] = 1, code
	}
	r.b.reply(op, value, result, status)
}

func (r *rom32) answer(op, code byte) { r.reply(op, r.junk, nil, code) }

func (r *rom32) loop(ctx context.Context) {
	defer r.closeInflate()
	for {
		f, err := r.fr.next(ctx)
		if err != nil {
			return
		}
		if len(f) < 8 || f[0] != 0 {
			continue
		}
		q, err := flasher.ParseRequest(f)
		if err != nil || len(q.Data) > romMaxData {
			r.answer(f[1], romErrInvalidMsg)
			continue
		}
		if stop := r.handle(ctx, q); stop {
			return
		}
	}
}

// flashReady checks what every flash command needs: the pins attached
// and [addr, addr+n) inside the size SPI_SET_PARAMS gave.
func (r *rom32) flashReady(op byte, addr, n uint32) bool {
	if !r.regs.flashPins {
		r.b.logf("ROM %s before SPI_ATTACH: the flash is not connected", flasher.OpName(op))
		r.answer(op, romErrFailed)
		return false
	}
	if uint64(addr)+uint64(n) > uint64(r.flashSize) {
		r.b.logf("ROM %s of 0x%X bytes at 0x%X is beyond the flash size 0x%X set by SPI_SET_PARAMS", flasher.OpName(op), n, addr, r.flashSize)
		r.answer(op, romErrInvalidParam)
		return false
	}
	return true
}

// handle runs one command; it returns true when the ROM leaves the loader.
func (r *rom32) handle(ctx context.Context, q flasher.Request) bool {
	d := q.Data
	if want, known := r.dataLen(q.Op); known && len(d) != want {
		r.answer(q.Op, romErrInvalidMsg)
		return false
	}
	switch q.Op {
	case flasher.OpSync:
		if string(d) != string(flasher.SyncPayload) {
			r.answer(q.Op, romErrInvalidMsg)
			return false
		}
		for i := 0; i < 8; i++ {
			r.answer(q.Op, 0)
		}
	case flasher.OpReadReg:
		r.reply(q.Op, r.regs.read(le(d, 0)), nil, 0)
	case flasher.OpWriteReg:
		r.regs.write(le(d, 0), le(d, 1), le(d, 2))
		if us := le(d, 3); us > 0 {
			r.b.clk.Sleep(ctx, time.Duration(us)*time.Microsecond)
		}
		r.answer(q.Op, 0)
	case flasher.OpGetSecInfo:
		res := r.b.securityInfo()
		if res == nil {
			r.answer(q.Op, romErrInvalidMsg)
			return false
		}
		r.reply(q.Op, r.junk, res, 0)
	case flasher.OpSPIAttach:
		// 1 selects the HSPI pins, where this board has no flash; 0 (the
		// default pins) and explicit pin sets reach it (§13).
		r.regs.flashPins = le(d, 0) != 1
		r.b.logf("ROM SPI_ATTACH 0x%X", le(d, 0))
		r.answer(q.Op, 0)
	case flasher.OpSPISetParams:
		r.flashSize = le(d, 1)
		r.answer(q.Op, 0)
	case flasher.OpChangeBaudrate:
		r.answer(q.Op, 0)
		if err := r.b.waitTx(ctx); err != nil {
			return true
		}
		r.b.romChangeBaud(le(d, 0))
	case flasher.OpFlashBegin, flasher.OpFlashDeflBegin:
		return r.begin(ctx, q)
	case flasher.OpFlashData:
		return r.flashData(ctx, q)
	case flasher.OpFlashDeflData:
		return r.deflData(ctx, q)
	case flasher.OpFlashEnd, flasher.OpFlashDeflEnd:
		r.fl.active = false
		r.closeInflate()
		r.answer(q.Op, 0)
		if err := r.b.waitTx(ctx); err != nil {
			return true
		}
		if le(d, 0) == 0 {
			r.b.logf("ROM %s(reboot)", flasher.OpName(q.Op))
			r.b.softReset()
		} else {
			r.b.logf("ROM %s(run user code)", flasher.OpName(q.Op))
			go r.b.startCPU(0, 3, false)
		}
		return true
	case flasher.OpSPIFlashMD5:
		addr, n := le(d, 0), le(d, 1)
		if !r.flashReady(q.Op, addr, n) {
			return false
		}
		sum := md5.Sum(r.b.flash.Read(addr, int(n)))
		if err := r.b.clk.SleepUntil(ctx, r.b.flash.ChargeRead(int(n))); err != nil {
			return true
		}
		if err := r.b.clk.Sleep(ctx, time.Duration(float64(n)/romHashRate*float64(time.Second))); err != nil {
			return true
		}
		r.reply(q.Op, r.junk, []byte(hex.EncodeToString(sum[:])), 0)
	case flasher.OpReadFlashSlow:
		addr, n := le(d, 0), le(d, 1)
		if n > readSlowLen {
			r.answer(q.Op, romErrReadLen)
			return false
		}
		if !r.flashReady(q.Op, addr, n) {
			return false
		}
		copy(r.slowBuf[:], r.b.flash.Read(addr, int(n)))
		if err := r.b.clk.SleepUntil(ctx, r.b.flash.ChargeRead(int(n))); err != nil {
			return true
		}
		r.reply(q.Op, r.junk, r.slowBuf[:], 0)
	case flasher.OpMemBegin:
		r.answer(q.Op, r.ram.begin(d))
	case flasher.OpMemData:
		r.answer(q.Op, r.ram.data(d, q.Checksum))
	case flasher.OpMemEnd:
		r.ram.end()
		r.answer(q.Op, 0)
		return r.b.memEnd(ctx, r.ram, r.regs, d)
	default:
		// Unknown opcodes: same opcode, status 1 / 0x05 (§5.3, §17).
		r.answer(q.Op, romErrInvalidMsg)
	}
	return false
}

// begin is FLASH_BEGIN / FLASH_DEFL_BEGIN: erase the sectors covering
// [offset, offset+size) before replying (§7.2; no ESP8266 erase bug), and
// get ready for data packets.
func (r *rom32) begin(ctx context.Context, q flasher.Request) bool {
	d := q.Data
	size, blocks, blockSize, offset := le(d, 0), le(d, 1), le(d, 2), le(d, 3)
	if blockSize == 0 && blocks > 0 || blockSize > romMaxData-16 {
		r.answer(q.Op, romErrInvalidParam)
		return false
	}
	if !r.flashReady(q.Op, offset, size) {
		return false
	}
	r.closeInflate()
	r.fl.active, r.fl.offset, r.fl.blocks, r.fl.blockSize = true, offset, blocks, blockSize
	r.fl.deflate = q.Op == flasher.OpFlashDeflBegin
	r.fl.next = offset
	if r.fl.deflate {
		r.fl.z = newInflater()
	}
	if size > 0 {
		first := int(offset / sectorSize)
		last := int((uint64(offset) + uint64(size) + sectorSize - 1) / sectorSize)
		r.b.logf("ROM %s: erasing 0x%X..0x%X", flasher.OpName(q.Op), first*sectorSize, last*sectorSize)
		if err := r.b.eraseSectors(ctx, first, last-first); err != nil {
			return true
		}
	}
	r.answer(q.Op, 0)
	return false
}

// program writes p at addr, waits for the flash, and reads it back as
// the ROM does after each block: NOR flash only clears bits, so data
// written over something not erased reads back wrong (error 0x08).
func (r *rom32) program(ctx context.Context, addr uint32, p []byte) (byte, error) {
	if uint64(addr)+uint64(len(p)) > uint64(r.flashSize) {
		return romErrInvalidParam, nil
	}
	if err := r.b.clk.SleepUntil(ctx, r.b.flash.Program(addr, p)); err != nil {
		return 0, err
	}
	if got := r.b.flash.Read(addr, len(p)); string(got) != string(p) {
		r.b.logf("ROM write at 0x%X read back wrong (the flash there was not erased)", addr)
		return romErrFlashWrite, nil
	}
	return 0, nil
}

func (r *rom32) flashData(ctx context.Context, q flasher.Request) bool {
	if !r.fl.active || r.fl.deflate {
		r.answer(q.Op, romErrInvalidParam)
		return false
	}
	payload, seq, code := dataPayload(q.Data, q.Checksum)
	if code == 0 && seq >= r.fl.blocks {
		code = romErrInvalidParam
	}
	if code == 0 {
		// Packets land at offset + seq × block size (§7.4).
		var err error
		if code, err = r.program(ctx, r.fl.offset+seq*r.fl.blockSize, payload); err != nil {
			return true
		}
	}
	r.answer(q.Op, code)
	return false
}

// deflData inflates one packet of the zlib stream and writes everything it
// produced before replying: the ROM acknowledges a packet only once its
// data is in flash (§7.7). The sequence number only marks the last
// packet; packets are taken in arrival order.
func (r *rom32) deflData(ctx context.Context, q flasher.Request) bool {
	if !r.fl.active || !r.fl.deflate || r.fl.z == nil {
		r.answer(q.Op, romErrInvalidParam)
		return false
	}
	payload, seq, code := dataPayload(q.Data, q.Checksum)
	if code != 0 {
		r.answer(q.Op, code)
		return false
	}
	out, _, err := r.fl.z.feed(payload, seq+1 >= r.fl.blocks)
	if len(out) > 0 {
		c, perr := r.program(ctx, r.fl.next, out)
		if perr != nil {
			return true
		}
		r.fl.next += uint32(len(out))
		code = c
	}
	if err != nil && code == 0 {
		r.b.logf("ROM inflate error: %v", err)
		code = romErrInflate
	}
	r.answer(q.Op, code)
	return false
}

func (r *rom32) closeInflate() {
	if r.fl.z != nil {
		r.fl.z.close()
		r.fl.z = nil
	}
}

// securityInfo is GET_SECURITY_INFO's result (§8.2): nothing on chips
// without the command; 12 bytes on the S2; 20 with the chip ID after.
// Everything but the chip ID is zero: no secure boot, no encryption.
func (b *Board) securityInfo() []byte {
	if b.chip.SecurityInfoLen == 0 || b.cfg.NoSecurityInfo {
		return nil
	}
	res := make([]byte, b.chip.SecurityInfoLen)
	if len(res) >= 20 {
		binary.LittleEndian.PutUint32(res[12:], uint32(b.chip.ImageID))
	}
	return res
}

// romChangeBaud reprograms UART0 after CHANGE_BAUDRATE: the ROM divides
// the crystal frequency it believes in by the requested rate, and the
// UART then runs at the real APB clock over that divider. On the
// original ESP32 the belief is off by the 8 MHz RC clock's drift, so the
// line runs at requested × real / believed unless the host pre-skewed the
// value as esptool does (§6.6).
func (b *Board) romChangeBaud(requested uint32) {
	if requested == 0 {
		return
	}
	real := float64(b.cfg.CrystalMHz) * 1e6
	actual := int(float64(requested)*real/b.romCrystalHz() + 0.5)
	b.setBaud(actual)
	b.logf("ROM CHANGE_BAUDRATE %d: UART now at %d baud", requested, actual)
}

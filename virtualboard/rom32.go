package virtualboard

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher"
)

// run32 is an ESP32-family ROM as far as identifying the chip goes: the
// banner, SYNC, registers (magic, efuse MAC, UART divider, the SPI flash
// controller for the JEDEC ID), GET_SECURITY_INFO and SPI_ATTACH. Flash
// writing on these chips is future work in iotbench; the personality
// answers other commands with "invalid message" rather than pretending.
func (b *Board) run32(ctx context.Context, cause, strap int, banner bool) {
	if banner {
		rst := "0x1 (POWERON_RESET)"
		if cause == 2 {
			rst = "0xc (SW_CPU_RESET)"
		}
		boot := "0x13 (SPI_FAST_FLASH_BOOT)"
		if strap == 1 {
			boot = "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"
		}
		head := "ets Jun  8 2016 00:22:57\r\n\r\n"
		if b.chip.Name != "ESP32" {
			head = fmt.Sprintf("ESP-ROM:%s\r\n", strings.ToLower(strings.ReplaceAll(b.chip.Name, "-", "")))
			if strap == 1 {
				boot = "0x0 (DOWNLOAD(USB/UART0))"
			}
		}
		// device-side.md §1.7/§1.8: download mode ends with "waiting for
		// download", which esptool searches for.
		s := head + "rst:" + rst + ",boot:" + boot + "\r\n"
		if strap == 1 {
			s += "waiting for download\r\n"
		}
		b.print(s)
	}
	if strap != 1 {
		<-ctx.Done()
		return
	}
	fr := newFrames(b, true)
	regs := newRegFile(b)
	status := []byte{0, 0, 0, 0} // four status bytes on every ESP32-family ROM (§3.3)
	fail := []byte{1, romErrInvalidMsg, 0, 0}
	junk := uint32(0x55201207)
	for {
		f, err := fr.next(ctx)
		if err != nil {
			return
		}
		if len(f) < 8 || f[0] != 0 {
			continue
		}
		q, err := flasher.ParseRequest(f)
		if err != nil {
			b.reply(f[1], junk, nil, fail)
			continue
		}
		d := q.Data
		switch {
		case q.Op == flasher.OpSync && len(d) == 36:
			for i := 0; i < 8; i++ {
				b.reply(q.Op, junk, nil, status)
			}
		case q.Op == flasher.OpReadReg && len(d) == 4:
			v := regs.read(binary.LittleEndian.Uint32(d))
			b.reply(q.Op, v, nil, status)
		case q.Op == flasher.OpWriteReg && len(d) == 16:
			regs.write(le(d, 0), le(d, 1), le(d, 2))
			b.reply(q.Op, junk, nil, status)
		case q.Op == flasher.OpGetSecInfo && len(d) == 0 && b.chip.SecurityInfoLen > 0 && !b.cfg.NoSecurityInfo:
			res := make([]byte, b.chip.SecurityInfoLen)
			if len(res) >= 20 {
				binary.LittleEndian.PutUint32(res[12:], uint32(b.chip.ImageID))
			}
			b.reply(q.Op, junk, res, status)
		case q.Op == flasher.OpSPIAttach && len(d) == 8:
			b.reply(q.Op, junk, nil, status)
		default:
			b.reply(q.Op, junk, nil, fail)
		}
	}
}

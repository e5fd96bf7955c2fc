package flasher

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/iotbench/iotbench/flasher/target"
)

// SPI USR register bits and shifts (§12.1).
const (
	spiUsrCommand   = 1 << 31
	spiUsrAddr      = 1 << 30
	spiUsrDummy     = 1 << 29
	spiUsrMISO      = 1 << 28
	spiUsrMOSI      = 1 << 27
	spiCmdUsr       = 1 << 18
	spiAddrLenShift = 26
)

// SPI flash command bytes.
const (
	flashRDID       = 0x9F
	flashRDSFDP     = 0x5A
	flashRead       = 0x03
	flashResetEn    = 0x66
	flashReset      = 0x99
	xmcVendorID     = 0x20
	spiReadChunk    = 64 // W0..W15
	spiPollTries    = 10
	flashIDNoFlash0 = 0xFFFFFF
)

// RunSPIFlashCommand runs one SPI flash command through the controller's
// registers exactly as esptool's run_spiflash_command does (§12.2): save
// USR/USR2, program lengths, command, address and data, start, poll until
// done, read W0, restore.
func (l *Loader) RunSPIFlashCommand(cmd byte, data []byte, readBits int, addr uint32, addrLen, dummyLen int) (uint32, error) {
	if readBits > 32 {
		return 0, fmt.Errorf("reading more than 32 bits from one SPI flash command is unsupported")
	}
	if len(data) > 64 {
		return 0, fmt.Errorf("writing more than 64 bytes with one SPI flash command is unsupported")
	}
	r := l.chip.SPI
	base := r.Base
	oldUsr, err := l.ReadReg(base + r.USR)
	if err != nil {
		return 0, err
	}
	oldUsr2, err := l.ReadReg(base + r.USR2)
	if err != nil {
		return 0, err
	}
	mosiBits := len(data) * 8
	if err := l.setSPILengths(mosiBits, readBits, addrLen, dummyLen); err != nil {
		return 0, err
	}
	flags := uint32(spiUsrCommand)
	if readBits > 0 {
		flags |= spiUsrMISO
	}
	if mosiBits > 0 {
		flags |= spiUsrMOSI
	}
	if addrLen > 0 {
		flags |= spiUsrAddr
	}
	if dummyLen > 0 {
		flags |= spiUsrDummy
	}
	if err := l.WriteReg(base+r.USR, flags); err != nil {
		return 0, err
	}
	if err := l.WriteReg(base+r.USR2, 7<<28|uint32(cmd)); err != nil {
		return 0, err
	}
	if addrLen > 0 {
		a := addr
		if r.AddrMSB {
			a = addr << (32 - addrLen)
		}
		if err := l.WriteReg(base+r.AddrOffs, a); err != nil {
			return 0, err
		}
	}
	if mosiBits == 0 {
		if err := l.WriteReg(base+r.W0, 0); err != nil {
			return 0, err
		}
	} else {
		padded := append([]byte(nil), data...)
		for len(padded)%4 != 0 {
			padded = append(padded, 0)
		}
		for i := 0; i < len(padded); i += 4 {
			if err := l.WriteReg(base+r.W0+uint32(i), binary.LittleEndian.Uint32(padded[i:])); err != nil {
				return 0, err
			}
		}
	}
	if err := l.WriteReg(base, spiCmdUsr); err != nil {
		return 0, err
	}
	if err := l.waitSPIDone(); err != nil {
		return 0, err
	}
	status, err := l.ReadReg(base + r.W0)
	if err != nil {
		return 0, err
	}
	if err := l.WriteReg(base+r.USR, oldUsr); err != nil {
		return 0, err
	}
	if err := l.WriteReg(base+r.USR2, oldUsr2); err != nil {
		return 0, err
	}
	return status, nil
}

func (l *Loader) setSPILengths(mosiBits, misoBits, addrLen, dummyLen int) error {
	r := l.chip.SPI
	base := r.Base
	if r.HasDLen {
		if mosiBits > 0 {
			if err := l.WriteReg(base+r.MOSIDLen, uint32(mosiBits-1)); err != nil {
				return err
			}
		}
		if misoBits > 0 {
			if err := l.WriteReg(base+r.MISODLen, uint32(misoBits-1)); err != nil {
				return err
			}
		}
		var flags uint32
		if dummyLen > 0 {
			flags |= uint32(dummyLen - 1)
		}
		if addrLen > 0 {
			flags |= uint32(addrLen-1) << spiAddrLenShift
		}
		if flags != 0 {
			return l.WriteReg(base+r.USR1, flags)
		}
		return nil
	}
	// ESP8266: lengths live in USR1 (MISO bits 8.., MOSI bits 17..) and the
	// register is always written (§12.2).
	var flags uint32
	if misoBits > 0 {
		flags |= uint32(misoBits-1) << 8
	}
	if mosiBits > 0 {
		flags |= uint32(mosiBits-1) << 17
	}
	if dummyLen > 0 {
		flags |= uint32(dummyLen - 1)
	}
	if addrLen > 0 {
		flags |= uint32(addrLen-1) << spiAddrLenShift
	}
	return l.WriteReg(base+r.USR1, flags)
}

func (l *Loader) waitSPIDone() error {
	for i := 0; i < spiPollTries; i++ {
		v, err := l.ReadReg(l.chip.SPI.Base)
		if err != nil {
			return err
		}
		if v&spiCmdUsr == 0 {
			return nil
		}
	}
	return fmt.Errorf("SPI flash command did not complete in time")
}

// FlashID returns the JEDEC ID (RDID), read once per session (§12.3):
// byte 0 manufacturer, byte 1 memory type, byte 2 capacity.
func (l *Loader) FlashID() (uint32, error) {
	if l.haveFlashID {
		return l.flashID, nil
	}
	if err := l.attachFlash(); err != nil {
		return 0, err
	}
	var id uint32
	// "Not answering" IDs are read again: the register writes that set up
	// the transaction carry no checksum, so one damaged on the line runs
	// some other transaction and leaves W0 as it was.
	for try := 0; try < 3; try++ {
		var err error
		if id, err = l.RunSPIFlashCommand(flashRDID, nil, 24, 0, 0, 0); err != nil {
			return 0, err
		}
		if !flashSilent(id) {
			break
		}
	}
	l.flashID, l.haveFlashID = id, true
	return id, nil
}

// FlashSize is the size the JEDEC capacity byte announces, or an error
// naming the fix when the flash does not answer.
func (l *Loader) FlashSize() (int, error) {
	id, err := l.FlashID()
	if err != nil {
		return 0, err
	}
	if flashSilent(id) {
		return 0, &ChipError{Msg: fmt.Sprintf("the flash chip does not answer (JEDEC ID 0x%06X): check the flash wiring or the strapping pins; pass --flash-size to skip detection", id)}
	}
	n, ok := target.FlashSizeFromJEDEC(byte(id >> 16))
	if !ok {
		l.warn("unknown flash capacity code 0x%02X in JEDEC ID 0x%06X: assuming 4MB (pass --flash-size)", byte(id>>16), id)
		return 4 << 20, nil
	}
	return n, nil
}

// attachFlash makes the ROM talk to the SPI flash: the ESP8266 ROM has no
// SPI_ATTACH, so esptool sends FLASH_BEGIN(0,0) instead (§4.1, §16.3);
// other ROMs get SPI_ATTACH with the default pins. A stub is attached
// already.
func (l *Loader) attachFlash() error {
	if l.attached || l.stub {
		l.attached = true
		return nil
	}
	var err error
	if l.chip.IsESP8266() {
		err = l.flashBegin(0, 0, 0, target.ROMFlashWriteSize, 0)
	} else {
		// The original ESP32's ROM does not attach in-package flash by
		// itself: esptool passes the pads from the efuses (0 = default
		// pins when none are burnt, __init__.py, §13).
		var pins uint32
		if l.chip.Name == "ESP32" {
			r3, err := l.ReadReg(target.ESP32EfuseRData3)
			if err != nil {
				return err
			}
			r5, err := l.ReadReg(target.ESP32EfuseRData5)
			if err != nil {
				return err
			}
			pins = target.ESP32SPIPads(r3, r5)
		}
		err = retry(3, func() error {
			_, _, err := l.check("attach SPI flash", OpSPIAttach, words(pins, 0), 0, DefaultTimeout, 0)
			return err
		})
	}
	if err != nil {
		return err
	}
	l.attached = true
	return nil
}

// FlashPrelude does the flash housekeeping esptool does before every
// operation (§6.4, §16.2): read the JEDEC ID, run the XMC start-up check,
// and soft-reset the flash chip (0x66, 0x99).
func (l *Loader) FlashPrelude() error {
	id, err := l.FlashID()
	if err != nil {
		return fmt.Errorf("unable to verify the flash chip connection: %w", err)
	}
	if flashSilent(id) {
		l.warn("failed to talk to the flash chip (JEDEC ID 0x%06X): reads and writes will fail; check the flash wiring", id)
	} else {
		mfr, dev := byte(id), uint16(id>>8)&0xFF<<8|uint16(id>>16)&0xFF
		size, _ := target.FlashSizeFromJEDEC(byte(id >> 16))
		l.emit(FlashInfoEvent{Manufacturer: fmt.Sprintf("%02x", mfr), Device: fmt.Sprintf("%04x", dev), Size: size, SizeName: target.SizeName(size)})
	}
	if !isXMCStrict(id) {
		// Read the SFDP manufacturer byte: an XMC part that failed to boot
		// answers 0x20 there and needs its wake-up sequence (§12.5).
		mf, err := l.RunSPIFlashCommand(flashRDSFDP, nil, 8, 0x10, 24, 8)
		if err == nil && mf == xmcVendorID {
			l.warn("XMC flash chip boot-up failure detected: running the XMC start-up sequence")
			for _, c := range []byte{0xB9, 0x79, 0xFF} {
				if _, err := l.RunSPIFlashCommand(c, nil, 0, 0, 0, 0); err != nil {
					return err
				}
			}
			l.sleep(2 * time.Millisecond)
			if _, err := l.RunSPIFlashCommand(0xAB, nil, 0, 0, 0, 0); err != nil {
				return err
			}
		}
	}
	for _, c := range []byte{flashResetEn, flashReset} {
		if _, err := l.RunSPIFlashCommand(c, nil, 0, 0, 0, 0); err != nil {
			l.tracef("unable to reset flash chip: %v", err)
			return nil
		}
	}
	l.sleep(time.Millisecond)
	return nil
}

// flashSilent: JEDEC IDs that mean no flash answered (§12.3).
func flashSilent(id uint32) bool { return id == 0xFFFFFF || id == 0 || id == 0xFFFF3F }

// isXMCStrict mirrors esptool's list of XMC parts that booted correctly.
func isXMCStrict(id uint32) bool {
	vendor, mf, cp := byte(id), byte(id>>8), byte(id>>16)
	if vendor != xmcVendorID {
		return false
	}
	switch mf {
	case 0x40:
		return cp >= 0x13 && cp <= 0x20
	case 0x41:
		return cp >= 0x17 && cp <= 0x20
	case 0x50:
		return cp >= 0x15 && cp <= 0x16
	}
	return false
}

// SetFlashParams tells the loader the flash size (SPI_SET_PARAMS, §13);
// the ESP8266 ROM has no such command and is skipped, as esptool does.
func (l *Loader) SetFlashParams(size int) error {
	if l.chip.IsESP8266() && !l.stub {
		return nil
	}
	return retry(3, func() error {
		_, _, err := l.check("set SPI flash parameters", OpSPISetParams, words(0, uint32(size), 0x10000, 0x1000, 0x100, 0xFFFF), 0, DefaultTimeout, 0)
		return err
	})
}

// readFlashSPI reads flash through the SPI registers, 64 bytes per
// transaction (W0..W15). It is the only way to read flash from the
// ESP8266 ROM, which has no read or MD5 command; it costs about eight
// times the wire time of writing the same data, so it is used for
// verification only on request, and to preserve a sector the ROM would
// otherwise erase.
func (l *Loader) readFlashSPI(addr uint32, n int, progress func(done int)) ([]byte, error) {
	r := l.chip.SPI
	base := r.Base
	if err := l.attachFlash(); err != nil {
		return nil, err
	}
	oldUsr, err := l.ReadReg(base + r.USR)
	if err != nil {
		return nil, err
	}
	oldUsr2, err := l.ReadReg(base + r.USR2)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, n)
	lastLen := -1
	for len(out) < n {
		chunk := min(spiReadChunk, n-len(out))
		if chunk != lastLen {
			if err := l.setSPILengths(0, chunk*8, 24, 0); err != nil {
				return nil, err
			}
			if err := l.WriteReg(base+r.USR, spiUsrCommand|spiUsrAddr|spiUsrMISO); err != nil {
				return nil, err
			}
			if err := l.WriteReg(base+r.USR2, 7<<28|flashRead); err != nil {
				return nil, err
			}
			lastLen = chunk
		}
		a := addr + uint32(len(out))
		if r.AddrMSB {
			a <<= 8
		}
		if err := l.WriteReg(base+r.AddrOffs, a); err != nil {
			return nil, err
		}
		if err := l.WriteReg(base, spiCmdUsr); err != nil {
			return nil, err
		}
		if err := l.waitSPIDone(); err != nil {
			return nil, err
		}
		for i := 0; i < chunk; i += 4 {
			v, err := l.ReadReg(base + r.W0 + uint32(i))
			if err != nil {
				return nil, err
			}
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], v)
			out = append(out, b[:min(4, chunk-i)]...)
		}
		if progress != nil {
			progress(len(out))
		}
	}
	if err := l.WriteReg(base+r.USR, oldUsr); err != nil {
		return nil, err
	}
	if err := l.WriteReg(base+r.USR2, oldUsr2); err != nil {
		return nil, err
	}
	return out, nil
}

package flasher

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/iotbench/iotbench/flasher/target"
)

// EraseFlash erases the whole chip: ERASE_FLASH on a stub; on a ROM,
// which lacks it, one FLASH_BEGIN over the whole flash with no data (the
// ROMs erase on FLASH_BEGIN, §7.2).
func (l *Loader) EraseFlash(ctx context.Context) error {
	if err := l.requireFlashOps(); err != nil {
		return err
	}
	size, err := l.FlashSize()
	if err != nil {
		return err
	}
	if err := l.SetFlashParams(size); err != nil {
		return err
	}
	l.emit(PhaseEvent{Phase: "erase", Addr: 0, Size: size, Detail: "whole chip"})
	start := time.Now()
	if l.stub {
		_, _, err = l.check("erase flash", OpEraseFlash, nil, 0, EraseChipTimeout, 0)
	} else {
		err = l.eraseROM(0, size)
	}
	if err != nil {
		return err
	}
	l.emit(ProgressEvent{Phase: "erase", Done: size, Total: size, Elapsed: time.Since(start)})
	return nil
}

// EraseRegion erases [offset, offset+size); both must be sector multiples
// (§10.3).
func (l *Loader) EraseRegion(ctx context.Context, offset uint32, size int) error {
	if err := l.requireFlashOps(); err != nil {
		return err
	}
	if offset%SectorSize != 0 || size%SectorSize != 0 || size <= 0 {
		return inputErrorf("erase-region needs an offset and a size that are multiples of 0x1000 (got 0x%X, 0x%X): flash erases whole 4 KiB sectors", offset, size)
	}
	flash, err := l.FlashSize()
	if err != nil {
		return err
	}
	if uint64(offset)+uint64(size) > uint64(flash) {
		return inputErrorf("erase-region 0x%X+0x%X runs past the end of the %s flash (0x%X)", offset, size, target.SizeName(flash), flash)
	}
	if err := l.SetFlashParams(flash); err != nil {
		return err
	}
	l.emit(PhaseEvent{Phase: "erase", Addr: offset, Size: size})
	start := time.Now()
	if l.stub {
		_, _, err = l.check("erase region", OpEraseRegion, words(offset, uint32(size)), 0, timeoutPerMB(eraseSecondsPerMB, size), 0)
	} else {
		err = l.eraseROM(offset, size)
	}
	if err != nil {
		return err
	}
	l.emit(ProgressEvent{Phase: "erase", Addr: offset, Done: size, Total: size, Elapsed: time.Since(start)})
	return nil
}

// eraseROM erases through FLASH_BEGIN without data, which is how esptool
// erases on ESP32-family ROMs too (cmds.py erase_region, §10.3); on the
// ESP8266 through the erase-bug plan.
func (l *Loader) eraseROM(offset uint32, size int) error {
	if !l.chip.IsESP8266() {
		return l.flashBegin(size, 0, offset, target.ROMFlashWriteSize, size)
	}
	runs, err := l.planESP8266ROM(offset, size, nil, false)
	if err != nil {
		return err
	}
	for _, run := range runs {
		blocks := (len(run.data) + target.ROMFlashWriteSize - 1) / target.ROMFlashWriteSize
		if err := l.flashBegin(ESP8266ROMEraseSize(run.off, run.size), blocks, run.off, target.ROMFlashWriteSize, run.size); err != nil {
			return err
		}
		for seq := 0; seq < blocks; seq++ {
			blk := run.data[seq*target.ROMFlashWriteSize : min(len(run.data), (seq+1)*target.ROMFlashWriteSize)]
			if err := l.flashBlock(OpFlashData, blk, target.ROMFlashWriteSize, seq, DefaultTimeout); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadFlash reads flash: READ_FLASH with its acknowledgement protocol on a
// stub (§10.3), READ_FLASH_SLOW 64 bytes at a time on ESP32-family ROMs,
// SPI register reads on the ESP8266 ROM (slow, but the ROM offers nothing
// else).
func (l *Loader) ReadFlash(ctx context.Context, offset uint32, size int) ([]byte, error) {
	if err := l.requireFlashOps(); err != nil {
		return nil, err
	}
	flash, err := l.FlashSize()
	if err != nil {
		return nil, err
	}
	if size <= 0 || uint64(offset)+uint64(size) > uint64(flash) {
		return nil, inputErrorf("read-flash 0x%X+0x%X is outside the %s flash (0x0..0x%X)", offset, size, target.SizeName(flash), flash)
	}
	if err := l.SetFlashParams(flash); err != nil {
		return nil, err
	}
	start := time.Now()
	progress := func(done int) {
		l.emit(ProgressEvent{Phase: "read", Addr: offset, Done: done, Total: size, Elapsed: time.Since(start)})
	}
	l.emit(PhaseEvent{Phase: "read", Addr: offset, Size: size})
	if !l.stub && l.chip.IsESP8266() {
		l.warn("the ESP8266 ROM has no read command: reading through the SPI registers, about 30 bytes/s per kbaud (a stub is much faster)")
		return l.readFlashSPI(offset, size, progress)
	}
	if !l.stub {
		return l.readFlashSlowVerified(ctx, offset, size, progress)
	}
	var data []byte
	err = retry(2, func() error {
		var err error
		data, err = l.readFlashStub(ctx, offset, size, progress)
		return err
	})
	return data, err
}

func (l *Loader) readFlashStub(ctx context.Context, offset uint32, size int, progress func(int)) ([]byte, error) {
	const packet, inFlight = SectorSize, 64
	if _, _, err := l.check("read flash", OpReadFlash, words(offset, uint32(size), packet, inFlight), 0, DefaultTimeout, 0); err != nil {
		return nil, err
	}
	data := make([]byte, 0, size)
	for len(data) < size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := l.readFrame(time.Now().Add(l.scaled(DefaultTimeout)))
		if err == errTimeout {
			return nil, &TimeoutError{Op: OpReadFlash, After: DefaultTimeout.String(), Partial: l.dec.Pending()}
		}
		if err != nil {
			return nil, err
		}
		data = append(data, f...)
		if len(data) < size && len(f) < packet {
			l.resync()
			return nil, &StatusError{Short: true, Got: len(f), Want: packet}
		}
		if len(data) > size {
			l.resync()
			return nil, fmt.Errorf("read more than the %d bytes asked for", size)
		}
		ack := make([]byte, 4)
		binary.LittleEndian.PutUint32(ack, uint32(len(data)))
		if err := l.writeRaw(ack); err != nil {
			return nil, err
		}
		progress(len(data))
	}
	f, err := l.readFrame(time.Now().Add(l.scaled(DefaultTimeout)))
	if err != nil {
		return nil, &TimeoutError{Op: OpReadFlash, After: DefaultTimeout.String()}
	}
	sum := md5.Sum(data)
	if len(f) != 16 || !bytes.Equal(f, sum[:]) {
		return nil, &VerifyError{Addr: offset, Size: size, Method: "READ_FLASH digest", Want: hex.EncodeToString(f), Got: hex.EncodeToString(sum[:])}
	}
	return data, nil
}

// readFlashSlowVerified reads through READ_FLASH_SLOW and checks the
// result against the ROM's MD5 of the region: READ_FLASH_SLOW's replies
// carry no checksum, so a byte damaged on the line would go unnoticed.
func (l *Loader) readFlashSlowVerified(ctx context.Context, offset uint32, size int, progress func(int)) ([]byte, error) {
	var verr error
	for try := 0; try < 2; try++ {
		data, err := l.readFlashSlow(ctx, offset, size, progress)
		if err != nil {
			return nil, err
		}
		want, err := l.FlashMD5(offset, size)
		if err != nil {
			return nil, err
		}
		sum := md5.Sum(data)
		got := hex.EncodeToString(sum[:])
		if got == want {
			return data, nil
		}
		verr = &VerifyError{Addr: offset, Size: size, Method: "MD5 of the data read", Want: want, Got: got}
	}
	return nil, verr
}

// readSlowChunk is what one READ_FLASH_SLOW returns (§10.3).
const readSlowChunk = 64

// readFlashSlow reads through an ESP32-family ROM's READ_FLASH_SLOW: 64
// bytes per command, the answer always 64 bytes long whatever was asked.
func (l *Loader) readFlashSlow(ctx context.Context, offset uint32, size int, progress func(int)) ([]byte, error) {
	out := make([]byte, 0, size)
	for len(out) < size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(readSlowChunk, size-len(out))
		a := offset + uint32(len(out))
		var res []byte
		err := retry(3, func() error {
			var err error
			_, res, err = l.check(fmt.Sprintf("read flash at 0x%X", a), OpReadFlashSlow, words(a, uint32(n)), 0, DefaultTimeout, readSlowChunk)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res[:n]...)
		progress(len(out))
	}
	return out, nil
}

// writeRaw sends a SLIP frame that is not a command (READ_FLASH acks).
func (l *Loader) writeRaw(p []byte) error { return l.write(p) }

// resync drops a broken stream; the stub finishes its READ_FLASH when its
// packets stop being acknowledged, so the next command starts clean after
// a pause.
func (l *Loader) resync() {
	l.sleep(100 * time.Millisecond)
	l.flushInput()
}

// After leaves the chip as asked (§11).
func (l *Loader) After(mode AfterMode) error {
	switch mode {
	case "", AfterHardReset:
		usb := false
		if u, ok := l.port.(USBPort); ok {
			_, pid, ok := u.USBIDs()
			usb = ok && pid == 0x1001
		}
		if err := hardReset(l.port, usb, l.sleep); err != nil {
			if isNoLines(err) {
				l.warn("could not reset the chip: %s has no DTR/RTS lines; press RESET to run the new firmware", l.portName)
				return nil
			}
			return &PortError{Err: err}
		}
	case AfterSoftReset:
		if l.stub {
			if !l.chip.IsESP8266() {
				return fmt.Errorf("%w: soft reset with a stub only works on the ESP8266", ErrUnsupported)
			}
			// RUN_USER_CODE has no reply (§10.3).
			if err := l.write(EncodeRequest(OpRunUserCode, nil, 0)); err != nil {
				return err
			}
		} else {
			if err := l.flashBegin(0, 0, 0, target.ROMFlashWriteSize, 0); err != nil {
				return err
			}
			if _, _, err := l.check("leave flash mode and run", OpFlashEnd, words(1), 0, DefaultTimeout, 0); err != nil {
				return err
			}
		}
	case AfterNoReset:
		if l.stub {
			// FLASH_BEGIN(0,0) + FLASH_END(0) makes the stub reboot into
			// the ROM loader (§7.5).
			if err := l.flashBegin(0, 0, 0, target.StubFlashWriteSize, 0); err != nil {
				return err
			}
			if _, _, err := l.check("reboot into the ROM loader", OpFlashEnd, words(0), 0, DefaultTimeout, 0); err != nil {
				return err
			}
		}
	case AfterNoResetStub:
	default:
		return fmt.Errorf("unknown --after mode %q", mode)
	}
	l.emit(ResetEvent{Mode: string(mode)})
	return nil
}

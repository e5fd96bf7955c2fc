package arduinoota

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/iotbench/iotbench/virtualboard"
)

// Flash geometry of the ESP8266 Arduino core: eboot occupies the first
// sector and the application image starts at APP_START_OFFSET
// (bootloaders/eboot/flash.h; filesystem-images.md §1.1).
const (
	sectorSize     = 4096
	appStartOffset = 0x1000
)

// ebootCommand is what the Updater leaves in RTC memory for eboot
// (eboot_command.h: magic, action, args[29], crc32). Only the copy action
// is ever written; the magic and CRC exist so that eboot ignores the
// random content RTC memory has after power-on, which a Device models by
// starting without a command.
type ebootCommand struct {
	src, dst, size uint32 // ACTION_COPY_RAW args[0..2]
}

// AppInfo describes the application eboot started.
type AppInfo struct {
	// Version is the word eboot prints as "v%08x": the first word of the
	// application's first segment, which changes with every build
	// (device-side.md §1.6).
	Version uint32
	// Entry is the application's entry point.
	Entry uint32
	// SketchSize is ESP.getSketchSize(): the end of the application image
	// in flash, rounded up to 16 bytes.
	SketchSize uint32
	// Copied reports that this boot copied a staged OTA image first.
	Copied bool
}

// ErrNoApp is returned by Boot when eboot could not start an application;
// the board then reboots (eboot's software reset after "e:N") or hangs in
// code that is not there, and the caller's App should return.
var ErrNoApp = errors.New("eboot: no application to start")

// Boot does what eboot does after the ROM loaded it (eboot.c main,
// device-side.md §1.6): print the application's version marker, take the
// command the Updater left in RTC memory ("@") or none ("~"), perform a
// pending copy of the staged image ("cp:" and the result; "B" when the
// sector at 0 already matched and was skipped), clear the command, print
// "ld" and start the application at 0x1000.
func (d *Device) Boot(ctx context.Context, env *virtualboard.AppEnv) (AppInfo, error) {
	fl := env.Flash()
	ver := binary.LittleEndian.Uint32(fl.Read(appStartOffset+8+8, 4))
	env.Printf("v%08x\n", ver)

	d.mu.Lock()
	cmd := d.rtc
	d.mu.Unlock()
	if cmd == nil {
		env.Print("~")
	} else {
		env.Print("@")
	}
	copied := false
	res := 0
	if cmd != nil {
		env.Print("cp:")
		var err error
		res, err = copyRaw(ctx, env, cmd.src, cmd.dst, cmd.size)
		if err != nil {
			return AppInfo{}, err // reset during the copy
		}
		env.Printf("%d\n", res)
		copied = res == 0
		d.logf("eboot: copied 0x%x bytes from 0x%x to 0x%x: result %d", cmd.size, cmd.src, cmd.dst, res)
		d.mu.Lock()
		d.rtc = nil
		d.mu.Unlock()
		if res != 0 {
			// eboot.c: "if (res) SWRST" — a software reset, and the
			// command is gone, so the next boot loads whatever is at 0.
			env.Flush(ctx)
			env.Restart()
			return AppInfo{}, fmt.Errorf("%w: copying the staged image failed with %d", ErrNoApp, res)
		}
	}
	env.Print("ld\n")
	app, code := loadApp(fl, 0)
	if code != 0 {
		env.Printf("e:%d\n", code)
		env.Flush(ctx)
		env.Restart()
		return AppInfo{}, fmt.Errorf("%w: e:%d", ErrNoApp, code)
	}
	if !app.valid {
		// load_app_from_flash_raw does not check the magic: it jumps to
		// whatever entry the bytes give, and the CPU runs garbage.
		d.logf("eboot: no ESP image at 0x%x (first byte 0x%02x): the CPU jumps into garbage", appStartOffset, app.magic)
		return AppInfo{}, fmt.Errorf("%w: no image at 0x%x", ErrNoApp, appStartOffset)
	}
	if err := env.Flush(ctx); err != nil {
		return AppInfo{}, err
	}
	if copied {
		ver = binary.LittleEndian.Uint32(fl.Read(appStartOffset+8+8, 4))
	}
	return AppInfo{Version: ver, Entry: app.entry, SketchSize: app.end, Copied: copied}, nil
}

type appImage struct {
	magic byte
	valid bool // magic 0xE9
	entry uint32
	end   uint32 // ESP.getSketchSize()
	mode  byte   // header byte 2 (flash mode)
}

// loadApp walks the image at base+APP_START_OFFSET the way
// load_app_from_flash_raw (eboot) and ESP.getSketchSize() do; code is
// eboot's error number, 3 when a segment runs past the end of the flash
// (SPIRead refuses it).
func loadApp(fl *virtualboard.Flash, base uint32) (appImage, int) {
	size := uint32(fl.Size())
	pos := base + appStartOffset
	h := fl.Read(pos, 8)
	a := appImage{magic: h[0], valid: h[0] == 0xE9, entry: binary.LittleEndian.Uint32(h[4:]), mode: h[2]}
	pos += 8
	for i := 0; i < int(h[1]); i++ {
		if pos+8 > size {
			return a, 2
		}
		sh := fl.Read(pos, 8)
		n := binary.LittleEndian.Uint32(sh[4:])
		pos += 8
		if uint64(pos)+uint64(n) > uint64(size) {
			return a, 3
		}
		pos += n
	}
	a.end = (pos + 16) &^ 15
	return a, 0
}

// copyRaw is eboot's copy_raw(src, dst, size, verify=false): whole sectors
// from the staging area to the application, gzip-compressed images
// inflated on the way (the Updater accepts 0x1F 0x8B images, §5.4).
// Errors follow eboot: 1 unaligned, 3 read, 5/6 gzip header/data.
func copyRaw(ctx context.Context, env *virtualboard.AppEnv, src, dst, size uint32) (int, error) {
	fl := env.Flash()
	clk := env.Clock()
	if src%sectorSize != 0 || dst%sectorSize != 0 {
		return 1, nil
	}
	left := int64((size + sectorSize - 1) &^ (sectorSize - 1))
	var inflate io.Reader
	if h := fl.Read(src, 2); h[0] == 0x1F && h[1] == 0x8B {
		if size < 18 { // a gzip header and trailer alone are 18 bytes
			return 5, nil
		}
		left = int64(binary.LittleEndian.Uint32(fl.Read(src+size-4, 4)))
		zr, err := gzip.NewReader(bytes.NewReader(fl.Read(src, int(size))))
		if err != nil {
			return 5, nil
		}
		inflate = zr
	}
	saddr, daddr := src, dst
	buf := make([]byte, sectorSize)
	for left > 0 {
		if inflate == nil {
			copy(buf, fl.Read(saddr, sectorSize))
		} else {
			for i := range buf {
				buf[i] = 0xFF
			}
			n := min(left, sectorSize)
			if _, err := io.ReadFull(inflate, buf[:n]); err != nil {
				return 6, nil
			}
		}
		if err := clk.SleepUntil(ctx, fl.ChargeRead(sectorSize)); err != nil {
			return 0, err
		}
		skip := false
		if daddr == 0 {
			// Address 0 holds eboot itself: rewritten only when it differs.
			if err := clk.SleepUntil(ctx, fl.ChargeRead(sectorSize)); err != nil {
				return 0, err
			}
			if bytes.Equal(fl.Read(0, sectorSize), buf) {
				env.Print("B")
				skip = true
			}
		}
		if !skip {
			if err := clk.SleepUntil(ctx, fl.EraseSector(daddr)); err != nil {
				return 0, err
			}
			if err := clk.SleepUntil(ctx, fl.Program(daddr, buf)); err != nil {
				return 0, err
			}
		}
		saddr += sectorSize
		daddr += sectorSize
		left -= sectorSize
	}
	return 0, nil
}

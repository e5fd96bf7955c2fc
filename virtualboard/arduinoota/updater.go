package arduinoota

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
)

// updater is the ESP8266 core's UpdaterClass (cores/esp8266/Updater.cpp)
// as ArduinoOTA drives it: begin, write from the TCP client, end. Data is
// gathered in a 4 KiB buffer and each full buffer is written at the next
// address, erasing a sector whenever the address starts one.
type updater struct {
	env    *virtualboard.AppEnv
	layout layout.ESP8266Layout

	err        ota.UpdaterError
	cmd        ota.Command
	start, cur uint32
	size       uint32
	buf        []byte
	bufLen     int
	md5        hash.Hash
	targetMD5  string
	calculated string
	staged     *ebootCommand // what end() leaves for eboot
}

// FlashMode_t values (Esp.h); magicFlashChipMode maps anything above DOUT
// to FM_UNKNOWN.
const (
	fmDOUT    = 0x03
	fmUnknown = 0xFF
)

func newUpdater(env *virtualboard.AppEnv, l layout.ESP8266Layout) *updater {
	return &updater{env: env, layout: l, md5: md5.New()}
}

func (u *updater) running() bool     { return u.size > 0 }
func (u *updater) progress() uint32  { return u.cur - u.start }
func (u *updater) remaining() uint32 { return u.size - (u.cur - u.start) }
func (u *updater) isFinished() bool  { return u.cur == u.start+u.size }
func (u *updater) setMD5(s string)   { u.targetMD5 = s }
func (u *updater) setError(e ota.UpdaterError) {
	u.err = e
	u.reset()
}

func (u *updater) reset() {
	u.buf, u.bufLen = nil, 0
	u.start, u.cur, u.size = 0, 0, 0
	u.cmd = ota.CommandFlash
}

// flashConfig returns the real flash size (1 << JEDEC capacity code, as
// getFlashChipRealSize computes it) and the size the running image's
// header at 0 claims (getFlashChipSize, magicFlashChipSize).
func (u *updater) flashConfig() (real, sdk uint32) {
	fl := u.env.Flash()
	real = 1 << fl.JEDEC()[2]
	return real, magicFlashChipSize(fl.Read(0, 4)[3] >> 4)
}

// magicFlashChipSize is Esp.cpp's table of header size codes.
func magicFlashChipSize(code byte) uint32 {
	switch code & 0x0F {
	case 0x0:
		return 512 << 10
	case 0x1:
		return 256 << 10
	case 0x2:
		return 1 << 20
	case 0x3:
		return 2 << 20
	case 0x4:
		return 4 << 20
	case 0x8:
		return 8 << 20
	case 0x9:
		return 16 << 20
	}
	return 0
}

func magicFlashChipMode(b byte) byte {
	if b > fmDOUT {
		return fmUnknown
	}
	return b
}

func roundSector(n uint32) uint32 { return (n + sectorSize - 1) &^ (sectorSize - 1) }

// begin is UpdaterClass::begin: check the boot mode, the size, the flash
// configuration and the room, and pick where the data goes — an app is
// staged at the top of the space below the filesystem, a filesystem image
// goes straight to FS_start.
func (u *updater) begin(size uint32, cmd ota.Command) bool {
	if u.running() {
		u.setError(ota.UpdateRunningAlready)
		return false
	}
	// Boot mode 1 (UART download) cannot be left by a software reset.
	if u.env.BootMode() == 1 {
		u.setError(ota.UpdateBootstrap)
		return false
	}
	if size == 0 {
		u.setError(ota.UpdateSize)
		return false
	}
	if real, sdk := u.flashConfig(); real < sdk {
		u.setError(ota.UpdateFlashConfig)
		return false
	}
	u.reset()
	u.err = ota.UpdateOK
	u.targetMD5 = ""
	u.md5.Reset()

	app, _ := loadApp(u.env.Flash(), 0)
	currentSketch := roundSector(app.end)
	rounded := roundSector(size)
	fsStart, fsEnd := u.layout.FS.Offset, u.layout.FS.End()
	var start uint32
	switch cmd {
	case ota.CommandFlash:
		if fsStart > rounded {
			start = fsStart - rounded
		}
		if start < currentSketch {
			u.setError(ota.UpdateSpace)
			return false
		}
	case ota.CommandFS:
		if uint64(fsStart)+uint64(rounded) > uint64(fsEnd) {
			u.setError(ota.UpdateSpace)
			return false
		}
		start = fsStart
	default:
		u.setError(ota.UpdateUnknownCommand)
		return false
	}
	u.start, u.cur, u.size, u.cmd = start, start, size, cmd
	u.buf = make([]byte, sectorSize)
	return true
}

// write is the Updater's template write(client) fed with the bytes the
// client has available: it fills the buffer, writes every full one, and
// returns how many bytes it consumed (what ArduinoOTA echoes to the host).
// Bytes past the announced size stay unread.
func (u *updater) write(ctx context.Context, p []byte) (int, error) {
	if u.err != ota.UpdateOK || !u.running() {
		return 0, nil
	}
	written := 0
	for len(p) > 0 {
		avail := len(p)
		if rem := int(u.remaining()) - u.bufLen; avail > rem {
			avail = rem
		}
		if u.bufLen+avail > len(u.buf) {
			n := len(u.buf) - u.bufLen
			copy(u.buf[u.bufLen:], p[:n])
			u.bufLen += n
			p = p[n:]
			if ok, err := u.writeBuffer(ctx); !ok || err != nil {
				return written, err
			}
			written += n
		} else {
			copy(u.buf[u.bufLen:], p[:avail])
			u.bufLen += avail
			p = p[avail:]
			written += avail
			if u.bufLen == int(u.remaining()) {
				if ok, err := u.writeBuffer(ctx); !ok || err != nil {
					return written, err
				}
			}
		}
		if u.remaining() == 0 {
			return written, nil
		}
		if len(p) > 0 {
			if err := u.env.Sleep(ctx, time.Millisecond); err != nil { // delay(1)
				return written, err
			}
		}
	}
	return written, nil
}

// writeBuffer is _writeBuffer: erase when the address starts a sector,
// give the image header the flash mode the chip runs in (and restore it
// for the MD5, so the hash still matches what was sent), program.
func (u *updater) writeBuffer(ctx context.Context) (bool, error) {
	fl, clk := u.env.Flash(), u.env.Clock()
	if u.cur%sectorSize == 0 {
		if err := clk.SleepUntil(ctx, fl.EraseSector(u.cur)); err != nil {
			return false, err
		}
	}
	data := u.buf[:u.bufLen]
	restore := -1
	if u.cur == u.start && data[0] != 0x1F && u.cmd == ota.CommandFlash && len(data) > 2 {
		chipMode := magicFlashChipMode(fl.Read(0, 4)[2])
		if bufMode := magicFlashChipMode(data[2]); bufMode != chipMode {
			restore = int(data[2])
			data[2] = chipMode
		}
	}
	if err := clk.SleepUntil(ctx, fl.Program(u.cur, data)); err != nil {
		return false, err
	}
	if restore >= 0 {
		data[2] = byte(restore)
	}
	u.md5.Write(data)
	u.cur += uint32(u.bufLen)
	u.bufLen = 0
	return true, nil
}

// end is UpdaterClass::end(): a transfer that stopped short fails without
// an error number (ArduinoOTA then prints "ERROR[0]: No Error"); then the
// MD5, then the image header (_verifyEnd); an app update leaves eboot the
// command to copy it over the running sketch at the next boot.
func (u *updater) end(ctx context.Context) bool {
	if u.size == 0 {
		u.reset()
		return false
	}
	if u.progress() == 0 {
		u.setError(ota.UpdateNoData)
	}
	if u.err != ota.UpdateOK || !u.isFinished() {
		u.reset()
		return false
	}
	if u.targetMD5 != "" {
		u.calculated = hex.EncodeToString(u.md5.Sum(nil))
		if !strings.EqualFold(u.targetMD5, u.calculated) {
			u.setError(ota.UpdateMD5)
			return false
		}
	}
	fl := u.env.Flash()
	if u.cmd == ota.CommandFlash {
		h := fl.Read(u.start, 4)
		switch {
		case h[0] == 0x1F && h[1] == 0x8B:
			// gzip: the header is compressed, nothing to check
		case h[0] != 0xE9:
			u.setError(ota.UpdateMagicByte)
			return false
		default:
			if real, _ := u.flashConfig(); magicFlashChipSize(h[3]>>4) > real {
				u.setError(ota.UpdateNewFlashConfig)
				return false
			}
		}
		u.staged = &ebootCommand{src: u.start, dst: 0, size: u.size}
	}
	u.reset()
	return true
}

// errorString is getErrorString().
func (u *updater) errorString() string {
	switch u.err {
	case ota.UpdateMD5:
		return fmt.Sprintf("%s: expected: %s, calculated: %s", u.err.Text(), u.targetMD5, u.calculated)
	case ota.UpdateFlashConfig:
		real, sdk := u.flashConfig()
		return fmt.Sprintf("Flash config wrong: real: %d, SDK: %d", real, sdk)
	case ota.UpdateNewFlashConfig:
		real, _ := u.flashConfig()
		return fmt.Sprintf("new Flash config wrong, real size: %d", real)
	}
	return u.err.Text()
}

// printError is UpdaterClass::printError: "ERROR[%hhu]: %s\n".
func (u *updater) printError() string {
	return fmt.Sprintf("ERROR[%d]: %s\n", uint8(u.err), u.errorString())
}

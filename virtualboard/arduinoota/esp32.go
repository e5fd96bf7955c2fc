package arduinoota

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/flasher/otadata"
	"github.com/iotbench/iotbench/virtualboard"
)

// arduino-esp32's ArduinoOTA and Update class (libraries/ArduinoOTA/src/
// ArduinoOTA.cpp, libraries/Update/src/Updater.cpp and Update.h of the 3.x
// core). Where 2.x differs, 3.x is modelled: 3.x erases 64 KiB blocks
// where it can instead of every sector, skips writing all-0xFF buffers,
// and looks for a FAT partition when there is no SPIFFS one. Its MD5
// challenge is that of 3.0–3.3.0; 3.3.1 moved authentication to SHA-256
// (device-side.md §5.2), which this model does not speak (nor does the
// uploader in flasher/ota).

// UpdateError32 is an arduino-esp32 Update error (Update.h
// UPDATE_ERROR_*). The numbers differ from the ESP8266 Updater's from 7
// on, and the device sends only the text (printError is
// println(errorString())), so a host cannot confuse them.
type UpdateError32 int

const (
	Update32OK          UpdateError32 = 0
	Update32Write       UpdateError32 = 1
	Update32Erase       UpdateError32 = 2
	Update32Read        UpdateError32 = 3
	Update32Space       UpdateError32 = 4
	Update32Size        UpdateError32 = 5
	Update32Stream      UpdateError32 = 6
	Update32MD5         UpdateError32 = 7
	Update32MagicByte   UpdateError32 = 8
	Update32Activate    UpdateError32 = 9
	Update32NoPartition UpdateError32 = 10
	Update32BadArgument UpdateError32 = 11
	Update32Abort       UpdateError32 = 12
)

// Text is Updater.cpp's _err2str; the uploader's table (flasher/ota) is
// the one definition.
func (e UpdateError32) Text() string { return ota.ESP32UpdateError(e).Text() }

// Flash geometry of Updater.cpp: SPI_FLASH_SEC_SIZE buffers, 64 KiB
// blocks (SPI_SECTORS_PER_BLOCK 16), the first ENCRYPTED_BLOCK_SIZE bytes
// of an app held back until end().
const (
	flashBlockSize = 16 * sectorSize
	skipSize       = 16
	imageMagic     = 0xE9
)

// update32 is arduino-esp32's UpdateClass as ArduinoOTA drives it.
type update32 struct {
	env *virtualboard.AppEnv
	pt  *layout.PartitionTable

	err      UpdateError32
	cmd      ota.Command
	part     layout.Partition
	size     uint32
	progress uint32
	buf      []byte
	bufLen   int
	skip     []byte // the app's first 16 bytes, written by end()
	md5      hash.Hash
	target   string
}

func newUpdate32(env *virtualboard.AppEnv) *update32 {
	return &update32{env: env, md5: md5.New()}
}

func (u *update32) running() bool     { return u.size > 0 }
func (u *update32) isFinished() bool  { return u.progress == u.size }
func (u *update32) remaining() uint32 { return u.size - u.progress }
func (u *update32) setMD5(s string)   { u.target = strings.ToLower(s) }

func (u *update32) reset() {
	u.buf, u.skip, u.bufLen = nil, nil, 0
	u.progress, u.size = 0, 0
	u.cmd = ota.CommandFlash
}

// abort is _abort: everything dropped, the error kept. Note that
// isFinished() is then true (0 == 0), which ends ArduinoOTA's loop.
func (u *update32) abort(e UpdateError32) {
	u.reset()
	u.err = e
}

// begin is UpdateClass::begin(size, command, ledPin, ledOn, label): an app
// goes to esp_ota_get_next_update_partition(NULL), the OTA slot after the
// running one; a filesystem to the first data/spiffs partition (with
// label, "" = any: arduino-esp32's LittleFS also lives in a spiffs-subtype
// partition labelled "spiffs"), else the first data/fat one.
func (u *update32) begin(size uint32, cmd ota.Command, label string) bool {
	if u.running() {
		return false // log_w("already running"), no error set
	}
	u.reset()
	u.err = Update32OK
	u.target = ""
	u.md5.Reset()
	if size == 0 {
		u.err = Update32Size
		return false
	}
	fl := u.env.Flash()
	pt, err := layout.ParseBinary(fl.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		u.err = Update32NoPartition // esp_partition_find finds nothing
		return false
	}
	u.pt = pt
	var part *layout.Partition
	switch cmd {
	case ota.CommandFlash:
		// esp_ota_get_next_update_partition(NULL) starts from the
		// running partition, not from what otadata now selects.
		if running, ok := u.env.RunningPartition(); ok {
			if p, err := otadata.NextUpdatePartition(pt, running); err == nil {
				part = &p
			}
		}
	case ota.CommandFS:
		part = findData(pt, layout.SubTypeSPIFFS, label)
		if part == nil {
			part = findData(pt, layout.SubTypeFAT, "")
		}
	default:
		u.err = Update32BadArgument
		return false
	}
	if part == nil {
		u.err = Update32NoPartition
		return false
	}
	if size > part.Size {
		u.err = Update32Size // log_e("too large %u > %u")
		return false
	}
	u.part, u.size, u.cmd = *part, size, cmd
	u.buf = make([]byte, sectorSize)
	return true
}

func findData(pt *layout.PartitionTable, sub byte, label string) *layout.Partition {
	for i, p := range pt.Partitions {
		if p.Type == layout.TypeData && p.SubType == sub && (label == "" || p.Label == label) {
			return &pt.Partitions[i]
		}
	}
	return nil
}

// write is UpdateClass::write(data, len): more than what remains is an
// error; full 4 KiB buffers go to flash as they fill, and the last one
// when it completes the image. It returns how many bytes it took.
func (u *update32) write(ctx context.Context, p []byte) (int, error) {
	if u.err != Update32OK || !u.running() {
		return 0, nil
	}
	if uint32(len(p)) > u.remaining() {
		u.abort(Update32Space)
		return 0, nil
	}
	left := len(p)
	for u.bufLen+left > sectorSize {
		n := sectorSize - u.bufLen
		copy(u.buf[u.bufLen:], p[len(p)-left:])
		u.bufLen += n
		if ok, err := u.writeBuffer(ctx); !ok || err != nil {
			return len(p) - left, err
		}
		left -= n
	}
	copy(u.buf[u.bufLen:], p[len(p)-left:])
	u.bufLen += left
	if uint32(u.bufLen) == u.remaining() {
		if ok, err := u.writeBuffer(ctx); !ok || err != nil {
			return len(p) - left, err
		}
	}
	return len(p), nil
}

// writeBuffer is _writeBuffer: an app must start with the image magic,
// and its first 16 bytes are held back so that a partly written slot is
// not bootable; a 64 KiB block is erased where one starts and at least a
// block remains, single sectors at an unaligned partition's head and in
// the image's last block; a buffer of 0xFF only is not programmed.
func (u *update32) writeBuffer(ctx context.Context) (bool, error) {
	fl, clk := u.env.Flash(), u.env.Clock()
	data := u.buf[:u.bufLen]
	skip := 0
	if u.progress == 0 && u.cmd == ota.CommandFlash {
		if data[0] != imageMagic {
			u.abort(Update32MagicByte)
			return false, nil
		}
		skip = skipSize
		u.skip = append([]byte(nil), data[:skip]...)
	}
	u.md5.Write(data)
	off := u.part.Offset + u.progress
	blockErase := u.size-u.progress >= flashBlockSize && off%flashBlockSize == 0
	head := u.part.Offset%flashBlockSize != 0 && off < (u.part.Offset/flashBlockSize+1)*flashBlockSize
	tail := off >= (u.part.Offset+u.size)/flashBlockSize*flashBlockSize
	var done time.Duration
	switch {
	case blockErase:
		done = fl.EraseBlock64(off)
	case head || tail:
		done = fl.EraseSector(off)
	}
	if done > 0 {
		if err := clk.SleepUntil(ctx, done); err != nil {
			return false, err
		}
	}
	if rest := data[skip:]; hasData(rest) {
		if err := clk.SleepUntil(ctx, fl.Program(off+uint32(skip), rest)); err != nil {
			return false, err
		}
	}
	u.progress += uint32(u.bufLen)
	u.bufLen = 0
	return true, nil
}

// hasData is _chkDataInBlock: only whole 32-bit words are checked, any
// other length counts as data.
func hasData(p []byte) bool {
	if len(p) == 0 || len(p)%4 != 0 {
		return true
	}
	return !bytes.Equal(p, bytes.Repeat([]byte{0xFF}, len(p)))
}

// end is UpdateClass::end(): an unfinished transfer is "Aborted"; then the
// MD5; an app then gets its first 16 bytes (_enablePartition), must start
// with the magic (else "Flash Read Failed") and pass
// esp_ota_set_boot_partition — esp_image_verify, then the next otadata
// entry — or "Could Not Activate The Firmware". From here a reset boots
// the new slot.
func (u *update32) end(ctx context.Context) (bool, error) {
	if u.err != Update32OK || u.size == 0 {
		return false, nil
	}
	if !u.isFinished() {
		u.abort(Update32Abort)
		return false, nil
	}
	if u.target != "" && u.target != hex.EncodeToString(u.md5.Sum(nil)) {
		u.abort(Update32MD5)
		return false, nil
	}
	if u.cmd == ota.CommandFlash {
		fl, chip := u.env.Flash(), u.env.Chip()
		if err := u.env.Clock().SleepUntil(ctx, fl.Program(u.part.Offset, u.skip)); err != nil {
			return false, err
		}
		if fl.Read(u.part.Offset, 1)[0] != imageMagic {
			u.abort(Update32Read)
			return false, nil
		}
		if virtualboard.ValidateApp(fl, chip, u.part) != nil {
			u.abort(Update32Activate)
			return false, nil
		}
		if err := virtualboard.SetBootPartition(ctx, fl, u.pt, u.part); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			u.abort(Update32Activate)
			return false, nil
		}
	}
	u.reset()
	return true, nil
}

// printError is UpdateClass::printError: println(errorString()).
func (u *update32) printError() string { return u.err.Text() + "\r\n" }

// hostLatency is the least real time the sketch's one-second wait for data
// lasts. The host is real: on a board clock sped up 1000 times a second is
// a millisecond, less than a loaded machine may take to schedule the
// uploader after it accepted the connection, and arduino-esp32 (unlike
// the ESP8266 core) gives up after that wait.
const hostLatency = 250 * time.Millisecond

// esp32ReadChunk is ArduinoOTA's static read buffer: at most 1460 bytes
// per client.read, each followed by its count.
const esp32ReadChunk = 1460

// runUpdate32 is arduino-esp32 3.x ArduinoOTAClass::_runUpdate: begin (a
// refusal only reaches the sketch's onError: the host already has its
// OK), connect back, read and write 1460 bytes at a time echoing each
// count; a second without data re-sends the last count up to three times
// before "Receive Failed"; end(), then "OK", close, 10 ms, onEnd, 100 ms,
// ESP.restart() — or the error text.
func (o *OTA) runUpdate32(ctx context.Context) (c *conn, err error) {
	env := o.env
	o.mu.Lock()
	cmd, size, sum, peer, port := o.cmd, o.size, o.md5, o.peer, o.tcpPort
	o.mu.Unlock()

	u := newUpdate32(env)
	if !u.begin(uint32(size), cmd, "") {
		o.d.logf("OTA: Begin ERROR: %s", u.err.Text())
		o.callError(ErrBegin)
		return nil, ctx.Err()
	}
	u.setMD5(sum)
	if c, err = o.connectBack(ctx, cmd, size, peer, port); ctx.Err() != nil {
		return nil, err
	}
	written, total, tried := 0, 0, 0
	for c != nil && !u.isFinished() && (c.connected() || len(c.pending) > 0) {
		if err := c.waitAvailable(ctx, max(time.Second, env.Clock().Virtual(hostLatency))); err != nil {
			return c, err
		}
		if len(c.pending) == 0 {
			if c.eof {
				// A closed connection has nothing available either: the
				// sketch waits its second out like any other.
				if err := env.Sleep(ctx, time.Second); err != nil {
					return c, err
				}
			}
			if written > 0 && tried < 3 {
				tried++
				if c.eof {
					break // client.printf fails: "failed to respond"
				}
				c.print(strconv.Itoa(written))
				continue
			}
			o.d.logf("OTA: Receive Failed")
			o.callError(ErrReceive)
			u.abort(Update32Abort)
			return c, ctx.Err()
		}
		tried = 0
		r := min(len(c.pending), esp32ReadChunk)
		chunk := c.pending[:r]
		c.pending = c.pending[r:]
		if written, err = u.write(ctx, chunk); err != nil {
			return c, err
		}
		if written > 0 {
			c.print(strconv.Itoa(written))
			total += written
			if o.cb.OnProgress != nil {
				o.cb.OnProgress(total, size)
			}
		} else {
			o.d.logf("OTA: Write ERROR: %s", u.err.Text())
		}
	}
	ok, err := u.end(ctx)
	if err != nil {
		return c, err
	}
	if !ok {
		o.callError(ErrEnd)
		c.print(u.printError())
		c.close()
		o.d.logf("OTA: Update ERROR: %s", u.err.Text())
		return c, env.Sleep(ctx, 10*time.Millisecond)
	}
	c.print("OK")
	c.close()
	o.d.logf("OTA: update of %d bytes done (%s)", size, cmd)
	if err := env.Sleep(ctx, 10*time.Millisecond); err != nil {
		return c, err
	}
	return c, o.restartAfterEnd(ctx)
}

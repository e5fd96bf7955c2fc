package flasher_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/target"
	"github.com/iotbench/iotbench/virtualboard"
)

// The six ESP32-family chips of issue 10 through their ROM loaders:
// detect, MAC, flash ID, random images written compressed and verified
// by MD5 at 921600 baud, read back at 2000000 with READ_FLASH_SLOW, the
// partition table written at 0x8000 and read back, and the baud rate
// changed back to 115200 — all against the ROM personality (4 status
// bytes, SPI_ATTACH, SPI_SET_PARAMS, the ESP32's drifting ROM clock).
func TestESP32FamilyROMWriteReadBaud(t *testing.T) {
	mac := [6]byte{0x24, 0x0A, 0xC4, 0x01, 0x02, 0x03}
	for _, name := range []string{"ESP32", "ESP32-S2", "ESP32-S3", "ESP32-C3", "ESP32-C6", "ESP32-H2"} {
		t.Run(name, func(t *testing.T) {
			chip, _ := target.ByName(name)
			b := newBoard(t, virtualboard.Config{Chip: name, MAC: mac})
			rec := &recorder{Port: mustPort(t, b)}
			c := &collector{}
			o := sessionOptions(name, c)
			o.NoStub, o.Baud = true, 921600
			l, info, err := flasher.Open(context.Background(), rec, o)
			if err != nil {
				t.Fatalf("open: %v (board: %v)", err, b.Events())
			}
			if info.Chip != chip || info.MAC != mac {
				t.Fatalf("detected %s %s", info.Chip.Name, target.FormatMAC(info.MAC))
			}
			if id, err := l.FlashID(); err != nil || id != 0x1640EF {
				t.Fatalf("flash ID 0x%06X %v", id, err)
			}
			if rec.port().BaudRate() != 921600 {
				t.Fatal("not at 921600")
			}
			pt, err := layout.ESP32DefaultTable("default", 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			ptBin, err := pt.Binary()
			if err != nil {
				t.Fatal(err)
			}
			n0 := len(rec.since(0))
			regions := []flasher.Region{
				{Addr: chip.PartitionTableOffset, Data: ptBin, Name: "partitions"},
				{Addr: chip.AppOffset, Data: randomBytes(11, 70001), Name: "app"},
				{Addr: 0x300000, Data: randomBytes(12, 12345), Name: "data"},
			}
			if err := l.WriteFlash(context.Background(), regions, flasher.WriteOptions{}); err != nil {
				t.Fatalf("write: %v (board: %v)", err, b.Events())
			}
			got := b.Flash().Snapshot()
			if i := firstDiff(got, expectFlash(len(got), regions...)); i >= 0 {
				t.Fatalf("flash differs at 0x%X", i)
			}
			var written []flasher.WrittenEvent
			for _, e := range c.events {
				if w, ok := e.(flasher.WrittenEvent); ok {
					written = append(written, w)
				}
			}
			for _, w := range written {
				if !w.Verified || w.VerifiedBy != "md5" || w.Compressed == 0 {
					t.Fatalf("region %+v: want compressed and MD5-verified", w)
				}
			}
			// What went on the wire: SPI_SET_PARAMS, FLASH_DEFL_* with 0x400
			// packets and the size rounded up to 0x400, no FLASH_DEFL_END,
			// SPI_FLASH_MD5 (§7.7, §16.9).
			sawDeflBegin := false
			for _, q := range rec.since(n0) {
				switch q.Op {
				case flasher.OpFlashDeflBegin:
					ws := words(q.Data)
					wantLen := 16
					if chip.ROMBeginEncryptedWord {
						wantLen = 20
					}
					if len(q.Data) != wantLen || ws[0]%0x400 != 0 || ws[2] != 0x400 {
						t.Fatalf("FLASH_DEFL_BEGIN %v (%d bytes)", ws, len(q.Data))
					}
					sawDeflBegin = true
				case flasher.OpFlashDeflEnd, flasher.OpFlashBegin, flasher.OpFlashData:
					t.Fatalf("%s sent in a compressed ROM write", flasher.OpName(q.Op))
				}
			}
			if !sawDeflBegin {
				t.Fatal("no FLASH_DEFL_BEGIN")
			}
			// 2000000 baud, read the partition table back, then 115200.
			if err := l.ChangeBaud(2000000); err != nil {
				t.Fatal(err)
			}
			back, err := l.ReadFlash(context.Background(), chip.PartitionTableOffset, layout.PartitionTableMaxLen)
			if err != nil {
				t.Fatal(err)
			}
			pt2, err := layout.ParseBinary(back)
			if err != nil || len(pt2.Partitions) != len(pt.Partitions) || pt2.Partitions[3] != pt.Partitions[3] {
				t.Fatalf("partition table read back: %v %+v", err, pt2)
			}
			if err := l.ChangeBaud(115200); err != nil {
				t.Fatal(err)
			}
			if md5, err := l.FlashMD5(0x300000, 12345); err != nil || md5 != md5Hex(regions[2].Data) {
				t.Fatalf("MD5 at 115200 again: %s %v", md5, err)
			}
		})
	}
}

func mustPort(t *testing.T, b *virtualboard.Board) *virtualboard.HostPort {
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (r *recorder) port() flasher.Port { return r.Port }

// The original ESP32's ROM believes its crystal is 4% fast (its 8 MHz RC
// clock drifted): the plain CHANGE_BAUDRATE value leaves its UART off by
// 4%, beyond the line's tolerance, so nothing more gets through; esptool's
// skewed value — what iotbench sends — works (§6.6).
func TestESP32BaudChangeCompensatesROMClockDrift(t *testing.T) {
	for _, compensate := range []bool{true, false} {
		b := newBoard(t, virtualboard.Config{Chip: "ESP32"})
		rec := &recorder{Port: mustPort(t, b)}
		o := sessionOptions("esp32", &collector{})
		o.NoStub = true
		l, _, err := flasher.Open(context.Background(), rec, o)
		if err != nil {
			t.Fatal(err)
		}
		n := len(rec.since(0))
		if compensate {
			err = l.ChangeBaud(921600)
		} else {
			err = flasher.ChangeBaudUncompensated(l, 921600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if compensate {
			// floor(921600 × 41.6 MHz / 40 MHz), esptool's value.
			if q := rec.since(n)[2]; q.Op != flasher.OpChangeBaudrate || !eqWords(words(q.Data), 958464, 0) {
				t.Fatalf("sent %s %v", flasher.OpName(q.Op), words(q.Data))
			}
		}
		_, err = l.FlashMD5(0, 4096)
		if compensate && err != nil {
			t.Fatalf("compensated baud change: %v", err)
		}
		var te *flasher.TimeoutError
		if !compensate && !errors.As(err, &te) {
			t.Fatalf("an uncompensated baud change must garble the line (the ROM clock drift is modelled), got %v", err)
		}
		b.Close()
	}
}

// Images are checked before anything is written: an image built for
// another chip, or one whose header claims more flash than the chip has,
// is refused with what to do; --force writes them anyway.
func TestImageChecksBeforeWriting(t *testing.T) {
	build := func(chip, size string) []byte {
		bl, err := image.NewBuilder(chip)
		if err != nil {
			t.Fatal(err)
		}
		bl.Entry = 0x40080000
		bl.FlashMode, bl.FlashSize, bl.FlashFreq = "dio", size, "40m"
		bl.Segments = []image.BuildSegment{{Addr: 0x40080000, Data: bytes.Repeat([]byte{1, 2, 3, 4}, 64)}}
		img, err := bl.Build()
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	cases := []struct {
		board, imageChip, size string
		addr                   uint32
		want                   string
	}{
		{"ESP32-S3", "ESP32-C3", "4MB", 0x10000, "image is for ESP32-C3 (chip ID 5), not ESP32-S3"},
		{"ESP32", "ESP32-S3", "4MB", 0x1000, "image is for ESP32-S3 (chip ID 9), not ESP32"},
		{"ESP32-C3", "ESP32-C3", "8MB", 0x0, "its header says 8MB of flash but this chip has 4MB"},
		{"ESP8266", "ESP32-C3", "4MB", 0x0, "is an ESP32-C3 image, not an ESP8266 one"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			b := newBoard(t, virtualboard.Config{Chip: c.board})
			port, name := openTransport(t, b, "inprocess")
			o := sessionOptions(name, &collector{})
			o.NoStub = true
			l, _, err := flasher.Open(context.Background(), port, o)
			if err != nil {
				t.Fatal(err)
			}
			img := build(c.imageChip, c.size)
			r := []flasher.Region{{Addr: c.addr, Data: img, Name: "fw.bin"}}
			err = l.WriteFlash(context.Background(), r, flasher.WriteOptions{})
			var ie *flasher.InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "fw.bin") {
				t.Fatalf("err = %v, want an input error containing %q", err, c.want)
			}
			if e, p := b.Flash().Stats(); e != 0 || p != 0 {
				t.Fatal("the board was written to before the check")
			}
			if err := l.WriteFlash(context.Background(), r, flasher.WriteOptions{Force: true}); err != nil {
				t.Fatalf("--force: %v", err)
			}
			if !bytes.Equal(b.Flash().Read(c.addr, len(img)), img) {
				t.Fatal("--force did not write")
			}
		})
	}
}

// A stub on an ESP32: uploaded into the ESP32's RAM, then 16 KiB
// compressed packets and raw 16-byte MD5s. A stub built for the ESP8266's
// addresses is refused by the ESP32 ROM (no RAM there).
func TestESP32Stub(t *testing.T) {
	b := newBoard(t, virtualboard.Config{Chip: "ESP32"})
	port, name := openTransport(t, b, "inprocess")
	c := &collector{}
	o := sessionOptions(name, c)
	o.StubFile, o.Baud = writeESP32TestStub(t), 921600
	l, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		t.Fatalf("open: %v (board %v)", err, b.Events())
	}
	if !l.IsStub() {
		t.Fatal("stub not running")
	}
	data := randomBytes(5, 100000)
	if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0x10000, Data: data}}, flasher.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Flash().Read(0x10000, len(data)), data) {
		t.Fatal("flash differs")
	}

	b2 := newBoard(t, virtualboard.Config{Chip: "ESP32"})
	port2, name2 := openTransport(t, b2, "inprocess")
	o2 := sessionOptions(name2, &collector{})
	o2.StubFile = writeTestStub(t)
	_, _, err = flasher.Open(context.Background(), port2, o2)
	if err == nil || !strings.Contains(err.Error(), "uploading the stub") || !strings.Contains(err.Error(), "invalid RAM binary address") {
		t.Fatalf("ESP8266 stub on an ESP32: %v", err)
	}
}

// A board on its own USB-Serial/JTAG port (303A:1001) is reset with
// esptool's USB sequence; the UART bridge sequences do not reach the
// download mode there (the controller decodes the lines differently).
func TestUSBJTAGSerialConnect(t *testing.T) {
	b := newBoard(t, virtualboard.Config{Chip: "ESP32-C3", USBJTAGSerial: true})
	port, name := openTransport(t, b, "inprocess")
	c := &collector{}
	o := sessionOptions(name, c)
	o.NoStub = true
	l, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		t.Fatalf("open over USB-Serial/JTAG: %v", err)
	}
	if ce := c.events[0].(flasher.ConnectingEvent); ce.Strategy != "usb-jtag-serial" {
		t.Fatalf("strategy %s", ce.Strategy)
	}
	data := randomBytes(8, 20000)
	if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0x10000, Data: data}}, flasher.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	port.Close()

	// The same board reached through a port that hides its USB IDs gets
	// the bridge sequences, which only make it boot from flash.
	p2, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	o2 := sessionOptions("hidden", &collector{})
	o2.NoStub, o2.Attempts = true, 2
	_, _, err = flasher.Open(context.Background(), hideUSB{p2}, o2)
	var ce *flasher.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("bridge reset on a USB-Serial/JTAG port: %v", err)
	}
}

// hideUSB is a port that does not say what it is.
type hideUSB struct{ flasher.Port }

func (h hideUSB) SetDTRRTS(dtr, rts bool) error {
	return h.Port.(flasher.LinePairSetter).SetDTRRTS(dtr, rts)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

package virtualboard

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

var (
	ok4   = []byte{0, 0, 0, 0}
	fail4 = func(code byte) []byte { return []byte{1, code, 0, 0} }
)

func (h *rawHost) expect(op byte, data []byte, chk uint32, status []byte) flasher.Response {
	h.t.Helper()
	r := h.one(op, data, chk)
	if len(r.Data) < len(status) || !bytes.Equal(r.Data[len(r.Data)-len(status):], status) {
		h.t.Fatalf("%s: reply % X, want status % X", flasher.OpName(op), r.Data, status)
	}
	return r
}

func dataPkt(seq int, payload []byte) []byte {
	return append(w(uint32(len(payload)), uint32(seq), 0, 0), payload...)
}

// An ESP32-family ROM from the host's side: four status bytes, flash only
// after SPI_ATTACH, bounded by SPI_SET_PARAMS (2 MB until then), FLASH_BEGIN
// of the chip's length, writes read back, MD5 in 32 hex characters,
// READ_FLASH_SLOW in 64-byte answers.
func TestESP32FamilyROMFlashCommands(t *testing.T) {
	for _, chip := range []string{"ESP32", "ESP32-C3"} {
		t.Run(chip, func(t *testing.T) {
			b := newTestBoard(t, Config{Chip: chip, Speed: 1000, FlashSize: 4 << 20})
			h := newRawHost(t, b)
			begin := w(0x2000, 2, 0x400, 0x10000)
			other := append(append([]byte(nil), begin...), w(0)...)
			if chip != "ESP32" {
				begin, other = other, begin
			}
			md5Req := w(0x10000, 0x800, 0, 0)
			h.expect(flasher.OpSPIFlashMD5, md5Req, 0, fail4(0x06)) // no SPI_ATTACH yet
			h.expect(flasher.OpFlashBegin, begin, 0, fail4(0x06))
			h.expect(flasher.OpSPIAttach, w(0, 0), 0, ok4)
			// FLASH_BEGIN takes 16 bytes on the ESP32 ROM, 20 on S2+ (§4.1).
			h.expect(flasher.OpFlashBegin, other, 0, fail4(0x05))
			h.expect(flasher.OpFlashBegin, begin, 0, ok4)
			pay := bytes.Repeat([]byte{0x5A, 0xA5}, 0x200)
			h.expect(flasher.OpFlashData, dataPkt(0, pay), flasher.Checksum(pay)^1, fail4(0x07))
			h.expect(flasher.OpFlashData, dataPkt(1, pay), flasher.Checksum(pay), ok4)
			if !bytes.Equal(b.Flash().Read(0x10400, 0x400), pay) {
				t.Fatal("seq 1 not at offset + 0x400")
			}
			// The same packet again lands on programmed flash: the ROM's
			// read-back finds other bytes (flash write error 0x08).
			other2 := bytes.Repeat([]byte{0xFF, 0x00}, 0x200)
			h.expect(flasher.OpFlashData, dataPkt(1, other2), flasher.Checksum(other2), fail4(0x08))
			for i := range pay {
				pay[i] &= other2[i] // what NOR flash holds now
			}

			r := h.expect(flasher.OpSPIFlashMD5, w(0x10400, 0x400, 0, 0), 0, ok4)
			sum := md5.Sum(pay)
			if len(r.Data) != 36 || string(r.Data[:32]) != hex.EncodeToString(sum[:]) {
				t.Fatalf("MD5 reply %q", r.Data)
			}
			r = h.expect(flasher.OpReadFlashSlow, w(0x10400, 16), 0, ok4)
			if len(r.Data) != 64+4 || !bytes.Equal(r.Data[:16], pay[:16]) {
				t.Fatalf("READ_FLASH_SLOW % X", r.Data)
			}
			h.expect(flasher.OpReadFlashSlow, w(0x10400, 65), 0, fail4(0x0A))
			// 2 MB until SPI_SET_PARAMS says 4 MB (esp-serial-flasher #23).
			h.expect(flasher.OpSPIFlashMD5, w(0x300000, 0x1000, 0, 0), 0, fail4(0x01))
			h.expect(flasher.OpSPISetParams, w(0, 4<<20, 0x10000, 0x1000, 0x100, 0xFFFF), 0, ok4)
			h.expect(flasher.OpSPIFlashMD5, w(0x300000, 0x1000, 0, 0), 0, ok4)
		})
	}
}

// FLASH_DEFL_*: the ROM erases the rounded size on begin, inflates each
// packet and writes it before acknowledging.
func TestESP32ROMCompressedWrite(t *testing.T) {
	b := newTestBoard(t, Config{Chip: "ESP32-S3", Speed: 1000})
	b.Flash().Load(0x20000, bytes.Repeat([]byte{0x11}, 0x3000)) // old data: must be erased first
	h := newRawHost(t, b)
	h.expect(flasher.OpSPIAttach, w(0, 0), 0, ok4)
	data := bytes.Repeat([]byte("iotbench compressed write "), 300) // 7800 bytes
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, 9)
	zw.Write(data)
	zw.Close()
	comp := buf.Bytes()
	const bs = 0x100
	blocks := (len(comp) + bs - 1) / bs
	h.expect(flasher.OpFlashDeflBegin, w(0x2000, uint32(blocks), bs, 0x20000, 0), 0, ok4)
	for seq := 0; seq < blocks; seq++ {
		p := comp[seq*bs : min(len(comp), (seq+1)*bs)]
		h.expect(flasher.OpFlashDeflData, dataPkt(seq, p), flasher.Checksum(p), ok4)
	}
	if got := b.Flash().Read(0x20000, len(data)); !bytes.Equal(got, data) {
		t.Fatal("inflated data not in flash")
	}
	if got := b.Flash().Read(0x22000, 1); got[0] != 0x11 {
		t.Fatal("the erase went past the rounded size (0x2000 bytes)")
	}
	// A stream that is not zlib fails with the ROM's inflate error.
	h.expect(flasher.OpFlashDeflBegin, w(0x1000, 1, bs, 0x30000, 0), 0, ok4)
	junk := bytes.Repeat([]byte{0xAB}, 64)
	h.expect(flasher.OpFlashDeflData, dataPkt(0, junk), flasher.Checksum(junk), fail4(0x0B))
}

// CHANGE_BAUDRATE: the ESP32 ROM divides the crystal it believes in (here
// 4% fast) by the value; the line then runs 4% slow unless the host sent
// a skewed value. Other ROMs set the rate asked.
func TestROMChangeBaud(t *testing.T) {
	cases := []struct {
		chip     string
		romHz    float64
		arg      uint32
		wantBaud int
	}{
		{"ESP32", 41.6e6, 921600, 886154},    // 921600 × 40 / 41.6
		{"ESP32", 41.6e6, 958464, 921600},    // esptool's skewed value
		{"ESP32-C3", 41.6e6, 921600, 921600}, // no skew on S2+: ROMCrystalHz ignored
	}
	for _, c := range cases {
		b := newTestBoard(t, Config{Chip: c.chip, Speed: 1000, ROMCrystalHz: c.romHz})
		h := newRawHost(t, b)
		h.expect(flasher.OpChangeBaudrate, w(c.arg, 0), 0, ok4)
		deadline := time.Now().Add(2 * time.Second)
		for b.baud() != c.wantBaud && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := b.baud(); got != c.wantBaud {
			t.Errorf("%s, %d asked: UART at %d, want %d", c.chip, c.arg, got, c.wantBaud)
		}
		b.Close()
	}
}

// The ROM's crystal estimate is visible where esptool reads it.
func TestESP32ROMCalibrationRegisters(t *testing.T) {
	b := newTestBoard(t, Config{Chip: "ESP32", Speed: 1000})
	h := newRawHost(t, b)
	cali := h.expect(flasher.OpReadReg, w(0x3FF5F06C), 0, ok4).Value
	ck8m := h.expect(flasher.OpReadReg, w(0x3FF5A010), 0, ok4).Value
	if got := float64((cali>>7)&0x1FFFFFF) * 15625 * float64(ck8m&0xFF) / 40; got != 41.6e6 {
		t.Fatalf("ROM crystal estimate %v, want the default 4%% drift (41.6 MHz)", got)
	}
}

// USB-Serial/JTAG: esptool's USB sequence (through (1,1)) lands in the
// ROM loader; the same lines through (0,0) — or the classic bridge
// sequence — boot from flash (TRM table, reset.py comment).
func TestUSBJTAGSerialReset(t *testing.T) {
	type step struct{ dtr, rts bool }
	seqs := map[string]struct {
		steps    []step
		download bool
	}{
		"esptool usb":       {[]step{{false, false}, {true, false}, {true, true}, {false, true}, {false, false}}, true},
		"through (0,0)":     {[]step{{false, false}, {true, false}, {false, false}, {false, true}, {false, false}}, false},
		"classic bridge":    {[]step{{false, false}, {false, true}, {true, true}, {true, false}, {false, false}}, false},
		"hard reset (done)": {[]step{{false, false}, {false, true}, {false, false}}, false},
	}
	for name, sq := range seqs {
		t.Run(name, func(t *testing.T) {
			b := newTestBoard(t, Config{Chip: "ESP32-C3", Speed: 1000, USBJTAGSerial: true})
			p, err := b.Port()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if vid, pid, ok := p.USBIDs(); !ok || vid != 0x303A || pid != 0x1001 {
				t.Fatalf("USB IDs %04X:%04X %v", vid, pid, ok)
			}
			// Power-on from a blank flash: the ROM finds no bootloader
			// and says so until reset (boot32.go).
			readUntil(t, p, "invalid header", 1)
			for _, s := range sq.steps {
				p.SetDTRRTS(s.dtr, s.rts)
				time.Sleep(5 * time.Millisecond)
			}
			out := readUntil(t, p, "rst:0x15 (USB_UART_CHIP_RESET)", 1)
			_, after, _ := strings.Cut(out, "rst:0x15 (USB_UART_CHIP_RESET)")
			// What follows the reset: the loader's last banner line, or
			// a flash boot's first ROM line.
			for !strings.Contains(after, "waiting for download") && !strings.Contains(after, "invalid header") {
				after += readUntil(t, p, "\n", 1)
			}
			if got := strings.Contains(after, "waiting for download"); got != sq.download {
				t.Fatalf("download mode %v, want %v: %q", got, sq.download, out+after)
			}
		})
	}
	if _, err := New(Config{Chip: "ESP32", USBJTAGSerial: true}); err == nil {
		t.Fatal("the ESP32 has no USB-Serial/JTAG controller")
	}
}

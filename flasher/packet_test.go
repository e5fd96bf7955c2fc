package flasher

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/slip"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Frames from esp-serial-protocol.md (captured from hardware by users).
func TestKnownFrames(t *testing.T) {
	// §6.3: the whole SYNC frame.
	sync := slip.Encode(EncodeRequest(OpSync, SyncPayload, 0))
	if want := unhex(t, "C0 00 08 24 00 00 00 00 00 07 07 12 20"+strings.Repeat("55", 32)+"C0"); !bytes.Equal(sync, want) {
		t.Fatalf("SYNC frame % X", sync)
	}
	// §3.3: READ_REG 0x40001000 request and the ESP8266 and ESP32 replies.
	req := slip.Encode(EncodeRequest(OpReadReg, words(0x40001000), 0))
	if want := unhex(t, "C0 00 0A 04 00 00 00 00 00 00 10 00 40 C0"); !bytes.Equal(req, want) {
		t.Fatalf("READ_REG frame % X", req)
	}
	r, err := ParseResponse(unhex(t, "01 0A 02 00 01 C1 F0 FF 00 00"))
	if err != nil || r.Value != 0xFFF0C101 {
		t.Fatalf("8266 reply: %v %x", err, r.Value)
	}
	if _, err := Status(r.Data, 0); err != nil {
		t.Fatal(err)
	}
	r, err = ParseResponse(unhex(t, "01 0A 04 00 83 1D F0 00 00 00 00 00"))
	if err != nil || r.Value != 0x00F01D83 {
		t.Fatalf("ESP32 reply: %v %x", err, r.Value)
	}
	// An ESP32-family ROM's FLASH_DATA checksum failure: value is junk, status 01 07.
	r, _ = ParseResponse(unhex(t, "01 03 04 00 07 12 20 07 01 07 00 00"))
	_, err = Status(r.Data, 0)
	var se *StatusError
	if !errors.As(err, &se) || se.Key != KeyROMChecksum || !strings.Contains(err.Error(), "checksum error") {
		t.Fatalf("checksum failure decoded as %v", err)
	}
	// §13: SPI_SET_PARAMS for 4 MB.
	sp := slip.Encode(EncodeRequest(OpSPISetParams, words(0, 0x400000, 0x10000, 0x1000, 0x100, 0xFFFF), 0))
	if want := unhex(t, "C0 00 0B 18 00 00 00 00 00 00 00 00 00 00 00 40 00 00 00 01 00 00 10 00 00 00 01 00 00 FF FF 00 00 C0"); !bytes.Equal(sp, want) {
		t.Fatalf("SPI_SET_PARAMS % X", sp)
	}
	// §6.6: CHANGE_BAUDRATE 460800 from 115200 to a stub.
	cb := slip.Encode(EncodeRequest(OpChangeBaudrate, words(460800, 115200), 0))
	if want := unhex(t, "C0 00 0F 08 00 00 00 00 00 00 08 07 00 00 C2 01 00 C0"); !bytes.Equal(cb, want) {
		t.Fatalf("CHANGE_BAUDRATE % X", cb)
	}
	// §7.4: first data header of a 1024-byte ROM packet at seq 0.
	if h := dataHeader(1024, 0); !bytes.Equal(h, unhex(t, "00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00")) {
		t.Fatalf("data header % X", h)
	}
}

// §3.5 worked checksum values.
func TestChecksum(t *testing.T) {
	if Checksum([]byte{1, 2, 3}) != 0xEF {
		t.Fatal("bytes XOR-ing to 0 must give 0xEF")
	}
	if Checksum(bytes.Repeat([]byte{0xFF}, 1024)) != 0xEF {
		t.Fatal("1024 × 0xFF")
	}
	if Checksum(bytes.Repeat([]byte{0xFF}, 7)) != 0x10 {
		t.Fatal("odd run of 0xFF")
	}
}

// esptool's status rule (§3.3): status after the result; short replies fail.
func TestStatusRule(t *testing.T) {
	cases := []struct {
		data      string
		resultLen int
		ok        bool
		key       uint16
	}{
		{"00 00", 0, true, 0},
		{"00 00 00 00", 0, true, 0}, // ESP32 ROM: four status bytes
		{"01 05", 0, false, 0x0105},
		{"C1 00", 0, false, 0xC100},  // stub: error code in the first byte
		{"AA BB 00 00", 2, true, 0},  // result then status
		{"01 05", 16, false, 0x0105}, // too short but says failure
		{"00 00", 16, false, 0},      // too short
		{"", 0, false, 0},            // nothing at all
		{"FF 00", 0, false, KeyStubNotImpl},
	}
	for _, c := range cases {
		res, err := Status(unhex(t, c.data), c.resultLen)
		if c.ok != (err == nil) {
			t.Errorf("%q/%d: err %v", c.data, c.resultLen, err)
			continue
		}
		if c.ok && len(res) != c.resultLen {
			t.Errorf("%q: result %d bytes", c.data, len(res))
		}
		var se *StatusError
		if !c.ok && c.key != 0 && (!errors.As(err, &se) || se.Key != c.key) {
			t.Errorf("%q: %v, want key %04X", c.data, err, c.key)
		}
	}
	if n := (&StatusError{Key: 0xC700}).Name(); n != "inflate error" {
		t.Errorf("stub C7 named %q", n)
	}
}

func TestResponseRejectsDamage(t *testing.T) {
	for _, s := range []string{"01 0A 02 00 01 C1 F0", "00 0A 02 00 01 C1 F0 FF 00 00", "01 0A 03 00 01 C1 F0 FF 00 00", "01 0A 02 00 01 C1 F0 FF 00"} {
		if _, err := ParseResponse(unhex(t, s)); err == nil {
			t.Errorf("accepted damaged response % s", s)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(unhex(f, "01 0A 02 00 01 C1 F0 FF 00 00"), 0)
	f.Add(unhex(f, "01 13 12 00 00 00 00 00 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF 00 00"), 16)
	f.Add([]byte("OHAI"), 0)
	f.Fuzz(func(t *testing.T, frame []byte, resultLen int) {
		if resultLen < 0 || resultLen > 64 {
			return
		}
		r, err := ParseResponse(frame)
		if err != nil {
			return
		}
		if int(frame[2])|int(frame[3])<<8 != len(r.Data) || r.Op != frame[1] {
			t.Fatal("accepted a response whose size field disagrees")
		}
		res, err := Status(r.Data, resultLen)
		if err == nil && (len(res) != resultLen || r.Data[resultLen] != 0) {
			t.Fatal("success with a non-zero status byte or wrong result length")
		}
		// Round trip through the encoder the virtual board uses.
		if !bytes.Equal(EncodeResponse(r.Op, r.Value, r.Data), frame) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add(EncodeRequest(OpSync, SyncPayload, 0))
	f.Add(EncodeRequest(OpFlashData, append(dataHeader(4, 1), 1, 2, 3, 4), Checksum([]byte{1, 2, 3, 4})))
	f.Fuzz(func(t *testing.T, p []byte) {
		q, err := ParseRequest(p)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeRequest(q.Op, q.Data, q.Checksum), p) {
			t.Fatal("re-encoding differs")
		}
	})
}

package image

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestPatchFlashParamsCaptured(t *testing.T) {
	// esp-serial-protocol.md §14.5: ESP8266 v1 image E9 01 00 00 … written at
	// 0x0 with --flash_mode dio --flash_size 1MB --flash_freq 80m is sent as
	// E9 01 02 2F ….
	data := v1Vector()
	data[2], data[3] = 0x00, 0x00
	orig := bytes.Clone(data)
	out, changed, warns, err := PatchFlashParams(data, "ESP8266", 0x0, "dio", "1MB", "80m", "")
	if err != nil || !changed || len(warns) != 0 {
		t.Fatalf("changed %v warnings %q err %v", changed, warns, err)
	}
	if !bytes.Equal(out[:4], []byte{0xE9, 0x01, 0x02, 0x2F}) || !bytes.Equal(out[4:], data[4:]) {
		t.Errorf("out = % x", out[:8])
	}
	if !bytes.Equal(data, orig) {
		t.Error("input modified")
	}
	// The footer checksum covers segment data only, so it stays valid.
	if im, err := Parse(out, ChipESP8266); err != nil || !im.ChecksumValid {
		t.Errorf("reparse: %v", err)
	}
}

func TestPatchFlashParamsConditions(t *testing.T) {
	v1 := v1Vector() // 02 20: dio, 1MB, 40m
	e32 := esp32Vector(true)
	s3 := func() []byte {
		b := newBuilder(t, ChipESP32S3)
		b.FlashMode, b.FlashSize, b.FlashFreq = "dio", "2MB", "40m"
		b.Segments = []BuildSegment{{Addr: 0x3FC88000, Data: []byte{1, 2, 3, 4}}}
		return mustBuild(t, b)
	}()
	notParse := bytes.Clone(v1[:20]) // header fine, checksum missing
	v2 := v2Vector(t)
	badFlag := bytes.Clone(e32)
	badFlag[23] = 7

	tests := []struct {
		name             string
		data             []byte
		chip             string
		addr             uint32
		mode, size, freq string
		detected         string
		want23           []byte // nil: unchanged
		warn             string
	}{
		{"short data", v1[:7], "ESP8266", 0, "dio", "4MB", "80m", "", nil, ""},
		{"wrong offset", v1, "ESP8266", 0x1000, "qio", "4MB", "80m", "", nil, ""},
		{"ESP32 at 0x0", e32, "ESP32", 0x0, "qio", "4MB", "80m", "", nil, ""},
		{"all keep", v1, "ESP8266", 0, "keep", "KEEP", "Keep", "4MB", nil, ""},
		{"not 0xE9", append([]byte{0x00}, v1[1:]...), "ESP8266", 0, "qio", "", "", "", nil, "doesn't look like an image file"},
		{"v2 image", v2, "ESP8266", 0, "qio", "keep", "keep", "", nil, "doesn't look like an image file"},
		{"not parseable", notParse, "ESP8266", 0, "qio", "keep", "keep", "", nil, "is not a valid ESP8266 image"},
		{"bad digest flag", badFlag, "ESP32", 0x1000, "qio", "keep", "keep", "", nil, "is not a valid ESP32 image"},
		{"mode only", v1, "ESP8266", 0, "qio", "keep", "keep", "", []byte{0x00, 0x20}, ""},
		{"size only", v1, "ESP8266", 0, "keep", "16MB", "keep", "", []byte{0x02, 0x90}, ""},
		{"freq only", v1, "ESP8266", 0, "keep", "keep", "26m", "", []byte{0x02, 0x21}, ""},
		{"same values", v1, "ESP8266", 0, "dio", "1MB", "40m", "", nil, ""},
		{"detect", v1, "ESP8266", 0, "keep", "detect", "keep", "4MB-c1", []byte{0x02, 0x60}, ""},
		{"detect failed", v1, "ESP8266", 0, "keep", "Detect", "keep", "", []byte{0x02, 0x40}, "defaulting to 4MB"},
		{"ESP32 at 0x1000", e32, "ESP32", 0x1000, "dout", "16MB", "80m", "", []byte{0x03, 0x4F}, ""},
		{"S3 at 0x0", s3, "ESP32-S3", 0, "keep", "8MB", "keep", "", []byte{0x02, 0x30}, ""},
		{"keep size nibble", func() []byte { d := bytes.Clone(s3); d[3] = 0x12; return d }(), "ESP32-S3", 0, "keep", "keep", "40m", "", []byte{0x02, 0x10}, ""},
		{"wrong chip ID still patched", s3, "ESP32-C3", 0, "keep", "keep", "80m", "", []byte{0x02, 0x1F}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.data)
			out, changed, warns, err := PatchFlashParams(tc.data, tc.chip, tc.addr, tc.mode, tc.size, tc.freq, tc.detected)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.data, orig) {
				t.Fatal("input modified")
			}
			if len(out) != len(tc.data) {
				t.Fatalf("length %d, want %d", len(out), len(tc.data))
			}
			if tc.warn == "" && len(warns) != 0 || tc.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", warns, tc.warn)
			}
			if tc.want23 == nil {
				if changed || !bytes.Equal(out, tc.data) {
					t.Errorf("changed: % x", out[:min(8, len(out))])
				}
				return
			}
			if !changed || !bytes.Equal(out[2:4], tc.want23) {
				t.Errorf("bytes 2-3 = % x (changed %v), want % x", out[2:4], changed, tc.want23)
			}
			im, err := Parse(out, tc.chip)
			if err != nil || (im.SHA256 != nil && !im.SHA256.Valid) {
				t.Errorf("reparse: %v %+v", err, im)
			}
			// Only bytes 2–3 and the digest may differ.
			for i := range out {
				inDigest := im.SHA256 != nil && i >= im.SHA256.Offset
				if out[i] != tc.data[i] && i != 2 && i != 3 && !inDigest {
					t.Errorf("byte %d changed", i)
				}
			}
		})
	}
}

func TestPatchFlashParamsC6(t *testing.T) {
	b := newBuilder(t, ChipESP32C6)
	b.FlashFreq = "20m"
	data := mustBuild(t, b)
	out, changed, _, err := PatchFlashParams(data, "esp32c6", 0, "keep", "keep", "80m", "")
	if err != nil || !changed || out[3] != 0x00 {
		t.Errorf("C6 80m: byte 3 = %02x, %v, %v", out[3], changed, err)
	}
}

func TestPatchFlashParamsDigest(t *testing.T) {
	e32 := esp32Vector(true)
	out, changed, _, err := PatchFlashParams(e32, "ESP32", 0x1000, "qio", "keep", "keep", "")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	want := sha256.Sum256(out[:48])
	if out[2] != 0 || !bytes.Equal(out[48:], want[:]) || bytes.Equal(out[48:], e32[48:]) {
		t.Errorf("digest not recomputed: % x", out[48:])
	}

	// Digest recomputed even when the flash bytes stay: esptool repairs a stale one.
	stale := bytes.Clone(e32)
	stale[50] ^= 0xFF
	out, changed, _, err = PatchFlashParams(stale, "ESP32", 0x1000, "dio", "keep", "keep", "")
	if err != nil || !changed || !bytes.Equal(out, e32) {
		t.Errorf("stale digest not repaired: %v %v", changed, err)
	}

	// Merged binary: data after the digest is kept as it is.
	merged := append(bytes.Clone(e32), bytes.Repeat([]byte{0xE9}, 100)...)
	out, _, _, err = PatchFlashParams(merged, "ESP32", 0x1000, "qio", "keep", "keep", "")
	if err != nil || !bytes.Equal(out[80:], merged[80:]) || !bytes.Equal(out[48:80], want[:]) {
		t.Errorf("merged binary: %v", err)
	}

	// Truncated digest: bytes 2–3 change, the digest is left with a warning.
	short := e32[:60]
	out, changed, warns, err := PatchFlashParams(short, "ESP32", 0x1000, "qio", "keep", "keep", "")
	if err != nil || !changed || len(out) != 60 || !bytes.Equal(out[4:], short[4:]) || len(warns) != 1 || !strings.Contains(warns[0], "truncated") {
		t.Errorf("short digest: %v %v %q", changed, err, warns)
	}

	// No digest flag: nothing after the checksum is touched.
	nod := append(esp32Vector(false), 1, 2, 3)
	out, _, _, err = PatchFlashParams(nod, "ESP32", 0x1000, "qio", "keep", "keep", "")
	if err != nil || !bytes.Equal(out[4:], nod[4:]) {
		t.Errorf("no digest: %v", err)
	}
}

func TestPatchFlashParamsErrors(t *testing.T) {
	v1 := v1Vector()
	tests := []struct {
		name, chip, mode, size, freq, detected, want string
		addr                                         uint32
	}{
		{"unknown chip", "ESP7", "dio", "keep", "keep", "", "unknown chip", 0},
		{"bad mode", "ESP8266", "fast", "keep", "keep", "", "valid modes are qio, qout, dio, dout (or keep)", 0},
		{"bad size", "ESP8266", "keep", "32MB", "keep", "", "supported sizes are 512KB", 0},
		{"bad freq", "ESP32-C2", "keep", "keep", "80m", "", "supported frequencies are 60m, 30m, 20m, 15m", 0},
		// A bad name is an error even when no rewrite would happen.
		{"bad size elsewhere", "ESP8266", "keep", "3MB", "keep", "", "3MB", 0x10000},
		// detect resolving to a size the chip lacks fails like esptool.
		{"detected too big", "ESP8266", "keep", "detect", "keep", "32MB", "detected flash size", 0},
	}
	for _, tc := range tests {
		out, _, _, err := PatchFlashParams(v1, tc.chip, tc.addr, tc.mode, tc.size, tc.freq, tc.detected)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (out % x), want error containing %q", tc.name, err, out, tc.want)
		}
	}
	// An unusable detected size does not matter when nothing is rewritten.
	if _, _, _, err := PatchFlashParams(v1, "ESP8266", 0x10000, "keep", "detect", "keep", "256MB"); err != nil {
		t.Errorf("detect at 0x10000: %v", err)
	}
	// Empty input is fine and yields an empty, non-nil copy.
	if out, changed, _, err := PatchFlashParams(nil, "ESP8266", 0, "dio", "keep", "keep", ""); err != nil || changed || out == nil || len(out) != 0 {
		t.Errorf("nil input: %v %v %v", out, changed, err)
	}
}

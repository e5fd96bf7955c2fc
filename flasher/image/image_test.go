package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

// v1Vector is an ESP8266 v1 image written out by hand (esp-serial-protocol.md
// §14.1): dio, 1MB, 40m, entry 0x40100004, one segment of 01 02 04 08 at
// 0x40100000. The data XOR is 0x0F, so the checksum is 0xEF^0x0F = 0xE0,
// stored at offset 31 (the first offset ≡ 15 mod 16 after the data).
func v1Vector() []byte {
	b := []byte{
		0xE9, 0x01, 0x02, 0x20, 0x04, 0x00, 0x10, 0x40,
		0x00, 0x00, 0x10, 0x40, 0x04, 0x00, 0x00, 0x00,
		0x01, 0x02, 0x04, 0x08,
	}
	b = append(b, make([]byte, 11)...)
	return append(b, 0xE0)
}

// esp32Vector is an ESP32 image written out by hand (§14.1, §14.4): dio,
// 4MB, 40m, entry 0x40080000, WP pin disabled, chip ID 0, max rev 0xFFFF,
// one 8-byte segment AA BB CC DD 11 22 33 44 at 0x3FFB0000 (XOR 0x44, so
// checksum 0xEF^0x44 = 0xAB at offset 47), optionally the SHA-256 of the
// 48 bytes before it.
func esp32Vector(digest bool) []byte {
	flag := byte(0)
	if digest {
		flag = 1
	}
	b := []byte{
		0xE9, 0x01, 0x02, 0x20, 0x00, 0x00, 0x08, 0x40,
		0xEE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, flag,
		0x00, 0x00, 0xFB, 0x3F, 0x08, 0x00, 0x00, 0x00,
		0xAA, 0xBB, 0xCC, 0xDD, 0x11, 0x22, 0x33, 0x44,
	}
	b = append(b, make([]byte, 7)...)
	b = append(b, 0xAB)
	if digest {
		sum := sha256.Sum256(b)
		b = append(b, sum[:]...)
	}
	return b
}

func mustBuild(t testing.TB, b *Builder) []byte {
	t.Helper()
	out, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}

func newBuilder(t testing.TB, chip string) *Builder {
	t.Helper()
	b, err := NewBuilder(chip)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v2Vector builds an ESP8266 v2 image with an irom0 segment and two RAM segments.
func v2Vector(t testing.TB) []byte {
	b := newBuilder(t, ChipESP8266)
	b.Entry, b.FlashMode, b.FlashSize, b.FlashFreq = 0x40100010, "qio", "4MB", "80m"
	b.Segments = []BuildSegment{
		{Addr: 0x40100000, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Addr: 0x40210010, Data: bytes.Repeat([]byte{0x5A}, 20)},
		{Addr: 0x3FFE8000, Data: []byte{0x10, 0x20, 0x30, 0x40}},
	}
	out, err := b.BuildESP8266V2()
	if err != nil {
		t.Fatalf("BuildESP8266V2: %v", err)
	}
	return out
}

func TestChecksumAndCRC(t *testing.T) {
	if got := Checksum(ChecksumSeed, []byte{1, 2}, []byte{4, 8}); got != 0xE0 {
		t.Errorf("Checksum = 0x%02x, want 0xe0", got)
	}
	if got := Checksum(ChecksumSeed); got != 0xEF {
		t.Errorf("empty checksum = 0x%02x", got)
	}
	// CRC-32 of "123456789" is 0xCBF43926 (bit 31 set → inverted); of ""
	// it is 0 (bit 31 clear → plus one).
	if got := ESP8266CRC32([]byte("123456789")); got != 0x340BC6D9 {
		t.Errorf("ESP8266CRC32(123456789) = 0x%08x", got)
	}
	if got := ESP8266CRC32(nil); got != 1 {
		t.Errorf("ESP8266CRC32(nil) = 0x%08x", got)
	}
}

func TestBuildMatchesHandVectors(t *testing.T) {
	b := newBuilder(t, ChipESP8266)
	b.Entry, b.FlashMode, b.FlashSize, b.FlashFreq = 0x40100004, "dio", "1MB", "40m"
	b.Segments = []BuildSegment{{Addr: 0x40100000, Data: []byte{1, 2, 4, 8}}}
	if got := mustBuild(t, b); !bytes.Equal(got, v1Vector()) {
		t.Errorf("ESP8266 build:\n got % x\nwant % x", got, v1Vector())
	}

	for _, digest := range []bool{false, true} {
		b := newBuilder(t, ChipESP32)
		b.Entry, b.FlashMode, b.FlashSize, b.FlashFreq = 0x40080000, "dio", "4MB", "40m"
		b.Ext.HashAppended = digest
		b.Segments = []BuildSegment{{Addr: 0x3FFB0000, Data: []byte{0xAA, 0xBB, 0xCC, 0xDD, 0x11, 0x22, 0x33, 0x44}}}
		if got := mustBuild(t, b); !bytes.Equal(got, esp32Vector(digest)) {
			t.Errorf("ESP32 build (digest %v):\n got % x\nwant % x", digest, got, esp32Vector(digest))
		}
	}
}

func TestBuildPadsAndLimits(t *testing.T) {
	b := newBuilder(t, ChipESP8266)
	b.Segments = []BuildSegment{{Addr: 0x40100000, Data: []byte{0xFF, 0x01, 0x02}}} // padded to 4
	out := mustBuild(t, b)
	if len(out)%16 != 0 || binary.LittleEndian.Uint32(out[12:]) != 4 {
		t.Fatalf("padding wrong: % x", out)
	}
	if out[len(out)-1] != 0xEF^0xFF^0x01^0x02 {
		t.Errorf("checksum 0x%02x", out[len(out)-1])
	}
	b.Segments = make([]BuildSegment, 17)
	if _, err := b.Build(); err == nil {
		t.Error("17 segments built")
	}
	b.Segments = nil
	b.FlashSize = "128MB"
	if _, err := b.Build(); err == nil {
		t.Error("ESP8266 128MB built")
	}
	b.FlashSize = ""
	if _, err := b.BuildESP8266V2(); err == nil || !strings.Contains(err.Error(), "irom0") {
		t.Errorf("v2 without irom0: %v", err)
	}
	e := newBuilder(t, ChipESP32S3)
	if _, err := e.BuildESP8266V2(); err == nil {
		t.Error("v2 for ESP32-S3 built")
	}
	if _, err := NewBuilder("esp64"); err == nil {
		t.Error("NewBuilder(esp64) succeeded")
	}
}

func TestParseV1(t *testing.T) {
	im, err := Parse(v1Vector(), "esp8266")
	if err != nil {
		t.Fatal(err)
	}
	if im.Format != FormatESP8266V1 || im.Version != 1 || im.Magic != 0xE9 || im.SegmentCount != 1 {
		t.Errorf("format %s v%d magic %x count %d", im.Format, im.Version, im.Magic, im.SegmentCount)
	}
	if im.FlashModeName != "dio" || im.FlashSizeName != "1MB" || im.FlashFreqName != "40m" || im.Entry != 0x40100004 {
		t.Errorf("flash %s/%s/%s entry %x", im.FlashModeName, im.FlashSizeName, im.FlashFreqName, im.Entry)
	}
	s := im.Segments[0]
	if s.LoadAddr != 0x40100000 || s.Length != 4 || s.FileOffset != 8 || s.DataOffset != 16 ||
		!bytes.Equal(s.Data, []byte{1, 2, 4, 8}) || s.FlashMapped || strings.Join(s.MemoryTypes, ",") != "IRAM" {
		t.Errorf("segment %+v", s)
	}
	if !im.ChecksumValid || im.Checksum != 0xE0 || im.ChecksumOffset != 31 || im.Length != 32 || im.DataLength != 32 {
		t.Errorf("checksum %x valid %v at %d, length %d", im.Checksum, im.ChecksumValid, im.ChecksumOffset, im.Length)
	}
	if im.Extended != nil || im.SHA256 != nil || im.V2 != nil || len(im.Warnings) != 0 {
		t.Errorf("unexpected extras: %+v %v", im.Extended, im.Warnings)
	}
}

func TestParseV1FlashMappedSegment(t *testing.T) {
	b := newBuilder(t, ChipESP8266)
	b.Segments = []BuildSegment{
		{Addr: 0x3FFE8000, Data: []byte{1, 2, 3, 4}},
		{Addr: 0x40210000, Data: []byte{5, 6, 7, 8}},
	}
	im, err := Parse(mustBuild(t, b), ChipESP8266)
	if err != nil {
		t.Fatal(err)
	}
	if im.Segments[0].FlashMapped || !im.Segments[1].FlashMapped {
		t.Errorf("flash-mapped flags %v %v", im.Segments[0].FlashMapped, im.Segments[1].FlashMapped)
	}
	if len(im.Warnings) != 1 || !strings.Contains(im.Warnings[0], "irom0") {
		t.Errorf("warnings %q", im.Warnings)
	}
}

func TestParseV2(t *testing.T) {
	data := v2Vector(t)
	im, err := Parse(data, ChipESP8266)
	if err != nil {
		t.Fatal(err)
	}
	if im.Format != FormatESP8266V2 || im.Version != 2 || im.Magic != 0xEA {
		t.Fatalf("format %s version %d magic %x", im.Format, im.Version, im.Magic)
	}
	// irom0 first (20 bytes padded to 32, load address 0), then the two RAM
	// segments behind the second header at 8+8+32 = 48.
	if len(im.Segments) != 3 || im.SegmentCount != 2 || im.HeaderOffset != 48 {
		t.Fatalf("segments %d count %d header at %d", len(im.Segments), im.SegmentCount, im.HeaderOffset)
	}
	irom := im.Segments[0]
	if irom.LoadAddr != 0 || irom.Length != 32 || irom.InChecksum || !irom.FlashMapped {
		t.Errorf("irom %+v", irom)
	}
	if im.Segments[1].LoadAddr != 0x40100000 || im.Segments[2].LoadAddr != 0x3FFE8000 || im.Segments[1].Index != 1 {
		t.Errorf("RAM segments %+v", im.Segments[1:])
	}
	want := Checksum(ChecksumSeed, []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{0x10, 0x20, 0x30, 0x40})
	if !im.ChecksumValid || im.Checksum != want {
		t.Errorf("checksum %x want %x", im.Checksum, want)
	}
	if im.FlashModeName != "qio" || im.FlashSizeName != "4MB" || im.FlashFreqName != "80m" || im.Entry != 0x40100010 {
		t.Errorf("flash %s %s %s %x", im.FlashModeName, im.FlashSizeName, im.FlashFreqName, im.Entry)
	}
	v2 := im.V2
	if v2 == nil || !v2.CRCPresent || !v2.CRCValid || v2.FirstSegmentCount != 4 || v2.CRCOffset != len(data)-4 {
		t.Fatalf("v2 %+v", v2)
	}
	if uint32(v2.StoredCRC) != ESP8266CRC32(data[:len(data)-4]) || im.Length != len(data) {
		t.Errorf("crc %x length %d", v2.StoredCRC, im.Length)
	}
	if len(im.Warnings) != 0 {
		t.Errorf("warnings %q", im.Warnings)
	}

	// A broken CRC, a missing CRC and a disagreeing first header.
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	bad[3] = 0x00
	im, err = Parse(bad, ChipESP8266)
	if err != nil || im.V2.CRCValid || len(im.Warnings) != 1 {
		t.Errorf("bad CRC: %v %+v %q", err, im.V2, im.Warnings)
	}
	other := bytes.Clone(data)
	other[2], other[4] = 3, 0x11 // first header: mode and entry differ
	other = other[:len(other)-4]
	im, err = Parse(other, ChipESP8266)
	if err != nil || len(im.Warnings) != 3 || im.FlashMode != 0 || im.Entry != 0x40100010 || im.V2.FirstEntry != 0x40100011 {
		t.Errorf("disagreeing headers: %v %+v %q", err, im, im.Warnings)
	}
	im, err = Parse(data[:len(data)-4], ChipESP8266)
	if err != nil || im.V2.CRCPresent || im.Length != len(data)-4 || len(im.Warnings) != 1 {
		t.Errorf("no CRC: %v %+v %q", err, im.V2, im.Warnings)
	}
}

func TestParseESP32(t *testing.T) {
	for _, digest := range []bool{false, true} {
		data := esp32Vector(digest)
		im, err := Parse(data, ChipESP32)
		if err != nil {
			t.Fatal(err)
		}
		e := im.Extended
		if im.Format != FormatESP32 || e == nil || e.WPPin != 0xEE || e.ChipID != 0 || e.MaxRevFull != 0xFFFF || e.HashAppended != digest {
			t.Fatalf("ext %+v", e)
		}
		if im.FlashSizeName != "4MB" || im.Entry != 0x40080000 || !im.ChecksumValid || im.Checksum != 0xAB || im.DataLength != 48 {
			t.Errorf("header %+v", im)
		}
		s := im.Segments[0]
		if s.FileOffset != 24 || s.LoadAddr != 0x3FFB0000 || s.FlashMapped || strings.Join(s.MemoryTypes, ",") != "BYTE_ACCESSIBLE,DRAM" {
			t.Errorf("segment %+v", s)
		}
		if !digest {
			if im.SHA256 != nil || im.Length != 48 {
				t.Errorf("digest %+v length %d", im.SHA256, im.Length)
			}
			continue
		}
		want := sha256.Sum256(data[:48])
		if d := im.SHA256; d == nil || !d.Valid || !bytes.Equal(d.Computed, want[:]) || d.Offset != 48 || im.Length != 80 {
			t.Errorf("digest %+v length %d", im.SHA256, im.Length)
		}
	}
}

func TestParseESP32Fields(t *testing.T) {
	b := newBuilder(t, ChipESP32S3)
	b.Entry, b.FlashMode, b.FlashSize, b.FlashFreq = 0x40375000, "dout", "16MB", "80m"
	b.Ext.ClkDrv, b.Ext.QDrv, b.Ext.DDrv, b.Ext.CSDrv, b.Ext.HDDrv, b.Ext.WPDrv = 1, 2, 3, 0xF, 0, 7
	b.Ext.MinRev, b.Ext.MinRevFull, b.Ext.MaxRevFull = 1, 2, 199
	b.Segments = []BuildSegment{
		{Addr: 0x3C000020, Data: bytes.Repeat([]byte{0x42}, 64)},
		{Addr: 0x3FC88000, Data: []byte{9, 9, 9, 9}},
		{Addr: 0x42000020, Data: []byte{7, 7, 7, 7, 7, 7, 7, 7}},
	}
	data := mustBuild(t, b)
	im, err := Parse(data, ChipESP32S3)
	if err != nil {
		t.Fatal(err)
	}
	want := *b.Ext.encodeRoundTrip()
	if *im.Extended != want || im.Extended.ChipID != 9 {
		t.Errorf("ext %+v want %+v", *im.Extended, want)
	}
	if im.FlashMode != 3 || im.FlashSizeCode != 4 || im.FlashFreqCode != 0xF || im.Entry != 0x40375000 {
		t.Errorf("header %d %x %x %x", im.FlashMode, im.FlashSizeCode, im.FlashFreqCode, im.Entry)
	}
	mapped := []bool{true, false, true}
	for i, s := range im.Segments {
		if s.FlashMapped != mapped[i] || s.LoadAddr != Hex32(b.Segments[i].Addr) || !bytes.Equal(s.Data, b.Segments[i].Data) {
			t.Errorf("segment %d %+v", i, s)
		}
	}
	if !im.ChecksumValid || !im.SHA256.Valid || im.Length != len(data) || len(im.Warnings) != 0 {
		t.Errorf("footer %+v warnings %q", im, im.Warnings)
	}
	// Same bytes read as another chip: parses, with a chip ID warning.
	im, err = Parse(data, ChipESP32C3)
	if err != nil || len(im.Warnings) != 1 || !strings.Contains(im.Warnings[0], "ESP32-S3") {
		t.Errorf("as C3: %v %q", err, im.Warnings)
	}
}

// encodeRoundTrip returns what decoding the encoded header yields, i.e.
// the header with nibbles masked.
func (e ExtendedHeader) encodeRoundTrip() *ExtendedHeader {
	d := decodeExtHeader(e.encode())
	return &d
}

func TestParseErrors(t *testing.T) {
	v1 := v1Vector()
	e32 := esp32Vector(true)
	tooMany := bytes.Clone(v1)
	tooMany[1] = 17
	badFlag := bytes.Clone(e32)
	badFlag[23] = 2
	huge := append(bytes.Clone(v1[:16]), make([]byte, MaxSegmentLen+16)...)
	binary.LittleEndian.PutUint32(huge[12:], MaxSegmentLen)
	claims := bytes.Clone(v1)
	binary.LittleEndian.PutUint32(claims[12:], 0x40000000)
	twoSegs := bytes.Clone(v1[:20])
	twoSegs[1] = 2
	v2 := v2Vector(t)
	v2BadSecond := bytes.Clone(v2)
	v2BadSecond[48] = 0xE8
	v2Huge := bytes.Clone(v2)
	v2Huge[1] = 4
	v2Huge[48+1] = 16 // 16 RAM segments + irom0 = 17

	tests := []struct {
		name, chip string
		data       []byte
		want       string
	}{
		{"empty", "ESP8266", nil, "file is empty"},
		{"bad magic 8266", "ESP8266", append([]byte{0x00}, v1[1:]...), "byte 0 is 0x00"},
		{"bad magic esp32", "ESP32", append([]byte{0xEA}, e32[1:]...), "ESP8266 v2"},
		{"short header", "ESP8266", v1[:7], "header at file offset 0x0 needs 8 bytes"},
		{"short segment header", "ESP8266", v1[:12], "segment 0 header at file offset 0x8"},
		{"truncated data", "ESP8266", v1[:18], "claims 0x4 bytes but only 0x2 remain"},
		{"claims huge", "ESP8266", claims, "segment 0 at file offset 0x8 claims 0x40000000 bytes but only 0x10 remain: truncated or not an image"},
		{"16 MiB", "ESP8266", huge, "claims 0x1000000 bytes, over the 16 MiB limit"},
		{"no checksum", "ESP8266", v1[:31], "checksum byte expected at file offset 0x1f"},
		{"second segment missing", "ESP8266", twoSegs, "segment 1 header at file offset 0x14"},
		{"too many segments", "ESP8266", tooMany, "claims 17 segments"},
		{"short ext header", "ESP32", e32[:20], "extended header at file offset 0x8 needs 16 bytes"},
		{"digest flag 2", "ESP32", badFlag, "SHA-256 appended flag"},
		{"unknown chip", "ESP33", v1, "unknown chip"},
		{"v2 short", "ESP8266", v2[:5], "first header"},
		{"v2 truncated irom", "ESP8266", v2[:30], "segment 0 at file offset 0x8 claims 0x20 bytes"},
		{"v2 bad second magic", "ESP8266", v2BadSecond, "header at file offset 0x30 starts with 0xe8"},
		{"v2 too many", "ESP8266", v2Huge, "claims 17 segments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Parse(tc.data, tc.chip)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %+v, %v; want error containing %q", im, err, tc.want)
			}
		})
	}
}

func TestParseReportsOddities(t *testing.T) {
	// A flipped data byte: parses, checksum reported invalid.
	bad := v1Vector()
	bad[17] ^= 0x10
	im, err := Parse(bad, ChipESP8266)
	if err != nil || im.ChecksumValid || im.ComputedChecksum != 0xE0^0x10 || im.Checksum != 0xE0 {
		t.Errorf("checksum mismatch: %v %+v", err, im)
	}

	// A segment length that is not a multiple of 4 (esptool never writes
	// one): parses with a warning; the checksum moves along.
	odd := []byte{0xE9, 1, 0, 0, 0, 0, 0x10, 0x40, 0, 0, 0x10, 0x40, 3, 0, 0, 0, 0xAA, 0xBB, 0xCC}
	odd = append(odd, make([]byte, 12)...)
	odd = append(odd, 0xEF^0xAA^0xBB^0xCC)
	im, err = Parse(odd, ChipESP8266)
	if err != nil || !im.ChecksumValid || len(im.Warnings) != 1 || !strings.Contains(im.Warnings[0], "multiple of 4") {
		t.Errorf("odd length: %v %+v", err, im)
	}

	// A stale digest, a truncated digest and trailing bytes.
	e := esp32Vector(true)
	e[2] = 3
	im, err = Parse(e, ChipESP32)
	if err != nil || im.SHA256.Valid || !im.ChecksumValid {
		t.Errorf("stale digest: %v %+v", err, im.SHA256)
	}
	im, err = Parse(esp32Vector(true)[:60], ChipESP32)
	if err != nil || im.SHA256.Valid || len(im.SHA256.Stored) != 12 || im.Length != 60 || len(im.Warnings) != 1 {
		t.Errorf("truncated digest: %v %+v %q", err, im.SHA256, im.Warnings)
	}
	long := append(esp32Vector(false), 0xFF, 0xFF, 0xFF, 0xFF)
	im, err = Parse(long, ChipESP32)
	if err != nil || im.Length != 48 || im.FileSize != 52 {
		t.Errorf("trailing data: %v %+v", err, im)
	}

	// Invalid flash codes are reported through empty names.
	inv := v1Vector()
	inv[2], inv[3] = 7, 0x7A
	im, err = Parse(inv, ChipESP8266)
	if err != nil || im.FlashModeName != "" || im.FlashSizeName != "" || im.FlashFreqName != "" {
		t.Errorf("invalid codes: %v %+v", err, im)
	}
}

func TestRoundTripAllChips(t *testing.T) {
	for _, chip := range Chips() {
		t.Run(chip, func(t *testing.T) {
			b := newBuilder(t, chip)
			sizes, _ := FlashSizeNames(chip)
			freqs, _ := FlashFreqNames(chip)
			b.Entry, b.FlashMode, b.FlashSize, b.FlashFreq = 0x40001234, "dout", sizes[len(sizes)-1], freqs[len(freqs)-1]
			for i := range 5 {
				b.Segments = append(b.Segments, BuildSegment{Addr: 0x3FFE8000 + uint32(i)*0x100, Data: bytes.Repeat([]byte{byte(i + 1)}, 4*(i+1))})
			}
			data := mustBuild(t, b)
			im, err := Parse(data, chip)
			if err != nil {
				t.Fatal(err)
			}
			if im.FlashModeName != "dout" || im.FlashSizeName != b.FlashSize || im.FlashFreqName != b.FlashFreq || im.Entry != 0x40001234 {
				t.Errorf("flash %s %s %s", im.FlashModeName, im.FlashSizeName, im.FlashFreqName)
			}
			if len(im.Segments) != 5 || !im.ChecksumValid || im.Length != len(data) || len(data)%16 != 0 && im.SHA256 == nil {
				t.Errorf("segments %d checksum %v length %d/%d", len(im.Segments), im.ChecksumValid, im.Length, len(data))
			}
			for i, s := range im.Segments {
				if !bytes.Equal(s.Data, b.Segments[i].Data) || uint32(s.LoadAddr) != b.Segments[i].Addr {
					t.Errorf("segment %d differs", i)
				}
			}
			if chip != ChipESP8266 && (im.SHA256 == nil || !im.SHA256.Valid || im.Extended.ChipID != b.Ext.ChipID) {
				t.Errorf("ext %+v digest %+v", im.Extended, im.SHA256)
			}
		})
	}
}

func TestImageJSON(t *testing.T) {
	im, err := Parse(v2Vector(t), ChipESP8266)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"load_addr":"0x40100000"`, `"entry":"0x40100010"`, `"format":"esp8266-v2"`, `"crc_valid":true`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("JSON lacks %s: %s", want, out)
		}
	}
	var back Image
	if err := json.Unmarshal(out, &back); err != nil || back.Entry != im.Entry || back.V2.StoredCRC != im.V2.StoredCRC {
		t.Errorf("unmarshal: %v %+v", err, back)
	}
	im, _ = Parse(esp32Vector(true), ChipESP32)
	out, _ = json.Marshal(im)
	var back32 Image
	if err := json.Unmarshal(out, &back32); err != nil || !bytes.Equal(back32.SHA256.Stored, im.SHA256.Stored) {
		t.Errorf("digest JSON round trip: %v %s", err, out)
	}
}

func TestCheckTarget(t *testing.T) {
	mk := func(chip string, minRev byte, minFull, maxFull uint16) *Image {
		b := newBuilder(t, chip)
		b.Ext.MinRev, b.Ext.MinRevFull, b.Ext.MaxRevFull = minRev, minFull, maxFull
		im, err := Parse(mustBuild(t, b), chip)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	tests := []struct {
		name         string
		im           *Image
		chip         string
		major, minor int
		want         string
	}{
		{"default", mk("ESP32", 0, 0, 0xFFFF), "ESP32", 3, 1, ""},
		{"wrong chip", mk("ESP32-S3", 0, 0, 0xFFFF), "ESP32", 0, 0, "ESP32-S3 (chip ID 9), not ESP32"},
		{"below min", mk("ESP32", 0, 300, 0xFFFF), "ESP32", 1, 0, "[v3.0 - max rev not set] (this chip is revision v1.0)"},
		{"above max", mk("ESP32-C3", 0, 0, 199), "ESP32-C3", 2, 0, "v1.99]"},
		{"legacy major", mk("ESP32", 3, 0, 0xFFFF), "ESP32", 1, 0, "revision 3 or higher"},
		{"legacy ok", mk("ESP32", 1, 0, 0), "ESP32", 1, 0, ""},
		{"legacy C3 minor", mk("ESP32-C3", 3, 0, 0), "ESP32-C3", 9, 2, "revision 3 or higher (this chip is revision 2)"},
	}
	for _, tc := range tests {
		err := tc.im.CheckTarget(tc.chip, tc.major, tc.minor)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	im, _ := Parse(v1Vector(), ChipESP8266)
	if err := im.CheckTarget(ChipESP8266, 0, 0); err != nil {
		t.Errorf("ESP8266: %v", err)
	}
}

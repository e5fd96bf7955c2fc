package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"testing"
)

func fuzzSeeds(t testing.TB) [][]byte {
	s3 := newBuilder(t, ChipESP32S3)
	s3.Segments = []BuildSegment{{Addr: 0x42000020, Data: []byte{1, 2, 3, 4}}, {Addr: 0x3FC88000, Data: []byte{5, 6, 7, 8}}}
	return [][]byte{v1Vector(), v2Vector(t), esp32Vector(true), esp32Vector(false), mustBuild(t, s3), {0xE9}, {0xEA, 4}}
}

// checkParsed verifies what Parse reported against the raw bytes.
func checkParsed(t *testing.T, data []byte, im *Image) {
	t.Helper()
	if im.Length > len(data) || im.DataLength > im.Length || im.ChecksumOffset != im.DataLength-1 || im.FileSize != len(data) {
		t.Fatalf("lengths: data %d, image %d, data length %d, checksum at %d", len(data), im.Length, im.DataLength, im.ChecksumOffset)
	}
	if len(im.Segments) > MaxSegments {
		t.Fatalf("%d segments", len(im.Segments))
	}
	sum := byte(ChecksumSeed)
	for _, s := range im.Segments {
		end := s.DataOffset + int(s.Length)
		if s.DataOffset != s.FileOffset+8 || end > im.ChecksumOffset || s.Length >= MaxSegmentLen || !bytes.Equal(s.Data, data[s.DataOffset:end]) {
			t.Fatalf("segment %d out of place: %+v", s.Index, s)
		}
		if binary.LittleEndian.Uint32(data[s.FileOffset+4:]) != s.Length {
			t.Fatalf("segment %d length disagrees with its header", s.Index)
		}
		if s.InChecksum {
			sum = Checksum(sum, data[s.DataOffset:end])
		}
	}
	if sum != im.ComputedChecksum || (sum == data[im.ChecksumOffset]) != im.ChecksumValid || im.Checksum != data[im.ChecksumOffset] {
		t.Fatalf("checksum: rederived 0x%02x, reported 0x%02x valid %v, stored 0x%02x", sum, im.ComputedChecksum, im.ChecksumValid, data[im.ChecksumOffset])
	}
	if d := im.SHA256; d != nil {
		want := sha256.Sum256(data[:im.DataLength])
		stored := data[im.DataLength:min(len(data), im.DataLength+32)]
		if !bytes.Equal(d.Stored, stored) || d.Valid != bytes.Equal(stored, want[:]) {
			t.Fatalf("digest report wrong: %+v", d)
		}
	}
	if v := im.V2; v != nil && v.CRCPresent {
		want := ESP8266CRC32(data[:im.DataLength])
		if uint32(v.ComputedCRC) != want || v.CRCValid != (binary.LittleEndian.Uint32(data[im.DataLength:]) == want) {
			t.Fatalf("CRC report wrong: %+v", v)
		}
	}
	if err := im.Describe(io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(im); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for chip := range uint8(len(chipTable)) {
			f.Add(s, chip)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, chipIdx uint8) {
		chip := chipTable[int(chipIdx)%len(chipTable)].name
		orig := bytes.Clone(data)
		im, err := Parse(data, chip)
		if !bytes.Equal(data, orig) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if im != nil {
				t.Fatal("error with an image")
			}
			return
		}
		checkParsed(t, data, im)
	})
}

var (
	fuzzModes = []string{"keep", "", "qio", "qout", "dio", "DOUT", "fast"}
	fuzzSizes = []string{"keep", "detect", "1MB", "4MB", "512KB", "16MB", "2MB-c1", "128MB", "3MB"}
	fuzzFreqs = []string{"keep", "80m", "40m", "26m", "20m", "60m", "48m", "15m", "1m"}
	fuzzDet   = []string{"", "4MB", "8MB", "256KB", "32MB", "nonsense"}
	fuzzAddrs = []uint32{0x0, 0x1000, 0x2000, 0x8000, 0x10000}
)

func FuzzPatchFlashParams(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint8(0), uint8(0), uint8(2), uint8(3), uint8(1), uint8(0))
		f.Add(s, uint8(1), uint8(1), uint8(4), uint8(1), uint8(1), uint8(1))
		f.Add(s, uint8(3), uint8(0), uint8(0), uint8(0), uint8(3), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, chipIdx, addrIdx, modeIdx, sizeIdx, freqIdx, detIdx uint8) {
		chip := chipTable[int(chipIdx)%len(chipTable)].name
		addr := fuzzAddrs[int(addrIdx)%len(fuzzAddrs)]
		mode := fuzzModes[int(modeIdx)%len(fuzzModes)]
		size := fuzzSizes[int(sizeIdx)%len(fuzzSizes)]
		freq := fuzzFreqs[int(freqIdx)%len(fuzzFreqs)]
		det := fuzzDet[int(detIdx)%len(fuzzDet)]
		orig := bytes.Clone(data)
		out, changed, _, err := PatchFlashParams(data, chip, addr, mode, size, freq, det)
		if !bytes.Equal(data, orig) {
			t.Fatal("PatchFlashParams modified its input")
		}
		if err != nil {
			return
		}
		if len(out) != len(data) {
			t.Fatalf("output length %d, input %d", len(out), len(data))
		}
		if changed != !bytes.Equal(out, data) {
			t.Fatalf("changed = %v, but the bytes say otherwise", changed)
		}
		if !changed {
			return
		}
		bl, _ := BootloaderOffset(chip)
		if addr != bl {
			t.Fatalf("changed data written at 0x%x, bootloader offset 0x%x", addr, bl)
		}
		im, perr := Parse(data, chip)
		if perr != nil {
			t.Fatalf("changed data that does not parse: %v", perr)
		}
		for i := range out {
			if out[i] == data[i] || i == 2 || i == 3 {
				continue
			}
			if im.SHA256 == nil || i < im.SHA256.Offset || i >= im.SHA256.Offset+32 {
				t.Fatalf("byte %d changed outside bytes 2-3 and the digest", i)
			}
		}
		if after, err := Parse(out, chip); err != nil || (after.SHA256 != nil && len(after.SHA256.Stored) == 32 && !after.SHA256.Valid) {
			t.Fatalf("patched image: %v", err)
		}
	})
}

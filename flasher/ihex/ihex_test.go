package ihex

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// The specification's worked example (also Wikipedia's "Intel HEX"
// article): two 16-byte records at 0x0100 and 0x0110, then end of file.
const example = ":10010000214601360121470136007EFE09D2190140\n" +
	":100110002146017E17C20001FF5F16002148011928\n" +
	":00000001FF\n"

func TestParseExample(t *testing.T) {
	segs, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("214601360121470136007EFE09D21901" + "2146017E17C20001FF5F160021480119")
	if len(segs) != 1 || segs[0].Addr != 0x100 || !bytes.Equal(segs[0].Data, want) {
		t.Fatalf("%+v", segs)
	}
}

func TestRoundTripAndGaps(t *testing.T) {
	in := []Segment{
		{Addr: 0x1000, Data: bytes.Repeat([]byte{1, 2, 3}, 100)},
		{Addr: 0x8000, Data: []byte{9}},
		{Addr: 0xFFF8, Data: bytes.Repeat([]byte{7}, 40)}, // crosses a 64 KiB page
		{Addr: 0x3FF000, Data: bytes.Repeat([]byte{0xAB}, 4096)},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), ":00000001FF\n") || !strings.Contains(buf.String(), ":020000040001F9\n") {
		t.Fatalf("records:\n%s", buf.String())
	}
	out, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d segments, want %d (gaps split segments)", len(out), len(in))
	}
	for i := range in {
		if out[i].Addr != in[i].Addr || !bytes.Equal(out[i].Data, in[i].Data) {
			t.Fatalf("segment %d: 0x%X %d bytes", i, out[i].Addr, len(out[i].Data))
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		":10010000214601360121470136007EFE09D2190141\n:00000001FF\n": "line 1: checksum 41 is wrong (should be 40)",
		":10010000214601360121470136007EFE09D2190140\n":              "no end-of-file record",
		":0000000AF6\n:00000001FF\n":                                 "unknown record type 0A",
		":0100000001FE\n:0100000002FD\n:00000001FF\n":                "line 2: address 0x0 was already given data on line 1",
		":020000000102FB\n:0100010005F9\n:00000001FF\n":              "overlaps data given for 0x0..0x1",
		"hello\n":                      "line 1: record does not start with ':'",
		":00000001FF\n:0100000001FE\n": "data after the end-of-file record",
		":00000001FF\n":                "no data records",
		":0300000001FC\n:00000001FF\n": "says 3 data bytes but holds 1",
		":02000004FFFFFC\n:10FFF80000000000000000000000000000000000F9\n:00000001FF\n": "runs past 4 GiB",
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	var buf bytes.Buffer
	Write(&buf, []Segment{{Addr: 0xFFF0, Data: bytes.Repeat([]byte{5}, 64)}})
	f.Add(buf.Bytes())
	f.Add([]byte(":020000021000EC\n:0100000001FE\n:00000001FF\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		segs, err := Parse(in)
		if err != nil {
			return
		}
		// What parses writes back to the same segments.
		var out bytes.Buffer
		if err := Write(&out, segs); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out.Bytes())
		if err != nil || len(again) != len(segs) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range segs {
			if again[i].Addr != segs[i].Addr || !bytes.Equal(again[i].Data, segs[i].Data) {
				t.Fatalf("segment %d differs after a round trip", i)
			}
			if i > 0 && uint64(segs[i-1].Addr)+uint64(len(segs[i-1].Data)) >= uint64(segs[i].Addr) {
				t.Fatal("segments not sorted, overlapping or not merged")
			}
		}
	})
}

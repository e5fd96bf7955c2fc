package slip

import (
	"bytes"
	"errors"
	"testing"
)

func decodeAll(t testing.TB, wire []byte, chunk int) (frames [][]byte, junk []byte, errs []error) {
	var d Decoder
	for len(wire) > 0 {
		n := chunk
		if n <= 0 || n > len(wire) {
			n = len(wire)
		}
		d.Feed(wire[:n], func(it Item) {
			switch {
			case it.Err != nil:
				errs = append(errs, it.Err)
			case it.Junk != nil:
				junk = append(junk, it.Junk...)
			default:
				frames = append(frames, it.Frame)
			}
		})
		wire = wire[n:]
	}
	junk = append(junk, d.TakeJunk()...)
	return
}

// The doc's own example (esp-serial-protocol.md §2).
func TestEncodeKnownAnswer(t *testing.T) {
	got := Encode([]byte{0x01, 0xC0, 0x02, 0xDB, 0x03})
	want := []byte{0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode = % X, want % X", got, want)
	}
	if EncodedLen([]byte{0x01, 0xC0, 0x02, 0xDB, 0x03}) != len(want) {
		t.Fatal("EncodedLen disagrees with Encode")
	}
}

// A real ESP8266 ROM reply from the doc (§3.3).
func TestDecodeCapturedReply(t *testing.T) {
	wire := []byte{0xC0, 0x01, 0x0A, 0x02, 0x00, 0x01, 0xC1, 0xF0, 0xFF, 0x00, 0x00, 0xC0}
	frames, junk, errs := decodeAll(t, wire, 1)
	if len(frames) != 1 || len(junk) != 0 || len(errs) != 0 {
		t.Fatalf("frames=%d junk=%q errs=%v", len(frames), junk, errs)
	}
	if !bytes.Equal(frames[0], wire[1:len(wire)-1]) {
		t.Fatalf("frame = % X", frames[0])
	}
}

func TestDecodeJunkBackToBackAndBadEscape(t *testing.T) {
	var wire []byte
	wire = append(wire, []byte("\n ets Jan  8 2013,rst cause:2")...)
	wire = append(wire, Encode([]byte{1, 2, 3})...)
	wire = append(wire, Encode([]byte{4, 0xC0, 5})...) // back to back: C0 C0
	wire = append(wire, 0xC0, 9, 0xDB, 0x01, 8, 0xC0)  // bad escape
	wire = append(wire, Encode([]byte{6})...)
	for _, chunk := range []int{0, 1, 2, 7} {
		frames, junk, errs := decodeAll(t, wire, chunk)
		if string(junk) != "\n ets Jan  8 2013,rst cause:2" {
			t.Fatalf("chunk %d: junk %q", chunk, junk)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrBadEscape) {
			t.Fatalf("chunk %d: errs %v", chunk, errs)
		}
		want := [][]byte{{1, 2, 3}, {4, 0xC0, 5}, {6}}
		if len(frames) != len(want) {
			t.Fatalf("chunk %d: %d frames", chunk, len(frames))
		}
		for i := range want {
			if !bytes.Equal(frames[i], want[i]) {
				t.Fatalf("chunk %d: frame %d = % X", chunk, i, frames[i])
			}
		}
	}
}

func TestDecodeTooLong(t *testing.T) {
	d := Decoder{MaxFrame: 4}
	var errs []error
	var frames int
	d.Feed(append(Encode([]byte{1, 2, 3, 4, 5}), Encode([]byte{1})...), func(it Item) {
		if it.Err != nil {
			errs = append(errs, it.Err)
		} else if it.Junk == nil {
			frames++
		}
	})
	if len(errs) != 1 || !errors.Is(errs[0], ErrTooLong) || frames != 1 {
		t.Fatalf("errs=%v frames=%d", errs, frames)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0}, 3)
	f.Add([]byte("garbage\xc0\xdb\xc0\xc0"), 1)
	f.Fuzz(func(t *testing.T, wire []byte, chunk int) {
		if chunk < 0 {
			chunk = -chunk
		}
		frames, _, _ := decodeAll(t, wire, chunk%64)
		// Whatever was decoded must re-encode to something that decodes to
		// the same frames: the codec is its own inverse.
		var again []byte
		for _, fr := range frames {
			if len(fr) == 0 {
				t.Fatal("empty frame emitted")
			}
			again = append(again, Encode(fr)...)
		}
		back, junk, errs := decodeAll(t, again, 0)
		if len(junk) != 0 || len(errs) != 0 || len(back) != len(frames) {
			t.Fatalf("re-decode: %d frames junk=%q errs=%v", len(back), junk, errs)
		}
		for i := range frames {
			if !bytes.Equal(back[i], frames[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0xC0, 0xDB, 0x00})
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) == 0 {
			return
		}
		w := Encode(p)
		if len(w) != EncodedLen(p) {
			t.Fatal("EncodedLen mismatch")
		}
		if bytes.IndexByte(w[1:len(w)-1], End) >= 0 {
			t.Fatal("delimiter inside frame")
		}
		frames, junk, errs := decodeAll(t, w, 0)
		if len(frames) != 1 || len(junk) != 0 || len(errs) != 0 || !bytes.Equal(frames[0], p) {
			t.Fatalf("round trip failed: % X", p)
		}
	})
}

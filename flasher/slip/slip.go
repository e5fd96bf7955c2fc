// Package slip owns SLIP framing as the ESP serial bootloaders use it
// (esp-serial-protocol.md §2): every packet is wrapped in 0xC0 delimiters and
// 0xC0/0xDB inside it become 0xDB 0xDC / 0xDB 0xDD. Both the flasher and the
// virtual board frame their packets with this package, so the format is
// defined once; the known-answer tests pin it to the doc's example.
package slip

import (
	"errors"
	"fmt"
)

const (
	End    = 0xC0
	Esc    = 0xDB
	EscEnd = 0xDC
	EscEsc = 0xDD
)

// Encode returns p framed for the wire.
func Encode(p []byte) []byte {
	return AppendEncode(make([]byte, 0, len(p)+len(p)/64+2), p)
}

// AppendEncode appends the framed packet to dst.
func AppendEncode(dst, p []byte) []byte {
	dst = append(dst, End)
	for _, b := range p {
		switch b {
		case End:
			dst = append(dst, Esc, EscEnd)
		case Esc:
			dst = append(dst, Esc, EscEsc)
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, End)
}

// EncodedLen is the number of wire bytes Encode(p) produces; the flasher
// uses it to account for wire time.
func EncodedLen(p []byte) int {
	n := 2 + len(p)
	for _, b := range p {
		if b == End || b == Esc {
			n++
		}
	}
	return n
}

// ErrBadEscape reports 0xDB followed by something other than 0xDC/0xDD.
var ErrBadEscape = errors.New("slip: invalid escape sequence")

// ErrTooLong reports a frame longer than the decoder's limit.
var ErrTooLong = errors.New("slip: frame too long")

// Decoder turns a byte stream into frames. Bytes outside frames (boot text,
// line noise) are collected as junk instead of being fatal, because a
// flasher has to survive the ROM banner and a stale reply; the caller
// decides what junk means. A frame with a bad escape is dropped and
// reported, never delivered half-decoded.
type Decoder struct {
	// MaxFrame bounds a frame's decoded length (0 = 1 MiB) so that a stream
	// of garbage without delimiters cannot grow memory without bound.
	MaxFrame int

	inFrame bool
	escaped bool
	bad     error
	buf     []byte
	junk    []byte
}

// Item is one thing the decoder found in the stream.
type Item struct {
	Frame []byte // a complete decoded frame (may be empty for "C0 C0")
	Junk  []byte // bytes seen outside any frame
	Err   error  // a frame that was dropped, and why
}

// Feed consumes p and calls emit for every complete frame, junk run (emitted
// when a frame starts, so junk stays in order with frames) and dropped frame.
func (d *Decoder) Feed(p []byte, emit func(Item)) {
	max := d.MaxFrame
	if max <= 0 {
		max = 1 << 20
	}
	for _, b := range p {
		if !d.inFrame {
			if b == End {
				if len(d.junk) > 0 {
					emit(Item{Junk: d.junk})
					d.junk = nil
				}
				d.inFrame = true
				d.buf = d.buf[:0]
				d.escaped = false
				d.bad = nil
				continue
			}
			if len(d.junk) < max {
				d.junk = append(d.junk, b)
			}
			continue
		}
		if b == End {
			if d.escaped && d.bad == nil {
				d.bad = ErrBadEscape
			}
			switch {
			case d.bad != nil:
				emit(Item{Err: fmt.Errorf("%w (frame of %d bytes dropped)", d.bad, len(d.buf))})
				// The delimiter that ended a broken frame may really be the
				// start of the next one (a lost byte merged two frames), so
				// stay inside a frame.
				d.buf = d.buf[:0]
				d.escaped = false
				d.bad = nil
			case len(d.buf) == 0:
				// "C0 C0" between back-to-back frames: the second delimiter
				// opens the next frame.
			default:
				frame := make([]byte, len(d.buf))
				copy(frame, d.buf)
				emit(Item{Frame: frame})
				d.inFrame = false
				d.buf = d.buf[:0]
			}
			continue
		}
		if d.bad != nil {
			continue
		}
		if d.escaped {
			d.escaped = false
			switch b {
			case EscEnd:
				b = End
			case EscEsc:
				b = Esc
			default:
				d.bad = ErrBadEscape
				continue
			}
		} else if b == Esc {
			d.escaped = true
			continue
		}
		if len(d.buf) >= max {
			d.bad = ErrTooLong
			continue
		}
		d.buf = append(d.buf, b)
	}
}

// Pending reports whether the decoder is inside a frame (bytes of an
// unfinished frame are buffered) — used to tell "nothing received" from
// "a reply was cut off" in timeout messages.
func (d *Decoder) Pending() int {
	if !d.inFrame {
		return 0
	}
	return len(d.buf) + 1
}

// TakeJunk returns and clears junk collected since the last frame.
func (d *Decoder) TakeJunk() []byte {
	j := d.junk
	d.junk = nil
	return j
}

// Reset forgets any partial frame and junk.
func (d *Decoder) Reset() {
	d.inFrame, d.escaped, d.bad = false, false, nil
	d.buf = d.buf[:0]
	d.junk = nil
}

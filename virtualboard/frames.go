package virtualboard

import (
	"context"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/slip"
)

// frames reads SLIP frames the chip's UART receives. The ESP ROM loaders
// auto-detect the host's baud from a SYNC's 0x55 run (§6.3); a stub does
// not, it keeps the rate it was told.
type frames struct {
	b        *Board
	dec      slip.Decoder
	q        [][]byte
	buf      []byte
	autobaud bool
}

func newFrames(b *Board, autobaud bool) *frames {
	f := &frames{b: b, buf: make([]byte, 4096), autobaud: autobaud}
	f.dec.MaxFrame = 0x4000 + 64
	return f
}

func (f *frames) rx() rxState {
	st := rxState{baud: f.b.baud}
	if f.autobaud {
		st.autobaud = func(nb int) bool {
			if f.b.baud() != nb {
				f.b.logf("ROM auto-detected %d baud", nb)
			}
			f.b.setBaud(nb)
			return true
		}
	}
	return st
}

// next blocks until a frame arrives (or ctx ends).
func (f *frames) next(ctx context.Context) ([]byte, error) {
	for len(f.q) == 0 {
		n, err := f.b.toChip.recv(ctx, f.buf, f.rx(), -1)
		if err != nil {
			return nil, err
		}
		f.dec.Feed(f.buf[:n], func(it slip.Item) {
			if it.Frame != nil {
				f.q = append(f.q, it.Frame)
			}
		})
	}
	fr := f.q[0]
	f.q = f.q[1:]
	return fr, nil
}

// send frames a packet and transmits it.
func (b *Board) sendFrame(p []byte) { b.transmit(slip.Encode(p)) }

// reply sends a response whose data is result followed by status bytes.
func (b *Board) reply(op byte, value uint32, result []byte, status []byte) {
	data := append(append([]byte(nil), result...), status...)
	b.sendFrame(flasher.EncodeResponse(op, value, data))
}

package rfc2217

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// ev is an Event with its data copied (Event.Data does not outlive the
// callback) and consecutive data merged, so decodings of the same stream
// cut into different chunks compare equal.
type ev struct {
	kind     EventKind
	cmd, opt byte
	data     string
	err      error
}

func (e ev) String() string {
	return fmt.Sprintf("{%d cmd=%d opt=%d data=%q err=%v}", e.kind, e.cmd, e.opt, e.data, e.err)
}

func decodeChunks(t *testing.T, chunks [][]byte) []ev {
	t.Helper()
	var d Decoder
	var out []ev
	for _, c := range chunks {
		d.Feed(c, func(e Event) {
			if e.Kind == EventData && len(e.Data) == 0 {
				t.Fatalf("empty data event")
			}
			if e.Kind == EventData && len(out) > 0 && out[len(out)-1].kind == EventData {
				out[len(out)-1].data += string(e.Data)
				return
			}
			out = append(out, ev{kind: e.Kind, cmd: e.Cmd, opt: e.Option, data: string(e.Data), err: e.Err})
		})
		if len(d.sb) > MaxSubnegotiation || cap(d.sb) > MaxSubnegotiation {
			t.Fatalf("subnegotiation buffer grew to len %d cap %d", len(d.sb), cap(d.sb))
		}
	}
	return out
}

func TestDecoder(t *testing.T) {
	long := append([]byte{IAC, SB, OptComPort}, bytes.Repeat([]byte{'x'}, MaxSubnegotiation+10)...)
	long = append(long, IAC, SE, 'z')
	tests := []struct {
		name string
		in   []byte
		want []ev
	}{
		{"plain", []byte("hello"), []ev{{kind: EventData, data: "hello"}}},
		{"escaped IAC", []byte{'a', IAC, IAC, 'b'}, []ev{{kind: EventData, data: "a\xffb"}}},
		{"negotiation", []byte{'a', IAC, DO, OptComPort, 'b'}, []ev{
			{kind: EventData, data: "a"}, {kind: EventNegotiation, cmd: DO, opt: OptComPort}, {kind: EventData, data: "b"}}},
		{"subnegotiation", []byte{IAC, SB, OptComPort, 101, 0, 0, IAC, IAC, 1, IAC, SE}, []ev{
			{kind: EventSubnegotiation, opt: OptComPort, data: "\x65\x00\x00\xff\x01"}}},
		{"command", []byte{IAC, NOP, 'x'}, []ev{{kind: EventCommand, cmd: NOP}, {kind: EventData, data: "x"}}},
		{"empty sb", []byte{IAC, SB, IAC, SE}, []ev{{kind: EventError, err: ErrBadSubnegotiation}}},
		{"sb cut by command", []byte{IAC, SB, OptComPort, 1, IAC, WILL, OptSGA, 'q'}, []ev{
			{kind: EventError, err: ErrBadSubnegotiation}, {kind: EventNegotiation, cmd: WILL, opt: OptSGA}, {kind: EventData, data: "q"}}},
		{"too long", long, []ev{{kind: EventError, err: ErrSubnegotiationTooLong}, {kind: EventData, data: "z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and byte by byte: chunk boundaries must not matter.
			for _, chunks := range [][][]byte{{tt.in}, splitEvery(tt.in, 1)} {
				got := decodeChunks(t, chunks)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("chunks of %d: got %v, want %v", len(chunks[0]), got, tt.want)
				}
			}
		})
	}
}

func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// splitBy cuts b into chunks whose lengths come from cuts (0..7 bytes
// each, so empty chunks and IAC sequences split at every position occur).
func splitBy(b, cuts []byte) [][]byte {
	var out [][]byte
	for _, c := range cuts {
		n := min(int(c%8), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// encode turns decoded events back into a Telnet stream.
func encode(evs []ev) []byte {
	var b []byte
	for _, e := range evs {
		switch e.kind {
		case EventData:
			b = AppendEscaped(b, []byte(e.data))
		case EventCommand:
			b = append(b, IAC, e.cmd)
		case EventNegotiation:
			b = AppendNegotiation(b, e.cmd, e.opt)
		case EventSubnegotiation:
			b = append(b, IAC, SB)
			b = AppendEscaped(b, append([]byte{e.opt}, e.data...))
			b = append(b, IAC, SE)
		}
	}
	return b
}

func withoutErrors(evs []ev) []ev {
	var out []ev
	for _, e := range evs {
		if e.kind == EventError {
			continue
		}
		if e.kind == EventData && len(out) > 0 && out[len(out)-1].kind == EventData {
			out[len(out)-1].data += e.data
			continue
		}
		out = append(out, e)
	}
	return out
}

func dataOf(evs []ev) string {
	var s string
	for _, e := range evs {
		if e.kind == EventData {
			s += e.data
		}
	}
	return s
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte("plain text"), []byte{3, 1})
	f.Add([]byte{'a', IAC, IAC, 'b', IAC, DO, OptComPort}, []byte{1, 1, 1, 1, 1})
	f.Add(AppendComPortOption(nil, CmdSetBaudRate, be32(0xffffff00)), []byte{2, 5, 0, 7})
	f.Add([]byte{IAC, SB, IAC, IAC, IAC, SE, IAC}, []byte{1, 2})
	f.Add(append([]byte{IAC, SB}, bytes.Repeat([]byte{IAC, IAC}, 200)...), []byte{7, 7, 7})
	f.Add([]byte{IAC, SB, 1, IAC, SB, 2, IAC, SE, IAC, SE}, []byte{})
	f.Fuzz(func(t *testing.T, input, cuts []byte) {
		whole := decodeChunks(t, [][]byte{input})
		split := decodeChunks(t, splitBy(input, cuts))
		if fmt.Sprint(whole) != fmt.Sprint(split) {
			t.Fatalf("chunking changed the result:\nwhole %v\nsplit %v", whole, split)
		}
		if !bytes.Contains(input, []byte{IAC}) {
			if len(input) > 0 && (len(whole) != 1 || whole[0].kind != EventData || whole[0].data != string(input)) {
				t.Fatalf("input without IAC decoded to %v", whole)
			}
		}
		for _, e := range whole {
			if e.kind == EventError && !errors.Is(e.err, ErrBadSubnegotiation) && !errors.Is(e.err, ErrSubnegotiationTooLong) {
				t.Fatalf("unexpected error %v", e.err)
			}
		}

		// Escaping the decoded data and decoding it again gives it back.
		data := dataOf(whole)
		again := decodeChunks(t, splitBy(AppendEscaped(nil, []byte(data)), cuts))
		if dataOf(again) != data || len(again) > 1 {
			t.Fatalf("data round trip: %q became %v", data, again)
		}

		// Re-encoding every well-formed event reproduces them.
		clean := withoutErrors(whole)
		re := withoutErrors(decodeChunks(t, splitBy(encode(clean), cuts)))
		if fmt.Sprint(re) != fmt.Sprint(clean) {
			t.Fatalf("event round trip:\nwant %v\ngot  %v", clean, re)
		}
	})
}

func TestAppendComPortOptionEscapesValue(t *testing.T) {
	got := AppendComPortOption(nil, CmdSetBaudRate, []byte{0, 0x01, 0xff, 0x00})
	want := []byte{IAC, SB, OptComPort, CmdSetBaudRate, 0, 1, IAC, IAC, 0, IAC, SE}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

// TestNegotiatorNoLoop checks that unwanted requests are refused once and
// that agreement to our own request is not answered (both loop sources).
func TestNegotiatorNoLoop(t *testing.T) {
	n := negotiator{
		acceptUs:  func(opt byte) bool { return opt == OptBinary },
		acceptHim: func(opt byte) bool { return opt == OptBinary },
	}
	if got := n.receive(nil, WILL, OptEcho); !bytes.Equal(got, []byte{IAC, DONT, OptEcho}) {
		t.Fatalf("first WILL ECHO answered % x", got)
	}
	if got := n.receive(nil, WILL, OptEcho); got != nil {
		t.Fatalf("repeated WILL ECHO answered % x", got)
	}
	if got := n.receive(nil, DO, 99); !bytes.Equal(got, []byte{IAC, WONT, 99}) {
		t.Fatalf("DO 99 answered % x", got)
	}
	if got := n.receive(nil, DO, 99); got != nil {
		t.Fatalf("repeated DO 99 answered % x", got)
	}
	req := n.offer(nil, OptBinary)
	if got := n.receive(req[:0], DO, OptBinary); len(got) != 0 {
		t.Fatalf("agreement to our WILL answered % x", got)
	}
	if got := n.receive(nil, DO, OptBinary); got != nil {
		t.Fatalf("repeated DO BINARY answered % x", got)
	}
	n.request(nil, OptComPort)
	if n.receive(nil, WONT, OptComPort); n.him[OptComPort] != optNo {
		t.Fatalf("refused request still pending")
	}
	n.offer(nil, OptComPort)
	if n.receive(nil, DONT, OptComPort); !n.peerRefusedUs[OptComPort] {
		t.Fatalf("DONT to our WILL not recorded")
	}
}

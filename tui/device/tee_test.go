package device

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
)

// scriptPort hands out its reads one chunk at a time and records writes.
type scriptPort struct {
	reads  [][]byte
	writes [][]byte
	baud   int
}

func (p *scriptPort) Read(b []byte) (int, error) {
	if len(p.reads) == 0 {
		return 0, nil
	}
	n := copy(b, p.reads[0])
	if n < len(p.reads[0]) {
		p.reads[0] = p.reads[0][n:]
	} else {
		p.reads = p.reads[1:]
	}
	return n, nil
}
func (p *scriptPort) Write(b []byte) (int, error) {
	p.writes = append(p.writes, append([]byte(nil), b...))
	return len(b), nil
}
func (p *scriptPort) SetReadTimeout(time.Duration) error { return nil }
func (p *scriptPort) SetBaudRate(b int) error            { p.baud = b; return nil }
func (p *scriptPort) BaudRate() int                      { return p.baud }
func (p *scriptPort) SetDTR(bool) error                  { return nil }
func (p *scriptPort) SetRTS(bool) error                  { return nil }
func (p *scriptPort) ResetInputBuffer() error            { return nil }
func (p *scriptPort) Close() error                       { return nil }

// pairPort has the one-operation DTR/RTS change, USB IDs and is remote.
type pairPort struct {
	scriptPort
	pairs [][2]bool
}

func (p *pairPort) SetDTRRTS(dtr, rts bool) error {
	p.pairs = append(p.pairs, [2]bool{dtr, rts})
	return nil
}
func (p *pairPort) USBIDs() (vid, pid uint16, ok bool) { return 0x303a, 0x1001, true }
func (p *pairPort) IsRemote() bool                     { return true }

type lineSink struct {
	mu    sync.Mutex
	items []serialmon.Item
}

func (s *lineSink) emit(it serialmon.Item) {
	s.mu.Lock()
	s.items = append(s.items, it)
	s.mu.Unlock()
}

func (s *lineSink) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, it := range s.items {
		out = append(out, it.Text)
	}
	return out
}

func drain(t *testing.T, p flasher.Port, n int) {
	t.Helper()
	buf := make([]byte, 7) // small reads split lines across calls
	for i := 0; i < n; i++ {
		if _, err := p.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// The tee copies the boot log into monitor lines: lines split across
// reads are joined, CR LF and LF both end a line, nothing is copied
// before start, and the first write (the loader talking) flushes the
// partial line and stops the copy, since SLIP frames are no log.
func TestTeePortLines(t *testing.T) {
	sp := &scriptPort{baud: 74880, reads: [][]byte{
		[]byte("before start\n"),
		[]byte("ets Jan  8 2013,rst cau"), []byte("se:2, boot mode:(3,6)\r\n"),
		[]byte("\r\n#IB boot app=x\npartial"),
		[]byte("\xc0\x01\x08after the write\n"),
	}}
	var sink lineSink
	tee := newTeePort(sp, sink.emit)
	p := tee.port()
	if _, paired := p.(flasher.LinePairSetter); paired {
		t.Fatal("a port without SetDTRRTS must not gain one through the tee")
	}
	drain(t, p, 2) // "before start\n" in two reads, not copied
	tee.start()
	drain(t, p, 12)
	if _, err := p.Write([]byte{0xc0}); err != nil {
		t.Fatal(err)
	}
	drain(t, p, 4)
	tee.stop()
	got := strings.Join(sink.texts(), "|")
	want := "ets Jan  8 2013,rst cause:2, boot mode:(3,6)||#IB boot app=x|partial"
	if got != want {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for _, it := range sink.items {
		if it.Baud != 74880 || it.Kind != serialmon.ItemLine || it.Time.IsZero() {
			t.Errorf("item %+v", it)
		}
	}
	if len(sp.writes) != 1 {
		t.Errorf("writes %q", sp.writes)
	}
}

// A line without an end is cut at 64 KiB, so a board printing garbage
// without newlines cannot grow the buffer without bound.
func TestTeePortLongLine(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 1000))
	sp := &scriptPort{baud: 115200}
	for i := 0; i < 70; i++ {
		sp.reads = append(sp.reads, chunk)
	}
	var sink lineSink
	tee := newTeePort(sp, sink.emit)
	tee.start()
	buf := make([]byte, 1000)
	for i := 0; i < 70; i++ {
		tee.Read(buf)
	}
	tee.stop()
	texts := sink.texts()
	if len(texts) != 2 || len(texts[0]) <= 64<<10 || len(texts[0]) > 64<<10+1000 || len(texts[0])+len(texts[1]) != 70_000 {
		t.Fatalf("%d lines of %v bytes", len(texts), func() []int {
			var n []int
			for _, s := range texts {
				n = append(n, len(s))
			}
			return n
		}())
	}
}

// Through the tee the flasher still sees what the port underneath can
// do: its reset strategy is picked by the one-operation DTR/RTS change,
// the USB IDs (0x1001: the chip's own USB-JTAG-serial) and remoteness.
func TestTeePortKeepsPortAbilities(t *testing.T) {
	pp := &pairPort{}
	tee := newTeePort(pp, func(serialmon.Item) {})
	p := tee.port()
	ls, ok := p.(flasher.LinePairSetter)
	if !ok {
		t.Fatal("SetDTRRTS is lost through the tee")
	}
	ls.SetDTRRTS(true, false)
	if len(pp.pairs) != 1 || pp.pairs[0] != [2]bool{true, false} {
		t.Errorf("pairs %v", pp.pairs)
	}
	if vid, pid, ok := p.(flasher.USBPort).USBIDs(); !ok || vid != 0x303a || pid != 0x1001 {
		t.Errorf("USB IDs %04x:%04x %v", vid, pid, ok)
	}
	if !p.(flasher.RemotePort).IsRemote() {
		t.Error("remoteness is lost through the tee")
	}
	plain := newTeePort(&scriptPort{}, func(serialmon.Item) {})
	if _, _, ok := plain.USBIDs(); ok || plain.IsRemote() {
		t.Error("a plain port gains USB IDs or remoteness through the tee")
	}
}

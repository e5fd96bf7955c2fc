package serialmon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/virtualboard"
)

// tickApp stands for a sketch: Serial.begin(115200) after the SDK's start
// up, then one numbered line every 20 ms of board time.
func tickApp(ctx context.Context, env *virtualboard.AppEnv) {
	// Start-up before setup() prints (SDK init, Serial.begin, a delay):
	// 500 ms of board time is 100 ms of real time at ×5, room for the
	// session to leave the ROM's 74880 on a loaded machine.
	if env.Sleep(ctx, 500*time.Millisecond) != nil {
		return
	}
	env.Begin(115200)
	for i := 0; ; i++ {
		env.Printf("tick %d\r\n", i)
		if env.Sleep(ctx, 20*time.Millisecond) != nil {
			return
		}
	}
}

func bootableBoard(t *testing.T, speed float64) *virtualboard.Board {
	t.Helper()
	b, err := virtualboard.New(virtualboard.Config{Speed: speed, App: tickApp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	bl, _ := image.NewBuilder(image.ChipESP8266)
	bl.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 256)}}
	img, err := bl.Build()
	if err != nil {
		t.Fatal(err)
	}
	b.Flash().Load(0, img)
	return b
}

type collected struct {
	items []serialmon.Item
}

func (c *collected) until(t *testing.T, s *serialmon.Session, pred func(serialmon.Item) bool, d time.Duration) serialmon.Item {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case it, ok := <-s.Items():
			if !ok {
				t.Fatal("session ended")
			}
			c.items = append(c.items, it)
			if pred(it) {
				return it
			}
		case <-timeout:
			var lines []string
			for _, it := range c.items {
				lines = append(lines, fmt.Sprintf("%d %q", it.Kind, it.Text))
			}
			t.Fatalf("timed out; got:\n%s", strings.Join(lines, "\n"))
		}
	}
}

func isLine(prefix string) func(serialmon.Item) bool {
	return func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemLine && strings.Contains(it.Text, prefix)
	}
}

// A reset (a pty open resets the virtual board) shows the ROM banner read
// at 74880, then the application's lines at 115200; unplugging the board
// (closing its pty) and plugging it back (a new pty at the same path) is
// reported and the session picks the board up again, losing nothing sent
// after the reconnect.
func TestSessionBootBaudAndReconnect(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("virtual board ptys are Linux-only")
	}
	b := bootableBoard(t, 5)
	link := filepath.Join(t.TempDir(), "ttyVB0")
	pty, err := b.ServePTYWith(virtualboard.PTYOptions{Boot: virtualboard.OpenBootFlash, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	s, err := serialmon.StartSession(context.Background(), serialmon.SessionOptions{Port: link, Baud: 115200, BootBaud: 74880, ReconnectPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &collected{}
	banner := c.until(t, s, isLine("ets Jan  8 2013,rst cause:2, boot mode:(3,6)"), 5*time.Second)
	if banner.Baud != 74880 {
		t.Fatalf("banner read at %d baud", banner.Baud)
	}
	c.until(t, s, isLine("csum 0x"), 5*time.Second)
	tick := c.until(t, s, isLine("tick 2"), 5*time.Second)
	if tick.Baud != 115200 || tick.Text != "tick 2" {
		t.Fatalf("app line %q at %d baud", tick.Text, tick.Baud)
	}

	// Unplug.
	start := time.Now()
	pty.Close()
	c.until(t, s, func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemStatus && strings.Contains(it.Text, "went away")
	}, 5*time.Second)
	// Plug back in: same path, new pty.
	pty2, err := b.ServePTYWith(virtualboard.PTYOptions{Boot: virtualboard.OpenBootFlash, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer pty2.Close()
	c.until(t, s, func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemStatus && strings.Contains(it.Text, "reconnected")
	}, 5*time.Second)
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("reconnect took %v", el)
	}
	// After the reconnect the board boots again (its ROM banner, then its
	// ticks from 0): every tick must arrive, none lost.
	c.until(t, s, isLine("boot mode:(3,6)"), 5*time.Second)
	c.items = nil
	c.until(t, s, isLine("tick 20"), 10*time.Second)
	next := 0
	for _, it := range c.items {
		if it.Kind != serialmon.ItemLine || !strings.HasPrefix(it.Text, "tick ") {
			continue
		}
		if it.Text != fmt.Sprintf("tick %d", next) {
			for _, x := range c.items {
				t.Logf("%d %d %q", x.Kind, x.Baud, x.Text)
			}
			t.Fatalf("after reconnect: got %q, want tick %d", it.Text, next)
		}
		next++
	}
	if dropped := b.Dropped(); dropped != 0 {
		t.Fatalf("board dropped %d bytes", dropped)
	}
}

// Over RFC 2217 the session resets the board itself (DTR/RTS) and follows
// the ROM output into the application.
func TestSessionResetOverRFC2217(t *testing.T) {
	b := bootableBoard(t, 5)
	srv, err := b.ServeRFC2217("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := serialmon.StartSession(context.Background(), serialmon.SessionOptions{Port: srv.URL(), Baud: 115200, BootBaud: 74880})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &collected{}
	time.Sleep(400 * time.Millisecond)
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	c.until(t, s, isLine("rst cause:2, boot mode:(3,6)"), 5*time.Second)
	c.until(t, s, isLine("tick 1"), 5*time.Second)
	if err := s.ResetToBootloader(); err != nil {
		t.Fatal(err)
	}
	c.until(t, s, isLine("boot mode:(1,6)"), 5*time.Second)
}

// Partial lines are shown after an idle time and completed later; pause
// holds lines back without losing them.
func TestSessionPartialLinesAndPause(t *testing.T) {
	app := func(ctx context.Context, env *virtualboard.AppEnv) {
		env.Sleep(ctx, 100*time.Millisecond) // eboot and the SDK start up
		env.Begin(115200)
		env.Print("password: ")
		env.Sleep(ctx, 300*time.Millisecond)
		env.Print("ok\r\n")
		for i := 0; i < 5; i++ {
			env.Sleep(ctx, 50*time.Millisecond)
			env.Printf("line %d\n", i)
		}
	}
	b, err := virtualboard.New(virtualboard.Config{Speed: 1, App: app})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bl, _ := image.NewBuilder(image.ChipESP8266)
	bl.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 16)}}
	img, _ := bl.Build()
	b.Flash().Load(0, img)
	open := func(ctx context.Context, spec string, baud int) (flasher.Port, error) {
		p, err := b.Port()
		if err != nil {
			return nil, err
		}
		p.SetBaudRate(baud)
		return p, nil
	}
	s, err := serialmon.StartSession(context.Background(), serialmon.SessionOptions{Port: "virtual", Baud: 115200, BootBaud: 74880, OpenPort: open, ListPorts: func() ([]serialmon.PortInfo, error) { return nil, nil }, IdleFlush: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	c := &collected{}
	part := c.until(t, s, func(it serialmon.Item) bool { return it.Kind == serialmon.ItemPartial }, 3*time.Second)
	if part.Text != "password: " {
		t.Fatalf("partial %q", part.Text)
	}
	full := c.until(t, s, isLine("ok"), 3*time.Second)
	if full.Text != "password: ok" || full.PartialLen != len("password: ") {
		t.Fatalf("line %q partial %d", full.Text, full.PartialLen)
	}
	s.SetPaused(true)
	c.until(t, s, func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemStatus && strings.Contains(it.Text, "paused")
	}, time.Second)
	time.Sleep(400 * time.Millisecond) // lines 0..4 arrive while paused
	select {
	case it := <-s.Items():
		if it.Kind == serialmon.ItemLine {
			t.Fatalf("line %q shown while paused", it.Text)
		}
	default:
	}
	s.SetPaused(false)
	c.items = nil
	c.until(t, s, isLine("line 4"), 3*time.Second)
	var got []string
	for _, it := range c.items {
		if it.Kind == serialmon.ItemLine {
			got = append(got, it.Text)
		}
	}
	if strings.Join(got, ",") != "line 0,line 1,line 2,line 3,line 4" {
		t.Fatalf("after resume: %v", got)
	}
}

// A USB board that comes back under another name (ttyUSB0 → ttyUSB1) is
// found again by its serial number.
func TestSessionReconnectsBySerialNumber(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("virtual board ptys are Linux-only")
	}
	b := bootableBoard(t, 5)
	pty, err := b.ServePTYWith(virtualboard.PTYOptions{Boot: virtualboard.OpenBootFlash})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	current := pty.Path()
	list := func() ([]serialmon.PortInfo, error) {
		mu.Lock()
		defer mu.Unlock()
		if current == "" {
			return nil, nil
		}
		return []serialmon.PortInfo{{Path: current, IsUSB: true, VID: 0x10C4, PID: 0xEA60, SerialNumber: "0001-VB"}}, nil
	}
	s, err := serialmon.StartSession(context.Background(), serialmon.SessionOptions{Port: pty.Path(), Baud: 115200, BootBaud: 74880, ListPorts: list, ReconnectPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &collected{}
	c.until(t, s, isLine("tick 1"), 5*time.Second)
	mu.Lock()
	current = ""
	mu.Unlock()
	pty.Close()
	c.until(t, s, func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemStatus && strings.Contains(it.Text, "went away")
	}, 5*time.Second)
	pty2, err := b.ServePTYWith(virtualboard.PTYOptions{Boot: virtualboard.OpenBootFlash})
	if err != nil {
		t.Fatal(err)
	}
	defer pty2.Close()
	mu.Lock()
	current = pty2.Path()
	mu.Unlock()
	st := c.until(t, s, func(it serialmon.Item) bool {
		return it.Kind == serialmon.ItemStatus && strings.Contains(it.Text, "reconnected")
	}, 5*time.Second)
	if !strings.Contains(st.Text, pty2.Path()) {
		t.Fatalf("reconnected to the wrong port: %q (board is at %s)", st.Text, pty2.Path())
	}
	c.until(t, s, isLine("tick 1"), 5*time.Second)
}

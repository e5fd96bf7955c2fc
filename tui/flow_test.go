package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
	"github.com/iotbench/iotbench/virtualboard"
)

// probe wraps the application for teatest: after every message it keeps
// the screen as text and wakes whoever waits for it, so tests synchronise
// on what the user would see, with a deadline, never on sleeps.
type probe struct {
	*Model
	mu       sync.Mutex
	screen   string
	timeline string // every timeline entry's text, one a line
	wake     chan struct{}
}

func (p *probe) Init() tea.Cmd { return p.Model.Init() }

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	s := ansi.Strip(p.Model.render())
	var tl strings.Builder
	for _, e := range p.Model.timeline.Entries() {
		tl.WriteString(e.Text + "\n")
	}
	p.mu.Lock()
	p.screen, p.timeline = s, tl.String()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return p, cmd
}

func (p *probe) View() tea.View { return p.Model.View() }

func (p *probe) current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen
}

// events waits until the timeline holds at least n entries containing text.
func (p *probe) events(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		tl := p.timeline
		p.mu.Unlock()
		if strings.Count(tl, text) >= n {
			return
		}
		select {
		case <-p.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %d timeline entries with %q; timeline:\n%s", n, text, tl)
		}
	}
}

// waitFor waits until the screen satisfies cond.
func (p *probe) waitFor(t *testing.T, what string, cond func(screen string) bool) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		s := p.current()
		if cond(s) {
			return s
		}
		select {
		case <-p.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
	}
}

func (p *probe) waitText(t *testing.T, text string) string {
	t.Helper()
	return p.waitFor(t, "“"+text+"”", func(s string) bool { return strings.Contains(s, text) })
}

// tuiTest runs the application on a teatest terminal of 120×40.
type tuiTest struct {
	*probe
	tm *teatest.TestModel
}

func startTUI(t *testing.T, o Options) *tuiTest {
	t.Helper()
	if o.Now == nil {
		o.Now = time.Now
	}
	o.ExportDir = t.TempDir()
	p := &probe{Model: NewModel(context.Background(), o), wake: make(chan struct{}, 1)}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 40))
	tt := &tuiTest{probe: p, tm: tm}
	t.Cleanup(func() {
		tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
		p.Model.Close()
	})
	return tt
}

func (tt *tuiTest) keys(ks ...string) {
	for _, k := range ks {
		switch k {
		case "enter":
			tt.tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			tt.tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
		default:
			tt.tm.Type(k)
		}
	}
}

const testSpeed = 20

func virtualBoard(t *testing.T, o virtual.Options) *virtual.Board {
	t.Helper()
	if o.Speed == 0 {
		o.Speed = testSpeed
	}
	b, err := virtual.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func testDevice() device.Config {
	return device.Config{NoStub: true, StubDirs: []string{}, IdleFlush: 20 * time.Millisecond, ReconnectPoll: 20 * time.Millisecond}
}

// The board boots and its lines appear decoded: the ROM banner explained,
// the application's readings in the log and in the plotter; search,
// filter, hex and reset work on the live board.
func TestMonitorFlow(t *testing.T) {
	b := virtualBoard(t, virtual.Options{Flashed: true})
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: testDevice()})
	tt.waitText(t, "external reset, booting from flash")
	tt.events(t, "the ROM loaded a NONOS SDK image", 1)
	tt.waitText(t, "reading 3 temp=")
	tt.waitFor(t, "the board running with plotted readings", func(s string) bool {
		return strings.Contains(s, "running") && strings.Contains(s, "heap ") && strings.Contains(s, "temp ")
	})

	// Search jumps to the match and stops following.
	tt.keys("/", "reading 2 ", "enter")
	tt.waitText(t, "search /reading 2 /")
	tt.waitText(t, "paused")
	tt.keys("G")
	tt.waitText(t, "● following")

	// Filter: only the ROM's lines.
	tt.keys("f", "ets Jan", "enter")
	s := tt.waitText(t, "filter /ets Jan/")
	if strings.Contains(s, "reading 1 ") {
		t.Fatalf("the filter let an application line through:\n%s", s)
	}
	tt.keys("f", "esc")
	tt.keys("f")
	tt.waitText(t, "filter: ets Jan")
	// Clear the filter: empty it and apply.
	for range "ets Jan" {
		tt.tm.Send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	tt.keys("enter")
	tt.waitFor(t, "no filter", func(s string) bool { return !strings.Contains(s, "filter /") && strings.Contains(s, "reading") })

	// Hex: "read" is 72 65 61 64.
	tt.keys("x")
	tt.waitText(t, "72 65 61 64")
	tt.keys("x")

	// Reset: the board restarts and its banner comes again.
	tt.events(t, "external reset, booting from flash", 1)
	tt.keys("R")
	tt.waitText(t, "reset: done")
	tt.events(t, "external reset, booting from flash", 2)
}

// A crash is shown expanded, its addresses resolved to function and
// file:line through the ELF.
func TestMonitorCrashWithELF(t *testing.T) {
	crash := func(ctx context.Context, env *virtualboard.AppEnv) {
		if env.Sleep(ctx, 300*time.Millisecond) != nil {
			return
		}
		env.Begin(115200)
		env.Print("\r\nabout to crash\r\n" + strings.ReplaceAll(crashLog, "\n", "\r\n") + "\r\n")
		<-ctx.Done()
	}
	b := virtualBoard(t, virtual.Options{Flashed: true, App: crash})
	cfg := testDevice()
	cfg.ELF = fixtureELF
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: cfg})
	s := tt.waitText(t, "crash_here at /fixture/crash.c:25")
	for _, want := range []string{"Exception 28 (LoadProhibitedCause)", "(inlined) read_value at /fixture/crash.c:19", "loop_step at /fixture/crash.c:33", "ELF fixture.elf", "✗ failed"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A blank board is flashed from the Flash view: progress to done with
// the stub's MD5 verification, the monitor gets the port back, and the
// board reboots into the new firmware.
func TestFlashFlow(t *testing.T) {
	b := virtualBoard(t, virtual.Options{Stub: true})
	img, err := virtual.SketchImage()
	if err != nil {
		t.Fatal(err)
	}
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: testDevice(), App: writeFile(t, "sketch.bin", img), Identify: true})
	tt.waitText(t, "ESP8266EX · 4MB")
	tt.waitText(t, "18:fe:34:ab:34:5a")
	tt.waitText(t, "blank")
	tt.keys("2")
	tt.waitText(t, "ESP8266 image: 16.0 KB")
	tt.keys("w")
	tt.waitText(t, "flashing")
	s := tt.waitText(t, "done in")
	if !strings.Contains(s, "verified (md5)") || !strings.Contains(s, "100%") {
		t.Fatalf("no verified region:\n%s", s)
	}
	tt.keys("1")
	tt.waitText(t, "reading 2 temp=")
	tt.waitText(t, "running")
	if got := b.Flash().Read(0, len(img)); string(got) != string(img) {
		t.Fatal("the board's flash does not hold the image")
	}
	tt.keys("6")
	tt.waitText(t, "flashing finished")
}

func bigApp(t *testing.T) string {
	data := make([]byte, 512<<10)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	return writeFile(t, "big.bin", data)
}

// Cancelling mid-flash stops the job, and the board stays usable: it is
// reset out of the loader and the monitor reads it again.
func TestFlashCancelFlow(t *testing.T) {
	b := virtualBoard(t, virtual.Options{Flashed: true})
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: testDevice(), App: bigApp(t)})
	tt.waitText(t, "reading 1 temp=")
	tt.keys("2", "w")
	tt.waitFor(t, "writing", func(s string) bool { return strings.Contains(s, "KB/s") })
	tt.keys("c")
	tt.waitText(t, "cancelled: the flash holds a partial image")
	// Reset out of the loader: the ROM banner again, and the monitor reading.
	tt.events(t, "external reset, booting from flash", 2)
	tt.keys("1")
	tt.waitText(t, "● following")
	if busy := tt.Model.panes[0].dev.Busy(); busy != "" {
		t.Fatalf("port still held by %q", busy)
	}
}

// Pulling the cable mid-flash: the job fails, the list says the board is
// unplugged (no crash), and when the cable is back the monitor resumes.
func TestUnplugMidFlashFlow(t *testing.T) {
	b := virtualBoard(t, virtual.Options{Flashed: true})
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: testDevice(), App: bigApp(t)})
	tt.waitText(t, "reading 1 temp=")
	tt.keys("2", "w")
	tt.waitFor(t, "writing", func(s string) bool { return strings.Contains(s, "KB/s") })
	b.Unplug()
	tt.waitText(t, "failed:")
	tt.waitText(t, "⏏ unplugged")
	b.Replug()
	tt.keys("1")
	tt.waitFor(t, "the monitor back", func(s string) bool {
		return strings.Contains(s, "● following") && !strings.Contains(s, "unplugged")
	})
}

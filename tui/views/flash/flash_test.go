package flash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
	"github.com/iotbench/iotbench/tui/virtual"
)

type fakeActions struct {
	plans    []device.Plan
	canceled int
}

func (f *fakeActions) Flash(p device.Plan) tea.Cmd {
	f.plans = append(f.plans, p)
	return func() tea.Msg { return device.FlashProgress{} }
}
func (f *fakeActions) Cancel() { f.canceled++ }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func newView() (*Model, *fakeActions, *time.Time) {
	now := t0
	act := &fakeActions{}
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return now })
	m := New(c, 1, act)
	m.SetSize(90, 30)
	return m, act, &now
}

// run runs a command the way the runtime would and feeds back its message.
func run(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(m, c)
		}
	case common.BoardMsg:
		m.Update(msg.Msg)
	}
}

func TestFormToPlan(t *testing.T) {
	m, act, _ := newView()
	m.Update(keytest.Press("w"))
	if len(act.plans) != 0 || !strings.Contains(ansi.Strip(m.View()), "nothing to flash") {
		t.Fatal("an empty form was flashed")
	}
	dir := t.TempDir()
	img, err := virtual.SketchImage()
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app.bin")
	os.WriteFile(app, img, 0o644)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "config.json"), []byte(`{}`), 0o644)
	run(m, m.SetPaths(app, data))
	s := ansi.Strip(m.View())
	if !strings.Contains(s, "ESP8266 image: 16.0 KB, 1 segments, dio 4MB 40m") {
		t.Fatalf("the application was not inspected:\n%s", s)
	}
	// Known flash size: the automatic layout is shown resolved, and the
	// layout choices are those for that size.
	m.SetBoard("ESP8266EX", 4<<20)
	if s := ansi.Strip(m.View()); !strings.Contains(s, "auto → 4M1M: FS at 0x300000") {
		t.Fatalf("layout:\n%s", s)
	}
	m.Update(keytest.Press("down")) // filesystem
	m.Update(keytest.Press("down")) // FS type
	m.Update(keytest.Press("enter"))
	m.Update(keytest.Press("down")) // layout
	m.Update(keytest.Press("enter"))
	m.Update(keytest.Press("enter"))
	m.Update(keytest.Press("down")) // verify
	m.Update(keytest.Press("enter"))
	run(m, m.Update(keytest.Press("w")))
	want := device.Plan{App: app, FS: data, FSKind: layout.SPIFFS, Layout: "4M2M", Verify: flasher.VerifyReadBack}
	if len(act.plans) != 1 || act.plans[0] != want {
		t.Fatalf("plans %+v, want %+v", act.plans, want)
	}
	if !m.Running() {
		t.Fatal("not running")
	}
	m.Update(keytest.Press("c"))
	m.Update(keytest.Press("c"))
	if act.canceled != 1 {
		t.Fatalf("cancel asked %d times", act.canceled)
	}
}

func TestBadFiles(t *testing.T) {
	m, _, _ := newView()
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("hello"), 0o644)
	run(m, m.SetPaths(notImage, filepath.Join(dir, "missing")))
	s := ansi.Strip(m.View())
	if !strings.Contains(s, "not an ESP application image (it does not start with 0xE9)") {
		t.Fatalf("bad image not reported:\n%s", s)
	}
	m.Update(keytest.Press("down"))
	if s := ansi.Strip(m.View()); !strings.Contains(s, "no such file") {
		t.Fatalf("missing folder not reported:\n%s", s)
	}
}

func TestProgressAndVerdict(t *testing.T) {
	m, _, now := newView()
	m.SetPaths("/x/app.bin", "")
	m.Update(keytest.Press("w"))
	m.Update(device.FlashProgress{Events: []flasher.Event{
		device.PlannedEvent{Regions: []device.RegionInfo{{Addr: 0, Size: 400 << 10, Name: "app.bin"}}},
		flasher.ProgressEvent{Phase: "write", Addr: 0, Done: 100 << 10, Total: 400 << 10, Elapsed: 2 * time.Second},
	}})
	s := ansi.Strip(m.View())
	// 100 KB in 2 s: 50 KB/s, 300 KB to go: 6 s.
	if !strings.Contains(s, " 25%") || !strings.Contains(s, "100.0 KB/400.0 KB · 50.0 KB/s · ETA 6s") {
		t.Fatalf("progress:\n%s", s)
	}
	*now = now.Add(9 * time.Second)
	m.Update(device.FlashProgress{Events: []flasher.Event{flasher.WrittenEvent{Addr: 0, Size: 400 << 10, Elapsed: 8 * time.Second, Verified: true, VerifiedBy: "md5"}}})
	m.Update(device.FlashDone{Regions: []device.RegionInfo{{Addr: 0, Size: 400 << 10, Name: "app.bin"}}, ELF: "/x/app.elf"})
	// Words only: the verdict is wrapped to the width.
	s = strings.Join(strings.Fields(ansi.Strip(m.View())), " ")
	for _, want := range []string{"100%", "400.0 KB written in 8.0 s · verified (md5)", "done in 9s", "crash addresses now resolve with /x/app.elf"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
	for _, w := range []int{30, 53, 90, 165} {
		m.SetSize(w, 20)
		for _, r := range strings.Split(m.View(), "\n") {
			if ansi.StringWidth(r) > w {
				t.Fatalf("width %d: %q", w, r)
			}
		}
	}
}

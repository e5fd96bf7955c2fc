package device_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
)

const speed = 20

func newBoard(t *testing.T, flashed bool) *virtual.Board {
	t.Helper()
	b, err := virtual.New(virtual.Options{Speed: speed, Flashed: flashed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newDevice(t *testing.T, b *virtual.Board, noStub bool) *device.Device {
	t.Helper()
	cfg := device.Config{NoStub: noStub, StubDirs: []string{}, IdleFlush: 20 * time.Millisecond, ReconnectPoll: 20 * time.Millisecond}
	if !noStub {
		stub, err := virtual.WriteStub(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg.StubFile = stub
	}
	d := device.New(context.Background(), b.Spec(), cfg)
	t.Cleanup(d.Close)
	return d
}

// run runs a command with a deadline, as the Bubble Tea runtime would.
func run(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case m := <-ch:
		return m
	case <-time.After(60 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("command did not finish; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		return nil
	}
}

type serialLog struct {
	lines   []device.Line
	pending []device.Line // read but not yet looked at
	ended   bool
}

func (l *serialLog) text() string {
	var sb strings.Builder
	for _, ln := range l.lines {
		sb.WriteString(ln.Text + "\n")
	}
	return sb.String()
}

// until pumps the monitor of session gen until pred holds for a line;
// lines after it in the same batch are kept for the next call.
func (l *serialLog) until(t *testing.T, d *device.Device, gen int, pred func(device.Line) bool) device.Line {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for len(l.pending) > 0 {
			ln := l.pending[0]
			l.pending = l.pending[1:]
			l.lines = append(l.lines, ln)
			if pred(ln) {
				return ln
			}
		}
		if l.ended {
			t.Fatalf("session ended; got:\n%s", l.text())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such line within 60 s; got:\n%s", l.text())
		}
		m := run(t, d.ReadSerial(gen)).(device.SerialBatch)
		l.pending = append(l.pending, m.Lines...)
		l.ended = m.Ended
	}
}

func hasEvent(kind string) func(device.Line) bool {
	return func(ln device.Line) bool {
		for _, e := range ln.Events {
			if e.Kind == kind {
				return true
			}
		}
		return false
	}
}

func lineWith(s string) func(device.Line) bool {
	return func(ln device.Line) bool { return ln.Kind == serialmon.ItemLine && strings.Contains(ln.Text, s) }
}

func startMonitor(t *testing.T, d *device.Device, reset bool) int {
	t.Helper()
	m := run(t, d.StartMonitor(reset)).(device.MonitorStarted)
	if m.Err != nil || m.ResetErr != nil {
		t.Fatalf("monitor: %v, reset: %v", m.Err, m.ResetErr)
	}
	return m.Gen
}

// The monitor reads the ROM banner at 74880 baud and the application at
// 115200, decoded: the banner is a rom.banner event, the sketch's readings
// give numeric samples.
func TestMonitorDecodesBoot(t *testing.T) {
	b := newBoard(t, true)
	d := newDevice(t, b, true)
	gen := startMonitor(t, d, true)
	var log serialLog
	banner := log.until(t, d, gen, hasEvent(decode.KindROMBanner))
	if banner.Baud != 74880 {
		t.Fatalf("banner read at %d baud", banner.Baud)
	}
	log.until(t, d, gen, hasEvent(decode.KindROMLoader))
	reading := log.until(t, d, gen, lineWith("reading 1 "))
	if reading.Baud != 115200 {
		t.Fatalf("application line read at %d baud", reading.Baud)
	}
	names := map[string]bool{}
	for _, s := range reading.Samples {
		names[s.Name] = true
	}
	if !names["temp"] || !names["heap"] {
		t.Fatalf("samples of %q: %+v", reading.Text, reading.Samples)
	}
}

func writeSketch(t *testing.T) string {
	t.Helper()
	img, err := virtual.SketchImage()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sketch.bin")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flashAll follows a flash job to its end.
func flashAll(t *testing.T, d *device.Device, p device.Plan) ([]flasher.Event, device.FlashDone) {
	t.Helper()
	var evs []flasher.Event
	msg := run(t, d.Flash(p))
	for {
		switch m := msg.(type) {
		case device.FlashDone:
			return evs, m
		case device.FlashProgress:
			evs = append(evs, m.Events...)
		default:
			t.Fatalf("unexpected %T", msg)
		}
		msg = run(t, d.ReadFlash())
	}
}

// A blank board is flashed (the monitor hands the port over and gets it
// back), the writes are MD5-verified through the stub, a filesystem image
// built from a folder lands at the layout picked from the chip's flash
// size, and after the reset the board runs the application.
func TestFlashHandsPortOverAndBoots(t *testing.T) {
	b := newBoard(t, false)
	d := newDevice(t, b, false)
	gen := startMonitor(t, d, true)
	var log serialLog
	log.until(t, d, gen, hasEvent(decode.KindROMBanner))

	app := writeSketch(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "config.json"), []byte(`{"thing":"bench-1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	evs, done := flashAll(t, d, device.Plan{App: app, FS: data, FSKind: layout.LittleFS})
	if done.Err != nil {
		t.Fatalf("flash: %v", done.Err)
	}
	if done.Facts == nil || done.Facts.Chip != "ESP8266" || done.Facts.FlashSize != 4<<20 || done.Layout != "4M1M" {
		t.Fatalf("facts %+v, layout %q", done.Facts, done.Layout)
	}
	written := 0
	for _, e := range evs {
		if w, ok := e.(flasher.WrittenEvent); ok {
			written++
			if !w.Verified {
				t.Fatalf("region at 0x%X not verified", w.Addr)
			}
		}
	}
	if written != 2 || len(done.Regions) != 2 {
		t.Fatalf("%d regions written, %d planned", written, len(done.Regions))
	}
	img, _ := os.ReadFile(app)
	if !bytes.Equal(b.Flash().Read(0, len(img)), img) {
		t.Fatal("flash does not hold the application")
	}
	if d.ReadSerial(gen) != nil {
		t.Fatal("the monitor session survived the flash job")
	}
	gen2 := startMonitor(t, d, true)
	if gen2 == gen {
		t.Fatal("no new session")
	}
	log.until(t, d, gen2, lineWith("reading 2 "))
}

// bigImage is an application image large enough that a ROM-mode write
// takes many packets.
func bigImage(t *testing.T) string {
	t.Helper()
	data := make([]byte, 512<<10)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	p := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// untilWriting starts a flash and returns once data is moving.
func untilWriting(t *testing.T, d *device.Device, p device.Plan) {
	t.Helper()
	msg := run(t, d.Flash(p))
	for {
		switch m := msg.(type) {
		case device.FlashDone:
			t.Fatalf("flash ended before writing: %v", m.Err)
		case device.FlashProgress:
			for _, e := range m.Events {
				if pe, ok := e.(flasher.ProgressEvent); ok && pe.Phase == "write" && pe.Done > 0 {
					return
				}
			}
		}
		msg = run(t, d.ReadFlash())
	}
}

func finish(t *testing.T, d *device.Device) device.FlashDone {
	t.Helper()
	for {
		if m, ok := run(t, d.ReadFlash()).(device.FlashDone); ok {
			return m
		}
	}
}

// Cancelling mid-write ends the job promptly, releases the port, and the
// board stays usable: the monitor resets it out of the loader, and a new
// flash succeeds.
func TestFlashCancel(t *testing.T) {
	b := newBoard(t, true)
	d := newDevice(t, b, true)
	untilWriting(t, d, device.Plan{App: bigImage(t)})
	d.Cancel()
	done := finish(t, d)
	if !done.Canceled || !errors.Is(done.Err, context.Canceled) {
		t.Fatalf("cancelled job ended with canceled=%v err=%v", done.Canceled, done.Err)
	}
	if d.Busy() != "" {
		t.Fatalf("port still held by %q", d.Busy())
	}
	gen := startMonitor(t, d, true)
	var log serialLog
	log.until(t, d, gen, hasEvent(decode.KindROMBanner))

	app := writeSketch(t)
	_, again := flashAll(t, d, device.Plan{App: app})
	if again.Err != nil {
		t.Fatalf("flash after cancel: %v", again.Err)
	}
}

// Pulling the cable mid-flash fails the job without hanging; the port
// cannot be opened until the cable is back, then the monitor works again.
func TestUnplugMidFlash(t *testing.T) {
	b := newBoard(t, true)
	d := newDevice(t, b, true)
	untilWriting(t, d, device.Plan{App: bigImage(t)})
	b.Unplug()
	done := finish(t, d)
	if done.Err == nil || done.Canceled {
		t.Fatalf("unplugged job ended with err=%v canceled=%v", done.Err, done.Canceled)
	}
	m := run(t, d.StartMonitor(true)).(device.MonitorStarted)
	if !errors.Is(m.Err, fs.ErrNotExist) {
		t.Fatalf("monitor on a pulled cable: %v", m.Err)
	}
	b.Replug()
	gen := startMonitor(t, d, true)
	var log serialLog
	log.until(t, d, gen, hasEvent(decode.KindROMBanner))
}

func TestResolveLayout(t *testing.T) {
	for _, c := range []struct {
		name                string
		flash, image, block int
		want                string
		wantErr             error
	}{
		{"auto", 4 << 20, 0, 0, "4M1M", nil},
		{"", 1 << 20, 0, 0, "1M64", nil},
		{"auto", 4 << 20, 0x2FA000, 8192, "4M3M", nil},
		{"auto", 4 << 20, 12345, 4096, "", device.ErrAutoLayout},
		{"auto", 0, 0, 0, "", device.ErrAutoLayout},
		{"2M512", 0, 0, 0, "2M512", nil},
	} {
		l, err := device.ResolveLayout(c.name, c.flash, c.image, c.block)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%+v: err %v", c, err)
			}
			continue
		}
		if err != nil || l.Name != c.want {
			t.Errorf("%+v: got %q, %v", c, l.Name, err)
		}
	}
}

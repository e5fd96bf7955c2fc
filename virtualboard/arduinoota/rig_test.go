package arduinoota_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

// Boards in these tests run 1000× faster than real time; the uploader on
// the other side keeps its real-time timeouts, as it would with a slow
// board on a fast network.
const testSpeed = 1000

// waitLimit bounds every wait for the board (real time): far above what
// anything takes, so only a hang reaches it.
const waitLimit = 20 * time.Second

// serialLog collects what the board prints at 74880 baud.
type serialLog struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{}
}

func (l *serialLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// mark is a position in the log; waits look only at what follows it.
func (l *serialLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// waitFor returns once want has appeared after position from, and the
// log from there.
func (l *serialLog) waitFor(t testing.TB, from int, want string) string {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		s := l.String()
		if i := strings.Index(s[from:], want); i >= 0 {
			return s[from:]
		}
		select {
		case <-l.changed:
		case <-deadline.C:
			t.Fatalf("the board did not print %q; it printed after the mark:\n%s", want, s[from:])
		}
	}
}

type rig struct {
	b   *virtualboard.Board
	d   *arduinoota.Device
	log *serialLog
}

func layout4M1M(t testing.TB) layout.ESP8266Layout {
	t.Helper()
	l, err := layout.ESP8266("4M1M")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sketch(t testing.TB, version uint32, size int) []byte {
	t.Helper()
	img, err := arduinoota.SketchImage(version, size)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// newRig powers a board with firmware at 0 running app (BasicOTA when
// nil), follows its serial output, and waits for the sketch to be ready.
func newRig(t testing.TB, cfg arduinoota.Config, firmware []byte, app func(*arduinoota.Device) virtualboard.App) *rig {
	t.Helper()
	if cfg.Layout.FlashSize == 0 {
		cfg.Layout = layout4M1M(t)
	}
	return newChipRig(t, cfg, 74880, firmware, app)
}

// newChipRig is newRig for the chip in cfg.Chip, its console read at baud.
func newChipRig(t testing.TB, cfg arduinoota.Config, baud int, firmware []byte, app func(*arduinoota.Device) virtualboard.App) *rig {
	t.Helper()
	return newRigAt(t, cfg, testSpeed, baud, firmware, app)
}

// newRigAt is newChipRig with the board's clock at speed.
func newRigAt(t testing.TB, cfg arduinoota.Config, speed float64, baud int, firmware []byte, app func(*arduinoota.Device) virtualboard.App) *rig {
	t.Helper()
	d, err := arduinoota.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if app == nil {
		app = arduinoota.BasicOTA
	}
	b, err := virtualboard.New(virtualboard.Config{Chip: cfg.Chip, Speed: speed, App: app(d)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &rig{b: b, d: d, log: &serialLog{changed: make(chan struct{}, 1)}}
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	p.SetBaudRate(baud)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); p.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for ctx.Err() == nil {
			n, err := p.Read(buf)
			if n > 0 {
				r.log.mu.Lock()
				r.log.buf.Write(buf[:n])
				r.log.mu.Unlock()
				select {
				case r.log.changed <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	b.Flash().Load(0, firmware)
	m := r.log.mark()
	b.Reset(false)
	// Every sketch in these tests prints "Ready" once ArduinoOTA is up.
	r.log.waitFor(t, m, "Ready\n")
	return r
}

// upload runs ota.Upload against the rig's device and collects events.
func (r *rig) upload(ctx context.Context, o ota.Options, img []byte) (ota.Result, []ota.Event, error) {
	o.Host = "127.0.0.1"
	o.Port = r.d.Addr().Port
	var evs []ota.Event
	res, err := ota.Upload(ctx, o, img, func(e ota.Event) { evs = append(evs, e) })
	return res, evs, err
}

// flashHolds reports whether the board's flash at addr holds exactly want.
func (r *rig) flashHolds(addr uint32, want []byte) bool {
	return bytes.Equal(r.b.Flash().Read(addr, len(want)), want)
}

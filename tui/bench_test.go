package tui

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
	"github.com/iotbench/iotbench/virtualboard"
)

// BenchmarkTUI2Mbaud streams log lines from a real-time virtual board at
// 2,000,000 baud for IOTBENCH_BENCH_SECONDS (default 10) twice: once
// through the device layer alone (session, decoders, series parser; the
// lines are counted and dropped) as the reference, then through the whole
// TUI on a 200×60 screen with colours. It reports the frames the TUI wrote
// per second, its renders (View calls) per second, the CPU seconds per
// second of both runs and their ratio, how many of the board's lines the
// monitor received, and the scrollback's size at the end (it must stay at
// its bound). Both runs share the process with the virtual board, so the
// ratio, not the absolute CPU figure, is the TUI's cost.
func BenchmarkTUI2Mbaud(b *testing.B) {
	secs := 10
	if v, err := strconv.Atoi(os.Getenv("IOTBENCH_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	d := time.Duration(secs) * time.Second
	for i := 0; i < b.N; i++ {
		ref := streamRun(b, d, false)
		tui := streamRun(b, d, true)
		b.ReportMetric(ref.cpu, "ref_cpu_s/s")
		b.ReportMetric(tui.cpu, "tui_cpu_s/s")
		b.ReportMetric(tui.cpu/ref.cpu, "tui/ref_cpu")
		b.ReportMetric(tui.frames, "frames/s")
		b.ReportMetric(tui.renders, "renders/s")
		b.ReportMetric(ref.received, "ref_lines_received/sent")
		b.ReportMetric(tui.received, "tui_lines_received/sent")
		b.ReportMetric(ref.lineRate, "ref_lines/s")
		b.ReportMetric(tui.lineRate, "tui_lines/s")
		b.ReportMetric(float64(tui.scrollback), "scrollback_entries")
		b.ReportMetric(float64(tui.dropped), "bytes_dropped_at_board")
	}
}

type streamResult struct {
	cpu, frames, renders, received, lineRate float64
	scrollback                               int
	dropped                                  int64
}

// countingWriter counts the frames the renderer writes.
type countingWriter struct{ writes, bytes atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	w.bytes.Add(int64(len(p)))
	return len(p), nil
}

// renderCounter counts View calls.
type renderCounter struct {
	*Model
	views atomic.Int64
}

func (r *renderCounter) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := r.Model.Update(msg)
	return r, cmd
}

func (r *renderCounter) View() tea.View {
	r.views.Add(1)
	return r.Model.View()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func streamRun(b *testing.B, d time.Duration, withTUI bool) streamResult {
	var sent atomic.Int64
	var running atomic.Bool
	app := func(ctx context.Context, env *virtualboard.AppEnv) {
		env.Begin(2000000)
		for i := 0; ctx.Err() == nil; i++ {
			if !running.Load() {
				if env.Sleep(ctx, time.Millisecond) != nil {
					return
				}
				continue
			}
			// Sixteen lines a burst keep the UART's FIFO full: waiting for it
			// to drain after every line would leave the line idle between them.
			for j := 0; j < 16; j++ {
				env.Printf("%010d sensor t=21.5 h=40 lux=123 heap=23456 wifi=-61 iotbench log line\r\n", i*16+j)
			}
			sent.Add(16)
			if env.Flush(ctx) != nil {
				return
			}
		}
	}
	vb, err := virtual.New(virtual.Options{Speed: 1, Flashed: true, App: app})
	if err != nil {
		b.Fatal(err)
	}
	defer vb.Close()
	cfg := device.Config{Baud: 2000000, BootBaud: 2000000}

	var res streamResult
	if !withTUI {
		dev := device.New(context.Background(), vb.Spec(), cfg)
		defer dev.Close()
		st := dev.StartMonitor(false)().(device.MonitorStarted)
		if st.Err != nil {
			b.Fatal(st.Err)
		}
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				cmd := dev.ReadSerial(st.Gen)
				if cmd == nil {
					return
				}
				batch := cmd().(device.SerialBatch)
				for _, ln := range batch.Lines {
					if ln.Kind == 0 {
						got.Add(1)
					}
				}
				if batch.Ended {
					return
				}
			}
		}()
		cpu0, t0 := cpuTime(), time.Now()
		running.Store(true)
		time.Sleep(d)
		running.Store(false)
		wall := time.Since(t0)
		res.cpu = (cpuTime() - cpu0).Seconds() / wall.Seconds()
		time.Sleep(200 * time.Millisecond) // the line drains
		dev.Close()
		<-done
		res.received = float64(got.Load()) / float64(max(1, sent.Load()))
		res.lineRate = float64(got.Load()) / wall.Seconds()
		res.dropped = vb.Dropped()
		return res
	}

	out := &countingWriter{}
	m := NewModel(context.Background(), Options{Boards: []device.Spec{vb.Spec()}, Device: cfg})
	rc := &renderCounter{Model: m}
	p := tea.NewProgram(rc, tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(200, 60),
		tea.WithColorProfile(colorprofile.ANSI256), tea.WithoutSignalHandler())
	runDone := make(chan error, 1)
	go func() {
		_, err := p.Run()
		runDone <- err
	}()
	time.Sleep(300 * time.Millisecond) // the monitor is attached
	w0, v0 := out.writes.Load(), rc.views.Load()
	cpu0, t0 := cpuTime(), time.Now()
	running.Store(true)
	time.Sleep(d)
	running.Store(false)
	wall := time.Since(t0)
	res.cpu = (cpuTime() - cpu0).Seconds() / wall.Seconds()
	res.frames = float64(out.writes.Load()-w0) / wall.Seconds()
	res.renders = float64(rc.views.Load()-v0) / wall.Seconds()
	time.Sleep(200 * time.Millisecond) // the line drains
	p.Quit()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	m.Close()
	pane := m.panes[0]
	res.received = float64(pane.monitor.Lines()) / float64(max(1, sent.Load()))
	res.lineRate = float64(pane.monitor.Lines()) / wall.Seconds()
	res.scrollback = pane.monitor.Len()
	res.dropped = vb.Dropped()
	if res.scrollback > 10000 {
		b.Errorf("scrollback grew to %d entries", res.scrollback)
	}
	fmt.Fprintf(os.Stderr, "tui run: %d lines sent, %d received, %d frames written (%d bytes)\n", sent.Load(), pane.monitor.Lines(), out.writes.Load(), out.bytes.Load())
	return res
}

// BenchmarkRenderMonitor is the cost of one frame of the Monitor view at
// 200×60 with a full scrollback (10,000 entries) and the plotter on; at
// 60 frames a second, ns/op × 60 is the share of a core rendering takes.
func BenchmarkRenderMonitor(b *testing.B) {
	m := NewModel(context.Background(), Options{Boards: []device.Spec{{Port: "/dev/ttyUSB0"}}})
	m.Init()
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	f := &logFeed{dec: decode.NewDecoder(decode.Options{}), at: fixedNow, baud: 115200}
	for i := 0; i < 10; i++ {
		f.send(m, 0, readings(i*1000, 1000))
	}
	if n := m.panes[0].monitor.Len(); n != 10000 {
		b.Fatalf("scrollback %d", n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

package tui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotbench/iotbench/mqttview"

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
	d := benchSeconds()
	for i := 0; i < b.N; i++ {
		ref := streamRun(b, d, runOpts{})
		tui := streamRun(b, d, runOpts{tui: true})
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

// benchSeconds is each run's length: IOTBENCH_BENCH_SECONDS (default 10).
func benchSeconds() time.Duration {
	secs := 10
	if v, err := strconv.Atoi(os.Getenv("IOTBENCH_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	return time.Duration(secs) * time.Second
}

// BenchmarkTUILoad is issue 9's load figure: the virtual board streams
// 2 Mbaud of logs while 1,000 MQTT topics update continuously (each at 1
// to 5 messages a second, about 3,000 a second in all) on a broker the
// TUI's topic viewer watches. Three runs of IOTBENCH_BENCH_SECONDS
// (default 10) each, in one process, on a 200×60 screen: the reference
// (2 Mbaud only, Monitor view), the load with the Monitor in front, and
// the load with the Topics view in front. The broker and its publisher
// run in a child process (this test binary again, see
// TestLoadPublisherProcess) so that getrusage of this process counts the
// TUI and the virtual board only; the child's CPU is reported apart.
// Reported: frames written and View calls per second, CPU seconds per
// second and their ratio to the reference, the board's lines received,
// the MQTT messages the viewer stored out of those published (the rest
// were dropped or still queued at the broker when the run ended), the
// Topics view's store reads per second, the heap after GC, the
// scrollback's and the topic history's sizes (both must stay bounded).
//
//	go test ./tui -run '^$' -bench TUILoad -benchtime 1x
func BenchmarkTUILoad(b *testing.B) {
	d := benchSeconds()
	for i := 0; i < b.N; i++ {
		ref := streamRun(b, d, runOpts{tui: true})
		mon := streamRun(b, d, runOpts{tui: true, topics: 1000})
		top := streamRun(b, d, runOpts{tui: true, topics: 1000, tab: "4"})
		b.ReportMetric(ref.cpu, "ref_cpu_s/s")
		b.ReportMetric(ref.frames, "ref_frames/s")
		for _, r := range []struct {
			name string
			res  streamResult
		}{{"mon", mon}, {"top", top}} {
			n, res := r.name, r.res
			b.ReportMetric(res.cpu, n+"_cpu_s/s")
			b.ReportMetric(res.cpu/ref.cpu, n+"/ref_cpu")
			b.ReportMetric(res.frames, n+"_frames/s")
			b.ReportMetric(res.renders, n+"_renders/s")
			b.ReportMetric(res.received, n+"_lines_received/sent")
			b.ReportMetric(res.msgReceived, n+"_mqtt_stored/published")
			b.ReportMetric(res.msgRate, n+"_mqtt_msgs/s")
			b.ReportMetric(res.refreshes, n+"_store_reads/s")
			b.ReportMetric(res.heapMB, n+"_heap_MB")
			b.ReportMetric(float64(res.history), n+"_history_msgs")
			b.ReportMetric(res.brokerCPU, n+"_broker_cpu_s/s")
		}
		b.ReportMetric(ref.heapMB, "ref_heap_MB")
		b.ReportMetric(float64(max(ref.scrollback, mon.scrollback, top.scrollback)), "scrollback_entries")
	}
}

type runOpts struct {
	tui    bool
	topics int    // topics published to (0: no broker)
	tab    string // the key of the view in front ("" Monitor)
}

type streamResult struct {
	cpu, frames, renders, received, lineRate float64
	scrollback                               int
	dropped                                  int64
	msgReceived, msgRate, refreshes, heapMB  float64
	history                                  int
	brokerCPU                                float64
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

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

func streamRun(b *testing.B, d time.Duration, o runOpts) streamResult {
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
	if !o.tui {
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

	opts := Options{Boards: []device.Spec{vb.Spec()}, Device: cfg}
	var pub *loadPublisher
	if o.topics > 0 {
		pub = startLoadPublisher(b)
		defer pub.close()
		opts.Topics = &TopicsConfig{Name: "load broker", Auto: true, Viewer: func(context.Context) (mqttview.Config, error) {
			return mqttview.Config{Broker: "mqtt://" + pub.addr}, nil
		}}
	}
	out := &countingWriter{}
	m := NewModel(context.Background(), opts)
	rc := &renderCounter{Model: m}
	p := tea.NewProgram(rc, tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(200, 60),
		tea.WithColorProfile(colorprofile.ANSI256), tea.WithoutSignalHandler())
	runDone := make(chan error, 1)
	go func() {
		_, err := p.Run()
		runDone <- err
	}()
	if pub != nil {
		pub.waitSubscribed(b)
	}
	if o.tab != "" {
		p.Send(tea.KeyPressMsg{Code: rune(o.tab[0]), Text: o.tab})
	}
	time.Sleep(300 * time.Millisecond) // the monitor is attached
	w0, v0 := out.writes.Load(), rc.views.Load()
	cpu0, t0 := cpuTime(), time.Now()
	running.Store(true)
	if pub != nil {
		pub.start(b, o.topics)
	}
	time.Sleep(d)
	running.Store(false)
	published := 0
	if pub != nil {
		published = pub.stop(b)
	}
	wall := time.Since(t0)
	res.cpu = (cpuTime() - cpu0).Seconds() / wall.Seconds()
	res.frames = float64(out.writes.Load()-w0) / wall.Seconds()
	res.renders = float64(rc.views.Load()-v0) / wall.Seconds()
	res.heapMB = heapMB()
	time.Sleep(200 * time.Millisecond) // the line drains
	p.Quit()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	if src := m.topics.Source(); src != nil {
		// What the viewer stored of what was published during the run
		// (a message still on its way when the run ended counts as lost).
		tot := src.Store().Totals()
		res.msgReceived = float64(tot.Messages) / float64(max(1, published))
		res.msgRate = float64(tot.Messages) / wall.Seconds()
		res.refreshes = float64(m.topics.Refreshes()) / wall.Seconds()
		for _, st := range src.Store().Topics() {
			res.history += st.Kept
		}
		fmt.Fprintf(os.Stderr, "topics: %d published, %d stored, %d topics, %d messages kept\n", published, tot.Messages, tot.Topics, res.history)
	}
	m.Close()
	if pub != nil {
		res.brokerCPU = pub.close().Seconds() / wall.Seconds()
	}
	pane := m.panes[0]
	res.received = float64(pane.monitor.Lines()) / float64(max(1, sent.Load()))
	res.lineRate = float64(pane.monitor.Lines()) / wall.Seconds()
	res.scrollback = pane.monitor.Len()
	res.dropped = vb.Dropped()
	if res.scrollback > 10000 {
		b.Errorf("scrollback grew to %d entries", res.scrollback)
	}
	if res.history > o.topics*100 {
		b.Errorf("the topics' history grew to %d messages", res.history)
	}
	fmt.Fprintf(os.Stderr, "tui run: %d lines sent, %d received, %d frames written (%d bytes)\n", sent.Load(), pane.monitor.Lines(), out.writes.Load(), out.bytes.Load())
	return res
}

// loadPublisher is the child process that runs a broker and publishes.
type loadPublisher struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	addr   string
	closed bool
}

func startLoadPublisher(b *testing.B) *loadPublisher {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadPublisherProcess$")
	cmd.Env = append(os.Environ(), "IOTBENCH_LOAD_PUBLISHER=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lp := &loadPublisher{cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lp.lines <- sc.Text()
		}
		close(lp.lines)
	}()
	lp.addr = strings.TrimPrefix(lp.expect(b, "addr "), "addr ")
	return lp
}

// expect returns the child's next line starting with prefix.
func (lp *loadPublisher) expect(b *testing.B, prefix string) string {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lp.lines:
			if !ok {
				b.Fatalf("the publisher ended before saying %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			b.Fatalf("the publisher did not say %q", prefix)
		}
	}
}

func (lp *loadPublisher) waitSubscribed(b *testing.B) { lp.expect(b, "subscribed ") }

func (lp *loadPublisher) start(b *testing.B, topics int) {
	if _, err := fmt.Fprintf(lp.in, "go %d\n", topics); err != nil {
		b.Fatal(err)
	}
}

func (lp *loadPublisher) stop(b *testing.B) int {
	if _, err := fmt.Fprintln(lp.in, "stop"); err != nil {
		b.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(lp.expect(b, "published "), "published "))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// close ends the child and returns the CPU it used.
func (lp *loadPublisher) close() time.Duration {
	if lp.closed {
		return 0
	}
	lp.closed = true
	lp.in.Close()
	lp.cmd.Wait()
	if st := lp.cmd.ProcessState; st != nil {
		return st.UserTime() + st.SystemTime()
	}
	return 0
}

// TestLoadPublisherProcess is not a test: BenchmarkTUILoad runs this
// binary again with IOTBENCH_LOAD_PUBLISHER set, and this function is
// then the child: a broker on loopback (mochi, no TLS: the bench measures
// the TUI, not the handshake) whose inline client publishes to N topics,
// topic i every 1/(1+i%5) s, with a JSON payload of a few numbers. It
// talks over stdin/stdout: it says "addr HOST:PORT", then "subscribed ID"
// when a client subscribes; "go N" starts publishing, "stop" stops and
// answers "published COUNT"; end of input ends it.
func TestLoadPublisherProcess(t *testing.T) {
	if os.Getenv("IOTBENCH_LOAD_PUBLISHER") == "" {
		return
	}
	defer os.Exit(0)
	srv := mqtt.New(&mqtt.Options{InlineClient: true})
	out := make(chan string, 16)
	if err := srv.AddHook(&benchHook{out: out}, nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("bench", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fmt.Println("addr " + ln.Addr().String())
	go func() {
		for l := range out {
			fmt.Println(l)
		}
	}()
	var stop chan struct{}
	var done chan int
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "go":
			n, _ := strconv.Atoi(f[1])
			stop, done = make(chan struct{}), make(chan int, 1)
			go publishLoad(srv, n, stop, done)
		case len(f) == 1 && f[0] == "stop" && stop != nil:
			close(stop)
			out <- fmt.Sprintf("published %d", <-done)
			stop = nil
		}
	}
}

// publishLoad publishes to n topics until stop, each topic on its own
// schedule (1 to 5 messages a second), and reports the count.
func publishLoad(srv *mqtt.Server, n int, stop chan struct{}, done chan<- int) {
	start := time.Now()
	next := make([]time.Duration, n)
	every := make([]time.Duration, n)
	for i := range next {
		every[i] = time.Second / time.Duration(1+i%5)
		// Spread the first messages over the first period.
		next[i] = every[i] * time.Duration(i) / time.Duration(n)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	count := 0
	for {
		select {
		case <-stop:
			done <- count
			return
		case <-tick.C:
		}
		now := time.Since(start)
		for i := range next {
			for next[i] <= now {
				payload := fmt.Sprintf(`{"seq":%d,"temp":%.2f,"hum":%.1f,"heap":%d}`, count, 20+float64(count%100)/10, 40+float64(i%20)/2, 40000-count%4000)
				srv.Publish(fmt.Sprintf("iotbench/load-%03d/telemetry", i), []byte(payload), false, 0)
				count++
				next[i] += every[i]
			}
		}
	}
}

// benchHook lets every client in and tells the parent when one has
// subscribed.
type benchHook struct {
	mqtt.HookBase
	out chan<- string
}

func (h *benchHook) ID() string { return "bench" }

func (h *benchHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnSubscribed
}

func (h *benchHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *benchHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func (h *benchHook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	h.out <- "subscribed " + cl.ID
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

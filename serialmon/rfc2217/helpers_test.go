package rfc2217_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

var (
	_ flasher.Port           = (*rfc2217.Port)(nil)
	_ flasher.LinePairSetter = (*rfc2217.Port)(nil)
	_ flasher.RemotePort     = (*rfc2217.Port)(nil)
)

// TestMain fails the run if goroutines started by this package (client
// readers, server loops, test servers) outlive the tests. Goroutines of the
// runtime and the testing framework (the fuzzer's signal handler) are not
// ours and are ignored.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		leaked := ourGoroutines()
		for len(leaked) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			leaked = ourGoroutines()
		}
		if len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "goroutine leak:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	var ours []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "serialmon/rfc2217") && !strings.Contains(g, "TestMain") {
			ours = append(ours, g)
		}
	}
	return ours
}

// recorder is a Handler that logs every callback in order, merging
// consecutive data, and can echo, reject or inject data.
type recorder struct {
	mu      sync.Mutex
	sc      *rfc2217.ServerConn
	log     []string
	rx      []byte
	baud    int
	echo    bool
	onData  func(sc *rfc2217.ServerConn, data []byte)
	onPurge func(sc *rfc2217.ServerConn, which byte)
	// rejectBaud: rates the "UART" does not support.
	rejectBaud map[int]bool
	// controlAnswer overrides the acknowledged SET-CONTROL value.
	controlAnswer map[byte]byte
	modem         byte
	changed       chan struct{}
}

func newRecorder() *recorder {
	return &recorder{baud: 9600, changed: make(chan struct{}, 1)}
}

func (r *recorder) note(s string) {
	r.log = append(r.log, s)
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) SetBaudRate(b int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b != 0 && !r.rejectBaud[b] {
		r.baud = b
	}
	r.note(fmt.Sprintf("baud:%d", b))
	return r.baud
}

func (r *recorder) SetDataSize(b int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(fmt.Sprintf("datasize:%d", b))
	return 8
}

func (r *recorder) SetParity(p int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(fmt.Sprintf("parity:%d", p))
	return rfc2217.ParityNone
}

func (r *recorder) SetStopSize(s int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(fmt.Sprintf("stop:%d", s))
	return rfc2217.StopSize1
}

func (r *recorder) SetControl(v byte) byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(fmt.Sprintf("ctl:%d", v))
	if a, ok := r.controlAnswer[v]; ok {
		return a
	}
	return v
}

func (r *recorder) Purge(which byte) {
	r.mu.Lock()
	r.note(fmt.Sprintf("purge:%d", which))
	f, sc := r.onPurge, r.sc
	r.mu.Unlock()
	if f != nil {
		f(sc, which)
	}
}

func (r *recorder) Received(data []byte) {
	r.mu.Lock()
	r.rx = append(r.rx, data...)
	if n := len(r.log); n > 0 && strings.HasPrefix(r.log[n-1], "data:") {
		r.log[n-1] += string(data)
	} else {
		r.note("data:" + string(data))
	}
	select {
	case r.changed <- struct{}{}:
	default:
	}
	echo, f, sc := r.echo, r.onData, r.sc
	r.mu.Unlock()
	if echo {
		sc.Write(data)
	}
	if f != nil {
		f(sc, data)
	}
}

func (r *recorder) ModemState() byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.modem
}

func (r *recorder) snapshot() (log []string, rx []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...), append([]byte(nil), r.rx...)
}

// waitLog waits until the log satisfies ok.
func (r *recorder) waitLog(t *testing.T, ok func(log []string, rx []byte) bool) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		log, rx := r.snapshot()
		if ok(log, rx) {
			return log
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("timed out; handler log: %q (%d bytes received)", log, len(rx))
		}
	}
}

// serve runs ServerConns with h on a loopback listener until the test ends
// and returns the rfc2217:// URL.
func serve(t *testing.T, h *recorder) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		scs []*rfc2217.ServerConn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := rfc2217.NewServerConn(c, h)
			h.mu.Lock()
			h.sc = sc
			h.mu.Unlock()
			mu.Lock()
			scs = append(scs, sc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := sc.Run(); err != nil {
					t.Errorf("ServerConn.Run: %v", err)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, sc := range scs {
			sc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "rfc2217://" + ln.Addr().String()
}

// rawServer accepts connections on a loopback listener and hands each to
// fn; everything is closed when the test ends.
func rawServer(t *testing.T, fn func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "rfc2217://" + ln.Addr().String()
}

// scriptedServer is a minimal hand-written RFC 2217 server: it sends DO
// COM-PORT-OPTION, then answers each COM-PORT-OPTION request with
// answer(code, value), or with the request echoed as an ack if answer
// returns nil.
func scriptedServer(t *testing.T, answer func(code byte, v []byte) []byte) string {
	return rawServer(t, func(c net.Conn) {
		c.Write(rfc2217.AppendNegotiation(nil, rfc2217.DO, rfc2217.OptComPort))
		var d rfc2217.Decoder
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			var out []byte
			d.Feed(buf[:n], func(e rfc2217.Event) {
				if e.Kind != rfc2217.EventSubnegotiation || e.Option != rfc2217.OptComPort || len(e.Data) == 0 {
					return
				}
				code, v := e.Data[0], e.Data[1:]
				if a := answer(code, v); a != nil {
					out = append(out, a...)
				} else {
					out = rfc2217.AppendComPortOption(out, code+rfc2217.ServerReply, v)
				}
			})
			if len(out) > 0 {
				c.Write(out)
			}
			if err != nil {
				return
			}
		}
	})
}

func dial(t *testing.T, url string, opts ...rfc2217.Option) *rfc2217.Port {
	t.Helper()
	p, err := rfc2217.Dial(context.Background(), url, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readN reads exactly n bytes or fails after a few seconds.
func readN(t *testing.T, p *rfc2217.Port, n int) []byte {
	t.Helper()
	if err := p.SetReadTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d bytes: %q", len(got), n, got)
		}
		k, err := p.Read(buf[:min(len(buf), n-len(got))])
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

func hasPrefixLog(log []string, want ...string) bool {
	return len(log) >= len(want) && equalStrings(log[:len(want)], want)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func allBytes(repeat int) []byte {
	var b []byte
	for range repeat {
		for i := range 256 {
			b = append(b, byte(i))
		}
		b = append(b, 0xff, 0xff, 0xff)
	}
	return b
}

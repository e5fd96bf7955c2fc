package mqttview

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview/topic"
)

// broker is a peer the viewer is tested against: the embedded local cloud
// or mosquitto, both on loopback with client certificates required.
type broker interface {
	url() string
	tlsConfig(t *testing.T) *tls.Config
	restart(t *testing.T) // stop, then start again on the same port
}

// --- the local cloud ---

type cloudBroker struct {
	c    *localcloud.Cloud
	b    *localcloud.Broker
	addr string
}

func startCloudBroker(t *testing.T) *cloudBroker {
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cb := &cloudBroker{c: c}
	cb.serve(t, "127.0.0.1:0")
	t.Cleanup(func() { cb.b.Close(); c.Close() })
	return cb
}

func (cb *cloudBroker) serve(t *testing.T, addr string) {
	b, err := cb.c.Serve(localcloud.ServeOptions{Addr: addr, Advertise: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cb.b, cb.addr = b, b.Addr().String()
}

func (cb *cloudBroker) url() string { return "mqtts://" + cb.addr }

func (cb *cloudBroker) tlsConfig(t *testing.T) *tls.Config {
	tc, err := cb.c.ViewerTLS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func (cb *cloudBroker) restart(t *testing.T) {
	cb.b.Close()
	cb.serve(t, cb.addr)
}

// --- mosquitto ---

// mosquittoBroker runs Debian's mosquitto on a free loopback port with a
// generated config that requires client certificates from a test CA.
type mosquittoBroker struct {
	pki  *testPKI
	conf string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startMosquitto(t *testing.T) *mosquittoBroker {
	path, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, e := os.Stat(p); e == nil {
				path, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto is not installed: .ci/run must apt-get install mosquitto mosquitto-clients")
		}
		t.Skip("mosquitto not installed (apt-get install mosquitto)")
	}
	m := &mosquittoBroker{pki: newTestPKI(t), port: freePort(t)}
	m.conf = filepath.Join(m.pki.dir, "mosquitto.conf")
	conf := fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
allow_anonymous true
persistence false
log_dest stderr
log_type error
`, m.port, m.pki.caPath, m.pki.srvCert, m.pki.srvKey)
	if os.Geteuid() == 0 {
		// Started as root, mosquitto drops to user "mosquitto", which
		// cannot read the test's 0600 key.
		conf += "user root\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(t, path)
	t.Cleanup(m.stop)
	return m
}

func (m *mosquittoBroker) start(t *testing.T, path string) {
	m.cmd = exec.Command(path, "-c", m.conf)
	var stderr bytes.Buffer
	m.cmd.Stderr = &stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.done = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-m.done:
			t.Fatalf("mosquitto exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mosquittoBroker) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(3 * time.Second):
			m.cmd.Process.Kill()
			<-m.done
		}
	}
}

func (m *mosquittoBroker) url() string { return fmt.Sprintf("mqtts://127.0.0.1:%d", m.port) }

func (m *mosquittoBroker) tlsConfig(*testing.T) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{m.pki.client}, RootCAs: m.pki.pool}
}

func (m *mosquittoBroker) restart(t *testing.T) {
	m.stop()
	m.start(t, m.cmd.Path)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// --- the suite ---

func newViewer(t *testing.T, br broker, mod func(*Config)) *Viewer {
	t.Helper()
	cfg := Config{Broker: br.url(), TLS: br.tlsConfig(t), MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, ConnectTimeout: 3 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return v
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestViewerAgainstLocalCloud(t *testing.T) { runSuite(t, startCloudBroker(t)) }
func TestViewerAgainstMosquitto(t *testing.T)  { runSuite(t, startMosquitto(t)) }

func runSuite(t *testing.T, br broker) {
	ctx := context.Background()
	t.Run("subscribe-publish", func(t *testing.T) {
		v := newViewer(t, br, nil)
		pub := newViewer(t, br, nil)
		if err := v.Subscribe(ctx, "suite/pubsub/#"); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, "suite/pubsub/a", []byte(`{"t":1}`), 1, false); err != nil {
			t.Fatal(err)
		}
		bin := []byte{0x00, 0xff, 0x80, 0x1b}
		if err := pub.Publish(ctx, "suite/pubsub/bin", bin, 0, false); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "both messages", func() bool { return v.Store().Totals().Messages == 2 })
		st, _ := v.Store().Topic("suite/pubsub/a")
		if st.Count != 1 || string(st.Payload) != `{"t":1}` || st.Retained {
			t.Fatalf("stats %+v", st)
		}
		b, _ := v.Store().Topic("suite/pubsub/bin")
		if !bytes.Equal(b.Payload, bin) || FormatPayload(b.Payload, true, 0) != "hex:00 ff 80 1b" {
			t.Fatalf("binary payload %q shown as %s", b.Payload, FormatPayload(b.Payload, true, 0))
		}
	})

	t.Run("big-payload-and-long-topic", func(t *testing.T) {
		v := newViewer(t, br, nil)
		pub := newViewer(t, br, func(c *Config) { c.AWS = true })
		// 8 levels, 256 bytes: exactly AWS's limits.
		long := "suite/long/" + strings.Repeat("x", 10) + "/a/b/c/d/"
		long += strings.Repeat("y", topic.MaxBytes-len(long))
		if len(long) != topic.MaxBytes || strings.Count(long, "/") != topic.MaxSlashes {
			t.Fatalf("test topic is %d bytes, %d slashes", len(long), strings.Count(long, "/"))
		}
		if err := v.Subscribe(ctx, "suite/long/#"); err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("0123456789abcdef"), topic.MaxPayload/16)
		if err := pub.Publish(ctx, long, big, 1, false); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "the 128 KB message", func() bool {
			st, ok := v.Store().Topic(long)
			return ok && bytes.Equal(st.Payload, big)
		})
		var ie *InputError
		if err := pub.Publish(ctx, long+"z", []byte("x"), 0, false); !errors.As(err, &ie) {
			t.Errorf("a 257-byte topic to AWS: %v", err)
		}
		if err := pub.Publish(ctx, "suite/long/x", append(big, 'x'), 0, false); !errors.As(err, &ie) {
			t.Errorf("a payload over 128 KB to AWS: %v", err)
		}
		if err := pub.Subscribe(ctx, "#"); !errors.As(err, &ie) {
			t.Errorf("'#' on AWS: %v", err)
		}
	})

	t.Run("retained-and-clear", func(t *testing.T) {
		pub := newViewer(t, br, nil)
		if err := pub.Publish(ctx, "suite/retained/state", []byte("on"), 1, true); err != nil {
			t.Fatal(err)
		}
		v := newViewer(t, br, nil)
		if err := v.Subscribe(ctx, "suite/retained/state"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "the retained message", func() bool {
			st, ok := v.Store().Topic("suite/retained/state")
			return ok && st.Retained && string(st.Payload) == "on"
		})
		if err := pub.ClearRetained(ctx, "suite/retained/state"); err != nil {
			t.Fatal(err)
		}
		v2 := newViewer(t, br, nil)
		if err := v2.Subscribe(ctx, "suite/retained/state"); err != nil {
			t.Fatal(err)
		}
		// A marker after the subscription: once it arrived, a retained
		// message would have arrived before it.
		pub.Publish(ctx, "suite/retained/marker", []byte("m"), 1, false)
		v2.Subscribe(ctx, "suite/retained/marker")
		pub.Publish(ctx, "suite/retained/marker", []byte("m"), 1, false)
		eventually(t, 3*time.Second, "the marker", func() bool { _, ok := v2.Store().Topic("suite/retained/marker"); return ok })
		// The clear itself may reach v2 as an ordinary empty message: the
		// broker acknowledges a publish before fanning it out, so v2's
		// subscription can be in place by then. What must not come is a
		// retained message, or the old payload.
		if st, ok := v2.Store().Topic("suite/retained/state"); ok && (st.Retained || len(st.Payload) > 0 || st.Count > 1) {
			t.Fatalf("cleared retained message still delivered: %+v", st)
		}
	})

	t.Run("history-bounded", func(t *testing.T) {
		v := newViewer(t, br, func(c *Config) { c.Limits = Limits{History: 10} })
		pub := newViewer(t, br, nil)
		v.Subscribe(ctx, "suite/hist")
		for i := 0; i < 50; i++ {
			pub.Publish(ctx, "suite/hist", []byte(fmt.Sprintf(`{"i":%d}`, i)), 1, false)
		}
		eventually(t, 3*time.Second, "50 messages", func() bool { st, _ := v.Store().Topic("suite/hist"); return st.Count == 50 })
		h := v.Store().History("suite/hist")
		if len(h) != 10 || string(h[9].Payload) != `{"i":49}` {
			t.Fatalf("history of %d, last %s", len(h), h[len(h)-1].Payload)
		}
	})

	// Last: it restarts the broker.
	t.Run("reconnect-after-restart", func(t *testing.T) {
		var mu sync.Mutex
		var states []State
		v := newViewer(t, br, func(c *Config) {
			c.OnState = func(s State) { mu.Lock(); states = append(states, s); mu.Unlock() }
		})
		if err := v.Subscribe(ctx, "suite/restart"); err != nil {
			t.Fatal(err)
		}
		br.restart(t)
		back := time.Now()
		eventually(t, 2*time.Second, "reconnected and re-subscribed within 2 s of the broker's restart", func() bool {
			return v.State().Status == StatusConnected && time.Since(back) > 0 && sawDrop(&mu, &states)
		})
		resub := time.Since(back)
		pub := newViewer(t, br, nil)
		if err := pub.Publish(ctx, "suite/restart", []byte("after"), 1, false); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "a message after the restart", func() bool { st, ok := v.Store().Topic("suite/restart"); return ok && string(st.Payload) == "after" })
		t.Logf("re-subscribed %s after the broker was back", resub.Round(time.Millisecond))
		mu.Lock()
		defer mu.Unlock()
		var drop *State
		for i := range states {
			if states[i].Status == StatusDisconnected {
				drop = &states[i]
				break
			}
		}
		if drop == nil || drop.Reason == "" {
			t.Fatalf("the drop was not visible with a reason: %+v", states)
		}
		t.Logf("drop shown as: %s", drop)
	})
}

func sawDrop(mu *sync.Mutex, states *[]State) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, s := range *states {
		if s.Status == StatusDisconnected {
			return true
		}
	}
	return false
}

func TestBadConnections(t *testing.T) {
	m := startMosquitto(t)
	ctx := context.Background()
	try := func(cfg Config) *ConnectError {
		t.Helper()
		if cfg.Broker == "" {
			cfg.Broker = m.url()
		}
		cfg.ConnectTimeout = 3 * time.Second
		v, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		err = v.Connect(ctx)
		var ce *ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("want a ConnectError, got %v", err)
		}
		if v.State().Status != StatusDisconnected || v.State().Reason == "" {
			t.Errorf("state after a failed connect: %+v", v.State())
		}
		return ce
	}
	other := newTestPKI(t)
	ce := try(Config{TLS: &tls.Config{Certificates: []tls.Certificate{m.pki.client}, RootCAs: other.pool}})
	if ce.Stage != "tls" || !strings.Contains(ce.Error(), "not signed by a CA we trust") {
		t.Errorf("wrong CA: %v", ce)
	}
	// mosquitto (OpenSSL, TLS 1.3) resets the connection instead of
	// sending an alert we could read: the verdict arrives after CONNECT.
	for name, cert := range map[string][]tls.Certificate{"expired": {m.pki.expired}, "another CA": {m.pki.stranger}, "none": nil} {
		ce = try(Config{TLS: &tls.Config{Certificates: cert, RootCAs: m.pki.pool}})
		if !(ce.Stage == "tls" || ce.ClosedAfterConnect) || !strings.Contains(ce.Error(), "client certificate") {
			t.Errorf("client certificate %s: %v", name, ce)
		}
	}
	ce = try(Config{Broker: fmt.Sprintf("mqtts://127.0.0.1:%d", freePort(t))})
	if ce.Stage != "dial" || !strings.Contains(ce.Error(), "nothing listens there") {
		t.Errorf("closed port: %v", ce)
	}
	ce = try(Config{TLS: &tls.Config{Certificates: []tls.Certificate{m.pki.client}, RootCAs: m.pki.pool, ServerName: "elsewhere.example"}})
	if ce.Stage != "tls" || !strings.Contains(ce.Error(), "does not name") {
		t.Errorf("wrong server name: %v", ce)
	}
	if _, err := New(Config{Broker: "http://x"}); err == nil {
		t.Error("http:// accepted")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	cb := startCloudBroker(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		cfg := Config{Broker: cb.url(), TLS: cb.tlsConfig(t), MinBackoff: 20 * time.Millisecond}
		v, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		v.Subscribe(context.Background(), "x/#")
		v.Close()
	}
	// A viewer whose first attempt fails leaves nothing behind either.
	v, _ := New(Config{Broker: fmt.Sprintf("mqtt://127.0.0.1:%d", freePort(t))})
	v.Connect(context.Background())
	v.Close()
	eventually(t, 3*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+1 })
}

func TestSilentHostTimesOut(t *testing.T) {
	// Accepts TCP and never answers: what a firewall that swallows the
	// TLS handshake, or a wrong host, looks like.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	v, _ := New(Config{Broker: "mqtts://" + l.Addr().String(), ConnectTimeout: 300 * time.Millisecond})
	defer v.Close()
	start := time.Now()
	err = v.Connect(context.Background())
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != "tls" || !strings.Contains(ce.Error(), "no answer in time") {
		t.Fatalf("silent host: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %s: the connect timeout was 300 ms", time.Since(start))
	}
}

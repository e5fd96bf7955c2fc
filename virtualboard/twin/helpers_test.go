package twin

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard"
)

// endpointHost is an AWS-style ATS endpoint name; tests resolve it to
// loopback, nothing leaves the machine.
const endpointHost = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"

// pki is a test CA with a broker certificate and one device identity.
type pki struct {
	caCert   *x509.Certificate
	caKey    crypto.Signer
	server   tls.Certificate
	devCert  []byte // DER
	devKey   []byte // DER: SEC 1 (EC) or PKCS#1 (RSA)
	devThing string
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return n
}

func newCA(t testing.TB, name string) (*x509.Certificate, crypto.Signer) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func issue(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, cn string, pub crypto.PublicKey, dns []string, usage x509.ExtKeyUsage) []byte {
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// newPKI makes a CA, a broker certificate for host and a device identity;
// rsaKey selects an RSA-2048 PKCS#1 key (what AWS generates) over EC P-256.
func newPKI(t testing.TB, thing, host string, rsaKey bool) *pki {
	caCert, caKey := newCA(t, "iotbench test CA")
	skey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sder := issue(t, caCert, caKey, host, skey.Public(), []string{host}, x509.ExtKeyUsageServerAuth)
	p := &pki{caCert: caCert, caKey: caKey, server: tls.Certificate{Certificate: [][]byte{sder}, PrivateKey: skey}, devThing: thing}
	p.devKey, p.devCert = deviceIdentity(t, caCert, caKey, thing, rsaKey)
	return p
}

func deviceIdentity(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, thing string, rsaKey bool) (keyDER, certDER []byte) {
	var k crypto.Signer
	if rsaKey {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k, keyDER = rk, x509.MarshalPKCS1PrivateKey(rk)
	} else {
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.MarshalECPrivateKey(ek)
		if err != nil {
			t.Fatal(err)
		}
		k, keyDER = ek, der
	}
	return keyDER, issue(t, ca, caKey, thing, k.Public(), nil, x509.ExtKeyUsageClientAuth)
}

// brokerOpts choose how the test broker (a stand-in for AWS IoT) treats
// the device.
type brokerOpts struct {
	rejectCertTLS  bool // refuse the client certificate in the handshake (inactive/revoked, variant a)
	hangUpConnect  bool // close after CONNECT without CONNACK (AWS: inactive cert variant b, no policy)
	refuseConnect  bool // CONNACK "not authorized" (an emulator's answer to a denied connect)
	denyPublish    bool // drop the client when it publishes (AWS: policy denies iot:Publish)
	wrongThingOnly bool // admit only client IDs equal to the certificate's CN
}

type broker struct {
	srv  *mochi.Server
	port int
	mu   sync.Mutex
	msgs []packets.Packet
	got  chan struct{}
}

type policyHook struct {
	mochi.HookBase
	o brokerOpts
}

func (h *policyHook) ID() string { return "test-policy" }

func (h *policyHook) Provides(b byte) bool {
	return b == mochi.OnConnect || b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnPacketRead
}

func (h *policyHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok || len(tc.ConnectionState().PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	if h.o.hangUpConnect || tc.ConnectionState().PeerCertificates[0].Subject.CommonName != cl.ID {
		return errors.New("not authorized")
	}
	return nil
}

func (h *policyHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	return cl.Net.Inline || !h.o.refuseConnect
}

func (h *policyHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool { return true }

func (h *policyHook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if h.o.denyPublish && pk.FixedHeader.Type == packets.Publish && !cl.Net.Inline {
		return pk, packets.ErrRejectPacket // mochi drops the client, as AWS does
	}
	return pk, nil
}

// drainListener is a TLS listener for mochi that can be stopped before the
// server: mochi's Close counts clients with a WaitGroup that attachClient
// adds to, so a connection accepted while Close waits is a data race
// (the twins keep reconnecting until the very end of a fault test). Adds
// here happen only in the accept loop, so after it has stopped, waiting
// for every establish call to return leaves mochi nothing to race with.
type drainListener struct {
	id     string
	cfg    *tls.Config
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	served chan struct{}
	once   sync.Once
}

func (l *drainListener) ID() string       { return l.id }
func (l *drainListener) Address() string  { return l.ln.Addr().String() }
func (l *drainListener) Protocol() string { return "tcp" }

func (l *drainListener) Init(*slog.Logger) error {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", l.cfg)
	l.ln, l.conns, l.served = ln, map[net.Conn]struct{}{}, make(chan struct{})
	return err
}

func (l *drainListener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			establish(l.id, c)
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			c.Close()
		}()
	}
}

// stop ends accepting and every connection, and waits for them.
func (l *drainListener) stop() {
	l.once.Do(func() {
		l.ln.Close()
		<-l.served
		l.mu.Lock()
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
}

func (l *drainListener) Close(closeClients listeners.CloseFn) {
	closeClients(l.id)
	l.stop()
}

// startBroker runs mochi on 127.0.0.1:0 with mutual TLS (the device CA as
// the only client CA) and records what reaches filter.
func startBroker(t testing.TB, p *pki, o brokerOpts, filter string) *broker {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	if o.rejectCertTLS {
		cfg.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error { return errors.New("certificate is INACTIVE") }
	}
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(&policyHook{o: o}, nil); err != nil {
		t.Fatal(err)
	}
	l := &drainListener{id: "mtls", cfg: cfg}
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.stop()
		srv.Close()
	})
	_, ps, _ := net.SplitHostPort(l.Address())
	port, _ := strconv.Atoi(ps)
	b := &broker{srv: srv, port: port, got: make(chan struct{}, 1)}
	if err := srv.Subscribe(filter, 1, func(cl *mochi.Client, sub packets.Subscription, pk packets.Packet) {
		b.mu.Lock()
		b.msgs = append(b.msgs, pk)
		b.mu.Unlock()
		select {
		case b.got <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *broker) messages() []packets.Packet {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]packets.Packet(nil), b.msgs...)
}

// waitMessages waits until n messages arrived.
func (b *broker) waitMessages(t testing.TB, n int, timeout time.Duration) []packets.Packet {
	t.Helper()
	deadline := time.After(timeout)
	for len(b.messages()) < n {
		select {
		case <-b.got:
		case <-deadline:
			t.Fatalf("%d of %d messages after %v", len(b.messages()), n, timeout)
		}
	}
	return b.messages()
}

// files are the board's filesystem contents.
func (p *pki) files(t testing.TB, cfg *firmware.Config) map[string][]byte {
	ca := p.caCert.Raw
	return map[string][]byte{firmware.ConfigFile: cfg.Marshal(), firmware.CertFile: p.devCert, firmware.KeyFile: p.devKey, firmware.CAFile: ca}
}

func testConfig(thing string, port int) *firmware.Config {
	return &firmware.Config{Schema: firmware.SchemaVersion, WiFi: firmware.WiFi{SSID: "bench", Password: "password1"},
		Endpoint: firmware.Endpoint{Host: endpointHost, Port: port}, Thing: thing,
		Topics:           firmware.Topics{Telemetry: firmware.TelemetryTopic(thing), Command: firmware.CommandTopic(thing)},
		PublishIntervalS: 2,
		Sensors: []firmware.Sensor{{Type: firmware.SensorFake, Name: "fake", Pin: -1, IntervalS: 1},
			{Type: firmware.SensorAnalogLight, Name: "light", Pin: 17, IntervalS: 2}},
		TLS: firmware.TLS{RxBuffer: firmware.DefaultRxBuffer}}
}

// fsImage builds the filesystem image for layout l.
func fsImage(t testing.TB, kind layout.FSKind, l layout.ESP8266Layout, files map[string][]byte) []byte {
	var fl []fstree.File
	for _, n := range []string{firmware.ConfigFile, firmware.CertFile, firmware.KeyFile, firmware.CAFile} {
		if d, ok := files[n]; ok {
			fl = append(fl, fstree.File{Path: "/" + n, Data: d})
		}
	}
	tree, err := fstree.FromFiles(fl)
	if err != nil {
		t.Fatal(err)
	}
	g, err := fsimage.ForESP8266(l)
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Unix(1700000000, 0)
	img, err := fsimage.Build(kind, tree, g, fsimage.BuildOptions{FixedTime: &fixed})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// appImage is a minimal valid ESP8266 image: the ROM loads it and hands
// over to the App.
func appImage(t testing.TB, flashSize string) []byte {
	b, err := image.NewBuilder(image.ChipESP8266)
	if err != nil {
		t.Fatal(err)
	}
	b.Entry = 0x40100004
	b.FlashMode, b.FlashSize, b.FlashFreq = "dio", flashSize, "40m"
	b.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 1024)}}
	img, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// console collects the board's serial output at 74880 baud, line by line.
type console struct {
	mu    sync.Mutex
	lines []string
	part  strings.Builder
	ch    chan struct{}
}

func readConsole(t testing.TB, p *virtualboard.HostPort) *console {
	return readConsoleAt(t, p, 74880)
}

func readConsoleAt(t testing.TB, p *virtualboard.HostPort, baud int) *console {
	c := &console{ch: make(chan struct{}, 1)}
	if err := p.SetBaudRate(baud); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(p)
		for {
			s, err := r.ReadString('\n')
			c.mu.Lock()
			c.part.WriteString(s)
			if strings.HasSuffix(s, "\n") {
				c.lines = append(c.lines, strings.TrimRight(c.part.String(), "\r\n"))
				c.part.Reset()
			}
			c.mu.Unlock()
			select {
			case c.ch <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *console) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func (c *console) count(substr string) int {
	n := 0
	for _, l := range c.all() {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// waitCount waits until n lines contain substr.
func (c *console) waitCount(t testing.TB, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for c.count(substr) < n {
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("%d of %d lines with %q after %v; log:\n%s", c.count(substr), n, substr, timeout, strings.Join(c.all(), "\n"))
		}
	}
}

func (c *console) wait(t testing.TB, substr string) { c.waitCount(t, substr, 1, 20*time.Second) }

// checkStatusLines fails on any malformed #IB line.
func (c *console) checkStatusLines(t testing.TB) {
	t.Helper()
	for _, l := range c.all() {
		if _, ok, err := firmware.ParseStatus(l); ok && err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

// bench is a virtual board running the twin, its console and the broker.
type bench struct {
	board   *virtualboard.Board
	port    *virtualboard.HostPort
	console *console
}

// loopback resolves every host name to 127.0.0.1.
func loopback(context.Context, string) (string, error) { return "127.0.0.1", nil }

// newBench makes a board running the twin with o, loads app and fs image
// into its flash directly and resets it into flash boot.
func newBench(t testing.TB, o Options, flashSize int, fsOffset uint32, fsImg []byte) *bench {
	t.Helper()
	return startBench(t, o, virtualboard.Config{FlashSize: flashSize}, 74880, func(f *virtualboard.Flash) {
		f.Load(0, appImage(t, "4MB"))
		if fsImg != nil {
			f.Load(fsOffset, fsImg)
		}
	})
}

// startBench makes a board of cfg running the twin with o, has load fill
// its flash, and boots it, its console read at baud.
func startBench(t testing.TB, o Options, cfg virtualboard.Config, baud int, load func(*virtualboard.Flash)) *bench {
	t.Helper()
	if o.Resolve == nil {
		o.Resolve = loopback
	}
	cfg.Speed, cfg.App = 50, App(o)
	b, err := virtualboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// Hold RESET while the flash is loaded, so the power-on boot cannot
	// run half-loaded flash; releasing it boots from flash.
	b.PressReset(true)
	load(b.Flash())
	c := readConsoleAt(t, p, baud)
	b.PressReset(false)
	return &bench{board: b, port: p, console: c}
}

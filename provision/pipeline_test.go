package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard"
)

// testCloud is a cloud for the pipeline's own tests: identities from a
// test CA, and a topic the test application publishes to directly. The
// real clouds (local broker, AWS emulator) are exercised by the
// end-to-end tests; this one lets the pipeline's logic be tested alone.
type testCloud struct {
	t       *testing.T
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	caDER   []byte
	mu      sync.Mutex
	ids     map[string]*Identity
	created int
	subs    map[string][]chan Message
	facts   doctor.CloudFacts
}

func newTestCloud(t *testing.T) *testCloud {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testCloud{t: t, ca: ca, caKey: key, caDER: der, ids: map[string]*Identity{}, subs: map[string][]chan Message{}}
}

func (c *testCloud) Kind() string { return "local" }

func (c *testCloud) EnsureIdentity(ctx context.Context, req IdentityRequest, note func(string)) (*Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.ids[req.Thing]; ok {
		cp := *id
		cp.Reused = true
		return &cp, nil
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c.created++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(c.created + 1)), Subject: pkix.Name{CommonName: req.Thing},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		return nil, err
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	note("created certificate for " + req.Thing)
	id := &Identity{Thing: req.Thing, CertificateID: fmt.Sprintf("cert%d", c.created), Endpoint: "broker.test", Port: 8883, CertDER: der, KeyDER: kder, CADER: c.caDER}
	c.ids[req.Thing] = id
	return id, nil
}

func (c *testCloud) Watch(ctx context.Context, topic string) (<-chan Message, error) {
	ch := make(chan Message, 16)
	c.mu.Lock()
	c.subs[topic] = append(c.subs[topic], ch)
	c.mu.Unlock()
	return ch, nil
}

func (c *testCloud) publish(topic string, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.subs[topic] {
		select {
		case ch <- Message{Topic: topic, Payload: payload, At: time.Now()}:
		default:
		}
	}
}

func (c *testCloud) Facts(ctx context.Context, q FactsQuery) *doctor.CloudFacts {
	f := c.facts
	f.Cloud, f.Thing, f.ClientID, f.Topic = "local", q.Thing, q.ClientID, q.Topic
	return &f
}

// testApp mounts the filesystem where layout 4M2M puts it, reads
// config.json and "publishes" to the test cloud: the pipeline's view of a
// firmware, without the network.
func testApp(c *testCloud, faultClock bool) virtualboard.App {
	return func(ctx context.Context, env *virtualboard.AppEnv) {
		env.Begin(firmware.SerialBaud)
		// Like a sketch's delay() after Serial.begin: with the board's
		// clock sped up, the host needs a moment to leave the ROM's 74880.
		env.Sleep(ctx, time.Second)
		env.Print("\r\n#IB boot app=test ver=0 reason=6\r\n")
		l, _ := layout.ESP8266("4M2M")
		img := env.Flash().Read(l.FS.Offset, int(l.FS.Size))
		fs, err := fsimage.Open(img, "")
		if err != nil {
			env.Print("#IB fs ok=0\r\n")
			return
		}
		cfgBytes, err := fs.ReadFile("/" + firmware.ConfigFile)
		if err != nil {
			env.Print("#IB fs ok=0\r\n")
			return
		}
		env.Print("#IB fs ok=1 files=config.json,cert.der,private.der,ca.der\r\n")
		cfg, err := firmware.Parse(cfgBytes)
		if err != nil {
			env.Print("#IB cfg ok=0\r\n")
			return
		}
		env.Printf("#IB cfg ok=1 thing=%s\r\n", cfg.Thing)
		env.Print("#IB wifi status=3 ip=10.0.0.2 rssi=-50 ch=1\r\n")
		for i := 0; ; i++ {
			if faultClock {
				env.Print("#IB ntp synced=0 waited_ms=30000\r\n")
			} else {
				env.Print("#IB ntp synced=1 epoch=1795600800 waited_ms=100\r\n#IB tls ok=1\r\n#IB mqtt state=0\r\n")
				env.Printf("#IB pub topic=%s bytes=20 ok=1\r\n", cfg.Topics.Telemetry)
				env.Flush(ctx)
				c.publish(cfg.Topics.Telemetry, []byte(fmt.Sprintf(`{"thing":%q,"seq":%d}`, cfg.Thing, i)))
			}
			if env.Sleep(ctx, 10*time.Second) != nil {
				return
			}
		}
	}
}

func appImage(t *testing.T) []byte {
	b, err := image.NewBuilder(image.ChipESP8266)
	if err != nil {
		t.Fatal(err)
	}
	b.Entry = 0x40100004
	b.FlashMode, b.FlashSize, b.FlashFreq = "dio", "4MB", "40m"
	b.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 4096)}}
	img, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func board(t *testing.T, app virtualboard.App, mac byte) (*virtualboard.Board, Target) {
	return boardWith(t, virtualboard.Config{App: app}, mac)
}

// boardWith is a virtual board of cfg (clock ×50, MAC ending in mac)
// and the target that opens it in-process.
func boardWith(t *testing.T, cfg virtualboard.Config, mac byte) (*virtualboard.Board, Target) {
	cfg.Speed, cfg.MAC = 50, [6]byte{0x18, 0xfe, 0x34, 0xa1, 0xb2, mac}
	b, err := virtualboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, Target{Name: fmt.Sprintf("vb%d", mac), Port: "virtual", Open: func(ctx context.Context, baud int) (flasher.Port, error) {
		p, err := b.Port()
		if err != nil {
			return nil, err
		}
		return p, p.SetBaudRate(baud)
	}}
}

func options(t *testing.T, c Cloud, app []byte) Options {
	led, err := OpenLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens for the test cloud's endpoint: the doctor's TLS
	// probe gets a refused connection on loopback, never a DNS lookup.
	closed := func(ctx context.Context, network, _ string) (net.Conn, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return Options{Cloud: c, Dial: closed, WiFi: firmware.WiFi{SSID: "bench", Password: "password1"}, Layout: "4M2M", App: app,
		TimeoutScale: 0.05, BootTimeout: 20 * time.Second, SettleAfterError: 2 * time.Second, Ledger: led}
}

func collect() (func(Event), func() []Event) {
	var mu sync.Mutex
	var evs []Event
	return func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() },
		func() []Event { mu.Lock(); defer mu.Unlock(); return append([]Event(nil), evs...) }
}

func TestPipelineVerifiesAndRerunIsNoOp(t *testing.T) {
	c := newTestCloud(t)
	_, tgt := board(t, testApp(c, false), 1)
	o := options(t, c, appImage(t))
	emit, events := collect()
	res := Run(context.Background(), tgt, o, emit)
	if !res.Verified {
		t.Fatalf("not verified: %s\nsteps: %+v", res.Error, res.Steps)
	}
	if res.Thing != "esp8266-a1b201" || res.NoChange {
		t.Fatalf("thing %q, no-change %v", res.Thing, res.NoChange)
	}
	var order []StepID
	for _, s := range res.Steps {
		order = append(order, s.Step)
		if s.Status != KindDone {
			t.Errorf("first run: step %s %s (%s)", s.Step, s.Status, s.Message)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint(Steps) {
		t.Fatalf("steps %v, want %v", order, Steps)
	}
	var sawProgress, sawVerified bool
	for _, e := range events() {
		sawProgress = sawProgress || e.Step == StepFlash && e.Kind == KindProgress && e.Total > 0
		sawVerified = sawVerified || e.Kind == KindVerified
	}
	if !sawProgress || !sawVerified {
		t.Errorf("events: progress %v verified %v", sawProgress, sawVerified)
	}
	rec, err := o.Ledger.Get(res.MAC)
	if err != nil || rec == nil || rec.Thing != res.Thing || len(rec.Flashed) != 2 || rec.VerifiedAt.IsZero() {
		t.Fatalf("ledger: %+v %v", rec, err)
	}

	// Again: nothing to create or write; the board is verified again.
	res2 := Run(context.Background(), tgt, o, nil)
	if !res2.Verified || !res2.NoChange {
		t.Fatalf("re-run: verified %v no-change %v: %s %+v", res2.Verified, res2.NoChange, res2.Error, res2.Steps)
	}
	for _, s := range res2.Steps {
		if (s.Step == StepIdentity || s.Step == StepFlash) && s.Status != KindSkipped {
			t.Errorf("re-run: %s %s (%s)", s.Step, s.Status, s.Message)
		}
	}
	if c.created != 1 {
		t.Errorf("identities created: %d", c.created)
	}
}

// The ledger is not the truth: flash changed behind its back is rewritten.
func TestPipelineNoticesChangedFlash(t *testing.T) {
	c := newTestCloud(t)
	b, tgt := board(t, testApp(c, false), 2)
	o := options(t, c, appImage(t))
	if res := Run(context.Background(), tgt, o, nil); !res.Verified {
		t.Fatalf("first run: %s", res.Error)
	}
	l, _ := layout.ESP8266("4M2M")
	b.Flash().Load(l.FS.Offset, make([]byte, flasher.SectorSize))
	res := Run(context.Background(), tgt, o, nil)
	if !res.Verified || res.NoChange {
		t.Fatalf("second run: verified %v no-change %v: %s", res.Verified, res.NoChange, res.Error)
	}
	for _, s := range res.Steps {
		if s.Step == StepFlash && (s.Status != KindDone || !strings.Contains(s.Message, "filesystem")) {
			t.Errorf("flash step: %s %s", s.Status, s.Message)
		}
	}
}

func TestPipelineFailureNamesCause(t *testing.T) {
	c := newTestCloud(t)
	_, tgt := board(t, testApp(c, true), 3)
	o := options(t, c, appImage(t))
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified {
		t.Fatal("verified although the clock never synced")
	}
	if res.Report == nil || res.Report.Top() == nil || res.Report.Top().Code != doctor.SymClock {
		t.Fatalf("report: %+v", res.Report)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Status != KindFailed || !strings.Contains(last.Message, "NTP") {
		t.Fatalf("last step: %+v", last)
	}
}

func TestPipelineWrongFSOffset(t *testing.T) {
	c := newTestCloud(t)
	_, tgt := board(t, testApp(c, false), 4)
	o := options(t, c, appImage(t))
	wrong := uint32(0x100000)
	o.FSOffset = &wrong
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified {
		t.Fatal("verified with the filesystem in the wrong place")
	}
	top := res.Report.Top()
	if top.Code != "fs.wrong_place" || !strings.Contains(top.Summary, "0x100000") {
		t.Fatalf("top finding %s: %s\n%+v", top.Code, top.Summary, res.Report.Findings)
	}
}

func TestRunAllParallel(t *testing.T) {
	c := newTestCloud(t)
	var targets []Target
	for i := byte(10); i < 14; i++ {
		_, tgt := board(t, testApp(c, false), i)
		targets = append(targets, tgt)
	}
	o := options(t, c, appImage(t))
	res, err := RunAll(context.Background(), targets, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	things := map[string]bool{}
	for _, r := range res {
		if !r.Verified {
			t.Errorf("%s: %s", r.Board, r.Error)
			for _, s := range r.Steps {
				t.Logf("  %s %s %v %s", s.Step, s.Status, s.Duration, s.Message)
			}
			if r.Report != nil {
				for _, e := range r.Report.Timeline {
					t.Logf("    %s %s", e.Source, e.Text)
				}
			}
		}
		things[r.Thing] = true
	}
	if len(things) != 4 || c.created != 4 {
		t.Fatalf("things %v, created %d", things, c.created)
	}
}

// Examining a provisioned board writes nothing and sees it publish; a
// board the ledger does not know is examined from its log alone.
func TestExamine(t *testing.T) {
	c := newTestCloud(t)
	b, tgt := board(t, testApp(c, false), 40)
	o := options(t, c, appImage(t))
	if res := Run(context.Background(), tgt, o, nil); !res.Verified {
		t.Fatalf("provision: %s", res.Error)
	}
	erases, programs := b.Flash().Stats()
	res := Examine(context.Background(), tgt, o, nil)
	if !res.Verified || res.Thing != "esp8266-a1b228" {
		t.Fatalf("examine: verified %v thing %q: %s %+v", res.Verified, res.Thing, res.Error, res.Steps)
	}
	if e2, p2 := b.Flash().Stats(); e2 != erases || p2 != programs {
		t.Fatalf("examine wrote flash: erases %d→%d programs %d→%d", erases, e2, programs, p2)
	}
	if c.created != 1 {
		t.Fatalf("identities created: %d", c.created)
	}

	// Another bench (empty ledger): the log says it publishes, nobody
	// watched, so not verified, and nothing is wrong on the serial side.
	o2 := options(t, c, nil)
	res = Examine(context.Background(), tgt, o2, nil)
	if res.Verified || res.Report == nil {
		t.Fatalf("examine without ledger: %+v", res)
	}
	for _, f := range res.Report.Findings {
		if f.Level == "error" {
			t.Errorf("finding on a healthy board: %s %s", f.Code, f.Summary)
		}
	}
}

// A firmware that crashes at start-up: the board resets in a loop, the
// pipeline stops waiting and the doctor names the crash, decoded.
func TestPipelineBootLoop(t *testing.T) {
	c := newTestCloud(t)
	crash := func(ctx context.Context, env *virtualboard.AppEnv) {
		env.Begin(firmware.SerialBaud)
		env.Sleep(ctx, time.Second)
		env.Print("\r\n#IB boot app=test ver=0 reason=2\r\n")
		env.Print("\r\nException (28):\r\nepc1=0x40201234 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000000 depc=0x00000000\r\n\r\n>>>stack>>>\r\n\r\nctx: cont\r\nsp: 3ffffdc0 end: 3fffffc0 offset: 0190\r\n3ffffdd0:  40201234 00000000 00000000 00000000\r\n<<<stack<<<\r\n\r\n")
		env.Flush(ctx)
		env.Restart()
	}
	_, tgt := board(t, crash, 50)
	o := options(t, c, appImage(t))
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified {
		t.Fatal("verified a crashing board")
	}
	top := res.Report.Top()
	if top.Code != doctor.SymCrash || !strings.Contains(top.Summary, "28") {
		t.Fatalf("top finding %s: %s\n%+v", top.Code, top.Summary, res.Report.Findings)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Status != KindFailed {
		t.Fatalf("last step %+v", last)
	}
}

package provision

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// End to end: virtual boards running the reference firmware's twin (real
// LittleFS mount, real mutual TLS, real MQTT) provisioned by the pipeline
// against a real broker on loopback. The boards' clocks run e2eSpeed
// times faster than real time; the pipeline's serial timeouts are scaled
// to match.

const e2eSpeed = 50

// broker is a local cloud serving on loopback, with the broker's
// decisions kept for the test.
type broker struct {
	cloud *localcloud.Cloud
	b     *localcloud.Broker
	mu    sync.Mutex
	evs   []localcloud.Event
	// also receives every decision (the local cloud adapter's Observe).
	also func(localcloud.Event)
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := &broker{cloud: c}
	// The board connects to "localhost", a name the broker's certificate
	// covers and the twin resolves to loopback.
	b, err := c.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0", Advertise: "localhost", RevokeCheck: 100 * time.Millisecond, OnEvent: br.observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	br.b = b
	return br
}

func (br *broker) observe(e localcloud.Event) {
	br.mu.Lock()
	br.evs = append(br.evs, e)
	also := br.also
	br.mu.Unlock()
	if also != nil {
		also(e)
	}
}

func (br *broker) events(kind string) []localcloud.Event {
	br.mu.Lock()
	defer br.mu.Unlock()
	var out []localcloud.Event
	for _, e := range br.evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// connectedAs reports whether a board connected as thing (client ID and
// thing both): the broker says so when the session is established, before
// it takes any publish, so a verified board has always been seen. A
// publish the viewer received passed the broker's policy check first.
func (br *broker) connectedAs(thing string) bool {
	for _, e := range br.events("connected") {
		if e.ClientID == thing && e.Thing == thing {
			return true
		}
	}
	return false
}

// twinTarget is a blank virtual ESP8266 (MAC ending in mac) whose
// firmware is the reference sketch's twin.
func twinTarget(t *testing.T, mac byte) Target {
	_, tgt := board(t, twin.App(twin.Options{Layout: "4M2M", FS: layout.LittleFS}), mac)
	return tgt
}

// e2eOptions: the bench's Wi-Fi (which the twin finds in range), layout
// 4M2M, an application image for the twin to run in place of, and the
// doctor's TLS probe dialling the broker on loopback.
func e2eOptions(t *testing.T, c Cloud, br *broker) Options {
	led, err := OpenLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := br.b.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return Options{Cloud: c, Dial: dial, WiFi: firmware.WiFi{SSID: "bench", Password: "password1"}, Layout: "4M2M", FS: layout.LittleFS,
		App: appImage(t), TimeoutScale: 1.0 / e2eSpeed, BootTimeout: 20 * time.Second, SettleAfterError: 3 * time.Second, Ledger: led}
}

// requireVerified fails with the run's story when r did not verify.
func requireVerified(t *testing.T, r *Result) {
	t.Helper()
	if r.Verified {
		return
	}
	t.Errorf("%s did not verify: %s", r.Board, r.Error)
	for _, s := range r.Steps {
		t.Logf("  %s %s %v %s", s.Step, s.Status, s.Duration, s.Message)
	}
	if r.Report != nil {
		for _, e := range r.Report.Timeline {
			t.Logf("    %s %s", e.Source, e.Text)
		}
	}
	t.FailNow()
}

// stepStatus is how step ended in r ("" when it did not run).
func stepStatus(r *Result, step StepID) Kind {
	for _, s := range r.Steps {
		if s.Step == step {
			return s.Status
		}
	}
	return ""
}

// provisionBlank runs the pipeline on a blank board and requires it
// verified on cloud as thing, with every step done.
func provisionBlank(t *testing.T, tgt Target, o Options, cloud, thing string) (*Result, []Event) {
	t.Helper()
	emit, events := collect()
	res := Run(context.Background(), tgt, o, emit)
	requireVerified(t, res)
	if res.Cloud != cloud || res.Thing != thing || res.NoChange {
		t.Fatalf("cloud %q thing %q no-change %v", res.Cloud, res.Thing, res.NoChange)
	}
	for _, s := range res.Steps {
		if s.Status != KindDone {
			t.Errorf("first run: %s %s (%s)", s.Step, s.Status, s.Message)
		}
	}
	return res, events()
}

// rerunIsNoOp runs the pipeline again on a provisioned board and requires
// it verified with nothing changed: identity and flash skipped.
func rerunIsNoOp(t *testing.T, tgt Target, o Options) *Result {
	t.Helper()
	res := Run(context.Background(), tgt, o, nil)
	requireVerified(t, res)
	if !res.NoChange {
		t.Fatalf("re-run changed something: %+v", res.Steps)
	}
	for _, step := range []StepID{StepIdentity, StepFlash} {
		if st := stepStatus(res, step); st != KindSkipped {
			t.Errorf("re-run: %s %s", step, st)
		}
	}
	return res
}

func TestLocalCloudTwinBlankToVerified(t *testing.T) {
	br := newBroker(t)
	lc := &LocalCloud{Cloud: br.cloud, Broker: br.b}
	br.also = lc.Observe
	tgt := twinTarget(t, 0x51)
	o := e2eOptions(t, lc, br)
	res, _ := provisionBlank(t, tgt, o, "local", "esp8266-a1b251")
	if !br.connectedAs(res.Thing) {
		t.Fatalf("the broker saw no connection from the board as its thing: %+v", br.events("connected"))
	}

	rerunIsNoOp(t, tgt, o)
	st, err := br.cloud.Status(context.Background(), res.Thing)
	if err != nil || len(st.Certificates) != 1 {
		t.Fatalf("the thing has %d certificates after two runs (%v)", len(st.Certificates), err)
	}
}

func TestLocalCloudTwinFourBoardsInParallel(t *testing.T) {
	br := newBroker(t)
	lc := &LocalCloud{Cloud: br.cloud, Broker: br.b}
	var targets []Target
	for mac := byte(0x61); mac < 0x65; mac++ {
		targets = append(targets, twinTarget(t, mac))
	}
	res, err := RunAll(context.Background(), targets, e2eOptions(t, lc, br), nil)
	if err != nil {
		t.Fatal(err)
	}
	things := map[string]bool{}
	for _, r := range res {
		requireVerified(t, r)
		things[r.Thing] = true
		if !br.connectedAs(r.Thing) {
			t.Errorf("%s: the broker saw no connection as the thing", r.Thing)
		}
	}
	if len(things) != 4 {
		t.Fatalf("things %v", things)
	}
}

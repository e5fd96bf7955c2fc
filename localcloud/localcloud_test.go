package localcloud_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
)

// events collects the broker's decisions and its log.
type events struct {
	mu  sync.Mutex
	evs []localcloud.Event
	log bytes.Buffer
}

func (e *events) add(ev localcloud.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.Write(p)
}

// waitFor waits for an event of kind whose reason contains text.
func (e *events) waitFor(t *testing.T, kind, text string) localcloud.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		for _, ev := range e.evs {
			if ev.Kind == kind && strings.Contains(ev.Reason, text) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Fatalf("no %s event with %q; events: %+v", kind, text, e.evs)
	return localcloud.Event{}
}

func (e *events) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

func startCloud(t *testing.T) (*localcloud.Cloud, *localcloud.Broker, *events) {
	t.Helper()
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	b, err := c.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0", Advertise: "127.0.0.1", OnEvent: ev.add, Logger: slog.New(slog.NewTextHandler(ev, nil)), RevokeCheck: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); c.Close() })
	return c, b, ev
}

// dropped reports whether v was ever disconnected after connecting.
var drops sync.Map // *mqttview.Viewer → *atomic.Bool

func dropped(v *mqttview.Viewer) bool {
	b, _ := drops.Load(v)
	return b != nil && b.(*atomic.Bool).Load()
}

// device connects with an identity's certificate under clientID.
func device(t *testing.T, b *localcloud.Broker, id *localcloud.Identity, clientID string) (*mqttview.Viewer, error) {
	t.Helper()
	cert, err := tls.X509KeyPair(id.CertificatePEM, id.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.CAPEM)
	var connected, drop atomic.Bool
	v, err := mqttview.New(mqttview.Config{
		Broker: "mqtts://" + b.Addr().String(), ClientID: clientID,
		TLS:            &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
		ConnectTimeout: 3 * time.Second, MinBackoff: time.Hour,
		OnState: func(s mqttview.State) {
			if s.Status == mqttview.StatusConnected {
				connected.Store(true)
			} else if s.Status == mqttview.StatusDisconnected && connected.Load() {
				drop.Store(true)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	drops.Store(v, &drop)
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return v, v.Connect(ctx)
}

func viewer(t *testing.T, c *localcloud.Cloud, b *localcloud.Broker) *mqttview.Viewer {
	t.Helper()
	tc, err := c.ViewerTLS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := mqttview.New(mqttview.Config{Broker: "mqtts://" + b.Addr().String(), TLS: tc, MinBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThingConnectsAndPublishesItsTelemetry(t *testing.T) {
	c, b, ev := startCloud(t)
	ctx := context.Background()
	a, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "thing-a"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Endpoint != "127.0.0.1" || a.Port != b.Addr().(*net.TCPAddr).Port || a.ClientID != "thing-a" {
		t.Fatalf("identity endpoint %s:%d client %s", a.Endpoint, a.Port, a.ClientID)
	}
	w := viewer(t, c, b)
	if err := w.Subscribe(ctx, "iotbench/#"); err != nil {
		t.Fatal(err)
	}
	d, err := device(t, b, a, "thing-a")
	if err != nil {
		t.Fatalf("thing A connecting as A: %v\nlog:\n%s", err, ev.logText())
	}
	ev.waitFor(t, "connected", "")
	if err := d.Publish(ctx, a.TelemetryTopic, []byte(`{"t":21.5,"rh":40}`), 1, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the viewer to see the telemetry", func() bool {
		st, ok := w.Store().Topic("iotbench/thing-a/telemetry")
		return ok && st.Count == 1
	})
	var recs []localcloud.Record
	waitUntil(t, "the telemetry to be stored", func() bool {
		recs, _ = c.Telemetry().Query("thing-a", time.Now().Add(-time.Minute), time.Now().Add(time.Minute), 0, false)
		return len(recs) == 1
	})
	if recs[0].Device != "thing-a" || string(recs[0].Payload) != `{"t":21.5,"rh":40}` {
		t.Fatalf("stored %+v", recs[0])
	}
	st, err := c.Status(ctx, "thing-a")
	if err != nil || !st.Active || st.LastTelemetry.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestPolicyDenialsAreClosedAndLogged(t *testing.T) {
	c, b, ev := startCloud(t)
	ctx := context.Background()
	a, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "thing-a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "thing-b"}); err != nil {
		t.Fatal(err)
	}

	// A's certificate, client ID B: closed after CONNECT, no CONNACK.
	_, err = device(t, b, a, "thing-b")
	var ce *mqttview.ConnectError
	if !errors.As(err, &ce) || !ce.ClosedAfterConnect {
		t.Fatalf("connecting as B with A's certificate: %v", err)
	}
	if !strings.Contains(err.Error(), "iot:Connect") {
		t.Errorf("the error should point at iot:Connect: %v", err)
	}
	e := ev.waitFor(t, "refused", "no statement allows iot:Connect")
	if !strings.Contains(e.Reason, `belongs to thing "thing-a"`) || e.ClientID != "thing-b" {
		t.Errorf("refusal %+v", e)
	}
	if !strings.Contains(ev.logText(), "reason=") {
		t.Errorf("the log line carries no reason:\n%s", ev.logText())
	}

	// A publishing to B's topic: the connection is closed.
	d, err := device(t, b, a, "thing-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(ctx, "iotbench/thing-b/telemetry", []byte(`{"x":1}`), 0, false); err != nil {
		t.Fatal(err)
	}
	e = ev.waitFor(t, "denied", "iot:Publish")
	if e.Thing != "thing-a" || !strings.HasSuffix(e.Resource, ":topic/iotbench/thing-b/telemetry") {
		t.Errorf("denial %+v", e)
	}
	waitUntil(t, "the device to be disconnected", func() bool { return dropped(d) })

	// Retained publishes need iot:RetainPublish, which devices lack.
	d.Close() // one connection per client ID: it would kick the next
	d2, err := device(t, b, a, "thing-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Publish(ctx, a.TelemetryTopic, []byte(`{}`), 0, true); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "denied", "iot:RetainPublish")

	// Subscribing outside its command topic: closed.
	d2.Close()
	d3, err := device(t, b, a, "thing-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := d3.Subscribe(ctx, "iotbench/thing-b/cmd"); err == nil {
		t.Error("subscribing to B's commands was not refused")
	}
	ev.waitFor(t, "denied", "iot:Subscribe")
}

func TestForeignAndExpiredCertificatesAreRefusedAtTLS(t *testing.T) {
	c, b, ev := startCloud(t)
	// Another local cloud's CA issues a certificate for the same name.
	other, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign, err := other.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "thing-a"})
	if err != nil {
		t.Fatal(err)
	}
	foreign.CAPEM = c.CA().CertPEM // trust the right server; present the wrong client cert
	_, err = device(t, b, foreign, "thing-a")
	var ce *mqttview.ConnectError
	if !errors.As(err, &ce) || ce.Stage != "tls" {
		t.Fatalf("a certificate from another CA: %v", err)
	}
	ev.waitFor(t, "tls-refused", "not issued by this local cloud's CA")

	// An expired certificate signed by the right CA (made by hand: the
	// cloud never issues one).
	expired := expiredIdentity(t, c)
	_, err = device(t, b, expired, "thing-x")
	if !errors.As(err, &ce) || ce.Stage != "tls" {
		t.Fatalf("an expired certificate: %v", err)
	}
	ev.waitFor(t, "tls-refused", "expired")
}

// expiredIdentity signs an expired client certificate with the cloud's CA
// key, read from disk as an attacker with the key could.
func expiredIdentity(t *testing.T, c *localcloud.Cloud) *localcloud.Identity {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join(c.Dir(), "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	caKey, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "thing-x"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.CA().Cert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return &localcloud.Identity{CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), CAPEM: c.CA().CertPEM}
}

func TestDeprovisionDisconnectsAndReprovisionReplaces(t *testing.T) {
	c, b, ev := startCloud(t)
	ctx := context.Background()
	first, _ := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "thing-a"})
	second, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "thing-a", KeyType: "rsa"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := device(t, b, first, "thing-a"); err == nil {
		t.Fatal("the replaced certificate still connects")
	}
	ev.waitFor(t, "refused", "INACTIVE")
	d, err := device(t, b, second, "thing-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Deprovision(ctx, "thing-a"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the deprovisioned thing to be disconnected", func() bool { return dropped(d) })
	ev.waitFor(t, "disconnected", "no longer ACTIVE")
	if err := c.Deprovision(ctx, "thing-a"); err == nil {
		t.Error("deprovisioning twice should say the thing is unknown")
	}
}

func TestProvisionFromCSRKeepsTheKey(t *testing.T) {
	c, b, _ := startCloud(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "csr-thing", CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})})
	if err != nil {
		t.Fatal(err)
	}
	if id.PrivateKeyPEM != nil {
		t.Fatal("a CSR provisioning must not return a key")
	}
	cert, _ := pem.Decode(id.CertificatePEM)
	leaf, _ := x509.ParseCertificate(cert.Bytes)
	if !key.PublicKey.Equal(leaf.PublicKey) || leaf.Subject.CommonName != "csr-thing" {
		t.Fatal("the certificate does not carry the CSR's key and the thing name")
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	id.PrivateKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	if _, err := device(t, b, id, "csr-thing"); err != nil {
		t.Fatal(err)
	}

	// Bad input.
	if _, err := c.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "x", CSR: []byte("junk")}); err == nil {
		t.Error("junk CSR accepted")
	}
	if _, err := c.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "bad name!"}); err == nil {
		t.Error("bad thing name accepted")
	}
}

func TestCAIsCreatedOnceWithAPrivateKey(t *testing.T) {
	dir := t.TempDir()
	c1, err := localcloud.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	c2, err := localcloud.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !bytes.Equal(c1.CA().CertPEM, c2.CA().CertPEM) {
		t.Fatal("a second Open made a new CA")
	}
	for _, p := range []string{"ca/ca.key"} {
		st, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	if _, err := c2.ViewerIdentity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "viewer", "key.pem")); st.Mode().Perm() != 0o600 {
		t.Errorf("viewer key mode %v", st.Mode().Perm())
	}
}

func TestTelemetryStoreQueries(t *testing.T) {
	s := localcloud.OpenTelemetry(t.TempDir())
	defer s.Close()
	base := time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		// Straddles midnight: two day files.
		if err := s.Append(localcloud.Record{Device: "d1", TS: base.Add(time.Duration(i) * 30 * time.Second).UnixMilli(), Topic: "iotbench/d1/telemetry", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	s.Append(localcloud.Record{Device: "d2", TS: base.UnixMilli(), Payload: []byte(`{}`)})
	all, err := s.Query("d1", time.Time{}, base.Add(time.Hour), 0, false)
	if err != nil || len(all) != 5 || string(all[0].Payload) != `{"i":0}` {
		t.Fatalf("all: %v %+v", err, all)
	}
	mid, _ := s.Query("d1", base.Add(30*time.Second), base.Add(90*time.Second), 0, false)
	if len(mid) != 3 {
		t.Fatalf("range: %d records", len(mid))
	}
	latest, _ := s.Query("d1", time.Time{}, base.Add(time.Hour), 1, true)
	if len(latest) != 1 || string(latest[0].Payload) != `{"i":4}` {
		t.Fatalf("latest: %+v", latest)
	}
	if _, err := s.Query("../etc", time.Time{}, base, 0, false); err == nil {
		t.Error("a path-like thing name was accepted")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"device":"d1","ts":1,"topic":"iotbench/d1/telemetry","payload":{"t":1}}`))
	f.Add([]byte(`{"device":"../x","ts":1,"payload":{}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := localcloud.ParseRecord(line)
		if err != nil {
			return
		}
		if localcloud.CheckThingName(r.Device) != nil {
			t.Fatalf("accepted device %q", r.Device)
		}
	})
}

func TestBrokerStopsCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := c.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "t1"})
	b, err := c.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := device(t, b, id, "t1")
	if err != nil {
		t.Fatal(err)
	}
	// A connection that never sends CONNECT must not hold Close up.
	raw, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	d.Close()
	c.Close()
	waitUntil(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+1 })
	if _, err := os.Stat(filepath.Join(c.Dir(), "endpoint.json")); err != nil {
		t.Error(err)
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	first, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "t1", MAC: "aa:bb:cc:dd:ee:ff", Chip: "ESP8266"})
	if err != nil || first.Reused {
		t.Fatal(err, first.Reused)
	}
	again, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.CertificateID != first.CertificateID || !bytes.Equal(again.PrivateKeyPEM, first.PrivateKeyPEM) || len(again.KeyDER()) == 0 || len(again.CertDER()) == 0 || len(again.CADER()) == 0 {
		t.Fatalf("a re-run must return the same identity: %+v", again)
	}
	st, err := os.Stat(filepath.Join(c.Dir(), "things", "t1", first.CertificateID+".key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kept key: %v %v", err, st)
	}
	replaced, err := c.Provision(ctx, localcloud.ProvisionRequest{Thing: "t1", Replace: true})
	if err != nil || replaced.Reused || replaced.CertificateID == first.CertificateID {
		t.Fatalf("replace: %v %+v", err, replaced)
	}
	status, _ := c.Status(ctx, "t1")
	var active int
	for _, cs := range status.Certificates {
		if cs.Status == localcloud.StatusActive {
			active++
		}
	}
	if active != 1 || len(status.Certificates) != 2 {
		t.Fatalf("after a replace: %+v", status.Certificates)
	}
	if err := c.Deprovision(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "things", "t1")); !os.IsNotExist(err) {
		t.Error("deprovision left the kept keys behind")
	}
}

func TestDecideMatchesTheBroker(t *testing.T) {
	c, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, _ := c.Provision(context.Background(), localcloud.ProvisionRequest{Thing: "t1"})
	cases := []struct {
		client, action, resource string
		want                     bool
	}{
		{"t1", "iot:Connect", localcloud.Scope.ClientARN("t1"), true},
		{"t2", "iot:Connect", localcloud.Scope.ClientARN("t2"), false},
		{"t1", "iot:Publish", localcloud.Scope.TopicARN("iotbench/t1/telemetry"), true},
		{"t1", "iot:Publish", localcloud.Scope.TopicARN("iotbench/t2/telemetry"), false},
		{"t1", "iot:Subscribe", localcloud.Scope.TopicFilterARN("iotbench/t1/cmd"), true},
		{"t1", "iot:RetainPublish", localcloud.Scope.TopicARN("iotbench/t1/telemetry"), false},
	}
	for _, cs := range cases {
		d, err := c.Decide(id.CertificateID, cs.client, cs.action, cs.resource)
		if err != nil || d.Allowed != cs.want {
			t.Errorf("%s %s as %s: %v (%s)", cs.action, cs.resource, cs.client, d.Allowed, d.Reason)
		}
	}
	if d, _ := c.Decide("nope", "t1", "iot:Connect", localcloud.Scope.ClientARN("t1")); d.Allowed || !strings.Contains(d.Reason, "not registered") {
		t.Errorf("unknown certificate: %+v", d)
	}
}

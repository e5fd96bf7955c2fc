package twin

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard"
)

// The whole bench path: a SPIFFS image with an RSA identity (PKCS#1, what
// AWS generates) written by the real flasher through the ROM loader over
// the in-process port, a hard reset by DTR/RTS, and the twin publishing.
func TestFlashedSPIFFSImagePublishes(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "bench-spiffs", endpointHost, true)
	br := startBroker(t, p, brokerOpts{}, firmware.TelemetryFilter)
	l := mustLayout(t, "1M64")
	img := fsImage(t, layout.SPIFFS, l, p.files(t, testConfig("bench-spiffs", br.port)))

	b, err := virtualboard.New(virtualboard.Config{Speed: 50, FlashSize: 1 << 20,
		App: App(Options{Layout: "1M64", FS: layout.SPIFFS, Resolve: loopback})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	port, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	o := flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: "in-process", TimeoutScale: 0.05}, NoStub: true, StubDirs: []string{}}
	o.Before = flasher.BeforeDefaultReset
	ld, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	regions := []flasher.Region{{Addr: 0, Data: appImage(t, "1MB"), Name: "app"}, {Addr: l.FS.Offset, Data: img, Name: "fs"}}
	if err := ld.WriteFlash(context.Background(), regions, flasher.WriteOptions{}); err != nil {
		t.Fatalf("write: %v", err)
	}
	c := readConsole(t, port)
	if err := ld.After(flasher.AfterHardReset); err != nil {
		t.Fatal(err)
	}
	checkPayloads(t, br, "bench-spiffs", 1)
	c.wait(t, "#IB pub topic=iotbench/bench-spiffs/telemetry")
	for _, want := range []string{"SPIFFS mounted: ", "#IB fs ok=1 kind=spiffs files=", "private.der: 1", "#IB tls ok=1"} {
		if c.count(want) == 0 {
			t.Errorf("no %q in:\n%s", want, strings.Join(c.all(), "\n"))
		}
	}
	c.checkStatusLines(t)
}

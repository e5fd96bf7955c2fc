package twin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/localcloud"
)

// End to end with the project's local cloud: its CA, its device
// certificate and policy, its broker on mutual TLS; the cloud's rule
// stores the telemetry it accepted.
func TestPublishesToLocalCloud(t *testing.T) {
	t.Parallel()
	cloud, files := localCloudThing(t, "bench-lc")
	l := mustLayout(t, "4M2M")
	b := newBench(t, Options{}, 4<<20, l.FS.Offset, fsImage(t, layout.LittleFS, l, files))
	// The store has no notification: check it after each of the board's
	// publishes until the first record shows up (or 20 publishes passed).
	var recs []localcloud.Record
	var err error
	for i := 1; len(recs) == 0 && i <= 20; i++ {
		b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic("bench-lc"), i, waitLong)
		recs, err = cloud.Telemetry().Query("bench-lc", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10, false)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(recs) == 0 {
		t.Fatalf("nothing stored; board log:\n%s", strings.Join(b.console.all(), "\n"))
	}
	p, err := firmware.ParsePayload(recs[0].Payload)
	if err != nil || p.Thing != "bench-lc" || recs[0].Device != "bench-lc" {
		t.Fatalf("stored %+v: %v", recs[0], err)
	}
	b.console.wait(t, "#IB pub topic="+firmware.TelemetryTopic("bench-lc"))
	b.console.checkStatusLines(t)
}

// localCloudThing serves a local cloud on loopback with thing provisioned,
// and returns the board files for it.
func localCloudThing(t *testing.T, thing string) (*localcloud.Cloud, map[string][]byte) {
	cloud, err := localcloud.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	br, err := cloud.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0", Advertise: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	id, err := cloud.Provision(context.Background(), localcloud.ProvisionRequest{Thing: thing})
	if err != nil {
		t.Fatal(err)
	}
	host, port := br.Endpoint()
	cfg := testConfig(thing, port)
	cfg.Endpoint.Host = host
	return cloud, map[string][]byte{firmware.ConfigFile: cfg.Marshal(), firmware.CertFile: id.CertDER(), firmware.KeyFile: id.KeyDER(), firmware.CAFile: id.CADER()}
}

package tui

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// twinSpeed is how much faster than real time the boards that run the
// reference firmware's twin go (as the provisioning pipeline's own
// end-to-end tests run them).
const twinSpeed = 50

// cloudBench is what `iotbench demo` builds, for the TUI's tests: a local
// cloud with its broker on loopback, and virtual ESP8266 boards running
// the firmware twin (real LittleFS mount, mutual TLS, MQTT publish).
type cloudBench struct {
	cloud  *localcloud.Cloud
	broker *localcloud.Broker
	lc     *provision.LocalCloud
	opts   provision.Options
}

func newCloudBench(t testing.TB) *cloudBench {
	t.Helper()
	dir := t.TempDir()
	c, err := localcloud.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lc := &provision.LocalCloud{Cloud: c}
	// Boards connect to "localhost", which the broker's certificate
	// covers and the twin resolves to loopback.
	b, err := c.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0", Advertise: "localhost", RevokeCheck: 100 * time.Millisecond, OnEvent: lc.Observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	lc.Broker = b
	led, err := provision.OpenLedger(filepath.Join(dir, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := virtual.SketchImage()
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	o := provision.Options{Cloud: lc, Dial: dial, Layout: "4M2M", FS: layout.LittleFS, App: app, AppName: "sketch (twin)",
		NoStub: true, StubDirs: []string{}, TimeoutScale: 1.0 / twinSpeed, BootTimeout: 20 * time.Second, SettleAfterError: 3 * time.Second, Ledger: led}
	return &cloudBench{cloud: c, broker: b, lc: lc, opts: o}
}

// board is a blank virtual ESP8266 whose firmware is the twin, reached
// through its in-process port.
func (cb *cloudBench) board(t testing.TB, mac byte, o twin.Options) device.Spec {
	t.Helper()
	o.Layout, o.FS = "4M2M", layout.LittleFS
	vb, err := virtualboard.New(virtualboard.Config{Speed: twinSpeed, App: twin.App(o), MAC: [6]byte{0x18, 0xfe, 0x34, 0xa1, 0xb2, mac}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vb.Close() })
	return device.Spec{Port: "virtual:twin", Label: "virtual ESP8266 (twin)", TimeoutScale: 1.0 / twinSpeed,
		Open: func(ctx context.Context, baud int) (flasher.Port, error) {
			p, err := vb.Port()
			if err != nil {
				return nil, err
			}
			return p, p.SetBaudRate(baud)
		}}
}

func (cb *cloudBench) provisionConfig(d WizardDefaults, auto bool) *ProvisionConfig {
	lc := cb.lc
	return &ProvisionConfig{Options: cb.opts, Defaults: d, Auto: auto,
		Clouds: []ProvisionCloud{{Kind: "local", Label: "local cloud (test)", Scope: localcloud.Scope,
			Open: func(context.Context, CloudParams) (provision.Cloud, error) { return lc, nil }}}}
}

func (cb *cloudBench) viewerConfig(ctx context.Context) (mqttview.Config, error) {
	tc, err := cb.cloud.ViewerTLS(ctx)
	if err != nil {
		return mqttview.Config{}, err
	}
	tc.ServerName = "localhost"
	return mqttview.Config{Broker: "mqtts://" + cb.broker.Addr().String(), TLS: tc}, nil
}

func (cb *cloudBench) topicsConfig(auto bool) *TopicsConfig {
	return &TopicsConfig{Name: "test broker", Viewer: cb.viewerConfig, Auto: auto}
}

// twinDevice is how the TUI reads the twin: the reference firmware prints
// at the ROM's rate.
func twinDevice() device.Config {
	return device.Config{Baud: firmware.SerialBaud, BootBaud: firmware.SerialBaud, NoStub: true, StubDirs: []string{},
		IdleFlush: 20 * time.Millisecond, ReconnectPoll: 20 * time.Millisecond}
}

var _ = os.Getenv

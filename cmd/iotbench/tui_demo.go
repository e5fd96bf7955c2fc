package main

import (
	"context"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui"
	"github.com/iotbench/iotbench/tui/device"
)

// runDemoTUI is `iotbench demo` on a terminal: the same bench as the
// headless demo (its virtual board over RFC 2217, its local cloud and
// pipeline options), shown in the TUI. The Provision view runs the
// pipeline at once with the demo's Wi-Fi and cloud (no questions), the
// Topics view watches the demo's broker, and a board that does not verify
// (--fault) opens the Doctor view on the finding.
func (a *app) runDemoTUI(ctx context.Context, env *demoEnv, speed float64, fault string) error {
	t := env.targets[0]
	cloud := env.opts.Cloud
	// The reference firmware prints at the ROM's rate: 74880 on the
	// ESP8266, 115200 on the ESP32 family.
	baud := firmware.SerialBaud
	if env.chip != image.ChipESP8266 {
		baud = firmware.SerialBaudESP32
	}
	o := tui.Options{
		Boards: []device.Spec{{Port: t.Port, Label: t.Name, TimeoutScale: 1 / speed}},
		Getenv: a.getenv,
		Device: device.Config{Baud: baud, BootBaud: baud, NoStub: a.noStub, StubFile: a.stubFile},
		Provision: &tui.ProvisionConfig{
			Options: env.opts,
			Clouds: []tui.ProvisionCloud{{Kind: "local", Label: "the demo's local cloud", Scope: localcloud.Scope,
				Open: func(context.Context, tui.CloudParams) (provision.Cloud, error) { return cloud, nil }}},
			Defaults: tui.WizardDefaults{Cloud: "local", SSID: env.opts.WiFi.SSID, Password: env.opts.WiFi.Password},
			Auto:     true,
		},
		Topics: &tui.TopicsConfig{Name: "the demo's broker", Auto: true, Viewer: func(ctx context.Context) (mqttview.Config, error) {
			tc, err := env.cloud.ViewerTLS(ctx)
			if err != nil {
				return mqttview.Config{}, err
			}
			tc.ServerName = "localhost"
			return mqttview.Config{Broker: "mqtts://" + env.broker.Addr().String(), TLS: tc}, nil
		}},
		Note: "demo: a virtual " + env.chip + " and a local cloud; the pipeline runs by itself (q quits)",
	}
	if fault != "" {
		o.Note = "demo with a fault injected: " + fault + " — " + demoFaults[fault]
	}
	return tui.Run(ctx, o)
}

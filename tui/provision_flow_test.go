package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// press sends named keys ("down", "enter") or typed text.
func (tt *tuiTest) press(ks ...string) {
	for _, k := range ks {
		tt.tm.Send(keytest.Press(k))
	}
}

// field waits until the wizard's field titled title has the focus (Huh
// marks the focused field with a bar).
func (tt *tuiTest) field(t *testing.T, title string) {
	t.Helper()
	tt.waitText(t, "┃ "+title)
}

// A blank board provisioned through the wizard by keys, as a person at
// the bench would: Provision tab, the local cloud, the thing name from
// the MAC, Wi-Fi (the password masked), a sensor, the evaluator's
// preview, confirm — to a verified publish seen on the broker.
func TestProvisionWizardFlow(t *testing.T) {
	cb := newCloudBench(t)
	spec := cb.board(t, 0x01, twin.Options{})
	tt := startTUI(t, Options{Boards: []device.Spec{spec}, Device: twinDevice(), Identify: true,
		Provision: cb.provisionConfig(WizardDefaults{}, false)})
	const thing, ssid, password = "esp8266-a1b201", "bench-lab", "Wizard-Pass-77"
	tt.waitText(t, "18:fe:34:a1:b2:01")
	tt.keys("3")
	tt.waitText(t, "This board's default thing name: "+thing)
	tt.press("enter")
	tt.field(t, "Cloud")
	tt.waitText(t, "local cloud (test)")
	tt.press("enter")
	tt.field(t, "Thing name")
	tt.waitText(t, "> "+thing)
	tt.press("enter")
	tt.field(t, "Wi-Fi network (SSID)")
	tt.keys(ssid)
	tt.press("enter")
	tt.field(t, "Wi-Fi password")
	tt.keys(password)
	s := tt.waitText(t, "> "+strings.Repeat("*", len(password)))
	if strings.Contains(s, password) {
		t.Fatalf("the password is on screen:\n%s", s)
	}
	tt.press("enter")
	tt.field(t, "Sensors")
	// The fake sensor (bench readings), the fifth type.
	if firmware.SensorTypes[4] != firmware.SensorFake {
		t.Fatalf("sensor order changed: %v", firmware.SensorTypes)
	}
	tt.press("down", "down", "down", "down", "x", "enter")
	tt.field(t, "Provision now?")
	s = tt.waitText(t, "The evaluator says:")
	for _, want := range []string{"✓ allowed: connect as " + thing, "✓ allowed: publish to " + firmware.TelemetryTopic(thing)} {
		if !strings.Contains(s, want) {
			t.Errorf("the policy preview lacks %q:\n%s", want, s)
		}
	}
	tt.press("enter")
	tt.waitText(t, "◐ running")
	s = tt.waitText(t, "★ verified: "+thing+" published on "+firmware.TelemetryTopic(thing))
	for _, want := range []string{"✓ publish", "✓ flash", "✓ identity", "Provision · local cloud (test) · thing " + thing} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, password) {
		t.Fatalf("the password is on screen:\n%s", s)
	}
	tt.events(t, "verified: "+thing+" published on", 1)

	res := tt.Model.panes[0].provision.Result()
	if res == nil || !res.Verified || res.Thing != thing || res.Topic != firmware.TelemetryTopic(thing) {
		t.Fatalf("result %+v", res)
	}
	// The monitor got the boot log the pipeline watched, with the
	// firmware's Wi-Fi join on the network typed.
	tt.keys("1")
	tt.waitText(t, "#IB wifi status=3")
	// The Doctor view holds the run's report: healthy.
	tt.keys("5")
	s = tt.waitText(t, "publish.verified")
	if strings.Contains(s, "serial.stalled") || !strings.Contains(s, "✓ healthy") {
		t.Fatalf("the doctor's report on a verified board is not healthy (a stall in a log cut at the verification: doctor's dropStalledPublish must drop every serial.stalled once the publish was seen):\n%s", s)
	}
}

// viewPane is the active view's part of a screen (right of the board
// list), so that wrapped text reads across rows.
func viewPane(screen string) string {
	var b strings.Builder
	for _, row := range strings.Split(screen, "\n") {
		if _, r, ok := strings.Cut(row, "│"); ok {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// inactiveCloud makes the thing's certificate INACTIVE right after it is
// created (demo --fault inactive-cert): the broker refuses the board.
type inactiveCloud struct {
	provision.Cloud
	lc *localcloud.Cloud
}

func (c *inactiveCloud) EnsureIdentity(ctx context.Context, req provision.IdentityRequest, note func(string)) (*provision.Identity, error) {
	id, err := c.Cloud.EnsureIdentity(ctx, req, note)
	if err != nil {
		return nil, err
	}
	return id, c.lc.SetCertificateStatus(id.CertificateID, localcloud.StatusInactive)
}

// A board whose certificate is inactive: the run ends not verified, the
// Doctor view opens on the diagnosis with its evidence and fix, and enter
// shows the board's line in the monitor.
func TestProvisionFaultShowsInDoctor(t *testing.T) {
	cb := newCloudBench(t)
	spec := cb.board(t, 0x02, twin.Options{})
	cfg := cb.provisionConfig(WizardDefaults{Cloud: "local", SSID: "bench-lab", Password: "Wizard-Pass-77"}, true)
	faulty := &inactiveCloud{Cloud: cb.lc, lc: cb.cloud}
	cfg.Clouds[0].Open = func(context.Context, CloudParams) (provision.Cloud, error) { return faulty, nil }
	tt := startTUI(t, Options{Boards: []device.Spec{spec}, Device: twinDevice(), Provision: cfg})

	s := tt.waitText(t, "✗ needs a fix")
	if !strings.Contains(s, "Doctor · provisioning run") {
		t.Fatalf("the Doctor view did not open by itself:\n%s", s)
	}
	rep := tt.Model.panes[0].doctor.Report()
	if rep == nil || rep.Top() == nil || rep.Top().Code != "cert.inactive" {
		t.Fatalf("report %+v", rep)
	}
	top := rep.Top()
	flat := strings.Join(strings.Fields(viewPane(s)), " ")
	for _, want := range []string{"1. ✗ diagnosis: " + top.Summary, "cert.inactive", "fix: " + top.Fix, "cloud certificate"} {
		if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("the Doctor view lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(top.Fix, "activate") {
		t.Errorf("fix %q", top.Fix)
	}
	tt.events(t, "not verified: "+top.Summary, 1)
	tt.waitText(t, "✗ failed")

	// The Provision view says the same, and d comes back here.
	tt.keys("3")
	tt.waitText(t, "✗ not verified: "+top.Summary[:30])
	tt.keys("d")
	tt.waitText(t, "✗ needs a fix")

	// Enter on the diagnosis: its first line the board printed, in the
	// monitor.
	var serial string
	for _, e := range top.Evidence {
		if e.Source == "serial" {
			serial = e.Text
			break
		}
	}
	if serial == "" {
		t.Fatalf("no serial evidence: %+v", top.Evidence)
	}
	tt.press("enter")
	s = tt.waitText(t, "the line the doctor quoted is marked ▶")
	if !strings.Contains(s, serial[:min(len(serial), 30)]) {
		t.Errorf("the quoted line %q is not on screen:\n%s", serial, s)
	}
}

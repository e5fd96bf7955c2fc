package arduinoota_test

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/flasher/otadata"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

// crashesBefore is an app whose build bad dies before arduino-esp32's
// initArduino() runs (a crash or hang in a constructor, say): it never
// confirms itself. Other builds are BasicOTA.
func crashesBefore(bad uint32) func(*arduinoota.Device) virtualboard.App {
	return func(d *arduinoota.Device) virtualboard.App {
		basic := arduinoota.BasicOTA(d)
		return func(ctx context.Context, env *virtualboard.AppEnv) {
			if r, err := arduinoota.Running32(env); err == nil && r.Version == bad {
				env.Begin(115200)
				env.Printf("\nbuild %08x hangs before initArduino\n", r.Version)
				<-ctx.Done()
				return
			}
			basic(ctx, env)
		}
	}
}

func (r *rig) events() string { return strings.Join(r.b.Events(), "\n") }

func (r *rig) wantEvent(t *testing.T, want string) {
	t.Helper()
	if !strings.Contains(r.events(), want) {
		t.Fatalf("the board's log lacks %q:\n%s", want, r.events())
	}
}

// The state sequence of a good update through a real OTA upload:
// esp_ota_set_boot_partition writes NEW, the bootloader makes it
// PENDING_VERIFY on the restart, the Arduino core confirms it VALID
// before the sketch starts, and later resets boot it without writing.
func TestESP32UpdateConfirmedAtStart(t *testing.T) {
	v1, v2 := app32(t, 0x11110001, 30_000), app32(t, 0x22220002, 30_000)
	r := newRig32(t, arduinoota.Config{}, v1)
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, v2); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v22220002 from app1")
	r.wantEvent(t, "otadata[1] seq 2 NEW -> PENDING_VERIFY")
	r.wantEvent(t, "esp_ota_mark_app_valid_cancel_rollback: otadata[1] seq 2 PENDING_VERIFY -> VALID")
	if e := r.otadata(t); e[1] != otadata.NewEntry(2, otadata.StateValid) || e[0] != otadata.NewEntry(1, otadata.StateUndefined) {
		t.Fatalf("otadata after the confirmed update: %+v", e)
	}
	n := len(r.b.Events())
	m = r.log.mark()
	r.b.Reset(false)
	r.log.waitFor(t, m, "BasicOTA v22220002 from app1")
	for _, ev := range r.b.Events()[n:] {
		if strings.Contains(ev, " -> ") {
			t.Fatalf("a reset after the confirmation wrote otadata: %s", ev)
		}
	}
	if e := r.otadata(t); e[1].State != otadata.StateValid {
		t.Fatalf("otadata after the reset: %+v", e)
	}
}

// An update whose app never reaches initArduino() boots once as
// PENDING_VERIFY; the next reset makes the entry ABORTED and boots the
// old app from app0. The next update goes into app1 again and, confirmed,
// sticks.
func TestESP32UnconfirmedUpdateRollsBack(t *testing.T) {
	v1, bad, v3 := app32(t, 0x11110001, 30_000), app32(t, 0xbadbad02, 30_000), app32(t, 0x33330003, 30_000)
	r := newRig32With(t, arduinoota.Config{}, v1, crashesBefore(0xbadbad02))
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, bad); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "build badbad02 hangs before initArduino")
	if e := r.otadata(t); e[1] != otadata.NewEntry(2, otadata.StatePendingVerify) {
		t.Fatalf("otadata while the new app runs: %+v", e)
	}

	m = r.log.mark()
	r.b.Reset(false)
	out := r.log.waitFor(t, m, "BasicOTA v11110001 from app0")
	// arduino-esp32's bootloader logs the rollback at DEBUG level only.
	if strings.Contains(out, "E (") {
		t.Errorf("the rollback printed error lines:\n%s", out)
	}
	r.wantEvent(t, "otadata[1] seq 2 PENDING_VERIFY -> ABORTED (the app never confirmed itself: rolled back)")
	r.wantEvent(t, "Loaded app from partition at offset 0x10000 (app0, ota_0; otadata[0] seq 1)")
	if e := r.otadata(t); e[1] != otadata.NewEntry(2, otadata.StateAborted) || e[0] != otadata.NewEntry(1, otadata.StateUndefined) {
		t.Fatalf("otadata after the rollback: %+v", e)
	}

	m = r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, v3); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v33330003 from app1")
	if e := r.otadata(t); e[1] != otadata.NewEntry(2, otadata.StateValid) {
		t.Fatalf("otadata after the next, good update: %+v", e)
	}
}

// A sketch that overrides the core's hooks: verifyRollbackLater() true
// leaves the update PENDING_VERIFY (a reset rolls it back); verifyOta()
// false rolls back at once (INVALID, restart, app0).
func TestESP32SketchRollbackHooks(t *testing.T) {
	cases := []struct {
		name  string
		hooks virtualboard.ArduinoHooks
		reset bool
		state uint32
		event string
	}{
		{"verifyRollbackLater", virtualboard.ArduinoHooks{VerifyRollbackLater: true}, true, otadata.StateAborted,
			"otadata[1] seq 2 PENDING_VERIFY -> ABORTED"},
		{"verifyOta false", virtualboard.ArduinoHooks{VerifyOta: func() bool { return false }}, false, otadata.StateInvalid,
			"esp_ota_mark_app_invalid_rollback_and_reboot: otadata[1] seq 2 PENDING_VERIFY -> INVALID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v1, v2 := app32(t, 0x11110001, 20_000), app32(t, 0x22220002, 20_000)
			r := newRig32With(t, arduinoota.Config{}, v1, func(d *arduinoota.Device) virtualboard.App { return arduinoota.BasicOTAHooks(d, c.hooks) })
			m := r.log.mark()
			if _, _, err := r.upload(context.Background(), ota.Options{}, v2); err != nil {
				t.Fatal(err)
			}
			if c.reset {
				r.log.waitFor(t, m, "BasicOTA v22220002 from app1")
				if e := r.otadata(t); e[1].State != otadata.StatePendingVerify {
					t.Fatalf("otadata while the unconfirmed app runs: %+v", e)
				}
				m = r.log.mark()
				r.b.Reset(false)
			}
			out := r.log.waitFor(t, m, "BasicOTA v11110001 from app0")
			if strings.Contains(out, "BasicOTA v22220002") && !c.reset {
				t.Errorf("the app that failed verifyOta() reached setup():\n%s", out)
			}
			r.wantEvent(t, c.event)
			if e := r.otadata(t); e[1] != otadata.NewEntry(2, c.state) {
				t.Fatalf("otadata after the rollback: %+v, want otadata[1] %s", e, otadata.StateName(c.state))
			}
		})
	}
}

package arduinoota_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

func TestUploadWithoutPassword(t *testing.T) {
	v1, v2 := sketch(t, 0x11110001, 60_000), sketch(t, 0x22220002, 90_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	res, evs, err := r.upload(context.Background(), ota.Options{}, v2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != len(v2) || res.MD5 != ota.MD5Hex(v2) || res.Target != "app" {
		t.Errorf("result %+v", res)
	}
	// The device reboots; eboot finds the staged copy command, skips the
	// unchanged eboot sector ("B") and copies the rest; the new sketch runs.
	out := r.log.waitFor(t, m, "BasicOTA v22220002")
	for _, want := range []string{
		"OTA start: sketch\r\n#IB ota phase=start\r\n", "#IB ota phase=progress pct=",
		"OTA end\r\n#IB ota phase=end\r\n",
		"rst cause:2, boot mode:(3,6)",
		"v11110001\n@cp:B0\nld\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("board output lacks %q:\n%s", want, out)
		}
	}
	if !r.flashHolds(0, v2) {
		t.Error("flash at 0 does not hold the new image after eboot's copy")
	}
	if _, _, staged := r.d.Staged(); staged {
		t.Error("eboot left the copy command in RTC memory")
	}
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.EventType()]++
	}
	for _, k := range []string{"ota.invite", "ota.accepted", "ota.connected", "ota.progress", "ota.verify", "ota.done"} {
		if kinds[k] == 0 {
			t.Errorf("no %s event (got %v)", k, kinds)
		}
	}
	var last ota.ProgressEvent
	for _, e := range evs {
		if p, ok := e.(ota.ProgressEvent); ok {
			last = p
		}
	}
	if last.Sent != int64(len(v2)) || last.Acked != int64(len(v2)) {
		t.Errorf("last progress %+v, want all %d bytes sent and acknowledged", last, len(v2))
	}

	// A second boot is normal: no command, "~ld".
	m = r.log.mark()
	r.b.Reset(false)
	out = r.log.waitFor(t, m, "BasicOTA v22220002")
	if !strings.Contains(out, "v22220002\n~ld\n") {
		t.Errorf("second boot:\n%s", out)
	}
}

func TestUploadCopiesEbootWhenItDiffers(t *testing.T) {
	v1, v2 := sketch(t, 1, 20_000), sketch(t, 2, 20_000)
	v2[0x100] ^= 0xFF // a different eboot: no "B"
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, v2); err != nil {
		t.Fatal(err)
	}
	out := r.log.waitFor(t, m, "BasicOTA v00000002")
	if !strings.Contains(out, "v00000001\n@cp:0\nld\n") {
		t.Errorf("want @cp:0 then ld:\n%s", out)
	}
	if !r.flashHolds(0, v2) {
		t.Error("flash does not hold the new image")
	}
}

func TestUploadWithPassword(t *testing.T) {
	const password = "s3cret pass"
	v1, v2 := sketch(t, 1, 30_000), sketch(t, 2, 30_000)
	r := newRig(t, arduinoota.Config{PasswordHash: ota.PasswordHash(password)}, v1, nil)

	t.Run("no password given", func(t *testing.T) {
		_, _, err := r.upload(context.Background(), ota.Options{}, v2)
		var oe *ota.Error
		if !errors.As(err, &oe) || oe.Kind != ota.KindAuth || !strings.Contains(err.Error(), "--auth") {
			t.Fatalf("got %v, want an authentication error that names --auth", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		m := r.log.mark()
		_, _, err := r.upload(context.Background(), ota.Options{Password: "S3cret pass"}, v2)
		var oe *ota.Error
		if !errors.As(err, &oe) || oe.Kind != ota.KindAuth || !strings.Contains(err.Error(), "Authentication Failed") {
			t.Fatalf("got %v, want Authentication Failed", err)
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Error("the error message contains the password")
		}
		out := r.log.waitFor(t, m, "#IB ota phase=error err=0\r\n")
		if !strings.Contains(out, "OTA error 0\r\n") {
			t.Errorf("board output:\n%s", out)
		}
		if !r.flashHolds(0, v1) {
			t.Error("flash changed after a refused password")
		}
	})
	t.Run("right password", func(t *testing.T) {
		m := r.log.mark()
		_, evs, err := r.upload(context.Background(), ota.Options{Password: password}, v2)
		if err != nil {
			t.Fatal(err)
		}
		auth := false
		for _, e := range evs {
			if strings.Contains(fmt.Sprintf("%+v", e), password) {
				t.Errorf("event %T carries the password", e)
			}
			_, ok := e.(ota.AuthEvent)
			auth = auth || ok
		}
		if !auth {
			t.Error("no auth event")
		}
		r.log.waitFor(t, m, "BasicOTA v00000002")
	})
}

// An upload cut short — by the host here — leaves the staged copy
// incomplete and no command for eboot: after a reset the old sketch runs.
func TestInterruptedUploadKeepsOldFirmware(t *testing.T) {
	v1, v2 := sketch(t, 0xAAAA0001, 40_000), sketch(t, 0xBBBB0002, 300_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	r.uploadCancelledAfter(t, v2, 100_000)
	out := r.log.waitFor(t, m, "#IB ota phase=error err=4\r\n")
	if !strings.Contains(out, "OTA error 4\r\n") {
		t.Errorf("board output:\n%s", out)
	}
	if _, _, staged := r.d.Staged(); staged {
		t.Fatal("an interrupted upload left a copy command for eboot")
	}
	// Some of the new image did reach the staging area.
	src := uint32(r.d.Layout().FS.Offset) - uint32((len(v2)+4095)&^4095)
	if !r.flashHolds(src, v2[:8192]) {
		t.Error("nothing of the new image was staged: the test did not interrupt a running transfer")
	}
	m = r.log.mark()
	r.b.Reset(false)
	out = r.log.waitFor(t, m, "Ready\n")
	if !strings.Contains(out, "vaaaa0001\n~ld\n") || !strings.Contains(out, "BasicOTA vaaaa0001") {
		t.Errorf("after reset the board should boot the old sketch:\n%s", out)
	}
	if !r.flashHolds(0, v1) {
		t.Error("the running sketch was overwritten")
	}
}

// A reset of the board in the middle of the transfer (power glitch,
// watchdog) fails the upload on the host and leaves the old sketch.
func TestBoardResetDuringUpload(t *testing.T) {
	v1, v2 := sketch(t, 0xAAAA0001, 40_000), sketch(t, 0xBBBB0002, 300_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	reset := false
	_, err := ota.Upload(context.Background(), ota.Options{Host: "127.0.0.1", Port: r.d.Addr().Port}, v2, func(e ota.Event) {
		if p, ok := e.(ota.ProgressEvent); ok && p.Acked > 100_000 && !reset {
			reset = true
			r.b.Reset(false)
		}
	})
	var oe *ota.Error
	if !errors.As(err, &oe) || oe.Kind != ota.KindTransfer {
		t.Fatalf("got %v, want a transfer error", err)
	}
	if !strings.Contains(err.Error(), "old firmware") {
		t.Errorf("error does not tell what happened to the firmware: %v", err)
	}
	out := r.log.waitFor(t, m, "BasicOTA vaaaa0001")
	if !strings.Contains(out, "vaaaa0001\n~ld\n") {
		t.Errorf("boot after the reset:\n%s", out)
	}
	if !r.flashHolds(0, v1) {
		t.Error("the running sketch was overwritten")
	}
}

func TestRefusedBeforeTransfer(t *testing.T) {
	v1 := sketch(t, 1, 20_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	cases := []struct {
		name   string
		opts   ota.Options
		img    []byte
		code   ota.UpdaterError
		device string
	}{
		// 4M1M: 3 MiB below the filesystem; an app must fit next to the
		// running sketch.
		{"app too big", ota.Options{}, sketch(t, 2, 3<<20), ota.UpdateSpace, "ERROR[4]: Not Enough Space"},
		{"filesystem too big", ota.Options{Target: ota.CommandFS}, make([]byte, 0xFA000+1), ota.UpdateSpace, "ERROR[4]: Not Enough Space"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := r.log.mark()
			_, _, err := r.upload(context.Background(), c.opts, c.img)
			var oe *ota.Error
			if !errors.As(err, &oe) || oe.Kind != ota.KindRefused || oe.Device == nil || oe.Device.Code != c.code {
				t.Fatalf("got %v, want refusal with Updater error %d", err, c.code)
			}
			if !strings.Contains(err.Error(), c.device) || !strings.Contains(err.Error(), c.code.Fix()) {
				t.Errorf("error %q lacks the device text or the fix", err)
			}
			r.log.waitFor(t, m, "OTA error 1\r\n#IB ota phase=error err=1\r\n")
		})
	}
	if !r.flashHolds(0, v1) {
		t.Error("flash changed")
	}
}

func TestFilesystemUpload(t *testing.T) {
	v1 := sketch(t, 1, 20_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	l := r.d.Layout()
	fs := make([]byte, l.FS.Size)
	for i := range fs {
		fs[i] = byte(i*7 + i>>12)
	}
	// Garbage where the filesystem goes: the Updater must erase first.
	r.b.Flash().Load(l.FS.Offset, make([]byte, 8192))
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{Target: ota.CommandFS}, fs); err != nil {
		t.Fatal(err)
	}
	out := r.log.waitFor(t, m, "BasicOTA v00000001")
	if !strings.Contains(out, "OTA start: filesystem\r\n") || !strings.Contains(out, "v00000001\n~ld\n") {
		t.Errorf("board output:\n%s", out)
	}
	if !r.flashHolds(l.FS.Offset, fs) {
		t.Error("the filesystem region does not hold the image")
	}
	if !r.flashHolds(0, v1) {
		t.Error("the sketch changed")
	}
}

// The Updater leaves eboot its command before the device says OK, so a
// reset right after the OK (before the sketch restarts by itself) still
// boots into the new image.
func TestResetRightAfterOK(t *testing.T) {
	v1, v2 := sketch(t, 1, 20_000), sketch(t, 2, 20_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, v2); err != nil {
		t.Fatal(err)
	}
	r.b.Reset(false)
	out := r.log.waitFor(t, m, "BasicOTA v00000002")
	if !strings.Contains(out, "@cp:B0\nld\n") {
		t.Errorf("board output:\n%s", out)
	}
}

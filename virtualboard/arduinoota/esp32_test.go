package arduinoota_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/flasher/otadata"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

const chip32 = "ESP32-C3"

func table32(t testing.TB) *layout.PartitionTable {
	t.Helper()
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func app32(t testing.TB, version uint32, size int) []byte {
	t.Helper()
	img, err := arduinoota.AppImage32(chip32, version, size)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// newRig32 is a C3 with the stand-in bootloader, the default table and
// app v1 in app0, running BasicOTA (which prints at 115200).
func newRig32(t testing.TB, cfg arduinoota.Config, v1 []byte) *rig {
	t.Helper()
	return newRig32With(t, cfg, v1, arduinoota.BasicOTA)
}

// newRig32With is newRig32 running app.
func newRig32With(t testing.TB, cfg arduinoota.Config, v1 []byte, app func(*arduinoota.Device) virtualboard.App) *rig {
	t.Helper()
	cfg.Chip = chip32
	pt := table32(t)
	fw, err := esp32fw.Merged(chip32, pt, 1)
	if err != nil {
		t.Fatal(err)
	}
	app0, _ := pt.ByLabel("app0")
	fw = append(fw[:app0.Offset], v1...)
	return newChipRig(t, cfg, 115200, fw, app)
}

func (r *rig) otadata(t testing.TB) [2]otadata.Entry {
	t.Helper()
	od, _ := table32(t).ByLabel("otadata")
	e, err := otadata.Parse(r.b.Flash().Read(od.Offset, int(od.Size)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// An app upload goes into the other OTA slot, end() switches otadata, the
// board restarts and the bootloader loads app1; the next upload goes back
// into app0.
func TestESP32UploadSwitchesSlot(t *testing.T) {
	v1, v2, v3 := app32(t, 0x11110001, 40_000), app32(t, 0x22220002, 90_000), app32(t, 0x33330003, 30_000)
	r := newRig32(t, arduinoota.Config{}, v1)
	if out := r.log.String(); !strings.Contains(out, "BasicOTA v11110001 from app0") {
		t.Fatalf("first boot:\n%s", out)
	}
	m := r.log.mark()
	res, evs, err := r.upload(context.Background(), ota.Options{}, v2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != len(v2) || res.Target != "app" {
		t.Errorf("result %+v", res)
	}
	out := r.log.waitFor(t, m, "BasicOTA v22220002 from app1")
	for _, want := range []string{"OTA start: sketch\r\n#IB ota phase=start\r\n", "OTA end\r\n#IB ota phase=end\r\n", "ESP-ROM:esp32c3"} {
		if !strings.Contains(out, want) {
			t.Errorf("board output lacks %q:\n%s", want, out)
		}
	}
	app0, _ := table32(t).ByLabel("app0")
	app1, _ := table32(t).ByLabel("app1")
	if !r.flashHolds(app1.Offset, v2) || !r.flashHolds(app0.Offset, v1) {
		t.Fatal("app1 should hold the new image and app0 the old one")
	}
	// From boot_app0.bin (otadata[0] seq 1 → app0),
	// esp_ota_set_boot_partition writes the other sector with the next seq
	// for slot 1, leaving otadata[0] as it was.
	if e := r.otadata(t); e[0] != otadata.NewEntry(1, otadata.StateUndefined) || e[1].Seq != 2 || !e[1].Valid() {
		t.Fatalf("otadata after the update: %+v", e)
	}
	var last ota.ProgressEvent
	for _, e := range evs {
		if p, ok := e.(ota.ProgressEvent); ok {
			last = p
		}
	}
	if last.Acked != int64(len(v2)) {
		t.Errorf("last progress %+v: the device's counts do not add up to the image", last)
	}

	m = r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, v3); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v33330003 from app0")
	// Then the other sector, with the next seq that maps to slot 0.
	if e := r.otadata(t); e[0].Seq != 3 || !e[0].Valid() || e[1].Seq != 2 {
		t.Fatalf("otadata after the second update: %+v", e)
	}
	if !r.flashHolds(app1.Offset, v2) {
		t.Fatal("the second update touched app1")
	}
}

func TestESP32UploadWithPassword(t *testing.T) {
	const password = "esp32 pass"
	v1, v2 := app32(t, 1, 20_000), app32(t, 2, 20_000)
	r := newRig32(t, arduinoota.Config{PasswordHash: ota.PasswordHash(password)}, v1)
	m := r.log.mark()
	_, _, err := r.upload(context.Background(), ota.Options{Password: "wrong"}, v2)
	var oe *ota.Error
	if !errors.As(err, &oe) || oe.Kind != ota.KindAuth {
		t.Fatalf("got %v, want an authentication error", err)
	}
	r.log.waitFor(t, m, "OTA error 0\r\n#IB ota phase=error err=0\r\n")
	m = r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{Password: password}, v2); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v00000002 from app1")
}

// A transfer the host abandons half-way: the device reports END
// ("Aborted"), app1 holds part of the image without its first 16 bytes
// (so it is not bootable), otadata is unchanged and a reset boots app0.
func TestESP32InterruptedUploadKeepsRunningSlot(t *testing.T) {
	v1, v2 := app32(t, 0xAAAA0001, 30_000), app32(t, 0xBBBB0002, 300_000)
	r := newRig32(t, arduinoota.Config{}, v1)
	before := r.otadata(t)
	m := r.log.mark()
	r.uploadCancelledAfter(t, v2, 100_000)
	r.log.waitFor(t, m, "OTA error 4\r\n#IB ota phase=error err=4\r\n")
	if r.otadata(t) != before {
		t.Fatal("an interrupted upload changed otadata")
	}
	app1, _ := table32(t).ByLabel("app1")
	if got := r.b.Flash().Read(app1.Offset, 32); !bytes.Equal(got[:16], bytes.Repeat([]byte{0xFF}, 16)) || !bytes.Equal(got[16:], v2[16:32]) {
		t.Fatalf("app1 starts % x: want its first 16 bytes held back and the rest written", got)
	}
	m = r.log.mark()
	r.b.Reset(false)
	r.log.waitFor(t, m, "BasicOTA vaaaa0001 from app0")
}

// What the Update class refuses, and how the host learns it: the image's
// first byte, a size beyond the slot (begin fails after the OK, so the
// host only sees no connection), an MD5 mismatch.
func TestESP32UpdateRefusals(t *testing.T) {
	v1 := app32(t, 1, 20_000)
	r := newRig32(t, arduinoota.Config{}, v1)
	app1, _ := table32(t).ByLabel("app1")

	// The uploader refuses a file that is not an image and always sends
	// the right MD5: speak espota by hand. The device ends with the bare
	// error text.
	notImage := app32(t, 2, 20_000)
	notImage[0] = 0xE8
	good := app32(t, 3, 20_000)
	for _, c := range []struct {
		name, sum, want string
		img             []byte
	}{
		{"not an image", ota.MD5Hex(notImage), "Wrong Magic Byte\r\n", notImage},
		{"md5", strings.Repeat("0", 32), "MD5 Check Failed\r\n", good},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := r.log.mark()
			if got := rawUpload(t, r, ota.CommandFlash, c.img, c.sum); !strings.HasSuffix(got, c.want) {
				t.Fatalf("device wrote %q, want %q at the end", got, c.want)
			}
			r.log.waitFor(t, m, "OTA error 4\r\n")
		})
	}
	t.Run("too big", func(t *testing.T) {
		m := r.log.mark()
		img := app32(t, 4, int(app1.Size)+4096)
		_, _, err := r.upload(context.Background(), ota.Options{AcceptTimeout: 300 * time.Millisecond}, img)
		var oe *ota.Error
		if !errors.As(err, &oe) || oe.Step != "connect-back" {
			t.Fatalf("got %v, want no connection back (arduino-esp32 answered OK before Update.begin)", err)
		}
		r.log.waitFor(t, m, "OTA error 1\r\n")
	})
	od, _ := table32(t).ByLabel("otadata")
	if !r.flashHolds(od.Offset, otadata.BootApp0()) {
		t.Fatalf("a refused update changed otadata (boot_app0.bin): %+v", r.otadata(t))
	}
	m := r.log.mark()
	r.b.Reset(false)
	r.log.waitFor(t, m, "BasicOTA v00000001 from app0")
}

// A filesystem upload goes into the data/spiffs partition ("spiffs" in
// the default table, where arduino-esp32's LittleFS also lives) and
// leaves the apps and otadata alone.
func TestESP32FilesystemUpload(t *testing.T) {
	v1 := app32(t, 1, 20_000)
	r := newRig32(t, arduinoota.Config{}, v1)
	fsPart, _ := table32(t).ByLabel("spiffs")
	fs := make([]byte, 200_000)
	for i := range fs {
		fs[i] = byte(i*7 + i>>12)
	}
	r.b.Flash().Load(fsPart.Offset, make([]byte, 8192)) // garbage: must be erased first
	before := r.otadata(t)
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{Target: ota.CommandFS}, fs); err != nil {
		t.Fatal(err)
	}
	out := r.log.waitFor(t, m, "BasicOTA v00000001 from app0")
	if !strings.Contains(out, "OTA start: filesystem\r\n") {
		t.Errorf("board output:\n%s", out)
	}
	if !r.flashHolds(fsPart.Offset, fs) {
		t.Fatal("the spiffs partition does not hold the image")
	}
	if r.otadata(t) != before {
		t.Fatal("a filesystem upload changed otadata")
	}
}

// The default host name of an ESP32 is "esp32-" and the whole MAC.
func TestESP32Hostname(t *testing.T) {
	r := newRig32(t, arduinoota.Config{}, app32(t, 1, 20_000))
	mac := r.b.MAC()
	want := fmt.Sprintf("OTA: esp32-%02x%02x%02x%02x%02x%02x.local", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	// The rig does not wait for this line: it may still be arriving.
	r.log.waitFor(t, 0, want)
}

// uploadCancelledAfter uploads img and cancels the upload once the device
// has acknowledged more than acked bytes.
func (r *rig) uploadCancelledAfter(t *testing.T, img []byte, acked int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := ota.Upload(ctx, ota.Options{Host: "127.0.0.1", Port: r.d.Addr().Port}, img, func(e ota.Event) {
		if p, ok := e.(ota.ProgressEvent); ok && p.Acked > acked {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancellation", err)
	}
}

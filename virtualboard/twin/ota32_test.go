package twin

import (
	"context"
	"errors"
	"github.com/iotbench/iotbench/flasher/otadata"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

const otaPassword = "twin-ota"

// otaBench32 is the twin on an ESP32-C3 publishing to the local cloud as
// thing, with ArduinoOTA on (config.json "ota" with a password), after
// its first publish; it returns the bench, the device and the files.
func otaBench32(t *testing.T, thing string) (*bench, *arduinoota.Device, map[string][]byte) {
	t.Helper()
	_, files := localCloudThing(t, thing)
	cfg, err := firmware.Parse(files[firmware.ConfigFile])
	if err != nil {
		t.Fatal(err)
	}
	cfg.OTA = &firmware.OTA{Hostname: firmware.DefaultOTAHostname(thing), Port: firmware.DefaultOTAPort, PasswordMD5: ota.PasswordHash(otaPassword)}
	files[firmware.ConfigFile] = cfg.Marshal()
	dev, err := arduinoota.New(arduinoota.Config{Chip: "ESP32-C3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	b := newBench32(t, Options{NewOTA: ArduinoOTA(dev)}, "ESP32-C3", layout.LittleFS, "spiffs", files)
	b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic(thing), 1, waitLong)
	return b, dev, files
}

func (b *bench) upload(dev *arduinoota.Device, o ota.Options, img []byte) error {
	o.Host, o.Port = "127.0.0.1", dev.Addr().Port
	_, err := ota.Upload(context.Background(), o, img, nil)
	return err
}

// The acceptance path on an ESP32: the twin answers OTA, refuses a wrong
// password, takes a new app into app1, restarts; the bootloader loads
// app1 (otadata[1] seq 2: boot_app0.bin holds seq 1 in otadata[0]) and the twin publishes again.
func TestESP32TwinOTAUpdate(t *testing.T) {
	t.Parallel()
	b, dev, _ := otaBench32(t, "c3-ota")
	pt, _ := layout.ESP32DefaultTable("default", 4<<20)
	app1, _ := pt.ByLabel("app1")
	v2, err := esp32fw.App("ESP32-C3", 2)
	if err != nil {
		t.Fatal(err)
	}

	var oe *ota.Error
	if err := b.upload(dev, ota.Options{Password: "nope"}, v2); !errors.As(err, &oe) || oe.Kind != ota.KindAuth {
		t.Fatalf("wrong password: got %v, want an authentication error", err)
	}
	b.console.wait(t, "#IB ota phase=error err=0")

	if err := b.upload(dev, ota.Options{Password: otaPassword}, v2); err != nil {
		t.Fatal(err)
	}
	b.console.wait(t, "#IB ota phase=end")
	b.console.waitCount(t, "ESP-ROM:esp32c3", 2, waitLong)
	b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic("c3-ota"), 2, waitLong)
	if !strings.Contains(strings.Join(b.board.Events(), "\n"), "Loaded app from partition at offset 0x150000 (app1, ota_1; otadata[1] seq 2)") {
		t.Fatalf("the bootloader did not load app1:\n%s", strings.Join(b.board.Events(), "\n"))
	}
	if got := b.board.Flash().Read(app1.Offset, len(v2)); string(got) != string(v2) {
		t.Fatal("app1 does not hold the uploaded image")
	}
	od := otadataPart(t)
	if e, err := otadata.Parse(b.board.Flash().Read(od.Offset, int(od.Size))); err != nil || e[1] != otadata.NewEntry(2, otadata.StateValid) {
		t.Fatalf("otadata after the update: %+v %v, want otadata[1] seq 2 VALID (the core confirms the new app)", e, err)
	}
	b.console.checkStatusLines(t)
}

// An upload cut short leaves otadata alone: after a reset the twin runs
// from app0 again and publishes.
func TestESP32TwinInterruptedOTA(t *testing.T) {
	t.Parallel()
	b, dev, _ := otaBench32(t, "c3-cut")
	od := otadataPart(t)
	before := b.board.Flash().Read(od.Offset, int(od.Size))
	// A big image, so that the transfer is still running when cancelled.
	big := make([]byte, 600_000)
	big[0] = 0xE9
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := ota.Upload(ctx, ota.Options{Host: "127.0.0.1", Port: dev.Addr().Port, Password: otaPassword}, big, func(e ota.Event) {
		if p, ok := e.(ota.ProgressEvent); ok && p.Acked > 100_000 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancellation", err)
	}
	b.console.wait(t, "#IB ota phase=error err=4")
	if string(b.board.Flash().Read(od.Offset, int(od.Size))) != string(before) {
		t.Fatal("an interrupted upload changed otadata")
	}
	b.board.Reset(false)
	b.console.waitCount(t, "ESP-ROM:esp32c3", 2, waitLong)
	b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic("c3-cut"), 2, waitLong)
	if !strings.Contains(strings.Join(b.board.Events(), "\n"), "Loaded app from partition at offset 0x10000 (app0") {
		t.Fatalf("the bootloader did not load app0 after the reset:\n%s", strings.Join(b.board.Events(), "\n"))
	}
}

// A filesystem upload (espota --spiffs) replaces the "spiffs" partition:
// after the restart the twin mounts the new LittleFS, whose extra file
// shows in its fs line, and publishes.
func TestESP32TwinFilesystemOTA(t *testing.T) {
	t.Parallel()
	b, dev, files := otaBench32(t, "c3-fs")
	part, _ := layout.ESP32DefaultTable("default", 4<<20)
	fsPart, _ := part.ByLabel("spiffs")
	g, err := fsimage.ForESP32Partition(fsPart)
	if err != nil {
		t.Fatal(err)
	}
	var fl []fstree.File
	for n, d := range files {
		fl = append(fl, fstree.File{Path: "/" + n, Data: d})
	}
	fl = append(fl, fstree.File{Path: "/notes.txt", Data: []byte("second image")})
	tree, err := fstree.FromFiles(fl)
	if err != nil {
		t.Fatal(err)
	}
	img, err := fsimage.Build(layout.LittleFS, tree, g, fsimage.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.upload(dev, ota.Options{Password: otaPassword, Target: ota.CommandFS}, img); err != nil {
		t.Fatal(err)
	}
	b.console.wait(t, "OTA start: filesystem")
	b.console.waitCount(t, "ESP-ROM:esp32c3", 2, waitLong)
	b.console.wait(t, "notes.txt")
	b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic("c3-fs"), 2, waitLong)
}

func otadataPart(t *testing.T) layout.Partition {
	t.Helper()
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pt.ByLabel("otadata")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

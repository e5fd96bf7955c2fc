package provision

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/flasher/otadata"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// ESP32-family boards end to end: the virtual chip boots the stand-in
// bootloader at its offset, reads the partition table at 0x8000 and runs
// the twin from the app partition; the twin finds the filesystem through
// the same table. The local cloud's broker sees the board connect and the
// pipeline sees its first publish.

func esp32Board(t *testing.T, chip string, mac byte) (*virtualboard.Board, Target) {
	return boardWith(t, virtualboard.Config{Chip: chip, App: esp32Twin()}, mac)
}

func esp32Twin() virtualboard.App { return twin.App(twin.Options{FS: layout.LittleFS}) }

func defaultTable(t *testing.T) *layout.PartitionTable {
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func mergedImage(t *testing.T, chip string, version int) []byte {
	img, err := esp32fw.Merged(chip, defaultTable(t), version)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// esp32Options: e2eOptions without the ESP8266 layout and application.
func esp32Options(t *testing.T) (Options, *broker) {
	br := newBroker(t)
	lc := &LocalCloud{Cloud: br.cloud, Broker: br.b}
	br.also = lc.Observe
	o := e2eOptions(t, lc, br)
	o.Layout, o.App = "", nil
	return o, br
}

// A blank ESP32-C3 and a merged image (bootloader at 0x0, table, app)
// given as --app: written at 0x0 with the filesystem in the table's
// spiffs partition, verified on the local cloud; a re-run changes nothing.
func TestLocalCloudESP32C3MergedAppToVerified(t *testing.T) {
	o, br := esp32Options(t)
	b, tgt := esp32Board(t, "ESP32-C3", 0x71)
	o.App, o.AppName = mergedImage(t, "ESP32-C3", 1), "merged.bin"
	res, _ := provisionBlank(t, tgt, o, "local", "esp32c3-a1b271")
	if !br.connectedAs(res.Thing) {
		t.Fatalf("the broker saw no connection from the board as its thing: %+v", br.events("connected"))
	}
	if !bytes.Equal(b.Flash().Read(0, len(o.App)), o.App) {
		t.Fatal("the merged image is not at 0x0")
	}
	fs, _ := defaultTable(t).FS()
	for _, s := range res.Steps {
		if s.Step == StepImage && !strings.Contains(s.Message, "partition spiffs (table from the merged image merged.bin) (at 0x290000)") {
			t.Errorf("image step: %s", s.Message)
		}
	}
	if got := b.Flash().Read(fs.Offset, 4); bytes.Equal(got, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		t.Fatal("nothing written into the spiffs partition")
	}
	// The ROM hashes the filesystem above 2 MB too (SPI_SET_PARAMS first),
	// so the chip, not the ledger, says it is unchanged.
	again := rerunIsNoOp(t, tgt, o)
	for _, s := range again.Steps {
		if s.Step == StepFlash && !strings.Contains(s.Message, "filesystem at 0x290000 unchanged (MD5 ") {
			t.Errorf("re-run flash step: %s", s.Message)
		}
	}

	// The doctor on the live board: nothing written, the publish seen.
	erases, programs := b.Flash().Stats()
	ex := Examine(context.Background(), tgt, o, nil)
	if !ex.Verified || ex.Thing != res.Thing {
		t.Fatalf("examine: verified %v thing %q: %s", ex.Verified, ex.Thing, ex.Error)
	}
	if e2, p2 := b.Flash().Stats(); e2 != erases || p2 != programs {
		t.Fatalf("examine wrote flash: erases %d→%d programs %d→%d", erases, e2, programs, p2)
	}
}

// The original ESP32 (bootloader at 0x1000) holding a bootloader, table
// and an older app: no --partitions, so the table is read from the chip;
// --app is an app image, written at the boot app partition (0x10000).
func TestLocalCloudESP32AppImageIntoChipTable(t *testing.T) {
	o, _ := esp32Options(t)
	b, tgt := esp32Board(t, "ESP32", 0x72)
	b.Flash().Load(0, mergedImage(t, "ESP32", 1))
	app, err := esp32fw.App("ESP32", 2)
	if err != nil {
		t.Fatal(err)
	}
	o.App, o.AppName = app, "app.bin"
	res, _ := provisionBlank(t, tgt, o, "local", "esp32-a1b272")
	at, _ := defaultTable(t).BootApp()
	if !bytes.Equal(b.Flash().Read(at.Offset, len(app)), app) {
		t.Fatalf("the app image is not at 0x%x", at.Offset)
	}
	var flashMsg string
	for _, s := range res.Steps {
		if s.Step == StepFlash {
			flashMsg = s.Message
		}
	}
	if !strings.Contains(flashMsg, "app.bin: 28 KiB at 0x10000") || strings.Contains(flashMsg, "partition table") {
		t.Fatalf("flash step: %s", flashMsg)
	}
}

// A blank ESP32-C3 and no --app: the default table and the filesystem
// are written, but the ROM finds no bootloader ("invalid header"), so the
// run ends not verified, quickly, with the doctor's finding and its fix.
func TestESP32BlankWithoutAppNotVerified(t *testing.T) {
	o, _ := esp32Options(t)
	b, tgt := esp32Board(t, "ESP32-C3", 0x73)
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified {
		t.Fatal("verified a board without firmware")
	}
	top := res.Report.Top()
	if top == nil || !strings.Contains(top.Summary, "invalid header: 0xffffffff") || !strings.Contains(top.Fix, "iotbench provision --app merged.bin") {
		t.Fatalf("top finding: %+v", top)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Step != StepBoot || last.Status != KindFailed || !strings.Contains(last.Message, "invalid header") {
		t.Fatalf("last step %+v", last)
	}
	pt, err := layout.ParseBinary(b.Flash().Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil || len(pt.Partitions) != len(defaultTable(t).Partitions) {
		t.Fatalf("the default table was not written: %v", err)
	}
}

// --app for another chip, and a merged image for a chip whose bootloader
// lives elsewhere, are refused before anything is written.
func TestESP32AppChecks(t *testing.T) {
	o, _ := esp32Options(t)
	b, tgt := esp32Board(t, "ESP32-C3", 0x74)
	s3, _ := esp32fw.App("ESP32-S3", 1)
	o.App, o.AppName = s3, "s3.bin"
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified || !strings.Contains(res.Error, "image is for ESP32-S3 (chip ID 9), not ESP32-C3") {
		t.Fatalf("s3 app on a c3: %s", res.Error)
	}
	o.App, o.AppName = mergedImage(t, "ESP32", 1), "esp32-merged.bin"
	res = Run(context.Background(), tgt, o, nil)
	if res.Verified || !strings.Contains(res.Error, "a merged image for the ESP32-C3 has its bootloader at 0x0") {
		t.Fatalf("esp32 merged image on a c3: %s", res.Error)
	}
	if e, p := b.Flash().Stats(); e != 0 || p != 0 {
		t.Fatalf("flash written: %d erases, %d programs", e, p)
	}
}

// An ESP32-S3 on its built-in USB-Serial/JTAG controller (resets through
// the CDC line state, no baud rate): blank to verified with a merged image,
// and a re-run changes nothing.
func TestLocalCloudESP32S3OverUSBJTAGSerial(t *testing.T) {
	o, _ := esp32Options(t)
	_, tgt := boardWith(t, virtualboard.Config{Chip: "ESP32-S3", USBJTAGSerial: true, App: esp32Twin()}, 0x76)
	o.App, o.AppName = mergedImage(t, "ESP32-S3", 1), "merged.bin"
	provisionBlank(t, tgt, o, "local", "esp32s3-a1b276")
	rerunIsNoOp(t, tgt, o)
}

// flashMessage is the flash step's message of a run.
func flashMessage(res *Result) string {
	for _, s := range res.Steps {
		if s.Step == StepFlash {
			return s.Message
		}
	}
	return ""
}

func otadataOf(t *testing.T, b *virtualboard.Board) ([]byte, otadata.Selection) {
	t.Helper()
	od, _ := defaultTable(t).ByLabel("otadata")
	data := b.Flash().Read(od.Offset, int(od.Size))
	sel, err := otadata.Select(defaultTable(t), data)
	if err != nil {
		t.Fatal(err)
	}
	return data, sel
}

// A merged image built the ESP-IDF way, with an erased otadata
// (ota_data_initial.bin): the bootloader's first boot writes otadata[0]
// (set_actual_ota_seq), so flash no longer matches the image. A re-run
// with the same image still changes nothing: everything but otadata
// matches by MD5, and the board's otadata boots app0 as the image's does.
func TestESP32RerunKeepsOTADataTheBootloaderWrote(t *testing.T) {
	o, _ := esp32Options(t)
	b, tgt := esp32Board(t, "ESP32-C3", 0x77)
	img := mergedImage(t, "ESP32-C3", 1)
	od, _ := defaultTable(t).ByLabel("otadata")
	copy(img[od.Offset:od.Offset+od.Size], bytes.Repeat([]byte{0xFF}, int(od.Size)))
	o.App, o.AppName = img, "idf-merged.bin"
	provisionBlank(t, tgt, o, "local", "esp32c3-a1b277")
	data, sel := otadataOf(t, b)
	want := otadata.NewEntry(1, otadata.StateValid)
	if sel.Index != 0 || sel.Active != 0 || sel.Entries[0] != want || bytes.Equal(data, img[od.Offset:od.Offset+od.Size]) {
		t.Fatalf("the first boot did not record ota_0 in otadata[0]: %+v", sel)
	}
	erases, programs := b.Flash().Stats()
	res := Run(context.Background(), tgt, o, nil)
	requireVerified(t, res)
	if !res.NoChange || stepStatus(res, StepFlash) != KindSkipped {
		t.Fatalf("re-run changed something: %+v", res.Steps)
	}
	if msg := flashMessage(res); !strings.Contains(msg, "idf-merged.bin at 0x0 unchanged (MD5 matches outside otadata; the board's otadata boots app0 (ota_0), as the image's does)") {
		t.Fatalf("flash step: %s", msg)
	}
	if e, p := b.Flash().Stats(); e != erases || p != programs {
		t.Fatalf("the re-run wrote flash: erases %d→%d programs %d→%d", erases, e, programs, p)
	}
}

// After an OTA update into app1 the board's otadata boots app1; provision
// with the merged image again writes the image's otadata back (and only
// that: the rest matches), so the board boots app0 and verifies from it.
func TestESP32ReprovisionAfterOTABootsApp0(t *testing.T) {
	const password = "bench-ota"
	o, _ := esp32Options(t)
	o.OTAPasswordMD5 = ota.PasswordHash(password)
	dev, err := arduinoota.New(arduinoota.Config{Chip: "ESP32-C3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	b, tgt := boardWith(t, virtualboard.Config{Chip: "ESP32-C3", App: twin.App(twin.Options{FS: layout.LittleFS, NewOTA: twin.ArduinoOTA(dev)})}, 0x78)
	o.App, o.AppName = mergedImage(t, "ESP32-C3", 1), "merged.bin"
	provisionBlank(t, tgt, o, "local", "esp32c3-a1b278")

	v2, err := esp32fw.App("ESP32-C3", 2)
	if err != nil {
		t.Fatal(err)
	}
	// Update.end() writes otadata before the device answers OK.
	if _, err := ota.Upload(context.Background(), ota.Options{Host: "127.0.0.1", Port: dev.Addr().Port, Password: password}, v2, nil); err != nil {
		t.Fatal(err)
	}
	if _, sel := otadataOf(t, b); sel.Index != 1 {
		t.Fatalf("after the OTA update otadata selects slot %d, want app1", sel.Index)
	}
	app1, _ := defaultTable(t).ByLabel("app1")
	if !bytes.Equal(b.Flash().Read(app1.Offset, len(v2)), v2) {
		t.Fatal("app1 does not hold the update")
	}

	emit, events := collect()
	res := Run(context.Background(), tgt, o, emit)
	requireVerified(t, res)
	if res.NoChange {
		t.Fatal("re-provision after the OTA update changed nothing: the board would keep booting app1")
	}
	if msg := flashMessage(res); !strings.Contains(msg, "merged.bin otadata: 8 KiB at 0xe000") || strings.Contains(msg, "merged.bin: ") {
		t.Fatalf("flash step: %s", msg)
	}
	said := false
	for _, e := range events() {
		said = said || strings.Contains(e.Message, "the board's otadata at 0xe000 boots app1 (ota_1) and the image's app0 (ota_0): writing the image's otadata")
	}
	if !said {
		t.Error("no event says why otadata is written")
	}
	if data, _ := otadataOf(t, b); !bytes.Equal(data, otadata.BootApp0()) {
		t.Fatal("otadata is not the image's boot_app0.bin")
	}
	log := b.Events()
	var last string
	for _, l := range log {
		if strings.Contains(l, "Loaded app from partition") {
			last = l
		}
	}
	if !strings.Contains(last, "offset 0x10000 (app0, ota_0") {
		t.Fatalf("the board last booted %q, want app0", last)
	}
	// And again: nothing to do.
	rerunIsNoOp(t, tgt, o)
}

package device_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

const c3 = "ESP32-C3"

func newC3(t *testing.T, flashed bool) *virtual.Board { return newESP32(t, c3, flashed) }

func newESP32(t *testing.T, chip string, flashed bool) *virtual.Board {
	t.Helper()
	b, err := virtual.New(virtual.Options{Speed: speed, Flashed: flashed, Chip: chip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func defaultTable(t *testing.T) *layout.PartitionTable {
	t.Helper()
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func appFile(t *testing.T, chip string, version int) (string, []byte) {
	t.Helper()
	app, err := esp32fw.App(chip, version)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "app.bin", app), app
}

func dataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"thing":"c3-bench"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func regionAt(t *testing.T, done device.FlashDone, addr uint32) device.RegionInfo {
	t.Helper()
	for _, r := range done.Regions {
		if r.Addr == addr {
			return r
		}
	}
	t.Fatalf("no region at 0x%X: %+v", addr, done.Regions)
	return device.RegionInfo{}
}

// mounted opens what the flash holds in the table's filesystem partition.
func mounted(t *testing.T, b *virtual.Board, pt *layout.PartitionTable) *fsimage.Image {
	t.Helper()
	fs, err := pt.FS()
	if err != nil {
		t.Fatal(err)
	}
	im, err := fsimage.Open(b.Flash().Read(fs.Offset, int(fs.Size)), "")
	if err != nil {
		t.Fatalf("the spiffs partition does not mount: %v", err)
	}
	return im
}

// boots resets the board and waits for the app's output: the ROM found
// the bootloader and the bootloader the app in the table's boot partition.
func boots(t *testing.T, d *device.Device) {
	t.Helper()
	gen := startMonitor(t, d, true)
	var log serialLog
	log.until(t, d, gen, lineWith("reading 1 "))
}

// An app image on a board that holds bootloader, table and an older app
// goes to the boot app partition of the chip's table (0x10000), not to
// 0x0 — where the C3's bootloader is; the ESP32's is at 0x1000 — and a
// folder is built into the table's spiffs partition; the board then boots
// the new app.
func TestFlashESP32AppIntoChipTable(t *testing.T) {
	for _, chip := range []string{c3, "ESP32"} {
		t.Run(chip, func(t *testing.T) {
			b := newESP32(t, chip, true)
			d := newDevice(t, b, true)
			blOff, err := image.BootloaderOffset(chip)
			if err != nil {
				t.Fatal(err)
			}
			bl, err := esp32fw.Bootloader(chip)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Flash().Read(blOff, len(bl)), bl) {
				t.Fatalf("the flashed board holds no bootloader at 0x%X", blOff)
			}
			path, app := appFile(t, chip, 2)
			evs, done := flashAll(t, d, device.Plan{App: path, FS: dataDir(t), FSKind: layout.SPIFFS})
			if done.Err != nil {
				t.Fatalf("flash: %v", done.Err)
			}
			if !bytes.Equal(b.Flash().Read(0x10000, len(app)), app) {
				t.Fatal("the app image is not at 0x10000")
			}
			if !bytes.Equal(b.Flash().Read(blOff, len(bl)), bl) {
				t.Fatal("the bootloader was overwritten")
			}
			if done.Table != device.TableFromChip || len(done.Regions) != 2 {
				t.Fatalf("table %q, regions %+v", done.Table, done.Regions)
			}
			if s := regionAt(t, done, 0x10000).String(); s != "app.bin → 0x10000 (app0, from the chip's partition table)" {
				t.Fatalf("app region: %s", s)
			}
			fs := regionAt(t, done, 0x290000)
			if fs.Why != "spiffs, from the chip's partition table" || !strings.Contains(fs.Name, "spiffs, 1 files") {
				t.Fatalf("filesystem region: %s", fs)
			}
			im := mounted(t, b, defaultTable(t))
			if im.Kind != layout.SPIFFS || len(im.Entries) != 1 || im.Entries[0].Path != "/config.json" {
				t.Fatalf("mounted %s with %+v", im.Kind, im.Entries)
			}
			var planned *device.PlannedEvent
			for _, e := range evs {
				if p, ok := e.(device.PlannedEvent); ok {
					planned = &p
				}
			}
			if planned == nil || planned.Table != device.TableFromChip || len(planned.Regions) != 2 {
				t.Fatalf("planned event %+v", planned)
			}
			boots(t, d)
		})
	}
}

// A scheme named in the plan is written at 0x8000 and places the
// filesystem; with a merged image (which carries its own table) naming
// one is refused.
func TestFlashESP32NamedScheme(t *testing.T) {
	b := newC3(t, false)
	d := newDevice(t, b, true)
	_, done := flashAll(t, d, device.Plan{FS: dataDir(t), Layout: "min_spiffs"})
	if done.Err != nil {
		t.Fatalf("flash: %v", done.Err)
	}
	pt, err := place.ChipTable(b.Flash().Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen), layout.PartitionTableOffset)
	if err != nil || pt == nil {
		t.Fatalf("no table at 0x8000: %v", err)
	}
	fs, _ := pt.FS()
	if r := regionAt(t, done, fs.Offset); fs.Offset != 0x3D0000 || r.Why != "spiffs, from table scheme min_spiffs" {
		t.Fatalf("filesystem at 0x%X: %s", fs.Offset, r)
	}
	mounted(t, b, pt)

	merged, err := esp32fw.Merged(c3, defaultTable(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	before := b.Flash().Read(0, 4<<20)
	_, done = flashAll(t, d, device.Plan{App: writeFile(t, "m.bin", merged), Layout: "min_spiffs"})
	if done.Err == nil || !strings.Contains(done.Err.Error(), "set the partition table to auto") {
		t.Fatalf("merged image with a named scheme: %v", done.Err)
	}
	if !bytes.Equal(b.Flash().Read(0, 4<<20), before) {
		t.Fatal("the flash changed")
	}
}

// A merged image goes to 0x0 whole (bootloader, table, app), with the
// filesystem in the spiffs partition of the merged image's table.
func TestFlashESP32Merged(t *testing.T) {
	b := newC3(t, false)
	d := newDevice(t, b, true)
	merged, err := esp32fw.Merged(c3, defaultTable(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "sketch.merged.bin", merged)
	_, done := flashAll(t, d, device.Plan{App: path, FS: dataDir(t)})
	if done.Err != nil {
		t.Fatalf("flash: %v", done.Err)
	}
	if !bytes.Equal(b.Flash().Read(0, len(merged)), merged) {
		t.Fatal("the merged image is not at 0x0")
	}
	if done.Table != device.TableFromMerged {
		t.Fatalf("table from %q", done.Table)
	}
	if r := regionAt(t, done, 0); r.Why != "merged image: bootloader, partition table and app" {
		t.Fatalf("merged region: %s", r)
	}
	if im := mounted(t, b, defaultTable(t)); im.Kind != layout.LittleFS || len(im.Entries) != 1 {
		t.Fatalf("mounted %s with %+v", im.Kind, im.Entries)
	}
	boots(t, d)
}

// A filesystem alone on a blank C3: the chip has no table, so
// arduino-esp32's default goes to 0x8000 with the image in its spiffs
// partition.
func TestFlashESP32FilesystemOnBlank(t *testing.T) {
	b := newC3(t, false)
	d := newDevice(t, b, true)
	_, done := flashAll(t, d, device.Plan{FS: dataDir(t)})
	if done.Err != nil {
		t.Fatalf("flash: %v", done.Err)
	}
	if !strings.HasPrefix(done.Table, device.TableFromDefault) {
		t.Fatalf("table from %q", done.Table)
	}
	if r := regionAt(t, done, 0x8000); r.Why != "arduino-esp32's default table (default; the chip had none)" {
		t.Fatalf("table region: %s", r)
	}
	pt, err := place.ChipTable(b.Flash().Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen), layout.PartitionTableOffset)
	if err != nil || pt == nil {
		t.Fatalf("no table at 0x8000 after the flash: %v", err)
	}
	if fs, _ := pt.FS(); fs.Offset != 0x290000 {
		t.Fatalf("the written table's filesystem is at 0x%X", fs.Offset)
	}
	mounted(t, b, pt)
}

// An app for another chip (an S3 app, an ESP8266 sketch) is refused with
// the fix, after connecting (the chip is known then) and before any
// write.
func TestFlashESP32RefusesOtherChip(t *testing.T) {
	b := newC3(t, true)
	d := newDevice(t, b, true)
	s3, _ := appFile(t, "ESP32-S3", 1)
	img, err := virtual.SketchImage()
	if err != nil {
		t.Fatal(err)
	}
	esp8266 := writeFile(t, "esp8266.bin", img)
	before := b.Flash().Read(0, 4<<20)
	for path, want := range map[string]string{
		s3:      "app.bin: the app image is built for the ESP32-S3, not the ESP32-C3",
		esp8266: "esp8266.bin: the app image: ",
	} {
		_, done := flashAll(t, d, device.Plan{App: path, FS: dataDir(t)})
		var in *flasher.InputError
		if !errors.As(done.Err, &in) || !strings.Contains(done.Err.Error(), want) {
			t.Fatalf("%s: got %v, want an input error with %q", filepath.Base(path), done.Err, want)
		}
		if len(done.Regions) != 0 {
			t.Fatalf("regions planned: %+v", done.Regions)
		}
	}
	if !bytes.Equal(b.Flash().Read(0, 4<<20), before) {
		t.Fatal("the flash changed")
	}
	if d.Busy() != "" {
		t.Fatalf("port still held by %q", d.Busy())
	}
}

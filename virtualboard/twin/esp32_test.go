package twin

import (
	"testing"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// newBench32 is an ESP32-family board booting the stand-in bootloader,
// the default partition table and app, with a filesystem of kind holding
// files in the partition labelled fsLabel ("" = none written).
func newBench32(t testing.TB, o Options, chip string, kind layout.FSKind, fsLabel string, files map[string][]byte) *bench {
	t.Helper()
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := esp32fw.Merged(chip, pt, 1)
	if err != nil {
		t.Fatal(err)
	}
	var img []byte
	var at uint32
	if fsLabel != "" {
		part, err := pt.ByLabel(fsLabel)
		if err != nil {
			t.Fatal(err)
		}
		g, err := fsimage.ForESP32Partition(part)
		if err != nil {
			t.Fatal(err)
		}
		var fl []fstree.File
		for n, d := range files {
			fl = append(fl, fstree.File{Path: "/" + n, Data: d})
		}
		tree, err := fstree.FromFiles(fl)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = fsimage.Build(kind, tree, g, fsimage.BuildOptions{}); err != nil {
			t.Fatal(err)
		}
		at = g.Offset
	}
	return startBench(t, o, virtualboard.Config{Chip: chip}, 115200, func(f *virtualboard.Flash) {
		f.Load(0, fw)
		if img != nil {
			f.Load(at, img)
		}
	})
}

// The twin on an ESP32-C3: finds the "spiffs" partition in the table the
// board holds at 0x8000, mounts LittleFS there, and publishes over mutual
// TLS to the local cloud, printing at the ROM's 115200.
func TestESP32C3PublishesToLocalCloud(t *testing.T) {
	t.Parallel()
	_, files := localCloudThing(t, "c3-lc")
	b := newBench32(t, Options{}, "ESP32-C3", layout.LittleFS, "spiffs", files)
	b.console.wait(t, "ESP-ROM:esp32c3")
	// arduino-esp32's identity: its core version, the IDF target, and
	// esp_reset_reason() of the bench's software restart (rst:0x3
	// RTC_SW_SYS_RESET → ESP_RST_SW, 3).
	b.console.wait(t, "rst:0x3 (RTC_SW_SYS_RESET)")
	b.console.wait(t, "core="+firmware.CoreVersionESP32+" arch=esp32c3 ")
	b.console.wait(t, `reason=3 reason_s="Software restart"`)
	b.console.wait(t, "#IB fs ok=1 kind=littlefs")
	b.console.waitCount(t, "#IB pub topic="+firmware.TelemetryTopic("c3-lc"), 1, waitLong)
	b.console.checkStatusLines(t)
}

// SPIFFS in the ESP32's spiffs partition (ESP32 parameters: metadata,
// magic with length) mounts; a board whose table has no partition with
// the sketch's label reports the mount failure.
func TestESP32FilesystemFromPartitionTable(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{firmware.ConfigFile: testConfig("esp32-fs", 8883).Marshal()}
	b := newBench32(t, Options{FS: layout.SPIFFS, Networks: []Network{}}, "ESP32", layout.SPIFFS, "spiffs", files)
	b.console.wait(t, "#IB fs ok=1 kind=spiffs files=config.json")
	b.console.wait(t, "#IB cfg ok=1 thing=esp32-fs")

	b2 := newBench32(t, Options{FSLabel: "data"}, "ESP32-S3", layout.LittleFS, "spiffs", files)
	b2.console.wait(t, "#IB fs ok=0 kind=littlefs")
	if n := b2.console.count("#IB cfg"); n != 0 {
		t.Fatalf("read a config without a filesystem: %d cfg lines", n)
	}
}

package tui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// esp32FlashScene: an ESP32-C3 mid-flash, the app placed at the boot app
// partition of the chip's table and the filesystem in its spiffs
// partition.
func esp32FlashScene(t *testing.T) *Model {
	why := func(part string) string { return part + ", from " + device.TableFromChip }
	evs := []flasher.Event{
		flasher.ConnectingEvent{Port: "/dev/ttyACM0", Attempt: 1, Of: 7, Strategy: "usb-jtag-serial"},
		flasher.ChipEvent{Chip: "ESP32-C3", Description: "ESP32-C3 (QFN32) (revision v0.4)", MAC: "34:85:18:01:02:03", CrystalMHz: 40},
		flasher.StubEvent{Running: false, Reason: "no stub found (--stub-file, or an installed esptool)"},
		flasher.FlashInfoEvent{Manufacturer: "20", Device: "4016", Size: 4 << 20, SizeName: "4MB"},
		device.PlannedEvent{Table: device.TableFromChip, Regions: []device.RegionInfo{
			{Addr: 0x10000, Size: 262144, Name: "sketch.ino.bin", Why: why("app0")},
			{Addr: 0x290000, Size: 0x160000, Name: "data/ (littlefs, 3 files)", Why: why("spiffs")}}},
		flasher.ProgressEvent{Phase: "write", Addr: 0x10000, Done: 262144, Total: 262144, Elapsed: 4100 * time.Millisecond},
		flasher.WrittenEvent{Addr: 0x10000, Size: 262144, Compressed: 150113, Elapsed: 4200 * time.Millisecond, Verified: true, VerifiedBy: "md5"},
		flasher.ProgressEvent{Phase: "write", Addr: 0x290000, Done: 409600, Total: 0x160000, Elapsed: 2 * time.Second},
	}
	return flashSceneOf(t, device.Spec{Port: "/dev/ttyACM0", Label: "USB JTAG/serial debug unit"},
		device.Facts{Chip: "ESP32-C3", Description: "ESP32-C3 (QFN32) (revision v0.4)", MAC: "34:85:18:01:02:03", FlashSize: 4 << 20},
		"/work/sketch/build/esp32.esp32.esp32c3/sketch.ino.bin", evs)
}

// One golden of the Flash view on an ESP32-family board.
func TestGoldenESP32Flash(t *testing.T) {
	out := renderAt(esp32FlashScene(t), 120, 40)
	checkScreen(t, out, 120, 40)
	golden.RequireEqual(t, out)
}

// A virtual ESP32-C3 holding bootloader, table and an older app is
// flashed from the Flash view: the app goes to 0x10000 (the chip's
// table), the filesystem into spiffs, the bootloader at 0x0 stays, and the
// board boots the new app.
func TestESP32FlashFlow(t *testing.T) {
	b := virtualBoard(t, virtual.Options{Chip: "ESP32-C3", Flashed: true})
	app, err := esp32fw.App("ESP32-C3", 2)
	if err != nil {
		t.Fatal(err)
	}
	bl := b.Flash().Read(0, 0x8000)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "config.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tt := startTUI(t, Options{Boards: []device.Spec{b.Spec()}, Device: testDevice(), App: writeFile(t, "app.bin", app), FS: data, Identify: true})
	tt.waitText(t, "ESP32-C3")
	tt.keys("2")
	tt.waitText(t, "ESP32-C3 image: 28.1 KB")
	tt.waitText(t, "Partitions")
	tt.keys("w")
	s := tt.waitText(t, "done in")
	for _, want := range []string{
		"app.bin → 0x10000 (app0, from the chip's partition table)",
		"→ 0x290000 (spiffs, from the chip's partition table)",
		"placed by the chip's partition table",
	} {
		if !strings.Contains(strings.Join(strings.Fields(s), " "), want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
	if !bytes.Equal(b.Flash().Read(0x10000, len(app)), app) {
		t.Fatal("the app is not at 0x10000")
	}
	if !bytes.Equal(b.Flash().Read(0, 0x8000), bl) {
		t.Fatal("the bootloader region changed")
	}
	tt.keys("1")
	tt.waitText(t, fmt.Sprintf("reading %d temp=", 2))
}

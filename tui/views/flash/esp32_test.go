package flash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

func esp32File(t *testing.T, name string, build func() ([]byte, error)) string {
	t.Helper()
	b, err := build()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func screen(m *Model) string { return strings.Join(strings.Fields(ansi.Strip(m.View())), " ") }

// On an ESP32-C3 the form checks files for the C3, says where an app and
// a merged image go, and picks partition tables instead of ESP8266
// layouts; an ESP8266 layout chosen before goes back to auto.
func TestESP32Form(t *testing.T) {
	m, act, _ := newView()
	m.SetSize(160, 30)
	m.layout = "4M2M"
	run(m, m.SetBoard("ESP32-C3", 4<<20))
	if m.layout != "auto" {
		t.Fatalf("layout %q kept on an ESP32", m.layout)
	}
	app := esp32File(t, "app.bin", func() ([]byte, error) { return esp32fw.App("ESP32-C3", 1) })
	data := t.TempDir()
	run(m, m.SetPaths(app, data))
	s := screen(m)
	for _, want := range []string{
		"ESP32-C3 image: 28.1 KB, 2 segments",
		"written at the boot app partition (0x10000 in arduino-esp32's tables)",
		"Partitions auto: the chip's table at 0x8000; none → default: FS spiffs at 0x290000",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
	// The choices are schemes with a filesystem that fit 4 MB.
	if got := strings.Join(m.layoutChoices(), " "); got != "auto default min_spiffs no_ota huge_app minimal" {
		t.Fatalf("choices %s", got)
	}
	m.focus = fieldLayout
	m.Update(keytest.Press("enter"))
	if s := screen(m); !strings.Contains(s, "Partitions default: FS spiffs at 0x290000, 1.4 MB (written at 0x8000)") {
		t.Fatalf("scheme:\n%s", s)
	}
	run(m, m.Update(keytest.Press("w")))
	if len(act.plans) != 1 || act.plans[0].Layout != "default" || act.plans[0].App != app {
		t.Fatalf("plans %+v", act.plans)
	}

	// A merged image: at 0x0, and its own table places the filesystem.
	m2, _, _ := newView()
	m2.SetSize(160, 30)
	run(m2, m2.SetBoard("ESP32-C3", 4<<20))
	pt, err := layout.ESP32DefaultTable("min_spiffs", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	merged := esp32File(t, "sketch.merged.bin", func() ([]byte, error) { return esp32fw.Merged("ESP32-C3", pt, 1) })
	run(m2, m2.SetPaths(merged, data))
	s = screen(m2)
	for _, want := range []string{
		"merged image for the ESP32-C3 (bootloader, partition table, app), 92.1 KB: written at 0x0; its table puts the filesystem in spiffs at 0x3D0000",
		"Partitions auto → the merged image's: FS spiffs at 0x3D0000, 128.0 KB",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
}

// Files for another chip are refused in the form, with the fix.
func TestESP32OtherChipFile(t *testing.T) {
	m, _, _ := newView()
	m.SetSize(200, 30)
	run(m, m.SetBoard("ESP32-C3", 4<<20))
	s3 := esp32File(t, "s3.bin", func() ([]byte, error) { return esp32fw.App("ESP32-S3", 1) })
	run(m, m.SetPaths(s3, ""))
	if s := screen(m); !strings.Contains(s, "not an application image for the ESP32-C3: the app image is built for the ESP32-S3, not the ESP32-C3") {
		t.Fatalf("S3 app on a C3:\n%s", s)
	}
	// The same file looked at while the chip was unknown is looked at
	// again once the chip is known; a stale answer is dropped.
	m2, _, _ := newView()
	m2.SetSize(200, 30)
	stale := m2.SetPaths(s3, "")
	run(m2, m2.SetBoard("ESP32-C3", 4<<20))
	if s := screen(m2); !strings.Contains(s, "built for the ESP32-S3") {
		t.Fatalf("not re-inspected for the C3:\n%s", s)
	}
	run(m2, stale)
	if s := screen(m2); !strings.Contains(s, "built for the ESP32-S3") {
		t.Fatalf("a stale inspection replaced the C3's:\n%s", s)
	}
}

// The job's regions say where they went and why; the verdict names the
// table.
func TestESP32Progress(t *testing.T) {
	m, _, _ := newView()
	m.SetSize(120, 30)
	run(m, m.SetBoard("ESP32-C3", 4<<20))
	m.SetPaths("/x/app.bin", "/x/data")
	m.Update(keytest.Press("w"))
	regions := []device.RegionInfo{
		{Addr: 0x10000, Size: 28 << 10, Name: "app.bin", Why: "app0, from " + device.TableFromChip},
		{Addr: 0x290000, Size: 0x160000, Name: "data/ (littlefs, 1 files)", Why: "spiffs, from " + device.TableFromChip},
	}
	m.Update(device.FlashProgress{Events: []flasher.Event{device.PlannedEvent{Regions: regions, Table: device.TableFromChip}}})
	m.Update(device.FlashDone{Regions: regions, Table: device.TableFromChip})
	s := screen(m)
	for _, want := range []string{
		"app.bin → 0x10000 (app0, from the chip's partition table)",
		"data/ (littlefs, 1 files) → 0x290000 (spiffs, from the chip's partition table)",
		"2 region(s) written, placed by the chip's partition table",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
}

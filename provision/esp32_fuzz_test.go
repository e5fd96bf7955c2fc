package provision

import (
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// splitApp reads a user's --app file: any bytes give an answer or an
// error, never a panic; a merged verdict always comes with its table.
func FuzzSplitApp(f *testing.F) {
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		f.Fatal(err)
	}
	for _, chip := range []string{"ESP32-C3", "ESP32"} {
		m, err := esp32fw.Merged(chip, pt, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m[:0x8000+0x100], chip == "ESP32")
		app, _ := esp32fw.App(chip, 1)
		f.Add(app, chip == "ESP32")
	}
	f.Add([]byte{0xE9, 0xFF}, false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, b []byte, esp32 bool) {
		chip := "ESP32-C3"
		if esp32 {
			chip = "ESP32"
		}
		merged, table, err := splitApp(b, chip)
		if err == nil && merged && table == nil {
			t.Fatal("merged without a table")
		}
		if err != nil && (merged || table != nil) {
			t.Fatal("an error with a verdict")
		}
	})
}

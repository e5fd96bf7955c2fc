package layout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/iotbench/iotbench/flasher/target"
)

// esp32Default is one partition scheme arduino-esp32 ships in
// tools/partitions/<name>.csv (core 3.x generation).
type esp32Default struct {
	name      string
	flashSize int
	source    string // how sure we are: "stored copy" or "third-party copies"
	rows      []Partition
}

func app(label string, sub byte, off, size uint32) Partition {
	return Partition{Label: label, Type: TypeApp, SubType: sub, Offset: off, Size: size}
}

func data(label string, sub byte, off, size uint32) Partition {
	return Partition{Label: label, Type: TypeData, SubType: sub, Offset: off, Size: size}
}

// Every arduino-esp32 scheme starts with nvs 0x9000/0x5000 and otadata
// 0xE000/0x2000.
func arduinoHead() []Partition {
	return []Partition{data("nvs", SubTypeNVS, 0x9000, 0x5000), data("otadata", SubTypeOTAData, 0xE000, 0x2000)}
}

// esp32Defaults are the schemes as arduino-esp32 3.x ships them. Values
// were read from the stored copies of espressif/arduino-esp32
// tools/partitions/*.csv named in each comment; "third-party" marks
// values only seen in many consistent third-party copies of the current
// files (filesystem-images.md §1.2 calls them unverified, too). Older
// cores differ: 1.0.x's default.csv had an eeprom partition at 0x290000
// and spiffs at 0x291000/0x16F000; early min_spiffs.csv had spiffs
// 0x3D0000/0x30000 and no coredump.
var esp32Defaults = []esp32Default{
	// default.csv @acf6c7b9 ("Default 4MB with spiffs").
	{"default", 4 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x140000),
		app("app1", SubTypeOTA0+1, 0x150000, 0x140000),
		data("spiffs", SubTypeSPIFFS, 0x290000, 0x160000),
		data("coredump", SubTypeCoredump, 0x3F0000, 0x10000))},
	// min_spiffs.csv: third-party copies of core 3.x (the stored copy
	// @387773f is the older 0x30000-spiffs, no-coredump version).
	{"min_spiffs", 4 << 20, "third-party copies", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x1E0000),
		app("app1", SubTypeOTA0+1, 0x1F0000, 0x1E0000),
		data("spiffs", SubTypeSPIFFS, 0x3D0000, 0x20000),
		data("coredump", SubTypeCoredump, 0x3F0000, 0x10000))},
	// no_ota.csv @161b1673.
	{"no_ota", 4 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x200000),
		data("spiffs", SubTypeSPIFFS, 0x210000, 0x1E0000),
		data("coredump", SubTypeCoredump, 0x3F0000, 0x10000))},
	// huge_app.csv @acf6c7b9.
	{"huge_app", 4 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x300000),
		data("spiffs", SubTypeSPIFFS, 0x310000, 0xE0000),
		data("coredump", SubTypeCoredump, 0x3F0000, 0x10000))},
	// no_fs.csv @605db20d.
	{"no_fs", 4 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x1F0000),
		app("app1", SubTypeOTA0+1, 0x200000, 0x1F0000),
		data("coredump", SubTypeCoredump, 0x3F0000, 0x10000))},
	// minimal.csv @14d9c41e (2 MB flash).
	{"minimal", 2 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x140000),
		data("spiffs", SubTypeSPIFFS, 0x150000, 0xA0000),
		data("coredump", SubTypeCoredump, 0x1F0000, 0x10000))},
	// default_8MB.csv @8de5fc2a.
	{"default_8MB", 8 << 20, "stored copy", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x330000),
		app("app1", SubTypeOTA0+1, 0x340000, 0x330000),
		data("spiffs", SubTypeSPIFFS, 0x670000, 0x180000),
		data("coredump", SubTypeCoredump, 0x7F0000, 0x10000))},
	// default_16MB.csv: third-party copies of core 3.x (stored copies are
	// older: spiffs 0xC90000/0x370000 or /0x36FFFC, no coredump).
	{"default_16MB", 16 << 20, "third-party copies", append(arduinoHead(),
		app("app0", SubTypeOTA0, 0x10000, 0x640000),
		app("app1", SubTypeOTA0+1, 0x650000, 0x640000),
		data("spiffs", SubTypeSPIFFS, 0xC90000, 0x360000),
		data("coredump", SubTypeCoredump, 0xFF0000, 0x10000))},
}

// ESP32DefaultNames lists the partition schemes ESP32DefaultTable knows.
func ESP32DefaultNames() []string {
	out := make([]string, len(esp32Defaults))
	for i, d := range esp32Defaults {
		out[i] = d.name
	}
	return out
}

// ESP32DefaultTable returns one of arduino-esp32's partition schemes by
// its tools/partitions file name ("default", "min_spiffs", "no_ota",
// "huge_app", "no_fs", "minimal", "default_8MB", "default_16MB"; any case,
// ".csv" optional). flashSize > 0 checks that the scheme fits that flash;
// the error then names the schemes made for it. These are fallbacks:
// prefer the project's own CSV or the table read back from the board.
func ESP32DefaultTable(name string, flashSize int) (*PartitionTable, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".csv")
	for _, d := range esp32Defaults {
		if strings.ToLower(d.name) != n {
			continue
		}
		t := &PartitionTable{Partitions: append([]Partition(nil), d.rows...)}
		for i := range t.Partitions {
			t.Partitions[i].fillNames()
		}
		if flashSize > 0 && flashSize < d.flashSize {
			var fit []string
			for _, o := range esp32Defaults {
				if o.flashSize <= flashSize {
					fit = append(fit, o.name)
				}
			}
			return nil, fmt.Errorf("partition scheme %s needs %s of flash, the chip has %s: use one of %s",
				d.name, target.SizeName(d.flashSize), target.SizeName(flashSize), orNone(strings.Join(fit, ", ")))
		}
		if err := t.Validate(flashSize); err != nil {
			return nil, fmt.Errorf("partition scheme %s: %w", d.name, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown partition scheme %q: use one of %s", name, strings.Join(ESP32DefaultNames(), ", "))
}

// ESP32DefaultTables lists the known schemes for display.
func ESP32DefaultTables() Table {
	t := Table{
		Title:  "ESP32 partition schemes (arduino-esp32 tools/partitions)",
		Header: []string{"Scheme", "Flash", "Apps", "App size", "FS offset", "FS size", "Source"},
	}
	ds := append([]esp32Default(nil), esp32Defaults...)
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].flashSize < ds[j].flashSize })
	for _, d := range ds {
		apps, appSize := 0, uint32(0)
		fsOff, fsSize := "-", "-"
		for _, p := range d.rows {
			switch {
			case p.Type == TypeApp:
				apps++
				appSize = max(appSize, p.Size)
			case p.Type == TypeData && (p.SubType == SubTypeSPIFFS || p.SubType == SubTypeLittleFS):
				fsOff, fsSize = fmt.Sprintf("0x%06X", p.Offset), hexSize(p.Size)
			}
		}
		t.Rows = append(t.Rows, []string{d.name, target.SizeName(d.flashSize), fmt.Sprint(apps), hexSize(appSize), fsOff, fsSize, d.source})
	}
	return t
}

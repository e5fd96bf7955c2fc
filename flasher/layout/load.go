package layout

import (
	"errors"
	"fmt"
	"os"
)

// LoadTable reads a partition table the way a user names one (write-flash
// and provision --partitions): a file — CSV or binary — when spec names an
// existing file, else an arduino-esp32 scheme name ("default",
// "min_spiffs", …; see ESP32DefaultTable). The table is validated, against
// flashSize when it is known (> 0). from says where it came from, for
// messages ("parts.csv", "scheme default").
func LoadTable(spec string, flashSize int) (t *PartitionTable, from string, err error) {
	if _, statErr := os.Stat(spec); statErr != nil {
		t, err := ESP32DefaultTable(spec, flashSize)
		if err != nil {
			return nil, "", fmt.Errorf("partitions %s: no such file, and %w", spec, err)
		}
		return t, "scheme " + spec, nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, "", err
	}
	if t, err = ParseChecked(b, spec, flashSize); err != nil {
		return nil, "", err
	}
	return t, spec, nil
}

// ParseChecked parses a CSV or binary table read from the file name and
// validates it against flashSize (0: unknown), with an error that says
// how to repair the file.
func ParseChecked(b []byte, name string, flashSize int) (*PartitionTable, error) {
	t, err := Parse(b)
	if err == nil {
		err = t.Validate(flashSize)
	}
	if err != nil {
		fix := "fix the CSV"
		switch {
		case errors.Is(err, ErrBadMD5):
			fix = "the binary table is damaged: regenerate it from its CSV (iotbench partitions TABLE.csv -o TABLE.bin)"
		case len(b) >= 2 && b[0] == magicEntry[0] && b[1] == magicEntry[1]:
			fix = "regenerate the binary table from a corrected CSV (iotbench partitions TABLE.csv -o TABLE.bin)"
		}
		return nil, fmt.Errorf("%s: %w; %s", name, err, fix)
	}
	return t, nil
}

// ESP32DefaultFor is the arduino-esp32 scheme the Arduino IDE preselects
// for a flash size (tools/partitions: default.csv for 4 MB, default_8MB,
// default_16MB; minimal for 2 MB), "" when there is none.
func ESP32DefaultFor(flashSize int) string {
	switch flashSize >> 20 {
	case 2:
		return "minimal"
	case 4:
		return "default"
	case 8:
		return "default_8MB"
	case 16:
		return "default_16MB"
	}
	return ""
}

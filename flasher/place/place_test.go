package place_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

func defaultTable(t testing.TB) *layout.PartitionTable {
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func TestSplit(t *testing.T) {
	pt := defaultTable(t)
	for _, chip := range []string{"ESP32", "ESP32-C3", "ESP32-S3"} {
		m, err := esp32fw.Merged(chip, pt, 1)
		if err != nil {
			t.Fatal(err)
		}
		merged, table, err := place.Split(m, chip)
		if err != nil || !merged || table == nil || len(table.Partitions) != len(pt.Partitions) {
			t.Errorf("%s merged: %v %v %v", chip, merged, table, err)
		}
		app, _ := esp32fw.App(chip, 1)
		merged, table, err = place.Split(app, chip)
		if err != nil || merged || table != nil {
			t.Errorf("%s app: %v %v %v", chip, merged, table, err)
		}
	}
	s3, _ := esp32fw.App("ESP32-S3", 1)
	_, _, err := place.Split(s3, "ESP32-C3")
	var oc *place.OtherChipError
	if !errors.As(err, &oc) || !strings.Contains(err.Error(), "the app image: image is for ESP32-S3 (chip ID 9), not ESP32-C3") ||
		!strings.HasPrefix(oc.Advice(), "the app image is built for the ESP32-S3, not the ESP32-C3: build it for the ESP32-C3") {
		t.Errorf("an S3 app on a C3: %v", err)
	}
	// An ESP32 merged image has its bootloader at 0x1000; on a C3 the
	// bootloader is looked for at 0x0, where there is nothing.
	m32, _ := esp32fw.Merged("ESP32", pt, 1)
	if _, _, err := place.Split(m32, "ESP32-C3"); err == nil || !strings.Contains(err.Error(), "merge it for this chip") {
		t.Errorf("an ESP32 merged image on a C3: %v", err)
	}
	if _, _, err := place.Split([]byte("hello"), "ESP32-C3"); err == nil || !strings.Contains(err.Error(), "merge-bin") {
		t.Errorf("text: %v", err)
	}
}

func TestChipTable(t *testing.T) {
	pt := defaultTable(t)
	bin, err := pt.Binary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := place.ChipTable(bin, layout.PartitionTableOffset)
	if err != nil || got == nil || len(got.Partitions) != len(pt.Partitions) {
		t.Fatalf("table: %v %v", got, err)
	}
	got, err = place.ChipTable(bytes.Repeat([]byte{0xFF}, layout.PartitionTableMaxLen), layout.PartitionTableOffset)
	if got != nil || err != nil {
		t.Fatalf("erased: %v %v", got, err)
	}
	bad := append([]byte(nil), bin...)
	bad[5] ^= 0xFF
	if _, err := place.ChipTable(bad[:40], layout.PartitionTableOffset); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged: %v", err)
	}
}

func TestDefaultAndApp(t *testing.T) {
	pt, scheme, err := place.DefaultTable(4 << 20)
	if err != nil || scheme != "default" {
		t.Fatalf("%s %v", scheme, err)
	}
	p, err := place.AppPartition(pt, 100<<10)
	if err != nil || p.Offset != 0x10000 || p.Label != "app0" {
		t.Fatalf("app partition %v %v", p, err)
	}
	if _, err := place.AppPartition(pt, int(p.Size)+1); err == nil || !strings.Contains(err.Error(), "huge_app") {
		t.Fatalf("too big: %v", err)
	}
	if _, _, err := place.DefaultTable(3 << 20); err == nil {
		t.Fatal("a default table for 3 MB")
	}
}

func TestFilesystem(t *testing.T) {
	pt := defaultTable(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"thing":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, _ := pt.FS()
	for _, kind := range []layout.FSKind{layout.SPIFFS, layout.LittleFS} {
		im, err := place.Filesystem(pt, "scheme default", place.FS{Dir: dir, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		if im.Geometry.Offset != fs.Offset || len(im.Data) != int(fs.Size) || im.Files != 1 || im.Kind != kind {
			t.Fatalf("%s: at 0x%x, %d bytes, %d files", kind, im.Geometry.Offset, len(im.Data), im.Files)
		}
		r, err := fsimage.Open(im.Data, "")
		if err != nil || r.Kind != kind {
			t.Fatalf("%s: does not open: %v", kind, err)
		}
		again, err := place.Filesystem(pt, "scheme default", place.FS{Image: im.Data, Name: "fs.bin"})
		if err != nil || again.Files != -1 || again.Kind != kind {
			t.Fatalf("%s image: %+v %v", kind, again.Kind, err)
		}
	}
	small, err := layout.ESP32DefaultTable("default_8MB", 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	big, err := place.Filesystem(small, "scheme default_8MB", place.FS{Dir: dir, Kind: layout.SPIFFS})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := place.Filesystem(pt, "scheme default", place.FS{Image: big.Data, Name: "big.bin"}); err == nil || !strings.Contains(err.Error(), "does not fit partition spiffs") {
		t.Fatalf("an 8 MB table's image in a 4 MB one: %v", err)
	}
	if _, err := place.Filesystem(pt, "scheme default", place.FS{Dir: dir, Label: "app0"}); err == nil || !strings.Contains(err.Error(), "not a data partition") {
		t.Fatalf("a filesystem in the app partition: %v", err)
	}
	if _, err := place.Filesystem(pt, "scheme default", place.FS{Dir: dir, Label: "nope"}); err == nil || !strings.Contains(err.Error(), "partition table from scheme default") {
		t.Fatalf("unknown label: %v", err)
	}
}

// Split reads a user's file: any bytes give an answer or an error, never
// a panic; a merged verdict always comes with its table.
func FuzzSplit(f *testing.F) {
	pt := defaultTable(f)
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
		merged, table, err := place.Split(b, chip)
		if err == nil && merged && table == nil {
			t.Fatal("merged without a table")
		}
		if err != nil && (merged || table != nil) {
			t.Fatal("an error with a verdict")
		}
	})
}

// ChipTable reads flash: any bytes give a table, nil (erased) or an error.
func FuzzChipTable(f *testing.F) {
	bin, err := defaultTable(f).Binary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bin)
	f.Add(bytes.Repeat([]byte{0xFF}, 64))
	f.Add([]byte{0xAA, 0x50, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := place.ChipTable(b, layout.PartitionTableOffset)
		if err != nil && pt != nil {
			t.Fatal("an error with a table")
		}
	})
}

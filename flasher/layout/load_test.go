package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTable(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "parts.csv")
	if err := os.WriteFile(csv, []byte("nvs,data,nvs,0x9000,0x5000\nfactory,app,factory,0x10000,0x100000\ndata,data,spiffs,,0x80000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pt, from, err := LoadTable(csv, 4<<20)
	if err != nil || from != csv || len(pt.Partitions) != 3 {
		t.Fatalf("csv: %v %q %v", pt, from, err)
	}
	if p, err := pt.FS(); err != nil || p.Label != "data" || p.Offset != 0x110000 {
		t.Fatalf("fs %+v %v", p, err)
	}
	if a, err := pt.BootApp(); err != nil || a.Label != "factory" {
		t.Fatalf("boot app %+v %v", a, err)
	}
	pt, from, err = LoadTable("default", 4<<20)
	if err != nil || from != "scheme default" {
		t.Fatalf("scheme: %q %v", from, err)
	}
	if a, _ := pt.BootApp(); a.Label != "app0" {
		t.Fatalf("default boots %s, want app0 (ota_0, no factory)", a.Label)
	}
	if _, _, err := LoadTable("nosuch", 0); err == nil || !strings.Contains(err.Error(), "partitions nosuch: no such file") {
		t.Fatalf("missing: %v", err)
	}
	// A binary table with a broken MD5 says how to regenerate it.
	bin, _ := pt.Binary()
	bin[40] ^= 1
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, bin, 0o644)
	if _, _, err := LoadTable(bad, 0); err == nil || !strings.Contains(err.Error(), "regenerate it from its CSV") {
		t.Fatalf("bad md5: %v", err)
	}
	// The default table does not fit 2 MB.
	if _, _, err := LoadTable("default", 2<<20); err == nil {
		t.Fatal("default scheme accepted for 2 MB")
	}
	for size, want := range map[int]string{2 << 20: "minimal", 4 << 20: "default", 8 << 20: "default_8MB", 16 << 20: "default_16MB", 1 << 20: ""} {
		if got := ESP32DefaultFor(size); got != want {
			t.Errorf("ESP32DefaultFor(%d) = %q, want %q", size, got, want)
		}
		if want != "" {
			if _, err := ESP32DefaultTable(want, size); err != nil {
				t.Errorf("%s for %d: %v", want, size, err)
			}
		}
	}
	if _, err := (&PartitionTable{Partitions: []Partition{{Type: TypeData, SubType: SubTypeSPIFFS, Label: "x"}}}).BootApp(); err == nil {
		t.Fatal("a table without apps has a boot app")
	}
}

package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docTable is the ESP8266 layout table of filesystem-images.md §1.1,
// copied row by row: menu id, FS start, FS end, FS size, page, block,
// blocks.
var docTable = []struct {
	name                string
	start, end, size    uint32
	page, block, blocks int
}{
	{"512K32", 0x073000, 0x07B000, 0x008000, 256, 4096, 8},
	{"512K64", 0x06B000, 0x07B000, 0x010000, 256, 4096, 16},
	{"512K128", 0x05B000, 0x07B000, 0x020000, 256, 4096, 32},
	{"1M", 0x0FB000, 0x0FB000, 0, 0, 0, 0},
	{"1M64", 0x0EB000, 0x0FB000, 0x010000, 256, 4096, 16},
	{"1M128", 0x0DB000, 0x0FB000, 0x020000, 256, 4096, 32},
	{"1M144", 0x0D7000, 0x0FB000, 0x024000, 256, 4096, 36},
	{"1M160", 0x0D3000, 0x0FB000, 0x028000, 256, 4096, 40},
	{"1M192", 0x0CB000, 0x0FB000, 0x030000, 256, 4096, 48},
	{"1M256", 0x0BB000, 0x0FB000, 0x040000, 256, 4096, 64},
	{"1M512", 0x07B000, 0x0FB000, 0x080000, 256, 8192, 64},
	{"2M", 0x1FB000, 0x1FB000, 0, 0, 0, 0},
	{"2M64", 0x1F0000, 0x1FB000, 0x00B000, 256, 4096, 11},
	{"2M128", 0x1E0000, 0x1FB000, 0x01B000, 256, 4096, 27},
	{"2M256", 0x1C0000, 0x1FB000, 0x03B000, 256, 4096, 59},
	{"2M512", 0x180000, 0x1FA000, 0x07A000, 256, 8192, 61},
	{"2M1M", 0x100000, 0x1FA000, 0x0FA000, 256, 8192, 125},
	{"4M", 0x3FB000, 0x3FB000, 0, 0, 0, 0},
	{"4M1M", 0x300000, 0x3FA000, 0x0FA000, 256, 8192, 125},
	{"4M2M", 0x200000, 0x3FA000, 0x1FA000, 256, 8192, 253},
	{"4M3M", 0x100000, 0x3FA000, 0x2FA000, 256, 8192, 381},
	{"8M6M", 0x200000, 0x7FA000, 0x5FA000, 256, 8192, 765},
	{"8M7M", 0x100000, 0x7FA000, 0x6FA000, 256, 8192, 893},
	{"16M14M", 0x200000, 0xFFA000, 0xDFA000, 256, 8192, 1789},
	{"16M15M", 0x100000, 0xFFA000, 0xEFA000, 256, 8192, 1917},
}

func TestESP8266DocTable(t *testing.T) {
	for _, w := range docTable {
		l, err := ESP8266(w.name)
		if err != nil {
			t.Errorf("%s: %v", w.name, err)
			continue
		}
		if l.Name != w.name || l.FS.Offset != w.start || l.FS.End() != w.end || l.FS.Size != w.size ||
			l.FSPage != w.page || l.FSBlock != w.block {
			t.Errorf("%s: got FS 0x%X..0x%X (0x%X) page %d block %d, doc says 0x%X..0x%X (0x%X) page %d block %d",
				w.name, l.FS.Offset, l.FS.End(), l.FS.Size, l.FSPage, l.FSBlock, w.start, w.end, w.size, w.page, w.block)
		}
		if w.block > 0 && int(l.FS.Size)/l.FSBlock != w.blocks {
			t.Errorf("%s: %d blocks, doc says %d", w.name, int(l.FS.Size)/l.FSBlock, w.blocks)
		}
		// §1.1: EEPROM at the nominal end (flash − 20 KiB), RF cal at
		// flash − 0x4000, Wi-Fi settings in the last 12 KiB.
		f := uint32(l.FlashSize)
		if l.EEPROM.Offset != f-0x5000 || l.RFCal.Offset != f-0x4000 || l.WiFi.Offset != f-0x3000 || l.WiFi.End() != f {
			t.Errorf("%s: eeprom 0x%X rfcal 0x%X wifi 0x%X", w.name, l.EEPROM.Offset, l.RFCal.Offset, l.WiFi.Offset)
		}
		if l.App.Offset != 0 || l.App.End() > l.FS.Offset && l.HasFS() {
			t.Errorf("%s: sketch region %+v runs into the FS at 0x%X", w.name, l.App, l.FS.Offset)
		}
	}
}

// The layouts the doc's table leaves out but boards.txt offers, and the
// Arduino menu spellings (esp8266/Arduino boards.txt, generic.menu.eesz.*).
func TestESP8266MenuAndExtras(t *testing.T) {
	menu := map[string]string{
		"1M64": "1MB (FS:64KB OTA:~470KB)", "1M128": "1MB (FS:128KB OTA:~438KB)", "1M144": "1MB (FS:144KB OTA:~430KB)",
		"1M160": "1MB (FS:160KB OTA:~422KB)", "1M192": "1MB (FS:192KB OTA:~406KB)", "1M256": "1MB (FS:256KB OTA:~374KB)",
		"1M512": "1MB (FS:512KB OTA:~246KB)", "1M": "1MB (FS:none OTA:~502KB)", "2M64": "2MB (FS:64KB OTA:~992KB)",
		"2M128": "2MB (FS:128KB OTA:~960KB)", "2M256": "2MB (FS:256KB OTA:~896KB)", "2M512": "2MB (FS:512KB OTA:~768KB)",
		"2M1M": "2MB (FS:1MB OTA:~512KB)", "2M": "2MB (FS:none OTA:~1019KB)", "4M2M": "4MB (FS:2MB OTA:~1019KB)",
		"4M3M": "4MB (FS:3MB OTA:~512KB)", "4M1M": "4MB (FS:1MB OTA:~1019KB)", "4M": "4MB (FS:none OTA:~1019KB)",
		"8M6M": "8MB (FS:6MB OTA:~1019KB)", "8M7M": "8MB (FS:7MB OTA:~512KB)", "8M": "8MB (FS:none OTA:~1019KB)",
		"16M14M": "16MB (FS:14MB OTA:~1019KB)", "16M15M": "16MB (FS:15MB OTA:~512KB)", "16M": "16MB (FS:none OTA:~1019KB)",
		"512K32": "512KB (FS:32KB OTA:~230KB)", "512K64": "512KB (FS:64KB OTA:~214KB)",
		"512K128": "512KB (FS:128KB OTA:~182KB)", "512K": "512KB (FS:none OTA:~246KB)",
	}
	all := ESP8266Layouts()
	if len(all) != len(menu) {
		t.Errorf("%d layouts, boards.txt has %d", len(all), len(menu))
	}
	for _, l := range all {
		if menu[l.Name] != l.Menu {
			t.Errorf("%s: menu %q, boards.txt says %q", l.Name, l.Menu, menu[l.Name])
		}
		for _, alias := range []string{l.Menu, strings.ToUpper(l.LD), strings.TrimSuffix(l.LD, ".ld"), strings.ToLower(l.Name)} {
			if got, err := ESP8266(alias); err != nil || got.Name != l.Name {
				t.Errorf("ESP8266(%q) = %s, %v; want %s", alias, got.Name, err, l.Name)
			}
		}
	}
	// Linker-script values (filesystem-images.md §1.1, eagle.flash.*.ld).
	for _, c := range []struct {
		ld              string
		fsStart, fsEnd  uint32
		sketch, eeprom  uint32
		page, blockSize int
	}{
		{"eagle.flash.4m1m.ld", 0x40500000, 0x405FA000, 1044464, 0x405FB000, 0x100, 0x2000},
		{"eagle.flash.1m64.ld", 0x402EB000, 0x402FB000, 958448, 0x402FB000, 0x100, 0x1000},
		{"eagle.flash.16m15m.ld", 0x40300000, 0x411FA000, 1044464, 0x411FB000, 0x100, 0x2000},
		{"eagle.flash.512k.ld", 0x4027B000, 0x4027B000, 499696, 0x4027B000, 0, 0},
		{"eagle.flash.1m.ld", 0x402FB000, 0x402FB000, 1023984, 0x402FB000, 0, 0},
	} {
		l, err := ESP8266(c.ld)
		if err != nil {
			t.Fatal(err)
		}
		if ESP8266FlashBase+l.FS.Offset != c.fsStart || ESP8266FlashBase+l.FS.End() != c.fsEnd || l.App.Size != c.sketch ||
			ESP8266FlashBase+l.EEPROM.Offset != c.eeprom || l.FSPage != c.page || l.FSBlock != c.blockSize {
			t.Errorf("%s: %+v", c.ld, l)
		}
	}
	for _, c := range []struct {
		flash int
		want  string
	}{{512 << 10, "512K32 512K64 512K128 512K"}, {4 << 20, "4M 4M1M 4M2M 4M3M"}, {16 << 20, "16M 16M14M 16M15M"}, {3 << 20, ""}} {
		var names []string
		for _, l := range ESP8266ForFlash(c.flash) {
			names = append(names, l.Name)
		}
		if strings.Join(names, " ") != c.want {
			t.Errorf("ESP8266ForFlash(%d) = %v, want %s", c.flash, names, c.want)
		}
	}
}

func TestESP8266Unknown(t *testing.T) {
	_, err := ESP8266("4M4M")
	if err == nil || !strings.Contains(err.Error(), `"4M4M"`) || !strings.Contains(err.Error(), "4M1M") || !strings.Contains(err.Error(), "16M15M") {
		t.Errorf("error %v should name the input and list the layouts", err)
	}
	if _, err := ESP8266("autoflash"); err == nil || !strings.Contains(err.Error(), "run time") {
		t.Errorf("autoflash: %v", err)
	}
	// The returned slice is a copy.
	l := ESP8266Layouts()
	l[0].Name = "x"
	if ESP8266Layouts()[0].Name == "x" {
		t.Error("ESP8266Layouts shares its backing array")
	}
}

// shared/testdata/fs/MANIFEST.txt: spiffs-4m1m.bin / littlefs-4m1m.bin are
// for eagle.flash.4m1m.ld, offset 0x300000, size 0xFA000, block 8192;
// the 1m64 images for eagle.flash.1m64.ld, offset 0xEB000, size 0x10000,
// block 4096.
func TestReferenceImages(t *testing.T) {
	for _, c := range []struct {
		menu, ld     string
		offset, size uint32
		block        int
		files        []string
	}{
		{"4MB (FS:1MB OTA:~1019KB)", "eagle.flash.4m1m.ld", 0x300000, 0xFA000, 8192, []string{"spiffs-4m1m.bin", "littlefs-4m1m.bin"}},
		{"1MB (FS:64KB OTA:~470KB)", "eagle.flash.1m64.ld", 0xEB000, 0x10000, 4096, []string{"spiffs-1m64.bin", "littlefs-1m64.bin"}},
	} {
		a, err := ESP8266(c.menu)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ESP8266(c.ld)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != b.Name || a.FS.Offset != c.offset || a.FS.Size != c.size || a.FSBlock != c.block || a.FSPage != 256 {
			t.Errorf("%s: %s FS %+v block %d", c.menu, a.Name, a.FS, a.FSBlock)
		}
		if err := CheckFSImage(int(c.size), c.block, a); err != nil {
			t.Error(err)
		}
		for _, f := range c.files {
			st, err := os.Stat(filepath.Join("..", "..", "..", "shared", "testdata", "fs", f))
			if err != nil {
				st, err = os.Stat(filepath.Join("/work/shared/testdata/fs", f))
			}
			if err != nil {
				t.Logf("%s not available: %v", f, err)
				continue
			}
			if err := CheckFSImage(int(st.Size()), c.block, a); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

func TestCheckFSImage(t *testing.T) {
	for _, c := range []struct {
		size, block int
		l           string
		want        []string // substrings; nil = no error
	}{
		{0xFA000, 8192, "4M1M", nil},
		{0xFA000, 0, "2M1M", nil},
		{0x10000, 4096, "4M1M", []string{"image is 0x10000 bytes with 4096-byte blocks: that is layout 1M64 (or 512K64), not 4M1M (0xFA000, 8192)"}},
		{0x10000, 4096, "512K128", []string{"that is layout 512K64 (or 1M64), not 512K128 (0x20000, 4096)"}},
		{0xFA000, 8192, "4M2M", []string{"that is layout 4M1M (or 2M1M), not 4M2M (0x1FA000, 8192)"}},
		{0xFA000, 8192, "1M512", []string{"that is layout 2M1M (or 4M1M)"}},
		{0xB000, 0, "4M1M", []string{"image is 0xB000 bytes: that is layout 2M64, not 4M1M"}},
		{0xFA000, 4096, "4M1M", []string{"4M1M uses 8192-byte blocks", "-b 8192"}},
		{0xFA000, 4096, "2M512", []string{"2M1M, 4M1M: 8192-byte blocks", "2M512 needs 0x7A000 bytes with 8192-byte blocks"}},
		{0x12345, 4096, "4M1M", []string{"no ESP8266 layout has a filesystem of that size", "4M1M needs 0xFA000 bytes with 8192-byte blocks"}},
		{0xFA000, 8192, "4M", []string{"layout 4M has no filesystem", "4M1M, 4M2M, 4M3M"}},
		{0, 8192, "4M1M", []string{"empty"}},
	} {
		l, err := ESP8266(c.l)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckFSImage(c.size, c.block, l)
		if c.want == nil {
			if err != nil {
				t.Errorf("CheckFSImage(0x%X, %d, %s): %v", c.size, c.block, c.l, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckFSImage(0x%X, %d, %s): no error", c.size, c.block, c.l)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckFSImage(0x%X, %d, %s) = %q, want it to contain %q", c.size, c.block, c.l, err, w)
			}
		}
	}
}

func TestTables(t *testing.T) {
	ts := Tables()
	if len(ts) != 2 {
		t.Fatalf("%d tables", len(ts))
	}
	for _, tb := range ts {
		if len(tb.Rows) == 0 {
			t.Errorf("%s: no rows", tb.Title)
		}
		for _, r := range tb.Rows {
			if len(r) != len(tb.Header) {
				t.Errorf("%s: row %v has %d cells, header %d", tb.Title, r, len(r), len(tb.Header))
			}
		}
	}
	if len(ts[0].Rows) != len(ESP8266Layouts()) || len(ts[1].Rows) != len(ESP32DefaultNames()) {
		t.Error("table rows do not cover every layout / scheme")
	}
	if k, err := ParseFSKind(" LittleFS "); err != nil || k != LittleFS {
		t.Errorf("ParseFSKind: %v %v", k, err)
	}
	if _, err := ParseFSKind("fat"); err == nil {
		t.Error("ParseFSKind(fat) accepted")
	}
}

package layout

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// entry builds a 32-byte binary entry by hand from the format in
// gen_esp32part.py (struct "<2sBBLL16sL").
func entry(typ, sub byte, off, size uint32, label string, flags uint32) []byte {
	e := []byte{0xAA, 0x50, typ, sub,
		byte(off), byte(off >> 8), byte(off >> 16), byte(off >> 24),
		byte(size), byte(size >> 8), byte(size >> 16), byte(size >> 24)}
	l := make([]byte, 16)
	copy(l, label)
	e = append(e, l...)
	return append(e, byte(flags), byte(flags>>8), byte(flags>>16), byte(flags>>24))
}

func md5Entry(before []byte) []byte {
	sum := md5.Sum(before)
	return append(append([]byte{0xEB, 0xEB}, bytes.Repeat([]byte{0xFF}, 14)...), sum[:]...)
}

func pad(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xFF}, 0xC00-len(b))...) }

func TestBinaryKnownVectors(t *testing.T) {
	def, err := ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := def.Binary()
	if err != nil {
		t.Fatal(err)
	}
	// nvs, data(1), nvs(2), offset 0x9000, size 0x5000, "nvs", no flags.
	want, _ := hex.DecodeString("aa500102" + "00900000" + "00500000" + "6e7673" + strings.Repeat("00", 13) + "00000000")
	if !bytes.Equal(bin[:32], want) {
		t.Errorf("first entry\n got % x\nwant % x", bin[:32], want)
	}
	// app1: app(0), ota_1 (0x11), 0x150000, 0x140000.
	want, _ = hex.DecodeString("aa500011" + "00001500" + "00001400" + "61707031" + strings.Repeat("00", 12) + "00000000")
	if !bytes.Equal(bin[96:128], want) {
		t.Errorf("app1 entry\n got % x\nwant % x", bin[96:128], want)
	}
	if len(bin) != 0xC00 || bin[192] != 0xEB || bin[193] != 0xEB || !bytes.Equal(bin[224:], bytes.Repeat([]byte{0xFF}, 0xC00-224)) {
		t.Errorf("layout after the 6 entries: % x", bin[192:256])
	}

	// ESP-IDF's own vector (test_gen_esp32part_host, test_binary_entry):
	// one entry "first", type 0x30, subtype 0xEE, offset 0x100400, size
	// 0x300000 has the MD5 43 03 3f 33 40 87 57 51 69 83 9b 40 61 b1 27 26.
	one := &PartitionTable{Partitions: []Partition{{Label: "first", Type: 0x30, SubType: 0xEE, Offset: 0x100400, Size: 0x300000}}}
	bin, err = one.Binary()
	if err != nil {
		t.Fatal(err)
	}
	wantMD5, _ := hex.DecodeString("43033f334087575169839b4061b12726")
	if !bytes.Equal(bin[0:4], []byte{0xAA, 0x50, 0x30, 0xEE}) || !bytes.Equal(bin[32:48], append([]byte{0xEB, 0xEB}, bytes.Repeat([]byte{0xFF}, 14)...)) ||
		!bytes.Equal(bin[48:64], wantMD5) {
		t.Errorf("IDF vector: % x", bin[:64])
	}

	// A table assembled by hand parses to what it says, flags included.
	raw := append(entry(1, 2, 0x9000, 0x6000, "nvs", 0), entry(0, 0, 0x10000, 0x100000, "factory", 1)...)
	raw = append(raw, entry(1, 0x83, 0x110000, 0x10000, "sixteen_chars_lb", 3)...)
	raw = pad(append(raw, md5Entry(raw)...))
	pt, err := ParseBinary(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantParts := []Partition{
		{Label: "nvs", Type: 1, SubType: 2, TypeName: "data", SubTypeName: "nvs", Offset: 0x9000, Size: 0x6000},
		{Label: "factory", Type: 0, SubType: 0, TypeName: "app", SubTypeName: "factory", Offset: 0x10000, Size: 0x100000, Encrypted: true},
		{Label: "sixteen_chars_lb", Type: 1, SubType: 0x83, TypeName: "data", SubTypeName: "littlefs", Offset: 0x110000, Size: 0x10000, Encrypted: true, ReadOnly: true},
	}
	if !reflect.DeepEqual(pt.Partitions, wantParts) {
		t.Errorf("parsed %+v", pt.Partitions)
	}
	again, err := pt.Binary()
	if err != nil || !bytes.Equal(again, raw) {
		t.Errorf("re-encoding differs: %v", err)
	}
	fs, err := pt.FS()
	if err != nil || fs.Label != "sixteen_chars_lb" {
		t.Errorf("FS() = %v, %v", fs, err)
	}
}

func TestParseBinaryErrors(t *testing.T) {
	good := append(entry(1, 2, 0x9000, 0x6000, "nvs", 0), entry(0, 0, 0x10000, 0x100000, "factory", 0)...)
	withMD5 := pad(append(append([]byte(nil), good...), md5Entry(good)...))

	badMD5 := append([]byte(nil), withMD5...)
	badMD5[64+31] ^= 1
	flipped := append([]byte(nil), withMD5...)
	flipped[40] = 'N' // a label byte of the second entry: the MD5 no longer matches
	twoMD5 := pad(append(append(append([]byte(nil), good...), md5Entry(good)...), md5Entry(good)...))
	badMagic := append([]byte(nil), withMD5...)
	badMagic[32] = 0x55

	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"bad md5", badMD5, "MD5 mismatch: MD5 entry 2"},
		{"corrupt entry", flipped, "MD5 mismatch"},
		{"two md5", twoMD5, "second MD5 entry"},
		{"bad magic", badMagic, "entry 1 (at byte 0x20) has invalid magic 55 50"},
		{"erased", bytes.Repeat([]byte{0xFF}, 0x1000), "empty"},
		{"truncated", good, "truncated"},
		{"short", good[:40], "truncated"},
		{"no end", bytes.Repeat(entry(1, 2, 0x9000, 0x6000, "x", 0), 0xC00/32+2), "no end marker"},
		{"label not utf8", pad(entry(1, 2, 0x9000, 0x6000, "\xff\xfe", 0)), "not UTF-8"},
	} {
		_, err := ParseBinary(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := ParseBinary(badMD5); !errors.Is(err, ErrBadMD5) {
		t.Errorf("bad MD5 error does not wrap ErrBadMD5: %v", err)
	}

	// Without an MD5 entry, or with the whole 4 KiB sector: fine.
	for _, b := range [][]byte{pad(append([]byte(nil), good...)), append(withMD5, bytes.Repeat([]byte{0x00}, 0x400)...)} {
		pt, err := ParseBinary(b)
		if err != nil || len(pt.Partitions) != 2 {
			t.Errorf("ParseBinary: %v", err)
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	// ESP-IDF partitions_two_ota.csv-style input with blank offsets.
	const src = "\xEF\xBB\xBF# Name,   Type, SubType, Offset,   Size, Flags\r\n" +
		"nvs,      data, nvs,     ,        0x4000,\r\n" +
		"otadata,  data, ota,     ,        0x2000\r\n" +
		"phy_init, data, phy,     ,        0x1000,\n" +
		"\n" +
		"factory,  APP,  factory, ,        1M,\n" +
		"ota_0,    app,  ota_0,   ,        1M, encrypted\n" +
		"ota_1,    0,    0x11,    ,        1024K\n" +
		"storage,  data, ,        ,        64k, readonly:encrypted\n" +
		"fs,       data, littlefs, 0x400000, -0x500000\n" +
		"custom,   0x40, 7,        ,        4K\n"
	pt, err := ParseCSV(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		label     string
		typ, sub  byte
		off, size uint32
	}{
		{"nvs", 1, 2, 0x9000, 0x4000},
		{"otadata", 1, 0, 0xD000, 0x2000},
		{"phy_init", 1, 1, 0xF000, 0x1000},
		{"factory", 0, 0, 0x10000, 0x100000},
		{"ota_0", 0, 0x10, 0x110000, 0x100000},
		{"ota_1", 0, 0x11, 0x210000, 0x100000},
		{"storage", 1, 0x06, 0x310000, 0x10000},
		{"fs", 1, 0x83, 0x400000, 0x100000},
		{"custom", 0x40, 7, 0x500000, 0x1000},
	}
	if len(pt.Partitions) != len(want) {
		t.Fatalf("%d partitions: %+v", len(pt.Partitions), pt.Partitions)
	}
	for i, w := range want {
		p := pt.Partitions[i]
		if p.Label != w.label || p.Type != w.typ || p.SubType != w.sub || p.Offset != w.off || p.Size != w.size {
			t.Errorf("partition %d: %+v, want %+v", i, p, w)
		}
	}
	if !pt.Partitions[4].Encrypted || !pt.Partitions[6].ReadOnly || !pt.Partitions[6].Encrypted || pt.Partitions[3].Encrypted {
		t.Error("flags lost")
	}
	if pt.Partitions[3].TypeName != "app" || pt.Partitions[5].SubTypeName != "ota_1" || pt.Partitions[8].TypeName != "0x40" || pt.Partitions[6].SubTypeName != "undefined" {
		t.Errorf("names: %+v", pt.Partitions)
	}

	bin, err := pt.Binary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, pt) {
		t.Errorf("binary round trip:\n%+v\n%+v", back, pt)
	}
	csvBack, err := ParseCSV(strings.NewReader(pt.CSV()))
	if err != nil {
		t.Fatalf("%v\n%s", err, pt.CSV())
	}
	if !reflect.DeepEqual(csvBack, pt) {
		t.Errorf("CSV round trip:\n%s", pt.CSV())
	}
	if fs, err := pt.FS(); err != nil || fs.Label != "fs" {
		t.Errorf("FS() = %v, %v", fs, err)
	}
}

// ESP-IDF's test_default_offsets and test_negative_size_to_offset
// (gen_esp32part_tests.py) describe these results; the ESP-IDF
// partitions_singleapp.csv layout (nvs 0x6000, phy_init, factory 1M) is
// the third case.
func TestCSVOffsetRules(t *testing.T) {
	for _, c := range []struct {
		csv  string
		want [][2]uint32
	}{
		{"first, app, factory,, 1M\nsecond, data, 0x15,, 1M\nminidata, data, 0x40,, 32K\notherapp, app, ota_0,, 1M\n",
			[][2]uint32{{0x10000, 0x100000}, {0x110000, 0x100000}, {0x210000, 0x8000}, {0x220000, 0x100000}}},
		{"first, app, factory, 0x10000, -2M\nsecond, data, 0x15,         ,  1M\n",
			[][2]uint32{{0x10000, 0x1F0000}, {0x200000, 0x100000}}},
		{"nvs, data, nvs, , 0x6000,\nphy_init, data, phy, , 0x1000,\nfactory, app, factory, , 1M,\n",
			[][2]uint32{{0x9000, 0x6000}, {0xF000, 0x1000}, {0x10000, 0x100000}}},
		{"one_megabyte, app, factory, 64k, 1M\n", [][2]uint32{{0x10000, 0x100000}}},
		{"pt, partition_table, primary, N/A, N/A\nnvs, data, nvs,, 0x5000\nptota, partition_table, ota,, \n",
			[][2]uint32{{0x8000, 0x1000}, {0x9000, 0x5000}, {0xE000, 0x1000}}},
	} {
		pt, err := ParseCSV(strings.NewReader(c.csv))
		if err != nil {
			t.Errorf("%q: %v", c.csv, err)
			continue
		}
		var got [][2]uint32
		for _, p := range pt.Partitions {
			got = append(got, [2]uint32{p.Offset, p.Size})
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %x, want %x", c.csv, got, c.want)
		}
	}
}

func TestCSVErrors(t *testing.T) {
	for _, c := range []struct {
		name, csv, want string
	}{
		{"overlap", "# header\nnvs, data, nvs, 0x9000, 0x6000\nfactory, app, factory, 0x10000, 1M\nota_0, app, ota_0, 0x100000, 1M\n", "line 4: partitions overlap"},
		{"overlap first", "nvs, data, nvs, 0x8000, 0x5000\n", "line 1: partitions overlap"},
		{"misaligned app", "nvs, data, nvs, , 0x5000\n\nfactory, app, factory, 0x18000, 1M\n", `line 3: partition "factory": offset 0x18000 is not aligned to 0x10000`},
		{"misaligned data", "nvs, data, nvs, 0x9800, 0x5000\n", "line 1: partition \"nvs\": offset 0x9800 is not aligned to 0x1000"},
		{"app size", "factory, app, factory, , 0x10800\n", "line 1: partition \"factory\": app size 0x10800"},
		{"unknown type", "nvs, data, nvs, , 0x5000\nfs, dta, spiffs, , 1M\n", `line 2: unknown partition type "dta"`},
		{"type range", "x, 0x100, 0, , 4K\n", `line 1: unknown partition type "0x100"`},
		{"unknown subtype", "fs, data, spifs, , 1M\n", `line 1: unknown data subtype "spifs": use ota, phy, nvs`},
		{"app no subtype", "factory, app, , , 1M\n", "line 1: app partitions need a SubType"},
		{"bad size", "nvs, data, nvs, , 0x5000\nfs, data, spiffs, , 1.5M\n", `line 2: size "1.5M": not a number`},
		{"octal-looking size", "fs, data, spiffs, , 0100\n", "line 1: size \"0100\": not a number (decimal numbers cannot start with 0"},
		{"empty size", "fs, data, spiffs, 0x10000\n", "line 1: the Size field is empty"},
		{"zero size", "fs, data, spiffs, , 0\n", "line 1: size \"0\" is outside"},
		{"bad offset", "fs, data, spiffs, 0xZZ, 4K\n", `line 1: offset "0xZZ": not a number`},
		{"up to before start", "fs, data, spiffs, 0x20000, -0x10000\n", "line 1: size -0x10000 means"},
		{"empty type", "lonely\n", "line 1: the Type field is empty"},
		{"flag", "fs, data, spiffs, , 4K, secret\n", `line 1: unknown flag "secret"`},
		{"label too long", "seventeen_chars_x, data, spiffs, , 4K\n", "line 1: label \"seventeen_chars_x\" is 17 bytes long"},
		{"duplicate label", "fs, data, spiffs, , 4K\n# gap\nfs, data, fat, , 4K\n", `line 3: label "fs" is already used on line 1`},
		{"two otadata", "a, data, ota, , 8K\nb, data, ota, , 8K\n", "line 2: partition \"b\": a second otadata"},
		{"otadata size", "a, data, ota, , 4K\n", "otadata partitions must be 0x2000 bytes"},
		{"small nvs", "nvs, data, nvs, , 8K\n", "line 1: partition \"nvs\": a read-write NVS partition needs at least 0x3000"},
		{"readonly coredump", "cd, data, coredump, , 64K, readonly\n", "always read-write"},
		{"env var", "fs, data, spiffs, $FS_OFFSET, 4K\n", "line 1: $FS_OFFSET"},
		{"bootloader", "bl, bootloader, primary, N/A, N/A\n", "line 1: bootloader partitions are not supported"},
		{"beyond 4G", "fs, data, spiffs, 0xFFFFF000, 0x2000\n", "line 1: the partition ends at 0x100001000"},
		{"empty", "# nothing\n\n", "no partitions"},
		{"not utf8", "f\xffs, data, spiffs, , 4K\n", "not UTF-8"},
	} {
		_, err := ParseCSV(strings.NewReader(c.csv))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	var many strings.Builder
	for i := 0; i <= MaxPartitions; i++ {
		many.WriteString("p" + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ", data, 0x40, , 4K\n")
	}
	if _, err := ParseCSV(strings.NewReader(many.String())); err == nil || !strings.Contains(err.Error(), "line 95: too many partitions") {
		t.Errorf("95 partitions: %v", err)
	}
}

func TestDefaultTables(t *testing.T) {
	want := map[string][2]uint32{ // FS offset, size (arduino-esp32 tools/partitions)
		"default": {0x290000, 0x160000}, "min_spiffs": {0x3D0000, 0x20000}, "no_ota": {0x210000, 0x1E0000},
		"huge_app": {0x310000, 0xE0000}, "minimal": {0x150000, 0xA0000}, "default_8MB": {0x670000, 0x180000},
		"default_16MB": {0xC90000, 0x360000},
	}
	for _, name := range ESP32DefaultNames() {
		pt, err := ESP32DefaultTable(strings.ToUpper(name)+".csv", 16<<20)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := pt.Validate(16 << 20); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		fs, err := pt.FS()
		if w, ok := want[name]; ok {
			if err != nil || fs.Offset != w[0] || fs.Size != w[1] || fs.Label != "spiffs" || fs.SubTypeName != "spiffs" {
				t.Errorf("%s: FS() = %v, %v; want 0x%X/0x%X", name, fs, err, w[0], w[1])
			}
		} else if err == nil || !strings.Contains(err.Error(), "no data/spiffs or data/littlefs partition") {
			t.Errorf("%s: FS() error %v", name, err)
		}
		// CSV → table and binary → table give the same table.
		fromCSV, err := ParseCSV(strings.NewReader(pt.CSV()))
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, pt.CSV())
			continue
		}
		bin, err := fromCSV.Binary()
		if err != nil {
			t.Fatal(err)
		}
		fromBin, err := ParseBinary(bin)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromBin, pt) || !reflect.DeepEqual(fromCSV, pt) {
			t.Errorf("%s: round trip differs\n%+v\n%+v", name, pt, fromBin)
		}
	}
	// The default table as arduino-esp32 writes it (tabs included).
	pt, err := ParseCSV(strings.NewReader("# Name,   Type, SubType, Offset,  Size, Flags\nnvs,      data, nvs,     0x9000,  0x5000,\notadata,  data, ota,     0xe000,  0x2000,\napp0,     app,  ota_0,   0x10000, 0x140000,\napp1,\t    app,\tota_1,\t 0x150000,0x140000,\nspiffs,   data, spiffs,  0x290000,0x160000,\ncoredump, data, coredump,0x3F0000,0x10000,\n"))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := ESP32DefaultTable("default", 0)
	if !reflect.DeepEqual(pt, def) {
		t.Errorf("default.csv parses to %+v", pt)
	}
	if _, err := ESP32DefaultTable("default", 2<<20); err == nil || !strings.Contains(err.Error(), "needs 4MB") || !strings.Contains(err.Error(), "minimal") {
		t.Errorf("default on 2 MB: %v", err)
	}
	if _, err := ESP32DefaultTable("nope", 0); err == nil || !strings.Contains(err.Error(), "min_spiffs") {
		t.Errorf("unknown scheme: %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := func() *PartitionTable {
		pt, _ := ESP32DefaultTable("default", 0)
		return pt
	}
	for _, c := range []struct {
		name  string
		edit  func(*PartitionTable)
		flash int
		want  string
	}{
		{"fits", func(*PartitionTable) {}, 4 << 20, ""},
		{"out of flash", func(*PartitionTable) {}, 2 << 20, `partition "app1": ends at 0x290000, beyond the end of the 2097152-byte flash (0x200000)`},
		{"overlap", func(t *PartitionTable) { t.Partitions[4].Offset = 0x280000 }, 0, `partition "spiffs" at 0x280000 overlaps partition "app1" (0x150000..0x28FFFF)`},
		{"overlap out of order", func(t *PartitionTable) { t.Partitions[0].Offset = 0x3F8000 }, 0, `overlaps partition "coredump"`},
		{"misaligned", func(t *PartitionTable) { t.Partitions[2].Offset = 0x11000 }, 0, `partition "app0": offset 0x11000 is not aligned to 0x10000`},
		{"duplicate", func(t *PartitionTable) { t.Partitions[3].Label = "app0" }, 0, `partitions 2 and 3 are both labelled "app0"`},
		{"below table", func(t *PartitionTable) { t.Partitions[0].Offset = 0x7000 }, 0, "below 0x9000"},
		{"empty label", func(t *PartitionTable) { t.Partitions[0].Label = "" }, 0, "empty label"},
		{"comma label", func(t *PartitionTable) { t.Partitions[0].Label = "a,b" }, 0, "cannot be written to a CSV"},
		{"zero size", func(t *PartitionTable) { t.Partitions[5].Size = 0 }, 0, "size 0"},
		{"empty", func(t *PartitionTable) { t.Partitions = nil }, 0, "empty"},
	} {
		pt := base()
		c.edit(pt)
		err := pt.Validate(c.flash)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestFSAndByLabel(t *testing.T) {
	pt, err := ParseCSV(strings.NewReader("nvs, data, nvs, , 0x5000\nfactory, app, factory, , 1M\na, data, spiffs, , 64K\nb, data, littlefs, , 64K\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pt.FS(); err == nil || !strings.Contains(err.Error(), "2 filesystem partitions") || !strings.Contains(err.Error(), "a (data/spiffs at 0x110000") {
		t.Errorf("FS(): %v", err)
	}
	if p, err := pt.ByLabel("b"); err != nil || p.SubType != SubTypeLittleFS || p.Region() != (Region{Name: "b", Offset: 0x120000, Size: 0x10000}) {
		t.Errorf("ByLabel: %+v %v", p, err)
	}
	if _, err := pt.ByLabel("c"); err == nil || !strings.Contains(err.Error(), "nvs, factory, a, b") {
		t.Errorf("ByLabel(c): %v", err)
	}
	tb := pt.Table()
	if len(tb.Rows) != 4 || tb.Rows[3][2] != "littlefs" || tb.Rows[1][4] != "0x100000 (1 MiB)" {
		t.Errorf("Table: %v", tb.Rows)
	}
}

// Parse takes either form, and both are validated: overlapping
// partitions and a table whose MD5 entry does not match are errors.
func TestParseEitherForm(t *testing.T) {
	csv := "nvs,data,nvs,0x9000,0x5000\napp0,app,factory,0x10000,1M\nspiffs,data,spiffs,0x110000,0xF0000\n"
	ct, err := Parse([]byte(csv))
	if err != nil || len(ct.Partitions) != 3 {
		t.Fatalf("CSV: %v", err)
	}
	bin, _ := ct.Binary()
	bt, err := Parse(bin)
	if err != nil || bt.Partitions[2] != ct.Partitions[2] {
		t.Fatalf("binary: %v", err)
	}
	overlap := "nvs,data,nvs,0x9000,0x5000\napp0,app,factory,0x10000,1M\nspiffs,data,spiffs,0x100000,0xF0000\n"
	if _, err := Parse([]byte(overlap)); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlapping CSV: %v", err)
	}
	ot := &PartitionTable{Partitions: append([]Partition(nil), ct.Partitions...)}
	ot.Partitions[2].Offset = 0x100000
	obin, _ := ot.Binary()
	if _, err := Parse(obin); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("overlapping binary: %v", err)
	}
	bin[40] ^= 1 // inside entry 1: the MD5 entry no longer matches
	if _, err := Parse(bin); !errors.Is(err, ErrBadMD5) {
		t.Fatalf("bad MD5: %v", err)
	}
}

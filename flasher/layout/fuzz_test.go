package layout

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// roundTrip checks that a parsed table survives Binary → ParseBinary.
func roundTrip(t *testing.T, pt *PartitionTable) {
	t.Helper()
	bin, err := pt.Binary()
	if err != nil {
		// ParseBinary accepts up to 95 entries when there is no MD5 entry;
		// with one only MaxPartitions fit.
		if len(pt.Partitions) > MaxPartitions {
			return
		}
		t.Fatalf("Binary of a parsed table: %v", err)
	}
	if len(bin) != PartitionTableMaxLen {
		t.Fatalf("Binary is %d bytes", len(bin))
	}
	back, err := ParseBinary(bin)
	if err != nil {
		t.Fatalf("ParseBinary(Binary()): %v", err)
	}
	if len(back.Partitions) == 0 && len(pt.Partitions) == 0 {
		return
	}
	if !reflect.DeepEqual(back, pt) {
		t.Fatalf("round trip differs:\n%+v\n%+v", pt, back)
	}
}

func FuzzParseBinary(f *testing.F) {
	for _, name := range ESP32DefaultNames() {
		pt, _ := ESP32DefaultTable(name, 0)
		b, _ := pt.Binary()
		f.Add(b)
	}
	good := append(entry(1, 2, 0x9000, 0x6000, "nvs", 0), entry(0, 0, 0x10000, 0x100000, "factory", 3)...)
	f.Add(pad(append(append([]byte(nil), good...), md5Entry(good)...)))
	f.Add(pad(append([]byte(nil), good...)))
	f.Add(good)
	f.Add(bytes.Repeat([]byte{0xFF}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := ParseBinary(b)
		if err != nil {
			return
		}
		roundTrip(t, pt)
		_ = pt.Validate(4 << 20)
		_, _ = pt.FS()
		_ = pt.Table()
		// Valid tables in flash order without bootloader or partition-table
		// entries (whose CSV rows ParseCSV fills in itself) survive CSV.
		if pt.Validate(0) == nil && csvExpressible(pt) {
			back, err := ParseCSV(strings.NewReader(pt.CSV()))
			if err != nil {
				t.Fatalf("ParseCSV(CSV()) of a valid table: %v\n%s", err, pt.CSV())
			}
			if !reflect.DeepEqual(back, pt) {
				t.Fatalf("CSV round trip differs:\n%s", pt.CSV())
			}
		}
	})
}

func csvExpressible(pt *PartitionTable) bool {
	for i, p := range pt.Partitions {
		if p.Type == TypeBootloader || p.Type == TypePartitionTable {
			return false
		}
		if i > 0 && p.Offset < pt.Partitions[i-1].Offset {
			return false
		}
	}
	return true
}

func FuzzParseCSV(f *testing.F) {
	for _, name := range ESP32DefaultNames() {
		pt, _ := ESP32DefaultTable(name, 0)
		f.Add(pt.CSV())
	}
	f.Add("nvs, data, nvs, , 0x4000,\notadata, data, ota, , 0x2000\nfactory, app, factory, , 1M, encrypted\nfs, data, littlefs, , -0x400000, readonly\n")
	f.Add("\xEF\xBB\xBFfirst, app, factory, 0x10000, -2M\r\nsecond, data, 0x15,, 1M\r\n")
	f.Add("pt, partition_table, primary, N/A, N/A\nx, 0x40, 0x7, 0o110000, 0b1000000000000\n")
	f.Add("# only a comment\n")
	f.Fuzz(func(t *testing.T, s string) {
		pt, err := ParseCSV(strings.NewReader(s))
		if err != nil {
			return
		}
		if err := pt.Validate(0); err != nil {
			t.Fatalf("ParseCSV returned a table Validate rejects: %v", err)
		}
		roundTrip(t, pt)
		back, err := ParseCSV(strings.NewReader(pt.CSV()))
		if err != nil || !reflect.DeepEqual(back, pt) {
			t.Fatalf("CSV round trip: %v\n%s", err, pt.CSV())
		}
	})
}

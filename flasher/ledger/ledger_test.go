package ledger

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/internal/xdg"
)

var mac = [6]byte{0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56}

func TestSectorMD5sPadWithFF(t *testing.T) {
	data := bytes.Repeat([]byte{7}, SectorSize+10)
	got := SectorMD5s(data)
	if len(got) != 2 {
		t.Fatalf("%d sectors", len(got))
	}
	last := append(bytes.Repeat([]byte{7}, 10), bytes.Repeat([]byte{0xFF}, SectorSize-10)...)
	sum := md5.Sum(last)
	if got[1] != hex.EncodeToString(sum[:]) {
		t.Fatal("the last sector must be hashed as the erased flash after the data reads: padded with 0xFF")
	}
}

func TestSaveLoadPutForget(t *testing.T) {
	l := At(t.TempDir())
	b, err := l.Load(mac)
	if err != nil || len(b.Regions) != 0 || b.MAC != "24:0a:c4:12:34:56" {
		t.Fatalf("fresh board: %+v %v", b, err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b.Put(NewRegion(0x10000, bytes.Repeat([]byte{1}, 3*SectorSize), "app", now))
	b.Put(NewRegion(0x8000, []byte{1, 2, 3, 4}, "partitions", now))
	b.Put(NewRegion(0x300000, make([]byte, 5000), "fs", now))
	b.FlashID = 0x1640EF
	if err := l.Save(b); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(l.Dir(), "240ac4123456.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("record file: %v %v", st, err)
	}
	got, err := l.Load(mac)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Regions) != 3 || got.Regions[0].Offset != 0x8000 || got.FlashID != 0x1640EF {
		t.Fatalf("loaded %+v", got)
	}
	if s, ok := got.SectorMD5(0x11000); !ok || s != got.Regions[1].Sectors[1] {
		t.Fatal("sector lookup")
	}
	if _, ok := got.SectorMD5(0x13000); ok {
		t.Fatal("a sector past the app's three is not recorded")
	}
	// A write over the middle of the app voids the whole app record.
	got.Put(NewRegion(0x11000, []byte{9, 9, 9, 9}, "patch", now))
	if _, ok := got.Find(0x10000); ok {
		t.Fatal("overlapped region kept")
	}
	if !got.Overlaps(0x11000, 1) || got.Overlaps(0x12000, SectorSize) {
		t.Fatal("overlap test")
	}
	got.Forget(0, 1<<20)
	if len(got.Regions) != 1 || got.Regions[0].Offset != 0x300000 {
		t.Fatalf("after forget: %+v", got.Regions)
	}
}

func TestOpenUsesDataDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(xdg.EnvDataDir, dir)
	l, err := Open()
	if err != nil || l.Dir() != filepath.Join(dir, "flash") {
		t.Fatalf("%v %v", l, err)
	}
}

func TestDamagedRecordIsAClearError(t *testing.T) {
	l := At(t.TempDir())
	os.WriteFile(filepath.Join(l.Dir(), Key(mac)+".json"), []byte(`{"mac":"24:0a:c4:12:34:56","regions":[{"offset":4097}]}`), 0o600)
	_, err := l.Load(mac)
	if err == nil || !strings.Contains(err.Error(), "not a multiple of 0x1000") || !strings.Contains(err.Error(), "delete the file") {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(filepath.Join(l.Dir(), Key(mac)+".json"), []byte(`{"mac":"00:00:00:00:00:01","regions":[]}`), 0o600)
	if _, err := l.Load(mac); err == nil || !strings.Contains(err.Error(), "not 24:0a:c4:12:34:56") {
		t.Fatalf("other board's record: %v", err)
	}
}

func TestParseRefusesInconsistentRecords(t *testing.T) {
	good := NewRegion(0x1000, []byte{1, 2, 3, 4}, "", time.Time{})
	cases := map[string]func(b *Board){
		"sector hashes":  func(b *Board) { b.Regions[0].Sectors = nil },
		"bad SHA-256":    func(b *Board) { b.Regions[0].SHA256 = "xyz" },
		"overlap":        func(b *Board) { b.Regions = append(b.Regions, b.Regions[0]) },
		"bad sector MD5": func(b *Board) { b.Regions[0].Sectors[0] = strings.ToUpper(b.Regions[0].Sectors[0]) },
		"length 0":       func(b *Board) { b.Regions[0].Length = 0 },
		"runs past 4 GiB": func(b *Board) {
			b.Regions[0].Offset = 0xFFFFF000
			b.Regions[0].Length = 2 * SectorSize
			b.Regions[0].Sectors = []string{good.MD5, good.MD5}
		},
	}
	for want, mutate := range cases {
		b := &Board{MAC: "24:0a:c4:12:34:56", Regions: []Region{good}}
		b.Regions[0].Sectors = append([]string(nil), good.Sectors...)
		mutate(b)
		l := At(t.TempDir())
		if err := l.Save(b); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(l.Dir(), Key(mac)+".json"))
		if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

func TestParseRefusesBadMAC(t *testing.T) {
	for _, m := range []string{"nope", "24:0A:C4:12:34:56", "24:0a:c4:12:34", ""} {
		if _, err := Parse([]byte(`{"mac":"` + m + `","regions":[]}`)); err == nil || !strings.Contains(err.Error(), "bad board MAC") {
			t.Errorf("%q: %v", m, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	b := &Board{MAC: "24:0a:c4:12:34:56", FlashID: 0x1640EF}
	b.Put(NewRegion(0x10000, bytes.Repeat([]byte{3}, 5000), "app", time.Unix(0, 0)))
	l := At(f.TempDir())
	if err := l.Save(b); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(filepath.Join(l.Dir(), Key(mac)+".json"))
	f.Add(seed)
	f.Add([]byte(`{"mac":"24:0a:c4:12:34:56","regions":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		bd, err := Parse(in)
		if err != nil {
			return
		}
		for i, r := range bd.Regions {
			if len(r.Sectors) != (r.Length+SectorSize-1)/SectorSize || r.Offset%SectorSize != 0 {
				t.Fatalf("accepted region %d %+v", i, r)
			}
			if i > 0 && uint64(r.Offset) < bd.Regions[i-1].End() {
				t.Fatal("accepted overlapping regions")
			}
			if _, ok := bd.SectorMD5(r.Offset); !ok {
				t.Fatal("recorded region not found")
			}
		}
	})
}

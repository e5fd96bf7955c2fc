package virtualboard

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
)

// Known answers of bootloader_common_ota_select_crc, as ESP-IDF's otatool
// computes them (zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF)).
func TestOTASelectCRC(t *testing.T) {
	for seq, want := range map[uint32]uint32{1: 0x4743989A, 2: 0x55F63774} {
		if got := OTASelectCRC(seq); got != want {
			t.Errorf("crc(seq %d) = 0x%08X, want 0x%08X", seq, got, want)
		}
	}
	e := NewOTASelectEntry(1, OTAImgUndefined)
	b := e.Marshal()
	want := []byte{1, 0, 0, 0}
	want = append(want, bytes.Repeat([]byte{0xFF}, 24)...)
	want = append(want, 0x9A, 0x98, 0x43, 0x47)
	if !bytes.Equal(b, want) {
		t.Fatalf("entry bytes % x\nwant % x", b, want)
	}
}

// otadataBytes is an otadata partition holding e0 and e1 (nil = erased).
func otadataBytes(e0, e1 *OTASelectEntry) []byte {
	b := bytes.Repeat([]byte{0xFF}, 2*OTADataSectorSize)
	if e0 != nil {
		copy(b, e0.Marshal())
	}
	if e1 != nil {
		copy(b[OTADataSectorSize:], e1.Marshal())
	}
	return b
}

func entry(seq, state uint32) *OTASelectEntry {
	e := NewOTASelectEntry(seq, state)
	return &e
}

func TestSelectBoot(t *testing.T) {
	def := defaultTable(t) // app0 = ota_0, app1 = ota_1, otadata, no factory
	withFactory, err := layout.ParseCSV(strings.NewReader("nvs,data,nvs,0x9000,0x5000\notadata,data,ota,0xe000,0x2000\nfactory,app,factory,0x10000,0x100000\nota_0,app,ota_0,0x110000,0x100000\nota_1,app,ota_1,0x210000,0x100000\n"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := entry(2, OTAImgUndefined)
	corrupt.CRC ^= 1
	cases := []struct {
		name    string
		pt      *layout.PartitionTable
		e0, e1  *OTASelectEntry
		index   int
		active  int
		initial bool
	}{
		{"both erased, no factory", def, nil, nil, 0, -1, true},
		{"both erased, factory", withFactory, nil, nil, FactoryIndex, -1, false},
		{"seq 1", def, entry(1, OTAImgUndefined), nil, 0, 0, false},
		{"seq 1 and 2", def, entry(1, OTAImgUndefined), entry(2, OTAImgUndefined), 1, 1, false},
		{"seq 3 and 2", def, entry(3, OTAImgUndefined), entry(2, OTAImgUndefined), 0, 0, false},
		{"seq 4 beats 3 in either sector", def, entry(4, OTAImgValid), entry(3, OTAImgValid), 1, 0, false},
		{"newer entry corrupt", def, entry(1, OTAImgUndefined), corrupt, 0, 0, false},
		{"newer entry aborted", def, entry(1, OTAImgUndefined), entry(2, OTAImgAborted), 0, 0, false},
		// A seq that is set but fails its CRC is not "empty": the
		// bootloader says the data is invalid and tries from the factory
		// index, which a table without one skips (then slot 0 onwards).
		{"only entry corrupt, no factory", def, corrupt, nil, FactoryIndex, -1, false},
		{"only entry corrupt, factory", withFactory, corrupt, nil, FactoryIndex, -1, false},
		{"factory table, seq 2", withFactory, nil, entry(2, OTAImgUndefined), 1, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel, err := SelectBoot(c.pt, otadataBytes(c.e0, c.e1))
			if err != nil {
				t.Fatal(err)
			}
			if sel.Index != c.index || sel.Active != c.active || sel.Initial != c.initial {
				t.Fatalf("index %d active %d initial %v (%s), want %d %d %v", sel.Index, sel.Active, sel.Initial, sel.Note, c.index, c.active, c.initial)
			}
		})
	}
	// The boot order from a corrupt otadata without a factory app: every
	// OTA slot from 0 (bootloader_utility_load_boot_image).
	if got := slotsOf(def).bootOrder(FactoryIndex); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("boot order %v", got)
	}
	if got := slotsOf(withFactory).bootOrder(1); len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != FactoryIndex {
		t.Fatalf("boot order from slot 1 %v, want 1 0 factory", got)
	}
	if _, err := SelectBoot(def, make([]byte, 100)); err == nil {
		t.Fatal("a short otadata read parsed")
	}
}

// esp_ota_set_boot_partition writes the inactive sector with the next seq
// for the slot, leaving the active one as it was; setting the slot that
// already boots changes nothing but its own sector.
func TestSetBootPartition(t *testing.T) {
	pt := defaultTable(t)
	fl, err := NewFlash(NewClock(1000), 4<<20, W25Q32JVTiming)
	if err != nil {
		t.Fatal(err)
	}
	ota, _ := pt.ByLabel("otadata")
	app0, _ := pt.ByLabel("app0")
	app1, _ := pt.ByLabel("app1")
	sel := func() BootSelection {
		t.Helper()
		s, err := SelectBoot(pt, fl.Read(ota.Offset, int(ota.Size)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	// Erased otadata: sector 0 gets slot+1.
	if err := SetBootPartition(ctx, fl, pt, app1); err != nil {
		t.Fatal(err)
	}
	if s := sel(); s.Index != 1 || s.Active != 0 || s.Entries[0].Seq != 2 {
		t.Fatalf("after app1 on erased otadata: %+v", s)
	}
	steps := []struct {
		p            layout.Partition
		index, seq   int
		activeSector int
	}{{app0, 0, 3, 1}, {app1, 1, 4, 0}, {app1, 1, 4, 0}, {app0, 0, 5, 1}}
	for i, st := range steps {
		if err := SetBootPartition(ctx, fl, pt, st.p); err != nil {
			t.Fatal(err)
		}
		s := sel()
		if s.Index != st.index || s.Active != st.activeSector || s.Entries[s.Active].Seq != uint32(st.seq) {
			t.Fatalf("step %d (%s): index %d active %d seq %d, want %d %d %d", i, st.p.Label, s.Index, s.Active, s.Entries[s.Active].Seq, st.index, st.activeSector, st.seq)
		}
		if s.Entries[s.Active].State != OTAImgUndefined {
			t.Fatalf("state 0x%x, want UNDEFINED (no rollback in arduino-esp32)", s.Entries[s.Active].State)
		}
	}
	if next, _ := NextUpdatePartition(pt, app0); next.Label != "app1" {
		t.Fatalf("next after app0: %s", next.Label)
	}
	if next, _ := NextUpdatePartition(pt, app1); next.Label != "app0" {
		t.Fatalf("next after app1: %s", next.Label)
	}
	nvs, _ := pt.ByLabel("nvs")
	if err := SetBootPartition(ctx, fl, pt, nvs); err == nil {
		t.Fatal("nvs accepted as a boot partition")
	}
}

// The otadata parser reads flash contents: any bytes give two entries
// and a selection, never a panic, and a selected slot is one the table
// has. The input is the two entries' 64 bytes (what the parser looks at),
// placed at the start of each sector of an erased partition; the input
// alone is refused cleanly when it is shorter than two sectors' worth.
func FuzzParseOTAData(f *testing.F) {
	pair := func(e0, e1 *OTASelectEntry) []byte {
		b := otadataBytes(e0, e1)
		return append(b[:OTASelectEntrySize:OTASelectEntrySize], b[OTADataSectorSize:OTADataSectorSize+OTASelectEntrySize]...)
	}
	f.Add(pair(nil, nil))
	f.Add(pair(entry(1, OTAImgUndefined), entry(2, OTAImgUndefined)))
	f.Add(pair(entry(0xFFFFFFFE, OTAImgValid), entry(0, OTAImgNew)))
	f.Add(pair(entry(7, OTAImgAborted), nil))
	f.Add([]byte{1, 2, 3})
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := ParseOTAData(in); (err == nil) != (len(in) >= OTADataSectorSize+OTASelectEntrySize) {
			t.Fatalf("%d bytes: %v", len(in), err)
		}
		b := bytes.Repeat([]byte{0xFF}, 2*OTADataSectorSize)
		copy(b[:OTASelectEntrySize], in)
		if len(in) > OTASelectEntrySize {
			copy(b[OTADataSectorSize:OTADataSectorSize+OTASelectEntrySize], in[OTASelectEntrySize:])
		}
		e, err := ParseOTAData(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range e {
			if !bytes.Equal(e[i].Marshal(), b[i*OTADataSectorSize:i*OTADataSectorSize+OTASelectEntrySize]) {
				t.Fatalf("entry %d does not marshal back to its bytes", i)
			}
		}
		a := ActiveOTAData(e)
		if a >= 0 && !e[a].Valid() {
			t.Fatalf("active entry %d is not valid", a)
		}
		sel, err := SelectBoot(pt, b)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Index != FactoryIndex && (sel.Index < 0 || sel.Index > 1) {
			t.Fatalf("slot %d of a two-slot table", sel.Index)
		}
	})
}

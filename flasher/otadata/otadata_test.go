package otadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
)

// Known answers of bootloader_common_ota_select_crc, as ESP-IDF's otatool
// computes them (zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF)).
func TestCRC(t *testing.T) {
	for seq, want := range map[uint32]uint32{1: 0x4743989A, 2: 0x55F63774} {
		if got := CRC(seq); got != want {
			t.Errorf("crc(seq %d) = 0x%08X, want 0x%08X", seq, got, want)
		}
	}
	e := NewEntry(1, StateUndefined)
	b := e.Marshal()
	want := []byte{1, 0, 0, 0}
	want = append(want, bytes.Repeat([]byte{0xFF}, 24)...)
	want = append(want, 0x9A, 0x98, 0x43, 0x47)
	if !bytes.Equal(b, want) {
		t.Fatalf("entry bytes % x\nwant % x", b, want)
	}
}

// otadataBytes is an otadata partition holding e0 and e1 (nil = erased).
func otadataBytes(e0, e1 *Entry) []byte {
	b := bytes.Repeat([]byte{0xFF}, 2*SectorSize)
	if e0 != nil {
		copy(b, e0.Marshal())
	}
	if e1 != nil {
		copy(b[SectorSize:], e1.Marshal())
	}
	return b
}

func entry(seq, state uint32) *Entry {
	e := NewEntry(seq, state)
	return &e
}

func TestSelect(t *testing.T) {
	def := defaultTable(t) // app0 = ota_0, app1 = ota_1, otadata, no factory
	withFactory, err := layout.ParseCSV(strings.NewReader("nvs,data,nvs,0x9000,0x5000\notadata,data,ota,0xe000,0x2000\nfactory,app,factory,0x10000,0x100000\nota_0,app,ota_0,0x110000,0x100000\nota_1,app,ota_1,0x210000,0x100000\n"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := entry(2, StateUndefined)
	corrupt.CRC ^= 1
	cases := []struct {
		name    string
		pt      *layout.PartitionTable
		e0, e1  *Entry
		index   int
		active  int
		initial bool
	}{
		{"both erased, no factory", def, nil, nil, 0, -1, true},
		{"both erased, factory", withFactory, nil, nil, FactoryIndex, -1, false},
		{"seq 1", def, entry(1, StateUndefined), nil, 0, 0, false},
		{"seq 1 and 2", def, entry(1, StateUndefined), entry(2, StateUndefined), 1, 1, false},
		{"seq 3 and 2", def, entry(3, StateUndefined), entry(2, StateUndefined), 0, 0, false},
		{"seq 4 beats 3 in either sector", def, entry(4, StateValid), entry(3, StateValid), 1, 0, false},
		{"newer entry corrupt", def, entry(1, StateUndefined), corrupt, 0, 0, false},
		{"newer entry aborted", def, entry(1, StateUndefined), entry(2, StateAborted), 0, 0, false},
		// A seq that is set but fails its CRC is not "empty": the
		// bootloader says the data is invalid and tries from the factory
		// index, which a table without one skips (then slot 0 onwards).
		{"only entry corrupt, no factory", def, corrupt, nil, FactoryIndex, -1, false},
		{"only entry corrupt, factory", withFactory, corrupt, nil, FactoryIndex, -1, false},
		{"factory table, seq 2", withFactory, nil, entry(2, StateUndefined), 1, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel, err := Select(c.pt, otadataBytes(c.e0, c.e1))
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
	if got := SlotsOf(def).BootOrder(FactoryIndex); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("boot order %v", got)
	}
	if got := SlotsOf(withFactory).BootOrder(1); len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != FactoryIndex {
		t.Fatalf("boot order from slot 1 %v, want 1 0 factory", got)
	}
	if _, err := Select(def, make([]byte, 100)); err == nil {
		t.Fatal("a short otadata read parsed")
	}
}

// The otadata parser reads flash contents: any bytes give two entries
// and a selection, never a panic, and a selected slot is one the table
// has. The input is the two entries' 64 bytes (what the parser looks at),
// placed at the start of each sector of an erased partition; the input
// alone is refused cleanly when it is shorter than two sectors' worth.
func FuzzParse(f *testing.F) {
	pair := func(e0, e1 *Entry) []byte {
		b := otadataBytes(e0, e1)
		return append(b[:EntrySize:EntrySize], b[SectorSize:SectorSize+EntrySize]...)
	}
	f.Add(pair(nil, nil))
	f.Add(pair(entry(1, StateUndefined), entry(2, StateUndefined)))
	f.Add(pair(entry(0xFFFFFFFE, StateValid), entry(0, StateNew)))
	f.Add(pair(entry(7, StateAborted), nil))
	f.Add([]byte{1, 2, 3})
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := Parse(in); (err == nil) != (len(in) >= SectorSize+EntrySize) {
			t.Fatalf("%d bytes: %v", len(in), err)
		}
		b := bytes.Repeat([]byte{0xFF}, 2*SectorSize)
		copy(b[:EntrySize], in)
		if len(in) > EntrySize {
			copy(b[SectorSize:SectorSize+EntrySize], in[EntrySize:])
		}
		e, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range e {
			if !bytes.Equal(e[i].Marshal(), b[i*SectorSize:i*SectorSize+EntrySize]) {
				t.Fatalf("entry %d does not marshal back to its bytes", i)
			}
		}
		a := Active(e)
		if a >= 0 && !e[a].Valid() {
			t.Fatalf("active entry %d is not valid", a)
		}
		sel, err := Select(pt, b)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Index != FactoryIndex && (sel.Index < 0 || sel.Index > 1) {
			t.Fatalf("slot %d of a two-slot table", sel.Index)
		}
	})
}

func defaultTable(t *testing.T) *layout.PartitionTable {
	t.Helper()
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// boot_app0.bin as arduino-esp32 ships it (tools/partitions/boot_app0.bin,
// stored with Git LFS: size 8192, oid sha256:f94c5d78…; the bytes were
// read from a copy with the same digest): the model must be that file.
func TestBootApp0IsArduinosFile(t *testing.T) {
	b := BootApp0()
	sum := sha256.Sum256(b)
	if len(b) != 8192 || hex.EncodeToString(sum[:]) != "f94c5d786a7a8fab06ac5d10e33bf37711a6697636dc037559ea19cc410a17f0" {
		t.Fatalf("%d bytes, sha256 %x", len(b), sum)
	}
	sel, err := Select(defaultTable(t), b)
	if err != nil {
		t.Fatal(err)
	}
	// Not the initial state: the bootloader boots ota_0 from it and
	// writes nothing.
	if sel.Index != 0 || sel.Active != 0 || sel.Initial {
		t.Fatalf("selection from boot_app0.bin: %+v", sel)
	}
	if _, ok := ActualSeq(sel, 0); ok {
		t.Fatal("set_actual_ota_seq would write over boot_app0.bin")
	}
}

// set_actual_ota_seq: only from the initial state, only for an OTA slot,
// seq index+1 in state VALID with its CRC (ESP-IDF v5.x
// bootloader_utility.c).
func TestActualSeq(t *testing.T) {
	def := defaultTable(t)
	erasedSel, err := Select(def, otadataBytes(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for index, want := range map[int]uint32{0: 1, 1: 2} {
		e, ok := ActualSeq(erasedSel, index)
		if !ok || e.Seq != want || e.State != StateValid || !e.Valid() || e.Label != NewEntry(0, 0).Label {
			t.Fatalf("slot %d: %+v %v", index, e, ok)
		}
	}
	if _, ok := ActualSeq(erasedSel, FactoryIndex); ok {
		t.Fatal("the factory app wrote otadata")
	}
	// Initial needs both entries invalid (erased seq, INVALID or ABORTED)
	// and both erased or failing their CRC: a set seq with a bad CRC alone
	// takes the "ota data partition invalid" path, which writes nothing;
	// an aborted entry with a good CRC is invalid but not initial.
	bad := entry(3, StateUndefined)
	bad.CRC = 0
	abortedBad := entry(3, StateAborted)
	abortedBad.CRC = 0
	for _, c := range []struct {
		e0      *Entry
		initial bool
	}{{bad, false}, {abortedBad, true}, {entry(1, StateAborted), false}, {entry(1, StateUndefined), false}} {
		sel, err := Select(def, otadataBytes(c.e0, nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ActualSeq(sel, 0); ok != c.initial {
			t.Errorf("otadata[0] %+v: writes %v, want %v", *c.e0, ok, c.initial)
		}
	}
}

// Selecting gives otadata that makes the bootloader start at the index
// asked for, on tables with and without a factory app.
func TestSelecting(t *testing.T) {
	def := defaultTable(t)
	for _, index := range []int{0, 1} {
		sel, err := Select(def, Selecting(index, Size))
		if err != nil || sel.Index != index {
			t.Fatalf("slot %d: %+v %v", index, sel, err)
		}
	}
	withFactory, err := layout.ParseCSV(strings.NewReader("otadata,data,ota,0xe000,0x2000\nfactory,app,factory,0x10000,0x100000\nota_0,app,ota_0,0x110000,0x100000\nota_1,app,ota_1,0x210000,0x100000\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, index := range []int{FactoryIndex, 0, 1} {
		sel, err := Select(withFactory, Selecting(index, Size))
		if err != nil || sel.Index != index {
			t.Fatalf("factory table, index %d: %+v %v", index, sel, err)
		}
	}
	s := SlotsOf(withFactory)
	for _, label := range []string{"factory", "ota_0", "ota_1"} {
		p, _ := withFactory.ByLabel(label)
		i, ok := s.IndexOf(p)
		if !ok || s.Partition(i).Label != label {
			t.Fatalf("%s: index %d %v", label, i, ok)
		}
	}
	if !bytes.Equal(Selecting(0, Size), BootApp0()) {
		t.Fatal("slot 0 is not boot_app0.bin")
	}
}

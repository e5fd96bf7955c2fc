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
		// The rollback writes are what Entries hold; what is left
		// PENDING_VERIFY is only the entry this boot moved there.
		for _, w := range sel.Writes {
			if sel.Entries[w.Sector] != w.Entry {
				t.Fatalf("write %+v is not entry %d %+v", w, w.Sector, sel.Entries[w.Sector])
			}
		}
		for i, x := range sel.Entries {
			if x.State == StatePendingVerify && (i != sel.Active || e[i].State != StateNew) {
				t.Fatalf("entry %d left PENDING_VERIFY: %+v", i, sel.Entries)
			}
		}
		// Once written and confirmed, the same slot boots again with
		// nothing more to write.
		after := apply(b, sel.Writes)
		if w, ok, err := MarkValid(pt, after); err == nil && ok && sel.Active >= 0 {
			again, err := Select(pt, apply(after, []Write{w}))
			if err != nil || again.Index != sel.Index || len(again.Writes) != 0 {
				t.Fatalf("after confirming: %+v %v, want slot %d and no writes", again, err, sel.Index)
			}
		}
	})
}

// apply programs writes into a copy of otadata bytes as write_otadata does.
func apply(b []byte, writes []Write) []byte {
	b = bytes.Clone(b)
	for _, w := range writes {
		sec := b[w.Sector*SectorSize : (w.Sector+1)*SectorSize]
		for i := range sec {
			sec[i] = 0xFF
		}
		copy(sec, w.Entry.Marshal())
	}
	return b
}

// App rollback as arduino-esp32's bootloader is built
// (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): an update's NEW entry is made
// PENDING_VERIFY on its first boot; confirmed, it stays; left
// PENDING_VERIFY, the next boot makes it ABORTED and boots the other
// slot.
func TestSelectRollback(t *testing.T) {
	def := defaultTable(t)
	app0, _ := def.ByLabel("app0")
	app1, _ := def.ByLabel("app1")
	data := BootApp0()
	sector, e, err := SetBoot(def, data, app1, StateNew)
	if err != nil || sector != 1 {
		t.Fatalf("SetBoot: sector %d %v", sector, err)
	}
	data = apply(data, []Write{{Sector: sector, Entry: e}})

	first, err := Select(def, data)
	if err != nil {
		t.Fatal(err)
	}
	if first.Index != 1 || len(first.Writes) != 1 || first.Writes[0].Sector != 1 || first.Writes[0].From != StateNew || first.Writes[0].Entry.State != StatePendingVerify {
		t.Fatalf("first boot of the update: %+v", first)
	}
	pending := apply(data, first.Writes)
	if st, err := StateOf(def, pending, app1); err != nil || st != StatePendingVerify {
		t.Fatalf("app1's state %s %v, want PENDING_VERIFY", StateName(st), err)
	}
	if st, err := StateOf(def, pending, app0); err != nil || st != StateUndefined {
		t.Fatalf("app0's state %s %v, want boot_app0's UNDEFINED", StateName(st), err)
	}

	// Confirmed: VALID in its own sector, and app1 keeps booting.
	w, ok, err := MarkValid(def, pending)
	if err != nil || !ok || w.Sector != 1 || w.Entry.State != StateValid || w.Entry.Seq != 2 {
		t.Fatalf("MarkValid: %+v %v %v", w, ok, err)
	}
	valid := apply(pending, []Write{w})
	if again, _ := Select(def, valid); again.Index != 1 || len(again.Writes) != 0 {
		t.Fatalf("after confirming: %+v", again)
	}
	if _, ok, err := MarkValid(def, valid); ok || err != nil {
		t.Fatalf("confirming twice wrote again (%v, %v)", ok, err)
	}

	// Not confirmed: the next boot aborts it and boots app0.
	back, err := Select(def, pending)
	if err != nil {
		t.Fatal(err)
	}
	if back.Index != 0 || back.Active != 0 || len(back.Writes) != 1 || back.Writes[0].Sector != 1 || back.Writes[0].Entry.State != StateAborted || back.Writes[0].From != StatePendingVerify {
		t.Fatalf("boot after an unconfirmed update: %+v", back)
	}
	aborted := apply(pending, back.Writes)
	if again, _ := Select(def, aborted); again.Index != 0 || len(again.Writes) != 0 {
		t.Fatalf("the boot after: %+v", again)
	}

	// With no other entry, the aborted one leaves both invalid: the
	// bootloader says "No factory image, trying OTA 0" (not an initial
	// otadata, so set_actual_ota_seq writes nothing).
	only, err := Select(def, otadataBytes(nil, entry(2, StatePendingVerify)))
	if err != nil {
		t.Fatal(err)
	}
	if only.Index != 0 || only.Initial || only.Note != "No factory image, trying OTA 0" || only.NoteIsError || len(only.Writes) != 1 {
		t.Fatalf("lone PENDING_VERIFY entry: %+v", only)
	}
	// A corrupt other entry is not "invalid", so the bootloader reports
	// the data invalid at ERROR level and tries every slot.
	corrupt := entry(3, StateValid)
	corrupt.CRC ^= 1
	bad, _ := Select(def, otadataBytes(corrupt, entry(2, StatePendingVerify)))
	if bad.Index != FactoryIndex || !bad.NoteIsError || bad.Note != "ota data partition invalid and no factory, will try all partitions" {
		t.Fatalf("aborted entry beside a corrupt one: %+v", bad)
	}
}

// verifyOta() false: esp_ota_mark_app_invalid_rollback_and_reboot marks
// the active entry INVALID when another app can boot, else refuses.
func TestMarkInvalid(t *testing.T) {
	def := defaultTable(t)
	data := otadataBytes(entry(1, StateValid), entry(2, StatePendingVerify))
	all := func(layout.Partition) bool { return true }
	w, err := MarkInvalid(def, data, all)
	if err != nil || w.Sector != 1 || w.Entry.State != StateInvalid || w.Entry.Seq != 2 {
		t.Fatalf("MarkInvalid: %+v %v", w, err)
	}
	if sel, _ := Select(def, apply(data, []Write{w})); sel.Index != 0 {
		t.Fatalf("after marking app1 invalid the bootloader picks slot %d", sel.Index)
	}
	if _, err := MarkInvalid(def, data, func(layout.Partition) bool { return false }); err != ErrRollbackFailed {
		t.Fatalf("no bootable previous app: %v, want ErrRollbackFailed", err)
	}
	if _, err := MarkInvalid(def, otadataBytes(nil, entry(2, StatePendingVerify)), all); err != ErrRollbackFailed {
		t.Fatalf("no other entry and no factory app: %v, want ErrRollbackFailed", err)
	}
	if _, _, err := MarkValid(def, otadataBytes(nil, nil)); err != ErrFactory {
		t.Fatalf("MarkValid on erased otadata: %v, want ErrFactory", err)
	}
	nvs, _ := def.ByLabel("nvs")
	if _, err := StateOf(def, data, nvs); err == nil {
		t.Fatal("StateOf accepted a data partition")
	}
	app1, _ := def.ByLabel("app1")
	if _, err := StateOf(def, otadataBytes(nil, nil), app1); err != ErrNotFound {
		t.Fatalf("StateOf on erased otadata: %v, want ErrNotFound", err)
	}
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

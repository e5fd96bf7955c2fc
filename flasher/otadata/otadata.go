// Package otadata owns the otadata partition of an ESP32-family flash:
// its two esp_ota_select_entry_t records, and the choice of app partition
// the second-stage bootloader makes from them and the partition table. The
// virtual board's bootloader and OTA updater write it; provision reads it
// to tell an otadata the board wrote from one that boots another slot.
//
// Sources: ESP-IDF v5.x (the IDF arduino-esp32 3.x builds on)
// components/bootloader_support/include/esp_flash_partitions.h (the
// entry), src/bootloader_common.c and bootloader_common_loader.c (CRC,
// valid/invalid, active entry), src/bootloader_utility.c
// (bootloader_utility_get_selected_boot_partition,
// bootloader_utility_load_boot_image, set_actual_ota_seq) and
// components/app_update/esp_ota_ops.c (esp_ota_set_boot_partition,
// esp_ota_get_next_update_partition), and arduino-esp32's
// tools/partitions/boot_app0.bin. The code is written from those facts.
package otadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/iotbench/iotbench/flasher/layout"
)

// The partition is two 4 KiB sectors, each starting with an
// esp_ota_select_entry_t: uint32 ota_seq, uint8 seq_label[20], uint32
// ota_state, uint32 crc — 32 bytes, little-endian. The bootloader boots
// OTA slot (seq-1) % slots of the valid entry with the highest seq;
// esp_ota_set_boot_partition rewrites the other sector with the next seq.
const (
	// SectorSize is where the second entry starts (erase_size).
	SectorSize = 0x1000
	// EntrySize is sizeof(esp_ota_select_entry_t).
	EntrySize = 32
	// Size is the partition size every ESP-IDF and arduino-esp32 table
	// gives otadata (two sectors).
	Size = 2 * SectorSize
)

// OTA image states (esp_ota_img_states_t).
const (
	StateNew           uint32 = 0x0
	StatePendingVerify uint32 = 0x1
	StateValid         uint32 = 0x2
	StateInvalid       uint32 = 0x3
	StateAborted       uint32 = 0x4
	StateUndefined     uint32 = 0xFFFFFFFF
)

// StateName is the state's esp_ota_img_states_t name without its
// ESP_OTA_IMG_ prefix ("0x…" for a value that is none of them).
func StateName(state uint32) string {
	switch state {
	case StateNew:
		return "NEW"
	case StatePendingVerify:
		return "PENDING_VERIFY"
	case StateValid:
		return "VALID"
	case StateInvalid:
		return "INVALID"
	case StateAborted:
		return "ABORTED"
	case StateUndefined:
		return "UNDEFINED"
	}
	return fmt.Sprintf("0x%x", state)
}

// Entry is one esp_ota_select_entry_t.
type Entry struct {
	Seq   uint32
	Label [20]byte
	State uint32
	CRC   uint32
}

// CRC is bootloader_common_ota_select_crc:
// esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4) (bootloader_common_loader.c).
// The ROM's crc32_le inverts on entry and exit as zlib's crc32 does, and
// so does Go's crc32.Update: the same function with the same seed.
func CRC(seq uint32) uint32 {
	return crc32.Update(0xFFFFFFFF, crc32.IEEETable, binary.LittleEndian.AppendUint32(nil, seq))
}

// NewEntry is an entry for seq in state, with its CRC and the label bytes
// erased (0xFF), as esp_rewrite_ota_data and set_actual_ota_seq (which
// memsets the entry to 0xFF first) leave them.
func NewEntry(seq, state uint32) Entry {
	e := Entry{Seq: seq, State: state, CRC: CRC(seq)}
	for i := range e.Label {
		e.Label[i] = 0xFF
	}
	return e
}

// Valid is bootloader_common_ota_select_valid: a seq that is not erased,
// a state that is neither INVALID nor ABORTED, and a matching CRC.
func (e Entry) Valid() bool {
	return !e.invalid() && e.CRC == CRC(e.Seq)
}

// invalid is bootloader_common_ota_select_invalid (no CRC check: the
// bootloader's first test of "both entries empty" uses only this).
func (e Entry) invalid() bool {
	return e.Seq == 0xFFFFFFFF || e.State == StateInvalid || e.State == StateAborted
}

// emptyOrBad is the bootloader's "initial" test for set_actual_ota_seq:
// an erased seq or one whose CRC does not match.
func (e Entry) emptyOrBad() bool {
	return e.Seq == 0xFFFFFFFF || e.CRC != CRC(e.Seq)
}

// Marshal is the entry's 32 bytes as the chip stores them.
func (e Entry) Marshal() []byte {
	b := make([]byte, 0, EntrySize)
	b = binary.LittleEndian.AppendUint32(b, e.Seq)
	b = append(b, e.Label[:]...)
	b = binary.LittleEndian.AppendUint32(b, e.State)
	return binary.LittleEndian.AppendUint32(b, e.CRC)
}

// Parse reads the two entries from the otadata partition's contents (at
// least SectorSize + EntrySize bytes: the table's otadata partition is
// 0x2000 bytes). Any bytes are entries; only a short read is an error.
func Parse(b []byte) ([2]Entry, error) {
	var e [2]Entry
	if len(b) < SectorSize+EntrySize {
		return e, fmt.Errorf("otadata: %d bytes, need %d (two 4 KiB sectors): the otadata partition must be 0x2000 bytes", len(b), SectorSize+EntrySize)
	}
	for i := range e {
		p := b[i*SectorSize:]
		e[i].Seq = binary.LittleEndian.Uint32(p)
		copy(e[i].Label[:], p[4:24])
		e[i].State = binary.LittleEndian.Uint32(p[24:])
		e[i].CRC = binary.LittleEndian.Uint32(p[28:])
	}
	return e, nil
}

// Active is bootloader_common_get_active_otadata: the index of the valid
// entry with the higher seq (entry 0 on a tie), the only valid one, or -1
// when neither is valid.
func Active(e [2]Entry) int {
	v0, v1 := e[0].Valid(), e[1].Valid()
	switch {
	case v0 && v1:
		if max(e[0].Seq, e[1].Seq) == e[0].Seq {
			return 0
		}
		return 1
	case v0:
		return 0
	case v1:
		return 1
	}
	return -1
}

// Boot indexes of bootloader_utility.c: OTA slots are 0…15.
const (
	FactoryIndex = -1
	TestAppIndex = -2
)

// Slots is the bootloader's bootloader_state_t for apps: the factory,
// test and OTA partitions of the table (bs->ota[subtype & 0xF], Count
// counting the OTA partitions), and the otadata partition.
type Slots struct {
	Factory, Test *layout.Partition
	OTA           [16]*layout.Partition
	Count         int
	OTAData       *layout.Partition
}

// SlotsOf sorts a table's partitions as the bootloader does
// (bootloader_utility_load_partition_table).
func SlotsOf(pt *layout.PartitionTable) Slots {
	var s Slots
	for i := range pt.Partitions {
		p := &pt.Partitions[i]
		switch {
		case p.Type == layout.TypeApp && p.SubType == layout.SubTypeFactory:
			s.Factory = p
		case p.Type == layout.TypeApp && p.SubType == layout.SubTypeTest:
			s.Test = p
		case p.Type == layout.TypeApp && p.SubType >= layout.SubTypeOTA0 && p.SubType < layout.SubTypeOTA0+16:
			s.OTA[p.SubType-layout.SubTypeOTA0] = p
			s.Count++
		case p.Type == layout.TypeData && p.SubType == layout.SubTypeOTAData:
			s.OTAData = p
		}
	}
	return s
}

// Partition is index_to_partition: nil where the table has none (an OTA
// index at or past app_count included, as the bootloader checks it).
func (s Slots) Partition(index int) *layout.Partition {
	switch {
	case index == FactoryIndex:
		return s.Factory
	case index == TestAppIndex:
		return s.Test
	case index >= 0 && index < 16 && index < s.Count:
		return s.OTA[index]
	}
	return nil
}

// IndexOf is the boot index of app partition p (FactoryIndex, TestAppIndex
// or an OTA slot); false when p is none of the table's apps.
func (s Slots) IndexOf(p layout.Partition) (int, bool) {
	for _, i := range append([]int{FactoryIndex, TestAppIndex}, s.BootOrder(0)...) {
		if q := s.Partition(i); q != nil && q.Offset == p.Offset && q.SubType == p.SubType {
			return i, true
		}
	}
	return 0, false
}

// BootOrder is the order bootloader_utility_load_boot_image tries apps
// in from start: backwards down to the factory app, then forwards through
// the remaining OTA slots, then the test app (the indexes without a
// partition are skipped).
func (s Slots) BootOrder(start int) []int {
	var order []int
	for i := start; i >= FactoryIndex; i-- {
		if s.Partition(i) != nil {
			order = append(order, i)
		}
	}
	for i := start + 1; i < s.Count; i++ {
		if s.Partition(i) != nil {
			order = append(order, i)
		}
	}
	if s.Test != nil {
		order = append(order, TestAppIndex)
	}
	return order
}

// Read is the part of the otadata partition the bootloader reads, cut
// from a read function (nil when the table has no otadata partition).
func (s Slots) Read(read func(addr uint32, n int) []byte) []byte {
	if s.OTAData == nil {
		return nil
	}
	return read(s.OTAData.Offset, int(min(s.OTAData.Size, Size)))
}

// Selection is what the bootloader decided from the partition table and
// otadata (bootloader_utility_get_selected_boot_partition).
type Selection struct {
	// Index is where the bootloader starts trying: FactoryIndex or an OTA
	// slot number.
	Index int
	// Entries are the two otadata entries read (zero without otadata).
	Entries [2]Entry
	// Active is the entry used (-1: none valid).
	Active int
	// Initial: no factory app and both entries empty or failing their
	// CRC (ota_has_initial_contents); the bootloader then writes
	// otadata[0] for the OTA slot it boots (set_actual_ota_seq, see
	// Initial).
	Initial bool
	// Note is the bootloader's log line for the choice ("" for none).
	Note string
	// NoteIsError: Note is an ESP_LOGE line, which arduino-esp32's
	// bootloader (log level ERROR) prints; the others are ESP_LOGI.
	NoteIsError bool
	// Writes are the entries the bootloader rewrites while choosing, in
	// order (app rollback, see Select); Entries already hold them.
	Writes []Write
}

// Write is an otadata entry rewritten in place: sector Sector is erased
// and Entry programmed at its start (write_otadata in
// bootloader_utility.c, rewrite_ota_seq in esp_ota_ops.c).
type Write struct {
	Sector int
	Entry  Entry
	// From is the entry's state before the write.
	From uint32
}

// Select is bootloader_utility_get_selected_boot_partition as
// arduino-esp32 builds the bootloader: with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (esp32-arduino-lib-builder
// configs/defconfig.common) and without CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK.
// No otadata partition → the factory app. Otherwise app rollback first:
// an entry still PENDING_VERIFY (its app never confirmed itself) becomes
// ABORTED, which makes it invalid. Then both entries empty, corrupt or
// invalid (or no OTA slots) → the factory app if there is one, else OTA
// slot 0; otherwise slot (seq-1) % app_count of the active entry — which,
// when NEW (esp_ota_set_boot_partition's state for a fresh update),
// becomes PENDING_VERIFY — or the factory index when no entry passes its
// CRC. Both rewrites are in Selection.Writes, for the caller to program
// (so Select is also what the next boot will choose: an unconfirmed
// update is already rolled back). data holds the otadata partition's
// bytes (nil when the table has none).
func Select(pt *layout.PartitionTable, data []byte) (Selection, error) {
	s := SlotsOf(pt)
	sel := Selection{Index: FactoryIndex, Active: -1}
	if s.OTAData == nil {
		return sel, nil
	}
	e, err := Parse(data)
	if err != nil {
		return sel, err
	}
	// The check looks at the state alone (no seq or CRC test), before
	// anything else: an app that was booted once as PENDING_VERIFY and
	// did not call esp_ota_mark_app_valid_cancel_rollback is given up.
	for i := range e {
		if e[i].State == StatePendingVerify {
			e[i].State = StateAborted
			sel.Writes = append(sel.Writes, Write{Sector: i, Entry: e[i], From: StatePendingVerify})
		}
	}
	sel.Entries = e
	if (e[0].invalid() && e[1].invalid()) || s.Count == 0 {
		if s.Factory != nil {
			sel.Note = "Defaulting to factory image"
			return sel, nil
		}
		sel.Index, sel.Note = 0, "No factory image, trying OTA 0"
		sel.Initial = e[0].emptyOrBad() && e[1].emptyOrBad()
		return sel, nil
	}
	sel.Active = Active(e)
	switch {
	case sel.Active >= 0:
		sel.Index = int((e[sel.Active].Seq - 1) % uint32(s.Count))
		if a := &sel.Entries[sel.Active]; a.State == StateNew {
			// The update's first boot: from here the app must confirm
			// itself before the next reset.
			a.State = StatePendingVerify
			sel.Writes = append(sel.Writes, Write{Sector: sel.Active, Entry: *a, From: StateNew})
		}
	case s.Factory != nil:
		sel.Note, sel.NoteIsError = "ota data partition invalid, falling back to factory", true
	default:
		sel.Note, sel.NoteIsError = "ota data partition invalid and no factory, will try all partitions", true
	}
	return sel, nil
}

// ActualSeq is set_actual_ota_seq (bootloader_utility.c): after
// bootloader_utility_load_boot_image loaded the app at boot index, an
// otadata in the initial state (see Selection.Initial) gets otadata[0] =
// {seq index+1, label 0xFF…, state VALID, crc}, written with
// write_otadata (erase sector 0, program the entry). ESP-IDF v5.1 to v5.5
// do this whatever CONFIG_BOOTLOADER_* options are set (only
// CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK also updates the eFuse version);
// the factory and test apps (index ≤ FactoryIndex) write nothing. ok is
// false when nothing is written.
func ActualSeq(sel Selection, index int) (e Entry, ok bool) {
	if index <= FactoryIndex || !sel.Initial {
		return Entry{}, false
	}
	return NewEntry(uint32(index+1), StateValid), true
}

// NextUpdatePartition is esp_ota_get_next_update_partition(running): the
// OTA partition after running in slot order, or the first OTA slot when
// running is the last one or not an OTA slot (the factory app).
func NextUpdatePartition(pt *layout.PartitionTable, running layout.Partition) (layout.Partition, error) {
	s := SlotsOf(pt)
	var first *layout.Partition
	next := false
	for _, p := range s.OTA {
		if p == nil {
			continue
		}
		if first == nil {
			first = p
		}
		if p.Offset == running.Offset && p.SubType == running.SubType {
			next = true
		} else if next {
			return *p, nil
		}
	}
	if first == nil {
		return layout.Partition{}, errors.New("the partition table has no OTA app partition (ota_0, ota_1): use a table with two OTA slots, e.g. the default one")
	}
	return *first, nil
}

// nextSeq is compute_ota_seq_for_target_slot: the smallest seq not below
// current that maps to slot.
func nextSeq(current uint32, slot, count int) uint32 {
	base := uint32((slot + 1) % count)
	i := uint32(0)
	for current > base+i*uint32(count) {
		i++
	}
	return base + i*uint32(count)
}

// SetBoot is what esp_ota_set_boot_partition writes for OTA slot p
// (esp_rewrite_ota_data) given the otadata bytes now: the sector to erase
// and the entry to program there. The inactive sector gets the entry
// whose seq selects p; when no entry is valid, sector 0 gets seq slot+1;
// when the active entry already selects p, its own sector is rewritten.
// state is the new entry's state (set_new_state_otadata: UNDEFINED, or
// NEW when the app is built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE).
func SetBoot(pt *layout.PartitionTable, data []byte, p layout.Partition, state uint32) (sector int, e Entry, err error) {
	s := SlotsOf(pt)
	if s.OTAData == nil {
		return 0, Entry{}, errors.New("the partition table has no otadata partition: esp_ota_set_boot_partition cannot record the new slot")
	}
	if p.Type != layout.TypeApp || p.SubType < layout.SubTypeOTA0 || p.SubType >= layout.SubTypeOTA0+16 {
		return 0, Entry{}, fmt.Errorf("%s is not an OTA app partition", p.Label)
	}
	slot := int(p.SubType - layout.SubTypeOTA0)
	if slot >= s.Count {
		return 0, Entry{}, fmt.Errorf("%s is OTA slot %d but the table has %d OTA slots", p.Label, slot, s.Count)
	}
	entries, err := Parse(data)
	if err != nil {
		return 0, Entry{}, err
	}
	active := Active(entries)
	sector, seq := 0, uint32(slot+1)
	if active >= 0 {
		cur := entries[active].Seq
		if int((cur-1)%uint32(s.Count)) == slot {
			sector, seq = active, cur
		} else {
			sector, seq = 1-active, nextSeq(cur, slot, s.Count)
		}
	}
	e = entries[sector]
	e.Seq, e.State, e.CRC = seq, state, CRC(seq)
	return sector, e, nil
}

// BootApp0 is arduino-esp32's tools/partitions/boot_app0.bin, which the
// Arduino IDE, arduino-cli and PlatformIO write at 0xe000 (the otadata
// partition of every arduino-esp32 scheme) with each upload and put into
// a merged image: 8192 bytes, sha256 f94c5d786a7a8fab…, all 0xFF but
// otadata[0] = {seq 1, label 0xFF…, state UNDEFINED, crc 0x4743989A}
// (slot 0, so app0 boots) and a zero seq word at the start of the second
// sector (not a valid entry: its CRC is 0xFFFFFFFF). As it is not in the
// initial state, the bootloader boots ota_0 from it without writing.
func BootApp0() []byte {
	b := erased(Size)
	copy(b, NewEntry(1, StateUndefined).Marshal())
	binary.LittleEndian.PutUint32(b[SectorSize:], 0)
	return b
}

// Selecting is otadata contents of size bytes that make the bootloader
// start at boot index (what an upload that writes the app there should
// also write): erased for the factory app (Defaulting to factory image),
// boot_app0.bin's bytes for slot 0, and otadata[0] with seq slot+1 for
// another slot, as esp_ota_set_boot_partition writes it on an erased
// otadata.
func Selecting(index, size int) []byte {
	b := erased(size)
	switch {
	case index == 0:
		copy(b, BootApp0())
	case index > 0:
		copy(b, NewEntry(uint32(index+1), StateUndefined).Marshal())
	}
	return b
}

func erased(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xFF
	}
	return b
}

// ErrNotFound is esp_ota_get_state_partition's ESP_ERR_NOT_FOUND: no
// otadata entry with a good CRC selects the partition (an app flashed
// over serial with boot_app0.bin's entry is found; a factory app or an
// erased otadata is not).
var ErrNotFound = errors.New("no otadata entry selects this partition")

// StateOf is esp_ota_get_state_partition(p) (esp_ota_ops.c): the state
// of the first entry, otadata[0] before otadata[1], whose CRC matches and
// whose seq maps to p's OTA slot — whether or not that entry is the
// active one.
func StateOf(pt *layout.PartitionTable, data []byte, p layout.Partition) (uint32, error) {
	if p.Type != layout.TypeApp || p.SubType < layout.SubTypeOTA0 || p.SubType >= layout.SubTypeOTA0+16 {
		return 0, fmt.Errorf("%s is not an OTA app partition (ESP_ERR_NOT_SUPPORTED)", p.Label)
	}
	s := SlotsOf(pt)
	if s.OTAData == nil || s.Count == 0 {
		return 0, ErrNotFound
	}
	e, err := Parse(data)
	if err != nil {
		return 0, err
	}
	for _, x := range e {
		if int((x.Seq-1)%uint32(s.Count)) == int(p.SubType-layout.SubTypeOTA0) && x.CRC == CRC(x.Seq) {
			return x.State, nil
		}
	}
	return 0, ErrNotFound
}

// ErrFactory is esp_ota_current_ota_is_workable's ESP_FAIL ("Running
// firmware is factory"): no valid entry, or no OTA slots.
var ErrFactory = errors.New("no valid otadata entry: the running firmware is the factory app")

// MarkValid is esp_ota_mark_app_valid_cancel_rollback
// (esp_ota_current_ota_is_workable(true)): the active entry — not
// necessarily the running partition's — becomes VALID, rewritten in its
// own sector. ok is false when it already is VALID (nothing written).
func MarkValid(pt *layout.PartitionTable, data []byte) (w Write, ok bool, err error) {
	active, e, err := workable(pt, data)
	if err != nil || e[active].State == StateValid {
		return Write{}, false, err
	}
	w = Write{Sector: active, Entry: e[active], From: e[active].State}
	w.Entry.State = StateValid
	return w, true, nil
}

// ErrRollbackFailed is ESP_ERR_OTA_ROLLBACK_FAILED ("Rollback is not
// possible, do not have any suitable apps in slots").
var ErrRollbackFailed = errors.New("rollback is not possible: no other bootable app in the OTA slots or factory partition")

// MarkInvalid is esp_ota_mark_app_invalid_rollback_and_reboot up to its
// esp_restart(): when esp_ota_check_rollback_is_possible finds another
// app to boot (the other entry's slot if that entry is valid, else the
// factory app; bootable checks an app image as esp_image_verify does),
// the active entry becomes INVALID in its own sector; the caller then
// restarts the chip.
func MarkInvalid(pt *layout.PartitionTable, data []byte, bootable func(layout.Partition) bool) (Write, error) {
	active, e, err := workable(pt, data)
	if err != nil {
		return Write{}, err
	}
	s := SlotsOf(pt)
	other := e[1-active]
	possible := false
	switch {
	case other.Valid():
		p := s.Partition(int((other.Seq - 1) % uint32(s.Count)))
		possible = p != nil && bootable(*p)
	case s.Factory != nil:
		possible = bootable(*s.Factory)
	}
	if !possible {
		return Write{}, ErrRollbackFailed
	}
	w := Write{Sector: active, Entry: e[active], From: e[active].State}
	w.Entry.State = StateInvalid
	return w, nil
}

// workable is the common start of esp_ota_current_ota_is_workable: the
// entries and the active one, or ErrFactory.
func workable(pt *layout.PartitionTable, data []byte) (int, [2]Entry, error) {
	s := SlotsOf(pt)
	if s.OTAData == nil {
		return 0, [2]Entry{}, errors.New("the partition table has no otadata partition (ESP_ERR_NOT_FOUND)")
	}
	e, err := Parse(data)
	if err != nil {
		return 0, e, err
	}
	active := Active(e)
	if active < 0 || s.Count == 0 {
		return 0, e, ErrFactory
	}
	return active, e, nil
}

package virtualboard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
)

// The otadata partition of an ESP32-family flash: two 4 KiB sectors, each
// starting with an esp_ota_select_entry_t (ESP-IDF
// components/bootloader_support/include/esp_flash_partitions.h): uint32
// ota_seq, uint8 seq_label[20], uint32 ota_state, uint32 crc — 32 bytes,
// little-endian. The bootloader boots OTA slot (seq-1) % slots of the valid
// entry with the highest seq; esp_ota_set_boot_partition rewrites the
// other sector with the next seq (app_update/esp_ota_ops.c).
const (
	// OTADataSectorSize is where the second entry starts (erase_size).
	OTADataSectorSize = 0x1000
	// OTASelectEntrySize is sizeof(esp_ota_select_entry_t).
	OTASelectEntrySize = 32
)

// OTA image states (esp_ota_img_states_t). arduino-esp32 builds without
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, so esp_ota_set_boot_partition
// writes UNDEFINED (set_new_state_otadata) and nothing moves it to
// PENDING_VERIFY or ABORTED; the bootloader still refuses INVALID and
// ABORTED entries (bootloader_common_ota_select_invalid).
const (
	OTAImgNew           uint32 = 0x0
	OTAImgPendingVerify uint32 = 0x1
	OTAImgValid         uint32 = 0x2
	OTAImgInvalid       uint32 = 0x3
	OTAImgAborted       uint32 = 0x4
	OTAImgUndefined     uint32 = 0xFFFFFFFF
)

// OTASelectEntry is one esp_ota_select_entry_t.
type OTASelectEntry struct {
	Seq   uint32
	Label [20]byte
	State uint32
	CRC   uint32
}

// OTASelectCRC is bootloader_common_ota_select_crc:
// esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4) (bootloader_common_loader.c).
// The ROM's crc32_le inverts on entry and exit as zlib's crc32 does, and
// so does Go's crc32.Update: the same function with the same seed.
func OTASelectCRC(seq uint32) uint32 {
	return crc32.Update(0xFFFFFFFF, crc32.IEEETable, binary.LittleEndian.AppendUint32(nil, seq))
}

// NewOTASelectEntry is an entry for seq in state, with its CRC and the
// label bytes erased (0xFF), as esp_rewrite_ota_data leaves them.
func NewOTASelectEntry(seq, state uint32) OTASelectEntry {
	e := OTASelectEntry{Seq: seq, State: state, CRC: OTASelectCRC(seq)}
	for i := range e.Label {
		e.Label[i] = 0xFF
	}
	return e
}

// Valid is bootloader_common_ota_select_valid: a seq that is not erased,
// a state that is neither INVALID nor ABORTED, and a matching CRC.
func (e OTASelectEntry) Valid() bool {
	return !e.invalid() && e.CRC == OTASelectCRC(e.Seq)
}

// invalid is bootloader_common_ota_select_invalid (no CRC check: the
// bootloader's first test of "both entries empty" uses only this).
func (e OTASelectEntry) invalid() bool {
	return e.Seq == 0xFFFFFFFF || e.State == OTAImgInvalid || e.State == OTAImgAborted
}

// Marshal is the entry's 32 bytes as the chip stores them.
func (e OTASelectEntry) Marshal() []byte {
	b := make([]byte, 0, OTASelectEntrySize)
	b = binary.LittleEndian.AppendUint32(b, e.Seq)
	b = append(b, e.Label[:]...)
	b = binary.LittleEndian.AppendUint32(b, e.State)
	return binary.LittleEndian.AppendUint32(b, e.CRC)
}

// ParseOTAData reads the two entries from the otadata partition's
// contents (at least OTADataSectorSize + OTASelectEntrySize bytes: the
// table's otadata partition is 0x2000 bytes). Any bytes are entries; only
// a short read is an error.
func ParseOTAData(b []byte) ([2]OTASelectEntry, error) {
	var e [2]OTASelectEntry
	if len(b) < OTADataSectorSize+OTASelectEntrySize {
		return e, fmt.Errorf("otadata: %d bytes, need %d (two 4 KiB sectors): the otadata partition must be 0x2000 bytes", len(b), OTADataSectorSize+OTASelectEntrySize)
	}
	for i := range e {
		p := b[i*OTADataSectorSize:]
		e[i].Seq = binary.LittleEndian.Uint32(p)
		copy(e[i].Label[:], p[4:24])
		e[i].State = binary.LittleEndian.Uint32(p[24:])
		e[i].CRC = binary.LittleEndian.Uint32(p[28:])
	}
	return e, nil
}

// ActiveOTAData is bootloader_common_get_active_otadata: the index of the
// valid entry with the higher seq (entry 0 on a tie), the only valid one,
// or -1 when neither is valid.
func ActiveOTAData(e [2]OTASelectEntry) int {
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

// appSlots is the bootloader's bootloader_state_t for apps: the factory,
// test and OTA partitions of the table (bs->ota[subtype & 0xF], app_count
// counting the OTA partitions), and the otadata partition.
type appSlots struct {
	factory, test *layout.Partition
	ota           [16]*layout.Partition
	count         int
	otadata       *layout.Partition
}

func slotsOf(pt *layout.PartitionTable) appSlots {
	var s appSlots
	for i := range pt.Partitions {
		p := &pt.Partitions[i]
		switch {
		case p.Type == layout.TypeApp && p.SubType == layout.SubTypeFactory:
			s.factory = p
		case p.Type == layout.TypeApp && p.SubType == layout.SubTypeTest:
			s.test = p
		case p.Type == layout.TypeApp && p.SubType >= layout.SubTypeOTA0 && p.SubType < layout.SubTypeOTA0+16:
			s.ota[p.SubType-layout.SubTypeOTA0] = p
			s.count++
		case p.Type == layout.TypeData && p.SubType == layout.SubTypeOTAData:
			s.otadata = p
		}
	}
	return s
}

// partition is index_to_partition: nil where the table has none (an OTA
// index at or past app_count included, as the bootloader checks it).
func (s appSlots) partition(index int) *layout.Partition {
	switch {
	case index == FactoryIndex:
		return s.factory
	case index == TestAppIndex:
		return s.test
	case index >= 0 && index < 16 && index < s.count:
		return s.ota[index]
	}
	return nil
}

// BootSelection is what the bootloader decided from the partition table
// and otadata (bootloader_utility_get_selected_boot_partition).
type BootSelection struct {
	// Index is where the bootloader starts trying: FactoryIndex or an OTA
	// slot number.
	Index int
	// Entries are the two otadata entries read (zero without otadata).
	Entries [2]OTASelectEntry
	// Active is the entry used (-1: none valid).
	Active int
	// Initial: no factory app and both entries empty or corrupt; the
	// bootloader then writes otadata[0] for the slot it boots
	// (set_actual_ota_seq).
	Initial bool
	// Note is the bootloader's log line for the choice ("" for none).
	Note string
}

// SelectBoot is bootloader_utility_get_selected_boot_partition without
// rollback (arduino-esp32's configuration): no otadata partition → the
// factory app; both entries empty or corrupt (or no OTA slots) → the
// factory app if there is one, else OTA slot 0; otherwise slot (seq-1) %
// app_count of the active entry, or the factory app when no entry passes
// its CRC. otadata holds the otadata partition's bytes (nil when the table
// has none).
func SelectBoot(pt *layout.PartitionTable, otadata []byte) (BootSelection, error) {
	s := slotsOf(pt)
	sel := BootSelection{Index: FactoryIndex, Active: -1}
	if s.otadata == nil {
		return sel, nil
	}
	e, err := ParseOTAData(otadata)
	if err != nil {
		return sel, err
	}
	sel.Entries = e
	emptyOrBad := func(x OTASelectEntry) bool { return x.Seq == 0xFFFFFFFF || x.CRC != OTASelectCRC(x.Seq) }
	if (e[0].invalid() && e[1].invalid()) || s.count == 0 {
		if s.factory != nil {
			sel.Note = "Defaulting to factory image"
			return sel, nil
		}
		sel.Index, sel.Note = 0, "No factory image, trying OTA 0"
		sel.Initial = emptyOrBad(e[0]) && emptyOrBad(e[1])
		return sel, nil
	}
	sel.Active = ActiveOTAData(e)
	switch {
	case sel.Active >= 0:
		sel.Index = int((e[sel.Active].Seq - 1) % uint32(s.count))
	case s.factory != nil:
		sel.Note = "ota data partition invalid, falling back to factory"
	default:
		sel.Note = "ota data partition invalid and no factory, will try all partitions"
	}
	return sel, nil
}

// bootOrder is the order bootloader_utility_load_boot_image tries apps
// in from start: backwards down to the factory app, then forwards through
// the remaining OTA slots, then the test app (the indexes without a
// partition are skipped).
func (s appSlots) bootOrder(start int) []int {
	var order []int
	for i := start; i >= FactoryIndex; i-- {
		if s.partition(i) != nil {
			order = append(order, i)
		}
	}
	for i := start + 1; i < s.count; i++ {
		if s.partition(i) != nil {
			order = append(order, i)
		}
	}
	if s.test != nil {
		order = append(order, TestAppIndex)
	}
	return order
}

// notBootable is log_invalid_app_partition's message for index.
func notBootable(index int) string {
	switch index {
	case FactoryIndex:
		return "Factory app partition is not bootable"
	case TestAppIndex:
		return "Factory test app partition is not bootable"
	}
	return fmt.Sprintf("OTA app partition slot %d is not bootable", index)
}

// BootApp is the app partition this flash boots on chip and the choice
// that led to it, as the second-stage bootloader finds it: SelectBoot,
// then the first partition in boot order whose image is valid. It reads
// the flash as it is now: for a running app that is the partition it runs
// from (esp_ota_get_running_partition), since the bootloader's choice only
// changes when otadata does, and an update that rewrites otadata restarts
// the chip.
func BootApp(fl *Flash, chip string) (layout.Partition, BootSelection, error) {
	pt, err := layout.ParseBinary(fl.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		return layout.Partition{}, BootSelection{}, fmt.Errorf("partition table at 0x%x: %w", layout.PartitionTableOffset, err)
	}
	s := slotsOf(pt)
	sel, err := SelectBoot(pt, otadataOf(fl, s))
	if err != nil {
		return layout.Partition{}, sel, err
	}
	if _, p, im, _ := s.tryBoot(fl, chip, sel.Index); im != nil {
		return p, sel, nil
	}
	return layout.Partition{}, sel, errors.New("no bootable app partition in the partition table")
}

// bootFailure is an app the bootloader could not boot and why, in
// "tag: message" form (see checkApp).
type bootFailure struct {
	index int
	p     layout.Partition
	why   string
}

// tryBoot checks the apps in boot order from start as esp_image does and
// returns the first valid one (im nil when none is) and the failures
// before it.
func (s appSlots) tryBoot(fl *Flash, chip string, start int) (int, layout.Partition, *image.Image, []bootFailure) {
	var failed []bootFailure
	for _, i := range s.bootOrder(start) {
		p := *s.partition(i)
		im, why := checkApp(fl.Read(p.Offset, int(p.Size)), chip, p)
		if why == "" {
			return i, p, im, failed
		}
		failed = append(failed, bootFailure{i, p, why})
	}
	return 0, layout.Partition{}, nil, failed
}

func otadataOf(fl *Flash, s appSlots) []byte {
	if s.otadata == nil {
		return nil
	}
	return fl.Read(s.otadata.Offset, int(min(s.otadata.Size, 2*OTADataSectorSize)))
}

// NextUpdatePartition is esp_ota_get_next_update_partition(running): the
// OTA partition after running in slot order, or the first OTA slot when
// running is the last one or not an OTA slot (the factory app).
func NextUpdatePartition(pt *layout.PartitionTable, running layout.Partition) (layout.Partition, error) {
	s := slotsOf(pt)
	var first *layout.Partition
	next := false
	for _, p := range s.ota {
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

// SetBootPartition is esp_ota_set_boot_partition for an OTA slot without
// the image check (esp_rewrite_ota_data): the inactive otadata sector is
// erased and gets the entry whose seq selects p; when no entry is valid,
// sector 0 gets seq slot+1. The write goes through fl with its timing.
func SetBootPartition(ctx context.Context, fl *Flash, pt *layout.PartitionTable, p layout.Partition) error {
	s := slotsOf(pt)
	if s.otadata == nil {
		return errors.New("the partition table has no otadata partition: esp_ota_set_boot_partition cannot record the new slot")
	}
	if p.Type != layout.TypeApp || p.SubType < layout.SubTypeOTA0 || p.SubType >= layout.SubTypeOTA0+16 {
		return fmt.Errorf("%s is not an OTA app partition", p.Label)
	}
	slot := int(p.SubType - layout.SubTypeOTA0)
	if slot >= s.count {
		return fmt.Errorf("%s is OTA slot %d but the table has %d OTA slots", p.Label, slot, s.count)
	}
	e, err := ParseOTAData(otadataOf(fl, s))
	if err != nil {
		return err
	}
	active := ActiveOTAData(e)
	sector, seq := 0, uint32(slot+1)
	if active >= 0 {
		cur := e[active].Seq
		if int((cur-1)%uint32(s.count)) == slot {
			sector, seq = active, cur
		} else {
			sector, seq = 1-active, nextSeq(cur, slot, s.count)
		}
	}
	entry := e[sector]
	entry.Seq, entry.State, entry.CRC = seq, OTAImgUndefined, OTASelectCRC(seq)
	return writeOTAData(ctx, fl, s.otadata.Offset+uint32(sector)*OTADataSectorSize, entry)
}

// writeOTAData erases one otadata sector and programs entry at its start
// (rewrite_ota_seq, write_otadata).
func writeOTAData(ctx context.Context, fl *Flash, addr uint32, entry OTASelectEntry) error {
	fl.EraseSector(addr)
	fl.Program(addr, entry.Marshal())
	return fl.WaitIdle(ctx)
}

// ValidateApp checks the app image in partition p as esp_image_verify
// does (what esp_ota_set_boot_partition runs before it writes otadata);
// the error is the bootloader's "tag: message".
func ValidateApp(fl *Flash, chip string, p layout.Partition) error {
	if _, why := checkApp(fl.Read(p.Offset, int(p.Size)), chip, p); why != "" {
		return errors.New(why)
	}
	return nil
}

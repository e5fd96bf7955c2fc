package layout

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ESP32 partition table constants (gen_esp32part.py, esp_flash_partitions.h).
const (
	// PartitionTableOffset is where the table lives unless the project
	// moved it (CONFIG_PARTITION_TABLE_OFFSET, gen_esp32part.py --offset).
	PartitionTableOffset = 0x8000
	// PartitionTableSize is the flash sector the table occupies; the first
	// partition may start right after it.
	PartitionTableSize = 0x1000
	// PartitionTableMaxLen is how much of that sector holds entries (the
	// rest is for a secure-boot signature); gen_esp32part.py pads to it.
	PartitionTableMaxLen = 0xC00
	// MaxPartitions is the most entries a table can hold with its MD5
	// entry and end marker in PartitionTableMaxLen bytes.
	MaxPartitions = PartitionTableMaxLen/entrySize - 2

	entrySize = 32
	labelLen  = 16
)

// Partition types and the subtypes this package names (gen_esp32part.py
// TYPES and SUBTYPES, esp_partition.h).
const (
	TypeApp            byte = 0x00
	TypeData           byte = 0x01
	TypeBootloader     byte = 0x02
	TypePartitionTable byte = 0x03

	SubTypeFactory  byte = 0x00 // app
	SubTypeOTA0     byte = 0x10 // app: ota_0 … ota_15 = 0x10 … 0x1F
	SubTypeTest     byte = 0x20 // app
	SubTypeOTAData  byte = 0x00 // data "ota"
	SubTypeNVS      byte = 0x02 // data
	SubTypeCoredump byte = 0x03 // data
	SubTypeFAT      byte = 0x81 // data
	SubTypeSPIFFS   byte = 0x82 // data
	SubTypeLittleFS byte = 0x83 // data
)

var typeNames = []struct {
	name string
	v    byte
}{{"app", TypeApp}, {"data", TypeData}, {"bootloader", TypeBootloader}, {"partition_table", TypePartitionTable}}

// subtypeNames maps a type to its subtype keywords, in gen_esp32part.py's
// order (the first name of a value is the one CSV output uses).
var subtypeNames = func() map[byte][]struct {
	name string
	v    byte
} {
	type kv = struct {
		name string
		v    byte
	}
	app := []kv{{"factory", 0x00}, {"test", 0x20}}
	for i := 0; i < 16; i++ {
		app = append(app, kv{fmt.Sprintf("ota_%d", i), 0x10 + byte(i)})
	}
	app = append(app, kv{"tee_0", 0x30}, kv{"tee_1", 0x31})
	return map[byte][]kv{
		TypeBootloader:     {{"primary", 0x00}, {"ota", 0x01}, {"recovery", 0x02}},
		TypePartitionTable: {{"primary", 0x00}, {"ota", 0x01}},
		TypeApp:            app,
		TypeData: {{"ota", 0x00}, {"phy", 0x01}, {"nvs", 0x02}, {"coredump", 0x03}, {"nvs_keys", 0x04},
			{"efuse", 0x05}, {"undefined", 0x06}, {"esphttpd", 0x80}, {"fat", 0x81}, {"spiffs", 0x82},
			{"littlefs", 0x83}, {"tee_ota", 0x90}},
	}
}()

// TypeName is the CSV keyword of a partition type, or "" if it has none.
func TypeName(t byte) string {
	for _, n := range typeNames {
		if n.v == t {
			return n.name
		}
	}
	return ""
}

// SubTypeName is the CSV keyword of a subtype of type t, or "".
func SubTypeName(t, sub byte) string {
	for _, n := range subtypeNames[t] {
		if n.v == sub {
			return n.name
		}
	}
	return ""
}

// Partition is one entry of an ESP32 partition table.
type Partition struct {
	Label         string
	Type, SubType byte
	// TypeName and SubTypeName are the CSV keywords for Type and SubType
	// ("data", "spiffs"), or the number as 0x… when there is no keyword.
	// ParseBinary and ParseCSV fill them; Binary and CSV ignore them.
	TypeName, SubTypeName string
	Offset, Size          uint32
	Encrypted, ReadOnly   bool
}

// Region returns the partition as a flash region named by its label.
func (p Partition) Region() Region { return Region{Name: p.Label, Offset: p.Offset, Size: p.Size} }

func (p Partition) end() uint64 { return uint64(p.Offset) + uint64(p.Size) }

func (p Partition) String() string {
	return fmt.Sprintf("%s (%s/%s at 0x%X, 0x%X bytes)", p.Label, typeText(p.Type), subtypeText(p.Type, p.SubType), p.Offset, p.Size)
}

func typeText(t byte) string {
	if n := TypeName(t); n != "" {
		return n
	}
	return fmt.Sprintf("0x%02x", t)
}

func subtypeText(t, sub byte) string {
	if n := SubTypeName(t, sub); n != "" {
		return n
	}
	return fmt.Sprintf("0x%02x", sub)
}

func (p *Partition) fillNames() {
	p.TypeName, p.SubTypeName = typeText(p.Type), subtypeText(p.Type, p.SubType)
}

// PartitionTable is an ESP32 partition table, entries in table order.
type PartitionTable struct {
	Partitions []Partition
}

// Flag bits of the binary entry (gen_esp32part.py FLAGS).
const (
	flagEncrypted = 1 << 0
	flagReadOnly  = 1 << 1
)

var (
	magicEntry = [2]byte{0xAA, 0x50}
	magicMD5   = [2]byte{0xEB, 0xEB}
)

// Parse reads a partition table in either form: binary (it starts with
// an entry's magic AA 50) or CSV text. The CSV is validated as ParseCSV
// does; a binary table is checked with Validate too (without a flash
// size), so overlapping or misaligned partitions are an error either way.
func Parse(b []byte) (*PartitionTable, error) {
	if len(b) >= 2 && b[0] == magicEntry[0] && b[1] == magicEntry[1] {
		t, err := ParseBinary(b)
		if err != nil {
			return nil, err
		}
		if err := t.Validate(0); err != nil {
			return nil, err
		}
		return t, nil
	}
	return ParseCSV(bytes.NewReader(b))
}

// ParseBinary reads a binary partition table as the bootloader does
// (esp_partition_table_verify) and gen_esp32part.py reads it: 32-byte
// entries (magic AA 50, type, subtype, offset and size little-endian,
// 16-byte NUL-padded label, flags word) up to the end marker (magic
// FF FF, type FF, subtype FF), within the first 0xC00 bytes. An MD5 entry
// (magic EB EB, 14 bytes FF, MD5 of every byte before it) is checked when
// present; a mismatch wraps ErrBadMD5. b may be longer than the table
// (e.g. the whole 4 KiB sector read back from flash). Flag bits other than
// encrypted/readonly are ignored. Entries are not checked against each
// other or the flash size: call Validate.
func ParseBinary(b []byte) (*PartitionTable, error) {
	t := &PartitionTable{}
	md5Seen := false
	for i := 0; ; i++ {
		off := i * entrySize
		if off >= PartitionTableMaxLen {
			return nil, fmt.Errorf("partition table has no end marker in its first 0x%X bytes", PartitionTableMaxLen)
		}
		if off+entrySize > len(b) {
			return nil, fmt.Errorf("partition table is truncated: %d bytes end inside entry %d or before its end marker", len(b), i)
		}
		e := b[off : off+entrySize]
		switch {
		case e[0] == magicEntry[0] && e[1] == magicEntry[1]:
			p, err := decodeEntry(e)
			if err != nil {
				return nil, fmt.Errorf("partition table entry %d (at byte 0x%X): %w", i, off, err)
			}
			t.Partitions = append(t.Partitions, p)
		case e[0] == magicMD5[0] && e[1] == magicMD5[1]:
			if md5Seen {
				return nil, fmt.Errorf("partition table entry %d (at byte 0x%X) is a second MD5 entry: only one is allowed", i, off)
			}
			md5Seen = true
			sum := md5.Sum(b[:off])
			if !bytes.Equal(sum[:], e[16:32]) {
				return nil, fmt.Errorf("%w: MD5 entry %d (at byte 0x%X) holds %x but the %d entries before it hash to %x: the table is corrupt",
					ErrBadMD5, i, off, e[16:32], i, sum)
			}
		case e[0] == 0xFF && e[1] == 0xFF && e[2] == 0xFF && e[3] == 0xFF:
			if i == 0 {
				return nil, fmt.Errorf("partition table is empty (starts with the end marker): the flash there looks erased")
			}
			return t, nil
		default:
			return nil, fmt.Errorf("partition table entry %d (at byte 0x%X) has invalid magic %02X %02X (want AA 50, EB EB for the MD5 entry, or FF FF at the end)",
				i, off, e[0], e[1])
		}
	}
}

func decodeEntry(e []byte) (Partition, error) {
	p := Partition{
		Type:    e[2],
		SubType: e[3],
		Offset:  binary.LittleEndian.Uint32(e[4:8]),
		Size:    binary.LittleEndian.Uint32(e[8:12]),
	}
	label := e[12 : 12+labelLen]
	if i := bytes.IndexByte(label, 0); i >= 0 {
		label = label[:i]
	}
	if !utf8.Valid(label) {
		return Partition{}, fmt.Errorf("label %q is not UTF-8", label)
	}
	p.Label = string(label)
	flags := binary.LittleEndian.Uint32(e[28:32])
	p.Encrypted = flags&flagEncrypted != 0
	p.ReadOnly = flags&flagReadOnly != 0
	p.fillNames()
	return p, nil
}

// Binary encodes the table as gen_esp32part.py does: the entries, the MD5
// entry over them, then 0xFF up to 0xC00 bytes (which also supplies the
// end marker). Write it at PartitionTableOffset.
func (t *PartitionTable) Binary() ([]byte, error) {
	if len(t.Partitions) > MaxPartitions {
		return nil, fmt.Errorf("partition table has %d entries: at most %d fit in 0x%X bytes with the MD5 entry", len(t.Partitions), MaxPartitions, PartitionTableMaxLen)
	}
	out := make([]byte, 0, PartitionTableMaxLen)
	for i, p := range t.Partitions {
		if err := storableLabel(p.Label); err != nil {
			return nil, fmt.Errorf("partition %d: %w", i, err)
		}
		var e [entrySize]byte
		e[0], e[1], e[2], e[3] = magicEntry[0], magicEntry[1], p.Type, p.SubType
		binary.LittleEndian.PutUint32(e[4:], p.Offset)
		binary.LittleEndian.PutUint32(e[8:], p.Size)
		copy(e[12:12+labelLen], p.Label)
		var flags uint32
		if p.Encrypted {
			flags |= flagEncrypted
		}
		if p.ReadOnly {
			flags |= flagReadOnly
		}
		binary.LittleEndian.PutUint32(e[28:], flags)
		out = append(out, e[:]...)
	}
	sum := md5.Sum(out)
	out = append(out, magicMD5[0], magicMD5[1])
	out = append(out, bytes.Repeat([]byte{0xFF}, 14)...)
	out = append(out, sum[:]...)
	out = append(out, bytes.Repeat([]byte{0xFF}, PartitionTableMaxLen-len(out))...)
	return out, nil
}

// storableLabel: labels are stored in 16 bytes, and a NUL would end them
// early; ParseBinary only accepts UTF-8.
func storableLabel(l string) error {
	if len(l) > labelLen {
		return fmt.Errorf("label %q is %d bytes long: at most %d fit", l, len(l), labelLen)
	}
	if strings.IndexByte(l, 0) >= 0 {
		return fmt.Errorf("label %q contains a NUL byte", l)
	}
	if !utf8.ValidString(l) {
		return fmt.Errorf("label %q is not UTF-8", l)
	}
	return nil
}

// checkLabel also refuses control characters, which no CSV can carry.
func checkLabel(l string) error {
	if err := storableLabel(l); err != nil {
		return err
	}
	for _, r := range l {
		if r < 0x20 || r == 0x7F {
			return fmt.Errorf("label %q contains a control character", l)
		}
	}
	return nil
}

// FS returns the filesystem partition: the one data partition of subtype
// spiffs (0x82, which the Arduino core also uses for LittleFS images) or
// littlefs (0x83). Several candidates are an error naming them; pick one
// with ByLabel.
func (t *PartitionTable) FS() (Partition, error) {
	var found []Partition
	for _, p := range t.Partitions {
		if p.Type == TypeData && (p.SubType == SubTypeSPIFFS || p.SubType == SubTypeLittleFS) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var labels []string
		for _, p := range t.Partitions {
			labels = append(labels, p.String())
		}
		return Partition{}, fmt.Errorf("the partition table has no data/spiffs or data/littlefs partition (it has %s): use a table with a filesystem, e.g. the default one",
			orNone(strings.Join(labels, ", ")))
	}
	var labels []string
	for _, p := range found {
		labels = append(labels, p.String())
	}
	return Partition{}, fmt.Errorf("the partition table has %d filesystem partitions (%s): name the one to use by its label", len(found), strings.Join(labels, ", "))
}

func orNone(s string) string {
	if s == "" {
		return "no partitions"
	}
	return s
}

// ByLabel finds a partition by its label (exact match).
func (t *PartitionTable) ByLabel(label string) (Partition, error) {
	var labels []string
	for _, p := range t.Partitions {
		if p.Label == label {
			return p, nil
		}
		labels = append(labels, p.Label)
	}
	return Partition{}, fmt.Errorf("no partition labelled %q: the table has %s", label, orNone(strings.Join(labels, ", ")))
}

// Validate checks the table as gen_esp32part.py's verify does, and
// against the flash size (0 = unknown, not checked): every label unique,
// non-empty and storable; offsets aligned (0x10000 for app partitions,
// 0x1000 for the rest); app sizes whole 4 KiB sectors; nothing below
// 0x9000 (the bootloader and this table's sector) except the table's own
// entries; no overlaps; at most one otadata partition, of 0x2000 bytes;
// otadata and coredump never read-only; read-write NVS at least 0x3000
// bytes; everything inside the flash.
func (t *PartitionTable) Validate(flashSize int) error {
	return t.validate(flashSize, nil)
}

// validate reports problems of partition i as "where(i)…" (ParseCSV
// passes line numbers).
func (t *PartitionTable) validate(flashSize int, lines []int) error {
	where := func(i int) string {
		p := t.Partitions[i]
		if lines != nil {
			return fmt.Sprintf("line %d: partition %q", lines[i], p.Label)
		}
		return fmt.Sprintf("partition %q", p.Label)
	}
	if len(t.Partitions) == 0 {
		return fmt.Errorf("the partition table is empty")
	}
	if len(t.Partitions) > MaxPartitions {
		return fmt.Errorf("the partition table has %d partitions: at most %d fit", len(t.Partitions), MaxPartitions)
	}
	seen := map[string]int{}
	otadata := -1
	for i, p := range t.Partitions {
		if p.Label == "" {
			return fmt.Errorf("%s has an empty label", where(i))
		}
		if err := checkLabel(p.Label); err != nil {
			return fmt.Errorf("%s: %w", where(i), err)
		}
		if strings.ContainsRune(p.Label, ',') || strings.HasPrefix(p.Label, "#") || strings.TrimSpace(p.Label) != p.Label || envVar.MatchString(p.Label) {
			return fmt.Errorf("%s: the label cannot be written to a CSV table (comma, leading '#', surrounding spaces or $NAME)", where(i))
		}
		if j, dup := seen[p.Label]; dup {
			if lines != nil {
				return fmt.Errorf("line %d: label %q is already used on line %d: labels must be unique", lines[i], p.Label, lines[j])
			}
			return fmt.Errorf("partitions %d and %d are both labelled %q: labels must be unique", j, i, p.Label)
		}
		seen[p.Label] = i
		if p.Size == 0 {
			return fmt.Errorf("%s has size 0", where(i))
		}
		if a := offsetAlign(p.Type); p.Offset%a != 0 {
			return fmt.Errorf("%s: offset 0x%X is not aligned to 0x%X (%s partitions must start on a 0x%X boundary): use 0x%X",
				where(i), p.Offset, a, typeText(p.Type), a, alignUp(uint64(p.Offset), uint64(a)))
		}
		if p.Type == TypeApp && p.Size%0x1000 != 0 {
			return fmt.Errorf("%s: app size 0x%X is not a multiple of 0x1000: use 0x%X", where(i), p.Size, alignUp(uint64(p.Size), 0x1000))
		}
		if p.end() > 1<<32 {
			return fmt.Errorf("%s: ends at 0x%X, beyond 4 GiB", where(i), p.end())
		}
		if p.Offset < PartitionTableOffset+PartitionTableSize && !isPrimaryTableOrBootloader(p) {
			return fmt.Errorf("%s: offset 0x%X is below 0x%X (the bootloader and the partition table at 0x%X come first)",
				where(i), p.Offset, PartitionTableOffset+PartitionTableSize, PartitionTableOffset)
		}
		if flashSize > 0 && p.end() > uint64(flashSize) {
			return fmt.Errorf("%s: ends at 0x%X, beyond the end of the %d-byte flash (0x%X)", where(i), p.end(), flashSize, flashSize)
		}
		if p.Type == TypeData && (p.SubType == SubTypeOTAData || p.SubType == SubTypeCoredump) && p.ReadOnly {
			return fmt.Errorf("%s: %s partitions are always read-write: drop the readonly flag", where(i), subtypeText(p.Type, p.SubType))
		}
		if p.Type == TypeData && p.SubType == SubTypeNVS && p.Size < 0x3000 && !p.ReadOnly {
			return fmt.Errorf("%s: a read-write NVS partition needs at least 0x3000 bytes (it has 0x%X): enlarge it or flag it readonly", where(i), p.Size)
		}
		if p.Type == TypeData && p.SubType == SubTypeOTAData {
			if otadata >= 0 {
				return fmt.Errorf("%s: a second otadata (data/ota) partition; only one is allowed", where(i))
			}
			otadata = i
			if p.Size != 0x2000 {
				return fmt.Errorf("%s: otadata partitions must be 0x2000 bytes (this one is 0x%X)", where(i), p.Size)
			}
		}
	}
	order := make([]int, len(t.Partitions))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return t.Partitions[order[a]].Offset < t.Partitions[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := t.Partitions[order[k-1]], t.Partitions[order[k]]
		if uint64(cur.Offset) < prev.end() {
			return fmt.Errorf("%s at 0x%X overlaps %s (0x%X..0x%X)", where(order[k]), cur.Offset, where(order[k-1]), prev.Offset, prev.end()-1)
		}
	}
	return nil
}

func isPrimaryTableOrBootloader(p Partition) bool {
	return (p.Type == TypeBootloader || p.Type == TypePartitionTable) && p.SubType == 0
}

// offsetAlign is gen_esp32part.py's ALIGNMENT: app 0x10000, else 0x1000.
func offsetAlign(t byte) uint32 {
	if t == TypeApp {
		return 0x10000
	}
	return 0x1000
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) / a * a }

// Table lists the partitions for display.
func (t *PartitionTable) Table() Table {
	out := Table{
		Title:  "Partition table",
		Header: []string{"Label", "Type", "SubType", "Offset", "Size", "Flags"},
	}
	for _, p := range t.Partitions {
		out.Rows = append(out.Rows, []string{p.Label, typeText(p.Type), subtypeText(p.Type, p.SubType),
			fmt.Sprintf("0x%X", p.Offset), hexSize(p.Size), p.flags()})
	}
	return out
}

func (p Partition) flags() string {
	var f []string
	if p.Encrypted {
		f = append(f, "encrypted")
	}
	if p.ReadOnly {
		f = append(f, "readonly")
	}
	return strings.Join(f, ":")
}

// BootApp is the app partition a bootloader boots when the OTA data
// partition is erased or absent, as after a fresh flash (ESP-IDF
// bootloader_utility_get_selected_boot_partition): factory if the table
// has one, else the lowest OTA slot, else test.
func (t *PartitionTable) BootApp() (Partition, error) {
	rank := func(p Partition) int {
		switch {
		case p.Type != TypeApp:
			return -1
		case p.SubType == SubTypeFactory:
			return 0
		case p.SubType >= SubTypeOTA0 && p.SubType < SubTypeOTA0+16:
			return 1 + int(p.SubType-SubTypeOTA0)
		case p.SubType == SubTypeTest:
			return 100
		}
		return -1
	}
	best := -1
	for i, p := range t.Partitions {
		if r := rank(p); r >= 0 && (best < 0 || r < rank(t.Partitions[best])) {
			best = i
		}
	}
	if best < 0 {
		return Partition{}, fmt.Errorf("the partition table has no factory, OTA or test app partition: a bootloader has nothing to boot")
	}
	return t.Partitions[best], nil
}

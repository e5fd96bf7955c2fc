package image

import (
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher/target"
)

// Chip names as the rest of iotbench spells them (esptool's CHIP_NAME).
const (
	ChipESP8266  = "ESP8266"
	ChipESP32    = "ESP32"
	ChipESP32S2  = "ESP32-S2"
	ChipESP32S3  = "ESP32-S3"
	ChipESP32C3  = "ESP32-C3"
	ChipESP32C2  = "ESP32-C2"
	ChipESP32C6  = "ESP32-C6"
	ChipESP32H2  = "ESP32-H2"
	ChipESP32C5  = "ESP32-C5"
	ChipESP32C61 = "ESP32-C61"
	ChipESP32P4  = "ESP32-P4"
)

// nameCode is one entry of an esptool FLASH_SIZES / FLASH_FREQUENCY table.
// Tables are slices, not maps, because esptool's dict order matters twice:
// error messages list the names in that order, and a code that two names
// share (ESP32-C6 "80m" and "40m" are both 0) maps back to the first name,
// as esptool's image_info does.
type nameCode struct {
	name string
	code byte // the nibble, not shifted
}

// memRange is one line of an esptool MEMORY_MAP: [start, end) and its name.
type memRange struct {
	start, end uint32
	name       string
}

type chipInfo struct {
	name string
	// Filled from flasher/target, where chip IDs and bootloader offsets
	// are defined once.
	hasID     bool   // false only for the ESP8266, whose images have no extended header
	imageID   uint16 // extended header bytes 4–5 (esp-serial-protocol.md §14.4)
	blOffset  uint32 // esp-serial-protocol.md §14.5 condition 2
	sizes     []nameCode
	freqs     []nameCode
	memMap    []memRange
	flashMaps []memRange // address windows the cache maps onto flash (IROM/DROM_MAP_*)
}

// esp-serial-protocol.md §14.2; esptool targets/esp8266.py FLASH_SIZES.
var esp8266Sizes = []nameCode{
	{"512KB", 0x0}, {"256KB", 0x1}, {"1MB", 0x2}, {"2MB", 0x3}, {"4MB", 0x4},
	{"2MB-c1", 0x5}, {"4MB-c1", 0x6}, {"8MB", 0x8}, {"16MB", 0x9},
}

// esp-serial-protocol.md §14.2. The doc notes Espressif's docs list ≥ 32MB
// only for S2/S3/P4, but every ESP32-family target in esptool 4.12 inherits
// this one table from ESP32ROM and accepts all of it, so we do too.
var esp32Sizes = []nameCode{
	{"1MB", 0x0}, {"2MB", 0x1}, {"4MB", 0x2}, {"8MB", 0x3},
	{"16MB", 0x4}, {"32MB", 0x5}, {"64MB", 0x6}, {"128MB", 0x7},
}

// esp-serial-protocol.md §14.2 frequency table. The ESP32-P4 is not in the
// doc's table; esptool's ESP32P4ROM inherits ESP32ROM's FLASH_FREQUENCY.
var (
	freqs40 = []nameCode{{"80m", 0xF}, {"40m", 0x0}, {"26m", 0x1}, {"20m", 0x2}}
	freqsC2 = []nameCode{{"60m", 0xF}, {"30m", 0x0}, {"20m", 0x1}, {"15m", 0x2}}
	freqsH2 = []nameCode{{"48m", 0xF}, {"24m", 0x0}, {"16m", 0x1}, {"12m", 0x2}}
	// esptool writes 0 for "80m" on the C6 to work around a wrong MSPI
	// divider in its ROM; "80m" stays first so code 0 reads back as 80m,
	// which is what esptool's image_info prints.
	freqsC6 = []nameCode{{"80m", 0x0}, {"40m", 0x0}, {"20m", 0x2}}
	freqsC5 = []nameCode{{"80m", 0xF}, {"40m", 0x0}, {"20m", 0x2}}
)

// Memory maps from esptool targets/*.py MEMORY_MAP; they only name the
// memory a segment's load address falls in (image_info's "Memory types").
var (
	mapC6 = []memRange{
		{0x00000000, 0x00010000, "PADDING"},
		{0x42000000, 0x43000000, "DROM"},
		{0x40800000, 0x40880000, "DRAM"},
		{0x40800000, 0x40880000, "BYTE_ACCESSIBLE"},
		{0x4004AC00, 0x40050000, "DROM_MASK"},
		{0x40000000, 0x4004AC00, "IROM_MASK"},
		{0x42000000, 0x43000000, "IROM"},
		{0x40800000, 0x40880000, "IRAM"},
		{0x50000000, 0x50004000, "RTC_IRAM"},
		{0x50000000, 0x50004000, "RTC_DRAM"},
		{0x600FE000, 0x60100000, "MEM_INTERNAL2"},
	}
	mapC5 = []memRange{
		{0x00000000, 0x00010000, "PADDING"},
		{0x42000000, 0x44000000, "DROM"},
		{0x40800000, 0x40860000, "DRAM"},
		{0x40800000, 0x40860000, "BYTE_ACCESSIBLE"},
		{0x4003A000, 0x40040000, "DROM_MASK"},
		{0x40000000, 0x4003A000, "IROM_MASK"},
		{0x42000000, 0x44000000, "IROM"},
		{0x40800000, 0x40860000, "IRAM"},
		{0x50000000, 0x50004000, "RTC_IRAM"},
		{0x50000000, 0x50004000, "RTC_DRAM"},
		{0x600FE000, 0x60100000, "MEM_INTERNAL2"},
	}
	mapC61 = []memRange{
		{0x00000000, 0x00010000, "PADDING"},
		{0x42000000, 0x44000000, "DROM"},
		{0x40800000, 0x40860000, "DRAM"},
		{0x40800000, 0x40860000, "BYTE_ACCESSIBLE"},
		{0x4004AC00, 0x40050000, "DROM_MASK"},
		{0x40000000, 0x4004AC00, "IROM_MASK"},
		{0x42000000, 0x44000000, "IROM"},
		{0x40800000, 0x40860000, "IRAM"},
		{0x50000000, 0x50004000, "RTC_IRAM"},
		{0x50000000, 0x50004000, "RTC_DRAM"},
		{0x600FE000, 0x60100000, "MEM_INTERNAL2"},
	}
	// Flash windows shared by C6, H2 and C61 (they inherit ESP32C6ROM's
	// IROM_MAP/DROM_MAP in esptool).
	flashC6 = []memRange{{0x42000000, 0x42800000, "IROM"}, {0x42800000, 0x43000000, "DROM"}}
)

// The ESP8266's flash-mapped window (esptool loader.py IROM_MAP_START/END,
// used by is_irom_addr): segments loaded here are irom0 code run from
// flash, everything else is copied to RAM by the ROM.
const (
	esp8266IROMStart = 0x40200000
	esp8266IROMEnd   = 0x40300000
)

var chipTable = []chipInfo{
	{
		name: ChipESP8266, sizes: esp8266Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x3FF00000, 0x3FF00010, "DPORT"},
			{0x3FFE8000, 0x40000000, "DRAM"},
			{0x40100000, 0x40108000, "IRAM"},
			{0x40201010, 0x402E1010, "IROM"},
		},
		flashMaps: []memRange{{esp8266IROMStart, esp8266IROMEnd, "IROM"}},
	},
	{
		name: ChipESP32, sizes: esp32Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x3F400000, 0x3F800000, "DROM"},
			{0x3F800000, 0x3FC00000, "EXTRAM_DATA"},
			{0x3FF80000, 0x3FF82000, "RTC_DRAM"},
			{0x3FF90000, 0x40000000, "BYTE_ACCESSIBLE"},
			{0x3FFAE000, 0x40000000, "DRAM"},
			{0x3FFE0000, 0x3FFFFFFC, "DIRAM_DRAM"},
			{0x40000000, 0x40070000, "IROM"},
			{0x40070000, 0x40078000, "CACHE_PRO"},
			{0x40078000, 0x40080000, "CACHE_APP"},
			{0x40080000, 0x400A0000, "IRAM"},
			{0x400A0000, 0x400BFFFC, "DIRAM_IRAM"},
			{0x400C0000, 0x400C2000, "RTC_IRAM"},
			{0x400D0000, 0x40400000, "IROM"},
			{0x50000000, 0x50002000, "RTC_DATA"},
		},
		flashMaps: []memRange{{0x400D0000, 0x40400000, "IROM"}, {0x3F400000, 0x3F800000, "DROM"}},
	},
	{
		name: ChipESP32S2, sizes: esp32Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x3F000000, 0x3FF80000, "DROM"},
			{0x3F500000, 0x3FF80000, "EXTRAM_DATA"},
			{0x3FF9E000, 0x3FFA0000, "RTC_DRAM"},
			{0x3FF9E000, 0x40000000, "BYTE_ACCESSIBLE"},
			{0x3FF9E000, 0x40072000, "MEM_INTERNAL"},
			{0x3FFB0000, 0x40000000, "DRAM"},
			{0x40000000, 0x4001A100, "IROM_MASK"},
			{0x40020000, 0x40070000, "IRAM"},
			{0x40070000, 0x40072000, "RTC_IRAM"},
			{0x40080000, 0x40800000, "IROM"},
			{0x50000000, 0x50002000, "RTC_DATA"},
		},
		flashMaps: []memRange{{0x40080000, 0x40B80000, "IROM"}, {0x3F000000, 0x3F3F0000, "DROM"}},
	},
	{
		name: ChipESP32S3, sizes: esp32Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x3C000000, 0x3D000000, "DROM"},
			{0x3D000000, 0x3E000000, "EXTRAM_DATA"},
			{0x600FE000, 0x60100000, "RTC_DRAM"},
			{0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
			{0x3FC88000, 0x403E2000, "MEM_INTERNAL"},
			{0x3FC88000, 0x3FD00000, "DRAM"},
			{0x40000000, 0x4001A100, "IROM_MASK"},
			{0x40370000, 0x403E0000, "IRAM"},
			{0x600FE000, 0x60100000, "RTC_IRAM"},
			{0x42000000, 0x42800000, "IROM"},
			{0x50000000, 0x50002000, "RTC_DATA"},
		},
		flashMaps: []memRange{{0x42000000, 0x44000000, "IROM"}, {0x3C000000, 0x3E000000, "DROM"}},
	},
	{
		name: ChipESP32C3, sizes: esp32Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x3C000000, 0x3C800000, "DROM"},
			{0x3FC80000, 0x3FCE0000, "DRAM"},
			{0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
			{0x3FF00000, 0x3FF20000, "DROM_MASK"},
			{0x40000000, 0x40060000, "IROM_MASK"},
			{0x42000000, 0x42800000, "IROM"},
			{0x4037C000, 0x403E0000, "IRAM"},
			{0x50000000, 0x50002000, "RTC_IRAM"},
			{0x50000000, 0x50002000, "RTC_DRAM"},
			{0x600FE000, 0x60100000, "MEM_INTERNAL2"},
		},
		flashMaps: []memRange{{0x42000000, 0x42800000, "IROM"}, {0x3C000000, 0x3C800000, "DROM"}},
	},
	{
		name: ChipESP32C2, sizes: esp32Sizes, freqs: freqsC2,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x3C000000, 0x3C400000, "DROM"},
			{0x3FCA0000, 0x3FCE0000, "DRAM"},
			{0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
			{0x3FF00000, 0x3FF50000, "DROM_MASK"},
			{0x40000000, 0x40090000, "IROM_MASK"},
			{0x42000000, 0x42400000, "IROM"},
			{0x4037C000, 0x403C0000, "IRAM"},
		},
		flashMaps: []memRange{{0x42000000, 0x42400000, "IROM"}, {0x3C000000, 0x3C400000, "DROM"}},
	},
	{
		name: ChipESP32C6, sizes: esp32Sizes, freqs: freqsC6,
		memMap: mapC6, flashMaps: flashC6,
	},
	{
		// esptool's ESP32H2ROM inherits the C6 memory map and flash windows.
		name: ChipESP32H2, sizes: esp32Sizes, freqs: freqsH2,
		memMap: mapC6, flashMaps: flashC6,
	},
	{
		name: ChipESP32C5, sizes: esp32Sizes, freqs: freqsC5,
		memMap: mapC5, flashMaps: []memRange{{0x42000000, 0x44000000, "IROM"}},
	},
	{
		name: ChipESP32C61, sizes: esp32Sizes, freqs: freqsC5,
		memMap: mapC61, flashMaps: flashC6,
	},
	{
		name: ChipESP32P4, sizes: esp32Sizes, freqs: freqs40,
		memMap: []memRange{
			{0x00000000, 0x00010000, "PADDING"},
			{0x40000000, 0x4C000000, "DROM"},
			{0x4FF00000, 0x4FFA0000, "DRAM"},
			{0x4FF00000, 0x4FFA0000, "BYTE_ACCESSIBLE"},
			{0x4FC00000, 0x4FC20000, "DROM_MASK"},
			{0x4FC00000, 0x4FC20000, "IROM_MASK"},
			{0x40000000, 0x4C000000, "IROM"},
			{0x4FF00000, 0x4FFA0000, "IRAM"},
			{0x50108000, 0x50110000, "RTC_IRAM"},
			{0x50108000, 0x50110000, "RTC_DRAM"},
			{0x600FE000, 0x60100000, "MEM_INTERNAL2"},
		},
		flashMaps: []memRange{{0x40000000, 0x4C000000, "IROM"}},
	},
}

// flashModes is esptool's FLASH_MODES (esp-serial-protocol.md §14.1).
var flashModes = []nameCode{{"qio", 0}, {"qout", 1}, {"dio", 2}, {"dout", 3}}

// normChip folds the spellings people type ("esp32-c3", "ESP32C3",
// "esp32c3") onto one key, like esptool's select_image_class.
func normChip(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("-", "", "_", "", "(", "", ")", "").Replace(s)
}

func lookupChip(chip string) (*chipInfo, error) {
	key := normChip(chip)
	for i := range chipTable {
		if normChip(chipTable[i].name) == key {
			return &chipTable[i], nil
		}
	}
	return nil, fmt.Errorf("unknown chip %q: supported chips are %s", chip, strings.Join(Chips(), ", "))
}

// Chips returns the supported chip names in a stable order.
func Chips() []string {
	out := make([]string, len(chipTable))
	for i, c := range chipTable {
		out[i] = c.name
	}
	return out
}

// CanonicalChip maps any accepted spelling ("esp32c3", "Esp32-C3") to the
// exact name used across iotbench ("ESP32-C3").
func CanonicalChip(chip string) (string, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return "", err
	}
	return c.name, nil
}

// IsESP8266 reports whether chip names the ESP8266 (the one chip whose
// images have no extended header). Unknown names report false.
func IsESP8266(chip string) bool {
	return normChip(chip) == normChip(ChipESP8266)
}

// ImageChipID returns the chip ID an ESP32-family image carries in extended
// header bytes 4–5 (esp-serial-protocol.md §14.4). The ESP8266 has none.
func ImageChipID(chip string) (uint16, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return 0, err
	}
	if !c.hasID {
		return 0, fmt.Errorf("%s images have no extended header and so no chip ID", c.name)
	}
	return c.imageID, nil
}

// ChipForImageID is the reverse of ImageChipID, for naming the chip an image
// was built for.
func ChipForImageID(id uint16) (string, bool) {
	for _, c := range chipTable {
		if c.hasID && c.imageID == id {
			return c.name, true
		}
	}
	return "", false
}

// BootloaderOffset is the flash address the ROM boots from; esptool only
// rewrites flash parameters in data written exactly there
// (esp-serial-protocol.md §14.5 condition 2).
func BootloaderOffset(chip string) (uint32, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return 0, err
	}
	return c.blOffset, nil
}

func names(t []nameCode) []string {
	out := make([]string, len(t))
	for i, nc := range t {
		out[i] = nc.name
	}
	return out
}

func codeOf(t []nameCode, name string) (byte, string, bool) {
	for _, nc := range t {
		if strings.EqualFold(nc.name, strings.TrimSpace(name)) {
			return nc.code, nc.name, true
		}
	}
	return 0, "", false
}

func nameOf(t []nameCode, code byte) (string, bool) {
	for _, nc := range t {
		if nc.code == code {
			return nc.name, true
		}
	}
	return "", false
}

// FlashModeNames lists the flash mode names in code order.
func FlashModeNames() []string { return names(flashModes) }

// FlashModeCode returns the header byte 2 value for a mode name (qio, qout,
// dio, dout; any case). The codes are the same on every chip.
func FlashModeCode(name string) (byte, error) {
	if c, _, ok := codeOf(flashModes, name); ok {
		return c, nil
	}
	return 0, fmt.Errorf("unknown flash mode %q: valid modes are %s", name, strings.Join(FlashModeNames(), ", "))
}

// FlashModeName returns the name for header byte 2.
func FlashModeName(code byte) (string, error) {
	if n, ok := nameOf(flashModes, code); ok {
		return n, nil
	}
	return "", fmt.Errorf("invalid flash mode code 0x%02x: valid codes are 0 (qio) to 3 (dout)", code)
}

// FlashSizeNames lists the flash size names the chip accepts, in esptool's order.
func FlashSizeNames(chip string) ([]string, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, err
	}
	return names(c.sizes), nil
}

// FlashSizeCode returns the size code (the high nibble of header byte 3,
// unshifted) for a size name such as "4MB" (any case).
func FlashSizeCode(chip, name string) (byte, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return 0, err
	}
	if code, _, ok := codeOf(c.sizes, name); ok {
		return code, nil
	}
	return 0, fmt.Errorf("flash size %q is not supported by %s: supported sizes are %s",
		name, c.name, strings.Join(names(c.sizes), ", "))
}

// FlashSizeName returns the size name for a size code (the high nibble of
// header byte 3, unshifted).
func FlashSizeName(chip string, code byte) (string, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return "", err
	}
	if n, ok := nameOf(c.sizes, code); ok {
		return n, nil
	}
	return "", fmt.Errorf("invalid %s flash size code 0x%x", c.name, code)
}

// FlashFreqNames lists the flash frequency names the chip accepts, in esptool's order.
func FlashFreqNames(chip string) ([]string, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, err
	}
	return names(c.freqs), nil
}

// FlashFreqCode returns the frequency code (the low nibble of header byte
// 3) for a frequency name such as "40m" (any case).
func FlashFreqCode(chip, name string) (byte, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return 0, err
	}
	if code, _, ok := codeOf(c.freqs, name); ok {
		return code, nil
	}
	return 0, fmt.Errorf("flash frequency %q is not supported by %s: supported frequencies are %s",
		name, c.name, strings.Join(names(c.freqs), ", "))
}

// FlashFreqName returns the frequency name for a code (the low nibble of
// header byte 3). On the ESP32-C6 code 0 means both 80m and 40m
// (esp-serial-protocol.md §14.2); it reads back as "80m", as in esptool.
func FlashFreqName(chip string, code byte) (string, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return "", err
	}
	if n, ok := nameOf(c.freqs, code); ok {
		return n, nil
	}
	return "", fmt.Errorf("invalid %s flash frequency code 0x%x", c.name, code)
}

// allSizes is esptool's --flash_size choice list (esptool __init__.py) with
// each size in bytes; "-c1" names an ESP8266 layout variant, not a size.
var allSizes = []struct {
	name  string
	bytes uint32
}{
	{"256KB", 256 << 10}, {"512KB", 512 << 10}, {"1MB", 1 << 20}, {"2MB", 2 << 20},
	{"2MB-c1", 2 << 20}, {"4MB", 4 << 20}, {"4MB-c1", 4 << 20}, {"8MB", 8 << 20},
	{"16MB", 16 << 20}, {"32MB", 32 << 20}, {"64MB", 64 << 20}, {"128MB", 128 << 20},
}

// FlashSizeBytes converts a flash size name of any chip to bytes.
func FlashSizeBytes(name string) (uint32, error) {
	valid := make([]string, len(allSizes))
	for i, s := range allSizes {
		if strings.EqualFold(s.name, strings.TrimSpace(name)) {
			return s.bytes, nil
		}
		valid[i] = s.name
	}
	return 0, fmt.Errorf("unknown flash size %q: valid sizes are %s", name, strings.Join(valid, ", "))
}

// memoryTypes names the memory regions containing addr, like esptool's
// ImageSegment.get_memory_type.
func (c *chipInfo) memoryTypes(addr uint32) []string {
	var out []string
	for _, r := range c.memMap {
		if r.start <= addr && addr < r.end {
			out = append(out, r.name)
		}
	}
	return out
}

// flashMapped reports whether addr lies in a window the cache maps onto
// flash (ESP8266 irom0, ESP32-family IROM/DROM): such segments run from
// flash in place instead of being copied to RAM by the loader.
func (c *chipInfo) flashMapped(addr uint32) bool {
	for _, r := range c.flashMaps {
		if r.start <= addr && addr < r.end {
			return true
		}
	}
	return false
}

func init() {
	for i := range chipTable {
		t, err := target.ByName(chipTable[i].name)
		if err != nil {
			panic("flasher/image: chip table out of step with flasher/target: " + err.Error())
		}
		chipTable[i].hasID = t.ImageID >= 0
		if t.ImageID >= 0 {
			chipTable[i].imageID = uint16(t.ImageID)
		}
		chipTable[i].blOffset = t.BootloaderOffset
	}
}

// RAMWindows lists the [start, end) address ranges of a chip's internal
// RAM that a ROM loader can download code into with MEM_BEGIN/MEM_DATA:
// the IRAM, DRAM and DIRAM_* entries of esptool's MEMORY_MAP.
func RAMWindows(chip string) ([][2]uint32, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, err
	}
	var out [][2]uint32
	for _, r := range c.memMap {
		switch r.name {
		case "IRAM", "DRAM", "DIRAM_IRAM", "DIRAM_DRAM":
			out = append(out, [2]uint32{r.start, r.end})
		}
	}
	return out, nil
}

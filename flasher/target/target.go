// Package target owns the per-chip constants of the ESP family that the
// flasher and the virtual board both need: detection magic values and chip
// IDs, register addresses (efuses, UART divider, SPI flash block), status
// widths, block sizes and bootloader offsets. Values come from
// esp-serial-protocol.md §3.3, §7.1, §8, §9, §12 and §14.5 (which carry
// esptool v4.12's tables over); each is defined here once.
package target

import (
	"fmt"
	"math"
	"strings"
)

// Chip describes one member of the ESP family.
type Chip struct {
	Name string
	// ImageID is the chip ID of ESP32-family images and GET_SECURITY_INFO
	// (§8.2); -1 for the ESP8266, which has none.
	ImageID int
	// Magic are the values READ_REG(MagicReg) returns on this chip (§8.1).
	Magic []uint32
	// ROMStatusLen is the number of status bytes the ROM loader appends
	// (§3.3): 2 on the ESP8266, 4 on every ESP32-family ROM. Stubs use 2.
	ROMStatusLen int
	// SecurityInfoLen is the GET_SECURITY_INFO result length its ROM
	// returns: 0 = command not supported (ESP8266, ESP32), 12 (ESP32-S2,
	// no chip ID) or 20 (S3 and later) (§8.2).
	SecurityInfoLen int
	// BootloaderOffset is where esptool may rewrite header bytes 2–3 (§14.5).
	BootloaderOffset uint32
	// ROMBeginEncryptedWord: the ROM expects a 5th FLASH_BEGIN word (§4.1).
	ROMBeginEncryptedWord bool
	// ROMHasFlashOps: the ROM implements SPI_ATTACH, SPI_SET_PARAMS,
	// compressed writes, MD5 and CHANGE_BAUDRATE (every ROM but the
	// ESP8266's, §4.1).
	ROMHasFlashOps bool

	UARTClkDivReg  uint32 // UART0 clock divider (crystal estimate, §9.1); 0 = not known here
	XtalClkDivider int    // APB = crystal × this during ROM download (§9.1)

	// MAC source (§9): ESP8266 OTP words; ESP32 efuse block; newer chips
	// two words at MACReg.
	MACReg uint32

	SPI SPIRegs

	// USBJTAGSerialPID is the USB PID of the built-in USB-JTAG-serial
	// bridge on chips that have one (0 otherwise, §6.1).
	USBJTAGSerialPID uint16

	// ROMBaudSkew: the ROM sets CHANGE_BAUDRATE's divider from a crystal
	// frequency it estimated against its drifting 8 MHz RC clock, so
	// esptool sends it a value skewed by estimate/real (only the original
	// ESP32, §6.6; esptool v4.12 targets/esp32.py change_baud).
	ROMBaudSkew bool

	// Flash offsets of a standard ESP-IDF / arduino-esp32 build: second
	// stage bootloader (= BootloaderOffset), partition table and the
	// first app; 0 where the chip has no partition table (ESP8266).
	PartitionTableOffset uint32
	AppOffset            uint32
}

// SPIRegs is the SPI flash controller register set used to run flash
// commands through READ_REG/WRITE_REG (§12.1).
type SPIRegs struct {
	Base      uint32
	USR       uint32 // offsets from Base
	USR1      uint32
	USR2      uint32
	MOSIDLen  uint32 // 0 = chip has no data length registers (ESP8266)
	MISODLen  uint32
	W0        uint32
	AddrMSB   bool // address register is MSB-aligned (ESP8266, ESP32)
	HasDLen   bool
	CmdOffset uint32 // always 0
	AddrOffs  uint32 // always 4
}

// Register addresses shared by every chip.
const (
	// MagicReg is read to tell chips apart when GET_SECURITY_INFO gives no
	// chip ID (§8.1).
	MagicReg uint32 = 0x40001000

	// ESP8266 OTP / efuse words (§9.1).
	ESP8266OTPMAC0 uint32 = 0x3FF00050
	ESP8266OTPMAC1 uint32 = 0x3FF00054
	ESP8266OTPMAC2 uint32 = 0x3FF00058
	ESP8266OTPMAC3 uint32 = 0x3FF0005C

	// ESP32 efuse read base (§9.2).
	ESP32EfuseBase uint32 = 0x3FF5A000

	// ESP32 efuse words esptool reads for the SPI_ATTACH pad
	// configuration (targets/esp32.py get_chip_spi_pads: BLK0_RDATA3 bits
	// 4–8 = HD, BLK0_RDATA5 bits 0–19 = CLK, Q, D, CS) and for the ROM's
	// crystal estimate (word 4 bits 0–7 = EFUSE_RD_CK8M_FREQ).
	ESP32EfuseRData3 uint32 = ESP32EfuseBase + 0x0C
	ESP32EfuseRData4 uint32 = ESP32EfuseBase + 0x10
	ESP32EfuseRData5 uint32 = ESP32EfuseBase + 0x14

	// ESP32RTCCaliReg (RTCCALICFG1) holds the ROM's calibration of its
	// 8 MHz RC clock against the crystal in bits 7–31
	// (TIMERS_RTC_CALI_VALUE, esptool targets/esp32.py).
	ESP32RTCCaliReg   uint32 = 0x3FF5F06C
	esp32RTCCaliShift        = 7
	esp32RTCCaliMask         = 0x01FFFFFF
)

// ESP32ROMCrystalHz is the crystal frequency the original ESP32's ROM
// believes in, computed from its calibration register and the CK8M efuse
// exactly as esptool's get_rom_cal_crystal_freq does:
// cali × 15625 × ck8m / 40.
func ESP32ROMCrystalHz(rtcCali, efuseWord4 uint32) float64 {
	cali := (rtcCali >> esp32RTCCaliShift) & esp32RTCCaliMask
	return float64(cali) * 15625 * float64(efuseWord4&0xFF) / 40
}

// ESP32ROMCaliValue is the inverse, for a virtual chip: the RTCCALICFG1
// register value that makes ESP32ROMCrystalHz report romHz (to the
// register's resolution of 15625 × ck8m / 40 Hz).
func ESP32ROMCaliValue(romHz float64, ck8m byte) uint32 {
	if ck8m == 0 {
		return 0
	}
	cali := uint32(romHz*40/(15625*float64(ck8m)) + 0.5)
	return (cali & esp32RTCCaliMask) << esp32RTCCaliShift
}

// ESP32ROMBaudArg is the CHANGE_BAUDRATE value esptool sends the original
// ESP32 ROM for a wanted baud (targets/esp32.py change_baud): the ROM
// divides its estimated crystal by the value, so the value is scaled by
// estimate / real crystal, where the real crystal is 40 MHz when the
// estimate is above 33 MHz and 26 MHz otherwise.
func ESP32ROMBaudArg(baud int, romHz float64) uint32 {
	valid := 26e6
	if romHz > 33e6 {
		valid = 40e6
	}
	return uint32(math.Floor(float64(baud) * romHz / valid))
}

// SPIAttachPins packs explicit SPI flash pins the way the ROM's
// SPI_ATTACH takes them (§13): HD<<24 | CS<<18 | D<<12 | Q<<6 | CLK.
// All zero means "the default pins".
func SPIAttachPins(clk, q, d, hd, cs uint32) uint32 {
	return hd<<24 | cs<<18 | d<<12 | q<<6 | clk
}

// ESP32SPIPads reads the in-package flash pads from the two efuse words
// esptool uses (get_chip_spi_pads) and packs them for SPI_ATTACH.
func ESP32SPIPads(rdata3, rdata5 uint32) uint32 {
	return SPIAttachPins(rdata5&0x1F, (rdata5>>5)&0x1F, (rdata5>>10)&0x1F, (rdata3>>4)&0x1F, (rdata5>>15)&0x1F)
}

// Flash write packet sizes (§7.1).
const (
	ROMFlashWriteSize  = 0x400
	StubFlashWriteSize = 0x4000
	RAMBlockSize       = 0x1800
)

var esp32FamilySPI = SPIRegs{USR: 0x18, USR1: 0x1C, USR2: 0x20, MOSIDLen: 0x24, MISODLen: 0x28, W0: 0x58, HasDLen: true, AddrOffs: 4}

func spiAt(base uint32, r SPIRegs) SPIRegs { r.Base = base; return r }

// Chips lists every supported chip in esptool's detection order.
var Chips = []*Chip{
	{
		Name: "ESP8266", ImageID: -1, Magic: []uint32{0xFFF0C101}, ROMStatusLen: 2,
		BootloaderOffset: 0, UARTClkDivReg: 0x60000014, XtalClkDivider: 2,
		SPI: SPIRegs{Base: 0x60000200, USR: 0x1C, USR1: 0x20, USR2: 0x24, W0: 0x40, AddrMSB: true, AddrOffs: 4},
	},
	{
		Name: "ESP32", ImageID: 0, Magic: []uint32{0x00F01D83}, ROMStatusLen: 4,
		BootloaderOffset: 0x1000, ROMHasFlashOps: true, UARTClkDivReg: 0x3FF40014, XtalClkDivider: 1,
		MACReg: ESP32EfuseBase, ROMBaudSkew: true,
		SPI: SPIRegs{Base: 0x3FF42000, USR: 0x1C, USR1: 0x20, USR2: 0x24, MOSIDLen: 0x28, MISODLen: 0x2C, W0: 0x80, AddrMSB: true, HasDLen: true, AddrOffs: 4},
	},
	{
		Name: "ESP32-S2", ImageID: 2, Magic: []uint32{0x000007C6}, ROMStatusLen: 4, SecurityInfoLen: 12,
		BootloaderOffset: 0x1000, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x3F400014, XtalClkDivider: 1, MACReg: 0x3F41A044,
		SPI: spiAt(0x3F402000, esp32FamilySPI),
	},
	{
		Name: "ESP32-S3", ImageID: 9, Magic: []uint32{0x00000009}, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x60000014, XtalClkDivider: 1, MACReg: 0x60007044,
		SPI: spiAt(0x60002000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-C3", ImageID: 5, Magic: []uint32{0x6921506F, 0x1B31506F, 0x4881606F, 0x4361606F}, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x60000014, XtalClkDivider: 1, MACReg: 0x60008844,
		SPI: spiAt(0x60002000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-C2", ImageID: 12, Magic: []uint32{0x6F51306F, 0x7C41A06F, 0x0C21E06F}, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x60000014, XtalClkDivider: 1, MACReg: 0x60008840,
		SPI: spiAt(0x60002000, esp32FamilySPI),
	},
	{
		Name: "ESP32-C6", ImageID: 13, Magic: []uint32{0x2CE0806F}, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x60000014, XtalClkDivider: 1, MACReg: 0x600B0844,
		SPI: spiAt(0x60003000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-H2", ImageID: 16, Magic: []uint32{0xD7B73E80}, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		UARTClkDivReg: 0x60000014, XtalClkDivider: 1, MACReg: 0x600B0844,
		SPI: spiAt(0x60003000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-C5", ImageID: 23, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0x2000, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		XtalClkDivider: 1, MACReg: 0x600B4844,
		SPI: spiAt(0x60003000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-C61", ImageID: 20, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		XtalClkDivider: 1, MACReg: 0x600B4844,
		SPI: spiAt(0x60003000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
	{
		Name: "ESP32-P4", ImageID: 18, ROMStatusLen: 4, SecurityInfoLen: 20,
		BootloaderOffset: 0x2000, ROMBeginEncryptedWord: true, ROMHasFlashOps: true,
		XtalClkDivider: 1, MACReg: 0x5012D044,
		SPI: spiAt(0x5008D000, esp32FamilySPI), USBJTAGSerialPID: 0x1001,
	},
}

// Every ESP32-family chip keeps ESP-IDF's defaults: the partition table at
// 0x8000 (CONFIG_PARTITION_TABLE_OFFSET) and the first app at 0x10000
// (filesystem-images.md §1.2); only the bootloader offset differs.
func init() {
	for _, c := range Chips {
		if !c.IsESP8266() {
			c.PartitionTableOffset, c.AppOffset = 0x8000, 0x10000
		}
	}
}

// IsESP8266 reports whether c is the ESP8266 (which has the most quirks).
func (c *Chip) IsESP8266() bool { return c.Name == "ESP8266" }

// ByName finds a chip by esptool's names, case-insensitively and with or
// without the dash ("esp32c3", "ESP32-C3").
func ByName(name string) (*Chip, error) {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "") }
	for _, c := range Chips {
		if norm(c.Name) == norm(name) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("unknown chip %q: use auto or one of %s", name, strings.Join(Names(), ", "))
}

// Names lists the chip names, lower-case as esptool's --chip spells them.
func Names() []string {
	var out []string
	for _, c := range Chips {
		out = append(out, strings.ToLower(strings.ReplaceAll(c.Name, "-", "")))
	}
	return out
}

// ByMagic finds the chip whose detection register reads v.
func ByMagic(v uint32) *Chip {
	for _, c := range Chips {
		for _, m := range c.Magic {
			if m == v {
				return c
			}
		}
	}
	return nil
}

// ByImageID finds the chip with this chip ID.
func ByImageID(id int) *Chip {
	for _, c := range Chips {
		if c.ImageID == id {
			return c
		}
	}
	return nil
}

// MACFromESP8266OTP derives the MAC exactly as esptool does (§9.1): the
// OUI comes from OTP word 3 when it is programmed, else from a code in
// word 1 (0 → 18:FE:34, 1 → AC:D0:74).
func MACFromESP8266OTP(mac0, mac1, mac3 uint32) ([6]byte, error) {
	var m [6]byte
	switch {
	case mac3 != 0:
		m[0], m[1], m[2] = byte(mac3>>16), byte(mac3>>8), byte(mac3)
	case (mac1>>16)&0xFF == 0:
		m[0], m[1], m[2] = 0x18, 0xFE, 0x34
	case (mac1>>16)&0xFF == 1:
		m[0], m[1], m[2] = 0xAC, 0xD0, 0x74
	default:
		return m, fmt.Errorf("unknown OUI code 0x%02x in OTP MAC1 word 0x%08x", (mac1>>16)&0xFF, mac1)
	}
	m[3], m[4], m[5] = byte(mac1>>8), byte(mac1), byte(mac0>>24)
	return m, nil
}

// ESP8266ChipID is esptool's chip_id for the ESP8266 (§9.1).
func ESP8266ChipID(mac0, mac1 uint32) uint32 {
	return (mac0 >> 24) | ((mac1 & 0xFFFFFF) << 8)
}

// MACFromESP32Efuse: word 2 then word 1 as big-endian bytes, dropping the
// two CRC bytes (§9.2).
func MACFromESP32Efuse(word1, word2 uint32) [6]byte {
	return [6]byte{byte(word2 >> 8), byte(word2), byte(word1 >> 24), byte(word1 >> 16), byte(word1 >> 8), byte(word1)}
}

// MACFromTwoWords is the S2-and-later layout: bytes 2..3 of
// big-endian(word at reg+4) then big-endian(word at reg) (§9.3).
func MACFromTwoWords(lo, hi uint32) [6]byte {
	return [6]byte{byte(hi >> 8), byte(hi), byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)}
}

// FormatMAC prints a MAC the usual way.
func FormatMAC(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// FlashSizeFromJEDEC maps the capacity byte of a JEDEC ID to bytes (§12.4).
func FlashSizeFromJEDEC(capacity byte) (int, bool) {
	switch capacity {
	case 0x12, 0x32:
		return 256 << 10, true
	case 0x13, 0x33:
		return 512 << 10, true
	case 0x14, 0x34:
		return 1 << 20, true
	case 0x15, 0x35:
		return 2 << 20, true
	case 0x16, 0x36:
		return 4 << 20, true
	case 0x17, 0x37:
		return 8 << 20, true
	case 0x18, 0x38:
		return 16 << 20, true
	case 0x19, 0x39:
		return 32 << 20, true
	case 0x1A, 0x3A, 0x20:
		return 64 << 20, true
	case 0x1B, 0x21:
		return 128 << 20, true
	case 0x1C, 0x22:
		return 256 << 20, true
	}
	return 0, false
}

// SizeName formats a flash size the way esptool names it ("4MB", "512KB").
func SizeName(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%dMB", n>>20)
	}
	return fmt.Sprintf("%dKB", n>>10)
}

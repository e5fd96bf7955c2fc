// Package esp32fw builds the stand-in firmware a virtual ESP32-family
// board boots: a second-stage bootloader image for the chip's bootloader
// offset, a binary partition table for 0x8000, arduino-esp32's
// boot_app0.bin for the otadata partition, and an application image for
// the table's boot partition, alone or merged into one file as `iotbench
// merge-bin` lays them out. The images hold no real code (the
// virtual board runs its Config.App in their place), but their headers,
// chip IDs, segment checksums and appended SHA-256 digests are real, so a
// virtual ROM and bootloader accept or refuse them as a chip would. Tests
// and `iotbench demo --chip` use them.
package esp32fw

import (
	"bytes"
	"fmt"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// Bootloader is a second-stage bootloader image for chip: two RAM
// segments (data, code) in the chip's DRAM and IRAM windows.
func Bootloader(chip string) ([]byte, error) {
	return build(chip, 2<<10, 6<<10, 0x5EED, 0x4)
}

// App is an application image for chip: a data and a code segment of
// pseudo-random bytes (so it neither compresses to nothing nor matches
// the bootloader), with version changing the bytes: two versions differ.
func App(chip string, version int) ([]byte, error) {
	return build(chip, 4<<10, 24<<10, uint32(0xA99+version), 0x404)
}

func build(chip string, dataLen, codeLen int, seed, entry uint32) ([]byte, error) {
	if image.IsESP8266(chip) {
		return nil, fmt.Errorf("%s images have no partition table: esp32fw is for ESP32-family chips", chip)
	}
	b, err := image.NewBuilder(chip)
	if err != nil {
		return nil, err
	}
	dram, iram, err := RAMWindows(b.Chip)
	if err != nil {
		return nil, err
	}
	b.FlashMode, b.FlashSize = "dio", "4MB"
	b.Entry = iram + entry
	b.Segments = []image.BuildSegment{{Addr: dram, Data: noise(dataLen, seed)}, {Addr: iram, Data: noise(codeLen, seed*2654435761)}}
	return b.Build()
}

// RAMWindows picks a DRAM and an IRAM load address of the chip (for
// stand-in images, here and in virtualboard/arduinoota).
func RAMWindows(chip string) (dram, iram uint32, err error) {
	ws, err := image.RAMWindows(chip)
	if err != nil {
		return 0, 0, err
	}
	for _, w := range ws {
		switch {
		case w[0] < 0x40000000 && dram == 0:
			dram = w[0]
		case w[0] >= 0x40000000 && iram == 0:
			iram = w[0]
		}
	}
	if dram == 0 || iram == 0 {
		return 0, 0, fmt.Errorf("%s: no DRAM and IRAM windows known", chip)
	}
	return dram, iram, nil
}

func noise(n int, x uint32) []byte {
	if x == 0 {
		x = 1
	}
	out := make([]byte, n)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = byte(x)
	}
	return out
}

// Merged is bootloader, table, otadata and app in one image starting at
// flash address 0, gaps filled with 0xFF, as merge-bin writes a raw
// image and as arduino-esp32 3.x merges one (platform.txt's merge_bin
// recipe: the bootloader, the partitions at 0x8000, boot_app0.bin at
// 0xe000 and the sketch at 0x10000). boot_app0.bin (otadata.BootApp0)
// goes where the table's otadata partition is — 0xe000 in every
// arduino-esp32 scheme — so the bootloader boots ota_0 without writing
// otadata (set_actual_ota_seq only writes over an erased one).
func Merged(chip string, t *layout.PartitionTable, version int) ([]byte, error) {
	bl, err := Bootloader(chip)
	if err != nil {
		return nil, err
	}
	app, err := App(chip, version)
	if err != nil {
		return nil, err
	}
	tab, err := t.Binary()
	if err != nil {
		return nil, err
	}
	at, err := t.BootApp()
	if err != nil {
		return nil, err
	}
	blOff, err := image.BootloaderOffset(chip)
	if err != nil {
		return nil, err
	}
	out := bytes.Repeat([]byte{0xFF}, int(at.Offset)+len(app))
	copy(out[blOff:], bl)
	copy(out[layout.PartitionTableOffset:], tab)
	if od := otadata.SlotsOf(t).OTAData; od != nil && od.Offset < at.Offset {
		copy(out[od.Offset:min(od.Offset+od.Size, at.Offset)], otadata.BootApp0())
	}
	copy(out[at.Offset:], app)
	return out, nil
}

// Package layout owns flash layouts: the ESP8266 Arduino core's named
// layouts (where the application and the filesystem live, and the
// filesystem's block and page size) and ESP32 partition tables (binary and
// CSV).
//
// Sources: docs/filesystem-images.md §1 (the ESP8266 layout table and the
// ESP32 defaults), the ESP8266 core's tools/boards.txt.py and
// tools/sdk/ld/eagle.flash.*.ld (how the layouts are generated and named),
// ESP-IDF's components/partition_table/gen_esp32part.py and
// components/bootloader_support/src/flash_partitions.c (the partition
// table formats) and arduino-esp32's tools/partitions/*.csv (the tables
// its boards menu offers). The code is written from the facts in those
// sources, not translated from them.
//
// The package never talks to a board and never prints: callers turn a
// layout into flasher.Region values (Offset → Addr) and render Table data.
package layout

import (
	"errors"
	"fmt"
	"strings"
)

// FSKind names a filesystem image format.
type FSKind string

// The filesystem kinds iotbench builds.
const (
	SPIFFS   FSKind = "spiffs"
	LittleFS FSKind = "littlefs"
)

// ParseFSKind accepts "spiffs" or "littlefs" (any case).
func ParseFSKind(s string) (FSKind, error) {
	switch k := FSKind(strings.ToLower(strings.TrimSpace(s))); k {
	case SPIFFS, LittleFS:
		return k, nil
	}
	return "", fmt.Errorf("unknown filesystem %q: use spiffs or littlefs", s)
}

// Region is a named byte range of flash.
type Region struct {
	Name         string
	Offset, Size uint32
}

// End is the first offset after the region.
func (r Region) End() uint32 { return r.Offset + r.Size }

// ESP32 filesystem geometry: every ESP32 tool (PlatformIO, the Arduino
// plugins, esp_spiffs) uses 256-byte pages and 4096-byte blocks
// (filesystem-images.md §1.2, §2.3).
const (
	ESP32FSPage  = 256
	ESP32FSBlock = 4096
)

// ErrBadMD5 is wrapped by ParseBinary when the table's MD5 entry does not
// match its entries (a corrupt or hand-edited table).
var ErrBadMD5 = errors.New("partition table MD5 mismatch")

// Table is tabular data for the CLI to render (`iotbench layouts`).
// Every row has len(Header) cells.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Tables lists the ESP8266 layouts and the ESP32 default partition
// tables, in that order.
func Tables() []Table {
	return []Table{ESP8266Table(), ESP32DefaultTables()}
}

// hexSize formats a byte count as 0x… with a human size, "0xFA000 (1000 KiB)".
func hexSize(n uint32) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<20) == 0:
		return fmt.Sprintf("0x%X (%d MiB)", n, n>>20)
	case n%1024 == 0:
		return fmt.Sprintf("0x%X (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("0x%X (%d B)", n, n)
}

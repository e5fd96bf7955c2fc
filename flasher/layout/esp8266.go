package layout

import (
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher/target"
)

// ESP8266Layout is one of the ESP8266 Arduino core's flash layouts (the
// boards.txt "eesz" menu, one eagle.flash.*.ld linker script each).
type ESP8266Layout struct {
	// Name is the boards.txt menu id: "4M1M", "1M64", "512K32"; layouts
	// without a filesystem are just the flash size ("4M").
	Name string
	// Menu is the Arduino IDE's spelling, "4MB (FS:1MB OTA:~1019KB)".
	Menu string
	// LD is the linker script, "eagle.flash.4m1m.ld".
	LD        string
	FlashSize int
	// App is where the sketch goes: flash offset 0 (eboot, then the
	// application), at most Size bytes — boards.txt.py's max_upload_size,
	// the "sketch @0x40200000 (…B)" line of the linker script.
	App Region
	// FS is the filesystem exactly as the linker script exports it:
	// Offset = _FS_start − 0x40200000, Size = _FS_end − _FS_start. Size 0
	// means the layout has no filesystem (then FSPage and FSBlock are 0).
	FS              Region
	FSPage, FSBlock int
	// EEPROM (4 KiB, at the nominal FS end, _EEPROM_start), RFCal (4 KiB)
	// and WiFi (12 KiB SDK settings, the last sectors of the chip).
	EEPROM, RFCal, WiFi Region
}

// HasFS reports whether the layout reserves a filesystem.
func (l ESP8266Layout) HasFS() bool { return l.FS.Size > 0 }

// ESP8266FlashBase is where the ESP8266 maps flash: linker-script FS
// symbols are flash offsets plus this (filesystem-images.md §1.1).
const ESP8266FlashBase = 0x40200000

// esp8266Menu lists every eesz option of tools/boards.txt.py's
// all_flash_map (flash KiB → FS KiB, 0 = no filesystem), in the order of
// the table in filesystem-images.md §1.1 (which leaves out the
// filesystem-less 512K, 8M and 16M options; boards.txt has them).
var esp8266Menu = []struct{ flashKB, fsKB int }{
	{512, 32}, {512, 64}, {512, 128}, {512, 0},
	{1024, 0}, {1024, 64}, {1024, 128}, {1024, 144}, {1024, 160}, {1024, 192}, {1024, 256}, {1024, 512},
	{2048, 0}, {2048, 64}, {2048, 128}, {2048, 256}, {2048, 512}, {2048, 1024},
	{4096, 0}, {4096, 1024}, {4096, 2048}, {4096, 3072},
	{8192, 0}, {8192, 6144}, {8192, 7168},
	{16384, 0}, {16384, 14336}, {16384, 15360},
}

var esp8266Layouts = func() []ESP8266Layout {
	out := make([]ESP8266Layout, len(esp8266Menu))
	for i, m := range esp8266Menu {
		out[i] = esp8266Layout(m.flashKB, m.fsKB)
	}
	return out
}()

// esp8266Layout applies the generator rules of boards.txt.py flash_map,
// as filesystem-images.md §1.1 describes them: the top 20 KiB are EEPROM
// (4), RF calibration (4) and SDK Wi-Fi settings (12); the nominal FS end
// is flash − 20 KiB; chips ≤ 1 MiB put the FS right below it, larger chips
// start it at flash − FS size; blocks are 4 KiB below 512 KiB of FS and
// 8 KiB from there; the FS end is rounded down to whole blocks; pages are
// 256 bytes. The sketch may use up to 1 MiB (what the ESP8266 maps) or, on
// small chips, everything below the FS, minus the 4112 bytes boards.txt.py
// reserves.
func esp8266Layout(flashKB, fsKB int) ESP8266Layout {
	const kib = 1024
	const reserved = 4112
	nominalEnd := (flashKB - 20) * kib
	rfcal := (flashKB - 16) * kib
	var maxUpload, fsStart int
	if flashKB <= 1024 {
		maxUpload = (flashKB-fsKB-20)*kib - reserved
		fsStart = nominalEnd - fsKB*kib
	} else {
		maxUpload = 1024*kib - reserved
		fsStart = (flashKB - fsKB) * kib
	}
	block := 4096
	if fsKB >= 512 {
		block = 8192
	}
	fsEnd := fsStart + block*((nominalEnd-fsStart)/block)
	maxOTA := min(maxUpload, fsStart/2) // before the no-FS fix-up below, as upstream
	page := 256
	if fsKB == 0 {
		fsStart, page, block = fsEnd, 0, 0
	}

	sizeName := func(k int) string {
		if k >= 1024 {
			return fmt.Sprintf("%dM", k/1024)
		}
		return fmt.Sprintf("%dK", k)
	}
	name := sizeName(flashKB)
	fsDesc := "none"
	if fsKB > 0 {
		if fsKB >= 1024 {
			name += fmt.Sprintf("%dM", fsKB/1024)
		} else {
			name += fmt.Sprintf("%d", fsKB)
		}
		fsDesc = sizeName(fsKB) + "B"
	}
	return ESP8266Layout{
		Name:      name,
		Menu:      fmt.Sprintf("%sB (FS:%s OTA:~%dKB)", sizeName(flashKB), fsDesc, maxOTA/kib),
		LD:        "eagle.flash." + strings.ToLower(name) + ".ld",
		FlashSize: flashKB * kib,
		App:       Region{Name: "sketch", Offset: 0, Size: uint32(maxUpload)},
		FS:        Region{Name: "filesystem", Offset: uint32(fsStart), Size: uint32(fsEnd - fsStart)},
		FSPage:    page,
		FSBlock:   block,
		EEPROM:    Region{Name: "eeprom", Offset: uint32(nominalEnd), Size: 4 * kib},
		RFCal:     Region{Name: "rfcal", Offset: uint32(rfcal), Size: 4 * kib},
		WiFi:      Region{Name: "wifi", Offset: uint32(rfcal + 4*kib), Size: 12 * kib},
	}
}

// ESP8266Layouts returns every named layout, smallest flash first (a
// fresh copy: callers may modify it).
func ESP8266Layouts() []ESP8266Layout {
	return append([]ESP8266Layout(nil), esp8266Layouts...)
}

// ESP8266Names lists the layout names in ESP8266Layouts order.
func ESP8266Names() []string {
	out := make([]string, len(esp8266Layouts))
	for i, l := range esp8266Layouts {
		out[i] = l.Name
	}
	return out
}

// ESP8266 finds a layout by its menu id ("4M1M"), its Arduino IDE menu
// text ("4MB (FS:1MB OTA:~1019KB)") or its linker script
// ("eagle.flash.4m1m.ld", with or without ".ld"), ignoring case and
// spaces.
func ESP8266(name string) (ESP8266Layout, error) {
	norm := func(s string) string {
		s = strings.ToLower(strings.Join(strings.Fields(s), ""))
		return strings.TrimSuffix(s, ".ld")
	}
	n := norm(name)
	for _, l := range esp8266Layouts {
		if n == norm(l.Name) || n == norm(l.Menu) || n == norm(l.LD) {
			return l, nil
		}
	}
	if n == "autoflash" || n == "eagle.flash.auto" || strings.HasPrefix(n, "mappingdefinedbyhardware") {
		return ESP8266Layout{}, fmt.Errorf("layout %q is chosen by the sketch at run time (FLASH_MAP_SUPPORT): name the layout the sketch uses, one of %s",
			name, strings.Join(ESP8266Names(), ", "))
	}
	return ESP8266Layout{}, fmt.Errorf("unknown ESP8266 layout %q: use one of %s", name, strings.Join(ESP8266Names(), ", "))
}

// ESP8266ForFlash returns the layouts made for a chip of flashSize bytes
// (none for sizes the core has no layouts for).
func ESP8266ForFlash(flashSize int) []ESP8266Layout {
	var out []ESP8266Layout
	for _, l := range esp8266Layouts {
		if l.FlashSize == flashSize {
			out = append(out, l)
		}
	}
	return out
}

// ESP8266Table lists the layouts for display.
func ESP8266Table() Table {
	t := Table{
		Title:  "ESP8266 Arduino flash layouts",
		Header: []string{"Layout", "Flash", "Sketch max", "FS offset", "FS size", "Page", "Block", "Arduino menu", "Linker script"},
	}
	for _, l := range esp8266Layouts {
		fsOff, page, block := "-", "-", "-"
		if l.HasFS() {
			fsOff = fmt.Sprintf("0x%06X", l.FS.Offset)
			page, block = fmt.Sprint(l.FSPage), fmt.Sprint(l.FSBlock)
		}
		t.Rows = append(t.Rows, []string{
			l.Name, target.SizeName(l.FlashSize), fmt.Sprintf("%d", l.App.Size), fsOff, hexSize(l.FS.Size),
			page, block, l.Menu, l.LD,
		})
	}
	return t
}

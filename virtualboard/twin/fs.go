package twin

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/littlefs"
	"github.com/iotbench/iotbench/flasher/spiffs"
)

// volume is a mounted filesystem.
type volume interface {
	ReadFile(path string) ([]byte, error)
}

// fsGeometry is where the sketch's filesystem is and how it is cut up.
type fsGeometry struct {
	Offset, Size uint32
	Block, Page  int
	ESP32        bool
}

// fsRegion finds the filesystem the way the sketch's core does. ESP8266:
// the linker symbols of the layout it was built with
// (filesystem-images.md §1.1). ESP32 family: the partition table in the
// board's own flash at 0x8000, searched by label as esp_partition_find
// does for LittleFS.begin()/SPIFFS.begin() (a data partition; SPIFFS
// also wants subtype spiffs), with 4 KiB blocks (filesystem-images.md
// §1.2, §5.2). An error leaves the geometry's offset and size as far as
// known, for the sketch's failure line.
func (s *sketch) fsRegion(kind layout.FSKind) (fsGeometry, error) {
	flash := s.env.Flash()
	if s.env.Chip() == "ESP8266" {
		name := s.o.Layout
		if name == "" {
			name = "4M2M"
		}
		l, err := layout.ESP8266(name)
		g := fsGeometry{Offset: l.FS.Offset, Size: l.FS.Size, Block: l.FSBlock, Page: l.FSPage}
		if err != nil || !l.HasFS() || int(l.FS.End()) > flash.Size() {
			// A sketch linked for a layout the chip cannot hold: its FS
			// symbols point past the flash and begin() fails.
			return g, fmt.Errorf("layout %q does not fit this board's flash (%v)", name, err)
		}
		return g, nil
	}
	label := s.o.FSLabel
	if label == "" {
		label = "spiffs"
	}
	pt, err := layout.ParseBinary(flash.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		return fsGeometry{}, fmt.Errorf("partition table at 0x%x: %w", layout.PartitionTableOffset, err)
	}
	p, err := pt.ByLabel(label)
	if err != nil {
		return fsGeometry{}, err
	}
	g := fsGeometry{Offset: p.Offset, Size: p.Size, Block: layout.ESP32FSBlock, Page: layout.ESP32FSPage, ESP32: true}
	switch {
	case p.Type != layout.TypeData:
		return g, fmt.Errorf("partition %s is not a data partition", p)
	case kind == layout.SPIFFS && p.SubType != layout.SubTypeSPIFFS:
		return g, fmt.Errorf("partition %s is not of subtype spiffs", p)
	case int(p.Offset)+int(p.Size) > flash.Size():
		return g, fmt.Errorf("partition %s ends past the flash", p)
	}
	return g, nil
}

// mount is LittleFS.begin() / SPIFFS.begin() on the filesystem's region,
// with the parameters the core compiles in (filesystem-images.md §3.1,
// §4, §5.2). The reference sketch turns auto-format off, so a region that
// does not mount is reported instead of being wiped. names lists the
// root's files in directory order.
func mount(region []byte, kind layout.FSKind, g fsGeometry) (v volume, names []string, err error) {
	switch kind {
	case layout.LittleFS:
		im, err := littlefs.Read(region, littlefs.ESP8266Params(len(region), g.Block))
		if err != nil {
			return nil, nil, err
		}
		for _, e := range im.Entries {
			if !e.IsDir && strings.Count(e.Path, "/") == 1 {
				names = append(names, strings.TrimPrefix(e.Path, "/"))
			}
		}
		return im, names, nil
	case layout.SPIFFS:
		p := spiffs.ESP8266Params(len(region), g.Block)
		if g.ESP32 {
			// The ESP32 magic includes the block count (§4); the reader
			// checks the structure itself.
			p = spiffs.ESP32Params(len(region))
		} else if err := spiffsMagic(region, g.Page, g.Block); err != nil {
			return nil, nil, err
		}
		im, err := spiffs.Read(region, p)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range im.Files {
			if strings.Count(f.Path, "/") == 1 {
				names = append(names, strings.TrimPrefix(f.Path, "/"))
			}
		}
		return im, names, nil
	}
	return nil, nil, fmt.Errorf("filesystem %q: the sketch is built for littlefs or spiffs", kind)
}

// spiffsMagic is SPIFFS_mount's check: with SPIFFS_USE_MAGIC every block's
// lookup page ends in the magic, (0x20140529 ^ page size) & 0xffff on the
// ESP8266 (no magic length), at byte L*P-4 of the block, where L is the
// number of lookup pages; mount accepts at most one block without it
// (filesystem-images.md §3.2, §3.3).
func spiffsMagic(region []byte, page, block int) error {
	if page <= 0 || block <= 0 || len(region)%block != 0 {
		return fmt.Errorf("spiffs: %d bytes is not a whole number of %d-byte blocks", len(region), block)
	}
	lookup := max(1, block/page*2/page)
	want := uint16((0x20140529 ^ page) & 0xffff)
	bad := 0
	for b := 0; b+block <= len(region); b += block {
		if binary.LittleEndian.Uint16(region[b+lookup*page-4:]) != want {
			bad++
		}
	}
	if bad > 1 {
		return fmt.Errorf("spiffs: %d of %d blocks lack the magic 0x%04x: not a SPIFFS filesystem with these parameters", bad, len(region)/block, want)
	}
	return nil
}

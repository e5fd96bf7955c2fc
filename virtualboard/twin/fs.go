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

// mount is LittleFS.begin() / SPIFFS.begin() on the region the layout
// gives the filesystem, with the parameters the core compiles in
// (filesystem-images.md §3.1, §5.2). The reference sketch turns
// auto-format off, so a region that does not mount is reported instead of
// being wiped. names lists the root's files in directory order.
func mount(region []byte, kind layout.FSKind, l layout.ESP8266Layout) (v volume, names []string, err error) {
	switch kind {
	case layout.LittleFS:
		im, err := littlefs.Read(region, littlefs.ESP8266Params(len(region), l.FSBlock))
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
		if err := spiffsMagic(region, l.FSPage, l.FSBlock); err != nil {
			return nil, nil, err
		}
		im, err := spiffs.Read(region, spiffs.ESP8266Params(len(region), l.FSBlock))
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

package layout

import (
	"fmt"
	"sort"
	"strings"
)

// CheckFSImage checks that a filesystem image of imageSize bytes built
// with blockSize-byte blocks (0 = unknown, not checked) is made for layout
// l. SPIFFS and LittleFS both record their geometry, so an image only
// mounts in a filesystem of exactly its size and block size
// (filesystem-images.md §3, §5). On a mismatch the error names the
// layouts the image would fit, closest flash size first, e.g.
//
//	image is 0x10000 bytes with 4096-byte blocks: that is layout 1M64 (or 512K64), not 4M1M (0xFA000, 8192)
func CheckFSImage(imageSize, blockSize int, l ESP8266Layout) error {
	if !l.HasFS() {
		var with []string
		for _, o := range ESP8266ForFlash(l.FlashSize) {
			if o.HasFS() {
				with = append(with, o.Name)
			}
		}
		return fmt.Errorf("layout %s has no filesystem: pick one that has, e.g. %s", l.Name, orNone(strings.Join(with, ", ")))
	}
	if imageSize <= 0 {
		return fmt.Errorf("filesystem image is empty")
	}
	if blockSize < 0 {
		return fmt.Errorf("block size %d is negative", blockSize)
	}
	if uint64(imageSize) == uint64(l.FS.Size) && (blockSize == 0 || blockSize == l.FSBlock) {
		return nil
	}

	desc := fmt.Sprintf("image is 0x%X bytes", imageSize)
	if blockSize > 0 {
		desc += fmt.Sprintf(" with %d-byte blocks", blockSize)
	}
	want := fmt.Sprintf("%s (0x%X, %d)", l.Name, l.FS.Size, l.FSBlock)

	if uint64(imageSize) == uint64(l.FS.Size) {
		return fmt.Errorf("%s, but layout %s uses %d-byte blocks: rebuild the image with %d-byte blocks (mkspiffs/mklittlefs -b %d)",
			desc, l.Name, l.FSBlock, l.FSBlock, l.FSBlock)
	}

	var match, sizeOnly []ESP8266Layout
	for _, o := range esp8266Layouts {
		if !o.HasFS() || uint64(o.FS.Size) != uint64(imageSize) {
			continue
		}
		if blockSize == 0 || o.FSBlock == blockSize {
			match = append(match, o)
		} else {
			sizeOnly = append(sizeOnly, o)
		}
	}
	closest := func(ls []ESP8266Layout) []string {
		dist := func(o ESP8266Layout) int {
			d := o.FlashSize - l.FlashSize
			if d < 0 {
				d = -d
			}
			return d
		}
		sort.SliceStable(ls, func(i, j int) bool { return dist(ls[i]) < dist(ls[j]) })
		names := make([]string, len(ls))
		for i, o := range ls {
			names[i] = o.Name
		}
		return names
	}
	if len(match) > 0 {
		names := closest(match)
		also := ""
		if len(names) > 1 {
			also = " (or " + strings.Join(names[1:], ", ") + ")"
		}
		return fmt.Errorf("%s: that is layout %s%s, not %s", desc, names[0], also, want)
	}
	if len(sizeOnly) > 0 {
		names := closest(sizeOnly)
		return fmt.Errorf("%s: no layout has that block size for that size (%s: %d-byte blocks), and %s needs 0x%X bytes with %d-byte blocks: rebuild the image for it",
			desc, strings.Join(names, ", "), sizeOnly[0].FSBlock, l.Name, l.FS.Size, l.FSBlock)
	}
	return fmt.Errorf("%s: no ESP8266 layout has a filesystem of that size; %s needs 0x%X bytes with %d-byte blocks: rebuild the image for it",
		desc, l.Name, l.FS.Size, l.FSBlock)
}

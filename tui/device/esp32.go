package device

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
)

// placed is a region with the reason for its address.
type placed struct {
	flasher.Region
	why string
}

// flashReader is the loader's read, which finds the chip's table.
type flashReader interface {
	ReadFlash(ctx context.Context, offset uint32, size int) ([]byte, error)
}

// Sources of the partition table, as the Flash view and the regions'
// reasons name them.
const (
	TableFromMerged  = "the merged image's partition table"
	TableFromChip    = "the chip's partition table"
	TableFromDefault = "arduino-esp32's default table"
)

// IsAutoTable reports whether a plan's Layout leaves the ESP32 partition
// table to the merged image, the chip or arduino-esp32's default.
func IsAutoTable(name string) bool { return name == "" || strings.EqualFold(name, "auto") }

// esp32Regions places a plan on an ESP32-family chip (flasher/place, as
// write-flash and provision place them): a merged image at 0x0 with its
// own table; an app image at the boot app partition of the table; the
// filesystem in the table's spiffs/littlefs partition. The table is the
// merged image's, else the plan's named one (written at 0x8000), else the
// chip's at 0x8000, else arduino-esp32's default for the flash size
// (written at 0x8000: the bootloader finds nothing without it). It
// returns the regions and where the table came from; nothing is written.
func esp32Regions(ctx context.Context, r flashReader, p Plan, app []byte, f Facts) ([]placed, string, error) {
	in := func(format string, args ...any) error {
		return &flasher.InputError{Msg: fmt.Sprintf(format, args...)}
	}
	var pt *layout.PartitionTable
	var from string
	merged, writeTable := false, false
	appName := filepath.Base(p.App)
	if app != nil {
		var inner *layout.PartitionTable
		var err error
		if merged, inner, err = place.Split(app, f.Chip); err != nil {
			return nil, "", in("%s: %s", appName, SplitAdvice(err))
		}
		if merged {
			if !IsAutoTable(p.Layout) {
				return nil, "", in("%s is a merged image with its own partition table, and the plan names table %s: set the partition table to auto (the merged image's table is the one its bootloader reads)", appName, p.Layout)
			}
			pt, from = inner, TableFromMerged
		}
	}
	if pt == nil && !IsAutoTable(p.Layout) {
		var err error
		if pt, from, err = layout.LoadTable(p.Layout, f.FlashSize); err != nil {
			return nil, "", in("%v", err)
		}
		from, writeTable = "table "+from, true
	}
	if pt == nil {
		b, err := r.ReadFlash(ctx, layout.PartitionTableOffset, layout.PartitionTableMaxLen)
		if err != nil {
			return nil, "", fmt.Errorf("reading the chip's partition table at 0x%X: %w", layout.PartitionTableOffset, err)
		}
		if pt, err = place.ChipTable(b, layout.PartitionTableOffset); err != nil {
			return nil, "", in("%v; choose a table (a scheme such as default) to write a good one", err)
		}
		from = TableFromChip
		if pt == nil {
			var scheme string
			if pt, scheme, err = place.DefaultTable(f.FlashSize); err != nil {
				return nil, "", in("the chip has no partition table and %v", err)
			}
			from, writeTable = fmt.Sprintf("%s (%s; the chip had none)", TableFromDefault, scheme), true
		}
	}
	if err := pt.Validate(f.FlashSize); err != nil {
		return nil, "", in("%s: %v; choose another table", from, err)
	}
	var out []placed
	switch {
	case merged:
		out = append(out, placed{Region: flasher.Region{Addr: 0, Data: app, Name: appName}, why: "merged image: bootloader, partition table and app"})
	case app != nil:
		part, err := place.AppPartition(pt, len(app))
		if err != nil {
			return nil, "", in("%s: %v", appName, err)
		}
		out = append(out, placed{Region: flasher.Region{Addr: part.Offset, Data: app, Name: appName}, why: part.Label + ", from " + from})
	}
	if writeTable {
		bin, err := pt.Binary()
		if err != nil {
			return nil, "", in("%s: %v", from, err)
		}
		out = append(out, placed{Region: flasher.Region{Addr: layout.PartitionTableOffset, Data: bin, Name: "partition table"}, why: from})
	}
	if p.FS != "" {
		r, err := esp32FS(p, pt, from)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, from, nil
}

// esp32FS builds (or checks) the filesystem for the table's partition.
func esp32FS(p Plan, pt *layout.PartitionTable, from string) (placed, error) {
	st, err := os.Stat(p.FS)
	if err != nil {
		return placed{}, &flasher.InputError{Msg: fmt.Sprintf("filesystem %s: %v", p.FS, err)}
	}
	in := place.FS{Name: filepath.Base(p.FS), Kind: p.FSKind}
	if st.IsDir() {
		in.Dir = p.FS
	} else if in.Image, err = os.ReadFile(p.FS); err != nil {
		return placed{}, &flasher.InputError{Msg: fmt.Sprintf("filesystem image %s: %v", p.FS, err)}
	}
	im, err := place.Filesystem(pt, from, in)
	if err != nil {
		return placed{}, &flasher.InputError{Msg: err.Error()}
	}
	name := fmt.Sprintf("%s (%s)", in.Name, im.Kind)
	if im.Files >= 0 {
		name = fmt.Sprintf("%s/ (%s, %d files)", in.Name, im.Kind, im.Files)
	}
	return placed{Region: flasher.Region{Addr: im.Partition.Offset, Data: im.Data, Name: name}, why: im.Partition.Label + ", from " + from}, nil
}

// SplitAdvice words place.Split's error for the TUI, which has no way to
// force another chip's image (nor should it: the bootloader refuses it).
func SplitAdvice(err error) string {
	var oc *place.OtherChipError
	if errors.As(err, &oc) {
		return oc.Advice()
	}
	return err.Error()
}

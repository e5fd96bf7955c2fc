package provision

import (
	"context"
	"fmt"

	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
)

// chooseESP32 finds the filesystem of an ESP32-family board in its
// partition table (filesystem-images.md §1.2) and decides what else goes
// into flash. The table is, in this order: the one inside a merged --app
// image, Options.Partitions, the one the chip holds at 0x8000 (read with
// the loader: 0xC00 bytes, which READ_FLASH_SLOW on a ROM loader moves in
// 48 requests), or — on a chip without one — the arduino-esp32 default
// for its flash size. A table that did not come from the chip is written
// to 0x8000 in the same flash step. --app is a merged image (bootloader at
// the chip's offset and a table at 0x8000, as merge-bin lays them out,
// written at 0x0) or an app image (written at the boot app partition).
func (r *run) chooseESP32(ctx context.Context) (fsimage.Geometry, error) {
	chip := r.info.Chip.Name
	var pt *layout.PartitionTable
	var from string
	write, merged := true, false
	if len(r.o.App) > 0 {
		var inner *layout.PartitionTable
		var err error
		merged, inner, err = splitApp(r.o.App, chip)
		if err != nil {
			return fsimage.Geometry{}, err
		}
		if merged {
			if r.o.Partitions != "" {
				return fsimage.Geometry{}, fmt.Errorf("--app %s is a merged image with its own partition table, and --partitions %s names another: drop --partitions (the merged image's table is the one its bootloader reads)", r.appName(), r.o.Partitions)
			}
			pt, from, write = inner, "the merged image "+r.appName(), false
		}
	}
	var err error
	switch {
	case pt != nil:
	case r.o.Partitions != "":
		if pt, from, err = layout.LoadTable(r.o.Partitions, r.flash); err != nil {
			return fsimage.Geometry{}, err
		}
	default:
		if pt, err = r.chipTable(ctx); err != nil {
			return fsimage.Geometry{}, err
		}
		from, write = fmt.Sprintf("the chip at 0x%x", layout.PartitionTableOffset), false
		if pt == nil {
			var scheme string
			if pt, scheme, err = place.DefaultTable(r.flash); err != nil {
				return fsimage.Geometry{}, fmt.Errorf("the chip has no partition table and %w with --partitions", err)
			}
			from, write = "scheme "+scheme+" (the chip had no table)", true
			r.event(StepImage, KindProgress, fmt.Sprintf("no partition table on the chip at 0x%x: writing arduino-esp32's %s scheme", layout.PartitionTableOffset, scheme))
		}
	}
	if err := pt.Validate(r.flash); err != nil {
		return fsimage.Geometry{}, fmt.Errorf("partition table from %s: %w", from, err)
	}
	p, err := pt.FS()
	if r.o.FSPartition != "" {
		p, err = pt.ByLabel(r.o.FSPartition)
	}
	if err != nil {
		return fsimage.Geometry{}, fmt.Errorf("partition table from %s: %w (--fs-partition LABEL picks one)", from, err)
	}
	g, err := fsimage.ForESP32Partition(p)
	if err != nil {
		return fsimage.Geometry{}, err
	}
	r.tableFrom, r.pt = from, pt
	r.table, r.appAt = nil, 0
	if write {
		if r.table, err = pt.Binary(); err != nil {
			return fsimage.Geometry{}, err
		}
	}
	if len(r.o.App) > 0 && !merged {
		app, err := place.AppPartition(pt, len(r.o.App))
		if err != nil {
			return fsimage.Geometry{}, fmt.Errorf("--app %s: %w", r.appName(), err)
		}
		r.appAt = app.Offset
	}
	return g, nil
}

func (r *run) appName() string {
	if r.o.AppName != "" {
		return r.o.AppName
	}
	return "(application)"
}

// chipTable reads the partition table the bootloader would read; nil
// when that flash is erased.
func (r *run) chipTable(ctx context.Context) (*layout.PartitionTable, error) {
	b, err := r.loader.ReadFlash(ctx, layout.PartitionTableOffset, layout.PartitionTableMaxLen)
	if err != nil {
		return nil, fmt.Errorf("reading the partition table at 0x%x: %w", layout.PartitionTableOffset, err)
	}
	pt, err := place.ChipTable(b, layout.PartitionTableOffset)
	if err != nil {
		return nil, fmt.Errorf("%w; pass --partitions (a CSV, or a scheme such as default) to write a good one", err)
	}
	return pt, nil
}

// splitApp is place.Split with --app in its errors.
func splitApp(app []byte, chip string) (merged bool, table *layout.PartitionTable, err error) {
	if merged, table, err = place.Split(app, chip); err != nil {
		return false, nil, fmt.Errorf("--app: %w", err)
	}
	return merged, table, nil
}

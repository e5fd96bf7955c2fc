// Package place decides where files go in the flash of an ESP32-family
// chip, for every front end that writes them (write-flash, provision, the
// TUI's Flash view): an application file is either an app image, which
// belongs at the boot app partition of the partition table, or a merged
// image (bootloader, table and app, as merge-bin and arduino-cli lay them
// out), which belongs at 0x0; a filesystem goes into the table's
// spiffs/littlefs partition, built or checked for that partition's size.
// It reads nothing from a chip: callers pass what they read.
package place

import (
	"fmt"

	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
)

// OtherChipError is an image (or part of a merged one) built for another
// chip: the chip's bootloader would refuse it.
type OtherChipError struct {
	// What names the image ("the app image", "the bootloader at 0x0 of
	// the merged image"); Built is "the ESP32-S3" (or "another chip").
	What, Built, Chip string
	// Err is image.CheckChipID's error.
	Err error
}

func (e *OtherChipError) Error() string { return e.What + ": " + e.Err.Error() }

func (e *OtherChipError) Unwrap() error { return e.Err }

// Advice says it for a front end that cannot force the write (the
// bootloader checks the ID, so forcing only makes a board that does not
// start): what the image is built for and how to build the right one.
func (e *OtherChipError) Advice() string {
	return fmt.Sprintf("%s is built for %s, not the %s: build it for the %s (arduino-cli: its --fqbn; PlatformIO: the env's board)", e.What, e.Built, e.Chip, e.Chip)
}

// Split tells a merged image from an app image by what a merged one
// holds: the bootloader at the chip's bootloader offset and a partition
// table at 0x8000 (esp-serial-protocol.md §14.4; on the S3/C3/C6/H2 the
// bootloader is at 0x0, so both kinds start with 0xE9 there). Every image
// inside must be for chip. A merged image comes with its table.
func Split(app []byte, chip string) (merged bool, table *layout.PartitionTable, err error) {
	blOff, err := image.BootloaderOffset(chip)
	if err != nil {
		return false, nil, err
	}
	check := func(what string, b []byte) error {
		im, err := image.Parse(b, chip)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := im.CheckChipID(chip); err != nil {
			other := "another chip"
			if im.Extended != nil {
				if name, ok := image.ChipForImageID(im.Extended.ChipID); ok {
					other = "the " + name
				}
			}
			return &OtherChipError{What: what, Built: other, Chip: chip, Err: err}
		}
		return nil
	}
	t := layout.PartitionTableOffset
	if len(app) > t+2 && app[t] == 0xAA && app[t+1] == 0x50 {
		if err := check(fmt.Sprintf("the bootloader at 0x%x of the merged image", blOff), app[blOff:]); err != nil {
			return false, nil, fmt.Errorf("%w (a merged image for the %s has its bootloader at 0x%x: merge it for this chip)", err, chip, blOff)
		}
		pt, err := layout.ParseBinary(app[t:])
		if err != nil {
			return false, nil, fmt.Errorf("the partition table at 0x%x of the merged image: %w", t, err)
		}
		if a, err := pt.BootApp(); err == nil && int(a.Offset) < len(app) {
			if err := check(fmt.Sprintf("the app at 0x%x of the merged image", a.Offset), app[a.Offset:]); err != nil {
				return false, nil, err
			}
		}
		return true, pt, nil
	}
	if len(app) == 0 || app[0] != image.Magic {
		return false, nil, fmt.Errorf("neither an app image (it does not start with 0xE9) nor a merged image (no partition table at 0x%x): choose the sketch's .bin or the output of iotbench merge-bin", t)
	}
	return false, nil, check("the app image", app)
}

// ChipTable reads the bytes a chip holds at its partition table offset
// off (layout.PartitionTableMaxLen of them): nil when that flash is
// erased, an error when it holds something the bootloader would refuse.
func ChipTable(b []byte, off uint32) (*layout.PartitionTable, error) {
	if erased(b) {
		return nil, nil
	}
	pt, err := layout.ParseBinary(b)
	if err != nil {
		return nil, fmt.Errorf("the partition table on the chip at 0x%X is damaged: %w", off, err)
	}
	return pt, nil
}

func erased(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// DefaultTable is arduino-esp32's default partition table for a flash
// size (what the Arduino IDE preselects), and its scheme name.
func DefaultTable(flashSize int) (*layout.PartitionTable, string, error) {
	scheme := layout.ESP32DefaultFor(flashSize)
	if scheme == "" {
		return nil, "", fmt.Errorf("arduino-esp32 has no default partition table for %d MB of flash: give a table (a CSV, or a scheme such as min_spiffs)", flashSize>>20)
	}
	pt, err := layout.ESP32DefaultTable(scheme, flashSize)
	if err != nil {
		return nil, "", err
	}
	return pt, scheme, nil
}

// AppPartition is where an app image of size bytes goes: the partition
// the bootloader boots after a fresh flash (layout.PartitionTable.BootApp),
// checked to hold it.
func AppPartition(pt *layout.PartitionTable, size int) (layout.Partition, error) {
	app, err := pt.BootApp()
	if err != nil {
		return layout.Partition{}, err
	}
	if size > int(app.Size) {
		return layout.Partition{}, fmt.Errorf("the app image is %d bytes but the app partition %s holds %d: use a table with a bigger app partition (huge_app, say)", size, app, app.Size)
	}
	return app, nil
}

// FS is what goes into a filesystem partition: a folder to build an image
// from, or a prepared image.
type FS struct {
	// Dir is the folder to build from ("" when Image is given).
	Dir string
	// Image is a prepared image, checked to fit the partition.
	Image []byte
	// Name names the image in messages (its file name).
	Name string
	// Kind is the filesystem built from Dir (default LittleFS).
	Kind layout.FSKind
	// Options tune the build (reproducible LittleFS times).
	Options fsimage.BuildOptions
	// Label picks the partition when the table has several; "" = the one
	// data partition of subtype spiffs or littlefs.
	Label string
}

// FSImage is a filesystem placed in a partition.
type FSImage struct {
	Partition layout.Partition
	Geometry  fsimage.Geometry
	Data      []byte
	Kind      layout.FSKind
	// Files is how many files were built in (-1 for a prepared image).
	Files int
}

// Filesystem builds (or checks) the image of in for its partition of pt;
// from says where the table came from, for messages. The parameters are
// those the ESP32 cores mount with (filesystem-images.md §1.2:
// fsimage.ForESP32Partition).
func Filesystem(pt *layout.PartitionTable, from string, in FS) (FSImage, error) {
	p, err := pt.FS()
	if in.Label != "" {
		p, err = pt.ByLabel(in.Label)
	}
	if err != nil {
		return FSImage{}, fmt.Errorf("partition table from %s: %w", from, err)
	}
	g, err := fsimage.ForESP32Partition(p)
	if err != nil {
		return FSImage{}, err
	}
	out := FSImage{Partition: p, Geometry: g, Files: -1}
	if in.Dir == "" {
		im, err := fsimage.Open(in.Image, "")
		if err != nil {
			return FSImage{}, fmt.Errorf("%s: %w", in.Name, err)
		}
		if len(in.Image) > g.Size || im.BlockSize != g.BlockSize {
			return FSImage{}, fmt.Errorf("%s: a %s image of %d bytes in %d-byte blocks does not fit %s (%d bytes, %d-byte blocks): rebuild it with iotbench fs build --partitions", in.Name, im.Kind, len(in.Image), im.BlockSize, g.Name, g.Size, g.BlockSize)
		}
		out.Data, out.Kind = in.Image, im.Kind
		return out, nil
	}
	tree, err := fstree.FromDir(in.Dir)
	if err != nil {
		return FSImage{}, err
	}
	kind := in.Kind
	if kind == "" {
		kind = layout.LittleFS
	}
	img, err := fsimage.Build(kind, tree, g, in.Options)
	if err != nil {
		return FSImage{}, fmt.Errorf("building the %s image for %s: %w", kind, g.Name, err)
	}
	out.Data, out.Kind, out.Files = img, kind, len(tree.Files)
	return out, nil
}

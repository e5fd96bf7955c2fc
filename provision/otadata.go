package provision

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// The otadata partition of an ESP32-family board is state the bootloader
// and OTA updates own: the bootloader writes otadata[0] on the first boot
// from an erased one (set_actual_ota_seq), an OTA update switches slots
// in it. So flash that differs from an image only there is not "changed"
// when the board's otadata makes the bootloader start at the same app as
// the image's would (flasher/otadata's selection rules, the ones the
// virtual board's bootloader runs); when it starts elsewhere — after an
// OTA update into app1, say — the image's otadata is written back, so the
// board boots the app provision just wrote.

// otadataPart is the table's otadata partition.
func (r *run) otadataPart() (layout.Partition, bool) {
	if r.pt == nil {
		return layout.Partition{}, false
	}
	od := otadata.SlotsOf(r.pt).OTAData
	if od == nil || od.Size < otadata.SectorSize+otadata.EntrySize {
		return layout.Partition{}, false
	}
	return *od, true
}

// chipSelection reads the board's otadata partition and what the
// bootloader makes of it.
func (r *run) chipSelection(ctx context.Context, od layout.Partition) (otadata.Selection, error) {
	b, err := r.loader.ReadFlash(ctx, od.Offset, int(od.Size))
	if err != nil {
		return otadata.Selection{}, fmt.Errorf("reading otadata at 0x%x: %w", od.Offset, err)
	}
	return otadata.Select(r.pt, b)
}

// slotName names a boot index for messages: "app1 (ota_1)".
func (r *run) slotName(index int) string {
	if p := otadata.SlotsOf(r.pt).Partition(index); p != nil {
		return fmt.Sprintf("%s (%s)", p.Label, p.SubTypeName)
	}
	return fmt.Sprintf("boot index %d", index)
}

// outsideOTAData decides a region holding the whole otadata partition
// (a merged image) whose MD5 did not match: the rest is compared by MD5,
// otadata by what it selects. same: the board holds the image as far as
// booting goes; otherwise sub, when not nil, is the only part to write
// (the image's otadata), else the whole region is.
func (r *run) outsideOTAData(ctx context.Context, g region, od layout.Partition) (same bool, how string, sub *region, err error) {
	end := g.Addr + uint32(len(g.Data))
	if od.Offset < g.Addr || od.Offset+od.Size > end {
		return false, "", nil, nil
	}
	lo, hi := od.Offset-g.Addr, od.Offset+od.Size-g.Addr
	for _, part := range [][2]uint32{{0, lo}, {hi, uint32(len(g.Data))}} {
		if part[0] == part[1] {
			continue
		}
		want := md5.Sum(g.Data[part[0]:part[1]])
		got, err := r.loader.FlashMD5(g.Addr+part[0], int(part[1]-part[0]))
		if err != nil || got != hex.EncodeToString(want[:]) {
			// No MD5 (the ESP8266 ROM, which has no otadata) or flash
			// that differs outside otadata: the whole region is written.
			return false, "", nil, nil
		}
	}
	image, err := otadata.Select(r.pt, g.Data[lo:hi])
	if err != nil {
		return false, "", nil, err
	}
	board, err := r.chipSelection(ctx, od)
	if err != nil {
		return false, "", nil, err
	}
	if board.Index == image.Index {
		return true, fmt.Sprintf("MD5 matches outside otadata; the board's otadata boots %s, as the image's does", r.slotName(image.Index)), nil, nil
	}
	r.event(StepFlash, KindProgress, fmt.Sprintf("%s matches outside otadata, but the board's otadata at 0x%x boots %s and the image's %s: writing the image's otadata", g.Name, od.Offset, r.slotName(board.Index), r.slotName(image.Index)))
	whole := g.Region
	return false, "", &region{Region: flasher.Region{Addr: od.Offset, Data: g.Data[lo:hi], Name: g.Name + " otadata"}, used: int(od.Size), whole: &whole}, nil
}

// appOTAData is the otadata to write with an app image (not a merged
// one) so that the board boots the partition the app goes to, as the
// Arduino IDE writes boot_app0.bin at 0xe000 with every upload: nothing
// when the board's otadata already starts there.
func (r *run) appOTAData(ctx context.Context) (*region, error) {
	od, ok := r.otadataPart()
	if !ok || len(r.o.App) == 0 || r.appAt == 0 {
		return nil, nil
	}
	s := otadata.SlotsOf(r.pt)
	var target int
	found := false
	for i := range r.pt.Partitions {
		if p := r.pt.Partitions[i]; p.Offset == r.appAt {
			target, found = s.IndexOf(p)
		}
	}
	if !found {
		return nil, nil
	}
	board, err := r.chipSelection(ctx, od)
	if err != nil {
		return nil, err
	}
	if board.Index == target {
		return nil, nil
	}
	r.event(StepFlash, KindProgress, fmt.Sprintf("the board's otadata at 0x%x boots %s, not %s where %s goes: writing otadata that boots it", od.Offset, r.slotName(board.Index), r.slotName(target), r.appName()))
	data := otadata.Selecting(target, int(od.Size))
	return &region{Region: flasher.Region{Addr: od.Offset, Data: data, Name: "otadata"}, used: trimErased(data)}, nil
}

package provision

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
)

// region is one thing to put into flash, and how much of it is not the
// erased state.
type region struct {
	flasher.Region
	// used is the length up to the last sector that is not all 0xFF: the
	// rest only needs erasing (a filesystem image is mostly empty).
	used int
	// whole, when set, is the region this one is part of: once written,
	// the board holds all of whole, and the ledger records that.
	whole *flasher.Region
}

func trimErased(data []byte) int {
	end := len(data)
	for end > 0 {
		start := max(0, (end-1)/flasher.SectorSize*flasher.SectorSize)
		if !allErased(data[start:end]) {
			break
		}
		end = start
	}
	return end
}

func allErased(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

func (r *run) flashRegions(ctx context.Context) (string, bool, error) {
	var regs []region
	if len(r.o.App) > 0 {
		name := r.o.AppName
		if name == "" {
			name = "application"
		}
		regs = append(regs, region{Region: flasher.Region{Addr: r.appAt, Data: r.o.App, Name: name}, used: len(r.o.App)})
	}
	if r.table != nil {
		regs = append(regs, region{Region: flasher.Region{Addr: layout.PartitionTableOffset, Data: r.table, Name: "partition table"}, used: len(r.table)})
	}
	regs = append(regs, region{Region: flasher.Region{Addr: r.fsAt, Data: r.fsImage, Name: "filesystem"}, used: trimErased(r.fsImage)})
	if od, err := r.appOTAData(ctx); err != nil {
		return "", false, err
	} else if od != nil {
		regs = append(regs, *od)
	}
	var plain []flasher.Region
	for _, g := range regs {
		plain = append(plain, g.Region)
	}
	if err := flasher.CheckRegions(plain, r.flash); err != nil {
		return "", false, err
	}
	// An ESP32-family ROM bounds flash access by the size SPI_SET_PARAMS
	// gave it, 2 MB until then (virtualboard/rom32.go): the MD5 of a
	// filesystem above 2 MB failed, and the check fell back to the ledger.
	// esptool sets the size before any flash command too.
	if err := r.loader.SetFlashParams(r.flash); err != nil {
		return "", false, err
	}
	var msgs []string
	var todo []region
	for _, g := range regs {
		same, how, err := r.unchanged(ctx, g)
		if err != nil {
			return "", false, err
		}
		if od, ok := r.otadataPart(); ok && !same {
			var sub *region
			if same, how, sub, err = r.outsideOTAData(ctx, g, od); err != nil {
				return "", false, err
			}
			if sub != nil {
				g = *sub
			}
		}
		if same {
			msgs = append(msgs, fmt.Sprintf("%s at 0x%x unchanged (%s)", g.Name, g.Addr, how))
			r.event(StepFlash, KindProgress, msgs[len(msgs)-1])
			continue
		}
		todo = append(todo, g)
	}
	if len(todo) == 0 {
		return strings.Join(msgs, "; "), true, nil
	}
	r.changed = true
	if err := r.write(ctx, todo); err != nil {
		return "", false, err
	}
	for _, g := range todo {
		msgs = append(msgs, fmt.Sprintf("%s: %d KiB at 0x%x", g.Name, len(g.Data)>>10, g.Addr))
		rec := g.Region
		if g.whole != nil {
			rec = *g.whole
		}
		r.rec.Flashed = setFlashed(r.rec.Flashed, FlashedRegion{Name: rec.Name, Offset: rec.Addr, Size: len(rec.Data), SHA256: sha(rec.Data)})
	}
	// The ledger learns what the board holds as soon as it holds it.
	r.rec.MAC, r.rec.Chip = r.mac, r.info.Chip.Name
	r.rec.Layout, r.rec.FS = r.lay, string(r.o.FS)
	if r.o.Ledger != nil {
		if err := r.o.Ledger.Put(r.rec); err != nil {
			return "", false, err
		}
	}
	return "wrote " + strings.Join(msgs, "; "), false, nil
}

func setFlashed(list []FlashedRegion, f FlashedRegion) []FlashedRegion {
	var out []FlashedRegion
	for _, e := range list {
		// A region that overlaps the new one is gone.
		if e.Offset < f.Offset+uint32(f.Size) && f.Offset < e.Offset+uint32(e.Size) {
			continue
		}
		out = append(out, e)
	}
	return append(out, f)
}

// unchanged decides whether the board already holds g. The chip is the
// truth: with an MD5-capable loader (a stub, or an ESP32-family ROM) the
// region's MD5 is compared whatever the ledger says. The ESP8266 ROM has no
// MD5 (esp-serial-protocol.md §7.8): there the ledger must say the board
// holds this exact image, and reading back its first and last used
// sectors must agree.
func (r *run) unchanged(ctx context.Context, g region) (bool, string, error) {
	want := md5.Sum(g.Data)
	got, err := r.loader.FlashMD5(g.Addr, len(g.Data))
	if err == nil {
		return got == hex.EncodeToString(want[:]), "MD5 " + got[:8] + "… matches", nil
	}
	if r.rec == nil {
		return false, "", nil
	}
	found := false
	for _, f := range r.rec.Flashed {
		if f.Offset == g.Addr && f.Size == len(g.Data) && f.SHA256 == sha(g.Data) {
			found = true
		}
	}
	if !found {
		return false, "", nil
	}
	samples := []uint32{0}
	if last := max(0, (g.used-1)/flasher.SectorSize*flasher.SectorSize); last > 0 {
		samples = append(samples, uint32(last))
	}
	for _, off := range samples {
		n := min(flasher.SectorSize, len(g.Data)-int(off))
		b, err := r.loader.ReadFlash(ctx, g.Addr+off, n)
		if err != nil {
			return false, "", err
		}
		if !bytes.Equal(b, g.Data[off:int(off)+n]) {
			r.event(StepFlash, KindProgress, fmt.Sprintf("%s at 0x%x differs from what the ledger recorded: rewriting", g.Name, g.Addr+off))
			return false, "", nil
		}
	}
	return true, fmt.Sprintf("ledger, and %d sampled sectors read back; the ESP8266 ROM cannot hash flash", len(samples)), nil
}

// write puts the regions into flash. Only the used part of each is sent;
// the erased tail is erased, which leaves the same bytes in far less time
// on a ROM loader that cannot compress.
func (r *run) write(ctx context.Context, todo []region) error {
	var wr []flasher.Region
	var tails [][2]int
	for _, g := range todo {
		used := (g.used + flasher.SectorSize - 1) / flasher.SectorSize * flasher.SectorSize
		used = min(used, len(g.Data))
		if used == 0 {
			used = min(flasher.SectorSize, len(g.Data))
		}
		wr = append(wr, flasher.Region{Addr: g.Addr, Data: g.Data[:used], Name: g.Name})
		if used < len(g.Data) {
			tails = append(tails, [2]int{int(g.Addr) + used, len(g.Data) - used})
		}
	}
	for _, t := range tails {
		r.event(StepFlash, KindProgress, fmt.Sprintf("erasing 0x%x..0x%x (empty part of the image)", t[0], t[0]+t[1]))
		if err := r.loader.EraseRegion(ctx, uint32(t[0]), t[1]); err != nil {
			return err
		}
	}
	total := 0
	for _, w := range wr {
		total += len(w.Data)
	}
	done := 0
	r.onFlasher = func(e flasher.Event) {
		switch e := e.(type) {
		case flasher.ProgressEvent:
			if e.Phase == "write" {
				r.emit(Event{Board: r.t.Name, Step: StepFlash, Kind: KindProgress, Done: int64(done + e.Done), Total: int64(total)})
			}
		case flasher.WrittenEvent:
			done += e.Size
		case flasher.WarningEvent:
			r.event(StepFlash, KindProgress, e.Message)
		}
	}
	defer func() { r.onFlasher = nil }()
	return r.loader.WriteFlash(ctx, wr, flasher.WriteOptions{})
}

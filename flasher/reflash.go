package flasher

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/ledger"
	"github.com/iotbench/iotbench/flasher/target"
)

// Fast reflash: write only the 4 KiB sectors of a region that do not
// already hold the new bytes. What flash holds is known from the flash
// ledger (what iotbench last wrote and verified on this board), from a
// file the caller says was flashed before (esptool 5's --diff-with), or
// by asking the chip for MD5s of runs of sectors, narrowing down from the
// whole run to 64 KiB blocks to single sectors. Whatever the source, the
// whole region is verified against the chip afterwards; if it does not
// match, the caller writes the region whole. Sectors are compared as the
// flash reads after a write: the last one padded with 0xFF, since the
// loaders erase whole sectors.

// probeChunks are the chunk sizes, in sectors, that a comparison with the
// chip narrows a run of unknown sectors down with: 0 is the whole run,
// then 64 KiB blocks, then single sectors. A run that matches costs one
// MD5; one changed sector in 1 MiB costs 1 + 16 + 16 MD5s and reads the
// run once plus one block. BenchmarkProbeStrategies measures this against
// per-sector MD5s and bisection.
var probeChunks = []int{0, 16, 1}

// secRun is a run of sectors of a region: [first, first+count).
type secRun struct{ first, count int }

// runsOf turns per-sector flags into runs of set sectors.
func runsOf(flags []bool) []secRun {
	var out []secRun
	for i := 0; i < len(flags); {
		if !flags[i] {
			i++
			continue
		}
		j := i
		for j < len(flags) && flags[j] {
			j++
		}
		out = append(out, secRun{i, j - i})
		i = j
	}
	return out
}

// padSectors pads data with 0xFF to whole sectors: what flash reads back
// after writing it.
func padSectors(data []byte) []byte {
	n := (len(data) + SectorSize - 1) / SectorSize * SectorSize
	return append(append(make([]byte, 0, n), data...), bytes.Repeat([]byte{0xFF}, n-len(data))...)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// reflash writes the sectors of r that differ and verifies the region.
// done false with a nil error means the region did not verify afterwards
// (flash did not hold what the ledger or --diff-with said): the caller
// writes it whole.
func (l *Loader) reflash(ctx context.Context, r Region, compress bool, o WriteOptions, bk *book) (bool, error) {
	start := time.Now()
	data := r.Data
	padded := padSectors(data)
	n := len(padded) / SectorSize
	local := ledger.SectorMD5s(data)
	known := make([]string, n)
	var basis []string
	if old, ok := o.Diff.With[r.Addr]; ok {
		// esptool 5 compares against the old file as written: padded,
		// header rewritten the same way, bytes past its end read as
		// erased (cmds.py _diff_flash_regions).
		old = padTo(old, 4)
		if p, _, _, err := image.PatchFlashParams(old, l.chip.Name, r.Addr, orKeep(o.FlashMode), orKeep(o.FlashSize), orKeep(o.FlashFreq), ""); err == nil {
			old = p
		}
		oldSec := ledger.SectorMD5s(append(old[:min(len(old), len(padded)):min(len(old), len(padded))], bytes.Repeat([]byte{0xFF}, max(0, len(padded)-len(old)))...))
		copy(known, oldSec)
		basis = append(basis, "diff-with")
	} else if bk != nil {
		from := false
		for i := range known {
			known[i], _ = bk.sectorMD5(r.Addr + uint32(i*SectorSize))
			from = from || known[i] != ""
		}
		if from {
			basis = append(basis, "ledger")
		}
	}
	changed := make([]bool, n)
	unknown := make([]bool, n)
	for i := range known {
		if known[i] == "" {
			unknown[i] = true
		} else {
			changed[i] = known[i] != local[i]
		}
	}
	detail := "chip MD5"
	if len(basis) > 0 {
		detail = basis[0]
	}
	l.emit(PhaseEvent{Phase: "compare", Addr: r.Addr, Size: len(data), Detail: detail})
	unknownRuns := runsOf(unknown)
	if len(unknownRuns) > 0 {
		basis = append(basis, "chip")
	}
	pr := prober{l: l, ctx: ctx, addr: r.Addr, padded: padded, changed: changed}
	for _, u := range unknownRuns {
		if err := pr.run(u, 0, false); err != nil {
			return false, err
		}
	}
	wholeMatched := len(unknownRuns) == 1 && unknownRuns[0] == secRun{0, n} && pr.topMatched
	runs := runsOf(changed)
	ev := DiffEvent{Addr: r.Addr, Size: len(data), Sectors: n, Basis: strings.Join(basis, "+"), Probes: pr.probes, Elapsed: time.Since(start)}
	for _, w := range runs {
		ev.Write = append(ev.Write, SectorRun{Addr: r.Addr + uint32(w.first*SectorSize), Size: w.count * SectorSize})
		ev.Changed += w.count
	}
	l.emit(ev)
	if len(runs) > 0 {
		bk.forget(r.Addr, len(data))
	}
	compressed := 0
	for _, w := range runs {
		chunk := data[w.first*SectorSize : min(len(data), (w.first+w.count)*SectorSize)]
		c, err := l.transfer(ctx, r.Addr+uint32(w.first*SectorSize), chunk, compress, o, target.StubFlashWriteSize)
		if err != nil {
			return false, err
		}
		compressed += c
	}
	if !(len(runs) == 0 && wholeMatched) {
		l.emit(PhaseEvent{Phase: "verify", Addr: r.Addr, Size: len(padded), Detail: "SPI_FLASH_MD5"})
		got, err := l.FlashMD5(r.Addr, len(padded))
		if err != nil {
			return false, err
		}
		if got != md5Hex(padded) {
			if len(runs) == 0 {
				l.warn("flash at 0x%X does not hold what %s says (MD5 %s, expected %s): it was changed behind iotbench's back; writing the region whole", r.Addr, ev.Basis, got, md5Hex(padded))
			} else {
				l.warn("after writing %d changed sectors, flash at 0x%X still differs (MD5 %s, expected %s): the %s was out of date; writing the region whole", ev.Changed, r.Addr, got, md5Hex(padded), ev.Basis)
			}
			return false, nil
		}
	}
	l.emit(WrittenEvent{Addr: r.Addr, Size: len(data), Compressed: compressed, MD5: md5Hex(data), Verified: true, VerifiedBy: "md5",
		Skipped: len(runs) == 0, SectorsWritten: ev.Changed, SectorsSkipped: n - ev.Changed, Elapsed: time.Since(start)})
	return true, nil
}

// prober compares runs of sectors with the chip by MD5, narrowing down
// through probeChunks.
type prober struct {
	l          *Loader
	ctx        context.Context
	addr       uint32
	padded     []byte
	changed    []bool
	probes     int
	topMatched bool
}

// same asks the chip whether sectors [first, first+count) hold padded's.
func (p *prober) same(first, count int) (bool, error) {
	if err := p.ctx.Err(); err != nil {
		return false, err
	}
	p.probes++
	got, err := p.l.FlashMD5(p.addr+uint32(first*SectorSize), count*SectorSize)
	if err != nil {
		return false, err
	}
	return got == md5Hex(p.padded[first*SectorSize:(first+count)*SectorSize]), nil
}

// run compares u at probeChunks[level]; differs says the caller already
// knows u as a whole differs, so when every chunk but the last matched,
// the last one differs without asking.
func (p *prober) run(u secRun, level int, differs bool) error {
	if level >= len(probeChunks) {
		// Narrowed down as far as configured: all of u is written.
		for i := u.first; i < u.first+u.count && differs; i++ {
			p.changed[i] = true
		}
		return nil
	}
	size := probeChunks[level]
	if size <= 0 || size > u.count {
		size = u.count
	}
	if differs && size == u.count {
		// This level would ask about u itself again.
		if u.count == 1 {
			p.changed[u.first] = true
			return nil
		}
		return p.run(u, level+1, true)
	}
	allSame := true
	for c := u.first; c < u.first+u.count; c += size {
		k := min(size, u.first+u.count-c)
		last := c+k == u.first+u.count
		var same bool
		if last && differs && allSame {
			same = false
		} else {
			var err error
			if same, err = p.same(c, k); err != nil {
				return err
			}
		}
		if level == 0 && k == u.count {
			p.topMatched = same
		}
		if same {
			continue
		}
		allSame = false
		if k == 1 {
			p.changed[c] = true
			continue
		}
		if err := p.run(secRun{c, k}, level+1, true); err != nil {
			return err
		}
	}
	return nil
}

// book is the ledger's record of the connected board during one
// WriteFlash. A nil book does nothing. The ledger is a hint: failing to
// read or save it costs speed, never correctness, so its errors are
// warnings.
type book struct {
	l     *Loader
	led   *ledger.Ledger
	board *ledger.Board
}

func (l *Loader) openBook(led *ledger.Ledger) *book {
	if led == nil {
		return nil
	}
	info := l.info
	if info == nil {
		var err error
		if info, err = l.ReadChipInfo(); err != nil {
			l.warn("flash ledger not used: reading the MAC failed: %v", err)
			return nil
		}
	}
	board, err := led.Load(info.MAC)
	if err != nil {
		l.warn("flash ledger not used: %v", err)
		return nil
	}
	id, err := l.FlashID()
	if err != nil {
		l.warn("flash ledger not used: %v", err)
		return nil
	}
	if (board.FlashID != 0 && board.FlashID != id) || (board.Chip != "" && board.Chip != l.chip.Name) {
		l.warn("flash ledger: board %s was recorded with another chip or flash (%s, JEDEC 0x%06X; now %s, 0x%06X): starting its record over",
			board.MAC, board.Chip, board.FlashID, l.chip.Name, id)
		board.Regions = nil
	}
	board.FlashID, board.Chip = id, l.chip.Name
	return &book{l: l, led: led, board: board}
}

func (b *book) sectorMD5(addr uint32) (string, bool) {
	if b == nil {
		return "", false
	}
	return b.board.SectorMD5(addr)
}

// forget drops what the ledger knows about [addr, addr+n) before flash
// there changes, so a write cut short leaves no record that lies.
func (b *book) forget(addr uint32, n int) {
	if b == nil || !b.board.Overlaps(addr, n) {
		return
	}
	b.board.Forget(addr, n)
	b.save()
}

// put records data as verified at addr.
func (b *book) put(addr uint32, data []byte, name string) {
	if b == nil {
		return
	}
	b.board.Put(ledger.NewRegion(addr, data, name, time.Now()))
	b.save()
}

func (b *book) save() {
	if err := b.led.Save(b.board); err != nil {
		b.l.warn("flash ledger not saved (the next reflash compares with the chip instead): %v", err)
	}
}

// ForgetLedger drops what led records about [offset, offset+size) on the
// connected board: for erases, and writes made without the ledger.
func (l *Loader) ForgetLedger(led *ledger.Ledger, offset uint32, size int) {
	l.openBook(led).forget(offset, size)
}

// String describes a run for messages.
func (r SectorRun) String() string {
	return fmt.Sprintf("0x%X..0x%X", r.Addr, uint64(r.Addr)+uint64(r.Size)-1)
}

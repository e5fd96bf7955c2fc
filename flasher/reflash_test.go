package flasher_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ledger"
	"github.com/iotbench/iotbench/virtualboard"
)

// reflashRig is one board and one open session with a recorder and the
// events of the last write.
type reflashRig struct {
	t   *testing.T
	b   *virtualboard.Board
	l   *flasher.Loader
	rec *recorder
	c   *collector
}

func newReflashRig(t *testing.T, cfg virtualboard.Config, stubFile string) *reflashRig {
	r := &reflashRig{t: t, b: newBoard(t, cfg), c: &collector{}}
	r.rec = &recorder{Port: mustPort(t, r.b)}
	o := sessionOptions("rig", r.c)
	o.NoStub, o.StubFile = stubFile == "", stubFile
	o.Baud = 921600
	l, _, err := flasher.Open(context.Background(), r.rec, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	r.l = l
	return r
}

// write runs WriteFlash and returns the requests it sent, its diff event
// (if any), its written event, and its warnings.
func (r *reflashRig) write(region flasher.Region, o flasher.WriteOptions) ([]flasher.Request, *flasher.DiffEvent, flasher.WrittenEvent, []string) {
	r.t.Helper()
	n, e := len(r.rec.since(0)), len(r.c.events)
	if err := r.l.WriteFlash(context.Background(), []flasher.Region{region}, o); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	if got := r.b.Flash().Read(region.Addr, len(region.Data)); !bytes.Equal(got, region.Data) {
		r.t.Fatalf("flash differs at 0x%X after the write", uint32(firstDiff(got, region.Data))+region.Addr)
	}
	var diff *flasher.DiffEvent
	var written flasher.WrittenEvent
	var warnings []string
	for _, ev := range r.c.events[e:] {
		switch ev := ev.(type) {
		case flasher.DiffEvent:
			diff = &ev
		case flasher.WrittenEvent:
			written = ev
		case flasher.WarningEvent:
			warnings = append(warnings, ev.Message)
		}
	}
	return r.rec.since(n), diff, written, warnings
}

func count(reqs []flasher.Request, ops ...byte) int {
	n := 0
	for _, q := range reqs {
		for _, op := range ops {
			if q.Op == op {
				n++
			}
		}
	}
	return n
}

// Issue 10's acceptance for fast reflash, on an ESP32-C3 through its ROM:
// an unchanged 1 MiB image writes nothing (one MD5 to verify it), one
// changed sector writes one sector, and flash changed behind the ledger's
// back is noticed by that verification and rewritten.
func TestFastReflashWithLedger(t *testing.T) {
	r := newReflashRig(t, virtualboard.Config{Chip: "ESP32-C3"}, "")
	led := ledger.At(t.TempDir())
	o := flasher.WriteOptions{Ledger: led, Diff: &flasher.DiffOptions{}}
	app := flasher.Region{Addr: 0x10000, Data: firmwareLike(1<<20, 3), Name: "app.bin"}

	// First write: the ledger knows nothing, the chip is asked.
	_, diff, w, _ := r.write(app, o)
	if diff == nil || diff.Basis != "chip" || diff.Changed != 256 || w.SectorsWritten != 256 || !w.Verified {
		t.Fatalf("first write: diff %+v written %+v", diff, w)
	}
	rec, err := led.Load(r.l.Info().MAC)
	if err != nil || len(rec.Regions) != 1 || rec.Regions[0].Offset != 0x10000 || len(rec.Regions[0].Sectors) != 256 {
		t.Fatalf("ledger after the first write: %+v %v", rec, err)
	}

	// Unchanged: nothing written, one MD5 over the region.
	e0, p0 := r.b.Flash().Stats()
	reqs, diff, w, _ := r.write(app, o)
	e1, p1 := r.b.Flash().Stats()
	if diff.Basis != "ledger" || diff.Changed != 0 || diff.Probes != 0 || !w.Skipped || w.SectorsSkipped != 256 {
		t.Fatalf("unchanged: diff %+v written %+v", diff, w)
	}
	if e1 != e0 || p1 != p0 || count(reqs, flasher.OpFlashDeflBegin, flasher.OpFlashDeflData, flasher.OpFlashBegin, flasher.OpFlashData) != 0 {
		t.Fatalf("unchanged image wrote something: %d erases, %d programs", e1-e0, p1-p0)
	}
	if count(reqs, flasher.OpSPIFlashMD5) != 1 {
		t.Fatalf("%d MD5s, want one verification", count(reqs, flasher.OpSPIFlashMD5))
	}

	// One changed sector: one sector erased and programmed (16 pages).
	changed := bytes.Clone(app.Data)
	changed[0x54321] ^= 0xFF
	app2 := flasher.Region{Addr: app.Addr, Data: changed, Name: "app.bin"}
	_, diff, w, _ = r.write(app2, o)
	e2, p2 := r.b.Flash().Stats()
	if diff.Changed != 1 || len(diff.Write) != 1 || diff.Write[0] != (flasher.SectorRun{Addr: 0x64000, Size: 4096}) || w.SectorsWritten != 1 {
		t.Fatalf("one sector: diff %+v written %+v", diff, w)
	}
	if e2-e1 != 1 || p2-p1 != 16 {
		t.Fatalf("one changed sector cost %d erases and %d page programs, want 1 and 16", e2-e1, p2-p1)
	}

	// Behind the ledger's back: the verification notices, the region is
	// written whole, and the ledger is right again afterwards.
	r.b.Flash().Load(0x90000, []byte{0, 0, 0, 0})
	_, _, w, warnings := r.write(app2, o)
	if len(warnings) == 0 || !strings.Contains(warnings[0], "changed behind iotbench's back") {
		t.Fatalf("warnings %q", warnings)
	}
	if w.Skipped || w.SectorsWritten != 0 || !w.Verified || w.Size != len(changed) {
		t.Fatalf("after the fallback: %+v", w)
	}
	_, diff, w, _ = r.write(app2, o)
	if diff.Basis != "ledger" || !w.Skipped {
		t.Fatalf("the ledger should hold the rewrite: %+v %+v", diff, w)
	}
}

// Without a ledger the chip is asked: the whole run first, then 64 KiB
// blocks, then sectors, so one changed sector in 1 MiB costs 1 + 16 + 15
// MD5s (the 16th sector of the differing block is inferred).
func TestFastReflashFromChipAlone(t *testing.T) {
	r := newReflashRig(t, virtualboard.Config{Chip: "ESP32-S3"}, "")
	app := flasher.Region{Addr: 0x10000, Data: randomBytes(21, 1<<20)}
	r.write(app, flasher.WriteOptions{})
	app.Data[0x7FFF0] ^= 1
	reqs, diff, w, _ := r.write(app, flasher.WriteOptions{Diff: &flasher.DiffOptions{}})
	if diff.Basis != "chip" || diff.Changed != 1 || diff.Write[0].Addr != 0x8F000 || w.SectorsWritten != 1 {
		t.Fatalf("diff %+v written %+v", diff, w)
	}
	if diff.Probes != 1+16+15 || count(reqs, flasher.OpSPIFlashMD5) != diff.Probes+1 {
		t.Fatalf("%d probes, %d MD5 commands", diff.Probes, count(reqs, flasher.OpSPIFlashMD5))
	}
}

// --diff-with (esptool 5): the old file is trusted for the plan and the
// result verified; a wrong old file costs a whole write, never a wrong
// flash.
func TestFastReflashDiffWith(t *testing.T) {
	r := newReflashRig(t, virtualboard.Config{Chip: "ESP32"}, "")
	old := randomBytes(31, 300000)
	r.write(flasher.Region{Addr: 0x10000, Data: old}, flasher.WriteOptions{})
	neu := bytes.Clone(old)
	neu[0x3000] ^= 1
	neu[0x4FFF] ^= 1
	neu = append(neu, 1, 2, 3, 4) // lands in the last sector, where old reads 0xFF
	reqs, diff, w, _ := r.write(flasher.Region{Addr: 0x10000, Data: neu}, flasher.WriteOptions{Diff: &flasher.DiffOptions{With: map[uint32][]byte{0x10000: old}}})
	if diff.Basis != "diff-with" || diff.Probes != 0 || len(diff.Write) != 2 || diff.Write[0] != (flasher.SectorRun{Addr: 0x13000, Size: 0x2000}) {
		t.Fatalf("diff %+v", diff)
	}
	if !w.Verified || w.SectorsWritten != 3 || count(reqs, flasher.OpFlashDeflBegin) != 2 {
		t.Fatalf("written %+v, %d begins", w, count(reqs, flasher.OpFlashDeflBegin))
	}
	// A --diff-with file that is not what flash holds: the partial write
	// does not verify, and the region is written whole.
	neu2 := randomBytes(32, 300000)
	wrongOld := bytes.Clone(neu2)
	wrongOld[0] ^= 1
	_, _, w, warnings := r.write(flasher.Region{Addr: 0x10000, Data: neu2}, flasher.WriteOptions{Diff: &flasher.DiffOptions{With: map[uint32][]byte{0x10000: wrongOld}}})
	if len(warnings) == 0 || !strings.Contains(warnings[0], "still differs") || w.SectorsWritten != 0 || !w.Verified {
		t.Fatalf("wrong --diff-with: %q %+v", warnings, w)
	}
}

// Fast reflash also works on the ESP8266 with a stub (raw MD5s); its ROM
// cannot hash flash, so there the region is written whole, with a note.
func TestFastReflashESP8266(t *testing.T) {
	led := ledger.At(t.TempDir())
	o := flasher.WriteOptions{Ledger: led, Diff: &flasher.DiffOptions{}}
	app := flasher.Region{Addr: 0x0, Data: randomBytes(41, 200000)}
	r := newReflashRig(t, virtualboard.Config{}, writeTestStub(t))
	r.write(app, o)
	app.Data[100000] ^= 1
	_, diff, w, _ := r.write(app, o)
	if diff.Basis != "ledger" || diff.Changed != 1 || w.SectorsWritten != 1 {
		t.Fatalf("stub: %+v %+v", diff, w)
	}

	rom := newReflashRig(t, virtualboard.Config{}, "")
	_, diff, w, warnings := rom.write(app, o)
	if diff != nil || w.Verified || len(warnings) == 0 || !strings.Contains(warnings[0], "ESP8266 ROM cannot") {
		t.Fatalf("ROM: %+v %+v %q", diff, w, warnings)
	}
}

package device

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/target"
)

// Plan is what to put into flash.
type Plan struct {
	// App is the application file ("" = none). On an ESP8266 it is
	// written at 0x0. On an ESP32-family chip it is placed by what it is
	// (flasher/place): a merged image at 0x0, an app image at the boot app
	// partition of the partition table; an image for another chip is
	// refused before anything is written.
	App string
	// FS is a folder to build a filesystem image from, or a prepared
	// image file ("" = none); it goes at the layout's filesystem offset
	// (ESP8266) or into the partition table's filesystem partition.
	FS string
	// FSKind is the filesystem built from a folder (default LittleFS).
	FSKind layout.FSKind
	// Layout names the ESP8266 flash layout; "" or "auto" picks it from
	// the chip's flash size (and, for an image, from the image's size).
	// On an ESP32-family chip it names the partition table instead: ""
	// or "auto" is the merged image's own table, else the chip's, else
	// (on a chip without one) arduino-esp32's default, which is then
	// written at 0x8000; an arduino-esp32 scheme name or a table file
	// (CSV or binary) is used and written at 0x8000.
	Layout string
	Verify flasher.VerifyMode
}

// FlashProgress is a batch of the flasher's events.
type FlashProgress struct {
	Events []flasher.Event
}

// FlashDone ends a flash job. The port is released; the monitor is not
// running (the caller restarts it, with a reset, which also brings the
// board out of the loader after a failure or a cancel).
type FlashDone struct {
	Err      error
	Canceled bool
	Facts    *Facts
	// Layout is the layout the filesystem was placed by ("" without FS).
	Layout string
	// Table says which partition table placed the regions of an
	// ESP32-family chip ("" on an ESP8266).
	Table string
	// Regions are the regions written, in address order.
	Regions []RegionInfo
	// ELF is an .elf found next to the application image, which the
	// decoders now use for crash addresses ("" when none was found).
	ELF string
}

// RegionInfo names one region of a plan.
type RegionInfo struct {
	Addr uint32 `json:"addr"`
	Size int    `json:"size"`
	Name string `json:"name"`
	// Why says why the region goes where it goes ("app0, from the
	// chip's partition table"); "" where the address is the plain one.
	Why string `json:"why,omitempty"`
}

// String is "app.bin → 0x10000 (app0, from the chip's partition table)".
func (r RegionInfo) String() string {
	s := fmt.Sprintf("%s → 0x%X", r.Name, r.Addr)
	if r.Why != "" {
		s += " (" + r.Why + ")"
	}
	return s
}

// PlannedEvent is the job's own event, sent once the regions are known
// (after connecting, since the filesystem's place depends on the chip's
// flash size), before anything is written.
type PlannedEvent struct {
	Regions []RegionInfo `json:"regions"`
	Layout  string       `json:"layout,omitempty"`
	Table   string       `json:"table,omitempty"`
}

// EventType names the event in JSON lines.
func (PlannedEvent) EventType() string { return "planned" }

// ErrAutoLayout is wrapped when no layout fits the chip and the image.
var ErrAutoLayout = errors.New("no flash layout fits")

type jobItem struct {
	ev   flasher.Event
	done *FlashDone
}

type job struct {
	cancel context.CancelFunc
	q      *queue[jobItem]
}

// Flash starts writing plan to the board and returns its first progress
// (or its end). Follow it with ReadFlash until FlashDone.
func (d *Device) Flash(p Plan) tea.Cmd {
	return func() tea.Msg {
		if err := d.take("flashing"); err != nil {
			return FlashDone{Err: err}
		}
		ctx, cancel := context.WithCancel(d.ctx)
		j := &job{cancel: cancel, q: newQueue[jobItem]()}
		d.mu.Lock()
		d.job = j
		d.mu.Unlock()
		go d.runFlash(ctx, j, p)
		return d.next(j)
	}
}

// ReadFlash waits for more of the running job.
func (d *Device) ReadFlash() tea.Cmd {
	d.mu.Lock()
	j := d.job
	d.mu.Unlock()
	if j == nil {
		return nil
	}
	return func() tea.Msg { return d.next(j) }
}

// next returns the job's queued events, only the latest progress of each
// region and phase (a view shows where a bar is, not every step to it),
// or the job's end.
func (d *Device) next(j *job) tea.Msg {
	items, _ := j.q.take(1 << 12)
	var evs []flasher.Event
	last := map[string]int{}
	for _, it := range items {
		if it.done != nil {
			if len(evs) > 0 {
				// Deliver the events first; the end is kept for the next read.
				j.q.pushFront(it)
				break
			}
			d.mu.Lock()
			if d.job == j {
				d.job = nil
			}
			d.mu.Unlock()
			return *it.done
		}
		if p, ok := it.ev.(flasher.ProgressEvent); ok {
			k := fmt.Sprintf("%s@%x", p.Phase, p.Addr)
			if i, seen := last[k]; seen && i == len(evs)-1 {
				evs[i] = p
				continue
			}
			last[k] = len(evs)
		}
		evs = append(evs, it.ev)
	}
	return FlashProgress{Events: evs}
}

func (d *Device) runFlash(ctx context.Context, j *job, p Plan) {
	res := FlashDone{}
	defer func() {
		res.Canceled = res.Err != nil && ctx.Err() != nil
		j.cancel()
		d.release()
		j.q.push(jobItem{done: &res})
	}()
	emit := func(e flasher.Event) { j.q.push(jobItem{ev: e}) }
	var app []byte
	if p.App != "" {
		data, err := os.ReadFile(p.App)
		if err != nil {
			res.Err = &flasher.InputError{Msg: fmt.Sprintf("application image %s: %v", p.App, err)}
			return
		}
		app = data
	}
	if p.App == "" && p.FS == "" {
		res.Err = &flasher.InputError{Msg: "nothing to flash: choose an application image, a filesystem folder or image, or both"}
		return
	}
	port, err := d.open(ctx, flasher.InitialBaud(d.cfg.FlashBaud))
	if err != nil {
		res.Err = err
		return
	}
	defer port.Close()
	stubFile, noStub := d.cfg.StubFile, d.cfg.NoStub
	if d.spec.StubFile != "" {
		stubFile, noStub = d.spec.StubFile, false
	}
	stubDirs := d.cfg.StubDirs
	if stubDirs == nil && stubFile == "" && !noStub {
		stubDirs = flasher.StubSearchDirs(ctx)
	}
	l, info, err := flasher.Open(ctx, port, flasher.SessionOptions{
		ConnectOptions: flasher.ConnectOptions{PortName: d.spec.Port, Events: emit, TimeoutScale: d.spec.TimeoutScale},
		Baud:           d.cfg.FlashBaud, NoStub: noStub, StubFile: stubFile, StubDirs: stubDirs,
	})
	if err != nil {
		res.Err = err
		return
	}
	f := factsOf(info)
	res.Facts = &f
	d.setChip(f.Chip)
	if size, err := l.FlashSize(); err == nil {
		f.FlashSize = size
	}
	var regions []placed
	if f.Chip != "" && !image.IsESP8266(f.Chip) {
		var table string
		regions, table, err = esp32Regions(ctx, l, p, app, f)
		if err != nil {
			res.Err = err
			return
		}
		res.Table = table
	} else {
		if p.App != "" {
			regions = append(regions, placed{Region: flasher.Region{Addr: 0, Data: app, Name: filepath.Base(p.App)}})
		}
		if p.FS != "" {
			r, name, err := fsRegion(p, f)
			if err != nil {
				res.Err = err
				return
			}
			res.Layout = name
			regions = append(regions, placed{Region: r})
		}
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].Addr < regions[j].Addr })
	var write []flasher.Region
	for _, r := range regions {
		write = append(write, r.Region)
		res.Regions = append(res.Regions, RegionInfo{Addr: r.Addr, Size: len(r.Data), Name: r.Name, Why: r.why})
	}
	emit(PlannedEvent{Regions: res.Regions, Layout: res.Layout, Table: res.Table})
	if err := l.WriteFlash(ctx, write, flasher.WriteOptions{Verify: p.Verify}); err != nil {
		res.Err = err
		return
	}
	if p.App != "" {
		elf := strings.TrimSuffix(p.App, filepath.Ext(p.App)) + ".elf"
		if _, err := os.Stat(elf); err == nil {
			if msg := d.LoadELF(elf)(); msg.(SymbolsLoaded).Err == nil {
				res.ELF = elf
			}
		}
	}
}

// ResolveLayout picks the ESP8266 layout for a plan: the named one, or
// for "auto" the layouts made for the chip's flash size — the one whose
// filesystem matches the image's size when an image is given, else the
// first with a filesystem (the smallest one, leaving the most room for the
// application and OTA).
func ResolveLayout(name string, flashSize, imageSize, blockSize int) (layout.ESP8266Layout, error) {
	if name != "" && !strings.EqualFold(name, "auto") {
		return layout.ESP8266(name)
	}
	if flashSize <= 0 {
		return layout.ESP8266Layout{}, fmt.Errorf("%w: the chip's flash size is unknown; choose a layout", ErrAutoLayout)
	}
	var fits []string
	for _, l := range layout.ESP8266ForFlash(flashSize) {
		if !l.HasFS() {
			continue
		}
		if imageSize == 0 || layout.CheckFSImage(imageSize, blockSize, l) == nil {
			return l, nil
		}
		fits = append(fits, l.Name)
	}
	if imageSize > 0 {
		return layout.ESP8266Layout{}, fmt.Errorf("%w: the %d-byte filesystem image matches none of the %s layouts (%s): rebuild it for one of them",
			ErrAutoLayout, imageSize, target.SizeName(flashSize), strings.Join(fits, ", "))
	}
	return layout.ESP8266Layout{}, fmt.Errorf("%w: iotbench knows no ESP8266 layout for %s of flash", ErrAutoLayout, target.SizeName(flashSize))
}

// fsRegion builds or checks the filesystem image of a plan for the chip.
func fsRegion(p Plan, f Facts) (flasher.Region, string, error) {
	st, err := os.Stat(p.FS)
	if err != nil {
		return flasher.Region{}, "", &flasher.InputError{Msg: fmt.Sprintf("filesystem %s: %v", p.FS, err)}
	}
	if !st.IsDir() {
		img, err := os.ReadFile(p.FS)
		if err != nil {
			return flasher.Region{}, "", &flasher.InputError{Msg: fmt.Sprintf("filesystem image %s: %v", p.FS, err)}
		}
		im, err := fsimage.Open(img, "")
		if err != nil {
			return flasher.Region{}, "", &flasher.InputError{Msg: fmt.Sprintf("%s: %v", p.FS, err)}
		}
		l, err := ResolveLayout(p.Layout, f.FlashSize, len(img), im.BlockSize)
		if err != nil {
			return flasher.Region{}, "", &flasher.InputError{Msg: err.Error()}
		}
		if err := layout.CheckFSImage(len(img), im.BlockSize, l); err != nil {
			return flasher.Region{}, "", &flasher.InputError{Msg: fmt.Sprintf("%s: %v", p.FS, err)}
		}
		return flasher.Region{Addr: l.FS.Offset, Data: img, Name: fmt.Sprintf("%s (%s)", filepath.Base(p.FS), im.Kind)}, l.Name, nil
	}
	l, err := ResolveLayout(p.Layout, f.FlashSize, 0, 0)
	if err != nil {
		return flasher.Region{}, "", &flasher.InputError{Msg: err.Error()}
	}
	g, err := fsimage.ForESP8266(l)
	if err != nil {
		return flasher.Region{}, "", &flasher.InputError{Msg: err.Error()}
	}
	tree, err := fstree.FromDir(p.FS)
	if err != nil {
		return flasher.Region{}, "", &flasher.InputError{Msg: err.Error()}
	}
	kind := p.FSKind
	if kind == "" {
		kind = layout.LittleFS
	}
	img, err := fsimage.Build(kind, tree, g, fsimage.BuildOptions{})
	if err != nil {
		return flasher.Region{}, "", &flasher.InputError{Msg: fmt.Sprintf("building the %s image of %s for %s: %v", kind, p.FS, g.Name, err)}
	}
	return flasher.Region{Addr: g.Offset, Data: img, Name: fmt.Sprintf("%s/ (%s, %d files)", filepath.Base(p.FS), kind, len(tree.Files))}, l.Name, nil
}

// Package flash owns the Flash view: the form that says what goes into
// flash (an application image, a filesystem folder or image, the layout —
// automatic from the chip's flash size — or on an ESP32-family board the
// partition table, and how to verify), and the job's progress: one bar per
// region with speed and ETA, where each region went and why, the
// flasher's log and the verdict. Cancelling is safe: the device cancels the job's context
// and the board is reset back into its firmware afterwards.
package flash

import (
	"fmt"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/components/input"
	"github.com/iotbench/iotbench/tui/device"
)

// Actions are what the view asks of the board; *device.Device has them.
type Actions interface {
	Flash(p device.Plan) tea.Cmd
	Cancel()
}

type field int

const (
	fieldApp field = iota
	fieldFS
	fieldKind
	fieldLayout
	fieldVerify
	fieldCount
)

var fieldNames = [fieldCount]string{"Application", "Filesystem", "FS type", "Layout", "Verify"}

var verifyModes = []struct {
	mode flasher.VerifyMode
	name string
}{
	{flasher.VerifyAuto, "auto (MD5 where the loader can)"},
	{flasher.VerifyReadBack, "read back (also ESP8266 ROM writes; slow)"},
	{flasher.VerifyNone, "none"},
}

// region is one bar.
type region struct {
	addr    uint32
	phase   string
	done    int
	total   int
	elapsed time.Duration
	rate    float64
	written *flasher.WrittenEvent
	name    string
}

// Model is one board's flash view.
type Model struct {
	common.Common
	id  common.BoardID
	act Actions

	app, fs textinput.Model
	kind    layout.FSKind
	layout  string // "auto" or a layout name
	verify  int
	focus   field
	editing bool
	info    [fieldCount]string
	infoErr [fieldCount]bool
	chip    string
	flashMB int
	// merged is the partition table of the application file when it is
	// a merged image (nil otherwise): it places the filesystem.
	merged   *layout.PartitionTable
	running  bool
	canceled bool
	started  time.Time
	regions  []*region
	log      []string
	result   string
	failed   bool
}

const maxLog = 200

// New returns the view with an empty form.
func New(c common.Common, id common.BoardID, act Actions) *Model {
	m := &Model{Common: c, id: id, act: act, kind: layout.LittleFS, layout: "auto",
		app: input.New(c.Styles, ""), fs: input.New(c.Styles, "")}
	m.app.Placeholder = "path of the application image (.bin)"
	m.fs.Placeholder = "a folder to build an image from, or an image (optional)"
	return m
}

// SetBoard tells the view what is known of the chip (for the automatic
// layout, and what the files are checked against). A layout chosen for
// the other family (an ESP8266 layout, an ESP32 partition scheme) goes
// back to auto, and chosen files are looked at again for this chip.
func (m *Model) SetBoard(chip string, flashSize int) tea.Cmd {
	was, wasChip := m.esp32(), m.chip
	m.chip = chip
	m.flashMB = flashSize
	if m.esp32() != was {
		m.layout = "auto"
	}
	if chip == wasChip {
		return nil
	}
	return tea.Batch(m.inspect(fieldApp), m.inspect(fieldFS))
}

// esp32 reports whether the board is of the ESP32 family, placed by its
// partition table.
func (m *Model) esp32() bool { return imageChip(m.chip) != "" && !image.IsESP8266(imageChip(m.chip)) }

// imageChip is the chip name images are checked against: "" while the
// chip is unknown, "ESP8266" for any ESP8266 description ("ESP8266EX").
func imageChip(chip string) string {
	if strings.HasPrefix(strings.ToUpper(chip), "ESP8266") {
		return image.ChipESP8266
	}
	return chip
}

// SetPaths fills the form (the CLI's --app and --fs).
func (m *Model) SetPaths(app, fs string) tea.Cmd {
	m.app.SetValue(app)
	m.fs.SetValue(fs)
	return tea.Batch(m.inspect(fieldApp), m.inspect(fieldFS))
}

// Running reports whether a job runs.
func (m *Model) Running() bool { return m.running }

// Typing reports whether a text field has the keyboard.
func (m *Model) Typing() bool { return m.editing }

// Inspected carries what a file chosen in the form contains.
type Inspected struct {
	field  field
	path   string
	chip   string
	text   string
	err    bool
	merged *layout.PartitionTable
}

// Update handles keys, the job's progress and inspections.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case Inspected:
		if m.value(msg.field) == msg.path && msg.chip == m.chip {
			m.info[msg.field], m.infoErr[msg.field] = msg.text, msg.err
			if msg.field == fieldApp {
				m.merged = msg.merged
			}
		}
	case device.FlashProgress:
		for _, e := range msg.Events {
			m.event(e)
		}
	case device.FlashDone:
		m.done(msg)
	case tea.KeyPressMsg:
		if m.editing {
			return m.updateField(msg)
		}
		return m.updateKeys(msg)
	}
	return nil
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	k := m.Keys.Flash
	switch {
	case m.running && key.Matches(msg, k.Cancel):
		if !m.canceled {
			m.canceled = true
			m.act.Cancel()
			m.logf("cancelling: waiting for the flasher to let go of the port…")
		}
	case m.running:
		return nil
	case key.Matches(msg, k.Up):
		m.focus = (m.focus + fieldCount - 1) % fieldCount
	case key.Matches(msg, k.Down):
		m.focus = (m.focus + 1) % fieldCount
	case key.Matches(msg, k.Edit):
		return m.edit()
	case key.Matches(msg, k.Write):
		return m.start()
	}
	return nil
}

func (m *Model) edit() tea.Cmd {
	switch m.focus {
	case fieldApp, fieldFS:
		m.editing = true
		f := m.textField(m.focus)
		f.SetWidth(max(10, m.Width-16))
		f.CursorEnd()
		return f.Focus()
	case fieldKind:
		if m.kind == layout.LittleFS {
			m.kind = layout.SPIFFS
		} else {
			m.kind = layout.LittleFS
		}
	case fieldLayout:
		opts := m.layoutChoices()
		i := 0
		for j, o := range opts {
			if o == m.layout {
				i = j
			}
		}
		m.layout = opts[(i+1)%len(opts)]
	case fieldVerify:
		m.verify = (m.verify + 1) % len(verifyModes)
	}
	return nil
}

// layoutChoices are "auto" and the layouts with a filesystem made for
// the chip's flash size (all of them while it is unknown); on an ESP32
// "auto" and arduino-esp32's partition schemes with a filesystem that
// fit its flash.
func (m *Model) layoutChoices() []string {
	out := []string{"auto"}
	if m.esp32() {
		for _, n := range layout.ESP32DefaultNames() {
			if pt, err := layout.ESP32DefaultTable(n, m.flashMB); err == nil {
				if _, err := pt.FS(); err == nil {
					out = append(out, n)
				}
			}
		}
		return out
	}
	ls := layout.ESP8266Layouts()
	if m.flashMB > 0 {
		ls = layout.ESP8266ForFlash(m.flashMB)
	}
	for _, l := range ls {
		if l.HasFS() {
			out = append(out, l.Name)
		}
	}
	return out
}

func (m *Model) textField(f field) *textinput.Model {
	if f == fieldFS {
		return &m.fs
	}
	return &m.app
}

func (m *Model) value(f field) string {
	return strings.TrimSpace(m.textField(f).Value())
}

func (m *Model) updateField(msg tea.KeyPressMsg) tea.Cmd {
	in := m.Keys.Input
	f := m.textField(m.focus)
	switch {
	case key.Matches(msg, in.Submit), key.Matches(msg, in.Cancel):
		m.editing = false
		f.Blur()
		return m.inspect(m.focus)
	}
	var cmd tea.Cmd
	*f, cmd = f.Update(msg)
	return cmd
}

// inspect reads a chosen file in a command and says what it is.
func (m *Model) inspect(f field) tea.Cmd {
	path := m.value(f)
	m.info[f], m.infoErr[f] = "", false
	if f == fieldApp {
		m.merged = nil
	}
	if path == "" {
		return nil
	}
	chip := m.chip
	return common.ForBoard(m.id, func() tea.Msg {
		in := Inspected{field: f, path: path, chip: chip}
		text, merged, err := describe(f, path, imageChip(chip))
		if err != nil {
			in.text, in.err = err.Error(), true
			return in
		}
		in.text, in.merged = text, merged
		return in
	})
}

// describe says what a chosen file is, for the chip when it is known; an
// application file of an ESP32-family chip also says where it will go
// (and a merged image gives its partition table).
func describe(f field, path, chip string) (string, *layout.PartitionTable, error) {
	text, err := describeFile(f, path, chip)
	if err != nil || f != fieldApp || chip == "" || image.IsESP8266(chip) {
		return text, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	merged, pt, err := place.Split(data, chip)
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("not an application image for the %s: %s", chip, device.SplitAdvice(err))
	case merged:
		text = fmt.Sprintf("merged image for the %s (bootloader, partition table, app), %s: written at 0x0", chip, size(len(data)))
		if fs, err := pt.FS(); err == nil {
			text += fmt.Sprintf("; its table puts the filesystem in %s at 0x%X", fs.Label, fs.Offset)
		}
		return text, pt, nil
	}
	return text + "; written at the boot app partition (0x10000 in arduino-esp32's tables)", nil, nil
}

func describeFile(f field, path, chip string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if f == fieldFS && st.IsDir() {
		t, err := fstree.FromDir(path)
		if err != nil {
			return "", err
		}
		n := 0
		for _, file := range t.Files {
			n += len(file.Data)
		}
		return fmt.Sprintf("folder: %d files, %s; built into an image for the layout when flashing", len(t.Files), size(n)), nil
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a folder: choose the .bin file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if f == fieldFS {
		im, err := fsimage.Open(data, "")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s image: %s, %d-byte blocks, %d entries", im.Kind, size(len(data)), im.BlockSize, len(im.Entries)), nil
	}
	parseAs := chip
	if chip == "" {
		parseAs = image.ChipESP8266
	}
	im, err := image.Parse(data, parseAs)
	switch {
	case chip == "" && (len(data) == 0 || data[0] != image.Magic):
		return "", fmt.Errorf("not an ESP application image (it does not start with 0x%02X): choose the sketch's .bin", image.Magic)
	case err != nil && chip == "":
		return "", fmt.Errorf("not an ESP application image: %v", err)
	case err != nil && image.IsESP8266(chip):
		return "", fmt.Errorf("not an ESP8266 application image: %v", err)
	case err != nil:
		// A merged image starts with the bootloader only where the chip's
		// bootloader offset is 0x0; describe's Split says the rest.
		return fmt.Sprintf("%s file, %s", chip, size(len(data))), nil
	}
	return fmt.Sprintf("%s image: %s, %d segments, %s %s %s, entry 0x%08x", im.Chip, size(len(data)), len(im.Segments),
		im.FlashModeName, im.FlashSizeName, im.FlashFreqName, uint32(im.Entry)), nil
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// start turns the form into a plan and asks the device to flash it.
func (m *Model) start() tea.Cmd {
	p := device.Plan{App: m.value(fieldApp), FS: m.value(fieldFS), FSKind: m.kind, Layout: m.layout, Verify: verifyModes[m.verify].mode}
	if p.App == "" && p.FS == "" {
		m.result, m.failed = "nothing to flash: choose an application image or a filesystem (↑/↓ and enter)", true
		return nil
	}
	m.running, m.canceled, m.failed = true, false, false
	m.regions, m.log, m.result = nil, nil, ""
	m.started = m.Now()
	m.logf("taking the port from the monitor and connecting to the ROM loader…")
	return common.ForBoard(m.id, m.act.Flash(p))
}

func (m *Model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
	if len(m.log) > maxLog {
		m.log = m.log[len(m.log)-maxLog:]
	}
}

func (m *Model) regionAt(addr uint32) *region {
	for _, r := range m.regions {
		if r.addr == addr {
			return r
		}
	}
	r := &region{addr: addr}
	m.regions = append(m.regions, r)
	return r
}

func (m *Model) event(e flasher.Event) {
	switch e := e.(type) {
	case device.PlannedEvent:
		for _, ri := range e.Regions {
			r := m.regionAt(ri.Addr)
			r.name, r.total = ri.Name, ri.Size
			if ri.Why != "" {
				m.logf("%s", ri)
			}
		}
		if e.Layout != "" {
			m.logf("filesystem placed by layout %s", e.Layout)
		}
	case flasher.ConnectingEvent:
		if e.Attempt == 1 {
			m.logf("connecting to %s…", e.Port)
		} else {
			m.logf("connecting: attempt %d of %d (%s)", e.Attempt, e.Of, e.Strategy)
		}
	case flasher.ChipEvent:
		m.logf("chip %s, MAC %s", e.Description, e.MAC)
		m.chip = e.Chip
	case flasher.StubEvent:
		if e.Running {
			m.logf("flasher stub running (%s)", e.Source)
		} else {
			m.logf("no flasher stub: %s", e.Reason)
		}
	case flasher.BaudEvent:
		m.logf("baud rate now %d", e.Baud)
	case flasher.FlashInfoEvent:
		m.logf("flash %s %s, %s", e.Manufacturer, e.Device, e.SizeName)
		m.flashMB = e.Size
	case flasher.WarningEvent:
		m.logf("warning: %s", e.Message)
	case flasher.PhaseEvent:
		if e.Phase == "header" {
			m.logf("%s", e.Detail)
		}
		if e.Phase == "verify" {
			m.regionAt(e.Addr).phase = "verify"
			m.logf("verifying 0x%06x (%s)…", e.Addr, e.Detail)
		}
	case flasher.ProgressEvent:
		if e.Phase != "write" && e.Phase != "verify" {
			return
		}
		r := m.regionAt(e.Addr)
		r.phase, r.done, r.total, r.elapsed = e.Phase, e.Done, e.Total, e.Elapsed
		if e.Phase == "write" {
			r.rate = e.BytesPerSecond()
		}
	case flasher.WrittenEvent:
		r := m.regionAt(e.Addr)
		w := e
		r.written = &w
		r.done, r.total = e.Size, e.Size
		how := "not verified"
		if e.Verified {
			how = "verified by " + e.VerifiedBy
		}
		if e.Skipped {
			how = "already there (skipped)"
		}
		m.logf("0x%06x: %s written in %.1f s, %s", e.Addr, size(e.Size), e.Elapsed.Seconds(), how)
	}
}

func (m *Model) done(d device.FlashDone) {
	m.running = false
	for _, ri := range d.Regions {
		m.regionAt(ri.Addr).name = ri.Name
	}
	took := m.Now().Sub(m.started).Round(100 * time.Millisecond)
	switch {
	case d.Err == nil:
		msg := fmt.Sprintf("done in %s: %d region(s) written", took, len(d.Regions))
		if d.Layout != "" {
			msg += ", filesystem placed by layout " + d.Layout
		}
		if d.Table != "" {
			msg += ", placed by " + d.Table
		}
		msg += "; the board is restarting into the new firmware"
		if d.ELF != "" {
			msg += "; crash addresses now resolve with " + d.ELF
		}
		m.result, m.failed = msg, false
	case d.Canceled:
		m.result, m.failed = "cancelled: the flash holds a partial image; the board is being reset and can be flashed again", true
	default:
		m.result, m.failed = "failed: "+d.Err.Error(), true
	}
	m.logf("%s", m.result)
}

// Package timeline owns the Timeline view: what happened to every board,
// in order — serial milestones and decoded events, flash jobs,
// provisioning steps and the doctor's verdicts, MQTT connection changes,
// new topics and the operator's publishes — searchable with a regular
// expression and exportable as JSON lines.
package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/internal/xdg"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/components/input"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/styles"
)

// Sources of entries.
const (
	SourceSerial    = "serial"
	SourceFlash     = "flash"
	SourceProvision = "prov"
	SourceMQTT      = "mqtt"
	SourceTUI       = "tui"
)

// NoBoard is the board of entries that belong to none (MQTT).
const NoBoard common.BoardID = -1

// Entry is one thing that happened.
type Entry struct {
	Time     time.Time         `json:"time"`
	Board    common.BoardID    `json:"-"`
	Port     string            `json:"board"`
	Source   string            `json:"source"`
	Kind     string            `json:"kind"`
	Severity decode.Severity   `json:"-"`
	Text     string            `json:"text"`
	Fix      string            `json:"fix,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// MarshalJSON writes the severity by name.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	return json.Marshal(struct {
		plain
		Severity string `json:"severity"`
	}{plain(e), e.Severity.String()})
}

// DefaultMax is how many entries the timeline keeps.
const DefaultMax = 5000

// Model is the timeline.
type Model struct {
	common.Common
	entries   []Entry
	max       int
	follow    bool
	bottom    int // index of the newest entry on screen when not following
	search    *regexp.Regexp
	board     common.BoardID
	onlyBoard bool
	typing    bool
	field     textinput.Model
	fieldErr  string
	note      string
	exportDir string
}

// New returns an empty timeline; exports go to exportDir.
func New(c common.Common, exportDir string, max int) *Model {
	if max <= 0 {
		max = DefaultMax
	}
	return &Model{Common: c, max: max, follow: true, exportDir: exportDir, field: input.New(c.Styles, "/")}
}

// SetBoard is the selected board (for "this board only").
func (m *Model) SetBoard(id common.BoardID) { m.board = id }

// Len is the number of entries kept.
func (m *Model) Len() int { return len(m.entries) }

// Entries are the entries kept, oldest first (the slice is the
// timeline's own: do not modify it).
func (m *Model) Entries() []Entry { return m.entries }

// Typing reports whether the search field has the keyboard.
func (m *Model) Typing() bool { return m.typing }

// Add records entries in time order, dropping the oldest beyond the
// bound. Sources report in batches (a serial batch, a pipeline's events,
// the topic viewer's refresh), so an entry can be older than the last
// one kept: it goes in its place, after entries of the same time.
func (m *Model) Add(es ...Entry) {
	for _, e := range es {
		i := len(m.entries)
		for i > 0 && m.entries[i-1].Time.After(e.Time) {
			i--
		}
		m.entries = append(m.entries, Entry{})
		copy(m.entries[i+1:], m.entries[i:])
		m.entries[i] = e
		if !m.follow && i <= m.bottom && len(m.entries) > 1 {
			m.bottom++ // the entry on screen moved down one
		}
	}
	if over := len(m.entries) - m.max; over > 0 {
		m.entries = m.entries[over:]
		m.bottom = max(0, m.bottom-over)
	}
}

// Serial turns what the monitor read into entries: the session's own
// messages and every decoded event except those that only restate their
// line.
func Serial(id common.BoardID, port string, lines []device.Line) []Entry {
	var out []Entry
	for _, ln := range lines {
		if ln.Kind == serialmon.ItemStatus {
			out = append(out, Entry{Time: ln.Time, Board: id, Port: port, Source: SourceSerial, Kind: "monitor", Severity: decode.Info, Text: ln.Text})
		}
		for _, ev := range ln.Events {
			if ev.Kind == decode.KindBootSDK || ev.Kind == decode.KindTLSTrace {
				continue
			}
			at := ev.At
			if at.IsZero() {
				at = ln.Time
			}
			out = append(out, Entry{Time: at, Board: id, Port: port, Source: SourceSerial, Kind: ev.Kind, Severity: ev.Severity, Text: ev.Summary, Fix: ev.Fix, Fields: ev.Fields})
		}
	}
	return out
}

// Flash turns a flash job's events into entries (progress is left out:
// the Flash view shows it).
func Flash(id common.BoardID, port string, at time.Time, evs []flasher.Event) []Entry {
	var out []Entry
	add := func(kind string, sev decode.Severity, text string) {
		out = append(out, Entry{Time: at, Board: id, Port: port, Source: SourceFlash, Kind: kind, Severity: sev, Text: text})
	}
	for _, e := range evs {
		switch e := e.(type) {
		case flasher.ConnectingEvent:
			if e.Attempt == 1 {
				add("flash.connecting", decode.Info, "connecting to the ROM loader on "+e.Port)
			}
		case flasher.ChipEvent:
			add("flash.chip", decode.Info, fmt.Sprintf("chip %s, MAC %s", e.Description, e.MAC))
		case flasher.StubEvent:
			if e.Running {
				add("flash.stub", decode.Info, "flasher stub running ("+e.Source+")")
			} else {
				add("flash.stub", decode.Warning, "no flasher stub: ROM mode")
			}
		case flasher.FlashInfoEvent:
			add("flash.info", decode.Info, "flash chip "+e.SizeName)
		case flasher.WarningEvent:
			add("flash.warning", decode.Warning, e.Message)
		case device.PlannedEvent:
			names := make([]string, len(e.Regions))
			for i, r := range e.Regions {
				names[i] = fmt.Sprintf("%s at 0x%X", r.Name, r.Addr)
			}
			add("flash.plan", decode.Info, "writing "+strings.Join(names, ", "))
		case flasher.WrittenEvent:
			how := "not verified"
			if e.Verified {
				how = "verified by " + e.VerifiedBy
			}
			add("flash.written", decode.Notice, fmt.Sprintf("0x%X: %d bytes written, %s", e.Addr, e.Size, how))
		}
	}
	return out
}

// FlashDone is the entry for the end of a job.
func FlashDone(id common.BoardID, port string, at time.Time, d device.FlashDone) Entry {
	e := Entry{Time: at, Board: id, Port: port, Source: SourceFlash, Kind: "flash.done", Severity: decode.Notice, Text: "flashing finished"}
	switch {
	case d.Canceled:
		e.Kind, e.Severity, e.Text = "flash.cancelled", decode.Warning, "flashing cancelled"
	case d.Err != nil:
		e.Kind, e.Severity, e.Text = "flash.failed", decode.Error, "flashing failed: "+d.Err.Error()
	}
	return e
}

// Provision turns a pipeline event into an entry. Flash progress and
// the board's evidence are left out: the Provision view shows the bar and
// the board's lines come through Serial, decoded.
func Provision(id common.BoardID, port string, e provision.Event) (Entry, bool) {
	en := Entry{Time: e.At, Board: id, Port: port, Source: SourceProvision, Kind: "provision." + string(e.Step) + "." + string(e.Kind), Severity: decode.Info}
	switch e.Kind {
	case provision.KindStart:
		en.Text = string(e.Step) + ": started"
		if e.Message != "" {
			en.Text = string(e.Step) + ": " + e.Message
		}
	case provision.KindProgress:
		if e.Total > 0 || e.Message == "" {
			return Entry{}, false
		}
		en.Text = string(e.Step) + ": " + e.Message
	case provision.KindEvidence:
		return Entry{}, false
	case provision.KindDone, provision.KindSkipped:
		en.Severity = decode.Notice
		en.Text = string(e.Step) + " " + string(e.Kind) + ": " + e.Message
	case provision.KindVerified:
		en.Severity = decode.Notice
		en.Text = e.Message
		if !strings.HasPrefix(en.Text, "verified") {
			en.Text = "verified: " + en.Text
		}
	case provision.KindFailed:
		en.Severity = decode.Error
		en.Text = string(e.Step) + " failed: " + e.Message
		if e.Finding != nil {
			en.Text = string(e.Step) + " failed: " + e.Finding.Summary
			en.Fix = e.Finding.Fix
			en.Fields = map[string]string{"finding": e.Finding.Code}
		}
	default:
		return Entry{}, false
	}
	if en.Time.IsZero() {
		return Entry{}, false
	}
	return en, true
}

// MQTT is an entry about the topic viewer: its connection, a new topic,
// a publish or a retained message cleared.
func MQTT(at time.Time, sev decode.Severity, kind, text string) Entry {
	return Entry{Time: at, Board: NoBoard, Port: "mqtt", Source: SourceMQTT, Kind: "mqtt." + kind, Severity: sev, Text: text}
}

// Note is an entry the TUI itself adds (a board appeared, was identified).
func Note(id common.BoardID, port string, at time.Time, sev decode.Severity, kind, text string) Entry {
	return Entry{Time: at, Board: id, Port: port, Source: SourceTUI, Kind: kind, Severity: sev, Text: text}
}

// shown is the entries passing the search and board filters.
func (m *Model) shown() []int {
	var idx []int
	for i := range m.entries {
		if m.passes(&m.entries[i]) {
			idx = append(idx, i)
		}
	}
	return idx
}

func (m *Model) passes(e *Entry) bool {
	if m.onlyBoard && e.Board != m.board {
		return false
	}
	if m.search == nil {
		return true
	}
	return m.search.MatchString(e.Text) || m.search.MatchString(e.Kind) || m.search.MatchString(e.Port) || m.search.MatchString(e.Fix)
}

// Exported reports an export.
type Exported struct {
	Path  string
	Count int
	Err   error
}

// export writes the shown entries as JSON lines in a command.
func (m *Model) export() tea.Cmd {
	var sel []Entry
	for _, i := range m.shown() {
		sel = append(sel, m.entries[i])
	}
	path := filepath.Join(m.exportDir, "iotbench-timeline-"+m.Now().Format("20060102-150405")+".jsonl")
	return func() tea.Msg {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, e := range sel {
			if err := enc.Encode(e); err != nil {
				return Exported{Path: path, Err: err}
			}
		}
		if err := xdg.WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
			return Exported{Path: path, Err: err}
		}
		return Exported{Path: path, Count: len(sel)}
	}
}

// Update handles keys and export results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case Exported:
		if msg.Err != nil {
			m.note = "export failed: " + msg.Err.Error()
		} else {
			m.note = fmt.Sprintf("exported %d entries to %s", msg.Count, msg.Path)
		}
	case tea.KeyPressMsg:
		if m.typing {
			return m.updateField(msg)
		}
		if m.step(msg) {
			return nil
		}
		return m.updateKeys(msg)
	case tea.MouseWheelMsg:
		m.step(msg)
	}
	return nil
}

// step scrolls for a scrolling key or wheel turn.
func (m *Model) step(msg tea.Msg) bool {
	page := max(1, m.Height-3)
	st, ok := m.Keys.Timeline.Step(msg, page)
	switch {
	case !ok:
	case st.Top:
		m.follow = false
		m.bottom = 0
		m.scroll(page)
	case st.Bottom:
		m.follow = true
	default:
		m.scroll(st.Delta)
	}
	return ok
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	k := m.Keys.Timeline
	switch {
	case key.Matches(msg, k.Search):
		m.typing, m.fieldErr = true, ""
		m.field.SetValue("")
		if m.search != nil {
			m.field.SetValue(m.search.String())
		}
		m.field.SetWidth(max(10, m.Width-4))
		return m.field.Focus()
	case key.Matches(msg, k.ThisBoard):
		m.onlyBoard = !m.onlyBoard
	case key.Matches(msg, k.Export):
		m.note = "exporting…"
		return m.export()
	}
	return nil
}

func (m *Model) updateField(msg tea.KeyPressMsg) tea.Cmd {
	in := m.Keys.Input
	switch {
	case key.Matches(msg, in.Cancel):
		m.typing = false
		m.field.Blur()
		return nil
	case key.Matches(msg, in.Submit):
		v := m.field.Value()
		m.search = nil
		if v != "" {
			re, err := regexp.Compile(v)
			if err != nil {
				m.fieldErr = "bad regular expression: " + err.Error()
				return nil
			}
			m.search = re
		}
		m.typing = false
		m.field.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.field, cmd = m.field.Update(msg)
	m.fieldErr = ""
	return cmd
}

// scroll moves the bottom of the screen by n shown entries.
func (m *Model) scroll(n int) {
	idx := m.shown()
	if len(idx) == 0 {
		return
	}
	pos := len(idx) - 1
	if !m.follow {
		pos = 0
		for i, e := range idx {
			if e <= m.bottom {
				pos = i
			}
		}
	}
	pos = min(max(pos+n, 0), len(idx)-1)
	m.bottom = idx[pos]
	m.follow = pos == len(idx)-1 && n > 0
}

// View draws the header, the entries and the search line.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.Styles
	idx := m.shown()
	head := st.Heading.Render("Timeline") + st.Subtle.Render(fmt.Sprintf(" · %d of %d entries", len(idx), len(m.entries)))
	if m.onlyBoard {
		head += st.Subtle.Render(" · this board")
	}
	if m.search != nil {
		head += st.Subtle.Render(" · /" + m.search.String() + "/")
	}
	state := st.Notice.Render("● newest")
	if !m.follow {
		state = st.Warning.Render("‖ scrolled")
	}
	room := w - ansi.StringWidth(state) - 1
	rows := []string{padRight(ansi.Truncate(head, room, "…"), room) + " " + state}
	listH := h - 2
	end := len(idx)
	if !m.follow {
		end = 0
		for i, e := range idx {
			if e <= m.bottom {
				end = i + 1
			}
		}
	}
	start := max(0, end-listH)
	for _, i := range idx[start:end] {
		rows = append(rows, m.row(&m.entries[i], w))
	}
	if len(idx) == 0 {
		rows = append(rows, st.Subtle.Render(ansi.Truncate("nothing yet: events appear here as the boards boot, get flashed and connect", w, "…")))
	}
	for len(rows) < h-1 {
		rows = append(rows, "")
	}
	var foot string
	switch {
	case m.typing:
		foot = m.field.View()
		if m.fieldErr != "" {
			foot = st.Error.Render(m.fieldErr) + "  " + foot
		}
	case m.note != "":
		foot = st.Subtle.Render(m.note)
	}
	rows = append(rows, ansi.Truncate(foot, w, "…"))
	return strings.Join(rows, "\n")
}

func (m *Model) row(e *Entry, w int) string {
	st := m.Styles
	portW := 12
	switch {
	case w >= 150:
		portW = 24
	case w >= 100:
		portW = 16
	}
	// The end of a port name tells boards apart (ttyUSB0, ttyUSB1).
	port := e.Port
	if n := ansi.StringWidth(port); n > portW {
		port = ansi.TruncateLeft(port, n-portW+1, "…")
	}
	text := styles.Marker(e.Severity) + " " + e.Text
	if e.Severity >= decode.Warning && e.Fix != "" && w >= 120 {
		text += " — fix: " + e.Fix
	}
	line := st.Timestamp.Render(e.Time.Format("15:04:05.000")) + " " +
		st.Subtle.Render(padRight(port, portW)+" "+padRight(e.Source, 6)) + " " +
		st.Severity(e.Severity).Render(text)
	return ansi.Truncate(line, w, "…")
}

func padRight(s string, w int) string {
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// ShortHelp lists the timeline keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	if m.typing {
		return []key.Binding{m.Keys.Input.Submit, m.Keys.Input.Cancel}
	}
	k := m.Keys.Timeline
	return []key.Binding{k.Search, k.ThisBoard, k.Export, k.Bottom}
}

// FullHelp lists every timeline key.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.Keys.Timeline
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Search, k.ThisBoard, k.Export}}
}

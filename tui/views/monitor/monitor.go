// Package monitor owns the Monitor view: one board's serial output with
// host timestamps, each line's decoded events underneath in their severity
// colour (crash reports expanded to function and file:line), a bounded
// scrollback with regex search and filter, pause, a hex view, a line to
// send, the reset keys, and a plotter panel for the numbers in the log.
// It renders what the device package delivers and asks the device for
// actions through commands; it never touches the port.
package monitor

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/components/input"
	"github.com/iotbench/iotbench/tui/components/plot"
	"github.com/iotbench/iotbench/tui/device"
)

// Actions are what the view asks of the board; *device.Device has them.
type Actions interface {
	Send(text string) tea.Cmd
	Reset() tea.Cmd
	Bootloader() tea.Cmd
	SetBaud(baud int) tea.Cmd
}

// DefaultScrollback is how many entries (lines, partial lines, status
// messages) a board keeps.
const DefaultScrollback = 10000

// Bauds are the rates the baud key cycles through, as the CLI monitor's
// Ctrl-T Ctrl-B does.
var Bauds = []int{74880, 115200, 230400, 460800, 921600}

// EOL is sent after a typed line (what the Arduino serial monitor's "Both
// NL & CR" sends, and what the CLI monitor sends by default).
const EOL = "\r\n"

type entry struct {
	seq    int
	kind   serialmon.ItemKind
	time   time.Time
	text   string // escaped for display
	raw    []byte
	baud   int
	events []decode.Event
	hexOff int64
}

func (e *entry) severity() (decode.Severity, bool) {
	var s decode.Severity
	for _, ev := range e.events {
		s = max(s, ev.Severity)
	}
	return s, len(e.events) > 0
}

type mode int

const (
	modeNone mode = iota
	modeSearch
	modeFilter
	modeSend
)

// Model is one board's monitor.
type Model struct {
	common.Common
	id  common.BoardID
	act Actions

	entries    []entry
	first      int // seq of entries[0]
	next       int // seq of the next entry
	max        int
	partialSeq int // seq of an unfinished line, -1 for none
	hexOff     int64
	lineCount  int

	follow     bool
	bottom     int // seq of the newest entry on screen when not following
	newer      int // entries that arrived since following stopped
	hex        bool
	wrapLines  bool
	showEvents bool
	showPlot   bool
	plot       plot.Model
	baud       int

	search, filter *regexp.Regexp
	mode           mode
	field          textinput.Model
	fieldErr       string

	// running is false while the monitor does not hold the port; stopped
	// says why.
	running bool
	stopped string
	note    string
	elf     string
	// mark is the entry a jump landed on (seq), -1 for none.
	mark int
}

// New returns an empty monitor.
func New(c common.Common, id common.BoardID, act Actions, scrollback int) *Model {
	if scrollback <= 0 {
		scrollback = DefaultScrollback
	}
	return &Model{Common: c, id: id, act: act, max: scrollback, partialSeq: -1, follow: true, mark: -1,
		showEvents: true, showPlot: true, field: input.New(c.Styles, "")}
}

// SetRunning tells the view whether the monitor holds the port; why says
// what holds it otherwise.
func (m *Model) SetRunning(on bool, why string) {
	m.running = on
	m.stopped = why
}

// Running reports whether the monitor holds the port.
func (m *Model) Running() bool { return m.running }

// Note shows a one-line message under the log (an action's result).
func (m *Model) Note(s string) { m.note = s }

// SetELF records the ELF used to resolve crash addresses.
func (m *Model) SetELF(path string) { m.elf = path }

// Len is the number of entries in the scrollback.
func (m *Model) Len() int { return len(m.entries) }

// Lines is the number of complete lines received.
func (m *Model) Lines() int { return m.lineCount }

// Plot is the plotter's data.
func (m *Model) Plot() *plot.Model { return &m.plot }

// Typing reports whether a text field has the keyboard.
func (m *Model) Typing() bool { return m.mode != modeNone }

// Append adds what the monitor read.
func (m *Model) Append(lines []device.Line) {
	for _, ln := range lines {
		if ln.Baud > 0 && ln.Kind != serialmon.ItemStatus {
			m.baud = ln.Baud
		}
		switch ln.Kind {
		case serialmon.ItemPartial:
			if e := m.get(m.partialSeq); e != nil {
				e.text = escape(ln.Text)
				continue
			}
			m.partialSeq = m.add(entry{kind: ln.Kind, time: ln.Time, text: escape(ln.Text), baud: ln.Baud})
		case serialmon.ItemLine:
			m.lineCount++
			e := entry{kind: ln.Kind, time: ln.Time, text: escape(ln.Text), raw: ln.Raw, baud: ln.Baud, events: ln.Events, hexOff: m.hexOff}
			m.hexOff += int64(len(ln.Raw))
			m.plot.Add(ln.Samples)
			if p := m.get(m.partialSeq); p != nil {
				e.seq = p.seq
				*p = e
				m.partialSeq = -1
				continue
			}
			m.partialSeq = -1
			m.add(e)
		default:
			if ln.Baud > 0 {
				m.baud = ln.Baud
			}
			m.add(entry{kind: ln.Kind, time: ln.Time, text: escape(ln.Text), events: ln.Events})
		}
	}
	if over := len(m.entries) - m.max; over > 0 {
		m.entries = m.entries[over:]
		m.first += over
	}
}

func (m *Model) add(e entry) int {
	e.seq = m.next
	m.next++
	m.entries = append(m.entries, e)
	if !m.follow {
		m.newer++
	}
	return e.seq
}

func (m *Model) get(seq int) *entry {
	if seq < m.first || seq >= m.next {
		return nil
	}
	return &m.entries[seq-m.first]
}

// Update handles keys and the results of the view's own commands.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case device.ActionDone:
		if msg.Err != nil {
			m.note = fmt.Sprintf("%s failed: %v", msg.What, msg.Err)
		} else if msg.What != "send" {
			m.note = msg.What + ": done"
		}
	case tea.KeyPressMsg:
		if m.mode != modeNone {
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
	page := max(1, m.logHeight()-1)
	st, ok := m.Keys.Monitor.Step(msg, page)
	switch {
	case !ok:
	case st.Top:
		m.stopFollowing()
		m.bottom = m.first
		m.scroll(page)
	case st.Bottom:
		m.follow, m.newer = true, 0
	default:
		m.scroll(st.Delta)
	}
	return ok
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	k := m.Keys.Monitor
	switch {
	case key.Matches(msg, k.Pause):
		if m.follow {
			m.stopFollowing()
		} else {
			m.follow, m.newer = true, 0
		}
	case key.Matches(msg, k.Search):
		return m.openField(modeSearch, "/", m.search)
	case key.Matches(msg, k.Filter):
		return m.openField(modeFilter, "filter: ", m.filter)
	case key.Matches(msg, k.NextMatch):
		m.jump(-1)
	case key.Matches(msg, k.PrevMatch):
		m.jump(1)
	case key.Matches(msg, k.Hex):
		m.hex = !m.hex
	case key.Matches(msg, k.Wrap):
		m.wrapLines = !m.wrapLines
	case key.Matches(msg, k.Events):
		m.showEvents = !m.showEvents
	case key.Matches(msg, k.Plot):
		m.showPlot = !m.showPlot
	case key.Matches(msg, k.Clear):
		m.entries, m.first, m.partialSeq, m.newer = nil, m.next, -1, 0
		m.plot.Reset()
	case key.Matches(msg, k.Send):
		return m.openField(modeSend, "send> ", nil)
	case key.Matches(msg, k.Reset):
		m.note = "resetting the board…"
		return common.ForBoard(m.id, m.act.Reset())
	case key.Matches(msg, k.Bootloader):
		m.note = "resetting into the ROM bootloader…"
		return common.ForBoard(m.id, m.act.Bootloader())
	case key.Matches(msg, k.Baud):
		b := nextBaud(m.baud)
		m.note = fmt.Sprintf("switching to %d baud…", b)
		return common.ForBoard(m.id, m.act.SetBaud(b))
	}
	return nil
}

func nextBaud(cur int) int {
	for _, b := range Bauds {
		if b > cur {
			return b
		}
	}
	return Bauds[0]
}

func (m *Model) openField(md mode, prompt string, cur *regexp.Regexp) tea.Cmd {
	m.mode = md
	m.fieldErr = ""
	m.field.Prompt = prompt
	m.field.SetValue("")
	if cur != nil {
		m.field.SetValue(cur.String())
	}
	m.field.SetWidth(max(10, m.Width-len(prompt)-2))
	return m.field.Focus()
}

func (m *Model) closeField() {
	m.mode = modeNone
	m.field.Blur()
}

func (m *Model) updateField(msg tea.KeyPressMsg) tea.Cmd {
	in := m.Keys.Input
	switch {
	case key.Matches(msg, in.Cancel):
		m.closeField()
		return nil
	case key.Matches(msg, in.Submit):
		v := m.field.Value()
		switch m.mode {
		case modeSend:
			m.field.SetValue("")
			m.note = fmt.Sprintf("sent %q", v+EOL)
			return common.ForBoard(m.id, m.act.Send(v+EOL))
		case modeSearch, modeFilter:
			var re *regexp.Regexp
			if v != "" {
				r, err := regexp.Compile(v)
				if err != nil {
					m.fieldErr = "bad regular expression: " + err.Error()
					return nil
				}
				re = r
			}
			if m.mode == modeSearch {
				m.search = re
				if re != nil {
					m.stopFollowing()
					m.bottom = m.next
					m.jump(-1)
				}
			} else {
				m.filter = re
			}
			m.closeField()
		}
		return nil
	}
	var cmd tea.Cmd
	m.field, cmd = m.field.Update(msg)
	m.fieldErr = ""
	return cmd
}

func (m *Model) stopFollowing() {
	if m.follow {
		m.follow = false
		m.bottom = m.next - 1
		m.newer = 0
	}
}

// visible reports whether an entry passes the filter.
func (m *Model) visible(e *entry) bool {
	if m.filter == nil {
		return true
	}
	return m.matches(m.filter, e)
}

func (m *Model) matches(re *regexp.Regexp, e *entry) bool {
	if re.MatchString(e.text) {
		return true
	}
	for _, ev := range e.events {
		if re.MatchString(ev.Summary) || re.MatchString(ev.Kind) {
			return true
		}
	}
	return false
}

// scroll moves the bottom of the screen by n visible entries (negative:
// older). Reaching the newest entry resumes following.
func (m *Model) scroll(n int) {
	if n < 0 {
		m.stopFollowing()
	}
	if m.follow {
		return
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	seq := min(max(m.bottom, m.first), m.next-1)
	for n > 0 {
		s := seq + step
		if s < m.first || s >= m.next {
			break
		}
		seq = s
		if m.visible(m.get(s)) {
			n--
		}
	}
	m.bottom = seq
	if step > 0 && seq >= m.next-1 {
		m.follow, m.newer = true, 0
	}
}

// jump moves to the next search match older (dir -1) or newer (+1) than
// the bottom of the screen.
func (m *Model) jump(dir int) {
	if m.search == nil {
		m.note = "no search: press / to search"
		return
	}
	m.stopFollowing()
	for s := m.bottom + dir; s >= m.first && s < m.next; s += dir {
		if e := m.get(s); m.visible(e) && m.matches(m.search, e) {
			m.bottom = s
			m.note = ""
			return
		}
	}
	if dir < 0 {
		m.note = fmt.Sprintf("no older match for /%s/", m.search)
	} else {
		m.note = fmt.Sprintf("no newer match for /%s/", m.search)
	}
}

// JumpTo scrolls to the line the doctor quoted: the line (or decoded
// event) containing text nearest to at, within jumpWindow; failing that
// the line nearest to at. It reports whether a line was found; the view
// stops following and marks it.
func (m *Model) JumpTo(at time.Time, text string) bool {
	best, bestD := -1, time.Duration(-1)
	exact := false
	want := escape(strings.TrimSpace(text))
	for i := range m.entries {
		e := &m.entries[i]
		if e.kind == serialmon.ItemStatus {
			continue
		}
		d := e.time.Sub(at)
		if d < 0 {
			d = -d
		}
		hit := want != "" && (strings.Contains(e.text, want) || m.eventMentions(e, text))
		if !at.IsZero() && d > jumpWindow && hit {
			hit = false
		}
		switch {
		case hit && (!exact || d < bestD):
			best, bestD, exact = e.seq, d, true
		case !hit && !exact && !at.IsZero() && (bestD < 0 || d < bestD):
			best, bestD = e.seq, d
		}
	}
	if best < 0 || (!exact && bestD > jumpWindow) {
		m.note = "that line is no longer in the scrollback"
		return false
	}
	m.stopFollowing()
	m.bottom = best
	m.mark = best
	m.note = "the line the doctor quoted is marked ▶"
	if !exact {
		m.note = "the doctor's line is not in the scrollback: the nearest line in time is marked ▶"
	}
	return true
}

// jumpWindow is how far from the doctor's timestamp a quoted line may
// be (the doctor and the monitor stamp the same bytes a moment apart).
const jumpWindow = 2 * time.Second

func (m *Model) eventMentions(e *entry, text string) bool {
	for _, ev := range e.events {
		if ev.Summary == text {
			return true
		}
		for _, l := range ev.Evidence {
			if l == text {
				return true
			}
		}
	}
	return false
}

// escape shows printable UTF-8 as it is and everything else (line noise,
// a banner read at the wrong rate, control bytes that could drive the
// terminal) as \xNN.
func escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return strings.ReplaceAll(s, "\t", "    ")
	}
	var sb strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&sb, `\x%02x`, s[0])
		case r == '\t':
			sb.WriteString("    ")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteString(s[:n])
		}
		s = s[n:]
	}
	return sb.String()
}

// cut truncates s to the width (styles included).
func cut(s string, w int) string { return ansi.Truncate(s, w, "…") }

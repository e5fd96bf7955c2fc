// Package doctorview owns the Doctor view: the doctor's report on one
// board — the last provisioning run's, or one made on demand by examining
// the live board (provision.Examine) — with its findings ranked (the
// first is the diagnosis), each with its fix and its evidence lines. A
// line the board printed opens the Monitor at that line.
package doctorview

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/styles"
)

// Actions are what the view asks of the board; *device.Device has them.
type Actions interface {
	Provision(j device.ProvisionJob) tea.Cmd
}

// ExamineJob returns the run that examines the board (the wizard's
// cloud and options); ok is false when none can be made.
type ExamineJob func() (j device.ProvisionJob, ok bool)

// item is one selectable row: a finding, or one of its evidence lines.
type item struct {
	finding  int
	evidence int // -1 for the finding itself
}

// Model is one board's Doctor view.
type Model struct {
	common.Common
	id      common.BoardID
	act     Actions
	examine ExamineJob

	report  *doctor.Report
	source  string
	running bool
	last    string
	cursor  int
	top     int // first rendered row shown
	note    string
}

// New returns an empty view.
func New(c common.Common, id common.BoardID, act Actions, examine ExamineJob) *Model {
	return &Model{Common: c, id: id, act: act, examine: examine}
}

// SetReport shows a report; source says where it comes from.
func (m *Model) SetReport(r *doctor.Report, source string) {
	m.report, m.source = r, source
	m.cursor, m.top = 0, 0
}

// Report is the report shown (nil for none).
func (m *Model) Report() *doctor.Report { return m.report }

// Running reports whether an examination runs.
func (m *Model) Running() bool { return m.running }

func (m *Model) items() []item {
	if m.report == nil {
		return nil
	}
	var out []item
	for i, f := range m.report.Findings {
		out = append(out, item{finding: i, evidence: -1})
		for j := range f.Evidence {
			out = append(out, item{finding: i, evidence: j})
		}
	}
	return out
}

// Update handles keys and the examination's progress.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case device.ProvisionProgress:
		if msg.Examine {
			for _, e := range msg.Events {
				if e.Message != "" && e.Kind != provision.KindStart {
					m.last = string(e.Step) + ": " + e.Message
				}
			}
		}
	case device.ProvisionDone:
		if msg.Examine {
			m.running = false
			switch {
			case msg.Err != nil:
				m.note = "could not examine the board: " + msg.Err.Error()
			case msg.Result != nil && msg.Result.Report != nil:
				m.SetReport(msg.Result.Report, "examined "+m.Now().Format("15:04:05"))
				m.note = ""
			case msg.Result != nil:
				m.note = "the examination stopped early: " + msg.Result.Error
			}
		}
	case tea.KeyPressMsg:
		return m.updateKeys(msg)
	case tea.MouseWheelMsg:
		m.move(msg)
	}
	return nil
}

func (m *Model) move(msg tea.Msg) bool {
	its := m.items()
	st, ok := m.Keys.Doctor.Step(msg, max(1, m.Height/3))
	if !ok || len(its) == 0 {
		return ok
	}
	switch {
	case st.Top:
		m.cursor = 0
	case st.Bottom:
		m.cursor = len(its) - 1
	default:
		m.cursor = min(max(m.cursor+st.Delta, 0), len(its)-1)
	}
	return true
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	if m.move(msg) {
		return nil
	}
	k := m.Keys.Doctor
	switch {
	case key.Matches(msg, k.Jump):
		return m.jump()
	case key.Matches(msg, k.Examine):
		if m.running || m.examine == nil {
			return nil
		}
		j, ok := m.examine()
		if !ok {
			m.note = "examining needs a cloud to ask: provisioning is not set up in this session"
			return nil
		}
		m.running, m.last, m.note = true, "taking the port and resetting the board…", ""
		return common.ForBoard(m.id, m.act.Provision(j))
	}
	return nil
}

// jump opens the monitor at the selected serial evidence (a finding's
// first serial line when the finding itself is selected).
func (m *Model) jump() tea.Cmd {
	its := m.items()
	if m.cursor >= len(its) {
		return nil
	}
	it := its[m.cursor]
	f := m.report.Findings[it.finding]
	var ev *doctor.Evidence
	if it.evidence >= 0 {
		ev = &f.Evidence[it.evidence]
	} else {
		for i := range f.Evidence {
			if f.Evidence[i].Source == doctor.SourceSerial {
				ev = &f.Evidence[i]
				break
			}
		}
	}
	if ev == nil || ev.Source != doctor.SourceSerial {
		m.note = "only lines the board printed are in the monitor"
		return nil
	}
	m.note = ""
	return common.Show(m.id, common.ShowView{View: common.ViewMonitor, At: ev.At, Text: ev.Text})
}

// SetNote shows a one-line message under the report.
func (m *Model) SetNote(s string) { m.note = s }

// View draws the report.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	rows := []string{m.header(w)}
	body, sel := m.bodyRows(w)
	listH := h - 2
	if sel >= 0 {
		if sel < m.top {
			m.top = sel
		}
		if sel >= m.top+listH {
			m.top = sel - listH + 1
		}
	}
	m.top = min(m.top, max(0, len(body)-listH))
	for i := m.top; i < len(body) && len(rows) < h-1; i++ {
		rows = append(rows, body[i])
	}
	for len(rows) < h-1 {
		rows = append(rows, "")
	}
	foot := ""
	switch {
	case m.running:
		foot = m.Styles.Heading.Render("◐ examining: ") + m.Styles.Subtle.Render(m.last)
	case m.note != "":
		foot = m.Styles.Subtle.Render(m.note)
	}
	rows = append(rows, cut(foot, w))
	return strings.Join(rows, "\n")
}

func cut(s string, w int) string { return ansi.Truncate(s, w, "…") }

func (m *Model) header(w int) string {
	st := m.Styles
	parts := []string{st.Heading.Render("Doctor")}
	state := ""
	if r := m.report; r != nil {
		n := fmt.Sprintf("%d findings", len(r.Findings))
		if len(r.Findings) == 1 {
			n = "1 finding"
		}
		parts = append(parts, m.source, n)
		if r.Healthy {
			state = st.Notice.Render("✓ healthy")
		} else {
			state = st.Error.Render("✗ needs a fix")
		}
	}
	left := strings.Join(parts, st.Subtle.Render(" · "))
	if state == "" {
		return cut(left, w)
	}
	right := " " + state
	room := w - ansi.StringWidth(right)
	left = cut(left, room)
	if d := room - ansi.StringWidth(left); d > 0 {
		left += strings.Repeat(" ", d)
	}
	return left + right
}

// bodyRows renders every finding; sel is the row of the cursor.
func (m *Model) bodyRows(w int) (rows []string, sel int) {
	st := m.Styles
	sel = -1
	if m.report == nil {
		rows = append(rows, "")
		for _, l := range []string{
			"No report yet for this board.",
			"",
			"A provisioning run that does not verify brings the doctor's report here: what went wrong first, with the lines the board printed, the cloud's answers and the bench's own checks, and the fix.",
			"",
			"Press x to examine the board now: it is reset, its boot log followed and its topic watched (nothing is written).",
		} {
			rows = append(rows, wrap(l, w-1)...)
		}
		return rows, -1
	}
	if len(m.report.Findings) == 0 {
		return []string{"", "The doctor found nothing to report."}, -1
	}
	its := m.items()
	idx := 0
	for i, f := range m.report.Findings {
		rows = append(rows, "")
		mark := "  "
		if idx < len(its) && idx == m.cursor {
			mark = "▸ "
			sel = len(rows)
		}
		idx++
		sty := st.Severity(f.Severity)
		head := fmt.Sprintf("%d. %s %s", i+1, styles.Marker(f.Severity), f.Summary)
		if i == 0 && f.Severity >= decode.Warning {
			head = fmt.Sprintf("%d. %s diagnosis: %s", i+1, styles.Marker(f.Severity), f.Summary)
		}
		for j, l := range wrap(head, w-2) {
			p := "  "
			if j == 0 {
				p = mark
			}
			rows = append(rows, cut(p+sty.Render(l), w))
		}
		rows = append(rows, cut("     "+st.Subtle.Render(f.StepName+" · "+f.Code+" · "+f.Level), w))
		if f.Fix != "" {
			for j, l := range wrap("fix: "+f.Fix, w-5) {
				if j == 0 {
					rows = append(rows, cut("     "+st.Key.Render(l[:4])+st.Text.Render(l[4:]), w))
				} else {
					rows = append(rows, cut("     "+st.Text.Render(l), w))
				}
			}
		}
		for _, e := range f.Evidence {
			mark := "     "
			if idx == m.cursor {
				mark = "   ▸ "
				sel = len(rows)
			}
			idx++
			at := ""
			if !e.At.IsZero() {
				at = e.At.Format("15:04:05.000") + " "
			}
			src := fmt.Sprintf("%-6s ", e.Source)
			rows = append(rows, cut(mark+st.Subtle.Render(src+at)+st.Text.Render(e.Text), w))
		}
	}
	return rows, sel
}

func wrap(text string, w int) []string {
	if w <= 4 {
		return []string{text}
	}
	return strings.Split(ansi.Wrap(text, w, " "), "\n")
}

// ShortHelp lists the view's keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	k := m.Keys.Doctor
	if m.report == nil {
		return []key.Binding{k.Examine}
	}
	return []key.Binding{k.Up, k.Down, k.Jump, k.Examine}
}

// FullHelp lists every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.Keys.Doctor
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Jump, k.Examine}}
}

package provisionview

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/provision"
)

// View draws the view in its size.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	rows := []string{m.header(w)}
	var body []string
	switch m.stage {
	case stageForm:
		if m.form != nil {
			body = strings.Split(m.form.View(), "\n")
		}
	case stageRunning, stageDone:
		body = m.runRows(w)
	default:
		body = m.idleRows(w)
	}
	for _, r := range body {
		if len(rows) >= h-1 {
			break
		}
		rows = append(rows, cut(r, w))
	}
	for len(rows) < h-1 {
		rows = append(rows, "")
	}
	foot := ""
	if m.note != "" {
		foot = m.Styles.Subtle.Render(m.note)
	}
	if m.stage == stageForm && m.form != nil {
		if errs := m.form.Errors(); len(errs) > 0 {
			foot = m.Styles.Error.Render("✗ " + errs[0].Error())
		}
	}
	rows = append(rows, cut(foot, w))
	return strings.Join(rows[:h], "\n")
}

func cut(s string, w int) string { return ansi.Truncate(s, w, "…") }

func (m *Model) header(w int) string {
	st := m.Styles
	parts := []string{st.Heading.Render("Provision")}
	if c := m.cloud(m.v.cloud); c != nil {
		parts = append(parts, c.Label)
	}
	if m.result != nil && m.result.Thing != "" {
		parts = append(parts, "thing "+m.result.Thing)
	}
	var state string
	switch m.stage {
	case stageForm:
		state = st.Heading.Render("✎ wizard")
	case stageRunning:
		state = st.Heading.Render("◐ running")
	case stageDone:
		switch {
		case m.result != nil && m.result.Verified:
			state = st.Notice.Render("✓ verified")
		case m.canceled:
			state = st.Warning.Render("■ cancelled")
		default:
			state = st.Error.Render("✗ not verified")
		}
	}
	left := strings.Join(parts, st.Subtle.Render(" · "))
	if state == "" {
		return cut(left, w)
	}
	right := " " + state
	room := w - ansi.StringWidth(right)
	return padRight(cut(left, room), room) + right
}

func padRight(s string, w int) string {
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

func (m *Model) wrap(text string, w int) []string {
	if w <= 4 {
		return []string{text}
	}
	return strings.Split(ansi.Wrap(text, w, " "), "\n")
}

func (m *Model) idleRows(w int) []string {
	st := m.Styles
	rows := []string{""}
	if m.cfg == nil || len(m.cfg.Clouds) == 0 {
		for _, l := range []string{
			"Provisioning is not set up in this session.",
			"",
			"iotbench tui offers the local cloud (and AWS IoT with your AWS profile); iotbench demo runs the whole flow on a virtual board.",
		} {
			rows = append(rows, m.wrap(l, w-1)...)
		}
		return rows
	}
	rows = append(rows, m.wrap("Take this board from blank to a verified publish, in one run:", w-1)...)
	rows = append(rows, "")
	steps := []string{
		"port → chip: connect to the ROM loader (MAC, flash size)",
		"identity: thing, certificate and policy in the cloud",
		"files → image: config.json and the DER files in a filesystem image",
		"flash → reset → boot: write, restart, follow the boot log",
		"publish: the thing's first message on its topic = verified",
	}
	for i, s := range steps {
		rows = append(rows, m.wrap(fmt.Sprintf("  %d. %s", i+1, s), w-1)...)
	}
	rows = append(rows, "")
	rows = append(rows, m.wrap(st.Key.Render("enter")+" starts the wizard: cloud, thing name (from the MAC), Wi-Fi, sensors, and a preview of the policy the board gets.", w-1)...)
	if d := m.DefaultThing(); d != "" {
		rows = append(rows, "", st.Subtle.Render("This board's default thing name: "+d))
	}
	return rows
}

var stepMarks = map[status]string{pending: "·", running: "◐", done: "✓", skipped: "=", failed: "✗"}

func (m *Model) runRows(w int) []string {
	st := m.Styles
	rows := []string{""}
	nameW := 9
	for _, id := range provision.Steps {
		s := m.steps[id]
		if s == nil {
			s = &stepState{}
		}
		mark := stepMarks[s.status]
		sty := st.Subtle
		switch s.status {
		case running:
			sty = st.Heading
		case done, skipped:
			sty = st.Notice
		case failed:
			sty = st.Error
		}
		dur := ""
		switch {
		case !s.start.IsZero() && !s.end.IsZero():
			dur = seconds(s.end.Sub(s.start))
		case !s.start.IsZero() && s.status == running:
			dur = seconds(m.Now().Sub(s.start))
		}
		head := sty.Render(mark+" "+padRight(string(id), nameW)) + st.Subtle.Render(fmt.Sprintf("%6s", dur)) + "  "
		detail := s.msg
		if s.status == skipped && detail != "" {
			detail = "already in place: " + detail
		}
		if id == provision.StepFlash && s.status == running && m.flashTotal > 0 {
			detail = m.bar(w - ansi.StringWidth(head))
		}
		if s.status == pending {
			detail = ""
		}
		rows = append(rows, cut(head+detail, w))
	}
	rows = append(rows, "")
	switch m.stage {
	case stageRunning:
		if m.last != "" {
			rows = append(rows, cut(st.Subtle.Render("… "+m.last), w))
		}
	case stageDone:
		rows = append(rows, m.verdictRows(w)...)
	}
	return rows
}

func seconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// bar is the flash step's progress: a bar, the percentage and the bytes.
func (m *Model) bar(w int) string {
	st := m.Styles
	frac := float64(m.flashDone) / float64(m.flashTotal)
	label := fmt.Sprintf(" %3d%% %d/%d KiB", int(frac*100), m.flashDone>>10, m.flashTotal>>10)
	bw := min(40, w-ansi.StringWidth(label)-2)
	if bw < 5 {
		return label
	}
	full := int(frac * float64(bw))
	return st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", bw-full)) + label
}

func (m *Model) verdictRows(w int) []string {
	st := m.Styles
	v := m.Verdict()
	var rows []string
	switch {
	case m.result != nil && m.result.Verified:
		rows = append(rows, m.wrapStyled(st.Notice, "★ "+v, w)...)
		took := fmt.Sprintf("in %.1f s", m.result.Elapsed.Seconds())
		if m.result.NoChange {
			took += "; nothing needed changing (identity, files and flash were already in place)"
		}
		rows = append(rows, m.wrapStyled(st.Subtle, took, w)...)
	case m.canceled || m.err != nil:
		rows = append(rows, m.wrapStyled(st.Warning, "■ "+v, w)...)
	default:
		rows = append(rows, m.wrapStyled(st.Error, "✗ "+v, w)...)
		if top := m.topFinding(); top != nil && top.Fix != "" {
			rows = append(rows, m.wrapStyled(st.Text, "fix: "+top.Fix, w)...)
		}
		rows = append(rows, "", cut(st.Key.Render("d")+st.Subtle.Render(" opens the doctor: every finding with its evidence"), w))
	}
	return rows
}

func (m *Model) wrapStyled(sty interface{ Render(...string) string }, text string, w int) []string {
	var out []string
	for _, l := range m.wrap(text, w) {
		out = append(out, cut(sty.Render(l), w))
	}
	return out
}

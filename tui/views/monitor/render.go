package monitor

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/components/plot"
	"github.com/iotbench/iotbench/tui/styles"
)

const (
	stampWidth    = 13 // "15:04:05.000 "
	sidePlotWidth = 36
	sidePlotMinW  = 110 // from this width the plot sits beside the log
)

// View draws the monitor in its size.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	rows := []string{m.header(w)}
	logH := max(0, h-2)
	switch m.plotLayout() {
	case plotSide:
		logW := w - sidePlotWidth - 1
		side := strings.Split(m.plot.View(sidePlotWidth, logH, m.plotStyles()), "\n")
		sep := m.Styles.Separator.Render("│")
		for i, l := range m.logRows(logW, logH) {
			s := ""
			if i < len(side) {
				s = side[i]
			}
			rows = append(rows, padRight(l, logW)+sep+s)
		}
	case plotBelow:
		ph := m.plotBelowHeight()
		rows = append(rows, m.logRows(w, logH-ph)...)
		rows = append(rows, strings.Split(m.plot.View(w, ph, m.plotStyles()), "\n")...)
	default:
		rows = append(rows, m.logRows(w, logH)...)
	}
	rows = append(rows, m.footer(w))
	return strings.Join(rows, "\n")
}

type plotPlace int

const (
	plotHidden plotPlace = iota
	plotSide
	plotBelow
)

// plotLayout puts the plotter beside the log on wide screens and under it
// (at most three series) on narrow ones that have the rows to spare.
func (m *Model) plotLayout() plotPlace {
	switch {
	case !m.showPlot || m.plot.Len() == 0:
		return plotHidden
	case m.Width >= sidePlotMinW:
		return plotSide
	case m.Height-2 >= 8:
		return plotBelow
	}
	return plotHidden
}

func (m *Model) plotBelowHeight() int { return min(m.plot.Len(), 3) }

func (m *Model) plotStyles() plot.Styles {
	st := m.Styles
	return plot.Styles{Name: st.Subtle, Line: st.Sparkline, Value: st.Text, Subtle: st.Subtle}
}

// logHeight is the number of log rows the current layout shows.
func (m *Model) logHeight() int {
	h := max(0, m.Height-2)
	if m.plotLayout() == plotBelow {
		h -= m.plotBelowHeight()
	}
	return h
}

func padRight(s string, w int) string {
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

func (m *Model) header(w int) string {
	st := m.Styles
	parts := []string{st.Heading.Render("Monitor")}
	if m.baud > 0 {
		parts = append(parts, fmt.Sprintf("%d baud", m.baud))
	}
	parts = append(parts, fmt.Sprintf("%d lines", m.lineCount), fmt.Sprintf("scrollback %d/%d", len(m.entries), m.max))
	if m.elf != "" {
		parts = append(parts, "ELF "+lastElem(m.elf))
	}
	var flags []string
	if m.filter != nil {
		flags = append(flags, "filter /"+m.filter.String()+"/")
	}
	if m.search != nil {
		flags = append(flags, "search /"+m.search.String()+"/")
	}
	if m.hex {
		flags = append(flags, "hex")
	}
	if m.wrapLines {
		flags = append(flags, "wrap")
	}
	if !m.showEvents {
		flags = append(flags, "events hidden")
	}
	state := st.Notice.Render("● following")
	if !m.follow {
		state = st.Warning.Render(fmt.Sprintf("‖ paused +%d", m.newer))
	}
	if !m.running {
		state = st.Warning.Render("■ stopped")
	}
	left := strings.Join(parts, st.Subtle.Render(" · "))
	if len(flags) > 0 {
		left += st.Subtle.Render(" · " + strings.Join(flags, " · "))
	}
	right := " " + state
	room := w - ansi.StringWidth(right)
	return padRight(cut(left, room), room) + right
}

func lastElem(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (m *Model) footer(w int) string {
	st := m.Styles
	switch {
	case m.mode != modeNone:
		v := m.field.View()
		if m.fieldErr != "" {
			// The reason first: the field may fill the row.
			v = st.Error.Render(m.fieldErr) + "  " + v
		}
		return cut(v, w)
	case !m.running && m.stopped != "":
		return cut(st.Warning.Render("monitor stopped: "+m.stopped), w)
	case m.note != "":
		return cut(st.Subtle.Render(m.note), w)
	}
	return ""
}

// logRows draws the newest visible entries up to the bottom of the
// screen, h rows of width w (short content is padded below).
func (m *Model) logRows(w, h int) []string {
	if h <= 0 {
		return nil
	}
	var rows []string
	if len(m.entries) == 0 {
		msg := "no output yet"
		if !m.running {
			msg = "the monitor is not reading this board"
		}
		rows = append(rows, cut(m.Styles.Subtle.Render(msg), w))
	} else {
		bottom := m.next - 1
		if !m.follow {
			bottom = min(max(m.bottom, m.first), m.next-1)
		}
		var rev [][]string
		n := 0
		for s := bottom; s >= m.first && n < h; s-- {
			e := m.get(s)
			if !m.visible(e) {
				continue
			}
			r := m.entryRows(e, w)
			rev = append(rev, r)
			n += len(r)
		}
		for i := len(rev) - 1; i >= 0; i-- {
			rows = append(rows, rev[i]...)
		}
		if len(rows) > h {
			rows = rows[len(rows)-h:]
		}
		if len(rows) == 0 {
			rows = append(rows, cut(m.Styles.Subtle.Render("nothing matches the filter"), w))
		}
	}
	for len(rows) < h {
		rows = append(rows, "")
	}
	return rows
}

// hiddenKinds restate their line and would only double it.
var hiddenKinds = map[string]bool{decode.KindBootSDK: true, decode.KindTLSTrace: true}

// entryRows draws one entry: the line under its timestamp, then its
// decoded events (crash frames expanded).
func (m *Model) entryRows(e *entry, w int) []string {
	st := m.Styles
	stamp, indent := "", ""
	tw := w
	if w >= 40 {
		stamp = st.Timestamp.Render(e.time.Format("15:04:05.000")) + " "
		indent = strings.Repeat(" ", stampWidth)
		tw = w - stampWidth
	}
	var body []string
	switch {
	case e.kind == serialmon.ItemStatus:
		body = m.fit(st.Status.Render("── "+e.text+" ──"), tw)
	case m.hex && len(e.raw) > 0:
		body = hexRows(e.raw, e.hexOff, tw)
	default:
		base := st.Text
		if sev, ok := e.severity(); ok && sev >= decode.Warning {
			base = st.Severity(sev)
		}
		text := m.highlight(e.text, base)
		if e.kind == serialmon.ItemPartial {
			text += st.Subtle.Render("▏")
		}
		body = m.fit(text, tw)
	}
	if m.showEvents {
		for _, ev := range e.events {
			if hiddenKinds[ev.Kind] {
				continue
			}
			body = append(body, m.eventRows(ev, tw)...)
		}
	}
	if e.seq == m.mark && len(body) > 0 {
		body[0] = cut(st.Match.Render("▶")+" "+body[0], tw)
	}
	rows := make([]string, len(body))
	for i, b := range body {
		if i == 0 {
			rows[i] = stamp + b
		} else {
			rows[i] = indent + b
		}
	}
	return rows
}

func (m *Model) eventRows(ev decode.Event, w int) []string {
	st := m.Styles
	sty := st.Severity(ev.Severity)
	head := styles.Marker(ev.Severity) + " " + ev.Summary
	if ev.Severity >= decode.Warning {
		head = styles.Marker(ev.Severity) + " " + ev.Severity.String() + ": " + ev.Summary
	}
	rows := m.fit(sty.Render(head), w)
	if ev.Fix != "" {
		rows = append(rows, m.fit(st.Subtle.Render("  fix: ")+st.Text.Render(ev.Fix), w)...)
	}
	for _, f := range ev.Frames {
		at := fmt.Sprintf("  0x%08x ", f.Addr)
		if f.Inlined {
			at = "    (inlined) "
		}
		where := f.String()
		if f.File == decode.ROMFile {
			where = "in the mask ROM"
		}
		rows = append(rows, m.fit(st.Subtle.Render(at)+sty.Render(where), w)...)
	}
	return rows
}

// fit wraps (in wrap mode) or truncates a styled row to w cells.
func (m *Model) fit(s string, w int) []string {
	if w <= 0 {
		return []string{""}
	}
	if m.wrapLines {
		return strings.Split(ansi.Wrap(s, w, " -"), "\n")
	}
	return []string{cut(s, w)}
}

// highlight renders text in base with the search's matches marked.
func (m *Model) highlight(text string, base lipgloss.Style) string {
	if m.search == nil {
		return base.Render(text)
	}
	locs := m.search.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return base.Render(text)
	}
	var sb strings.Builder
	prev := 0
	for _, l := range locs {
		if l[1] == l[0] {
			continue
		}
		sb.WriteString(base.Render(text[prev:l[0]]))
		sb.WriteString(m.Styles.Match.Render(text[l[0]:l[1]]))
		prev = l[1]
	}
	sb.WriteString(base.Render(text[prev:]))
	return sb.String()
}

// hexRows dumps raw bytes as offset, hex and ASCII columns, 16 bytes a
// row where that fits, else 8.
func hexRows(raw []byte, off int64, w int) []string {
	per := 16
	if w < 4*16+12 {
		per = 8
	}
	var rows []string
	for i := 0; i < len(raw); i += per {
		chunk := raw[i:min(i+per, len(raw))]
		var hx, asc strings.Builder
		for j := 0; j < per; j++ {
			if j < len(chunk) {
				fmt.Fprintf(&hx, "%02x ", chunk[j])
				c := chunk[j]
				if c < 0x20 || c >= 0x7f {
					c = '.'
				}
				asc.WriteByte(c)
			} else {
				hx.WriteString("   ")
			}
		}
		rows = append(rows, cut(fmt.Sprintf("%08x  %s |%s|", off+int64(i), hx.String(), asc.String()), w))
	}
	return rows
}

// ShortHelp lists the monitor's main keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	if m.mode != modeNone {
		return []key.Binding{m.Keys.Input.Submit, m.Keys.Input.Cancel}
	}
	k := m.Keys.Monitor
	return []key.Binding{k.Search, k.Filter, k.Pause, k.Send, k.Reset, k.Hex}
}

// FullHelp lists every monitor key.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.Keys.Monitor
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Search, k.NextMatch, k.PrevMatch, k.Filter, k.Pause, k.Clear},
		{k.Hex, k.Wrap, k.Events, k.Plot},
		{k.Send, k.Reset, k.Bootloader, k.Baud},
	}
}

package topics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/tui/components/plot"
)

// sideBySide is the width from which the tree sits beside the detail.
const sideBySide = 100

// View draws the view in its size.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	rows := []string{m.header(w)}
	bodyH := h - 2
	switch {
	case m.dialog != dialogNone && m.form != nil:
		rows = append(rows, strings.Split(m.form.View(), "\n")...)
	case m.viewer == nil:
		rows = append(rows, m.disconnectedRows(w)...)
	case w >= sideBySide:
		tw := min(60, w*2/5)
		dw := w - tw - 1
		tree := m.treeRows(tw, bodyH)
		det := m.detailRows(dw, bodyH)
		sep := m.Styles.Separator.Render("│")
		for i := 0; i < bodyH; i++ {
			l, r := "", ""
			if i < len(tree) {
				l = tree[i]
			}
			if i < len(det) {
				r = det[i]
			}
			rows = append(rows, padRight(l, tw)+sep+r)
		}
	default:
		// A short tree leaves its share to the detail.
		tree := m.treeRows(w, m.treeHeight())
		rows = append(rows, tree...)
		rows = append(rows, m.Styles.Separator.Render(strings.Repeat("─", w)))
		rows = append(rows, m.detailRows(w, bodyH-len(tree)-1)...)
	}
	if len(rows) > h-1 {
		rows = rows[:h-1]
	}
	for len(rows) < h-1 {
		rows = append(rows, "")
	}
	foot := ""
	if m.note != "" {
		foot = m.Styles.Subtle.Render(m.note)
	}
	rows = append(rows, foot)
	for i, r := range rows {
		rows[i] = cut(r, w)
	}
	return strings.Join(rows, "\n")
}

func cut(s string, w int) string { return ansi.Truncate(s, w, "…") }

func padRight(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// treeHeight is the tree's share of a narrow screen.
func (m *Model) treeHeight() int {
	bodyH := m.Height - 2
	if m.Width >= sideBySide {
		return bodyH
	}
	return max(3, bodyH*2/5)
}

func (m *Model) header(w int) string {
	st := m.Styles
	parts := []string{st.Heading.Render("Topics")}
	if m.cfg != nil && m.cfg.Name != "" {
		parts = append(parts, m.cfg.Name)
	}
	var state string
	switch {
	case m.viewer != nil:
		s := m.viewer.State()
		parts = append(parts, plural(m.totals.Topics, "topic"), plural(m.totals.Messages, "message"))
		if m.totals.Dropped > 0 {
			parts = append(parts, fmt.Sprintf("%d on untracked topics", m.totals.Dropped))
		}
		switch s.Status {
		case mqttview.StatusConnected:
			state = st.Notice.Render("● connected")
		case mqttview.StatusConnecting:
			state = st.Heading.Render("◐ connecting")
		default:
			state = st.Warning.Render("■ " + string(s.Status))
		}
	case m.connecting:
		state = st.Heading.Render("◐ connecting")
	default:
		state = st.Warning.Render("■ not connected")
	}
	right := " " + state
	room := w - ansi.StringWidth(right)
	left := strings.Join(parts, st.Subtle.Render(" · "))
	if ansi.StringWidth(left) > room && m.cfg != nil && m.cfg.Name != "" {
		// The counts matter more than the broker's name.
		left = strings.Join(append(parts[:1:1], parts[2:]...), st.Subtle.Render(" · "))
	}
	return padRight(left, room) + right
}

func (m *Model) disconnectedRows(w int) []string {
	st := m.Styles
	var lines []string
	switch {
	case !m.Configured():
		lines = []string{"No broker to watch in this session.", "", "iotbench tui watches the local cloud (iotbench cloud serve); iotbench demo watches its own."}
	case m.connecting:
		lines = []string{"Connecting to the broker…"}
	case m.connErr != nil:
		lines = []string{st.Error.Render("Cannot connect: ") + mqttview.Explain(m.connErr), "", "Press r to try again."}
	default:
		lines = []string{"Press r to connect to the broker."}
	}
	out := []string{""}
	for _, l := range lines {
		out = append(out, strings.Split(ansi.Wrap(l, max(10, w-2), " "), "\n")...)
	}
	return out
}

// treeRows draws the tree around the cursor, h rows of width w.
func (m *Model) treeRows(w, h int) []string {
	st := m.Styles
	if h <= 0 {
		return nil
	}
	if len(m.rows) == 0 {
		return []string{st.Subtle.Render(cut("no messages yet", w))}
	}
	if m.cursor < m.top {
		m.top = m.cursor
	}
	if m.cursor >= m.top+h {
		m.top = m.cursor - h + 1
	}
	m.top = min(m.top, max(0, len(m.rows)-h))
	var out []string
	for i := m.top; i < len(m.rows) && len(out) < h; i++ {
		r := m.rows[i]
		n := r.node
		name := strings.Repeat("  ", r.depth) + value(n.Name)
		if len(n.Children) > 0 {
			name += "/"
		}
		var stats string
		if n.Stats != nil {
			stats = fmt.Sprintf("%d", n.Stats.Count)
			if n.Stats.Rate > 0 {
				stats += fmt.Sprintf(" %.1f/s", n.Stats.Rate)
			}
			if m.retained(n.Stats) {
				stats += " R"
			}
		} else {
			stats = fmt.Sprintf("%d in %s", n.Count, plural(n.Topics, "topic"))
		}
		mark := "  "
		nameSty := st.Text
		if i == m.cursor {
			mark = "▸ "
			nameSty = st.Selected
		}
		room := w - 2 - ansi.StringWidth(stats) - 1
		line := mark + nameSty.Render(padRight(name, max(1, room))) + " " + st.Subtle.Render(stats)
		out = append(out, cut(line, w))
	}
	return out
}

// detailRows draws the selected topic: its figures, the last payload,
// what changed, the charts and the history.
func (m *Model) detailRows(w, h int) []string {
	st := m.Styles
	if h <= 0 {
		return nil
	}
	d := m.det
	if d == nil {
		if m.sel != "" {
			return []string{st.Subtle.Render(cut(m.sel+": a level of the tree; select a topic", w))}
		}
		return []string{st.Subtle.Render(cut("select a topic", w))}
	}
	s := d.stats
	rate := fmt.Sprintf("%.1f/s", s.Rate)
	if s.Count < 2 {
		rate = "no rate yet"
	}
	info := fmt.Sprintf("%s · %s · %s · last %s", plural(s.Count, "message"), rate, plural(s.Bytes, "byte"), s.Last.Format("15:04:05"))
	if m.retained(&s) {
		info += " · retained"
	}
	rows := []string{cut(st.Heading.Render(value(s.Topic)), w), cut(st.Subtle.Render(info), w)}

	var charts []string
	names := make([]string, 0, len(d.series))
	for k := range d.series {
		names = append(names, k)
	}
	sort.Strings(names)
	nameW := 4
	for _, n := range names {
		nameW = max(nameW, min(ansi.StringWidth(value(n)), 18))
	}
	for _, n := range names {
		pts := d.series[n]
		vals := make([]float64, len(pts))
		lo, hi := pts[0].Value, pts[0].Value
		for i, p := range pts {
			vals[i] = p.Value
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
		val := fmt.Sprintf(" %s [%s…%s]", plot.Format(vals[len(vals)-1]), plot.Format(lo), plot.Format(hi))
		lineW := max(1, w-nameW-1-ansi.StringWidth(val))
		// Field names come from the payload: quoted if they hold controls.
		name := ansi.Truncate(value(n), nameW, "…")
		charts = append(charts, cut(st.Subtle.Render(padRight(name, nameW))+" "+st.Sparkline.Render(plot.Sparkline(vals, lineW))+st.Text.Render(val), w))
	}
	// Room is shared on a short screen: the payload takes at most half
	// (pretty-printed JSON that would need more is shown compact); charts
	// and changes split the rest (their headings say how many are left
	// out); the history fills what remains.
	kind := mqttview.Classify(s.Payload)
	avail := h - len(rows)
	plines := m.payloadLines(s.Payload, kind, false, w)
	if kind == mqttview.KindJSON && !m.raw && 1+len(plines) > avail/2 {
		plines = m.payloadLines(s.Payload, kind, true, w)
	}
	free := avail - 1 - min(len(plines), max(1, avail/2))
	if len(charts) > 0 && free >= 2 {
		share := free - 1
		if len(d.diff) > 0 {
			share = free/2 - 1
		}
		n := min(len(charts), max(1, share))
		rows = append(rows, st.Heading.Render(section("Charts", n, len(charts), "field")))
		rows = append(rows, charts[:n]...)
		free -= n + 1
	}
	if len(d.diff) > 0 && free >= 2 {
		n := min(len(d.diff), free-1)
		rows = append(rows, st.Heading.Render(section("Changed since the previous message", n, len(d.diff), "change")))
		for _, c := range d.diff[:n] {
			rows = append(rows, cut(diffLine(c), w))
		}
	}
	rest := h - len(rows) - 1
	histRoom := 0
	if len(d.history) > 1 {
		switch {
		case rest-len(plines) >= 2:
			histRoom = rest - len(plines)
		case rest/3 >= 2:
			histRoom = rest / 3
		}
	}
	maxP := max(1, rest-histRoom)
	if len(plines) > maxP {
		plines = append(plines[:maxP-1], "… "+plural(len(plines)-maxP+1, "more line"))
	}
	rows = append(rows, st.Heading.Render(fmt.Sprintf("Last payload (%s)", kind)))
	for _, l := range plines {
		rows = append(rows, cut(st.Text.Render(l), w))
	}
	if histRoom > 0 && len(rows) < h {
		rows = append(rows, st.Heading.Render(fmt.Sprintf("History (%d kept)", len(d.history))))
		for i := len(d.history) - 1; i >= 0 && len(rows) < h; i-- {
			msg := d.history[i]
			line := st.Timestamp.Render(msg.Time.Format("15:04:05.000")) + " " + st.Text.Render(clean(mqttview.FormatPayload(msg.Payload, true, 512)))
			rows = append(rows, cut(line, w))
		}
	}
	if len(rows) > h {
		rows = rows[:h]
	}
	return rows
}

// payloadLines is the payload as shown: pretty-printed (or, compact,
// on one line), or as it came with v; long lines wrap at w.
func (m *Model) payloadLines(p []byte, kind mqttview.PayloadKind, compact bool, w int) []string {
	text := mqttview.FormatPayload(p, m.raw || compact, 4096)
	if m.raw && kind != mqttview.KindBinary {
		text = string(p)
	}
	return strings.Split(ansi.Hardwrap(clean(text), max(1, w), true), "\n")
}

// section is a heading that says how much of a list is shown.
func section(title string, shown, total int, what string) string {
	if shown == total {
		return title
	}
	return fmt.Sprintf("%s (%d of %s)", title, shown, plural(total, what))
}

// plural counts things in words: "1 topic", "2 topics".
func plural[N int | uint64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func diffLine(c mqttview.Change) string {
	path := value(c.Path)
	switch c.Op {
	case "added":
		return fmt.Sprintf("+ %s = %s", path, value(c.New))
	case "removed":
		return fmt.Sprintf("- %s (was %s)", path, value(c.Old))
	}
	return fmt.Sprintf("~ %s: %s → %s", path, value(c.Old), value(c.New))
}

// value prints a JSON leaf; strings are quoted when they hold anything a
// terminal would act on (a board's payload must not drive the screen).
func value(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("%v", v)
	}
	if !utf8.ValidString(s) {
		// A stray byte such as 0x90 starts a control string on a terminal.
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return strconv.Quote(s)
		}
	}
	return s
}

// clean makes text safe to draw in a cell grid: tabs become spaces and
// carriage returns go (FormatPayload already shows control bytes as hex).
func clean(s string) string {
	s = strings.ReplaceAll(s, "\t", "    ")
	return strings.ReplaceAll(s, "\r", "")
}

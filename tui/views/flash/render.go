package flash

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
	"github.com/iotbench/iotbench/flasher/target"
	"github.com/iotbench/iotbench/tui/device"
)

const labelWidth = 14

func cut(s string, w int) string { return ansi.Truncate(s, w, "…") }

// View draws the form, the bars, the log and the verdict.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.Styles
	var top []string
	head := st.Heading.Render("Flash")
	if m.chip != "" {
		head += st.Subtle.Render(" · " + m.chip)
	}
	if m.flashMB > 0 {
		head += st.Subtle.Render(" · " + target.SizeName(m.flashMB) + " flash")
	}
	if m.running {
		head += " " + st.Warning.Render("● flashing")
	}
	top = append(top, cut(head, w))
	for f := field(0); f < fieldCount; f++ {
		mark := "  "
		label := st.Subtle
		if f == m.focus && !m.running {
			mark, label = "▸ ", st.Selected
		}
		row := mark + label.Render(fmt.Sprintf("%-*s", labelWidth-2, m.fieldName(f))) + m.fieldValue(f)
		top = append(top, cut(row, w))
	}
	if info := m.info[m.focus]; info != "" && !m.running {
		sty := st.Subtle
		if m.infoErr[m.focus] {
			sty = st.Error
		}
		top = append(top, cut("  "+sty.Render("⇢ "+info), w))
	} else {
		top = append(top, "")
	}

	var bottom []string
	if m.result != "" {
		sty := st.Notice
		if m.failed {
			sty = st.Error
		}
		for _, r := range strings.Split(ansi.Wrap(m.result, w, " "), "\n") {
			bottom = append(bottom, sty.Render(r))
		}
		if len(bottom) > 3 {
			bottom = bottom[:3]
		}
	} else if !m.running {
		bottom = append(bottom, cut(st.Subtle.Render("press w to write flash; the monitor gives the port back when it is done"), w))
	}

	mid := []string{}
	if len(m.regions) > 0 || m.running || len(m.log) > 0 {
		mid = append(mid, st.Heading.Render("Progress"))
		for _, r := range m.regions {
			mid = append(mid, m.bar(r, w)...)
		}
	}
	room := h - len(top) - len(mid) - len(bottom)
	if room < 0 {
		// Too little height: keep the bars and the verdict, drop form rows.
		top = top[:max(1, len(top)+room)]
		room = 0
	}
	logRows := m.log
	if len(logRows) > room {
		logRows = logRows[len(logRows)-room:]
	}
	rows := append(top, mid...)
	for _, l := range logRows {
		rows = append(rows, cut(st.Subtle.Render("  "+l), w))
	}
	for len(rows)+len(bottom) < h {
		rows = append(rows, "")
	}
	rows = append(rows, bottom...)
	if len(rows) > h {
		rows = rows[:h]
	}
	return strings.Join(rows, "\n")
}

// fieldName is the form's label: an ESP32-family board is laid out by
// its partition table, not by an ESP8266 layout.
func (m *Model) fieldName(f field) string {
	if f == fieldLayout && m.esp32() {
		return "Partitions"
	}
	return fieldNames[f]
}

func (m *Model) fieldValue(f field) string {
	st := m.Styles
	switch f {
	case fieldApp, fieldFS:
		ti := m.textField(f)
		if m.editing && f == m.focus {
			return ti.View()
		}
		if v := m.value(f); v != "" {
			return st.Text.Render(v)
		}
		if f == fieldApp {
			return st.Subtle.Render("(none) — enter to choose")
		}
		return st.Subtle.Render("(none)")
	case fieldKind:
		return st.Text.Render(string(m.kind)) + st.Subtle.Render(" (for a folder)")
	case fieldLayout:
		return m.layoutValue()
	case fieldVerify:
		return st.Text.Render(verifyModes[m.verify].name)
	}
	return ""
}

func (m *Model) layoutValue() string {
	st := m.Styles
	if m.esp32() {
		return m.tableValue()
	}
	if m.layout != "auto" {
		l, err := layout.ESP8266(m.layout)
		if err != nil {
			return st.Error.Render(err.Error())
		}
		return st.Text.Render(l.Name) + st.Subtle.Render(fmt.Sprintf(": FS at 0x%06X, %s", l.FS.Offset, size(int(l.FS.Size))))
	}
	switch {
	case m.value(fieldFS) == "":
		return st.Text.Render("auto") + st.Subtle.Render(" (no filesystem chosen)")
	case m.flashMB == 0:
		return st.Text.Render("auto") + st.Subtle.Render(": from the chip's flash size, read when flashing")
	}
	l, err := device.ResolveLayout("auto", m.flashMB, 0, 0)
	if err != nil {
		return st.Text.Render("auto") + st.Error.Render(": "+err.Error())
	}
	return st.Text.Render("auto → "+l.Name) + st.Subtle.Render(fmt.Sprintf(": FS at 0x%06X, %s (an image picks the layout of its size)", l.FS.Offset, size(int(l.FS.Size))))
}

// bar draws one region in two rows: address, name, bar and percent;
// then bytes, speed and time left (or how it was verified once written).
func (m *Model) bar(r *region, w int) []string {
	st := m.Styles
	name := r.name
	if name == "" {
		name = fmt.Sprintf("%d bytes", r.total)
	}
	nameW := min(24, max(12, w/4))
	left := fmt.Sprintf("0x%06x %-*s ", r.addr, nameW, cut(name, nameW))
	pct := 0.0
	if r.total > 0 {
		pct = float64(r.done) / float64(r.total)
	}
	if r.written != nil {
		pct = 1
	}
	right := fmt.Sprintf(" %3.0f%%", pct*100)
	barW := min(60, max(1, w-ansi.StringWidth(left)-ansi.StringWidth(right)))
	full := int(pct * float64(barW))
	bar := st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", barW-full))

	var detail string
	sty := st.Subtle
	switch {
	case r.written != nil:
		how := "not verified"
		switch {
		case r.written.Skipped:
			how = "unchanged, skipped"
		case r.written.Verified:
			how = "verified (" + r.written.VerifiedBy + ")"
		}
		detail = fmt.Sprintf("%s written in %.1f s · %s", size(r.written.Size), r.written.Elapsed.Seconds(), how)
		sty = st.Notice
	case r.phase == "verify":
		detail = fmt.Sprintf("verifying %s/%s", size(r.done), size(r.total))
	case r.done == 0:
		detail = fmt.Sprintf("waiting · %s", size(r.total))
	default:
		detail = fmt.Sprintf("%s/%s", size(r.done), size(r.total))
		if r.rate > 0 {
			detail += fmt.Sprintf(" · %s/s · ETA %s", size(int(r.rate)), eta(r))
		}
	}
	return []string{
		cut(left+bar+st.Text.Render(right), w),
		cut(strings.Repeat(" ", 9)+sty.Render(detail), w),
	}
}

func eta(r *region) string {
	if r.rate <= 0 || r.done >= r.total {
		return "0s"
	}
	d := time.Duration(float64(r.total-r.done) / r.rate * float64(time.Second))
	return d.Round(time.Second).String()
}

// ShortHelp lists the flash keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	k := m.Keys.Flash
	switch {
	case m.editing:
		return []key.Binding{m.Keys.Input.Submit, m.Keys.Input.Cancel}
	case m.running:
		return []key.Binding{k.Cancel}
	}
	return []key.Binding{k.Up, k.Down, k.Edit, k.Write}
}

// FullHelp lists every flash key.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.Keys.Flash
	return [][]key.Binding{{k.Up, k.Down, k.Edit}, {k.Write, k.Cancel}}
}

// tableValue says which partition table will place the regions of an
// ESP32-family board, and its filesystem partition where that is known
// before connecting.
func (m *Model) tableValue() string {
	st := m.Styles
	fsPart := func(pt *layout.PartitionTable) string {
		p, err := pt.FS()
		if err != nil {
			return st.Error.Render(": " + err.Error())
		}
		return st.Subtle.Render(fmt.Sprintf(": FS %s at 0x%06X, %s", p.Label, p.Offset, size(int(p.Size))))
	}
	if m.layout != "auto" {
		pt, err := layout.ESP32DefaultTable(m.layout, m.flashMB)
		if err != nil {
			return st.Error.Render(err.Error())
		}
		return st.Text.Render(m.layout) + fsPart(pt) + st.Subtle.Render(" (written at 0x8000)")
	}
	if m.merged != nil {
		return st.Text.Render("auto → the merged image's") + fsPart(m.merged)
	}
	text := st.Text.Render("auto") + st.Subtle.Render(": the chip's table at 0x8000")
	if pt, scheme, err := place.DefaultTable(m.flashMB); err == nil && m.flashMB > 0 {
		if p, err := pt.FS(); err == nil {
			return text + st.Subtle.Render(fmt.Sprintf("; none → %s: FS %s at 0x%06X", scheme, p.Label, p.Offset))
		}
	}
	return text + st.Subtle.Render(", read when flashing")
}

// Package plot owns the monitor's plotter panel: numeric series taken
// from log lines (decode.SeriesParser's samples), each drawn as a
// sparkline with its latest value and range. It keeps a bounded history
// per series and a bounded number of series.
package plot

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// Limits: a sparkline is at most a screen wide, and a log that names a new
// key on every line must not grow memory without bound.
const (
	MaxPoints = 512
	MaxSeries = 64
)

// Series is one named measurement.
type Series struct {
	Name   string
	Values []float64 // oldest first, at most MaxPoints
}

// Last is the newest value.
func (s *Series) Last() float64 { return s.Values[len(s.Values)-1] }

// Model holds the series of one board in first-seen order.
type Model struct {
	series  []*Series
	byName  map[string]*Series
	dropped int // samples of series beyond MaxSeries
}

// Add records samples.
func (m *Model) Add(samples []decode.Sample) {
	if m.byName == nil {
		m.byName = map[string]*Series{}
	}
	for _, s := range samples {
		sr := m.byName[s.Name]
		if sr == nil {
			if len(m.series) >= MaxSeries {
				m.dropped++
				continue
			}
			sr = &Series{Name: s.Name}
			m.byName[s.Name] = sr
			m.series = append(m.series, sr)
		}
		if len(sr.Values) == MaxPoints {
			copy(sr.Values, sr.Values[1:])
			sr.Values = sr.Values[:MaxPoints-1]
		}
		sr.Values = append(sr.Values, s.Value)
	}
}

// Len is the number of series.
func (m *Model) Len() int { return len(m.series) }

// Series returns the series in first-seen order.
func (m *Model) Series() []*Series { return m.series }

// Reset forgets everything.
func (m *Model) Reset() { *m = Model{} }

var ticks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the last width values, one cell each, scaled between
// their minimum and maximum; a flat series sits in the middle.
func Sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var sb strings.Builder
	for _, v := range values {
		i := len(ticks) / 2
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(ticks)-1))
		}
		sb.WriteRune(ticks[i])
	}
	return sb.String()
}

// Format prints a value compactly (integers without a fraction).
func Format(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Styles used by View.
type Styles struct {
	Name, Line, Value, Subtle lipgloss.Style
}

// View draws up to height series, one row each, in width cells:
// name, sparkline, latest value and range. Rows that do not fit are
// summarised on the last row.
func (m *Model) View(width, height int, st Styles) string {
	if height <= 0 || width <= 0 {
		return ""
	}
	if len(m.series) == 0 {
		return st.Subtle.Render(ansi.Truncate("plot: no numbers in the log yet (key=value, CSV or #IB lines)", width, "…"))
	}
	shown := m.series
	more := 0
	if len(shown) > height {
		shown = shown[:height-1]
		more = len(m.series) - len(shown)
	}
	nameW := 4
	for _, s := range shown {
		nameW = max(nameW, min(ansi.StringWidth(s.Name), 16))
	}
	rows := make([]string, 0, height)
	for _, s := range shown {
		lo, hi := s.Values[0], s.Values[0]
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		val := fmt.Sprintf(" %s [%s…%s]", Format(s.Last()), Format(lo), Format(hi))
		name := ansi.Truncate(s.Name, nameW, "…")
		lineW := width - nameW - 1 - ansi.StringWidth(val)
		if lineW < 4 {
			val = " " + Format(s.Last())
			lineW = max(0, width-nameW-1-ansi.StringWidth(val))
		}
		row := st.Name.Render(name+strings.Repeat(" ", nameW-ansi.StringWidth(name))) + " " +
			st.Line.Render(Sparkline(s.Values, lineW)) + st.Value.Render(val)
		rows = append(rows, ansi.Truncate(row, width, ""))
	}
	if more > 0 {
		rows = append(rows, st.Subtle.Render(ansi.Truncate(fmt.Sprintf("+%d more series", more), width, "…")))
	}
	return strings.Join(rows, "\n")
}

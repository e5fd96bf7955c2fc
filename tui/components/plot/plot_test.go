package plot

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/serialmon/decode"
)

func TestSparkline(t *testing.T) {
	if got := Sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 8); got != "▁▂▃▄▅▆▇█" {
		t.Errorf("ramp: %q", got)
	}
	if got := Sparkline([]float64{5, 5, 5}, 8); got != "▅▅▅" {
		t.Errorf("flat: %q", got)
	}
	// Only the newest values that fit, scaled among themselves.
	if got := Sparkline([]float64{100, 0, 1}, 2); got != "▁█" {
		t.Errorf("clipped: %q", got)
	}
	if Sparkline(nil, 5) != "" || Sparkline([]float64{1}, 0) != "" {
		t.Error("empty input or width must draw nothing")
	}
}

func TestBounded(t *testing.T) {
	var m Model
	for i := 0; i < MaxPoints+50; i++ {
		m.Add([]decode.Sample{{Name: "t", Value: float64(i)}})
	}
	s := m.Series()[0]
	if len(s.Values) != MaxPoints || s.Values[0] != 50 || s.Last() != float64(MaxPoints+49) {
		t.Fatalf("history: %d values from %v to %v", len(s.Values), s.Values[0], s.Last())
	}
	for i := 0; i < MaxSeries+10; i++ {
		m.Add([]decode.Sample{{Name: "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Value: 1}})
	}
	if m.Len() != MaxSeries {
		t.Fatalf("%d series kept", m.Len())
	}
}

func TestViewFits(t *testing.T) {
	var m Model
	for i := 0; i < 20; i++ {
		m.Add([]decode.Sample{{Name: "temperature_outdoor_sensor", Value: float64(i)}, {Name: "heap", Value: 40000 - float64(i)}, {Name: "rssi", Value: -60}, {Name: "lux", Value: 3}})
	}
	for _, w := range []int{10, 30, 80} {
		out := m.View(w, 3, Styles{})
		rows := strings.Split(out, "\n")
		if len(rows) != 3 {
			t.Fatalf("width %d: %d rows", w, len(rows))
		}
		for _, r := range rows {
			if ansi.StringWidth(r) > w {
				t.Errorf("width %d: %q is wider", w, r)
			}
		}
		if !strings.HasPrefix(rows[2], "+2 more") {
			t.Errorf("width %d: no summary row: %q", w, rows[2])
		}
	}
	if out := m.View(80, 5, Styles{}); !strings.Contains(out, "heap") || !strings.Contains(out, "39981 [39981…40000]") {
		t.Errorf("latest value and range missing:\n%s", out)
	}
}

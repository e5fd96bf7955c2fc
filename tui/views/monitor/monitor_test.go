package monitor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
)

// fakeActions records what the view asked for.
type fakeActions struct{ calls []string }

func (f *fakeActions) rec(s string) tea.Cmd {
	f.calls = append(f.calls, s)
	return func() tea.Msg { return device.ActionDone{What: s} }
}
func (f *fakeActions) Send(text string) tea.Cmd { return f.rec(fmt.Sprintf("send %q", text)) }
func (f *fakeActions) Reset() tea.Cmd           { return f.rec("reset") }
func (f *fakeActions) Bootloader() tea.Cmd      { return f.rec("bootloader") }
func (f *fakeActions) SetBaud(b int) tea.Cmd    { return f.rec(fmt.Sprintf("baud %d", b)) }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func newModel(scrollback int) (*Model, *fakeActions) {
	act := &fakeActions{}
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	m := New(c, 3, act, scrollback)
	m.SetSize(80, 12)
	m.SetRunning(true, "")
	return m, act
}

func lines(from, n int) []device.Line {
	var out []device.Line
	for i := from; i < from+n; i++ {
		text := fmt.Sprintf("line %d value=%d", i, i*10)
		out = append(out, device.Line{
			Item:    serialmon.Item{Kind: serialmon.ItemLine, Time: t0.Add(time.Duration(i) * time.Millisecond), Text: text, Raw: []byte(text + "\r\n"), Baud: 115200},
			Samples: decode.Series(text),
		})
	}
	return out
}

func screen(m *Model) string { return ansi.Strip(m.View()) }

func TestScrollbackBounded(t *testing.T) {
	m, _ := newModel(10)
	m.Append(lines(0, 25))
	if m.Len() != 10 || m.Lines() != 25 {
		t.Fatalf("%d entries kept of %d lines", m.Len(), m.Lines())
	}
	s := screen(m)
	if !strings.Contains(s, "line 24 ") || strings.Contains(s, "line 14 ") {
		t.Fatalf("screen:\n%s", s)
	}
	// Scrolling to the top reaches the oldest kept line, not a dropped one.
	m.Update(keytest.Press("g"))
	if s := screen(m); !strings.Contains(s, "line 15 ") {
		t.Fatalf("top:\n%s", s)
	}
}

func TestPartialLineCompleted(t *testing.T) {
	m, _ := newModel(0)
	m.Append([]device.Line{{Item: serialmon.Item{Kind: serialmon.ItemPartial, Time: t0, Text: "Enter SSID: "}}})
	if s := screen(m); !strings.Contains(s, "Enter SSID: ▏") {
		t.Fatalf("partial line not shown:\n%s", s)
	}
	m.Append([]device.Line{{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: t0, Text: "Enter SSID: bench", PartialLen: 12}}})
	if m.Len() != 1 || strings.Contains(screen(m), "▏") {
		t.Fatalf("the line did not replace its partial: %d entries\n%s", m.Len(), screen(m))
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":               "plain",
		"tab\there":           "tab    here",
		"\x1b[2Jclear":        `\x1b[2Jclear`,
		"bad \xff\xfe utf8":   `bad \xff\xfe utf8`,
		"caf\u00e9 \u00b5s":   "café µs",
		"bell\x07 del\x7f c1": `bell\x07 del\x7f c1`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterAndSearch(t *testing.T) {
	m, _ := newModel(0)
	m.Append(lines(0, 30))
	m.Update(keytest.Press("f"))
	keytest.Type(m.Update, "line (3|7) ")
	m.Update(keytest.Press("enter"))
	s := screen(m)
	if !strings.Contains(s, "line 3 ") || !strings.Contains(s, "line 7 ") || strings.Contains(s, "line 4 ") {
		t.Fatalf("filter:\n%s", s)
	}
	// A bad expression is refused with the reason; the filter stays.
	m.Update(keytest.Press("f"))
	keytest.Type(m.Update, "(")
	m.Update(keytest.Press("enter"))
	if s := screen(m); !strings.Contains(s, "bad regular expression") || !m.Typing() {
		t.Fatalf("bad regexp:\n%s", s)
	}
	m.Update(keytest.Press("esc"))
	if m.filter == nil || m.filter.String() != "line (3|7) " {
		t.Fatalf("the old filter was lost: %v", m.filter)
	}
	m.filter = nil
	// Search moves the screen to the newest match and n to older ones.
	m.Update(keytest.Press("/"))
	keytest.Type(m.Update, "line 2[0-9] ")
	m.Update(keytest.Press("enter"))
	if s := screen(m); !strings.Contains(s, "line 29 ") || !strings.Contains(s, "paused") {
		t.Fatalf("search:\n%s", s)
	}
	for i := 0; i < 9; i++ {
		m.Update(keytest.Press("n"))
	}
	m.Update(keytest.Press("v")) // the plotter off: the log's last row is the screen's
	rows := strings.Split(screen(m), "\n")
	if last := rows[len(rows)-2]; !strings.Contains(last, "line 20 ") {
		t.Fatalf("after 9 older matches the bottom row is %q", last)
	}
	m.Update(keytest.Press("n"))
	if !strings.Contains(screen(m), "no older match") {
		t.Fatal("no word about the last match")
	}
}

func TestPauseKeepsReading(t *testing.T) {
	m, _ := newModel(0)
	m.Append(lines(0, 5))
	m.Update(keytest.Press("p"))
	m.Append(lines(5, 3))
	s := screen(m)
	if !strings.Contains(s, "paused +3") || strings.Contains(s, "line 7 ") {
		t.Fatalf("paused:\n%s", s)
	}
	m.Update(keytest.Press("G"))
	if s := screen(m); !strings.Contains(s, "line 7 ") || !strings.Contains(s, "following") {
		t.Fatalf("resumed:\n%s", s)
	}
}

func TestActions(t *testing.T) {
	m, act := newModel(0)
	m.Append(lines(0, 1))
	m.Update(keytest.Press("s"))
	keytest.Type(m.Update, "AT+RST")
	cmd := m.Update(keytest.Press("enter"))
	m.Update(keytest.Press("esc"))
	m.Update(keytest.Press("R"))
	m.Update(keytest.Press("B"))
	m.Update(keytest.Press("b"))
	want := []string{`send "AT+RST\r\n"`, "reset", "bootloader", "baud 230400"}
	if fmt.Sprint(act.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q, want %q", act.calls, want)
	}
	// Results come back addressed to the board.
	if msg, ok := cmd().(common.BoardMsg); !ok || msg.Board != 3 {
		t.Fatalf("send result %#v", cmd())
	}
}

func TestHexAndWidths(t *testing.T) {
	m, _ := newModel(0)
	m.Append(lines(0, 3))
	m.Append([]device.Line{{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: t0, Text: strings.Repeat("long ", 60)}, Events: []decode.Event{{Kind: "x", Severity: decode.Error, Summary: strings.Repeat("why ", 40), Fix: strings.Repeat("do this ", 30)}}}})
	m.Update(keytest.Press("x"))
	if s := screen(m); !strings.Contains(s, "6c 69 6e 65 20 32") {
		t.Fatalf("hex:\n%s", s)
	}
	for _, wrap := range []bool{false, true} {
		m.wrapLines = wrap
		for _, w := range []int{20, 45, 80, 150} {
			m.SetSize(w, 14)
			for i, r := range strings.Split(m.View(), "\n") {
				if ansi.StringWidth(r) > w {
					t.Fatalf("wrap=%v width %d: row %d is %d wide: %q", wrap, w, i, ansi.StringWidth(r), r)
				}
			}
		}
	}
}

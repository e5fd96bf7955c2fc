package topics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
	"github.com/iotbench/iotbench/tui/views/topics/topicstest"
)

var t0 = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// bench is the view on a fake source with a clock the test moves.
type bench struct {
	t   *testing.T
	m   *Model
	src *topicstest.Source
	now time.Time
}

func newBench(t *testing.T, w, h int, l mqttview.Limits) *bench {
	b := &bench{t: t, now: t0}
	clock := func() time.Time { return b.now }
	b.src = topicstest.New(clock, l)
	cfg := &Config{Name: "test broker", Open: func(ctx context.Context, wake func()) (Source, error) { return b.src.Open(ctx, wake) }}
	b.m = New(common.New(styles.New(styles.DefaultTheme(), true), clock), context.Background(), cfg)
	b.m.SetSize(w, h)
	return b
}

// connect runs the view's connect command and hands it the result (the
// command that waits for the store's news is not run: the tests say when
// the store changed).
func (b *bench) connect() {
	b.t.Helper()
	cmd := b.m.Connect()
	if cmd == nil {
		b.t.Fatal("Connect returned no command")
	}
	b.m.Update(cmd())
	if b.m.Source() == nil {
		b.t.Fatalf("not connected:\n%s", b.view())
	}
}

// changed tells the view the store has news, as its wait command would.
func (b *bench) changed() { b.m.Update(Msg{Changed{}}) }

// sgr is a colour or attribute sequence, the only escapes the view may
// write (NO_COLOR keeps bold and reverse).
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func (b *bench) view() string {
	b.t.Helper()
	raw := b.m.View()
	if !utf8.ValidString(raw) {
		b.t.Fatalf("the view is not valid UTF-8 (a stray byte can start a terminal control string):\n%q", raw)
	}
	for _, r := range sgr.ReplaceAllString(raw, "") {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			b.t.Fatalf("the view writes control character %U: a payload or topic drives the terminal:\n%q", r, raw)
		}
	}
	out := ansi.Strip(raw)
	rows := strings.Split(out, "\n")
	if len(rows) != b.m.Height {
		b.t.Errorf("%d rows, want %d", len(rows), b.m.Height)
	}
	for i, r := range rows {
		if n := ansi.StringWidth(r); n > b.m.Width {
			b.t.Errorf("row %d is %d cells wide (> %d): %q", i, n, b.m.Width, r)
		}
	}
	return out
}

// press sends keys and runs what they start (forms move between fields
// through commands), as the program would.
func (b *bench) press(keys ...string) {
	for _, k := range keys {
		b.run(b.m.Update(keytest.Press(k)))
	}
}

func (b *bench) typeText(s string) {
	for _, r := range s {
		b.run(b.m.Update(tea.KeyPressMsg{Code: r, Text: string(r)}))
	}
}

// run executes cmd and everything it leads to, feeding the messages back
// in order. A cursor's blink is a timer: it is not run (it changes
// nothing but the cursor).
func (b *bench) run(cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil || strings.Contains(runtime.FuncForPC(reflect.ValueOf(c).Pointer()).Name(), "/cursor.") {
			continue
		}
		msg := c()
		if msg == nil {
			continue
		}
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			// tea.Batch and tea.Sequence.
			for i := 0; i < v.Len(); i++ {
				queue = append(queue, v.Index(i).Interface().(tea.Cmd))
			}
			continue
		}
		queue = append(queue, b.m.Update(msg))
	}
}

func (b *bench) add(topic string, ago time.Duration, payload string) {
	b.src.Add(topic, b.now.Add(-ago), payload, false)
}

// fill is the scene most tests use: 24 messages on four topics.
func (b *bench) fill() {
	for i := 0; i < 20; i++ {
		p := fmt.Sprintf(`{"temp":%g,"hum":40,"fw":"v1.0"}`, 20+float64(i)*0.5)
		if i == 19 {
			p = `{"temp":29.5,"fw":"v1.1","rssi":-61}`
		}
		b.add("iotbench/a/telemetry", time.Duration(19-i)*time.Second, p)
	}
	b.src.Add("iotbench/a/command", b.now.Add(-time.Minute), "on", true)
	b.add("iotbench/b/telemetry", 30*time.Second, `{"temp":18}`)
	b.add("other", time.Second, "hello")
	b.add("other", 0, "hello again")
}

// filledBench is a connected view showing fill's messages.
func filledBench(t *testing.T, w, h int) *bench {
	b := newBench(t, w, h, mqttview.Limits{})
	b.connect()
	b.fill()
	b.changed()
	return b
}

func (b *bench) sees(want ...string) string {
	b.t.Helper()
	v := b.view()
	flat := strings.Join(strings.Fields(v), " ")
	for _, w := range want {
		if !strings.Contains(flat, w) {
			b.t.Errorf("screen lacks %q:\n%s", w, v)
		}
	}
	return v
}

func treeLines(v string, w int) []string {
	var out []string
	for _, r := range strings.Split(v, "\n")[1:] {
		if w > 0 && len([]rune(r)) > w {
			r = string([]rune(r)[:w])
		}
		out = append(out, strings.TrimRight(r, " "))
	}
	return out
}

func TestTreeCountsAndRates(t *testing.T) {
	b := filledBench(t, 100, 30)
	v := b.sees("Topics · test broker · 4 topics · 24 messages", "● connected")
	// The tree's column is 40 cells at this width: names left, figures
	// right; a level adds up its subtree.
	want := []string{
		"  iotbench/               22 in 3 topics",
		"    a/                    21 in 2 topics",
		"▸     command                        1 R",
		"      telemetry                 20 1.0/s",
		"    b/                      1 in 1 topic",
		"      telemetry                        1",
		"  other                          2 2.0/s",
	}
	got := treeLines(v, 40)
	for i, w := range want {
		if got[i] != w {
			t.Errorf("tree row %d\n got %q\nwant %q", i, got[i], w)
		}
	}
	// Ten messages in the last ten seconds is 1/s; the rate decays as the
	// clock moves on without news, and the figure goes.
	b.now = t0.Add(5 * time.Second)
	b.changed()
	if got := treeLines(b.view(), 40)[3]; got != "      telemetry                 20 0.5/s" {
		t.Errorf("after 5 s: %q", got)
	}
	b.now = t0.Add(15 * time.Second)
	b.changed()
	if got := treeLines(b.view(), 40)[3]; got != "      telemetry                       20" {
		t.Errorf("after 15 s: %q", got)
	}
}

func TestPlurals(t *testing.T) {
	b := newBench(t, 100, 20, mqttview.Limits{})
	b.connect()
	b.add("solo", 0, "x")
	b.changed()
	b.sees("1 topic · 1 message ●", "1 message · no rate yet · 1 byte · last 09:30:00")
	if v := b.view(); strings.Contains(v, "1 topics") || strings.Contains(v, "1 messages") {
		t.Errorf("plural of one:\n%s", v)
	}
}

func TestNavigation(t *testing.T) {
	b := filledBench(t, 100, 30)
	// The first topic with messages is selected at once.
	if b.m.Selected() != "iotbench/a/command" {
		t.Fatalf("selected %q", b.m.Selected())
	}
	steps := []struct{ key, want string }{
		{"down", "iotbench/a/telemetry"},
		{"j", "iotbench/b"},
		{"G", "other"},
		{"up", "iotbench/b/telemetry"},
		{"g", "iotbench"},
		{"pgdown", "other"},
		{"k", "iotbench/b/telemetry"},
	}
	for _, s := range steps {
		b.press(s.key)
		if b.m.Selected() != s.want {
			t.Fatalf("after %s: selected %q, want %q", s.key, b.m.Selected(), s.want)
		}
	}
	b.sees("▸ telemetry", "iotbench/b/telemetry", "1 message")
	// A level of the tree has no payload of its own.
	b.press("g")
	b.sees("iotbench: a level of the tree; select a topic")

	// The selection stays on its topic as topics are added above it.
	b.press("G", "up")
	b.add("iotbench/a/status", 0, "online")
	b.add("iotbench/0/status", 0, "online")
	b.changed()
	if b.m.Selected() != "iotbench/b/telemetry" {
		t.Fatalf("selection moved to %q", b.m.Selected())
	}
	if !strings.Contains(b.view(), "▸     telemetry") {
		t.Errorf("cursor not on the selection:\n%s", b.view())
	}
	// A selected topic that goes away (cleared elsewhere) leaves the
	// cursor on a neighbour rather than nowhere.
	b.src.Store().Forget("iotbench/b/telemetry")
	b.changed()
	if s := b.m.Selected(); s == "" || s == "iotbench/b/telemetry" {
		t.Fatalf("selection after the topic went: %q", s)
	}
	if !b.m.SelectTopic("other") || b.m.SelectTopic("nope") {
		t.Fatal("SelectTopic")
	}
}

func TestTreeScrollsWithCursor(t *testing.T) {
	b := newBench(t, 100, 12, mqttview.Limits{})
	b.connect()
	for i := 0; i < 40; i++ {
		b.add(fmt.Sprintf("dev/%02d", i), 0, "1")
	}
	b.changed()
	b.press("G")
	v := b.view()
	if !strings.Contains(v, "▸   39") || strings.Contains(v, " 00 ") {
		t.Errorf("the last topic is not in view:\n%s", v)
	}
	b.press("g")
	if v := b.view(); !strings.Contains(v, "▸ dev/") || strings.Contains(v, "  39") {
		t.Errorf("the first row is not in view:\n%s", v)
	}
}

func TestPayloadDiffAndCharts(t *testing.T) {
	b := filledBench(t, 110, 40)
	b.m.SelectTopic("iotbench/a/telemetry")
	v := b.sees(
		"iotbench/a/telemetry",
		"20 messages · 1.0/s",
		"Charts",
		"Changed since the previous message",
		"~ fw: v1.0 → v1.1",
		"- hum (was 40)",
		"+ rssi = -61",
		"~ temp: 29 → 29.5",
		"Last payload (json)",
		"History (20 kept)",
		`09:30:00.000 {"temp":29.5,"fw":"v1.1","rssi":-61}`,
		`09:29:59.000 {"temp":29,"hum":40,"fw":"v1.0"}`,
	)
	// Pretty-printed: one field a line, indented.
	for _, l := range []string{`"temp": 29.5,`, `"fw": "v1.1",`, `"rssi": -61`} {
		if !strings.Contains(v, "  "+l) {
			t.Errorf("no indented %s:\n%s", l, v)
		}
	}
	// Numeric fields, sorted, with the last value and the range; strings
	// that are not numbers are not charted.
	charts := map[string]string{"hum": "40 [40…40]", "rssi": "-61 [-61…-61]", "temp": "29.5 [20…29.5]"}
	var order []string
	for _, l := range strings.Split(v, "\n") {
		for name, tail := range charts {
			if strings.Contains(l, "│"+name+" ") {
				order = append(order, name)
				if !strings.HasSuffix(strings.TrimRight(l, " "), tail) {
					t.Errorf("chart %s: %q, want it to end %q", name, l, tail)
				}
				if !strings.ContainsAny(l, "▁▂▃▄▅▆▇█") {
					t.Errorf("chart %s has no sparkline: %q", name, l)
				}
			}
		}
		if strings.Contains(l, "│fw ") {
			t.Errorf("a version string charted: %q", l)
		}
	}
	if strings.Join(order, " ") != "hum rssi temp" {
		t.Errorf("charts %v", order)
	}
	// The temperature rose steadily: its sparkline climbs from the lowest
	// tick to the highest.
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "│temp ") {
			spark := strings.Fields(strings.SplitN(l, "│", 2)[1])[1]
			if !strings.HasPrefix(spark, "▁") || !strings.HasSuffix(spark, "█") || len([]rune(spark)) != 20 {
				t.Errorf("temp sparkline %q", spark)
			}
		}
	}

	// v shows the payload as it came.
	b.press("v")
	b.sees(`{"temp":29.5,"fw":"v1.1","rssi":-61}`)
	if strings.Contains(b.view(), `  "temp": 29.5,`) {
		t.Error("still pretty-printed after v")
	}
	b.press("v")
	b.sees(`"temp": 29.5,`)
}

func TestPayloadKinds(t *testing.T) {
	b := newBench(t, 100, 24, mqttview.Limits{})
	b.connect()
	b.add("bin", 0, "\x00\x01\xff")
	b.add("ctl", 0, "red\x1b[31m text")
	b.add("weird\x1b[2Jname", 0, "plain text")
	b.add("text", 1, "first")
	b.add("text", 0, "second")
	b.changed()
	b.m.SelectTopic("bin")
	b.sees("Last payload (binary)", "hex:00 01 ff")
	// Publishing to a topic with a binary payload starts from an empty one.
	b.press("p")
	if b.m.pub.payload != "" || b.m.pub.topic != "bin" {
		t.Fatalf("prefilled %+v", b.m.pub)
	}
	b.press("esc")
	b.m.SelectTopic("ctl")
	// A payload with an escape sequence is shown as hex, never sent to the
	// terminal.
	b.sees("Last payload (binary)", "hex:72 65 64 1b 5b 33 31 6d")
	b.m.SelectTopic("text")
	b.sees("Last payload (text)", "second", `~ : first → second`)
	// A topic name with control characters is quoted (view() also checks
	// that no escape reaches the screen).
	b.sees(`"weird\x1b[2Jname"`)
}

func TestHistoryBounded(t *testing.T) {
	b := newBench(t, 100, 30, mqttview.Limits{History: 50})
	b.connect()
	for i := 0; i < 500; i++ {
		b.add("flood", time.Duration(499-i)*10*time.Millisecond, fmt.Sprintf(`{"n":%d}`, i))
	}
	b.changed()
	b.sees("500 messages", "History (50 kept)", `{"n":499}`, "499 [450…499]")
	if got := len(b.m.det.history); got != 50 {
		t.Fatalf("%d messages kept", got)
	}
	if pts := b.m.det.series["n"]; len(pts) != 50 || pts[0].Value != 450 {
		t.Fatalf("series of %d points from %v", len(pts), pts[0].Value)
	}
	// The history lists newest first and stops at the screen's edge.
	v := b.view()
	if i, j := strings.Index(v, `{"n":499}`+"\n"), strings.Index(v, `{"n":498}`); i < 0 || j < i {
		t.Errorf("history not newest first:\n%s", v)
	}
}

func TestNarrowLayout(t *testing.T) {
	// Inside the shell at 80 columns the view is 53 wide: the tree sits
	// above the detail.
	b := filledBench(t, 53, 22)
	b.m.SelectTopic("iotbench/a/telemetry")
	// The header drops the broker's name before the counts; a payload too
	// long to pretty-print in the room left is shown compact.
	v := b.sees("Topics · 4 topics · 24 messages ● connected", "iotbench/a/telemetry", "Charts", "─────",
		"Last payload (json)", `{"temp":29.5,"fw":"v1.1","rssi":-61}`)
	rows := strings.Split(v, "\n")
	sep := -1
	for i, r := range rows {
		if strings.HasPrefix(r, "─────") {
			sep = i
		}
	}
	if sep < 3 || !strings.Contains(strings.Join(rows[sep:], "\n"), "20 messages") {
		t.Errorf("tree and detail not stacked:\n%s", v)
	}
}

func TestStates(t *testing.T) {
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	none := New(c, context.Background(), nil)
	none.SetSize(60, 10)
	if none.Configured() || none.Connect() != nil || !strings.Contains(ansi.Strip(none.View()), "No broker to watch in this session.") {
		t.Fatalf("no broker:\n%s", ansi.Strip(none.View()))
	}

	b := newBench(t, 80, 12, mqttview.Limits{})
	b.sees("■ not connected", "Press r to connect to the broker.")
	if got := b.m.ShortHelp(); len(got) != 1 || got[0].Help().Key != "r" {
		t.Errorf("keys before connecting: %v", got)
	}
	cmd := b.m.Update(keytest.Press("r"))
	if cmd == nil {
		t.Fatal("r did not connect")
	}
	b.sees("◐ connecting", "Connecting to the broker…")
	if b.m.Update(keytest.Press("r")) != nil || b.m.Connect() != nil {
		t.Fatal("a second connection started while one is being made")
	}
	b.m.Update(cmd())
	b.sees("● connected", "no messages yet", "select a topic")
	ev := b.m.TakeEvents()
	if len(ev) != 1 || ev[0].Kind != "connected" || ev[0].Text != "topic viewer connected to "+topicstest.Broker+" as iotbench-viewer-test" {
		t.Fatalf("events %+v", ev)
	}

	// The connection drops: the header says so, the timeline hears why.
	b.fill()
	b.src.SetState(mqttview.State{Status: mqttview.StatusDisconnected, Reason: "the broker closed the connection"})
	b.changed()
	b.sees("■ disconnected", "4 topics")
	var kinds []string
	for _, e := range b.m.TakeEvents() {
		kinds = append(kinds, e.Kind)
		if e.Kind == "disconnected" && e.Text != "topic viewer disconnected: the broker closed the connection" {
			t.Errorf("disconnect event %q", e.Text)
		}
	}
	if strings.Join(kinds, " ") != "disconnected topic topic topic topic" {
		t.Errorf("event kinds %v", kinds)
	}
	b.src.SetState(mqttview.State{Status: mqttview.StatusConnecting, Attempt: 2})
	b.changed()
	b.sees("◐ connecting")
	b.src.SetState(mqttview.State{Status: mqttview.StatusConnected})
	b.changed()
	b.sees("● connected")
	if ev := b.m.TakeEvents(); len(ev) != 2 || ev[1].Kind != "connected" {
		t.Errorf("reconnect events %+v", ev)
	}
	// New topics are told once.
	b.changed()
	if ev := b.m.TakeEvents(); len(ev) != 0 {
		t.Errorf("events repeated: %+v", ev)
	}
	b.m.Close()
	if b.src.Closed() != 1 {
		t.Error("Close did not close the source")
	}
}

func TestConnectFails(t *testing.T) {
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	tries := 0
	m := New(c, context.Background(), &Config{Open: func(context.Context, func()) (Source, error) {
		tries++
		return nil, errors.New("dial tcp 127.0.0.1:8883: connect: connection refused")
	}})
	m.SetSize(80, 12)
	m.Update(m.Connect()())
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "Cannot connect:") || !strings.Contains(v, "connection refused") || !strings.Contains(v, "Press r to try again.") {
		t.Fatalf("failure:\n%s", v)
	}
	if ev := m.TakeEvents(); len(ev) != 1 || ev[0].Kind != "failed" {
		t.Fatalf("events %+v", ev)
	}
	cmd := m.Update(keytest.Press("r"))
	if cmd == nil {
		t.Fatal("r did not try again")
	}
	m.Update(cmd())
	if tries != 2 {
		t.Fatalf("%d tries", tries)
	}
}

func TestPublishDialog(t *testing.T) {
	b := newBench(t, 100, 30, mqttview.Limits{})
	b.press("p")
	b.sees("not connected")
	b.connect()
	b.fill()
	b.changed()
	if b.m.Selected() != "iotbench/a/command" {
		t.Fatalf("selected %q", b.m.Selected())
	}
	b.press("p")
	if !b.m.Typing() {
		t.Fatal("p did not open the dialog")
	}
	// The selected topic and its last payload are filled in.
	b.sees("Topic", "iotbench/a/command", "Payload", "QoS", "Retain?")
	if b.m.pub.topic != "iotbench/a/command" || b.m.pub.payload != "on" {
		t.Fatalf("prefilled %+v", b.m.pub)
	}
	// A wildcard is refused in the dialog, before anything is sent.
	for range "command" {
		b.press("backspace")
	}
	b.typeText("+")
	b.press("enter")
	b.sees("wildcard", "subscriptions only")
	b.press("backspace")
	b.typeText("#")
	b.press("enter")
	b.sees("wildcard")
	for range "iotbench/a/#" {
		b.press("backspace")
	}
	b.typeText("   ")
	b.press("enter")
	b.sees("type the topic to publish to")
	if len(b.src.Sent()) != 0 || !b.m.Typing() {
		t.Fatalf("sent %v", b.src.Sent())
	}
	b.typeText("  iotbench/dev1/command ")
	b.press("enter")
	b.press("backspace", "backspace")
	b.typeText(`{"led":1}`)
	b.press("enter")
	b.press("left", "enter") // QoS 0 (an inline select: left/right)
	b.press("y")             // retained
	if b.m.Typing() {
		t.Fatalf("dialog still open:\n%s", b.view())
	}
	want := []topicstest.Sent{{Topic: "iotbench/dev1/command", Payload: []byte(`{"led":1}`), QoS: 0, Retain: true}}
	if got := b.src.Sent(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %+v, want %+v", got, want)
	}
	b.sees("published to iotbench/dev1/command (retained)")
	if ev := b.m.TakeEvents(); ev[len(ev)-1].Kind != "publish" {
		t.Errorf("events %+v", ev)
	}

	// Defaults: QoS 1, not retained.
	b.press("p", "enter", "enter", "enter", "enter")
	if got := b.src.Sent()[1]; got.QoS != 1 || got.Retain || got.Topic != "iotbench/a/command" || string(got.Payload) != "on" {
		t.Fatalf("defaults sent %+v", got)
	}
	// Esc closes the dialog without sending.
	b.press("p", "esc")
	if b.m.Typing() || len(b.src.Sent()) != 2 {
		t.Fatalf("esc: typing %v, sent %d", b.m.Typing(), len(b.src.Sent()))
	}
	// A refused publish says why.
	b.src.FailWith(errors.New("publishing to iotbench/a/command: not authorized"))
	b.press("p", "enter", "enter", "enter", "enter")
	b.sees("not authorized")
	if ev := b.m.TakeEvents(); ev[len(ev)-1].Kind != "publish" || !strings.Contains(ev[len(ev)-1].Text, "failed") {
		t.Errorf("events %+v", ev)
	}
}

func TestClearRetainedDialog(t *testing.T) {
	b := filledBench(t, 100, 30)
	// Not known to hold one, but it may (a retained publish made while
	// the viewer was subscribed arrives unmarked): the dialog says so.
	b.m.SelectTopic("iotbench/a/telemetry")
	b.press("c")
	b.sees("Clear the retained message of iotbench/a/telemetry?", "no retained message was seen here", "Clear", "Keep")
	b.press("n")
	if b.m.Typing() || len(b.src.Sent()) != 0 {
		t.Fatalf("kept: typing %v, sent %v", b.m.Typing(), b.src.Sent())
	}
	b.m.SelectTopic("iotbench/a/command")
	b.press("c")
	b.sees("Clear the retained message of iotbench/a/command?", "the broker forgets the retained message")
	b.press("y")
	want := []topicstest.Sent{{Topic: "iotbench/a/command", QoS: 1, Retain: true, Clear: true}}
	if got := b.src.Sent(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %+v, want %+v", got, want)
	}
	gone := func(when string) {
		t.Helper()
		v := b.sees("cleared the retained message of iotbench/a/command", "3 topics")
		if strings.Count(v, "command") != 1 || b.m.Selected() == "iotbench/a/command" {
			t.Errorf("%s: the cleared topic is still in the tree:\n%s", when, v)
		}
	}
	gone("at once")
	if ev := b.m.TakeEvents(); ev[len(ev)-1].Kind != "clear" {
		t.Errorf("events %+v", ev)
	}
	// The broker forwards the empty publish to the viewer too, after its
	// acknowledgement: that echo does not bring the topic back.
	b.src.Add("iotbench/a/command", b.now, "", false)
	b.changed()
	gone("after the echo")
	// A message after the clear does.
	b.src.Add("iotbench/a/command", b.now, "off", false)
	b.changed()
	b.sees("4 topics")
	if ev := b.m.TakeEvents(); len(ev) != 1 || ev[0].Text != "new topic iotbench/a/command (3 bytes)" {
		t.Errorf("events %+v", ev)
	}
}

func TestRetainedPublishMarked(t *testing.T) {
	b := filledBench(t, 100, 30)
	b.m.SelectTopic("other")
	b.press("p", "enter", "enter", "enter", "y")
	// The broker forwards it to the viewer as an ordinary message.
	b.src.Add("other", b.now, "hello again", false)
	b.changed()
	b.sees("other 3 3.0/s R", "3 messages · 3.0/s · 27 bytes · last 09:30:00 · retained")
	b.press("c")
	b.sees("the broker forgets the retained message")
}

func TestHelpKeys(t *testing.T) {
	b := newBench(t, 100, 30, mqttview.Limits{})
	b.connect()
	var keys []string
	for _, k := range b.m.ShortHelp() {
		keys = append(keys, k.Help().Key)
	}
	if strings.Join(keys, " ") != "↑/k ↓/j p c v" {
		t.Errorf("short help %v", keys)
	}
	b.fill()
	b.changed()
	b.press("p")
	var dialogKeys []string
	for _, k := range b.m.ShortHelp() {
		dialogKeys = append(dialogKeys, k.Help().Key)
	}
	if dialogKeys[len(dialogKeys)-1] != "esc" {
		t.Errorf("dialog help %v", dialogKeys)
	}
}

// FuzzDetail: whatever a board publishes, under whatever topic name, the
// view fits its size and writes no control character of its own.
func FuzzDetail(f *testing.F) {
	f.Add("iotbench/a/telemetry", []byte(`{"temp":21.5}`), []byte(`{"temp":22,"hum":40}`), uint8(80))
	f.Add("x\x1b]0;title\x07/y", []byte("\x1b[2J\x1b[H"), []byte("ok\r\n\tmore"), uint8(10))
	f.Add("a//b/", []byte{0, 1, 2, 0xff}, []byte(`[1,[2,[3,{"a":"\u001b[31m"}]]]`), uint8(200))
	f.Add("wide/日本語", []byte(`{"名前":"値","emoji":"🙂🙂🙂"}`), []byte(strings.Repeat("long line ", 300)), uint8(33))
	f.Add("\x90", []byte("0"), []byte("0"), uint8(200))
	f.Add("keys", []byte(`{"\u001b[2J":1,"a\u0007":"x"}`), []byte(`{"\u001b[2J":2,"\u009b1m":3}`), uint8(90))
	f.Add("n", []byte(`{"a":1e400,"b":"12","c":true}`), []byte(`{"a":-1e-300,"b":"x","c":null}`), uint8(0))
	f.Fuzz(func(t *testing.T, topic string, prev, cur []byte, w uint8) {
		if topic == "" {
			return
		}
		b := newBench(t, 20+int(w)%180, 24, mqttview.Limits{})
		b.connect()
		b.add(topic, time.Second, string(prev))
		b.add(topic, 0, string(cur))
		b.changed()
		b.m.SelectTopic(topic)
		b.view()
		b.press("v")
		b.view()
		b.press("c")
		b.view()
		b.press("esc")
	})
}

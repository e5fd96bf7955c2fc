package timeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func filled(t *testing.T) *Model {
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	m := New(c, t.TempDir(), 0)
	m.SetSize(100, 20)
	dec := decode.NewDecoder(decode.Options{})
	banner := " ets Jan  8 2013,rst cause:2, boot mode:(3,6)"
	m.Add(Serial(0, "/dev/ttyUSB0", []device.Line{
		{Item: serialmon.Item{Kind: serialmon.ItemStatus, Time: t0, Text: "connected to /dev/ttyUSB0 at 74880 baud"}},
		{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: t0, Text: banner}, Events: dec.Line(banner, t0)},
		{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: t0, Text: "rf cal sector: 1019"}, Events: dec.Line("rf cal sector: 1019", t0)},
	})...)
	m.Add(Flash(1, "/dev/ttyUSB1", t0.Add(time.Second), []flasher.Event{
		flasher.ConnectingEvent{Port: "/dev/ttyUSB1", Attempt: 1, Of: 7},
		flasher.ConnectingEvent{Port: "/dev/ttyUSB1", Attempt: 2, Of: 7},
		flasher.ProgressEvent{Phase: "write", Done: 10, Total: 100},
		flasher.WrittenEvent{Addr: 0, Size: 100, Verified: true, VerifiedBy: "md5"},
	})...)
	m.Add(FlashDone(1, "/dev/ttyUSB1", t0.Add(2*time.Second), device.FlashDone{Err: errors.New("the chip stopped answering")}))
	return m
}

func TestEntries(t *testing.T) {
	m := filled(t)
	var kinds []string
	for _, e := range m.Entries() {
		kinds = append(kinds, e.Kind)
	}
	// One status, the banner (the SDK line only restates itself), one
	// connecting (not every attempt), no progress, the write and the failure.
	want := "monitor rom.banner flash.connecting flash.written flash.failed"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("kinds %q, want %q", got, want)
	}
}

func TestSearchAndBoardFilter(t *testing.T) {
	m := filled(t)
	m.Update(keytest.Press("/"))
	keytest.Type(m.Update, "flash\\.(written|failed)")
	m.Update(keytest.Press("enter"))
	s := ansi.Strip(m.View())
	if !strings.Contains(s, "2 of 5 entries") || strings.Contains(s, "connected to") {
		t.Fatalf("search:\n%s", s)
	}
	m.Update(keytest.Press("/"))
	for range "flash\\.(written|failed)" {
		m.Update(keytest.Press("backspace"))
	}
	m.Update(keytest.Press("enter"))
	m.SetBoard(0)
	m.Update(keytest.Press("a"))
	if s := ansi.Strip(m.View()); !strings.Contains(s, "2 of 5 entries · this board") || strings.Contains(s, "ttyUSB1") {
		t.Fatalf("this board:\n%s", s)
	}
}

func TestExportJSONLines(t *testing.T) {
	m := filled(t)
	cmd := m.Update(keytest.Press("e"))
	msg := cmd().(Exported)
	if msg.Err != nil || msg.Count != 5 {
		t.Fatalf("export: %+v", msg)
	}
	m.Update(msg)
	if !strings.Contains(ansi.Strip(m.View()), "exported 5 entries to") {
		t.Fatal("no word about the export")
	}
	f, err := os.Open(msg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, v)
	}
	if len(got) != 5 {
		t.Fatalf("%d lines", len(got))
	}
	last := got[4]
	if last["board"] != "/dev/ttyUSB1" || last["source"] != "flash" || last["severity"] != "error" ||
		last["kind"] != "flash.failed" || !strings.Contains(last["text"].(string), "stopped answering") ||
		last["time"] != "2026-11-25T09:00:02Z" {
		t.Fatalf("last line %v", last)
	}
	if banner := got[1]; banner["fields"].(map[string]any)["cause"] != "2" {
		t.Fatalf("banner fields %v", banner["fields"])
	}
}

func TestBounded(t *testing.T) {
	c := common.New(styles.New(styles.DefaultTheme(), true), nil)
	m := New(c, ".", 3)
	for i := 0; i < 10; i++ {
		m.Add(Note(0, "p", t0, decode.Info, "n", string(rune('a'+i))))
	}
	if m.Len() != 3 || m.Entries()[0].Text != "h" {
		t.Fatalf("%d entries, first %q", m.Len(), m.Entries()[0].Text)
	}
}

// Batches from different sources arrive late: each entry lands in its
// place in time, after the entries of the same time, and a scrolled
// screen keeps showing the entry it showed.
func TestTimeOrder(t *testing.T) {
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	m := New(c, ".", 0)
	m.SetSize(100, 6)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m.Add(Note(0, "p", at(1), decode.Info, "n", "one"), Note(0, "p", at(5), decode.Info, "n", "five"))
	m.Add(MQTT(at(3), decode.Info, "topic", "three"))
	m.Add(Note(0, "p", at(3), decode.Info, "n", "three again"), Note(0, "p", at(0), decode.Info, "n", "zero"))
	var got []string
	for _, e := range m.Entries() {
		got = append(got, e.Text)
	}
	if want := "zero one three three again five"; strings.Join(got, " ") != want {
		t.Fatalf("order %q, want %q", strings.Join(got, " "), want)
	}
	m.Update(keytest.Press("up"))
	before := ansi.Strip(m.View())
	if !strings.Contains(before, "three again") || strings.Contains(before, "five") {
		t.Fatalf("scrolled:\n%s", before)
	}
	m.Add(Note(0, "p", at(2), decode.Info, "n", "two"))
	if after := ansi.Strip(m.View()); !strings.Contains(after, "three again") || strings.Contains(after, "five") {
		t.Fatalf("the screen moved after an older entry came:\n%s", after)
	}
}

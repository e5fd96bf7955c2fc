package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
)

// Golden files are the screen as text (no colours), so they read in a
// diff; `go test ./tui -run TestGolden -update` rewrites them.

var fixedNow = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

const fixtureELF = "../serialmon/decode/testdata/fixture.elf"

func sceneModel(t *testing.T, specs ...device.Spec) *Model {
	t.Helper()
	m := NewModel(context.Background(), Options{
		Boards:     specs,
		Now:        func() time.Time { return fixedNow },
		Getenv:     func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] },
		NewVirtual: func() (device.Spec, func(), error) { return device.Spec{}, nil, errors.New("not in tests") },
	})
	// Init registers the boards; its commands (which would open ports)
	// are not run.
	m.Init()
	t.Cleanup(m.Close)
	return m
}

// feed decodes a log as the device does and delivers it to board id.
type logFeed struct {
	dec    *decode.Decoder
	series decode.SeriesParser
	at     time.Time
	baud   int
}

func newFeed(t *testing.T) *logFeed {
	sym, err := decode.LoadELF(fixtureELF)
	if err != nil {
		t.Fatal(err)
	}
	return &logFeed{dec: decode.NewDecoder(decode.Options{Chip: "ESP8266", Symbols: sym}), at: fixedNow.Add(time.Second), baud: 74880}
}

func (f *logFeed) lines(text string) []device.Line {
	var out []device.Line
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		f.at = f.at.Add(37 * time.Millisecond)
		if s, ok := strings.CutPrefix(l, "#status "); ok {
			out = append(out, device.Line{Item: serialmon.Item{Kind: serialmon.ItemStatus, Time: f.at, Text: s, Baud: f.baud}})
			continue
		}
		l = strings.TrimSuffix(l, "\r")
		ln := device.Line{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: f.at, Text: l, Raw: []byte(l + "\r\n"), Baud: f.baud}}
		ln.Events = f.dec.Line(l, f.at)
		ln.Samples = f.series.Line(l)
		out = append(out, ln)
	}
	return out
}

func (f *logFeed) send(m *Model, id common.BoardID, text string) {
	m.Update(common.BoardMsg{Board: id, Msg: device.SerialBatch{Gen: 0, Lines: f.lines(text)}})
}

const bootLog = `#status connected to /dev/ttyUSB0 at 74880 baud
#status reset into the application

 ets Jan  8 2013,rst cause:2, boot mode:(3,6)

load 0x4010f000, len 3460, room 16 
tail 4
chksum 0xcc
load 0x3fff20b8, len 40, room 4 
tail 4
chksum 0xc9
csum 0xc9
v00044d30
~ld
#status ROM output over: reading the application at 115200 baud`

const crashLog = `
To make this dump useful, DECODE IT - https://bit.ly/arduino-esp8266-stack-decoder

--------------- CUT HERE FOR EXCEPTION DECODER ---------------

Exception (28):
epc1=0x40201014 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000004 depc=0x00000000

>>>stack>>>

ctx: cont
sp: 3ffffe30 end: 3fffffc0 offset: 0150
3ffffe30:  3fffdad0 00000000 3ffee5b8 40201047  
3ffffe40:  3fffdad0 00000000 3ffffe50 40201087 <
3ffffe50:  3ffe8010 00000001 3ffee5b8 40100013  
3ffffe60:  4000dce5 3fffdab0 00000000 4000f1c8  
<<<stack<<<

--------------- CUT HERE FOR EXCEPTION DECODER ---------------`

func readings(from, n int) string {
	var sb strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&sb, "reading %d temp=%.2fC hum=%.1f%% heap=%d\n", i, 21.5+float64(i%7)*0.25, 45-float64(i%5)*0.5, 41000-8*i)
	}
	return sb.String()
}

func monitorScene(t *testing.T) *Model {
	m := sceneModel(t, device.Spec{Port: "/dev/ttyUSB0", Label: "CP210x"})
	p := m.panes[0]
	p.monitor.SetRunning(true, "")
	p.monitor.SetELF("/work/sketch/.pio/build/d1_mini/firmware.elf")
	p.board.Facts(device.Facts{Chip: "ESP8266", Description: "ESP8266EX", MAC: "18:fe:34:ab:34:5a", FlashSize: 4 << 20})
	f := newFeed(t)
	f.send(m, 0, bootLog)
	f.baud = 115200
	f.send(m, 0, "\niotbench demo sketch\n"+readings(0, 12))
	f.send(m, 0, crashLog)
	f.baud = 74880
	f.send(m, 0, "\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n")
	m.Update(common.BoardMsg{Board: 0, Msg: device.SerialBatch{Lines: []device.Line{{Item: serialmon.Item{Kind: serialmon.ItemPartial, Time: f.at, Text: "load 0x4010f000, len 3460, ro", Baud: 74880}}}}})
	return m
}

// flashSceneOf: the Flash view of a board with facts, writing app and
// /work/sketch/data, after evs.
func flashSceneOf(t *testing.T, spec device.Spec, facts device.Facts, app string, evs []flasher.Event) *Model {
	m := sceneModel(t, spec)
	p := m.panes[0]
	p.flash.SetPaths(app, "/work/sketch/data")
	p.board.Facts(facts)
	m.syncFacts(p)
	m.Update(keytest.Press("2"))
	m.Update(keytest.Press("w"))
	m.Update(common.BoardMsg{Board: 0, Msg: device.FlashProgress{Events: evs}})
	return m
}

func flashScene(t *testing.T) *Model {
	evs := []flasher.Event{
		flasher.ConnectingEvent{Port: "rfc2217://127.0.0.1:4000", Attempt: 1, Of: 7, Strategy: "classic"},
		flasher.ChipEvent{Chip: "ESP8266", Description: "ESP8266EX", MAC: "5c:cf:7f:01:02:03", CrystalMHz: 26},
		flasher.StubEvent{Running: true, Source: "esptool 4.12 (pip)"},
		flasher.BaudEvent{Baud: 460800},
		flasher.FlashInfoEvent{Manufacturer: "ef", Device: "4016", Size: 4 << 20, SizeName: "4MB"},
		device.PlannedEvent{Layout: "4M1M", Regions: []device.RegionInfo{
			{Addr: 0, Size: 312512, Name: "firmware.bin"},
			{Addr: 0x300000, Size: 1024000, Name: "data/ (littlefs, 3 files)"}}},
		flasher.ProgressEvent{Phase: "write", Addr: 0, Done: 312512, Total: 312512, Elapsed: 5200 * time.Millisecond},
		flasher.WrittenEvent{Addr: 0, Size: 312512, Compressed: 221003, Elapsed: 5300 * time.Millisecond, Verified: true, VerifiedBy: "md5", MD5: "5d41402abc4b2a76b9719d911017c592"},
		flasher.ProgressEvent{Phase: "write", Addr: 0x300000, Done: 409600, Total: 1024000, Elapsed: 2 * time.Second},
	}
	return flashSceneOf(t, device.Spec{Port: "rfc2217://127.0.0.1:4000", Label: "remote"},
		device.Facts{Chip: "ESP8266", Description: "ESP8266EX", MAC: "5c:cf:7f:01:02:03", FlashSize: 4 << 20},
		"/work/sketch/.pio/build/d1_mini/firmware.bin", evs)
}

func renderAt(m *Model, w, h int) string {
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return ansi.Strip(m.render())
}

var goldenSizes = [][2]int{{80, 24}, {120, 40}, {200, 60}}

func TestGolden(t *testing.T) {
	scenes := map[string]func(t *testing.T) *Model{
		"monitor": monitorScene,
		"flash":   flashScene,
		"timeline": func(t *testing.T) *Model {
			m := monitorScene(t)
			m.Update(keytest.Press("6"))
			return m
		},
		"noboards": func(t *testing.T) *Model { return sceneModel(t) },
	}
	for name, scene := range scenes {
		for _, sz := range goldenSizes {
			t.Run(fmt.Sprintf("%s/%dx%d", name, sz[0], sz[1]), func(t *testing.T) {
				out := renderAt(scene(t), sz[0], sz[1])
				checkScreen(t, out, sz[0], sz[1])
				golden.RequireEqual(t, out)
			})
		}
	}
}

// checkScreen: exactly h rows, none wider than w.
func checkScreen(t *testing.T, out string, w, h int) {
	t.Helper()
	rows := strings.Split(out, "\n")
	if len(rows) != h {
		t.Errorf("%d rows, want %d", len(rows), h)
	}
	for i, r := range rows {
		if n := ansi.StringWidth(r); n > w {
			t.Errorf("row %d is %d cells wide (> %d): %q", i, n, w, r)
		}
	}
}

// Below 80×24 the TUI says so rather than drawing a broken screen.
func TestTooSmall(t *testing.T) {
	for _, sz := range [][2]int{{79, 24}, {80, 23}, {40, 10}} {
		out := renderAt(monitorScene(t), sz[0], sz[1])
		checkScreen(t, out, sz[0], sz[1])
		if !strings.Contains(strings.Join(strings.Fields(out), " "), fmt.Sprintf("The terminal is %d×%d: iotbench needs at least 80×24", sz[0], sz[1])) {
			t.Errorf("%dx%d:\n%s", sz[0], sz[1], out)
		}
	}
	golden.RequireEqual(t, renderAt(monitorScene(t), 60, 16))
}

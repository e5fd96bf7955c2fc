package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/virtual"
)

// NO_COLOR (https://no-color.org) drops every colour; without it the
// screen is coloured.
func TestNoColor(t *testing.T) {
	colored := func(env map[string]string) bool {
		m := NewModel(context.Background(), Options{Boards: []device.Spec{{Port: "/dev/ttyUSB0"}}, Getenv: func(k string) string { return env[k] }})
		m.Init()
		defer m.Close()
		m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		f := newFeed(t)
		f.send(m, 0, bootLog+"\n"+crashLog)
		out := m.render()
		// SGR foreground/background colours: 3x/4x/9x/10x, 38;…/48;….
		for _, code := range []string{"[38;", "[48;", ";38;", ";48;", "[31m", "[32m", "[33m", "[34m", "[90m"} {
			if strings.Contains(out, code) {
				return true
			}
		}
		return false
	}
	if !colored(nil) {
		t.Fatal("no colours without NO_COLOR")
	}
	if colored(map[string]string{"NO_COLOR": "1"}) {
		t.Fatal("colours despite NO_COLOR")
	}
}

// The footer's help comes from the key maps of the active view.
func TestFooterFollowsView(t *testing.T) {
	m := monitorScene(t)
	if s := renderAt(m, 120, 40); !strings.Contains(s, "/ search") || !strings.Contains(s, "R reset board") {
		t.Fatalf("monitor footer:\n%s", s)
	}
	m.Update(keytest.Press("2"))
	if s := renderAt(m, 120, 40); !strings.Contains(s, "w write flash") || strings.Contains(s, "R reset board") {
		t.Fatalf("flash footer:\n%s", s)
	}
	m.Update(keytest.Press("?"))
	if s := renderAt(m, 120, 40); !strings.Contains(s, "shift+tab") || !strings.Contains(s, "identify board") {
		t.Fatalf("full help:\n%s", s)
	}
}

// With the mouse on, a click on a tab's label opens it.
func TestClickTab(t *testing.T) {
	m := monitorScene(t)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	bar := renderAt(m, 120, 40)
	x := strings.Index(strings.Split(bar, "\n")[0], "6 Timeline")
	m.Update(tea.MouseClickMsg{X: x + 2, Y: 0, Button: tea.MouseLeft})
	if m.tab != tabTimeline {
		t.Fatalf("tab %d after a click at %d", m.tab, x)
	}
}

// With no board the screen says how to connect one and offers a virtual
// board; V starts it and it boots in the monitor.
func TestNoBoardsThenVirtual(t *testing.T) {
	var boards []*virtual.Board
	newVirtual := func() (device.Spec, func(), error) {
		b, err := virtual.New(virtual.Options{Speed: testSpeed, Flashed: true})
		if err != nil {
			return device.Spec{}, nil, err
		}
		boards = append(boards, b)
		return b.Spec(), func() { b.Close() }, nil
	}
	tt := startTUI(t, Options{NewVirtual: newVirtual, Device: testDevice(), Now: func() time.Time { return fixedNow }})
	tt.tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	tt.waitText(t, "No ESP board found")
	tt.waitText(t, "Press V to start a virtual ESP8266")
	tt.keys("V")
	tt.waitText(t, "virtual:esp8266")
	tt.waitText(t, "reading 1 temp=")
}

// A flash refused because another job holds the port leaves the board's
// state alone and says why in the Flash view.
func TestFlashRefusedWhileBusy(t *testing.T) {
	m := monitorScene(t)
	before := m.panes[0].board.State
	m.Update(keytest.Press("2"))
	m.Update(common.BoardMsg{Board: 0, Msg: device.FlashDone{Err: fmt.Errorf("%w: identifying", device.ErrBusy)}})
	if m.panes[0].board.State != before {
		t.Fatalf("state moved from %s to %s", before, m.panes[0].board.State)
	}
	if s := renderAt(m, 120, 40); !strings.Contains(s, "failed: the board is busy: identifying") {
		t.Fatalf("no reason shown:\n%s", s)
	}
}

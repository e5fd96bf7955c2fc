// Package common owns what every part of the TUI shares, pushed into each
// component rather than reached for globally (soft-serve's ui/common): the
// size a component may draw in, the styles, the key map and the clock;
// and the envelope that routes an asynchronous result to the board it
// belongs to (gh-dash's section messages), so that two boards' monitors and
// flash jobs never cross.
package common

import (
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/tui/keys"
	"github.com/iotbench/iotbench/tui/styles"
)

// Common is embedded by every component.
type Common struct {
	Width, Height int
	Styles        *styles.Styles
	Keys          *keys.KeyMap
	// Now is the clock for durations the TUI computes itself (export file
	// names, "since" times); tests fix it so golden files are stable.
	Now func() time.Time
}

// New returns a Common with the default key map.
func New(st *styles.Styles, now func() time.Time) Common {
	if now == nil {
		now = time.Now
	}
	return Common{Styles: st, Keys: keys.Default(), Now: now}
}

// SetSize records the area a component may draw in.
func (c *Common) SetSize(width, height int) {
	c.Width, c.Height = width, height
}

// Component is what a view is to the app shell: it draws in the size it
// is given and tells the footer its keys.
type Component interface {
	help.KeyMap
	SetSize(width, height int)
	View() string
}

// BoardID names one board for the lifetime of the TUI.
type BoardID int

// BoardMsg carries an asynchronous result (serial lines, flash progress,
// the end of a job) to the panes of the board it came from.
type BoardMsg struct {
	Board BoardID
	Msg   tea.Msg
}

// ForBoard wraps the message cmd produces in a BoardMsg for id.
func ForBoard(id BoardID, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		msg := cmd()
		if msg == nil {
			return nil
		}
		return BoardMsg{Board: id, Msg: msg}
	}
}

// ViewID names one of the shell's views (its tabs, in order).
type ViewID int

// The views.
const (
	ViewMonitor ViewID = iota
	ViewFlash
	ViewProvision
	ViewTopics
	ViewDoctor
	ViewTimeline
	ViewCount
)

// ShowView asks the shell to bring a view to the front for a board (a
// verdict's "open the doctor", a finding's "show in the monitor").
type ShowView struct {
	View ViewID
	// At and Text, for the monitor, name the line to scroll to (serial
	// evidence quoted by the doctor).
	At   time.Time
	Text string
}

// Show returns a command that asks for a view.
func Show(id BoardID, v ShowView) tea.Cmd {
	return func() tea.Msg { return BoardMsg{Board: id, Msg: v} }
}

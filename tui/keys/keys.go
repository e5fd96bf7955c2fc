// Package keys owns every key binding of the TUI in one place. Views match
// keys only through these bindings, and the footer's help is generated
// from them, so a binding and its help text cannot drift apart.
package keys

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Global keys work in every view (unless a text field has the focus).
type Global struct {
	NextTab, PrevTab                                    key.Binding
	Monitor, Flash, Provision, Topics, Doctor, Timeline key.Binding
	NextBoard, PrevBoard                                key.Binding
	Identify, Virtual, Help, Quit                       key.Binding
}

// Scroll keys move through a long list (the monitor's scrollback, the
// timeline).
type Scroll struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// Monitor keys drive the serial monitor of the selected board.
type Monitor struct {
	Scroll
	Search, Filter, NextMatch, PrevMatch  key.Binding
	Pause, Hex, Wrap, Events, Plot, Clear key.Binding
	Send, Reset, Bootloader, Baud         key.Binding
}

// Flash keys drive the flash form and job.
type Flash struct {
	Up, Down, Edit, Write, Cancel key.Binding
}

// Timeline keys drive the event timeline.
type Timeline struct {
	Scroll
	Search, Export, ThisBoard key.Binding
}

// Provision keys drive the wizard and the pipeline's run. While the
// wizard's form is open it has the keyboard (Huh's own keys: enter/tab
// next, shift+tab back, space/x toggle), except Input.Cancel.
type Provision struct {
	Start, Cancel, Doctor key.Binding
}

// Topics keys drive the MQTT topic browser.
type Topics struct {
	Scroll
	Publish, Clear, Reconnect, Raw key.Binding
}

// Doctor keys drive the findings list.
type Doctor struct {
	Scroll
	Jump, Examine key.Binding
}

// Input keys apply while a text field has the focus.
type Input struct {
	Submit, Cancel key.Binding
}

// KeyMap is all of them.
type KeyMap struct {
	Global    Global
	Monitor   Monitor
	Flash     Flash
	Provision Provision
	Topics    Topics
	Doctor    Doctor
	Timeline  Timeline
	Input     Input
}

func b(keys []string, help, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

func k(keys ...string) []string { return keys }

func scroll(bottom string) Scroll {
	return Scroll{
		Up:       b(k("up", "k"), "↑/k", "scroll up"),
		Down:     b(k("down", "j"), "↓/j", "scroll down"),
		PageUp:   b(k("pgup", "ctrl+u"), "pgup", "page up"),
		PageDown: b(k("pgdown", "ctrl+d"), "pgdn", "page down"),
		Top:      b(k("home", "g"), "g", "oldest"),
		Bottom:   b(k("end", "G"), "G", bottom),
	}
}

// Default is the key map. Keys that reset a board are capitals, so that a
// stray keystroke does not restart it.
func Default() *KeyMap {
	return &KeyMap{
		Global: Global{
			NextTab:   b(k("tab"), "tab", "next view"),
			PrevTab:   b(k("shift+tab"), "shift+tab", "previous view"),
			Monitor:   b(k("1"), "1", "monitor"),
			Flash:     b(k("2"), "2", "flash"),
			Provision: b(k("3"), "3", "provision"),
			Topics:    b(k("4"), "4", "topics"),
			Doctor:    b(k("5"), "5", "doctor"),
			Timeline:  b(k("6"), "6", "timeline"),
			NextBoard: b(k("]"), "]", "next board"),
			PrevBoard: b(k("["), "[", "previous board"),
			Identify:  b(k("I"), "I", "identify board"),
			Virtual:   b(k("V"), "V", "add virtual board"),
			Help:      b(k("?"), "?", "more keys"),
			Quit:      b(k("q", "ctrl+c"), "q", "quit"),
		},
		Monitor: Monitor{
			Scroll:     scroll("follow"),
			Search:     b(k("/"), "/", "search"),
			Filter:     b(k("f"), "f", "filter"),
			NextMatch:  b(k("n"), "n", "next match"),
			PrevMatch:  b(k("N"), "N", "previous match"),
			Pause:      b(k("p", "space"), "p", "pause"),
			Hex:        b(k("x"), "x", "hex"),
			Wrap:       b(k("w"), "w", "wrap"),
			Events:     b(k("e"), "e", "decoded events"),
			Plot:       b(k("v"), "v", "plot"),
			Clear:      b(k("c"), "c", "clear"),
			Send:       b(k("s", "enter"), "s", "send line"),
			Reset:      b(k("R"), "R", "reset board"),
			Bootloader: b(k("B"), "B", "reset into bootloader"),
			Baud:       b(k("b"), "b", "next baud"),
		},
		Flash: Flash{
			Up:     b(k("up", "k"), "↑/k", "previous field"),
			Down:   b(k("down", "j"), "↓/j", "next field"),
			Edit:   b(k("enter"), "enter", "edit/change"),
			Write:  b(k("w"), "w", "write flash"),
			Cancel: b(k("c", "esc"), "c", "cancel flashing"),
		},
		Provision: Provision{
			Start:  b(k("enter"), "enter", "start the wizard"),
			Cancel: b(k("c"), "c", "cancel the run"),
			Doctor: b(k("d"), "d", "open the doctor"),
		},
		Topics: Topics{
			Scroll:    scroll("last topic"),
			Publish:   b(k("p"), "p", "publish"),
			Clear:     b(k("c"), "c", "clear retained"),
			Reconnect: b(k("r"), "r", "reconnect"),
			Raw:       b(k("v"), "v", "raw/pretty"),
		},
		Doctor: Doctor{
			Scroll:  scroll("last"),
			Jump:    b(k("enter"), "enter", "show in monitor"),
			Examine: b(k("x"), "x", "examine the board"),
		},
		Timeline: Timeline{
			Scroll:    scroll("newest"),
			Search:    b(k("/"), "/", "search"),
			Export:    b(k("e"), "e", "export JSON lines"),
			ThisBoard: b(k("a"), "a", "this board/all"),
		},
		Input: Input{
			Submit: b(k("enter"), "enter", "apply"),
			Cancel: b(k("esc"), "esc", "cancel"),
		},
	}
}

// Step is how a list moves for a key or a wheel turn: by Delta entries
// (negative: older), or to the oldest or newest end.
type Step struct {
	Delta       int
	Top, Bottom bool
}

// wheelLines is how far one wheel notch scrolls.
const wheelLines = 3

// Step interprets msg for a list showing page entries at once; ok is
// false when msg does not scroll.
func (s Scroll) Step(msg tea.Msg, page int) (st Step, ok bool) {
	page = max(1, page)
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			return Step{Delta: -wheelLines}, true
		case tea.MouseWheelDown:
			return Step{Delta: wheelLines}, true
		}
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, s.Up):
			return Step{Delta: -1}, true
		case key.Matches(msg, s.Down):
			return Step{Delta: 1}, true
		case key.Matches(msg, s.PageUp):
			return Step{Delta: -page}, true
		case key.Matches(msg, s.PageDown):
			return Step{Delta: page}, true
		case key.Matches(msg, s.Top):
			return Step{Top: true}, true
		case key.Matches(msg, s.Bottom):
			return Step{Bottom: true}, true
		}
	}
	return Step{}, false
}

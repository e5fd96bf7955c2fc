package boards

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/flasher/target"
	"github.com/iotbench/iotbench/tui/common"
)

// List is the board list component.
type List struct {
	common.Common
	boards   []*Board
	selected int
	// VirtualOffer: the TUI can start a virtual board (the empty list
	// says so).
	VirtualOffer bool
}

// NewList returns an empty list.
func NewList(c common.Common) *List { return &List{Common: c} }

// Add appends a board and returns it.
func (l *List) Add(b *Board) *Board {
	l.boards = append(l.boards, b)
	return b
}

// Get finds a board by id.
func (l *List) Get(id common.BoardID) *Board {
	for _, b := range l.boards {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// Boards returns the boards in list order.
func (l *List) Boards() []*Board { return l.boards }

// Selected is the board the views show, nil when there is none.
func (l *List) Selected() *Board {
	if len(l.boards) == 0 {
		return nil
	}
	return l.boards[l.selected]
}

// Select moves the selection by delta, wrapping around.
func (l *List) Select(delta int) {
	if n := len(l.boards); n > 0 {
		l.selected = ((l.selected+delta)%n + n) % n
	}
}

// SelectID selects the board id.
func (l *List) SelectID(id common.BoardID) {
	for i, b := range l.boards {
		if b.ID == id {
			l.selected = i
		}
	}
}

// ShortHelp: the list is driven by global keys.
func (l *List) ShortHelp() []key.Binding { return nil }

// FullHelp: the list is driven by global keys.
func (l *List) FullHelp() [][]key.Binding { return nil }

func (l *List) stateStyle(s State) lipgloss.Style {
	st := l.Styles
	switch s {
	case Failed:
		return st.Error
	case Unplugged, Blank, Loader:
		return st.Warning
	case Connected, Verified:
		return st.Notice
	case Flashing, Booting, Running:
		return st.Heading
	}
	return st.Subtle
}

// stateMark is a one-cell sign, so the state reads without colour.
func stateMark(s State) string {
	switch s {
	case Failed:
		return "✗"
	case Verified:
		return "✓"
	case Connected:
		return "●"
	case Flashing, Booting:
		return "◐"
	case Running:
		return "○"
	case Unplugged:
		return "⏏"
	}
	return "·"
}

// View draws the list: four rows a board (port; chip and flash size;
// MAC; state and thing), the selected one marked.
func (l *List) View() string {
	w := l.Width
	st := l.Styles
	fit := func(s string) string { return ansi.Truncate(s, w, "…") }
	rows := []string{st.Heading.Render(fit("Boards"))}
	if len(l.boards) == 0 {
		rows = append(rows, "", st.Subtle.Render(fit("none found")))
		return l.pad(rows)
	}
	for i, b := range l.boards {
		mark := "  "
		port := st.Text
		if i == l.selected {
			mark = "▸ "
			port = st.Selected
		}
		name := b.Port
		chip := b.Chip
		if chip == "" {
			chip = "chip ?"
		}
		if b.FlashSize > 0 {
			chip += " · " + target.SizeName(b.FlashSize)
		}
		mac := b.MAC
		if mac == "" {
			mac = "MAC ?"
		}
		thing := b.Thing
		if thing == "" {
			thing = "—"
		}
		rows = append(rows,
			fit(port.Render(mark+ansi.Truncate(name, w-2, "…"))),
			fit("  "+st.Subtle.Render(ansi.Truncate(chip, w-2, "…"))),
			fit("  "+st.Subtle.Render(ansi.Truncate(mac, w-2, "…"))),
			fit("  "+l.stateStyle(b.State).Render(stateMark(b.State)+" "+b.State.String())+st.Subtle.Render(" · thing "+thing)),
		)
		if i == l.selected && b.Detail != "" {
			for _, d := range wrapLines(b.Detail, w-2, 3) {
				rows = append(rows, "  "+st.Subtle.Render(d))
			}
		}
		rows = append(rows, "")
	}
	return l.pad(rows)
}

// pad fills the list's height, cutting rows that do not fit.
func (l *List) pad(rows []string) string {
	if len(rows) > l.Height {
		rows = rows[:l.Height]
	}
	for len(rows) < l.Height {
		rows = append(rows, "")
	}
	return strings.Join(rows, "\n")
}

// wrapLines wraps text to width, keeping at most n rows (the last one
// ending in "…" when text was cut).
func wrapLines(text string, width, n int) []string {
	if width <= 0 {
		return nil
	}
	rows := strings.Split(ansi.Wrap(text, width, " "), "\n")
	if len(rows) > n {
		rows = rows[:n]
		rows[n-1] = ansi.Truncate(rows[n-1]+" …", width, "…")
	}
	for i, r := range rows {
		rows[i] = ansi.Truncate(r, width, "…")
	}
	return rows
}

// Summary is a one-line description of a board for headers.
func Summary(b *Board) string {
	if b == nil {
		return ""
	}
	parts := []string{b.Port}
	if b.Chip != "" {
		parts = append(parts, b.Chip)
	}
	if b.FlashSize > 0 {
		parts = append(parts, target.SizeName(b.FlashSize)+" flash")
	}
	return strings.Join(parts, " · ") + fmt.Sprintf(" · %s", b.State)
}

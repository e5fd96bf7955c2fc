// Package keytest builds the key presses the TUI's tests send: a key by
// name ("enter", "esc", "down", "backspace") or by the text it types.
package keytest

import tea "charm.land/bubbletea/v2"

var named = map[string]rune{
	"enter": tea.KeyEnter, "esc": tea.KeyEscape, "down": tea.KeyDown, "up": tea.KeyUp,
	"backspace": tea.KeyBackspace, "tab": tea.KeyTab, "left": tea.KeyLeft, "right": tea.KeyRight,
}

// Press is one key press.
func Press(s string) tea.KeyPressMsg {
	if c, ok := named[s]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

// Type sends every character of text to update, one press each.
func Type(update func(tea.Msg) tea.Cmd, text string) {
	for _, r := range text {
		update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

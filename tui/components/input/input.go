// Package input owns the TUI's one-line text fields (search, filter, send
// a line, file paths): bubbles' textinput dressed in the theme, with a
// steady cursor (a blinking one redraws the screen twice a second for
// nothing, and makes screen captures differ from run to run).
package input

import (
	"charm.land/bubbles/v2/textinput"

	"github.com/iotbench/iotbench/tui/styles"
)

// New returns a blurred field with the given prompt.
func New(st *styles.Styles, prompt string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	s := textinput.Styles{}
	s.Focused.Prompt = st.Key
	s.Focused.Text = st.Input
	s.Focused.Placeholder = st.Subtle
	s.Blurred.Prompt = st.Subtle
	s.Blurred.Text = st.Text
	s.Blurred.Placeholder = st.Subtle
	s.Cursor.Blink = false
	ti.SetStyles(s)
	return ti
}

// Package styles owns the TUI's look: one theme of colours and the
// lipgloss styles every view draws with, so no view picks a colour of its
// own. With NO_COLOR set the theme has no colours at all and meaning is
// carried by text markers and bold/reverse attributes instead
// (https://no-color.org).
package styles

import (
	"image/color"

	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// Theme is the palette. Severity colours follow the log convention every
// bench tool uses (grey info, green milestones, yellow warnings, red
// errors) so a board's health reads at a glance.
type Theme struct {
	Accent  color.Color // active tab, selection, headings
	Subtle  color.Color // separators, timestamps, help text
	Text    color.Color // ordinary log text
	Info    color.Color
	Notice  color.Color
	Warning color.Color
	Error   color.Color
	Match   color.Color // search matches (background)
	Bar     color.Color // progress bar fill
}

// DefaultTheme works on dark and light terminals alike: ANSI 256 colours
// that keep their contrast on both.
func DefaultTheme() Theme {
	return Theme{
		Accent:  lipgloss.Color("33"),
		Subtle:  lipgloss.Color("244"),
		Text:    lipgloss.NoColor{},
		Info:    lipgloss.Color("246"),
		Notice:  lipgloss.Color("34"),
		Warning: lipgloss.Color("178"),
		Error:   lipgloss.Color("160"),
		Match:   lipgloss.Color("220"),
		Bar:     lipgloss.Color("33"),
	}
}

// Styles are the theme turned into lipgloss styles.
type Styles struct {
	NoColor bool

	App        lipgloss.Style
	Title      lipgloss.Style
	Tab        lipgloss.Style
	ActiveTab  lipgloss.Style
	TabGap     lipgloss.Style
	Separator  lipgloss.Style
	Heading    lipgloss.Style
	Subtle     lipgloss.Style
	Selected   lipgloss.Style
	Timestamp  lipgloss.Style
	Status     lipgloss.Style
	Text       lipgloss.Style
	Info       lipgloss.Style
	Notice     lipgloss.Style
	Warning    lipgloss.Style
	Error      lipgloss.Style
	Match      lipgloss.Style
	Key        lipgloss.Style
	Input      lipgloss.Style
	BarFull    lipgloss.Style
	BarEmpty   lipgloss.Style
	HelpKey    lipgloss.Style
	HelpDesc   lipgloss.Style
	HelpSep    lipgloss.Style
	Sparkline  lipgloss.Style
	EmptyTitle lipgloss.Style

	// The theme's accent and subtle colours, for borders.
	accent, subtle color.Color
}

// New builds the styles of a theme; noColor drops every colour and keeps
// only attributes (bold, faint, reverse, underline).
func New(t Theme, noColor bool) *Styles {
	if noColor {
		t = Theme{}
	}
	fg := func(c color.Color) lipgloss.Style {
		s := lipgloss.NewStyle()
		if c != nil {
			s = s.Foreground(c)
		}
		return s
	}
	s := &Styles{NoColor: noColor, accent: t.Accent, subtle: t.Subtle}
	s.App = lipgloss.NewStyle()
	s.Title = fg(t.Accent).Bold(true)
	s.Tab = fg(t.Subtle)
	s.ActiveTab = fg(t.Accent).Bold(true).Underline(true)
	s.TabGap = fg(t.Subtle)
	s.Separator = fg(t.Subtle)
	s.Heading = fg(t.Accent).Bold(true)
	s.Subtle = fg(t.Subtle)
	s.Selected = lipgloss.NewStyle().Bold(true)
	if noColor {
		s.Selected = s.Selected.Reverse(true)
	} else {
		s.Selected = s.Selected.Foreground(t.Accent)
	}
	s.Timestamp = fg(t.Subtle)
	s.Status = fg(t.Subtle).Italic(true)
	s.Text = fg(t.Text)
	s.Info = fg(t.Info)
	s.Notice = fg(t.Notice)
	s.Warning = fg(t.Warning).Bold(noColor)
	s.Error = fg(t.Error).Bold(true)
	s.Match = lipgloss.NewStyle().Reverse(true)
	if !noColor {
		s.Match = lipgloss.NewStyle().Background(t.Match).Foreground(lipgloss.Color("0"))
	}
	s.Key = fg(t.Accent).Bold(true)
	s.Input = lipgloss.NewStyle()
	s.BarFull = fg(t.Bar)
	s.BarEmpty = fg(t.Subtle)
	s.HelpKey = fg(t.Subtle).Bold(true)
	s.HelpDesc = fg(t.Subtle)
	s.HelpSep = fg(t.Subtle)
	s.Sparkline = fg(t.Notice)
	s.EmptyTitle = fg(t.Accent).Bold(true)
	return s
}

// Severity is the style of a decoded event of sev.
func (s *Styles) Severity(sev decode.Severity) lipgloss.Style {
	switch sev {
	case decode.Notice:
		return s.Notice
	case decode.Warning:
		return s.Warning
	case decode.Error:
		return s.Error
	}
	return s.Info
}

// Marker is a one-cell sign for sev, so that severity reads without
// colour too.
func Marker(sev decode.Severity) string {
	switch sev {
	case decode.Notice:
		return "✓"
	case decode.Warning:
		return "!"
	case decode.Error:
		return "✗"
	}
	return "⇢"
}

// FormTheme is the theme of the Huh forms (the provisioning wizard, the
// publish dialog): Huh's base layout in this theme's colours, or with
// NO_COLOR only its attributes (a reversed button, a bold title).
func (s *Styles) FormTheme() huh.Theme {
	return huh.ThemeFunc(func(isDark bool) *huh.Styles {
		t := huh.ThemeBase(isDark)
		title := s.Heading
		for _, f := range []*huh.FieldStyles{&t.Focused, &t.Blurred} {
			f.Title = title
			f.NoteTitle = title
			f.Description = s.Subtle
			f.ErrorIndicator = s.Error.SetString(" *")
			f.ErrorMessage = s.Error.SetString(" *")
			f.SelectSelector = s.Key.SetString("> ")
			f.MultiSelectSelector = s.Key.SetString("> ")
			f.SelectedOption = s.Notice
			f.SelectedPrefix = s.Notice.SetString("[✓] ")
			f.UnselectedPrefix = s.Subtle.SetString("[ ] ")
			f.Option = s.Text
			f.UnselectedOption = s.Text
			f.TextInput.Placeholder = s.Subtle
			f.TextInput.Prompt = s.Key
			f.TextInput.Text = s.Input
			f.FocusedButton = lipgloss.NewStyle().Padding(0, 2).MarginRight(1).Reverse(true).Bold(true)
			f.BlurredButton = lipgloss.NewStyle().Padding(0, 2).MarginRight(1)
			f.Next = s.Key
		}
		t.Blurred.MultiSelectSelector = lipgloss.NewStyle().SetString("  ")
		t.Blurred.Title = s.Subtle
		if !s.NoColor {
			t.Focused.Base = t.Focused.Base.BorderForeground(s.accent)
			t.Blurred.Base = t.Blurred.Base.BorderForeground(s.subtle)
		}
		t.Help.ShortKey, t.Help.ShortDesc, t.Help.ShortSeparator = s.HelpKey, s.HelpDesc, s.HelpSep
		t.Help.FullKey, t.Help.FullDesc, t.Help.FullSeparator = s.HelpKey, s.HelpDesc, s.HelpSep
		return t
	})
}

package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/styles"
	"github.com/iotbench/iotbench/tui/views/provisionview"
	"github.com/iotbench/iotbench/tui/views/topics"
)

// The Provision and Topics views' configuration, as the program gives it.
type (
	ProvisionConfig = provisionview.Config
	ProvisionCloud  = provisionview.Cloud
	CloudParams     = provisionview.CloudParams
	WizardDefaults  = provisionview.Defaults
	TopicsConfig    = topics.Config
)

// Options configure the TUI.
type Options struct {
	// Boards are opened at start (a --port, virtual boards).
	Boards []device.Spec
	// Scan adds every USB serial port that looks like an ESP board, at
	// start and as boards are plugged in.
	Scan bool
	// ListPorts lists serial ports for Scan (default serialmon.ListPorts).
	ListPorts func() ([]serialmon.PortInfo, error)
	// NewVirtual starts a virtual board (the V key and the no-boards
	// screen offer it when set); cleanup is called when the TUI ends.
	NewVirtual func() (spec device.Spec, cleanup func(), err error)
	// Device configures how boards are monitored and flashed.
	Device device.Config
	// Identify asks each new board's ROM loader for chip, MAC and flash
	// size before monitoring it (this resets the board).
	Identify bool
	// App and FS fill the Flash form.
	App, FS string
	// Provision sets up the Provision and Doctor views (clouds, pipeline
	// options, the wizard's defaults); nil: the views say it is not set up.
	Provision *ProvisionConfig
	// Topics says which broker the Topics view watches; nil: none.
	Topics *TopicsConfig
	// Note is shown in the footer until the first key press (the demo's
	// injected fault).
	Note string
	// ExportDir is where the timeline's JSON lines go (default ".").
	ExportDir string
	// Scrollback bounds each monitor (default monitor.DefaultScrollback).
	Scrollback int
	// Getenv reads NO_COLOR (default: none set).
	Getenv func(string) string
	// Mouse turns on mouse reporting: wheel scrolling, clickable tabs. Off
	// by default, since it takes text selection away from the terminal.
	Mouse bool
	// Input and Output default to the terminal.
	Input  io.Reader
	Output io.Writer
	// Now is the clock (tests fix it).
	Now func() time.Time
	// ProgramOptions are passed to Bubble Tea (tests, benchmarks).
	ProgramOptions []tea.ProgramOption
}

func (o *Options) defaults() {
	if o.ListPorts == nil {
		o.ListPorts = serialmon.ListPorts
	}
	if o.ExportDir == "" {
		o.ExportDir = "."
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// noColor follows https://no-color.org: set and not empty.
func (o *Options) noColor() bool { return o.Getenv("NO_COLOR") != "" }

func (o *Options) styles() *styles.Styles { return styles.New(styles.DefaultTheme(), o.noColor()) }

// Run runs the TUI until the user quits or ctx ends, then releases every
// port (a running flash is cancelled first).
func Run(ctx context.Context, o Options) error {
	m := NewModel(ctx, o)
	defer m.Close()
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if o.Input != nil {
		opts = append(opts, tea.WithInput(o.Input))
	}
	if o.Output != nil {
		opts = append(opts, tea.WithOutput(o.Output))
	}
	if m.opts.noColor() {
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	opts = append(opts, o.ProgramOptions...)
	_, err := tea.NewProgram(m, opts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

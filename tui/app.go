// Package tui owns iotbench's Bubble Tea v2 application: the shell (board
// list beside the active view, tabs, the footer's key help, the
// terminal-too-small and no-boards screens), the routing of every board's
// asynchronous results to that board's panes, and Run. The views live in
// tui/views/… (Monitor, Flash, Provision, Topics, Doctor, Timeline), the
// board list in tui/boards, the port hand-over between monitor, flasher
// and provisioning pipeline in tui/device; styles and key maps have one
// package each. All I/O happens in tea.Cmds; View and Update only compute.
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/boards"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/views/doctorview"
	"github.com/iotbench/iotbench/tui/views/flash"
	"github.com/iotbench/iotbench/tui/views/monitor"
	"github.com/iotbench/iotbench/tui/views/provisionview"
	"github.com/iotbench/iotbench/tui/views/timeline"
	"github.com/iotbench/iotbench/tui/views/topics"
)

// MinWidth and MinHeight are the smallest terminal the TUI draws in.
const (
	MinWidth  = 80
	MinHeight = 24
)

// tab is a view of the tab bar.
type tab = common.ViewID

const (
	tabMonitor   = common.ViewMonitor
	tabFlash     = common.ViewFlash
	tabProvision = common.ViewProvision
	tabTopics    = common.ViewTopics
	tabDoctor    = common.ViewDoctor
	tabTimeline  = common.ViewTimeline
	tabCount     = common.ViewCount
)

var tabNames = [tabCount]string{"Monitor", "Flash", "Provision", "Topics", "Doctor", "Timeline"}

// pane is one board's state in the shell.
type pane struct {
	dev       *device.Device
	board     *boards.Board
	monitor   *monitor.Model
	flash     *flash.Model
	provision *provisionview.Model
	doctor    *doctorview.Model
	gen       int // the monitor session whose batches are current
	// provisioning: a run holds the port; its first progress stopped the
	// monitor.
	provisioning bool
}

// Model is the application.
type Model struct {
	common.Common
	ctx  context.Context
	opts Options

	list     *boards.List
	panes    map[common.BoardID]*pane
	timeline *timeline.Model
	topics   *topics.Model
	tab      tab
	help     help.Model
	fullHelp bool
	nextID   common.BoardID
	known    map[string]bool
	cleanup  []func()
	quitArm  bool
	note     string
}

// Internal messages.
type (
	retryMsg   struct{}
	scanMsg    struct{}
	portsMsg   struct{ ports []serialmon.PortInfo }
	virtualMsg struct {
		spec    device.Spec
		cleanup func()
		err     error
	}
)

// retryEvery is how often a board whose port is gone is looked for again.
const retryEvery = time.Second

// scanEvery is how often new USB serial ports are looked for.
const scanEvery = 2 * time.Second

// NewModel builds the application; Run runs it. Tests drive it with
// teatest and must Close it.
func NewModel(ctx context.Context, o Options) *Model {
	o.defaults()
	c := common.New(o.styles(), o.Now)
	h := help.New()
	h.Styles = help.Styles{
		ShortKey: c.Styles.HelpKey, ShortDesc: c.Styles.HelpDesc, ShortSeparator: c.Styles.HelpSep,
		FullKey: c.Styles.HelpKey, FullDesc: c.Styles.HelpDesc, FullSeparator: c.Styles.HelpSep,
		Ellipsis: c.Styles.HelpSep,
	}
	m := &Model{Common: c, ctx: ctx, opts: o, panes: map[common.BoardID]*pane{},
		known: map[string]bool{}, help: h}
	m.list = boards.NewList(c)
	m.list.VirtualOffer = o.NewVirtual != nil
	m.timeline = timeline.New(c, o.ExportDir, 0)
	m.topics = topics.New(c, ctx, o.Topics)
	m.note = o.Note
	if o.Provision != nil && o.Provision.Auto {
		m.tab = tabProvision
	}
	return m
}

// Init opens the boards given and starts looking for others.
func (m *Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	for _, s := range m.opts.Boards {
		cmds = append(cmds, m.addBoard(s, nil))
	}
	if m.opts.Scan {
		cmds = append(cmds, m.scan())
	}
	if m.opts.Topics != nil && m.opts.Topics.Auto {
		cmds = append(cmds, m.topics.Connect())
	}
	return tea.Batch(cmds...)
}

// Close ends every board's monitor and job and releases their ports.
func (m *Model) Close() {
	for _, p := range m.panes {
		p.dev.Close()
	}
	m.topics.Close()
	for _, f := range m.cleanup {
		f()
	}
	m.cleanup = nil
}

// addBoard puts a board in the list and starts reading it: identify
// first (which resets it into the loader and back) when asked, else the
// monitor with a reset so the boot log is read from the ROM banner on.
func (m *Model) addBoard(s device.Spec, cleanup func()) tea.Cmd {
	if m.known[s.Port] {
		if cleanup != nil {
			cleanup()
		}
		return nil
	}
	m.known[s.Port] = true
	if cleanup != nil {
		m.cleanup = append(m.cleanup, cleanup)
	}
	id := m.nextID
	m.nextID++
	dev := device.New(m.ctx, s, m.opts.Device)
	b := &boards.Board{ID: id, Port: s.Port, Label: s.Label, Since: m.Now()}
	p := &pane{dev: dev, board: m.list.Add(b),
		monitor:   monitor.New(m.Common, id, dev, m.opts.Scrollback),
		flash:     flash.New(m.Common, id, dev),
		provision: provisionview.New(m.Common, id, m.opts.Provision, dev)}
	p.doctor = doctorview.New(m.Common, id, dev, p.provision.ExamineJob)
	m.panes[id] = p
	if len(m.panes) == 1 {
		m.list.SelectID(id)
		m.timeline.SetBoard(id)
	}
	m.layout()
	text := "board found on " + s.Port
	if s.Label != "" {
		text = s.Label + " on " + s.Port
	}
	m.timeline.Add(timeline.Note(id, s.Port, m.Now(), decode.Info, "board.added", text))
	cmds := []tea.Cmd{p.flash.SetPaths(m.opts.App, m.opts.FS)}
	if m.opts.Device.ELF != "" {
		cmds = append(cmds, common.ForBoard(id, dev.LoadELF(m.opts.Device.ELF)))
	}
	switch {
	case m.opts.Provision != nil && m.opts.Provision.Auto:
		// The demo: straight into the pipeline, which resets the board
		// itself; the monitor shows the boot it watches.
		p.monitor.SetRunning(false, "provisioning (the pipeline has the port; the boot log it reads is copied here)")
		cmds = append(cmds, p.provision.AutoStart())
	case m.opts.Identify:
		p.monitor.SetRunning(false, "identifying the chip (the ROM loader has the port)")
		cmds = append(cmds, common.ForBoard(id, dev.Identify()))
	default:
		cmds = append(cmds, common.ForBoard(id, dev.StartMonitor(true)))
	}
	return tea.Batch(cmds...)
}

func (m *Model) scan() tea.Cmd {
	list := m.opts.ListPorts
	return func() tea.Msg {
		ports, err := list()
		if err != nil {
			return portsMsg{}
		}
		return portsMsg{ports: ports}
	}
}

func (m *Model) selected() *pane {
	if b := m.list.Selected(); b != nil {
		return m.panes[b.ID]
	}
	return nil
}

// Update routes messages: board envelopes to their board's panes, keys
// to the shell or the active view.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(msg.Width, msg.Height)
		m.layout()
		return m, nil
	case common.BoardMsg:
		return m, m.routeBoard(msg)
	case portsMsg:
		var cmds []tea.Cmd
		for _, p := range msg.ports {
			if p.LikelyESP && !m.known[p.Path] {
				cmds = append(cmds, m.addBoard(device.Spec{Port: p.Path, Label: p.Bridge}, nil))
			}
		}
		cmds = append(cmds, tea.Tick(scanEvery, func(time.Time) tea.Msg { return scanMsg{} }))
		return m, tea.Batch(cmds...)
	case scanMsg:
		return m, m.scan()
	case virtualMsg:
		if msg.err != nil {
			m.note = "could not start a virtual board: " + msg.err.Error()
			return m, nil
		}
		cmd := m.addBoard(msg.spec, msg.cleanup)
		m.list.SelectID(m.nextID - 1)
		m.selectionChanged()
		return m, cmd
	case timeline.Exported:
		return m, m.timeline.Update(msg)
	case topics.Msg:
		cmd := m.topics.Update(msg)
		m.topicEvents()
		return m, cmd
	case tea.KeyPressMsg:
		return m, m.updateKey(msg)
	case tea.MouseClickMsg:
		if mouse := msg.Mouse(); mouse.Y == 0 {
			return m, m.clickTab(mouse.X)
		}
		return m, nil
	case tea.MouseWheelMsg:
		return m, m.toView(msg)
	}
	// A form's own messages (Huh: next field, next group): only one form
	// is open at a time, the one on screen, which has the keyboard.
	if m.topics.Typing() {
		return m, m.topics.Update(msg)
	}
	if p := m.selected(); p != nil && p.provision.Typing() {
		return m, p.provision.Update(msg)
	}
	return m, nil
}

// topicEvents moves the topic viewer's news to the timeline.
func (m *Model) topicEvents() {
	for _, e := range m.topics.TakeEvents() {
		m.timeline.Add(timeline.MQTT(e.At, e.Severity, e.Kind, e.Text))
	}
}

func (m *Model) routeBoard(env common.BoardMsg) tea.Cmd {
	p := m.panes[env.Board]
	if p == nil {
		return nil
	}
	id, port, now := env.Board, p.board.Port, m.Now()
	switch msg := env.Msg.(type) {
	case device.MonitorStarted:
		if msg.Err != nil {
			p.board.MonitorFailed(msg.Err, now)
			p.monitor.SetRunning(false, msg.Err.Error())
			if p.board.State == boards.Unplugged {
				return tea.Tick(retryEvery, func(time.Time) tea.Msg { return common.BoardMsg{Board: id, Msg: retryMsg{}} })
			}
			return nil
		}
		p.gen = msg.Gen
		p.monitor.SetRunning(true, "")
		p.board.MonitorStarted(now)
		if msg.ResetErr != nil {
			p.monitor.Note("reset failed: " + msg.ResetErr.Error())
		}
		return common.ForBoard(id, p.dev.ReadSerial(msg.Gen))
	case retryMsg:
		if p.dev.Busy() == "" && !p.monitor.Running() {
			return common.ForBoard(id, p.dev.StartMonitor(true))
		}
	case device.SerialBatch:
		if msg.Gen != p.gen {
			return nil
		}
		p.monitor.Append(msg.Lines)
		p.board.Serial(msg.Lines)
		m.timeline.Add(timeline.Serial(id, port, msg.Lines)...)
		if msg.Ended {
			why := "closed"
			if b := p.dev.Busy(); b != "" {
				why = b + " (the port is handed over)"
			}
			p.monitor.SetRunning(false, why)
			return nil
		}
		return common.ForBoard(id, p.dev.ReadSerial(msg.Gen))
	case device.FlashProgress:
		if p.board.State != boards.Flashing {
			p.board.FlashStarted(now)
			p.monitor.SetRunning(false, "flashing (the flasher has the port)")
		}
		p.flash.Update(msg)
		m.timeline.Add(timeline.Flash(id, port, now, msg.Events)...)
		return common.ForBoard(id, p.dev.ReadFlash())
	case device.FlashDone:
		p.flash.Update(msg)
		if device.IsBusy(msg.Err) {
			// Refused before touching the board: another job has the port.
			return nil
		}
		p.board.FlashDone(msg, now)
		inspect := m.syncFacts(p)
		m.timeline.Add(timeline.FlashDone(id, port, now, msg))
		if msg.ELF != "" {
			p.monitor.SetELF(msg.ELF)
		}
		// Reset in every case: into the new firmware, or out of the loader
		// after a failure or a cancel.
		return tea.Batch(inspect, common.ForBoard(id, p.dev.StartMonitor(true)))
	case device.Identified:
		var inspect tea.Cmd
		if msg.Err != nil {
			p.monitor.Note("identify failed: " + msg.Err.Error())
			m.timeline.Add(timeline.Note(id, port, now, decode.Warning, "board.identify", "identify failed: "+msg.Err.Error()))
		} else {
			p.board.Facts(msg.Facts)
			inspect = m.syncFacts(p)
			m.timeline.Add(timeline.Note(id, port, now, decode.Notice, "board.identify",
				fmt.Sprintf("%s, MAC %s, %d MB flash", msg.Facts.Description, msg.Facts.MAC, msg.Facts.FlashSize>>20)))
		}
		if device.IsBusy(msg.Err) {
			return inspect
		}
		return tea.Batch(inspect, common.ForBoard(id, p.dev.StartMonitor(true)))
	case device.SymbolsLoaded:
		if msg.Err != nil {
			p.monitor.Note("ELF " + msg.Path + ": " + msg.Err.Error())
		} else {
			p.monitor.SetELF(msg.Path)
		}
	case device.ActionDone:
		return p.monitor.Update(msg)
	case flash.Inspected:
		return p.flash.Update(msg)
	case device.ProvisionProgress:
		return m.provisionProgress(p, msg)
	case device.ProvisionDone:
		return m.provisionDone(p, msg)
	case common.ShowView:
		m.setTab(msg.View)
		if msg.View == tabMonitor && msg.Text != "" {
			p.monitor.JumpTo(msg.At, msg.Text)
		}
		return m.tabOpened()
	}
	return nil
}

func (m *Model) provisionProgress(p *pane, msg device.ProvisionProgress) tea.Cmd {
	id, port := p.board.ID, p.board.Port
	if !p.provisioning {
		p.provisioning = true
		what := "provisioning"
		if msg.Examine {
			what = "the doctor examines the board"
		}
		p.monitor.SetRunning(false, what+" (the pipeline has the port; the boot log it reads is copied here)")
	}
	for _, e := range msg.Events {
		if !msg.Examine {
			p.board.Provision(e)
		}
		if en, ok := timeline.Provision(id, port, e); ok {
			m.timeline.Add(en)
		}
	}
	if len(msg.Lines) > 0 {
		p.monitor.Append(msg.Lines)
		p.board.Serial(msg.Lines)
		m.timeline.Add(timeline.Serial(id, port, msg.Lines)...)
	}
	if msg.Examine {
		p.doctor.Update(msg)
	} else {
		p.provision.Update(msg)
	}
	return common.ForBoard(id, p.dev.ReadProvision())
}

func (m *Model) provisionDone(p *pane, msg device.ProvisionDone) tea.Cmd {
	id, port, now := p.board.ID, p.board.Port, m.Now()
	p.provisioning = false
	if msg.Examine {
		p.doctor.Update(msg)
	} else {
		p.provision.Update(msg)
	}
	if device.IsBusy(msg.Err) {
		// Refused before touching the board: another job has the port.
		return nil
	}
	res := msg.Result
	var inspect tea.Cmd
	switch {
	case msg.Err != nil:
		m.timeline.Add(timeline.Note(id, port, now, decode.Error, "provision.error", "could not start: "+msg.Err.Error()))
	case res != nil:
		p.board.Provisioned(res, msg.Examine, now)
		inspect = m.syncFacts(p)
		if !msg.Examine && res.Report != nil {
			p.doctor.SetReport(res.Report, "provisioning run "+now.Format("15:04:05"))
		}
		sev, text := decode.Notice, "verified: "+res.Thing+" published on "+res.Topic
		if !res.Verified {
			sev, text = decode.Error, "not verified"
			if res.Report != nil && res.Report.Top() != nil {
				text += ": " + res.Report.Top().Summary
			} else if res.Error != "" {
				text += ": " + res.Error
			}
		}
		kind := "provision.result"
		if msg.Examine {
			kind, text = "doctor.result", "the doctor examined the board: "+strings.TrimPrefix(text, "not verified: ")
		}
		m.timeline.Add(timeline.Note(id, port, now, sev, kind, text))
		// The demo: a board that did not verify is the doctor's.
		if auto := m.opts.Provision; auto != nil && auto.Auto && !msg.Examine && !res.Verified && !msg.Canceled && m.selected() == p {
			m.tab = tabDoctor
		}
	}
	// The board runs its firmware once the pipeline reset it: follow it
	// without a reset. Before that it sits in the loader: reset it out.
	if res != nil && reachedReset(res) {
		return tea.Batch(inspect, common.ForBoard(id, p.dev.ResumeMonitor()))
	}
	return tea.Batch(inspect, common.ForBoard(id, p.dev.StartMonitor(true)))
}

func reachedReset(r *provision.Result) bool {
	for _, s := range r.Steps {
		if s.Step == provision.StepReset || s.Step == provision.StepBoot || s.Step == provision.StepPublish {
			return true
		}
	}
	return false
}

// syncFacts tells the views what is known of the board; the Flash view
// may look at its files again for a newly known chip.
func (m *Model) syncFacts(p *pane) tea.Cmd {
	p.provision.SetBoard(p.board.Chip, p.board.MAC)
	return p.flash.SetBoard(p.board.Chip, p.board.FlashSize)
}

// typing reports whether the active view's text field has the keyboard.
func (m *Model) typing() bool {
	switch m.tab {
	case tabTimeline:
		return m.timeline.Typing()
	case tabTopics:
		return m.topics.Typing()
	}
	p := m.selected()
	if p == nil {
		return false
	}
	switch m.tab {
	case tabMonitor:
		return p.monitor.Typing()
	case tabFlash:
		return p.flash.Typing()
	case tabProvision:
		return p.provision.Typing()
	}
	return false
}

func (m *Model) setTab(t tab) { m.tab = t }

// tabOpened runs what opening a view starts: the topic viewer connects
// the first time Topics is shown.
func (m *Model) tabOpened() tea.Cmd {
	if m.tab == tabTopics {
		return m.topics.Connect()
	}
	return nil
}

func (m *Model) updateKey(msg tea.KeyPressMsg) tea.Cmd {
	g := m.Keys.Global
	if msg.String() == "ctrl+c" || (!m.typing() && key.Matches(msg, g.Quit)) {
		return m.quit()
	}
	m.quitArm = false
	m.note = ""
	if m.typing() {
		return m.toView(msg)
	}
	switch {
	case key.Matches(msg, g.NextTab):
		m.tab = (m.tab + 1) % tabCount
		return m.tabOpened()
	case key.Matches(msg, g.PrevTab):
		m.tab = (m.tab + tabCount - 1) % tabCount
		return m.tabOpened()
	case key.Matches(msg, g.Monitor):
		m.tab = tabMonitor
	case key.Matches(msg, g.Flash):
		m.tab = tabFlash
	case key.Matches(msg, g.Provision):
		m.tab = tabProvision
	case key.Matches(msg, g.Topics):
		m.tab = tabTopics
		return m.tabOpened()
	case key.Matches(msg, g.Doctor):
		m.tab = tabDoctor
	case key.Matches(msg, g.Timeline):
		m.tab = tabTimeline
	case key.Matches(msg, g.NextBoard):
		m.list.Select(1)
		m.selectionChanged()
	case key.Matches(msg, g.PrevBoard):
		m.list.Select(-1)
		m.selectionChanged()
	case key.Matches(msg, g.Help):
		m.fullHelp = !m.fullHelp
		m.layout()
	case key.Matches(msg, g.Identify):
		if p := m.selected(); p != nil && p.dev.Busy() == "" {
			p.monitor.SetRunning(false, "identifying the chip (the ROM loader has the port)")
			return common.ForBoard(p.board.ID, p.dev.Identify())
		}
	case key.Matches(msg, g.Virtual) && m.opts.NewVirtual != nil:
		m.note = "starting a virtual board…"
		nv := m.opts.NewVirtual
		return func() tea.Msg {
			s, c, err := nv()
			return virtualMsg{spec: s, cleanup: c, err: err}
		}
	default:
		return m.toView(msg)
	}
	return nil
}

// quit asks for a second press while a board is being flashed or
// provisioned (quitting cancels the job and may leave a partial image),
// else quits.
func (m *Model) quit() tea.Cmd {
	for _, p := range m.panes {
		if b := p.dev.Busy(); (b == "flashing" || b == "provisioning") && !m.quitArm {
			m.quitArm = true
			m.note = p.board.Port + " is being " + map[string]string{"flashing": "flashed", "provisioning": "provisioned"}[b] + ": press q again to cancel it and quit"
			return nil
		}
	}
	return tea.Quit
}

func (m *Model) selectionChanged() {
	if b := m.list.Selected(); b != nil {
		m.timeline.SetBoard(b.ID)
	}
}

// toView hands a message to the active view.
func (m *Model) toView(msg tea.Msg) tea.Cmd {
	switch m.tab {
	case tabTimeline:
		return m.timeline.Update(msg)
	case tabTopics:
		cmd := m.topics.Update(msg)
		m.topicEvents()
		return cmd
	}
	p := m.selected()
	if p == nil {
		return nil
	}
	switch m.tab {
	case tabFlash:
		return p.flash.Update(msg)
	case tabProvision:
		return p.provision.Update(msg)
	case tabDoctor:
		return p.doctor.Update(msg)
	}
	return p.monitor.Update(msg)
}

func (m *Model) clickTab(x int) tea.Cmd {
	pos := ansi.StringWidth(title) + 2
	for t := tab(0); t < tabCount; t++ {
		w := ansi.StringWidth(tabLabel(t))
		if x >= pos && x < pos+w {
			m.tab = t
			return m.tabOpened()
		}
		pos += w + 1
	}
	return nil
}

const title = "iotbench"

func tabLabel(t tab) string { return fmt.Sprintf(" %d %s ", t+1, tabNames[t]) }

// listWidth is the board list's share of the screen.
func (m *Model) listWidth() int {
	switch {
	case m.Width >= 160:
		return 34
	case m.Width >= 100:
		return 30
	}
	return 26
}

func (m *Model) footerHeight() int {
	if m.fullHelp {
		return lipgloss.Height(m.help.FullHelpView(m.helpKeys().FullHelp()))
	}
	return 1
}

// layout gives every component its size.
func (m *Model) layout() {
	m.help.SetWidth(m.Width)
	bodyH := m.Height - 1 - m.footerHeight()
	lw := m.listWidth()
	vw := m.Width - lw - 1
	m.list.SetSize(lw, bodyH)
	m.timeline.SetSize(vw, bodyH)
	m.topics.SetSize(vw, bodyH)
	for _, p := range m.panes {
		p.monitor.SetSize(vw, bodyH)
		p.flash.SetSize(vw, bodyH)
		p.provision.SetSize(vw, bodyH)
		p.doctor.SetSize(vw, bodyH)
	}
}

// helpKeys is the footer's key map: the active view's keys, then the
// shell's.
type helpKeys struct {
	view   help.KeyMap
	global []key.Binding
	all    [][]key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding {
	var out []key.Binding
	if h.view != nil {
		out = append(out, h.view.ShortHelp()...)
	}
	return append(out, h.global...)
}

func (h helpKeys) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	if h.view != nil {
		out = append(out, h.view.FullHelp()...)
	}
	return append(out, h.all...)
}

func (m *Model) activeView() common.Component {
	switch m.tab {
	case tabTimeline:
		return m.timeline
	case tabTopics:
		return m.topics
	}
	p := m.selected()
	if p == nil {
		return nil
	}
	switch m.tab {
	case tabFlash:
		return p.flash
	case tabProvision:
		return p.provision
	case tabDoctor:
		return p.doctor
	}
	return p.monitor
}

func (m *Model) helpKeys() helpKeys {
	g := m.Keys.Global
	h := helpKeys{
		global: []key.Binding{g.NextTab, g.NextBoard, g.Help, g.Quit},
		all:    [][]key.Binding{{g.NextTab, g.PrevTab, g.Monitor, g.Flash, g.Provision, g.Topics, g.Doctor, g.Timeline}, {g.NextBoard, g.PrevBoard, g.Identify, g.Help, g.Quit}},
	}
	if m.opts.NewVirtual != nil {
		h.all[1] = append(h.all[1], g.Virtual)
	}
	if v := m.activeView(); v != nil {
		h.view = v
	}
	return h
}

// View draws the shell.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "iotbench"
	if m.opts.Mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

func (m *Model) render() string {
	w, h := m.Width, m.Height
	if w == 0 || h == 0 {
		return ""
	}
	st := m.Styles
	if w < MinWidth || h < MinHeight {
		msg := fmt.Sprintf("The terminal is %d×%d: iotbench needs at least %d×%d.\nEnlarge the window (or shrink the font).", w, h, MinWidth, MinHeight)
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, ansi.Wrap(msg, w, " "))
	}
	rows := []string{m.tabBar(w)}
	bodyH := h - 1 - m.footerHeight()
	var view string
	if v := m.activeView(); v != nil {
		view = v.View()
	} else {
		view = m.emptyView(w-m.listWidth()-1, bodyH)
	}
	left := strings.Split(m.list.View(), "\n")
	right := strings.Split(view, "\n")
	sep := st.Separator.Render("│")
	lw := m.listWidth()
	for i := 0; i < bodyH; i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		rows = append(rows, pad(l, lw)+sep+r)
	}
	var foot string
	switch {
	case m.note != "":
		foot = st.Warning.Render(m.note)
	case m.fullHelp:
		foot = m.help.FullHelpView(m.helpKeys().FullHelp())
	default:
		foot = m.help.ShortHelpView(m.helpKeys().ShortHelp())
	}
	for _, f := range strings.Split(foot, "\n") {
		rows = append(rows, ansi.Truncate(f, w, "…"))
	}
	for i, r := range rows {
		rows[i] = ansi.Truncate(r, w, "")
	}
	return strings.Join(rows, "\n")
}

func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

func (m *Model) tabBar(w int) string {
	st := m.Styles
	bar := st.Title.Render(title) + "  "
	for t := tab(0); t < tabCount; t++ {
		if t == m.tab {
			bar += st.ActiveTab.Render(tabLabel(t))
		} else {
			bar += st.Tab.Render(tabLabel(t))
		}
		bar += " "
	}
	if b := m.list.Selected(); b != nil {
		sum := st.Subtle.Render(boards.Summary(b))
		if room := w - ansi.StringWidth(bar) - 1; room > 10 {
			sum = ansi.TruncateLeft(sum, max(0, ansi.StringWidth(sum)-room), "…")
			bar = pad(bar, w-ansi.StringWidth(sum)) + sum
		}
	}
	return bar
}

// emptyView says how to get a board when there is none.
func (m *Model) emptyView(w, h int) string {
	st := m.Styles
	lines := []string{
		st.EmptyTitle.Render("No ESP board found"),
		"",
		"Plug a board in with a USB data cable: it appears here by itself.",
		"iotbench looks for CP210x, CH340/CH9102, FTDI and Espressif USB serial ports.",
		"",
		"Or name the port: iotbench tui --port /dev/ttyUSB0 (or rfc2217://HOST:PORT).",
		"",
	}
	if m.opts.NewVirtual != nil {
		lines = append(lines, st.Key.Render("Press V")+" to start a virtual ESP8266 and try everything without hardware.")
	} else {
		lines = append(lines, "No hardware? Run "+st.Key.Render("iotbench tui --virtual")+" for a virtual ESP8266.")
	}
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(ansi.Wrap(l, max(10, w-2), " "), "\n")...)
	}
	for i, l := range out {
		out[i] = " " + l
	}
	for len(out) < h {
		out = append(out, "")
	}
	return strings.Join(out[:h], "\n")
}

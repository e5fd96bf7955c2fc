// Package topics owns the Topics view: an MQTT viewer (mqttview) on the
// bench's broker — the local cloud, or the demo's — with the topic tree
// and each topic's count and rate, the selected topic's last payload
// pretty-printed, what changed since the message before, its numeric
// fields charted, its bounded history, and dialogs to publish and to
// clear a retained message. The viewer's callbacks only wake the view;
// the view reads the viewer's Store in its own commands, at most
// refreshesPerSecond times a second, so a flood of messages costs the
// screen nothing more than a steady stream.
package topics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/mqttview/topic"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
)

// Config says which broker the view watches.
type Config struct {
	// Name describes the broker in the header ("local cloud").
	Name string
	// Viewer returns the viewer's configuration (broker URL, the local
	// cloud's viewer identity). It runs in a command.
	Viewer func(ctx context.Context) (mqttview.Config, error)
	// Filters are subscribed (default "#": everything).
	Filters []string
	// Auto connects when the TUI starts, rather than when the view is
	// first opened.
	Auto bool
	// Open, when set, is used instead of dialling Viewer's broker: it
	// returns a source already connected and subscribed, and calls wake
	// whenever its store has news (tests and golden scenes feed a store
	// directly; a recorded session could be replayed the same way).
	Open func(ctx context.Context, wake func()) (Source, error)
}

// Source is what the view reads and drives: an *mqttview.Viewer in the
// program.
type Source interface {
	State() mqttview.State
	Store() *mqttview.Store
	ClientID() string
	Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error
	ClearRetained(ctx context.Context, topic string) error
	Close() error
}

// refreshEvery bounds how often the view reads the store while messages
// arrive; idleRefresh is how often rates are recomputed when none do.
const (
	refreshEvery = 100 * time.Millisecond
	idleRefresh  = time.Second
)

// Event is something the timeline should record.
type Event struct {
	At       time.Time
	Severity decode.Severity
	Kind     string
	Text     string
}

// Msg carries the results of the view's commands, so that the shell can
// route them here without knowing them.
type Msg struct{ msg tea.Msg }

func wrap(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		if msg := cmd(); msg != nil {
			return Msg{msg}
		}
		return nil
	}
}

// Messages of the view's commands.
type (
	connected struct {
		v   Source
		err error
	}
	// Changed: the store has news (or a refresh is due).
	Changed   struct{}
	published struct {
		topic   string
		retain  bool
		cleared bool
		size    int
		err     error
	}
)

type dialog int

const (
	dialogNone dialog = iota
	dialogPublish
	dialogClear
)

// row is one line of the flattened tree.
type row struct {
	depth int
	node  *mqttview.Node
}

// detail is what the view shows of the selected topic, computed when the
// store is read rather than on every frame.
type detail struct {
	stats   mqttview.TopicStats
	history []mqttview.Message
	series  map[string][]mqttview.Point
	diff    []mqttview.Change
}

// Model is the Topics view.
type Model struct {
	common.Common
	ctx context.Context
	cfg *Config

	viewer     Source
	connecting bool
	connErr    error
	notify     chan struct{}
	waiting    bool
	lastState  mqttview.Status

	rows   []row
	totals mqttview.Totals
	sel    string // selected path
	cursor int
	top    int
	det    *detail
	raw    bool
	known  map[string]bool
	// retainedHere are the topics this view published a retained message
	// to: a broker forwards a retained publish to existing subscribers as
	// an ordinary message, so the viewer's own copy does not say so.
	retainedHere map[string]bool
	// cleared are the topics whose retained message this view cleared:
	// the broker forwards the empty publish to every subscriber, the
	// viewer included, after acknowledging it; that echo is not news.
	cleared  map[string]bool
	events   []Event
	dialog   dialog
	form     *huh.Form
	pub      pubValues
	note     string
	refreshN int
}

type pubValues struct {
	topic, payload string
	retain         bool
	qos            string
	confirm        bool
}

// New returns the view; cfg nil means no broker is configured.
func New(c common.Common, ctx context.Context, cfg *Config) *Model {
	return &Model{Common: c, ctx: ctx, cfg: cfg, notify: make(chan struct{}, 1),
		known: map[string]bool{}, retainedHere: map[string]bool{}, cleared: map[string]bool{}}
}

// Configured reports whether the view has a broker to watch.
func (m *Model) Configured() bool { return m.cfg != nil && (m.cfg.Viewer != nil || m.cfg.Open != nil) }

// Source is the connection (nil before it is made).
func (m *Model) Source() Source { return m.viewer }

// Refreshes counts how often the view read the store (benchmarks).
func (m *Model) Refreshes() int { return m.refreshN }

// Typing reports whether a dialog has the keyboard.
func (m *Model) Typing() bool { return m.dialog != dialogNone }

// Close ends the connection.
func (m *Model) Close() {
	if m.viewer != nil {
		m.viewer.Close()
	}
}

func (m *Model) wake() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Connect starts the connection unless it is made or being made.
func (m *Model) Connect() tea.Cmd {
	if !m.Configured() || m.connecting || m.viewer != nil {
		return nil
	}
	m.connecting, m.connErr = true, nil
	cfg, ctx, wake := m.cfg, m.ctx, m.wake
	return wrap(func() tea.Msg {
		if cfg.Open != nil {
			src, err := cfg.Open(ctx, wake)
			return connected{v: src, err: err}
		}
		vc, err := cfg.Viewer(ctx)
		if err != nil {
			return connected{err: err}
		}
		vc.OnMessage = func(mqttview.Message) { wake() }
		vc.OnState = func(mqttview.State) { wake() }
		v, err := mqttview.New(vc)
		if err != nil {
			return connected{err: err}
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := v.Connect(cctx); err != nil {
			v.Close()
			return connected{err: err}
		}
		filters := cfg.Filters
		if len(filters) == 0 {
			filters = []string{"#"}
		}
		if err := v.Subscribe(cctx, filters...); err != nil {
			v.Close()
			return connected{err: err}
		}
		return connected{v: v}
	})
}

// wait returns Changed once the store has news (after refreshEvery, so
// news coalesce) or after idleRefresh.
func (m *Model) wait() tea.Cmd {
	if m.waiting || m.viewer == nil {
		return nil
	}
	m.waiting = true
	ch, ctx := m.notify, m.ctx
	return wrap(func() tea.Msg {
		idle := time.NewTimer(idleRefresh)
		defer idle.Stop()
		select {
		case <-ch:
		case <-idle.C:
			return Changed{}
		case <-ctx.Done():
			return nil
		}
		t := time.NewTimer(refreshEvery)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
		return Changed{}
	})
}

// TakeEvents returns the timeline's news since the last call.
func (m *Model) TakeEvents() []Event {
	ev := m.events
	m.events = nil
	return ev
}

func (m *Model) record(sev decode.Severity, kind, text string) {
	m.events = append(m.events, Event{At: m.Now(), Severity: sev, Kind: kind, Text: text})
}

// Update handles the connection, the store's news, keys and dialogs.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if w, ok := msg.(Msg); ok {
		msg = w.msg
	}
	switch msg := msg.(type) {
	case connected:
		m.connecting = false
		if msg.err != nil {
			m.connErr = msg.err
			m.record(decode.Error, "failed", "topic viewer: "+mqttview.Explain(msg.err))
			return nil
		}
		m.viewer = msg.v
		st := msg.v.State()
		m.lastState = st.Status
		m.record(decode.Notice, "connected", "topic viewer connected to "+st.Broker+" as "+msg.v.ClientID())
		m.refresh()
		return m.wait()
	case Changed:
		m.waiting = false
		m.refresh()
		return m.wait()
	case published:
		switch {
		case msg.err != nil:
			m.note = msg.err.Error()
			m.record(decode.Error, "publish", "publish to "+value(msg.topic)+" failed: "+msg.err.Error())
		case msg.cleared:
			m.note = "cleared the retained message of " + value(msg.topic)
			m.record(decode.Notice, "clear", m.note)
			delete(m.retainedHere, msg.topic)
			delete(m.known, msg.topic)
			m.cleared[msg.topic] = true
		default:
			m.note = "published to " + value(msg.topic)
			if msg.retain {
				m.note += " (retained)"
				// An empty retained publish deletes the retained message.
				m.retainedHere[msg.topic] = msg.size > 0
			}
			m.record(decode.Notice, "publish", m.note)
		}
		m.refresh()
	case tea.KeyPressMsg:
		if m.dialog != dialogNone {
			if key.Matches(msg, m.Keys.Input.Cancel) {
				m.closeDialog("")
				return nil
			}
			return m.updateDialog(msg)
		}
		return m.updateKeys(msg)
	case tea.MouseWheelMsg:
		m.move(msg)
	default:
		if m.dialog != dialogNone {
			return m.updateDialog(msg)
		}
	}
	return nil
}

// refresh reads the store: the tree, the totals, the selected topic's
// detail, new topics and connection changes for the timeline.
func (m *Model) refresh() {
	v := m.viewer
	if v == nil {
		return
	}
	m.refreshN++
	st := v.State()
	if st.Status != m.lastState {
		sev := decode.Info
		switch st.Status {
		case mqttview.StatusConnected:
			sev = decode.Notice
		case mqttview.StatusDisconnected:
			sev = decode.Warning
		}
		text := "topic viewer " + string(st.Status)
		if st.Reason != "" {
			text += ": " + st.Reason
		}
		m.record(sev, string(st.Status), text)
		m.lastState = st.Status
	}
	store := v.Store()
	for t := range m.cleared {
		if st, ok := store.Topic(t); ok {
			if len(st.Payload) > 0 {
				delete(m.cleared, t) // news after the clear
			} else {
				store.Forget(t)
			}
		}
	}
	tree := store.Tree()
	m.totals = store.Totals()
	m.rows = m.rows[:0]
	var walk func(n *mqttview.Node, depth int)
	walk = func(n *mqttview.Node, depth int) {
		for _, c := range n.Children {
			m.rows = append(m.rows, row{depth: depth, node: c})
			if c.Stats != nil && !m.known[c.Path] {
				m.known[c.Path] = true
				m.record(decode.Info, "topic", fmt.Sprintf("new topic %s (%d bytes)", value(c.Path), len(c.Stats.Payload)))
			}
			walk(c, depth+1)
		}
	}
	walk(tree, 0)
	m.placeCursor()
	m.loadDetail()
}

// placeCursor keeps the selection on the same topic as the tree grows;
// with nothing selected it picks the first topic with messages.
func (m *Model) placeCursor() {
	if len(m.rows) == 0 {
		m.cursor = 0
		return
	}
	if m.sel == "" {
		for i, r := range m.rows {
			if r.node.Stats != nil {
				m.cursor, m.sel = i, r.node.Path
				return
			}
		}
	}
	for i, r := range m.rows {
		if r.node.Path == m.sel {
			m.cursor = i
			return
		}
	}
	m.cursor = min(m.cursor, len(m.rows)-1)
	m.sel = m.rows[m.cursor].node.Path
}

func (m *Model) loadDetail() {
	m.det = nil
	if m.viewer == nil || m.sel == "" {
		return
	}
	store := m.viewer.Store()
	st, ok := store.Topic(m.sel)
	if !ok {
		return
	}
	m.det = &detail{stats: st, history: store.History(m.sel), series: store.Series(m.sel), diff: store.LastDiff(m.sel)}
}

// SelectTopic selects a topic by name (tests, and the shell pointing at
// a board's telemetry); it reports whether the topic is in the tree.
func (m *Model) SelectTopic(name string) bool {
	for i, r := range m.rows {
		if r.node.Path == name {
			m.cursor, m.sel = i, name
			m.loadDetail()
			return true
		}
	}
	return false
}

// Selected is the selected topic ("" for none).
func (m *Model) Selected() string { return m.sel }

func (m *Model) move(msg tea.Msg) bool {
	s, ok := m.Keys.Topics.Step(msg, max(1, m.treeHeight()-1))
	if !ok || len(m.rows) == 0 {
		return ok
	}
	switch {
	case s.Top:
		m.cursor = 0
	case s.Bottom:
		m.cursor = len(m.rows) - 1
	default:
		m.cursor = min(max(m.cursor+s.Delta, 0), len(m.rows)-1)
	}
	m.sel = m.rows[m.cursor].node.Path
	m.loadDetail()
	return true
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	// A note answers the key before; the next key moves on from it.
	m.note = ""
	if m.move(msg) {
		return nil
	}
	k := m.Keys.Topics
	switch {
	case key.Matches(msg, k.Reconnect):
		if m.viewer == nil && !m.connecting {
			return m.Connect()
		}
	case key.Matches(msg, k.Raw):
		m.raw = !m.raw
	case key.Matches(msg, k.Publish):
		if m.viewer == nil {
			m.note = "not connected"
			return nil
		}
		return m.openPublish()
	case key.Matches(msg, k.Clear):
		if m.viewer == nil || m.det == nil {
			m.note = "select a topic first"
			return nil
		}
		return m.openClear()
	}
	return nil
}

func (m *Model) openPublish() tea.Cmd {
	m.pub = pubValues{topic: m.sel, qos: "1"}
	if m.det != nil {
		m.pub.payload = string(m.det.stats.Payload)
		if mqttview.Classify(m.det.stats.Payload) == mqttview.KindBinary {
			m.pub.payload = ""
		}
	}
	m.form = huh.NewForm(huh.NewGroup(
		huh.NewInput().Title("Topic").Value(&m.pub.topic).Validate(validTopic),
		huh.NewText().Title("Payload").Lines(4).Value(&m.pub.payload),
		huh.NewSelect[string]().Title("QoS").Inline(true).Options(huh.NewOption("0 at most once", "0"), huh.NewOption("1 at least once", "1")).Value(&m.pub.qos),
		huh.NewConfirm().Title("Retain?").Description("the broker keeps it for later subscribers").Value(&m.pub.retain),
	)).WithTheme(m.Styles.FormTheme()).WithShowHelp(false).WithKeyMap(formKeys())
	m.form.SubmitCmd, m.form.CancelCmd = nil, nil
	m.dialog = dialogPublish
	m.sizeForm()
	return m.form.Init()
}

// retained reports whether a topic is known to hold a retained message:
// it was delivered as retained (it was there when the viewer subscribed)
// or this view put it there.
func (m *Model) retained(st *mqttview.TopicStats) bool {
	return st.Retained || m.retainedHere[st.Topic]
}

func (m *Model) openClear() tea.Cmd {
	m.pub = pubValues{topic: m.sel, confirm: false}
	// A retained message published while the viewer was subscribed
	// arrives unmarked, so an unknown one is not ruled out: say so.
	desc := "an empty retained publish: the broker forgets the retained message"
	if !m.retained(&m.det.stats) {
		desc = "no retained message was seen here (one published while the viewer was connected arrives unmarked); clearing is harmless if there is none"
	}
	m.form = huh.NewForm(huh.NewGroup(
		huh.NewConfirm().Title("Clear the retained message of " + value(m.sel) + "?").
			Description(desc).Affirmative("Clear").Negative("Keep").Value(&m.pub.confirm),
	)).WithTheme(m.Styles.FormTheme()).WithShowHelp(false).WithKeyMap(formKeys())
	m.form.SubmitCmd, m.form.CancelCmd = nil, nil
	m.dialog = dialogClear
	m.sizeForm()
	return m.form.Init()
}

// validTopic refuses in the dialog what the broker would refuse (the
// same check the viewer makes before sending), so the operator fixes it
// while the text is still in front of them.
func validTopic(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return fmt.Errorf("type the topic to publish to, e.g. iotbench/<thing>/command")
	}
	return topic.ValidName(s)
}

func formKeys() *huh.KeyMap {
	k := huh.NewDefaultKeyMap()
	k.Quit = key.NewBinding(key.WithDisabled())
	return k
}

func (m *Model) closeDialog(note string) {
	m.dialog, m.form, m.note = dialogNone, nil, note
}

func (m *Model) updateDialog(msg tea.Msg) tea.Cmd {
	f, cmd := m.form.Update(msg)
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	switch m.form.State {
	case huh.StateCompleted:
		d, p := m.dialog, m.pub
		m.closeDialog("")
		v, ctx := m.viewer, m.ctx
		if d == dialogClear {
			if !p.confirm {
				return nil
			}
			m.note = "clearing…"
			return wrap(func() tea.Msg {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				return published{topic: p.topic, cleared: true, err: v.ClearRetained(cctx, p.topic)}
			})
		}
		m.note = "publishing…"
		qos := byte(0)
		if p.qos == "1" {
			qos = 1
		}
		topic := strings.TrimSpace(p.topic)
		return wrap(func() tea.Msg {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return published{topic: topic, retain: p.retain, size: len(p.payload), err: v.Publish(cctx, topic, []byte(p.payload), qos, p.retain)}
		})
	case huh.StateAborted:
		m.closeDialog("")
		return nil
	}
	return cmd
}

// SetSize resizes the view and an open dialog.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	m.sizeForm()
}

func (m *Model) sizeForm() {
	if m.form != nil {
		// The form's own footer (a blank line and the validation error,
		// wrapped) goes below its fields: leave it room between the
		// header and the note, or the error is cut off.
		m.form.WithWidth(max(20, m.Width-2)).WithHeight(max(5, m.Height-6))
		// Huh lays its fields out again only in Update: a resize while
		// the dialog is open would keep the old width until a key.
		m.form.Update(tea.WindowSizeMsg{Width: m.Width, Height: m.Height})
	}
}

// ShortHelp lists the view's main keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	if m.dialog != dialogNone && m.form != nil {
		return append(m.form.KeyBinds(), m.Keys.Input.Cancel)
	}
	k := m.Keys.Topics
	if m.viewer == nil {
		return []key.Binding{k.Reconnect}
	}
	return []key.Binding{k.Up, k.Down, k.Publish, k.Clear, k.Raw}
}

// FullHelp lists every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.Keys.Topics
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Publish, k.Clear, k.Raw, k.Reconnect}}
}

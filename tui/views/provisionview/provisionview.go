// Package provisionview owns the Provision view: the wizard (a Huh form:
// cloud — the local cloud, or AWS with a profile and region —, thing name
// defaulting to the board's MAC, Wi-Fi with the password in a password
// field, sensors, and a preview of the device policy with the
// evaluator's "allowed: connect as X, publish to Y"), then the pipeline's
// run with each step's status, duration and the flash bar, and the
// verdict. The run itself is the device's (tui/device), which gives the
// board's port to the pipeline; this view only renders its events.
package provisionview

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
)

// Cloud is one place the wizard can provision into.
type Cloud struct {
	// Kind is "local" or "aws".
	Kind  string
	Label string
	// Open returns the cloud for one run. It runs in the run's command
	// (an AWS client is made there, for the profile and region typed).
	Open func(ctx context.Context, p CloudParams) (provision.Cloud, error)
	// Scope renders the policy preview. For AWS the account is only known
	// once the credentials are asked; the preview names it "<account>".
	Scope policy.Scope
}

// CloudParams are what the wizard asks for a cloud (AWS only).
type CloudParams struct {
	Profile, Region string
}

// Defaults pre-fill the wizard.
type Defaults struct {
	Cloud           string // a Cloud's Kind
	Thing           string // "" = from the MAC
	SSID, Password  string
	Sensors         []firmware.SensorType
	Profile, Region string
}

// Config is what the Provision view needs from the program.
type Config struct {
	// Options are the pipeline's (ledger, layout, application image,
	// timeouts); the wizard sets Cloud, Thing, WiFi and Sensors.
	Options  provision.Options
	Clouds   []Cloud
	Defaults Defaults
	// Auto runs the pipeline with Defaults as soon as a board is there,
	// without the form (the demo).
	Auto bool
}

// Actions are what the view asks of the board; *device.Device has them.
type Actions interface {
	Provision(j device.ProvisionJob) tea.Cmd
	Cancel()
}

type stage int

const (
	stageIdle stage = iota
	stageForm
	stageRunning
	stageDone
)

// Step status marks, so that a step's state reads without colour.
type status int

const (
	pending status = iota
	running
	done
	skipped
	failed
)

type stepState struct {
	status     status
	start, end time.Time
	msg        string
}

// values are the wizard's answers.
type values struct {
	cloud           string
	profile, region string
	thing           string
	ssid, password  string
	sensors         []string
	dhtPin, pmsPin  string
	confirm         bool
	// rows is the view's height, for the preview's length (a binding
	// of the preview, so a resize renders it again).
	rows int
}

// Model is one board's Provision view.
type Model struct {
	common.Common
	id  common.BoardID
	cfg *Config
	act Actions

	chip, mac string // what is known of the board (for the default thing)
	stage     stage
	form      *huh.Form
	// v is written by the form (in Update) and read by the policy
	// preview, which Huh computes in a command, off the Update goroutine:
	// vmu orders the two.
	vmu sync.Mutex
	v   values

	steps      map[provision.StepID]*stepState
	flashDone  int64
	flashTotal int64
	last       string // the newest progress or evidence line
	started    time.Time
	result     *provision.Result
	err        error
	canceled   bool
	note       string
}

// New returns the view; cfg nil means provisioning is not set up (the
// view says how to set it up).
func New(c common.Common, id common.BoardID, cfg *Config, act Actions) *Model {
	m := &Model{Common: c, id: id, cfg: cfg, act: act}
	if cfg != nil {
		d := cfg.Defaults
		m.v = values{cloud: d.Cloud, profile: d.Profile, region: d.Region, thing: d.Thing, ssid: d.SSID, password: d.Password}
		for _, s := range d.Sensors {
			m.v.sensors = append(m.v.sensors, string(s))
		}
		if m.v.cloud == "" && len(cfg.Clouds) > 0 {
			m.v.cloud = cfg.Clouds[0].Kind
		}
	}
	return m
}

// SetBoard tells the view the chip and MAC (aa:bb:cc:dd:ee:ff), from
// which the default thing name comes.
func (m *Model) SetBoard(chip, mac string) {
	m.chip, m.mac = chip, mac
}

// DefaultThing is the thing name the pipeline would choose from the MAC,
// "" while the MAC is unknown.
func (m *Model) DefaultThing() string {
	hw, err := parseMAC(m.mac)
	if err != nil {
		return ""
	}
	chip := m.chip
	if chip == "" || strings.HasPrefix(strings.ToUpper(chip), "ESP8266") {
		chip = "ESP8266"
	}
	return provision.DefaultThingName(chip, hw)
}

func parseMAC(s string) ([6]byte, error) {
	var b [6]byte
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return b, fmt.Errorf("not a MAC: %q", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return b, err
		}
		b[i] = byte(v)
	}
	return b, nil
}

// Typing reports whether the form has the keyboard.
func (m *Model) Typing() bool { return m.stage == stageForm }

// Running reports whether a run is under way.
func (m *Model) Running() bool { return m.stage == stageRunning }

// Result is the last run's result (nil before one ended).
func (m *Model) Result() *provision.Result { return m.result }

func (m *Model) cloud(kind string) *Cloud {
	if m.cfg == nil {
		return nil
	}
	for i := range m.cfg.Clouds {
		if m.cfg.Clouds[i].Kind == kind {
			return &m.cfg.Clouds[i]
		}
	}
	return nil
}

// AutoStart runs the pipeline with the defaults (Config.Auto).
func (m *Model) AutoStart() tea.Cmd {
	if m.cfg == nil || m.stage == stageRunning {
		return nil
	}
	return m.start()
}

// Update handles keys, the form's own messages and the run's progress.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case device.ProvisionProgress:
		if !msg.Examine {
			for _, e := range msg.Events {
				m.event(e)
			}
		}
		return nil
	case device.ProvisionDone:
		if !msg.Examine {
			m.finish(msg)
		}
		return nil
	case tea.KeyPressMsg:
		if m.stage == stageForm {
			if key.Matches(msg, m.Keys.Input.Cancel) {
				m.closeForm("wizard cancelled: nothing was changed")
				return nil
			}
			return m.updateForm(msg)
		}
		return m.updateKeys(msg)
	default:
		// Huh's own messages (next field, next group, cursor) while the
		// form is open.
		if m.stage == stageForm {
			return m.updateForm(msg)
		}
	}
	return nil
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	k := m.Keys.Provision
	switch {
	case m.stage == stageRunning && key.Matches(msg, k.Cancel):
		if !m.canceled {
			m.canceled = true
			m.act.Cancel()
			m.note = "cancelling: waiting for the pipeline to let go of the port…"
		}
	case m.stage == stageRunning:
	case key.Matches(msg, k.Start):
		if m.cfg == nil || len(m.cfg.Clouds) == 0 {
			return nil
		}
		return m.openForm()
	case key.Matches(msg, k.Doctor) && m.result != nil:
		return common.Show(m.id, common.ShowView{View: common.ViewDoctor})
	}
	return nil
}

func (m *Model) closeForm(note string) {
	m.form = nil
	m.note = note
	if m.result != nil || m.err != nil {
		m.stage = stageDone
	} else {
		m.stage = stageIdle
	}
}

func (m *Model) updateForm(msg tea.Msg) tea.Cmd {
	m.vmu.Lock()
	f, cmd := m.form.Update(msg)
	m.vmu.Unlock()
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	switch m.form.State {
	case huh.StateCompleted:
		if !m.v.confirm {
			m.closeForm("not provisioned: answer yes on the last page to run the pipeline")
			return nil
		}
		m.form = nil
		return m.start()
	case huh.StateAborted:
		m.closeForm("wizard cancelled: nothing was changed")
		return nil
	}
	return cmd
}

var thingRE = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)

func validThing(s string) error {
	if s == "" || thingRE.MatchString(s) {
		return nil
	}
	return fmt.Errorf("letters, digits, _ : - only (at most 128)")
}

func validSSID(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("the board needs a Wi-Fi network to reach the cloud")
	case len(s) > 32:
		return fmt.Errorf("an SSID is at most 32 bytes")
	}
	return nil
}

func validPassword(s string) error {
	if s != "" && (len(s) < 8 || len(s) > 63) {
		return fmt.Errorf("WPA2 passwords are 8 to 63 characters (empty for an open network)")
	}
	return nil
}

func validPin(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 16 {
		return fmt.Errorf("a GPIO number, 0 to 16 on the ESP8266")
	}
	return nil
}

func (m *Model) has(sensor firmware.SensorType) bool {
	for _, s := range m.v.sensors {
		if s == string(sensor) {
			return true
		}
	}
	return false
}

// The wizard's fields by key (Field reports which one has the focus).
const (
	fieldCloud    = "cloud"
	fieldProfile  = "aws-profile"
	fieldRegion   = "aws-region"
	fieldThing    = "thing"
	fieldSSID     = "wifi-ssid"
	fieldPassword = "wifi-password"
	fieldSensors  = "sensors"
	fieldDHTPin   = "dht22-pin"
	fieldPMSPin   = "pms5003-pin"
	fieldConfirm  = "confirm"
)

// Field is the key of the wizard's field that has the focus ("" when the
// wizard is not open).
func (m *Model) Field() string {
	if m.stage != stageForm || m.form == nil {
		return ""
	}
	if f := m.form.GetFocusedField(); f != nil {
		return f.GetKey()
	}
	return ""
}

// openForm builds the wizard with the current answers.
func (m *Model) openForm() tea.Cmd {
	m.note = ""
	m.vmu.Lock()
	if m.v.thing == "" {
		m.v.thing = m.DefaultThing()
	}
	m.v.confirm = true
	m.vmu.Unlock()
	var clouds []huh.Option[string]
	for _, c := range m.cfg.Clouds {
		clouds = append(clouds, huh.NewOption(c.Label, c.Kind))
	}
	var sensors []huh.Option[string]
	for _, t := range firmware.SensorTypes {
		sensors = append(sensors, huh.NewOption(string(t), string(t)).Selected(m.has(t)))
	}
	thingHelp := "default: from the MAC"
	if d := m.DefaultThing(); d != "" {
		thingHelp = "default from the MAC: " + d
	} else {
		thingHelp = "empty: from the MAC (esp8266-xxxxxx), read when the pipeline connects"
	}
	notAWS := func() bool { return m.v.cloud != "aws" }
	f := huh.NewForm(
		huh.NewGroup(
			huh.NewSelect[string]().Key(fieldCloud).Title("Cloud").Description("where the thing, its certificate and policy live").
				Options(clouds...).Value(&m.v.cloud),
		),
		huh.NewGroup(
			huh.NewInput().Key(fieldProfile).Title("AWS profile").Description("from ~/.aws/config; empty: $AWS_PROFILE or the default chain").Value(&m.v.profile),
			huh.NewInput().Key(fieldRegion).Title("AWS region").Description("e.g. eu-west-1; empty: $AWS_REGION or the profile's").Value(&m.v.region),
		).WithHideFunc(notAWS),
		huh.NewGroup(
			huh.NewInput().Key(fieldThing).Title("Thing name").Description(thingHelp).Value(&m.v.thing).Validate(validThing),
			huh.NewInput().Key(fieldSSID).Title("Wi-Fi network (SSID)").Value(&m.v.ssid).Validate(validSSID),
			huh.NewInput().Key(fieldPassword).Title("Wi-Fi password").Description("stored only in the board's config.json").
				EchoMode(huh.EchoModePassword).Value(&m.v.password).Validate(validPassword),
		),
		huh.NewGroup(
			huh.NewMultiSelect[string]().Key(fieldSensors).Title("Sensors").Description("none selected: the fake sensor (bench tests)").
				Options(sensors...).Value(&m.v.sensors),
		),
		huh.NewGroup(
			huh.NewInput().Key(fieldDHTPin).Title("DHT22 data GPIO").Value(&m.v.dhtPin).Validate(validPin),
		).WithHideFunc(func() bool { return !m.has(firmware.SensorDHT22) }),
		huh.NewGroup(
			huh.NewInput().Key(fieldPMSPin).Title("PMS5003 RX GPIO").Value(&m.v.pmsPin).Validate(validPin),
		).WithHideFunc(func() bool { return !m.has(firmware.SensorPMS5003) }),
		huh.NewGroup(
			huh.NewNote().Title("Policy preview").DescriptionFunc(m.previewText, &m.v),
			huh.NewConfirm().Key(fieldConfirm).Title("Provision now?").Description("identity, files, flash, reset, boot, first publish").
				Affirmative("Provision").Negative("Not now").Value(&m.v.confirm),
		),
	).WithTheme(m.Styles.FormTheme()).WithShowHelp(false).WithShowErrors(false).WithKeyMap(formKeys())
	f.SubmitCmd, f.CancelCmd = nil, nil
	m.form = f
	m.stage = stageForm
	m.sizeForm()
	return f.Init()
}

// The form shows neither its help nor its errors: its keys are in the
// shell's footer (ShortHelp), and a field's error is the view's last row
// (Huh would add rows below the height it was given).

// formKeys is Huh's key map without its own quit (the shell owns ctrl+c;
// esc leaves the wizard).
func formKeys() *huh.KeyMap {
	k := huh.NewDefaultKeyMap()
	k.Quit = key.NewBinding(key.WithDisabled())
	return k
}

func (m *Model) previewText() string {
	m.vmu.Lock()
	kind, region, thing, rows := m.v.cloud, strings.TrimSpace(m.v.region), strings.TrimSpace(m.v.thing), m.v.rows
	m.vmu.Unlock()
	c := m.cloud(kind)
	if c == nil {
		return ""
	}
	scope := c.Scope
	if c.Kind == "aws" && region != "" {
		scope.Region = region
	}
	if thing == "" {
		thing = "esp8266-xxxxxx"
	}
	p := PolicyPreview(scope, thing)
	lines := p.Lines()
	if rows < fullPreviewRows {
		lines = p.Summary()
	}
	if c.Kind == "aws" {
		lines = append(lines, "(the account is filled in when the credentials are asked)")
	}
	return strings.Join(lines, "\n")
}

// SetSize resizes the view and the form.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	m.vmu.Lock()
	m.v.rows = h
	m.vmu.Unlock()
	m.sizeForm()
}

// fullPreviewRows is the view height from which the preview lists the
// policy's statements and a line per verdict; below it the verdicts are
// two sentences, so that they and the confirmation fit an 80×24
// terminal.
const fullPreviewRows = 30

func (m *Model) sizeForm() {
	if m.form != nil {
		m.form.WithWidth(max(20, m.Width-2)).WithHeight(max(5, m.Height-2))
	}
}

// job turns the answers into a run.
func (m *Model) job() (device.ProvisionJob, error) {
	c := m.cloud(m.v.cloud)
	if c == nil {
		return device.ProvisionJob{}, fmt.Errorf("no cloud %q is set up", m.v.cloud)
	}
	o := m.cfg.Options
	if t := strings.TrimSpace(m.v.thing); t != "" && t != m.DefaultThing() {
		o.Thing = t
	}
	o.WiFi = firmware.WiFi{SSID: m.v.ssid, Password: m.v.password}
	interval := o.PublishIntervalS
	if interval == 0 {
		interval = 10
	}
	o.Sensors = nil
	for _, s := range m.v.sensors {
		sn := firmware.Sensor{Type: firmware.SensorType(s), Name: s, Pin: -1, IntervalS: interval}
		switch sn.Type {
		case firmware.SensorDHT22:
			sn.Pin, _ = strconv.Atoi(strings.TrimSpace(m.v.dhtPin))
		case firmware.SensorPMS5003:
			sn.Pin, _ = strconv.Atoi(strings.TrimSpace(m.v.pmsPin))
		}
		o.Sensors = append(o.Sensors, sn)
	}
	params := CloudParams{Profile: strings.TrimSpace(m.v.profile), Region: strings.TrimSpace(m.v.region)}
	open := c.Open
	return device.ProvisionJob{Options: o, Cloud: func(ctx context.Context) (provision.Cloud, error) { return open(ctx, params) }}, nil
}

func (m *Model) start() tea.Cmd {
	j, err := m.job()
	if err != nil {
		m.stage, m.err = stageDone, err
		return nil
	}
	m.stage = stageRunning
	m.steps = map[provision.StepID]*stepState{}
	m.flashDone, m.flashTotal = 0, 0
	m.result, m.err, m.canceled, m.note = nil, nil, false, ""
	m.started = m.Now()
	m.last = "taking the port from the monitor…"
	return common.ForBoard(m.id, m.act.Provision(j))
}

func (m *Model) step(id provision.StepID) *stepState {
	s := m.steps[id]
	if s == nil {
		s = &stepState{}
		m.steps[id] = s
	}
	return s
}

func (m *Model) event(e provision.Event) {
	if m.steps == nil {
		m.steps = map[provision.StepID]*stepState{}
	}
	s := m.step(e.Step)
	switch e.Kind {
	case provision.KindStart:
		s.status, s.start, s.end = running, e.At, time.Time{}
		if e.Message != "" {
			m.last = e.Message
		}
	case provision.KindProgress:
		if e.Total > 0 {
			m.flashDone, m.flashTotal = e.Done, e.Total
		} else if e.Message != "" {
			m.last = e.Message
		}
	case provision.KindEvidence:
		m.last = "board: " + e.Message
	case provision.KindDone, provision.KindSkipped:
		s.status = done
		if e.Kind == provision.KindSkipped {
			s.status = skipped
		}
		s.end, s.msg = e.At, e.Message
		if e.Step == provision.StepFlash && m.flashTotal > 0 {
			m.flashDone = m.flashTotal
		}
	case provision.KindFailed:
		s.status, s.end, s.msg = failed, e.At, e.Message
		if e.Finding != nil {
			s.msg = e.Finding.Summary
		}
	case provision.KindVerified:
		m.last = e.Message
	}
}

func (m *Model) finish(d device.ProvisionDone) {
	m.stage = stageDone
	m.result, m.err, m.canceled = d.Result, d.Err, d.Canceled
	m.note = ""
	if d.Result != nil {
		// Steps that ended without an event of their own (the run stopped).
		for _, sr := range d.Result.Steps {
			s := m.step(sr.Step)
			if s.status == running || s.status == pending {
				switch sr.Status {
				case provision.KindFailed:
					s.status = failed
				case provision.KindSkipped:
					s.status = skipped
				default:
					s.status = done
				}
				s.msg = sr.Message
			}
		}
	}
	for _, s := range m.steps {
		if s.status == running {
			s.status = failed
			if s.end.IsZero() {
				s.end = m.Now()
			}
		}
	}
}

// Verdict is the run's outcome in one line, "" before one ended.
func (m *Model) Verdict() string {
	switch {
	case m.stage != stageDone:
		return ""
	case m.err != nil:
		return "could not start: " + m.err.Error()
	case m.result == nil:
		return ""
	case m.result.Verified:
		return fmt.Sprintf("verified: %s published on %s", m.result.Thing, m.result.Topic)
	case m.canceled:
		return "cancelled: the board may hold a partial image; run the wizard again"
	}
	if top := m.topFinding(); top != nil {
		return "not verified: " + top.Summary
	}
	return "not verified: " + m.result.Error
}

func (m *Model) topFinding() *doctor.Finding {
	if m.result == nil || m.result.Report == nil {
		return nil
	}
	return m.result.Report.Top()
}

// ShortHelp lists the view's main keys for the footer.
func (m *Model) ShortHelp() []key.Binding {
	k := m.Keys.Provision
	switch m.stage {
	case stageForm:
		if m.form != nil {
			return append(m.form.KeyBinds(), m.Keys.Input.Cancel)
		}
	case stageRunning:
		return []key.Binding{k.Cancel}
	case stageDone:
		start := k.Start
		start.SetHelp("enter", "run the wizard again")
		if m.result != nil {
			return []key.Binding{start, k.Doctor}
		}
		return []key.Binding{start}
	}
	if m.cfg == nil || len(m.cfg.Clouds) == 0 {
		return nil
	}
	return []key.Binding{k.Start}
}

// FullHelp lists every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{m.ShortHelp()}
}

// ExamineJob is a doctor's run on this board with the wizard's cloud
// (provision.Examine: reset, boot log, the thing's topic; nothing
// written). ok is false when provisioning is not set up.
func (m *Model) ExamineJob() (j device.ProvisionJob, ok bool) {
	if m.cfg == nil || len(m.cfg.Clouds) == 0 {
		return j, false
	}
	j, err := m.job()
	if err != nil {
		return j, false
	}
	j.Examine = true
	return j, true
}

package provisionview

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

const (
	testMAC   = "18:fe:34:a1:b2:c3"
	testThing = "esp8266-a1b2c3"
	secret    = "s3cret-Pass-42"
)

// fakeActions records the runs the view asks for; the runs themselves
// are the device's (tested in tui/device and the flow tests).
type fakeActions struct {
	mu       sync.Mutex
	jobs     []device.ProvisionJob
	canceled int
}

func (f *fakeActions) Provision(j device.ProvisionJob) tea.Cmd {
	f.mu.Lock()
	f.jobs = append(f.jobs, j)
	f.mu.Unlock()
	return func() tea.Msg { return nil }
}

func (f *fakeActions) Cancel() {
	f.mu.Lock()
	f.canceled++
	f.mu.Unlock()
}

func (f *fakeActions) Jobs() []device.ProvisionJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]device.ProvisionJob(nil), f.jobs...)
}

// opened records the cloud parameters a job's Cloud was opened with.
type opened struct {
	mu     sync.Mutex
	params []CloudParams
}

func (o *opened) open(kind string) func(context.Context, CloudParams) (provision.Cloud, error) {
	return func(_ context.Context, p CloudParams) (provision.Cloud, error) {
		o.mu.Lock()
		o.params = append(o.params, p)
		o.mu.Unlock()
		return nil, errors.New("test cloud " + kind)
	}
}

func testConfig(op *opened, clouds ...string) *Config {
	cfg := &Config{Options: provision.Options{Layout: "4M2M", PublishIntervalS: 30}}
	for _, k := range clouds {
		c := Cloud{Kind: k, Label: k + " cloud (test)", Scope: localcloud.Scope, Open: op.open(k)}
		if k == "aws" {
			c.Scope = policy.Scope{Region: "<region>", Account: "<account>"}
		}
		cfg.Clouds = append(cfg.Clouds, c)
	}
	return cfg
}

func newModel(cfg *Config) (*Model, *fakeActions) {
	act := &fakeActions{}
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	m := New(c, 3, cfg, act)
	m.SetBoard("ESP8266", testMAC)
	m.SetSize(90, 40)
	return m, act
}

// host runs the view in a Bubble Tea program (teatest) as the shell
// would: Huh's own messages go through the runtime. After every message
// it keeps what the test may look at, so the test synchronises on what
// the user would see, with a deadline, never on sleeps.
type host struct {
	m *Model

	mu     sync.Mutex
	screen string
	field  string
	stage  stage
	frames []string // every screen shown
	shown  []common.ShowView
	wake   chan struct{}
}

func (h *host) Init() tea.Cmd { return nil }

func (h *host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	var show *common.ShowView
	switch msg := msg.(type) {
	case common.BoardMsg:
		if sv, ok := msg.Msg.(common.ShowView); ok {
			show = &sv
		}
	case tea.WindowSizeMsg:
		h.m.SetSize(msg.Width, msg.Height)
	default:
		cmd = h.m.Update(msg)
	}
	s := ansi.Strip(h.m.View())
	h.mu.Lock()
	h.screen, h.field, h.stage = s, h.m.Field(), h.m.stage
	h.frames = append(h.frames, s)
	if show != nil {
		h.shown = append(h.shown, *show)
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return h, cmd
}

func (h *host) View() tea.View { return tea.NewView(h.m.View()) }

type wizard struct {
	*host
	tm  *teatest.TestModel
	act *fakeActions
}

func startWizard(t *testing.T, cfg *Config) *wizard {
	t.Helper()
	m, act := newModel(cfg)
	h := &host{m: m, wake: make(chan struct{}, 1)}
	tm := teatest.NewTestModel(t, h, teatest.WithInitialTermSize(90, 40))
	t.Cleanup(func() {
		tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})
	return &wizard{host: h, tm: tm, act: act}
}

func (w *wizard) press(ks ...string) {
	for _, k := range ks {
		w.tm.Send(keytest.Press(k))
	}
}

// until waits for cond on the host's state (the lock held).
func (w *wizard) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		ok, s := cond(), w.screen
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; field %q, screen:\n%s", what, w.field, s)
		}
	}
}

// at waits until the field with key has the focus.
func (w *wizard) at(t *testing.T, key string) {
	t.Helper()
	w.until(t, "field "+key, func() bool { return w.field == key })
}

func (w *wizard) text(t *testing.T, text string) string {
	t.Helper()
	w.until(t, "“"+text+"”", func() bool { return strings.Contains(w.screen, text) })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.screen
}

// openNetworkNoSensors answers from the SSID to the last page: an open
// network, no sensors.
func (w *wizard) openNetworkNoSensors(t *testing.T) {
	t.Helper()
	w.at(t, fieldSSID)
	w.tm.Type("bench-net")
	w.press("enter", "enter")
	w.at(t, fieldSensors)
	w.press("enter")
	w.at(t, fieldConfirm)
}

// noSecret fails if any screen ever shown holds the password.
func (w *wizard) noSecret(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.frames {
		if strings.Contains(f, secret) {
			t.Fatalf("frame %d shows the Wi-Fi password:\n%s", i, f)
		}
	}
	if len(w.frames) < 10 {
		t.Fatalf("only %d frames were looked at", len(w.frames))
	}
}

// The wizard by keys: cloud, the thing name from the MAC, Wi-Fi with the
// password masked, a sensor with its pin, the evaluator's preview, and
// the run it asks the device for.
func TestWizardToJob(t *testing.T) {
	op := &opened{}
	w := startWizard(t, testConfig(op, "local", "aws"))
	w.text(t, "This board's default thing name: "+testThing)
	w.press("enter")
	w.at(t, fieldCloud)
	w.text(t, "local cloud (test)")
	w.press("enter")

	w.at(t, fieldThing)
	s := w.text(t, "default from the MAC: "+testThing)
	if !strings.Contains(s, "> "+testThing) {
		t.Errorf("the thing name is not pre-filled from the MAC:\n%s", s)
	}
	w.press("enter")
	w.at(t, fieldSSID)
	// An empty SSID is refused with the reason.
	w.press("enter")
	w.text(t, "the board needs a Wi-Fi network to reach the cloud")
	w.at(t, fieldSSID)
	w.tm.Type("bench-net")
	w.press("enter")
	w.at(t, fieldPassword)
	w.tm.Type("short")
	w.press("enter")
	w.text(t, "WPA2 passwords are 8 to 63 characters")
	for range "short" {
		w.press("backspace")
	}
	w.tm.Type(secret)
	s = w.text(t, "> "+strings.Repeat("*", len(secret)))
	w.press("enter")

	w.at(t, fieldSensors)
	// dht22 is the third sensor type.
	if firmware.SensorTypes[2] != firmware.SensorDHT22 {
		t.Fatalf("sensor order changed: %v", firmware.SensorTypes)
	}
	w.press("down", "down", "x", "enter")
	w.at(t, fieldDHTPin)
	w.tm.Type("17")
	w.press("enter")
	w.text(t, "a GPIO number, 0 to 16 on the ESP8266")
	w.press("backspace", "backspace")
	w.tm.Type("4")
	w.press("enter")

	w.at(t, fieldConfirm)
	s = w.text(t, "The evaluator says:")
	for _, want := range []string{
		"✓ allowed: connect as " + testThing,
		"✓ allowed: publish to iotbench/" + testThing + "/telemetry",
		"✗ denied:  connect as esp8266-000000 (another client id)",
		"Provision now?",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the preview lacks %q:\n%s", want, s)
		}
	}
	w.press("enter")
	w.until(t, "the run", func() bool { return w.stage == stageRunning })
	w.text(t, "◐ running")

	jobs := w.act.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d runs asked for, want 1", len(jobs))
	}
	j := jobs[0]
	if j.Examine {
		t.Error("the wizard asked for an examination")
	}
	o := j.Options
	if o.Thing != "" {
		t.Errorf("thing %q: the default name is the pipeline's (from the MAC it reads)", o.Thing)
	}
	if o.WiFi != (firmware.WiFi{SSID: "bench-net", Password: secret}) {
		t.Errorf("wifi %+v", o.WiFi)
	}
	if len(o.Sensors) != 1 || o.Sensors[0] != (firmware.Sensor{Type: firmware.SensorDHT22, Name: "dht22", Pin: 4, IntervalS: 30}) {
		t.Errorf("sensors %+v", o.Sensors)
	}
	if o.Layout != "4M2M" {
		t.Errorf("the program's options were not kept: layout %q", o.Layout)
	}
	// The job opens the cloud chosen (local: no AWS parameters).
	if _, err := j.Cloud(context.Background()); err == nil || err.Error() != "test cloud local" {
		t.Errorf("opened %v", err)
	}
	w.noSecret(t)
}

// AWS: the profile and region are asked (and only for AWS), passed to the
// cloud's Open; a typed thing name is the run's.
func TestWizardAWS(t *testing.T) {
	op := &opened{}
	w := startWizard(t, testConfig(op, "local", "aws"))
	w.press("enter")
	w.at(t, fieldCloud)
	w.press("down", "enter")
	w.at(t, fieldProfile)
	w.tm.Type("lab")
	w.press("enter")
	w.at(t, fieldRegion)
	w.tm.Type("eu-west-1")
	w.press("enter")
	w.at(t, fieldThing)
	for range testThing {
		w.press("backspace")
	}
	w.tm.Type("bad name!")
	w.press("enter")
	w.text(t, "letters, digits, _ : - only")
	for range "bad name!" {
		w.press("backspace")
	}
	w.tm.Type("lab-7")
	w.press("enter")
	w.openNetworkNoSensors(t)
	s := w.text(t, "✓ allowed: connect as lab-7")
	if !strings.Contains(s, "(the account is filled in when the credentials are asked)") {
		t.Errorf("AWS preview:\n%s", s)
	}
	w.press("enter")
	w.until(t, "the run", func() bool { return w.stage == stageRunning })
	j := w.act.Jobs()[0]
	if j.Options.Thing != "lab-7" || j.Options.WiFi.Password != "" || len(j.Options.Sensors) != 0 {
		t.Errorf("options %+v", j.Options)
	}
	j.Cloud(context.Background())
	op.mu.Lock()
	defer op.mu.Unlock()
	if len(op.params) != 1 || op.params[0] != (CloudParams{Profile: "lab", Region: "eu-west-1"}) {
		t.Errorf("AWS opened with %+v", op.params)
	}
}

// Leaving the wizard changes nothing: esc, or "Not now" on the last page.
func TestWizardCancel(t *testing.T) {
	w := startWizard(t, testConfig(&opened{}, "local"))
	w.press("enter")
	w.at(t, fieldCloud)
	w.press("esc")
	w.text(t, "wizard cancelled: nothing was changed")
	w.until(t, "idle", func() bool { return w.stage == stageIdle })

	// Again, to the last page, and decline.
	w.press("enter")
	w.at(t, fieldCloud)
	w.press("enter")
	w.at(t, fieldThing)
	w.press("enter")
	w.openNetworkNoSensors(t)
	w.press("left", "enter")
	w.text(t, "not provisioned: answer yes on the last page to run the pipeline")
	if n := len(w.act.Jobs()); n != 0 {
		t.Fatalf("%d runs started", n)
	}
}

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		f    func(string) error
		in   string
		good bool
	}{
		{validThing, "", true}, {validThing, "esp8266-a1b2c3", true}, {validThing, "lab:7_x", true},
		{validThing, "a b", false}, {validThing, strings.Repeat("a", 129), false},
		{validSSID, "x", true}, {validSSID, " ", false}, {validSSID, strings.Repeat("s", 33), false},
		{validPassword, "", true}, {validPassword, "12345678", true}, {validPassword, "1234567", false}, {validPassword, strings.Repeat("p", 64), false},
		{validPin, "0", true}, {validPin, " 16 ", true}, {validPin, "17", false}, {validPin, "-1", false}, {validPin, "D4", false},
	} {
		if err := c.f(c.in); (err == nil) != c.good {
			t.Errorf("%q: %v", c.in, err)
		}
	}
}

// The preview is the evaluator's verdict on the device policy: the board
// may connect as itself and publish to its own topics, and nothing else.
func TestPolicyPreview(t *testing.T) {
	p := PolicyPreview(localcloud.Scope, testThing)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	want := map[string]bool{
		"connect as " + testThing:                                   true,
		"publish to " + firmware.TelemetryTopic(testThing):          true,
		"publish to " + firmware.StatusTopic(testThing):             true,
		"subscribe to " + firmware.CommandTopic(testThing):          true,
		"connect as esp8266-000000 (another client id)":             false,
		"publish to " + firmware.TelemetryTopic("esp8266-000000"):   false,
		"retained publish to " + firmware.TelemetryTopic(testThing): false,
	}
	if len(p.Checks) != len(want) {
		t.Fatalf("%d checks: %+v", len(p.Checks), p.Checks)
	}
	for _, c := range p.Checks {
		allowed, ok := want[c.What]
		if !ok {
			t.Errorf("unexpected check %q", c.What)
			continue
		}
		if c.Allowed != allowed {
			t.Errorf("%s: allowed=%v (%s)", c.What, c.Allowed, c.Reason)
		}
		if c.Reason == "" {
			t.Errorf("%s: the evaluator gave no reason", c.What)
		}
	}
	lines := strings.Join(p.Lines(), "\n")
	for _, s := range []string{
		"Allow iot:Connect on client/<thing>",
		"✓ allowed: connect as " + testThing,
		"✗ denied:  retained publish to " + firmware.TelemetryTopic(testThing),
	} {
		if !strings.Contains(lines, s) {
			t.Errorf("no %q in\n%s", s, lines)
		}
	}
	sum := p.Summary()
	if len(sum) != 3 || !strings.HasPrefix(sum[1], "✓ allowed: connect as "+testThing+", publish to "+firmware.TelemetryTopic(testThing)+", ") ||
		!strings.HasPrefix(sum[2], "✗ denied: connect as esp8266-000000") {
		t.Errorf("summary %q", sum)
	}
	if strings.Contains(lines, localcloud.Scope.ARN("")) {
		t.Errorf("the ARN prefix is shown:\n%s", lines)
	}
	// The thing that is the "other" one gets another other.
	if otherThing("esp8266-000000") == "esp8266-000000" {
		t.Error("the other thing is the thing")
	}
}

// The pipeline's events drive the step list: durations from the events'
// times, the flash bar, and the verdict.
func TestRunRendering(t *testing.T) {
	m, act := newModel(testConfig(&opened{}, "local"))
	m.AutoStart()
	if len(act.Jobs()) != 1 || !m.Running() {
		t.Fatal("AutoStart did not start a run")
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(step provision.StepID, kind provision.Kind, ms int, msg string) provision.Event {
		return provision.Event{Step: step, Kind: kind, At: at(ms), Message: msg}
	}
	m.Update(device.ProvisionProgress{Events: []provision.Event{
		ev(provision.StepPort, provision.KindStart, 0, ""),
		ev(provision.StepPort, provision.KindDone, 100, "opened /dev/ttyUSB0"),
		ev(provision.StepChip, provision.KindStart, 100, ""),
		ev(provision.StepChip, provision.KindDone, 700, "ESP8266, MAC "+testMAC),
		ev(provision.StepIdentity, provision.KindStart, 700, ""),
		ev(provision.StepIdentity, provision.KindSkipped, 750, "thing "+testThing),
		ev(provision.StepFlash, provision.KindStart, 800, ""),
		{Step: provision.StepFlash, Kind: provision.KindProgress, Done: 512 << 10, Total: 1024 << 10, At: at(900)},
	}})
	s := ansi.Strip(m.View())
	for _, want := range []string{"◐ running", "✓ port       0.1s  opened /dev/ttyUSB0", "✓ chip       0.6s", "= identity   0.1s  already in place: thing " + testThing, " 50% 512/1024 KiB", "· publish"} {
		if !strings.Contains(s, want) {
			t.Errorf("running: no %q in\n%s", want, s)
		}
	}
	// Examinations are the doctor's: they do not touch this view.
	m.Update(device.ProvisionProgress{Examine: true, Events: []provision.Event{ev(provision.StepFlash, provision.KindFailed, 950, "examined")}})
	if strings.Contains(ansi.Strip(m.View()), "examined") {
		t.Error("an examination's event reached the Provision view")
	}
	// c cancels once.
	m.Update(keytest.Press("c"))
	m.Update(keytest.Press("c"))
	if act.canceled != 1 || !strings.Contains(ansi.Strip(m.View()), "cancelling") {
		t.Errorf("cancel: %d", act.canceled)
	}

	res := &provision.Result{Thing: testThing, Topic: firmware.TelemetryTopic(testThing), Verified: true, Elapsed: 1800 * time.Millisecond,
		Steps: []provision.StepResult{{Step: provision.StepFlash, Status: provision.KindDone, Message: "wrote 2 regions"}}}
	m.Update(device.ProvisionDone{Result: res})
	s = ansi.Strip(m.View())
	for _, want := range []string{"✓ verified", "thing " + testThing, "★ verified: " + testThing + " published on iotbench/" + testThing + "/telemetry", "in 1.8 s", "✓ flash", "wrote 2 regions"} {
		if !strings.Contains(s, want) {
			t.Errorf("verified: no %q in\n%s", want, s)
		}
	}
	if m.Verdict() != "verified: "+testThing+" published on iotbench/"+testThing+"/telemetry" {
		t.Errorf("verdict %q", m.Verdict())
	}
}

// A run that does not verify: the doctor's top finding and its fix, and
// d opens the Doctor view.
func TestRunNotVerified(t *testing.T) {
	m, _ := newModel(testConfig(&opened{}, "local"))
	m.AutoStart()
	rep := doctor.Diagnose(doctor.Input{
		Cloud: &doctor.CloudFacts{Cloud: "local", Thing: testThing, CertChecked: true, CertID: "abc", CertFound: true, CertStatus: "INACTIVE"},
		Lines: []doctor.Line{{At: t0, Text: "#IB tls ok=0 code=46 text=\"SSL received fatal alert\"", Baud: 115200}, {At: t0, Text: "#IB mqtt state=-2 connack=-1", Baud: 115200}},
	})
	top := rep.Top()
	if top == nil || top.Code != "cert.inactive" {
		t.Fatalf("the doctor's diagnosis changed: %+v", rep.Findings)
	}
	m.Update(device.ProvisionProgress{Events: []provision.Event{
		{Step: provision.StepPublish, Kind: provision.KindStart, At: t0},
		{Step: provision.StepPublish, Kind: provision.KindFailed, At: t0.Add(2 * time.Second), Finding: top},
	}})
	m.Update(device.ProvisionDone{Result: &provision.Result{Thing: testThing, Report: &rep, Error: "not seen"}})
	s := strings.Join(strings.Fields(ansi.Strip(m.View())), " ")
	for _, want := range []string{"✗ not verified", "✗ publish 2.0s " + top.Summary, "✗ not verified: " + top.Summary, "fix: " + top.Fix, "d opens the doctor"} {
		if !strings.Contains(s, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("no %q in\n%s", want, ansi.Strip(m.View()))
		}
	}
	cmd := m.Update(keytest.Press("d"))
	if cmd == nil {
		t.Fatal("d did nothing")
	}
	if msg, ok := cmd().(common.BoardMsg); !ok || msg.Board != 3 || msg.Msg.(common.ShowView).View != common.ViewDoctor {
		t.Fatalf("d: %#v", msg)
	}
}

// A run that could not start (the cloud would not open) says so and can
// be started again.
func TestRunCouldNotStart(t *testing.T) {
	m, _ := newModel(testConfig(&opened{}, "local"))
	m.AutoStart()
	m.Update(device.ProvisionDone{Err: errors.New("no AWS credentials: run aws configure")})
	s := ansi.Strip(m.View())
	if !strings.Contains(s, "■ could not start: no AWS credentials: run aws configure") {
		t.Fatalf("%s", s)
	}
	if cmd := m.Update(keytest.Press("enter")); cmd == nil || m.Field() != fieldCloud {
		t.Fatalf("enter did not open the wizard again (field %q)", m.Field())
	}
}

// Without provisioning set up the view says how to get it, and no key
// starts anything.
func TestNotSetUp(t *testing.T) {
	m, act := newModel(nil)
	if m.AutoStart() != nil || m.Update(keytest.Press("enter")) != nil || len(act.Jobs()) != 0 {
		t.Fatal("a run without a configuration")
	}
	if s := ansi.Strip(m.View()); !strings.Contains(s, "Provisioning is not set up in this session.") {
		t.Fatal(s)
	}
	if _, ok := m.ExamineJob(); ok {
		t.Fatal("an examination without a cloud")
	}
}

// The examination uses the wizard's answers, with Examine set.
func TestExamineJob(t *testing.T) {
	m, _ := newModel(testConfig(&opened{}, "local"))
	m.v.ssid, m.v.password = "bench-net", secret
	j, ok := m.ExamineJob()
	if !ok || !j.Examine || j.Options.WiFi.SSID != "bench-net" {
		t.Fatalf("%v %+v", ok, j)
	}
}

// No line is wider than the view, in every stage, at the narrowest view
// the shell gives (80 columns less the board list).
func TestWidths(t *testing.T) {
	for _, w := range []int{53, 89, 165} {
		m, _ := newModel(testConfig(&opened{}, "local", "aws"))
		m.SetSize(w, 22)
		check := func(stage string) {
			rows := strings.Split(m.View(), "\n")
			if len(rows) != 22 {
				t.Errorf("%d/%s: %d rows", w, stage, len(rows))
			}
			for i, r := range rows {
				if n := ansi.StringWidth(r); n > w {
					t.Errorf("%d/%s: row %d is %d wide: %q", w, stage, i, n, ansi.Strip(r))
				}
			}
		}
		check("idle")
		m.Update(keytest.Press("enter"))
		check("wizard")
		m.Update(keytest.Press("esc"))
		m.AutoStart()
		m.Update(device.ProvisionProgress{Events: []provision.Event{
			{Step: provision.StepFlash, Kind: provision.KindStart, At: t0},
			{Step: provision.StepFlash, Kind: provision.KindProgress, Done: 1, Total: 3, At: t0},
			{Step: provision.StepBoot, Kind: provision.KindEvidence, Message: strings.Repeat("a long line the board printed ", 10)},
		}})
		check("running")
		m.Update(device.ProvisionDone{Result: &provision.Result{Thing: testThing, Topic: strings.Repeat("t/", 90), Verified: true}})
		check("done")
	}
}

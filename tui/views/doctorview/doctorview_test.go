package doctorview

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/styles"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type fakeActions struct{ jobs []device.ProvisionJob }

func (f *fakeActions) Provision(j device.ProvisionJob) tea.Cmd {
	f.jobs = append(f.jobs, j)
	return func() tea.Msg { return nil }
}

func newView(examine ExamineJob) (*Model, *fakeActions) {
	act := &fakeActions{}
	c := common.New(styles.New(styles.DefaultTheme(), true), func() time.Time { return t0 })
	m := New(c, 2, act, examine)
	m.SetSize(100, 30)
	return m, act
}

// inactiveReport is the doctor's own report on a board whose certificate
// is INACTIVE: the TLS alert and the refused MQTT connect in the log, the
// certificate's status from the cloud, and a later finding (the publish
// never seen) ranked after it.
func inactiveReport(t *testing.T) *doctor.Report {
	t.Helper()
	log := []string{
		" ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
		`#IB boot app=iotbench-ref ver=0.1.0 core=3.1.2 chip=00a1b2c3 flash=4194304 reason=6 reason_s="External System"`,
		"#IB fs ok=1 files=config.json,cert.der,private.der,ca.der",
		"#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake",
		"#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6",
		"#IB ntp synced=1 epoch=1795600800 waited_ms=2310",
		`#IB tls ok=0 code=46 text="SSL received fatal alert - Decoding error: value is off-limits."`,
		"#IB mqtt state=-2 connack=-1",
	}
	var lines []doctor.Line
	for i, l := range log {
		lines = append(lines, doctor.Line{At: t0.Add(time.Duration(i) * 100 * time.Millisecond), Text: l, Baud: 115200})
	}
	seen := false
	r := doctor.Diagnose(doctor.Input{Lines: lines, Seen: &seen, Topic: "iotbench/esp8266-a1b2c3/telemetry",
		Cloud: &doctor.CloudFacts{Cloud: "local", Thing: "esp8266-a1b2c3", CertChecked: true, CertID: "abc", CertFound: true, CertStatus: "INACTIVE"}})
	if r.Top() == nil || r.Top().Code != "cert.inactive" || len(r.Findings) < 2 {
		t.Fatalf("the doctor's report changed: %+v", r.Findings)
	}
	return &r
}

func screen(m *Model) string { return ansi.Strip(m.View()) }

// The report reads in the doctor's order: the diagnosis first with its
// fix, each finding with its evidence lines, and the header's verdict.
func TestReportRendering(t *testing.T) {
	m, _ := newView(nil)
	r := inactiveReport(t)
	m.SetReport(r, "provisioning run 09:00:00")
	s := screen(m)
	top := r.Findings[0]
	for _, want := range []string{
		"Doctor · provisioning run 09:00:00 · " + itoa(len(r.Findings)) + " findings",
		"✗ needs a fix",
		"▸ 1. ✗ diagnosis: " + top.Summary[:40],
		top.StepName + " · cert.inactive · error",
		"fix: " + top.Fix[:40],
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	// Ranked: each finding after the one before it.
	pos := -1
	for i, f := range r.Findings {
		p := strings.Index(s, itoa(i+1)+". ")
		if p <= pos || !strings.Contains(s[p:], f.Summary[:min(30, len(f.Summary))]) {
			t.Errorf("finding %d (%s) out of order", i+1, f.Code)
		}
		pos = p
	}
	// Every piece of evidence, with its source and time.
	for _, e := range top.Evidence {
		want := string(e.Source)
		if !e.At.IsZero() {
			want += " " + e.At.Format("15:04:05.000")
		}
		if !strings.Contains(strings.Join(strings.Fields(s), " "), want+" "+strings.Join(strings.Fields(e.Text), " ")[:20]) {
			t.Errorf("evidence %q not shown as %q", e.Text, want)
		}
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// The cursor walks findings and their evidence; enter on a line the board
// printed asks the shell to show it in the monitor; on the cloud's it
// says why it cannot.
func TestJumpToMonitor(t *testing.T) {
	m, _ := newView(nil)
	r := inactiveReport(t)
	m.SetReport(r, "test")
	top := r.Findings[0]
	var serial, cloud = -1, -1
	for i, e := range top.Evidence {
		switch e.Source {
		case doctor.SourceSerial:
			if serial < 0 {
				serial = i
			}
		case doctor.SourceCloud:
			cloud = i
		}
	}
	if serial < 0 || cloud < 0 {
		t.Fatalf("the diagnosis lacks serial or cloud evidence: %+v", top.Evidence)
	}
	show := func(cmd tea.Cmd) common.ShowView {
		t.Helper()
		if cmd == nil {
			t.Fatalf("enter did nothing; note %q", m.note)
		}
		msg, ok := cmd().(common.BoardMsg)
		if !ok || msg.Board != 2 {
			t.Fatalf("%#v", msg)
		}
		return msg.Msg.(common.ShowView)
	}
	// On the finding: its first serial line.
	sv := show(m.Update(keytest.Press("enter")))
	if sv.View != common.ViewMonitor || sv.Text != top.Evidence[serial].Text || !sv.At.Equal(top.Evidence[serial].At) {
		t.Errorf("finding: %+v", sv)
	}
	// On the cloud's evidence: a note, no jump.
	for range cloud + 1 {
		m.Update(keytest.Press("down"))
	}
	if !strings.Contains(screen(m), "   ▸ cloud") {
		t.Fatalf("the cursor is not on the cloud's evidence:\n%s", screen(m))
	}
	if cmd := m.Update(keytest.Press("enter")); cmd != nil {
		t.Fatal("a jump to the cloud's evidence")
	}
	if !strings.Contains(screen(m), "only lines the board printed are in the monitor") {
		t.Errorf("no note:\n%s", screen(m))
	}
	// On a serial line.
	m.Update(keytest.Press("g"))
	for range serial + 1 {
		m.Update(keytest.Press("down"))
	}
	sv = show(m.Update(keytest.Press("enter")))
	if sv.Text != top.Evidence[serial].Text {
		t.Errorf("serial: %+v", sv)
	}
	// The cursor stops at the ends.
	m.Update(keytest.Press("G"))
	for range 3 {
		m.Update(keytest.Press("down"))
	}
	if n := len(m.items()); m.cursor != n-1 {
		t.Errorf("cursor %d of %d", m.cursor, n)
	}
}

// In a short view the selected row stays on screen.
func TestScrollKeepsCursor(t *testing.T) {
	m, _ := newView(nil)
	m.SetSize(60, 8)
	m.SetReport(inactiveReport(t), "test")
	m.Update(keytest.Press("G"))
	s := screen(m)
	if !strings.Contains(s, "▸") {
		t.Fatalf("the cursor is off screen:\n%s", s)
	}
	for i, r := range strings.Split(m.View(), "\n") {
		if ansi.StringWidth(r) > 60 {
			t.Errorf("row %d too wide: %q", i, ansi.Strip(r))
		}
	}
	m.Update(keytest.Press("g"))
	if s := screen(m); !strings.Contains(s, "▸ 1.") {
		t.Fatalf("back at the top, the first finding is not shown:\n%s", s)
	}
}

// x examines the board with the wizard's cloud; the result replaces the
// report. The provisioning run's own messages are not the doctor's.
func TestExamine(t *testing.T) {
	m, act := newView(func() (device.ProvisionJob, bool) {
		return device.ProvisionJob{Examine: true, Options: provision.Options{Thing: "esp8266-a1b2c3"}}, true
	})
	if s := screen(m); !strings.Contains(s, "No report yet for this board.") || !strings.Contains(s, "Press x to examine") {
		t.Fatalf("empty view:\n%s", s)
	}
	cmd := m.Update(keytest.Press("x"))
	if cmd == nil || len(act.jobs) != 1 || !act.jobs[0].Examine || !m.Running() {
		t.Fatalf("x: %d jobs", len(act.jobs))
	}
	if m.Update(keytest.Press("x")); len(act.jobs) != 1 {
		t.Fatal("a second examination while one runs")
	}
	m.Update(device.ProvisionProgress{Examine: true, Events: []provision.Event{{Step: provision.StepBoot, Kind: provision.KindEvidence, Message: "firmware running"}}})
	if s := screen(m); !strings.Contains(s, "◐ examining: boot: firmware running") {
		t.Errorf("progress:\n%s", s)
	}
	// A provisioning run's end is the Provision view's.
	m.Update(device.ProvisionDone{Result: &provision.Result{Report: &doctor.Report{}}})
	if !m.Running() {
		t.Fatal("a provisioning run ended the examination")
	}
	r := inactiveReport(t)
	m.Update(device.ProvisionDone{Examine: true, Result: &provision.Result{Report: r}})
	if m.Running() || m.Report() != r {
		t.Fatal("the examination's report is not shown")
	}
	if s := screen(m); !strings.Contains(s, "examined 09:00:00") {
		t.Errorf("source:\n%s", s)
	}
	// A failed examination keeps the report and says why.
	m.Update(keytest.Press("x"))
	m.Update(device.ProvisionDone{Examine: true, Err: errors.New("port busy")})
	if s := screen(m); !strings.Contains(s, "could not examine the board: port busy") || m.Report() != r {
		t.Errorf("failure:\n%s", s)
	}
}

func TestExamineNotSetUp(t *testing.T) {
	m, act := newView(func() (device.ProvisionJob, bool) { return device.ProvisionJob{}, false })
	if m.Update(keytest.Press("x")) != nil || len(act.jobs) != 0 {
		t.Fatal("examined without a cloud")
	}
	if s := screen(m); !strings.Contains(s, "provisioning is not set up in this session") {
		t.Errorf("%s", s)
	}
}

func TestHealthyAndEmpty(t *testing.T) {
	m, _ := newView(nil)
	seen := true
	r := doctor.Diagnose(doctor.Input{NoSerial: true, Seen: &seen, Topic: "iotbench/x/telemetry", SeenEvidence: "message from x"})
	m.SetReport(&r, "test")
	if s := screen(m); !strings.Contains(s, "Doctor · test · 1 finding ") || !strings.Contains(s, "✓ healthy") || !strings.Contains(s, "1. ✓ a message from the board arrived") || strings.Contains(s, "diagnosis:") {
		t.Errorf("healthy:\n%s", s)
	}
	m.SetReport(&doctor.Report{Healthy: true}, "test")
	if s := screen(m); !strings.Contains(s, "The doctor found nothing to report.") {
		t.Errorf("empty:\n%s", s)
	}
	if m.Update(keytest.Press("enter")) != nil {
		t.Error("enter on an empty report")
	}
}

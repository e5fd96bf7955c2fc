package tui

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
)

// The Provision and Doctor views' golden scenes, built from fixed events
// (no board, no cloud: nothing in the frame depends on a port, a MAC or
// a certificate the run made). `go test ./tui -run TestGoldenSlice2
// -update` rewrites them.

const (
	sceneMAC   = "18:fe:34:d3:10:5e"
	sceneThing = "esp8266-d3105e"
	sceneCert  = "5f0c2a9d41e7b3c8d2f6a1e0b9c4d7e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7"
	scenePort  = "/dev/ttyUSB0"
)

// sceneProvision is a TUI with one board and provisioning set up, whose
// cloud is never opened (the scenes stop before a run, or feed its
// events).
func sceneProvision(t *testing.T) *Model {
	t.Helper()
	m := NewModel(context.Background(), Options{
		Boards: []device.Spec{{Port: scenePort, Label: "CP2102 USB to UART"}},
		Now:    func() time.Time { return fixedNow },
		Getenv: func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] },
		Provision: &ProvisionConfig{
			Clouds: []ProvisionCloud{{Kind: "local", Label: "local cloud (iotbench's own broker)", Scope: localcloud.Scope,
				Open: func(context.Context, CloudParams) (provision.Cloud, error) {
					return nil, errors.New("not in golden scenes")
				}}},
		},
	})
	m.Init()
	t.Cleanup(m.Close)
	p := m.panes[0]
	p.board.Facts(device.Facts{Chip: "ESP8266", Description: "ESP8266EX", MAC: sceneMAC, FlashSize: 4 << 20})
	m.syncFacts(p)
	return m
}

// scenePump runs what the shell's updates return as the runtime would
// (Huh's forms move between fields and pages by messages from commands),
// each command in a goroutine, their messages fed back in order of
// arrival. Scenes wait for what the screen shows, with a deadline.
type scenePump struct {
	m    *Model
	msgs chan tea.Msg
	done chan struct{}
}

func newPump(t *testing.T, m *Model) *scenePump {
	p := &scenePump{m: m, msgs: make(chan tea.Msg, 64), done: make(chan struct{})}
	t.Cleanup(func() { close(p.done) })
	return p
}

// cmds is the commands a batch or sequence message holds (Bubble Tea's
// sequence type is unexported).
func cmds(msg tea.Msg) (cs []tea.Cmd, sequence bool) {
	if b, ok := msg.(tea.BatchMsg); ok {
		return b, false
	}
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := range v.Len() {
			cs = append(cs, v.Index(i).Interface().(tea.Cmd))
		}
		return cs, true
	}
	return nil, false
}

func (p *scenePump) run(cmd tea.Cmd) {
	if cmd != nil {
		go p.exec(cmd)
	}
}

func (p *scenePump) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	if cs, seq := cmds(msg); cs != nil {
		for _, c := range cs {
			if seq {
				p.exec(c)
			} else {
				p.run(c)
			}
		}
		return
	}
	if msg == nil {
		return
	}
	select {
	case p.msgs <- msg:
	case <-p.done:
	}
}

func (p *scenePump) update(msg tea.Msg) {
	_, cmd := p.m.Update(msg)
	p.run(cmd)
}

func (p *scenePump) press(ks ...string) {
	for _, k := range ks {
		p.update(keytest.Press(k))
	}
}

func (p *scenePump) typeText(s string) {
	keytest.Type(func(msg tea.Msg) tea.Cmd { p.update(msg); return nil }, s)
}

// until feeds messages until the screen shows text.
func (p *scenePump) until(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s := ansi.Strip(p.m.render())
		if strings.Contains(s, text) {
			return
		}
		select {
		case msg := <-p.msgs:
			p.update(msg)
		case <-deadline:
			t.Fatalf("timed out waiting for %q; screen:\n%s", text, s)
		}
	}
}

// wizardScene opens the wizard on the Provision tab and answers up to
// the page that has the focus on title ("┃ " marks it).
func wizardScene(title string) func(t *testing.T, w, h int) *Model {
	return func(t *testing.T, w, h int) *Model {
		m := sceneProvision(t)
		m.Update(tea.WindowSizeMsg{Width: w, Height: h})
		p := newPump(t, m)
		p.press("3", "enter")
		steps := []struct {
			field string
			keys  func()
		}{
			{"Cloud", func() { p.press("enter") }},
			{"Thing name", func() { p.press("enter") }},
			{"Wi-Fi network (SSID)", func() { p.typeText("bench-lab"); p.press("enter") }},
			{"Wi-Fi password", func() { p.typeText("Scene-Pass-1") }},
		}
		for _, s := range steps {
			p.until(t, "┃ "+s.field)
			s.keys()
			if s.field == title {
				// Typed text is drawn by the next frame.
				p.until(t, "┃ "+s.field)
				return m
			}
		}
		p.press("enter")
		p.until(t, "┃ Sensors")
		p.press("enter")
		p.until(t, "┃ "+title)
		// Huh computes the policy preview in a command.
		p.until(t, "The evaluator says:")
		return m
	}
}

// sceneEvents are a run of the pipeline as it reports itself, at fixed
// times.
func sceneEvents(verified bool) []provision.Event {
	at := func(ms int) time.Time { return fixedNow.Add(time.Duration(ms) * time.Millisecond) }
	tel := firmware.TelemetryTopic(sceneThing)
	steps := []struct {
		step         provision.StepID
		start, end   int
		msg          string
		kind         provision.Kind
		progressDone int64
	}{
		{provision.StepPort, 0, 20, "opened " + scenePort, provision.KindDone, 0},
		{provision.StepChip, 20, 540, "ESP8266, MAC " + sceneMAC + ", 4 MB flash, ROM loader at 115200 baud", provision.KindDone, 0},
		{provision.StepIdentity, 540, 610, "thing " + sceneThing + ", certificate " + sceneCert[:12] + "…, endpoint localhost:8883", provision.KindDone, 0},
		{provision.StepFiles, 610, 620, "config.json (thing " + sceneThing + ", topic " + tel + "), cert.der, private.der, ca.der", provision.KindDone, 0},
		{provision.StepImage, 620, 650, "littlefs image of 2024 KiB for layout 4M2M (at 0x200000)", provision.KindDone, 0},
		{provision.StepFlash, 650, 1480, "wrote reference firmware: 36 KiB at 0x0; filesystem: 2024 KiB at 0x200000", provision.KindDone, 2060 << 10},
		{provision.StepReset, 1480, 1560, "hard reset into the firmware", provision.KindDone, 0},
		{provision.StepBoot, 1560, 1690, "firmware running: iotbench-ref 0.1.0 (core 3.1.2)", provision.KindDone, 0},
		{provision.StepPublish, 1690, 2010, "message from " + sceneThing + " on " + tel + " (96 bytes)", provision.KindDone, 0},
	}
	var evs []provision.Event
	for _, s := range steps {
		kind, msg := s.kind, s.msg
		if !verified && s.step == provision.StepPublish {
			kind, msg = provision.KindFailed, "no message on "+tel
		}
		evs = append(evs, provision.Event{Board: scenePort, Step: s.step, Kind: provision.KindStart, At: at(s.start)})
		if s.progressDone > 0 {
			evs = append(evs, provision.Event{Board: scenePort, Step: s.step, Kind: provision.KindProgress, Done: s.progressDone, Total: s.progressDone, At: at(s.end - 10)})
		}
		evs = append(evs, provision.Event{Board: scenePort, Step: s.step, Kind: kind, Message: msg, At: at(s.end)})
	}
	if verified {
		evs = append(evs, provision.Event{Board: scenePort, Step: provision.StepPublish, Kind: provision.KindVerified, Message: "verified: " + sceneThing + " published on " + tel, At: at(2010)})
	}
	return evs
}

// sceneReport is the doctor's report on the board with an inactive
// certificate, from the log it printed and the cloud's answer.
func sceneReport() *doctor.Report {
	log := []string{
		" ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
		`#IB boot app=iotbench-ref ver=0.1.0 core=3.1.2 chip=00d3105e flash=4194304 reason=6 reason_s="External System"`,
		"#IB fs ok=1 files=config.json,cert.der,private.der,ca.der kind=littlefs",
		"#IB cfg ok=1 thing=" + sceneThing + " sensors=fake",
		"#IB wifi status=3 ip=192.168.4.20 rssi=-58 ch=6",
		"#IB ntp synced=1 epoch=1795599000 waited_ms=1500",
		`#IB tls ok=0 code=46 text="SSL received fatal alert - Decoding error: value is off-limits."`,
		"#IB mqtt state=-2 connack=-1",
	}
	var lines []doctor.Line
	for i, l := range log {
		lines = append(lines, doctor.Line{At: fixedNow.Add(1700*time.Millisecond + time.Duration(i)*45*time.Millisecond), Text: l, Baud: firmware.SerialBaud})
	}
	seen := false
	r := doctor.Diagnose(doctor.Input{Lines: lines, Seen: &seen, Topic: firmware.TelemetryTopic(sceneThing),
		SeenEvidence: "nothing arrived on " + firmware.TelemetryTopic(sceneThing) + " in 20 s",
		Cloud:        &doctor.CloudFacts{Cloud: "local", Thing: sceneThing, CertChecked: true, CertID: sceneCert, CertFound: true, CertStatus: "INACTIVE", CertAttached: true}})
	return &r
}

// runScene feeds a run's events and its end to the board.
func runScene(verified bool) func(t *testing.T, w, h int) *Model {
	return func(t *testing.T, w, h int) *Model {
		m := sceneProvision(t)
		m.Update(keytest.Press("3"))
		m.Update(common.BoardMsg{Board: 0, Msg: device.ProvisionProgress{Events: sceneEvents(verified)}})
		res := &provision.Result{Board: scenePort, Port: scenePort, Chip: "ESP8266", MAC: sceneMAC, Thing: sceneThing, Cloud: "local",
			Topic: firmware.TelemetryTopic(sceneThing), Verified: verified, Elapsed: 2010 * time.Millisecond}
		for _, s := range provision.Steps {
			res.Steps = append(res.Steps, provision.StepResult{Step: s, Status: provision.KindDone})
		}
		if !verified {
			res.Report = sceneReport()
			res.Error = res.Report.Top().Summary
			res.Steps[len(res.Steps)-1].Status = provision.KindFailed
		}
		m.Update(common.BoardMsg{Board: 0, Msg: device.ProvisionDone{Result: res}})
		if !verified {
			m.Update(keytest.Press("5"))
		}
		return m
	}
}

func TestGoldenSlice2(t *testing.T) {
	scenes := map[string]func(t *testing.T, w, h int) *Model{
		"wizard-wifi":    wizardScene("Wi-Fi password"),
		"wizard-preview": wizardScene("Provision now?"),
		"verified":       runScene(true),
		"doctor":         runScene(false),
	}
	for name, scene := range scenes {
		for _, sz := range goldenSizes {
			t.Run(fmt.Sprintf("%s/%dx%d", name, sz[0], sz[1]), func(t *testing.T) {
				out := renderAt(scene(t, sz[0], sz[1]), sz[0], sz[1])
				checkScreen(t, out, sz[0], sz[1])
				if strings.Contains(out, "Scene-Pass-1") {
					t.Error("the Wi-Fi password is on screen")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

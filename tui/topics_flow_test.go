package tui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// topicKeys sends keys by name (enter, esc, backspace, up, down) or as
// text typed.
func (tt *tuiTest) topicKeys(ks ...string) {
	named := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "backspace": tea.KeyBackspace, "up": tea.KeyUp, "down": tea.KeyDown}
	for _, k := range ks {
		if c, ok := named[k]; ok {
			tt.tm.Send(tea.KeyPressMsg{Code: c})
		} else {
			tt.tm.Type(k)
		}
	}
}

// topicField waits until the dialog's field titled title has the focus
// (Huh marks it with a bar): keys typed before would go to the field
// before, since fields change through commands.
func (tt *tuiTest) topicField(t *testing.T, title string) {
	t.Helper()
	tt.waitText(t, "┃ "+title)
}

// benchClient is an MQTT client on the local cloud's broker with the
// viewer's identity, as a second operator or a script would connect.
func benchClient(t *testing.T, cb *cloudBench) paho.Client {
	t.Helper()
	vc, err := cb.viewerConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := paho.NewClientOptions().AddBroker("tls://" + cb.broker.Addr().String()).SetTLSConfig(vc.TLS).
		SetClientID(mqttview.RandomClientID("iotbench-viewer-test-")).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("test client: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func done(t *testing.T, tok paho.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// retainedOn subscribes a fresh client to topic and returns what the
// broker holds retained there (nil: nothing). The broker sends retained
// messages while it handles the SUBSCRIBE, before it reads the client's
// next packet, so a marker the client publishes to the same topic right
// after comes behind them: no waiting for an absence.
func retainedOn(t *testing.T, cb *cloudBench, topic string) []byte {
	t.Helper()
	c := benchClient(t, cb)
	got := make(chan paho.Message, 16)
	done(t, c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- m }), "subscribe")
	marker := "marker " + mqttview.RandomClientID("")
	done(t, c.Publish(topic, 1, false, marker), "marker")
	var retained []byte
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-got:
			if string(m.Payload()) == marker {
				return retained
			}
			if !m.Retained() {
				t.Fatalf("a message that is not retained before the marker: %q", m.Payload())
			}
			retained = m.Payload()
		case <-deadline:
			t.Fatal("the marker did not come back")
		}
	}
}

// The Topics view against the local cloud's broker: messages another
// client publishes appear in the tree with their counts; the publish
// dialog, driven by keys, leaves a retained message a new subscriber
// receives; clear-retained takes it away again.
func TestTopicsFlow(t *testing.T) {
	cb := newCloudBench(t)
	tt := startTUI(t, Options{Topics: cb.topicsConfig(true)})
	tt.keys("4")
	tt.waitText(t, "● connected")
	tt.waitText(t, "no messages yet")

	pub := benchClient(t, cb)
	for i := 0; i < 3; i++ {
		done(t, pub.Publish("iotbench/flow1/telemetry", 1, false, fmt.Sprintf(`{"temp":%d}`, 20+i)), "publish")
	}
	done(t, pub.Publish("iotbench/flow2/telemetry", 1, false, `{"temp":18}`), "publish")
	s := tt.waitText(t, "2 topics · 4 messages")
	for _, want := range []string{"iotbench/", "4 in 2 topics", "3 in 1 topic", "flow1/", "flow2/", `"temp": 22`, "Changed since the previous message", "~ temp: 21 → 22"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}

	// Publish a retained command through the dialog.
	tt.topicKeys("p")
	tt.topicField(t, "Topic")
	tt.waitText(t, "> iotbench/flow1/telemetry")
	for range "telemetry" {
		tt.topicKeys("backspace")
	}
	tt.topicKeys("command")
	tt.waitText(t, "> iotbench/flow1/command")
	tt.topicKeys("enter")
	tt.topicField(t, "Payload")
	for range `{"temp":22}` {
		tt.topicKeys("backspace")
	}
	tt.topicKeys(`{"led":"on"}`)
	tt.waitText(t, `{"led":"on"}`)
	tt.topicKeys("enter")
	tt.topicField(t, "QoS")
	tt.topicKeys("enter")
	tt.topicField(t, "Retain?")
	tt.topicKeys("y")
	tt.waitText(t, "published to iotbench/flow1/command (retained)")
	if got := retainedOn(t, cb, "iotbench/flow1/command"); string(got) != `{"led":"on"}` {
		t.Fatalf("a new subscriber got %q retained", got)
	}
	// The viewer's own copy arrives unmarked; the view knows it retained it.
	// retainedOn's marker goes to the same topic, so the count is 1 or 2
	// depending on when the screen is read.
	retainedRow := regexp.MustCompile(`command +[12]( [0-9.]+/s)? R\n`)
	tt.waitFor(t, "the command topic, retained", func(s string) bool {
		return strings.Contains(s, "3 topics") && retainedRow.MatchString(s)
	})

	// Clear it: select the command topic (above the telemetry one).
	tt.topicKeys("up")
	tt.waitText(t, "▸     command")
	tt.topicKeys("c")
	tt.waitText(t, "Clear the retained message of iotbench/flow1/command?")
	tt.waitText(t, "the broker forgets the retained message")
	tt.topicKeys("y")
	tt.waitText(t, "cleared the retained message of iotbench/flow1/command")
	if got := retainedOn(t, cb, "iotbench/flow1/command"); got != nil {
		t.Fatalf("still retained after the clear: %q", got)
	}
	tt.events(t, "published to iotbench/flow1/command (retained)", 1)
	tt.events(t, "cleared the retained message of iotbench/flow1/command", 1)
	tt.events(t, "new topic iotbench/flow2/telemetry", 1)
}

// A board provisioned by the demo's pipeline while the topic viewer
// watches the broker: the timeline holds the board's serial milestones,
// the pipeline's steps and the viewer's news together, in time order,
// and exports them as JSON lines.
func TestTimelineInterleavesMQTT(t *testing.T) {
	cb := newCloudBench(t)
	spec := cb.board(t, 0x02, twin.Options{})
	tt := startTUI(t, Options{Boards: []device.Spec{spec}, Device: twinDevice(), Topics: cb.topicsConfig(true),
		Provision: cb.provisionConfig(WizardDefaults{Cloud: "local", SSID: "bench-lab", Password: "Bench-Pass-77"}, true)})
	const thing = "esp8266-a1b202"
	tt.events(t, "verified: "+thing, 1)
	tt.events(t, "new topic "+firmware.TelemetryTopic(thing), 1)
	tt.keys("6")
	tt.waitText(t, "Timeline")
	tt.keys("e")
	tt.waitText(t, "exported ")

	paths, err := filepath.Glob(filepath.Join(tt.Model.opts.ExportDir, "iotbench-timeline-*.jsonl"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("exports %v (%v)", paths, err)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		Time     time.Time `json:"time"`
		Board    string    `json:"board"`
		Source   string    `json:"source"`
		Kind     string    `json:"kind"`
		Severity string    `json:"severity"`
		Text     string    `json:"text"`
	}
	var lines []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Time.IsZero() || l.Source == "" || l.Kind == "" || l.Severity == "" || l.Text == "" {
			t.Errorf("incomplete line %q", sc.Text())
		}
		lines = append(lines, l)
	}
	first := map[string]int{}
	last := map[string]int{}
	for i, l := range lines {
		if i > 0 && l.Time.Before(lines[i-1].Time) {
			t.Errorf("line %d (%s %q) is older than the line before (%s %q)", i, l.Time.Format(time.RFC3339Nano), l.Text,
				lines[i-1].Time.Format(time.RFC3339Nano), lines[i-1].Text)
		}
		if _, ok := first[l.Source]; !ok {
			first[l.Source] = i
		}
		last[l.Source] = i
	}
	for _, src := range []string{"serial", "prov", "mqtt"} {
		if _, ok := first[src]; !ok {
			t.Fatalf("no %s entries in %d lines", src, len(lines))
		}
	}
	// Interleaved, not one source after another: the viewer connected
	// before the pipeline finished, the board's boot log came between
	// the pipeline's steps, and the board's topic appeared after its log
	// began.
	newTopic := -1
	for i, l := range lines {
		if l.Source == "mqtt" && strings.HasPrefix(l.Text, "new topic "+firmware.TelemetryTopic(thing)) {
			newTopic = i
		}
	}
	if !(first["mqtt"] < last["prov"] && first["serial"] < last["prov"] && first["prov"] < last["serial"] && newTopic > first["serial"]) {
		for _, l := range lines {
			t.Logf("%s %-6s %s", l.Time.Format("15:04:05.000"), l.Source, l.Text)
		}
		t.Fatalf("not interleaved: first %v last %v, new topic at %d", first, last, newTopic)
	}
	if lines[newTopic].Board != "mqtt" {
		t.Errorf("the viewer's entry is filed under %q", lines[newTopic].Board)
	}
}

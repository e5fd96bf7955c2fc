package tui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/internal/keytest"
	"github.com/iotbench/iotbench/tui/views/topics"
	"github.com/iotbench/iotbench/tui/views/topics/topicstest"
)

// topicsScene is the Topics view on a store filled with fixed messages
// at fixed times (a board's telemetry every two seconds, a retained
// command, a second board, a door sensor's text and a binary blob), the
// first board's telemetry selected: its JSON, what changed, its charts.
func topicsScene(t *testing.T) *Model {
	m := sceneModel(t, device.Spec{Port: "/dev/ttyUSB0", Label: "CP210x"})
	src := topicstest.New(func() time.Time { return fixedNow }, mqttview.Limits{})
	at := func(ago time.Duration) time.Time { return fixedNow.Add(-ago) }
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf(`{"thing":"esp8266-ab345a","seq":%d,"temp":%.2f,"hum":%.1f,"heap":%d,"rssi":%d}`,
			i, 21.5+2*math.Sin(float64(i)/4), 45-float64(i%5)*0.5, 41000-8*i, -61-i%3)
		src.Add("iotbench/esp8266-ab345a/telemetry", at(time.Duration(29-i)*2*time.Second), p, false)
	}
	src.Add("iotbench/esp8266-ab345a/command", at(5*time.Minute), `{"led":"on"}`, true)
	for i := 0; i < 5; i++ {
		src.Add("iotbench/esp8266-cd7781/telemetry", at(time.Duration(300-i*10)*time.Second), fmt.Sprintf(`{"seq":%d,"temp":19.25}`, i), false)
	}
	src.Add("lab/door", at(90*time.Second), "open", false)
	src.Add("lab/door", at(3*time.Second), "closed", false)
	src.Add("lab/blob", at(time.Minute), "\x00\x01\x02\xfe\xff", false)
	m.topics = topics.New(m.Common, context.Background(), &topics.Config{Name: "local cloud",
		Open: func(ctx context.Context, wake func()) (topics.Source, error) { return src.Open(ctx, wake) }})
	// The tab opens the view, which connects; the connection's result
	// is handed over as the program would.
	_, cmd := m.Update(keytest.Press("4"))
	m.Update(cmd())
	// The command topic is selected first (the first with messages): one
	// step down is the telemetry.
	m.Update(keytest.Press("j"))
	if got := m.topics.Selected(); got != "iotbench/esp8266-ab345a/telemetry" {
		t.Fatalf("selected %q", got)
	}
	return m
}

func TestGoldenTopics(t *testing.T) {
	scenes := map[string]func(t *testing.T) *Model{
		"topics": topicsScene,
		// The publish dialog over the same store.
		"publish": func(t *testing.T) *Model {
			m := topicsScene(t)
			m.Update(keytest.Press("p"))
			return m
		},
	}
	for name, scene := range scenes {
		for _, sz := range goldenSizes {
			t.Run(fmt.Sprintf("%s/%dx%d", name, sz[0], sz[1]), func(t *testing.T) {
				out := renderAt(scene(t), sz[0], sz[1])
				checkScreen(t, out, sz[0], sz[1])
				want := []string{"4 Topics", "● connected", "iotbench/esp8266-ab345a/telemetry"}
				if name == "topics" {
					want = append(want, "Charts", "Changed since the previous message", "Last payload (json)")
				} else {
					want = append(want, "Topic", "Payload", "Retain?")
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("no %q on the screen", w)
					}
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

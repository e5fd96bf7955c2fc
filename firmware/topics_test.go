package firmware

import "testing"

func TestTopics(t *testing.T) {
	if got := TelemetryTopic("esp8266-a1b2c3"); got != "iotbench/esp8266-a1b2c3/telemetry" {
		t.Fatalf("TelemetryTopic = %q", got)
	}
	if got := CommandTopic("x"); got != "iotbench/x/cmd" {
		t.Fatalf("CommandTopic = %q", got)
	}
	if got := StatusTopic("x"); got != "iotbench/x/status" {
		t.Fatalf("StatusTopic = %q", got)
	}
	thing, leaf, err := ThingFromTopic("iotbench/esp32-0a0b0c/telemetry")
	if err != nil || thing != "esp32-0a0b0c" || leaf != "telemetry" {
		t.Fatalf("ThingFromTopic = %q %q %v", thing, leaf, err)
	}
	for _, bad := range []string{"", "iotbench", "iotbench//telemetry", "devices/x/telemetry", "iotbench/x/telemetry/extra", "iotbench/x/"} {
		if _, _, err := ThingFromTopic(bad); err == nil {
			t.Errorf("ThingFromTopic(%q) accepted", bad)
		}
	}
}

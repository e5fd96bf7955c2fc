package firmware

import "testing"

func TestTopics(t *testing.T) {
	if got := TelemetryTopic("esp8266-a1b2c3"); got != "devices/esp8266-a1b2c3/telemetry" {
		t.Fatalf("TelemetryTopic = %q", got)
	}
	if got := CommandTopic("x"); got != "devices/x/cmd" {
		t.Fatalf("CommandTopic = %q", got)
	}
	thing, leaf, err := ThingFromTopic("devices/esp32-0a0b0c/telemetry")
	if err != nil || thing != "esp32-0a0b0c" || leaf != "telemetry" {
		t.Fatalf("ThingFromTopic = %q %q %v", thing, leaf, err)
	}
	for _, bad := range []string{"", "devices", "devices//telemetry", "other/x/telemetry", "devices/x/telemetry/extra", "devices/x/"} {
		if _, _, err := ThingFromTopic(bad); err == nil {
			t.Errorf("ThingFromTopic(%q) accepted", bad)
		}
	}
}

package firmware

import (
	"fmt"
	"strings"
)

// Topic names the reference firmware, the policy template, the IoT rule and
// the local cloud all agree on: iotbench/<thing>/<leaf>, the layout
// device-side.md §6.3 proposes (aws-iot.md §4.6 and §6 show the same shape
// under "devices/"). The rule reads the thing name back with topic(2), so
// the thing is always the second level.
const (
	// TopicRoot is the first level of every device topic.
	TopicRoot = "iotbench"
	// TelemetryLeaf is the last level of the topic a board publishes to.
	TelemetryLeaf = "telemetry"
	// StatusLeaf is the last level of the board's online/offline topic
	// (also its MQTT last will).
	StatusLeaf = "status"
	// CommandLeaf is the last level of the optional command channel.
	CommandLeaf = "cmd"
	// ThingLevel is the 1-based level holding the thing name, as the
	// rules engine's topic(n) counts.
	ThingLevel = 2
)

// TelemetryTopic is where thing publishes its readings.
func TelemetryTopic(thing string) string {
	return TopicRoot + "/" + thing + "/" + TelemetryLeaf
}

// StatusTopic is where thing reports online/offline.
func StatusTopic(thing string) string {
	return TopicRoot + "/" + thing + "/" + StatusLeaf
}

// CommandTopic is the topic a board may subscribe to for commands.
func CommandTopic(thing string) string {
	return TopicRoot + "/" + thing + "/" + CommandLeaf
}

// TelemetryFilter matches every board's telemetry.
const TelemetryFilter = TopicRoot + "/+/" + TelemetryLeaf

// ThingFromTopic returns the thing a device topic belongs to (level 2, the
// IoT SQL topic(2)) and the leaf, or an error for a topic outside the scheme.
func ThingFromTopic(topic string) (thing, leaf string, err error) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != TopicRoot || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("topic %q is not a device topic (want %s/<thing>/<leaf>)", topic, TopicRoot)
	}
	return parts[1], parts[2], nil
}

package policy

import (
	"encoding/json"

	"github.com/iotbench/iotbench/firmware"
)

// ThingVar is the policy variable of the connecting thing's name.
const ThingVar = "${iot:Connection.Thing.ThingName}"

// DevicePolicy renders iotbench's default least-privilege device policy
// for a scope (Region and Account may be "*" for a local cloud) and a
// topic prefix ("" means firmware.TopicRoot). One rendered policy serves every
// board, because it names the thing only through ThingVar:
//
//   - connect only as client id = its own thing name, and only with a
//     certificate attached to that thing (IsAttached);
//   - publish only to PREFIX/<thing>/telemetry and PREFIX/<thing>/status;
//   - subscribe only to the filter PREFIX/<thing>/cmd and receive only on
//     that topic.
//
// It grants no retained publishes, no shadows and nothing under another
// thing's name.
func DevicePolicy(s Scope, prefix string) []byte {
	if prefix == "" {
		prefix = firmware.TopicRoot
	}
	base := prefix + "/" + ThingVar + "/"
	type stmt struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Action    string         `json:"Action"`
		Resource  any            `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	doc := struct {
		Version   string `json:"Version"`
		Statement []stmt `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []stmt{
			{Sid: "ConnectAsItself", Effect: "Allow", Action: ActionConnect,
				Resource:  s.ClientARN(ThingVar),
				Condition: map[string]any{"Bool": map[string]string{"iot:Connection.Thing.IsAttached": "true"}}},
			{Sid: "PublishOwnTopics", Effect: "Allow", Action: ActionPublish,
				Resource: []string{s.TopicARN(base + firmware.TelemetryLeaf), s.TopicARN(base + firmware.StatusLeaf)}},
			{Sid: "SubscribeOwnCommands", Effect: "Allow", Action: ActionSubscribe,
				Resource: s.TopicFilterARN(base + firmware.CommandLeaf)},
			{Sid: "ReceiveOwnCommands", Effect: "Allow", Action: ActionReceive,
				Resource: s.TopicARN(base + firmware.CommandLeaf)},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // static shape: cannot fail
	}
	return b
}

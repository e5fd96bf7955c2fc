package provisionview

import (
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/firmware"
)

// Check is one line of the policy preview: a request the board (or
// another board) would make, and the evaluator's answer.
type Check struct {
	Allowed bool
	What    string // "connect as esp8266-a1b2c3"
	Reason  string // the evaluator's, naming the deciding statement
}

// Preview is what the wizard shows before anything is created: the
// device policy's statements in one line each, and what the evaluator
// decides for this thing — what it may do, and, to show the policy is
// least-privilege, what it may not (another thing's name and topic, a
// retained publish).
type Preview struct {
	Name       string
	Statements []string
	Checks     []Check
	Err        error
}

// PolicyPreview renders DevicePolicy for scope and evaluates it for thing.
func PolicyPreview(scope policy.Scope, thing string) Preview {
	p := Preview{Name: "iotbench device policy (least privilege)"}
	doc, err := policy.Parse(policy.DevicePolicy(scope, ""))
	if err != nil {
		p.Err = err
		return p
	}
	for _, st := range doc.Statements {
		p.Statements = append(p.Statements, statementLine(scope, st))
	}
	other := otherThing(thing)
	ctx := policy.Context{Scope: scope, ClientID: thing, ThingName: thing}
	otherCtx := policy.Context{Scope: scope, ClientID: other}
	tel := firmware.TelemetryTopic(thing)
	reqs := []struct {
		what string
		req  policy.Request
	}{
		{"connect as " + thing, policy.Request{Action: policy.ActionConnect, Resource: scope.ClientARN(thing), Context: ctx}},
		{"publish to " + tel, policy.Request{Action: policy.ActionPublish, Resource: scope.TopicARN(tel), Context: ctx}},
		{"publish to " + firmware.StatusTopic(thing), policy.Request{Action: policy.ActionPublish, Resource: scope.TopicARN(firmware.StatusTopic(thing)), Context: ctx}},
		{"subscribe to " + firmware.CommandTopic(thing), policy.Request{Action: policy.ActionSubscribe, Resource: scope.TopicFilterARN(firmware.CommandTopic(thing)), Context: ctx}},
		{"connect as " + other + " (another client id)", policy.Request{Action: policy.ActionConnect, Resource: scope.ClientARN(other), Context: otherCtx}},
		{"publish to " + firmware.TelemetryTopic(other), policy.Request{Action: policy.ActionPublish, Resource: scope.TopicARN(firmware.TelemetryTopic(other)), Context: ctx}},
		{"retained publish to " + tel, policy.Request{Action: policy.ActionRetainPublish, Resource: scope.TopicARN(tel), Context: ctx}},
	}
	for _, r := range reqs {
		d := policy.Evaluate([]*policy.Document{doc}, r.req)
		p.Checks = append(p.Checks, Check{Allowed: d.Allowed, What: r.what, Reason: d.Reason})
	}
	return p
}

// otherThing is a name that is not thing, for the "denied" lines.
func otherThing(thing string) string {
	if thing != "esp8266-000000" {
		return "esp8266-000000"
	}
	return "esp8266-ffffff"
}

// statementLine is "Allow iot:Publish on topic/iotbench/<thing>/telemetry,
// …": resources without the scope's ARN prefix, the thing variable as
// <thing>.
func statementLine(scope policy.Scope, st policy.Statement) string {
	prefix := scope.ARN("")
	var res []string
	for _, r := range st.Resources {
		r = strings.TrimPrefix(r, prefix)
		res = append(res, strings.ReplaceAll(r, policy.ThingVar, "<thing>"))
	}
	line := fmt.Sprintf("%s %s on %s", st.Effect, strings.Join(st.Actions, ", "), strings.Join(res, ", "))
	for _, c := range st.Conditions {
		line += fmt.Sprintf(" if %s = %s", strings.TrimPrefix(c.Key, "iot:Connection.Thing."), strings.Join(c.Values, "|"))
	}
	return line
}

// Lines renders the preview as text, one line each: the statements,
// then the evaluator's verdicts.
func (p Preview) Lines() []string {
	if p.Err != nil {
		return []string{"policy preview: " + p.Err.Error()}
	}
	out := []string{p.Name + ":"}
	for _, s := range p.Statements {
		out = append(out, "  "+s)
	}
	out = append(out, "The evaluator says:")
	for _, c := range p.Checks {
		if c.Allowed {
			out = append(out, "  ✓ allowed: "+c.What)
		} else {
			out = append(out, "  ✗ denied:  "+c.What)
		}
	}
	return out
}

// Summary is the evaluator's verdicts in two sentences, "allowed: connect
// as X, publish to Y, …" and "denied: …", for a short screen.
func (p Preview) Summary() []string {
	if p.Err != nil {
		return []string{"policy preview: " + p.Err.Error()}
	}
	var allowed, denied []string
	for _, c := range p.Checks {
		if c.Allowed {
			allowed = append(allowed, c.What)
		} else {
			denied = append(denied, c.What)
		}
	}
	out := []string{"The evaluator says:"}
	if len(allowed) > 0 {
		out = append(out, "✓ allowed: "+strings.Join(allowed, ", "))
	}
	if len(denied) > 0 {
		out = append(out, "✗ denied: "+strings.Join(denied, ", "))
	}
	return out
}

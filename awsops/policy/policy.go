// Package policy owns the AWS IoT policy language: it parses policy
// documents, expands policy variables for one connection, matches actions
// and resources with IoT's wildcard rules and decides, as AWS IoT does,
// whether a request is allowed. It also renders iotbench's default
// least-privilege device policy. The provisioning code uses it to check,
// before a board is flashed, that the board will be allowed to connect as X
// and publish to Y; the local cloud uses it to authorise every CONNECT,
// PUBLISH, SUBSCRIBE and delivery.
//
// The API is deliberately small:
//
//	doc, err := policy.Parse(jsonBytes)          // *MalformedError when invalid
//	d := policy.Evaluate([]*policy.Document{doc}, policy.Request{
//		Action:   policy.ActionPublish,
//		Resource: ctx.TopicARN("iotbench/esp8266-a1b2c3/telemetry"),
//		Context:  ctx, // thing name, client id, region, account, …
//	})
//	d.Allowed, d.Reason                           // Reason names the deciding statement
//
// Resource ARNs come from Scope.ClientARN, TopicARN, TopicFilterARN and
// ThingARN (or the package functions of the same names for the "aws"
// partition), and the default device policy from DevicePolicy.
//
// Semantics, following the AWS IoT developer guide (aws-iot.md §4):
//   - everything is implicitly denied; a request is allowed when a statement
//     of any document allows it and no statement of any document denies it
//     (an explicit Deny wins);
//   - in Action and Resource only * (any run of characters, '/' included)
//     and ? (one character) are wildcards; MQTT's + and # are literal;
//   - actions match case-insensitively, resources case-sensitively, each of
//     the six colon-separated ARN parts on its own;
//   - policy variables (${iot:ClientId}, ${iot:Connection.Thing.ThingName},
//     …) are expanded only in "Version": "2012-10-17" documents; their
//     values are literal text, never wildcards; a variable without a value
//     makes its Resource entry match nothing; $(*), $(?) and $($) are the
//     literal characters;
//   - thing variables have a value only when the certificate is attached to
//     a thing whose name is the client id: the caller says so by setting
//     Context.ThingName.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
)

// The MQTT actions (aws-iot.md §4.2).
const (
	ActionConnect       = "iot:Connect"
	ActionPublish       = "iot:Publish"
	ActionSubscribe     = "iot:Subscribe"
	ActionReceive       = "iot:Receive"
	ActionRetainPublish = "iot:RetainPublish"
)

// MaxSize is AWS IoT's limit on a policy document: 2048 characters, not
// counting whitespace.
const MaxSize = 2048

// Effect is Allow or Deny.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed policy.
type Document struct {
	// Name is the policy's name, used only in Decision.Reason. Parse leaves
	// it empty; the caller sets it.
	Name       string
	Version    string
	Statements []Statement
}

// Statement is one entry of the Statement list. Exactly one of Actions and
// NotActions, and of Resources and NotResources, is set.
type Statement struct {
	Sid          string
	Effect       Effect
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	Conditions   []Condition
}

// Condition is one key test of a Condition block, e.g. Operator "Bool",
// Key "iot:Connection.Thing.IsAttached", Values ["true"].
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// MalformedError is a policy document AWS IoT would refuse
// (MalformedPolicyException).
type MalformedError struct {
	Msg string
}

func (e *MalformedError) Error() string { return "invalid policy document: " + e.Msg }

func malformed(format string, args ...any) error {
	return &MalformedError{Msg: fmt.Sprintf(format, args...)}
}

// Size is the document's length as AWS counts it against MaxSize.
func Size(doc []byte) int {
	n := 0
	for _, r := range string(doc) {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// Parse checks and parses a policy document.
func Parse(doc []byte) (*Document, error) {
	if n := Size(doc); n > MaxSize {
		return nil, malformed("%d characters without whitespace, AWS IoT allows %d", n, MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, malformed("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("text after the JSON object")
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, malformed("the document must be a JSON object")
	}
	d := &Document{Version: "2008-10-17"}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "Version":
			v, ok := obj[k].(string)
			if !ok || (v != "2012-10-17" && v != "2008-10-17") {
				return nil, malformed(`"Version" must be "2012-10-17" (or the old "2008-10-17", which has no policy variables)`)
			}
			d.Version = v
		case "Id":
			if _, ok := obj[k].(string); !ok {
				return nil, malformed(`"Id" must be a string`)
			}
		case "Statement":
		default:
			return nil, malformed("unknown element %q at the top level (allowed: Version, Id, Statement)", k)
		}
	}
	raw, ok := obj["Statement"]
	if !ok {
		return nil, malformed(`no "Statement"`)
	}
	var list []any
	switch v := raw.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, malformed(`"Statement" must be an object or a list of objects`)
	}
	if len(list) == 0 {
		return nil, malformed(`"Statement" is empty`)
	}
	for i, s := range list {
		st, err := parseStatement(s)
		if err != nil {
			return nil, malformed("statement %d: %s", i+1, err.(*MalformedError).Msg)
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func parseStatement(v any) (Statement, error) {
	var st Statement
	obj, ok := v.(map[string]any)
	if !ok {
		return st, malformed("must be an object")
	}
	for _, k := range sortedKeys(obj) {
		val := obj[k]
		var err error
		switch k {
		case "Sid":
			s, ok := val.(string)
			if !ok {
				return st, malformed(`"Sid" must be a string`)
			}
			st.Sid = s
		case "Effect":
			s, _ := val.(string)
			if s != string(Allow) && s != string(Deny) {
				return st, malformed(`"Effect" must be "Allow" or "Deny"`)
			}
			st.Effect = Effect(s)
		case "Action":
			st.Actions, err = stringList(k, val)
		case "NotAction":
			st.NotActions, err = stringList(k, val)
		case "Resource":
			st.Resources, err = stringList(k, val)
		case "NotResource":
			st.NotResources, err = stringList(k, val)
		case "Condition":
			st.Conditions, err = parseConditions(val)
		case "Principal", "NotPrincipal":
			return st, malformed("%q is not allowed: an IoT policy applies to the certificate or identity it is attached to", k)
		default:
			return st, malformed("unknown element %q (allowed: Sid, Effect, Action, NotAction, Resource, NotResource, Condition)", k)
		}
		if err != nil {
			return st, err
		}
	}
	if st.Effect == "" {
		return st, malformed(`no "Effect"`)
	}
	if (st.Actions == nil) == (st.NotActions == nil) {
		return st, malformed(`needs exactly one of "Action" and "NotAction"`)
	}
	if (st.Resources == nil) == (st.NotResources == nil) {
		return st, malformed(`needs exactly one of "Resource" and "NotResource"`)
	}
	for _, a := range append(append([]string{}, st.Actions...), st.NotActions...) {
		if a != "*" && !validAction(a) {
			return st, malformed("action %q is not \"*\" or service:Action (e.g. iot:Publish)", a)
		}
	}
	for _, r := range append(append([]string{}, st.Resources...), st.NotResources...) {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return st, malformed("resource %q is not \"*\" or an ARN (arn:aws:iot:REGION:ACCOUNT:topic/…)", r)
		}
		if r != "*" && len(splitTokens(tokenize(r, true), 6)) != 6 {
			return st, malformed("resource %q is not a complete ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", r)
		}
	}
	return st, nil
}

func validAction(a string) bool {
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for _, r := range svc {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '*' || r == '?') {
			return false
		}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '*' || r == '?' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func stringList(name string, v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil, malformed("%q is empty", name)
		}
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, malformed("%q is an empty list", name)
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, malformed("%q must hold non-empty strings", name)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, malformed("%q must be a string or a list of strings", name)
}

func parseConditions(v any) ([]Condition, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, malformed(`"Condition" must be an object: {"Operator": {"key": value}}`)
	}
	var out []Condition
	for _, op := range sortedKeys(obj) {
		if _, ok := operatorFunc(op); !ok {
			return nil, malformed("unknown condition operator %q", op)
		}
		keys, ok := obj[op].(map[string]any)
		if !ok || len(keys) == 0 {
			return nil, malformed("condition %q must be an object of key: value", op)
		}
		for _, k := range sortedKeys(keys) {
			vals, err := conditionValues(keys[k])
			if err != nil {
				return nil, malformed("condition %s %q: %s", op, k, err.(*MalformedError).Msg)
			}
			out = append(out, Condition{Operator: op, Key: k, Values: vals})
		}
	}
	return out, nil
}

func conditionValues(v any) ([]string, error) {
	scalar := func(e any) (string, bool) {
		switch e := e.(type) {
		case string:
			return e, true
		case bool:
			if e {
				return "true", true
			}
			return "false", true
		case json.Number:
			return e.String(), true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, malformed("value must be a string, number, boolean or a non-empty list of them")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := scalar(e)
		if !ok {
			return nil, malformed("value must be a string, number, boolean or a non-empty list of them")
		}
		out = append(out, s)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Normalize returns the document re-encoded with keys sorted and no
// whitespace, so that two documents can be compared the way AWS stores
// them (AWS keeps the caller's whitespace; aws-iot.md §3.1 step 5).
func Normalize(doc []byte) ([]byte, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

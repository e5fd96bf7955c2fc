package policy

import (
	"errors"
	"strings"
	"testing"
)

var scope = Scope{Region: "eu-west-1", Account: "123456789012"}

func mustParse(t *testing.T, name, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	d.Name = name
	return d
}

// thingCtx is a connection whose certificate is attached to thing and whose
// client id is clientID: thing variables resolve only when they are equal.
func thingCtx(thing, clientID string) Context {
	c := Context{Scope: scope, ClientID: clientID}
	if thing == clientID {
		c.ThingName = thing
	}
	return c
}

func TestDefaultTemplate(t *testing.T) {
	doc := mustParse(t, "iotbench-device", string(DevicePolicy(scope, "")))
	docs := []*Document{doc}
	me := "esp8266-a1b2c3"
	other := "esp8266-d4e5f6"
	cases := []struct {
		name     string
		ctx      Context
		action   string
		resource string
		want     bool
	}{
		{"connect as itself", thingCtx(me, me), ActionConnect, scope.ClientARN(me), true},
		{"connect as another client id", thingCtx(me, other), ActionConnect, scope.ClientARN(other), false},
		{"connect with a cert of no thing", Context{Scope: scope, ClientID: me}, ActionConnect, scope.ClientARN(me), false},
		{"publish own telemetry", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + me + "/telemetry"), true},
		{"publish own status", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + me + "/status"), true},
		{"publish other thing's telemetry", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + other + "/telemetry"), false},
		{"publish deeper under own name", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + me + "/telemetry/x"), false},
		{"publish with a prefix-sharing name", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + me + "x/telemetry"), false},
		{"publish own commands", thingCtx(me, me), ActionPublish, scope.TopicARN("iotbench/" + me + "/cmd"), false},
		{"subscribe own commands", thingCtx(me, me), ActionSubscribe, scope.TopicFilterARN("iotbench/" + me + "/cmd"), true},
		{"subscribe with wildcard", thingCtx(me, me), ActionSubscribe, scope.TopicFilterARN("iotbench/" + me + "/#"), false},
		{"subscribe everything", thingCtx(me, me), ActionSubscribe, scope.TopicFilterARN("#"), false},
		{"receive own commands", thingCtx(me, me), ActionReceive, scope.TopicARN("iotbench/" + me + "/cmd"), true},
		{"receive other's commands", thingCtx(me, me), ActionReceive, scope.TopicARN("iotbench/" + other + "/cmd"), false},
		{"retain", thingCtx(me, me), ActionRetainPublish, scope.TopicARN("iotbench/" + me + "/status"), false},
		{"other region", thingCtx(me, me), ActionConnect, Scope{Region: "us-east-1", Account: scope.Account}.ClientARN(me), false},
		{"shadow", thingCtx(me, me), "iot:UpdateThingShadow", scope.ThingARN(me), false},
	}
	for _, c := range cases {
		d := Evaluate(docs, Request{Action: c.action, Resource: c.resource, Context: c.ctx})
		if d.Allowed != c.want {
			t.Errorf("%s: allowed=%v, want %v (%s)", c.name, d.Allowed, c.want, d.Reason)
		}
		if d.Reason == "" {
			t.Errorf("%s: no reason", c.name)
		}
	}
	d := Evaluate(docs, Request{Action: ActionConnect, Resource: scope.ClientARN(other), Context: thingCtx(me, other)})
	if !strings.Contains(d.Reason, "no statement allows iot:Connect") || !strings.Contains(d.Reason, "client id") {
		t.Errorf("reason for a foreign client id does not explain: %s", d.Reason)
	}
	d = Evaluate(docs, Request{Action: ActionPublish, Resource: scope.TopicARN("iotbench/" + me + "/telemetry"), Context: thingCtx(me, me)})
	if !strings.Contains(d.Reason, "statement 2 (PublishOwnTopics) of policy iotbench-device") || d.Statement != 2 {
		t.Errorf("allow reason does not name the statement: %+v", d)
	}
	if n := Size(DevicePolicy(scope, "")); n > MaxSize/2 {
		t.Errorf("default policy is %d characters, leave room below %d", n, MaxSize)
	}
}

func TestVariables(t *testing.T) {
	doc := mustParse(t, "p", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/c/${iot:ClientId}/$(*)"},
	 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/attr/${iot:Connection.Thing.Attributes[room]}"},
	 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/cn/${iot:Certificate.Subject.CommonName}"},
	 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/type/${iot:Connection.Thing.ThingTypeName}/*"}
	]}`)
	ctx := Context{Scope: scope, ClientID: "dev:1", ThingName: "dev:1", ThingTypeName: "sensor",
		ThingAttributes: map[string]string{"room": "kitchen"},
		Vars:            map[string]string{"iot:Certificate.Subject.CommonName": "cn-7"}}
	check := func(topic string, c Context, want bool) {
		t.Helper()
		d := Evaluate([]*Document{doc}, Request{Action: ActionPublish, Resource: scope.TopicARN(topic), Context: c})
		if d.Allowed != want {
			t.Errorf("publish %s: allowed=%v want %v (%s)", topic, d.Allowed, want, d.Reason)
		}
	}
	check("c/dev:1/*", ctx, true)  // $(*) is a literal star; ':' inside a value is literal
	check("c/dev:1/x", ctx, false) // …so it does not match anything else
	check("attr/kitchen", ctx, true)
	check("attr/hall", ctx, false)
	check("cn/cn-7", ctx, true)
	check("type/sensor/a/b", ctx, true)
	// A variable's value is literal: a client id "*" is not a wildcard.
	star := Context{Scope: scope, ClientID: "*"}
	check("c/*/*", star, true)
	check("c/x/*", star, false)
	// Without a thing, thing variables have no value and match nothing.
	nothing := Context{Scope: scope, ClientID: "dev:1"}
	check("attr/kitchen", nothing, false)
	check("type/sensor/a", nothing, false)
	// The 2008 version has no variables: ${…} is literal text.
	old := mustParse(t, "old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/${iot:ClientId}"}}`)
	if d := Evaluate([]*Document{old}, Request{Action: ActionPublish, Resource: scope.TopicARN("dev:1"), Context: ctx}); d.Allowed {
		t.Errorf("2008-10-17 document expanded a variable")
	}
	if d := Evaluate([]*Document{old}, Request{Action: ActionPublish, Resource: scope.TopicARN("${iot:ClientId}"), Context: ctx}); !d.Allowed {
		t.Errorf("2008-10-17 document: literal ${…} did not match: %s", d.Reason)
	}
}

func TestWildcards(t *testing.T) {
	doc := mustParse(t, "w", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iot:Sub*","Resource":"arn:aws:iot:eu-west-1:123456789012:topicfilter/some/+/topic"},
	 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:eu-west-1:123456789012:topicfilter/star/*"},
	 {"Effect":"Allow","Action":"IOT:publish","Resource":"arn:aws:iot:eu-west-1:123456789012:topic/q/???"},
	 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:123456789012:topic/r/*/end"}
	]}`)
	cases := []struct {
		action, resource string
		want             bool
	}{
		{ActionSubscribe, scope.TopicFilterARN("some/+/topic"), true},
		{ActionSubscribe, scope.TopicFilterARN("some/x/topic"), false}, // + is literal in a policy
		{ActionSubscribe, scope.TopicFilterARN("some/#"), false},
		{ActionSubscribe, scope.TopicFilterARN("star/#"), true}, // * covers # and levels
		{ActionSubscribe, scope.TopicFilterARN("star/a/b/c"), true},
		{ActionSubscribe, scope.TopicFilterARN("star"), false},
		{ActionPublish, scope.TopicARN("q/abc"), true}, // actions are case-insensitive
		{ActionPublish, scope.TopicARN("q/ab"), false},
		{ActionPublish, scope.TopicARN("q/abcd"), false},
		{ActionPublish, scope.TopicARN("Q/abc"), false}, // resources are not
		{ActionReceive, scope.TopicARN("r/a/b/c/end"), true},
		{ActionReceive, Scope{Region: "us-east-2", Account: "123456789012"}.TopicARN("r/x/end"), true},
		{ActionReceive, Scope{Region: "us-east-2", Account: "999999999999"}.TopicARN("r/x/end"), false},
		{ActionReceive, scope.TopicARN("r/end"), false},
		{ActionConnect, scope.ClientARN("x"), false},
	}
	for _, c := range cases {
		d := Evaluate([]*Document{doc}, Request{Action: c.action, Resource: c.resource, Context: Context{Scope: scope}})
		if d.Allowed != c.want {
			t.Errorf("%s %s: allowed=%v want %v (%s)", c.action, c.resource, d.Allowed, c.want, d.Reason)
		}
	}
}

func TestDenyWins(t *testing.T) {
	allow := mustParse(t, "allow-all", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`)
	deny := mustParse(t, "no-admin", `{"Version":"2012-10-17","Statement":[
	 {"Sid":"NoAdmin","Effect":"Deny","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/admin/*"},
	 {"Sid":"NoBadClient","Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"StringLike":{"iot:ClientId":"bad-*"}}}]}`)
	docs := []*Document{allow, deny}
	ctx := Context{Scope: scope, ClientID: "good"}
	d := Evaluate(docs, Request{Action: ActionPublish, Resource: scope.TopicARN("admin/reboot"), Context: ctx})
	if d.Allowed || !d.Explicit || d.Policy != "no-admin" || d.Sid != "NoAdmin" || !strings.Contains(d.Reason, "denied by statement 1 (NoAdmin) of policy no-admin") {
		t.Errorf("deny did not win: %+v", d)
	}
	// Order does not matter.
	d = Evaluate([]*Document{deny, allow}, Request{Action: ActionPublish, Resource: scope.TopicARN("admin/reboot"), Context: ctx})
	if d.Allowed {
		t.Errorf("deny lost when listed first")
	}
	if d := Evaluate(docs, Request{Action: ActionPublish, Resource: scope.TopicARN("user/x"), Context: ctx}); !d.Allowed || d.Policy != "allow-all" {
		t.Errorf("allow elsewhere: %+v", d)
	}
	if d := Evaluate(docs, Request{Action: ActionConnect, Resource: scope.ClientARN("bad-1"), Context: Context{Scope: scope, ClientID: "bad-1"}}); d.Allowed {
		t.Errorf("conditional deny did not apply")
	}
	if d := Evaluate(docs, Request{Action: ActionConnect, Resource: scope.ClientARN("good"), Context: ctx}); !d.Allowed {
		t.Errorf("conditional deny applied to the wrong client: %s", d.Reason)
	}
	// The guide's example of a Deny that does not work: subscribing to a/#
	// is allowed by topicfilter/a/*, the Deny on a/restricted/* does not
	// match the filter string; Receive is what keeps the messages away.
	guide := mustParse(t, "guide", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["iot:Subscribe"],"Resource":"arn:aws:iot:*:*:topicfilter/a/*"},
	 {"Effect":"Allow","Action":["iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/a/*"},
	 {"Effect":"Deny","Action":["iot:Subscribe"],"Resource":"arn:aws:iot:*:*:topicfilter/a/restricted/*"},
	 {"Effect":"Deny","Action":["iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/a/restricted/*"}]}`)
	if d := Evaluate([]*Document{guide}, Request{Action: ActionSubscribe, Resource: scope.TopicFilterARN("a/#"), Context: ctx}); !d.Allowed {
		t.Errorf("a/# should be allowed as a filter string")
	}
	if d := Evaluate([]*Document{guide}, Request{Action: ActionReceive, Resource: scope.TopicARN("a/restricted/x"), Context: ctx}); d.Allowed {
		t.Errorf("receive on a/restricted/x should be denied")
	}
	if d := Evaluate(nil, Request{Action: ActionConnect, Resource: scope.ClientARN("x")}); d.Allowed || d.Explicit || !strings.HasPrefix(d.Reason, "no statement allows") {
		t.Errorf("no policies: %+v", d)
	}
}

func TestNotActionNotResource(t *testing.T) {
	d := mustParse(t, "n", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","NotAction":"iot:RetainPublish","NotResource":"arn:aws:iot:*:*:topic/secret"}]}`)
	ctx := Context{Scope: scope}
	if !Evaluate([]*Document{d}, Request{Action: ActionPublish, Resource: scope.TopicARN("open"), Context: ctx}).Allowed {
		t.Error("NotAction/NotResource: publish to open should be allowed")
	}
	if Evaluate([]*Document{d}, Request{Action: ActionPublish, Resource: scope.TopicARN("secret"), Context: ctx}).Allowed {
		t.Error("NotResource ignored")
	}
	if Evaluate([]*Document{d}, Request{Action: ActionRetainPublish, Resource: scope.TopicARN("open"), Context: ctx}).Allowed {
		t.Error("NotAction ignored")
	}
}

func TestConditions(t *testing.T) {
	d := mustParse(t, "c", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{
	   "IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.7"]},
	   "StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"},
	   "NumericLessThan":{"iot:Custom.N":5},
	   "StringLikeIfExists":{"iot:Certificate.Subject.Country":"D?"},
	   "Null":{"iot:Certificate.Subject.Organization":"true"}}}]}`)
	base := Context{Scope: scope, ClientID: "t1", ThingName: "t1", SourceIP: "10.1.2.3", Vars: map[string]string{"iot:custom.n": "3"}}
	try := func(name string, c Context, want bool) {
		t.Helper()
		r := Evaluate([]*Document{d}, Request{Action: ActionConnect, Resource: scope.ClientARN(c.ClientID), Context: c})
		if r.Allowed != want {
			t.Errorf("%s: allowed=%v want %v (%s)", name, r.Allowed, want, r.Reason)
		}
	}
	try("all hold", base, true)
	c := base
	c.SourceIP = "192.168.1.8"
	try("ip outside", c, false)
	c = base
	c.SourceIP = "192.168.1.7"
	try("ip exact", c, true)
	c = base
	c.ThingName = ""
	try("thing variable unresolved", c, false)
	c = base
	c.Vars = map[string]string{"iot:Custom.N": "7"}
	try("numeric", c, false)
	c = base
	c.Vars = map[string]string{"iot:Custom.N": "1", "iot:Certificate.Subject.Country": "DE"}
	try("if-exists present and matching", c, true)
	c.Vars["iot:Certificate.Subject.Country"] = "FR"
	try("if-exists present, not matching", c, false)
	c = base
	c.Vars = map[string]string{"iot:Custom.N": "1", "iot:Certificate.Subject.Organization": "x"}
	try("null", c, false)
}

func TestParseErrors(t *testing.T) {
	bad := map[string]string{
		"not json":          `{"Version":`,
		"array":             `[]`,
		"trailing":          `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} x`,
		"bad version":       `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		"no statement":      `{"Version":"2012-10-17"}`,
		"empty statement":   `{"Version":"2012-10-17","Statement":[]}`,
		"unknown top":       `{"Version":"2012-10-17","Statment":[]}`,
		"bad effect":        `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`,
		"no action":         `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`,
		"both actions":      `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"iot:Connect","Resource":"*"}}`,
		"no resource":       `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`,
		"bad action":        `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Publish","Resource":"*"}}`,
		"bad resource":      `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"topic/x"}}`,
		"short arn":         `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iot:*:topic/x"}}`,
		"principal":         `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`,
		"bad operator":      `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSorta":{"a":"b"}}}}`,
		"bad cond value":    `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"a":{}}}}}`,
		"action not string": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`,
		"too large":         `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iot:*:*:topic/` + strings.Repeat("x", 2100) + `"}}`,
	}
	for name, doc := range bad {
		_, err := Parse([]byte(doc))
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want *MalformedError", name, err)
		}
	}
	// Whitespace does not count towards the limit.
	big := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}` + strings.Repeat(" \n", 3000)
	if _, err := Parse([]byte(big)); err != nil {
		t.Errorf("whitespace counted: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	a, _ := Normalize([]byte("{\n \"b\": 1, \"a\": [\"x\"]\n}"))
	b, _ := Normalize([]byte(`{"a":["x"],"b":1}`))
	if string(a) != string(b) {
		t.Errorf("%s != %s", a, b)
	}
}

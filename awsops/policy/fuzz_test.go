package policy

import (
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(DevicePolicy(scope, ""))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["iot:*"],"NotResource":"arn:aws:iot:*:*:topic/$(*)/${iot:ClientId}","Condition":{"ForAnyValue:StringLikeIfExists":{"k":["a",1,true]},"Null":{"x":"true"}}}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:r:a:client/${iot:Connection.Thing.Attributes[x]}?*"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := Parse(doc)
		if err != nil {
			if d != nil {
				t.Fatal("document returned with an error")
			}
			return
		}
		// Whatever parses must evaluate without panicking, for any request.
		ctx := Context{Scope: scope, ClientID: "c", ThingName: "c", Vars: map[string]string{"x": "y"}}
		for _, r := range []Request{
			{Action: ActionConnect, Resource: scope.ClientARN("c"), Context: ctx},
			{Action: ActionPublish, Resource: scope.TopicARN(string(doc)), Context: ctx},
			{Action: string(doc), Resource: string(doc), Context: Context{}},
		} {
			dec := Evaluate([]*Document{d}, r)
			if dec.Reason == "" {
				t.Fatal("decision without a reason")
			}
		}
		if len(d.Statements) == 0 {
			t.Fatal("parsed document without statements")
		}
	})
}

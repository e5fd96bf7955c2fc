package localcloud

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/awsops/policy"
)

var awsScope = policy.Scope{Partition: "aws", Region: "eu-west-1", Account: "123456789012"}

// The device policy rendered for an AWS account, moved into the local
// scope, is the device policy rendered for the local cloud.
func TestRescopeDevicePolicy(t *testing.T) {
	got, err := RescopePolicy(policy.DevicePolicy(awsScope, ""), awsScope, Scope)
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := policy.Normalize(got)
	b, err2 := policy.Normalize(policy.DevicePolicy(Scope, ""))
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Fatalf("rescoped:\n%s\nwant:\n%s", a, b)
	}
}

func TestRescopeARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iot:eu-west-1:123456789012:topic/a/b":  "arn:aws:iot:local:000000000000:topic/a/b",
		"arn:aws:iot:*:*:client/${iot:ClientId}":        "arn:aws:iot:local:000000000000:client/${iot:ClientId}",
		"arn:aws:iot:eu-*:1234567890??:topicfilter/x/#": "arn:aws:iot:local:000000000000:topicfilter/x/#",
		"arn:aws:iot:us-east-1:123456789012:topic/a":    "arn:aws:iot:!us-east-1:000000000000:topic/a",
		"arn:aws:iot:l*:123456789012:topic/a":           "arn:aws:iot:!l*:000000000000:topic/a",
		"arn:aws:iot:eu-west-1:999999999999:topic/a":    "arn:aws:iot:local:!999999999999:topic/a",
		"arn:aws-cn:iot:eu-west-1:123456789012:topic/a": "arn:!aws-cn:iot:local:000000000000:topic/a",
		"*": "*",
		"arn:aws:iot:eu-west-1:123456789012:topic/a:b:c/${x:y}": "arn:aws:iot:local:000000000000:topic/a:b:c/${x:y}",
	} {
		if got := rescopeARN(in, awsScope, Scope); got != want {
			t.Errorf("rescopeARN(%q) = %q, want %q", in, got, want)
		}
	}
	// A resource of another region stays out of reach after the move.
	doc := []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:us-east-1:123456789012:topic/a","arn:aws:iot:l*:*:topic/b"]},
		{"Effect":"Allow","Action":"iot:Connect","NotResource":"arn:aws:iot:eu-west-1:123456789012:client/bad",
		 "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:iot:eu-west-1:123456789012:thing/*"}}}]}`)
	out, err := RescopePolicy(doc, awsScope, Scope)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := policy.Parse(out)
	ctx := policy.Context{Scope: Scope, ClientID: "good"}
	for _, topic := range []string{"a", "b"} {
		if dec := policy.Evaluate([]*policy.Document{d}, policy.Request{Action: policy.ActionPublish, Resource: Scope.TopicARN(topic), Context: ctx}); dec.Allowed {
			t.Errorf("publish to %s, granted only in other regions, allowed after the move", topic)
		}
	}
	if !strings.Contains(string(out), `"arn:aws:iot:local:000000000000:client/bad"`) || !strings.Contains(string(out), `"arn:aws:iot:local:000000000000:thing/*"`) {
		t.Errorf("NotResource or condition ARN not moved:\n%s", out)
	}
	if _, err := RescopePolicy([]byte(`{"Statement":`), awsScope, Scope); err == nil {
		t.Error("a broken document rescoped")
	}
}

func TestSignerKeepsKey(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.CA().Signer()
	if _, ok := s.(*ecdsa.PrivateKey); ok {
		t.Fatal("the signer is the key itself")
	}
	der := issueWith(t, c, "signed-elsewhere")
	cert, _ := x509.ParseCertificate(der)
	if err := cert.CheckSignatureFrom(c.CA().Cert); err != nil {
		t.Fatal(err)
	}
}

// issueWith signs a device certificate with the CA's opaque signer, as a
// control plane in the same process does.
func issueWith(t *testing.T, c *Cloud, cn string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.CA().Cert, &key.PublicKey, c.CA().Signer())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestMirror(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const src = "aws 123456789012/eu-west-1"
	der := issueWith(t, c, "AWS IoT Certificate")
	id := CertificateID(der)
	devicePolicy := []MirroredPolicy{{Name: DevicePolicyName, Document: policy.DevicePolicy(awsScope, "")}}
	mirror := func(status string) {
		t.Helper()
		if err := c.Mirror(src, awsScope, []MirroredCertificate{{DER: der, Status: status, Thing: "m1", Policies: devicePolicy}}); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(clientID, action, resource string) policy.Decision {
		t.Helper()
		d, err := c.Decide(id, clientID, action, resource)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	mirror(StatusActive)
	d := decide("m1", policy.ActionConnect, Scope.ClientARN("m1"))
	if !d.Allowed || !strings.Contains(d.Reason, MirrorPolicyName(src, DevicePolicyName)) {
		t.Fatalf("connect as the thing: %+v", d)
	}
	if d := decide("m2", policy.ActionConnect, Scope.ClientARN("m2")); d.Allowed {
		t.Fatalf("connect as another client id: %+v", d)
	}
	if d := decide("m1", policy.ActionPublish, Scope.TopicARN("iotbench/m1/telemetry")); !d.Allowed {
		t.Fatalf("publish to its own topic: %+v", d)
	}
	st, err := c.Status(context.Background(), "m1")
	if err != nil || !st.Exists || len(st.Certificates) != 1 || !st.Active {
		t.Fatalf("status %+v %v", st, err)
	}

	// The same state again writes nothing.
	reg := filepath.Join(dir, "registry.json")
	before := fileSum(t, reg)
	mirror(StatusActive)
	if fileSum(t, reg) != before {
		t.Fatal("an unchanged mirror rewrote the registry")
	}

	mirror(StatusInactive)
	if d := decide("m1", policy.ActionConnect, Scope.ClientARN("m1")); d.Allowed || !strings.Contains(d.Reason, StatusInactive) {
		t.Fatalf("connect with an INACTIVE certificate: %+v", d)
	}

	// The local cloud's own certificates are not the mirror's to take.
	own, err := c.Provision(context.Background(), ProvisionRequest{Thing: "own-board"})
	if err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if err := c.Mirror(src, awsScope, []MirroredCertificate{{DER: own.CertDER(), Status: StatusActive}}); !errors.As(err, &ie) {
		t.Fatalf("mirroring over an own certificate: %v", err)
	}

	// Gone from the control plane, gone from the broker; the local
	// cloud's own policies and certificates stay.
	if err := c.Mirror(src, awsScope, nil); err != nil {
		t.Fatal(err)
	}
	if d := decide("m1", policy.ActionConnect, Scope.ClientARN("m1")); d.Allowed || !strings.Contains(d.Reason, "not registered") {
		t.Fatalf("connect with a certificate deleted upstream: %+v", d)
	}
	r, _, err := c.reg.load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Policies[MirrorPolicyName(src, DevicePolicyName)]; ok {
		t.Error("the mirrored policy outlived its certificates")
	}
	if r.Policies[DevicePolicyName] == "" || r.Certificates[own.CertificateID] == nil {
		t.Error("the mirror removed the local cloud's own policy or certificate")
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	return sha256.Sum256(append(b, []byte(st.ModTime().String())...))
}

// A document the policy parser accepts rescopes into one it accepts too,
// and a resource outside the mirrored account never lands in the local
// scope.
func FuzzRescopePolicy(f *testing.F) {
	f.Add(string(policy.DevicePolicy(awsScope, "")))
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:*","NotResource":["arn:aws:iot:*:*:topic/a","*"]}}`)
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-*:1?3:client/x","Condition":{"ArnEquals":{"k":["arn:aws:iot:eu-west-1:123456789012:thing/t",1]}}}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		if _, err := policy.Parse([]byte(doc)); err != nil {
			return
		}
		out, err := RescopePolicy([]byte(doc), awsScope, Scope)
		if err != nil {
			// Only growth past AWS's size limit may stop the move.
			if policy.Size([]byte(doc)) < policy.MaxSize-200 {
				t.Fatalf("rescoping %s: %v", doc, err)
			}
			return
		}
		if _, err := policy.Parse(out); err != nil {
			t.Fatalf("rescoped document does not parse: %v\n%s", err, out)
		}
	})
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"**", "eu", true}, {"*?", "", false}, {"?", "e", true},
		{"eu-*-1", "eu-west-1", true}, {"eu-*-2", "eu-west-1", false}, {"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false}, {"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, {"eu-west-1", "eu-west-1x", false},
	} {
		if got := glob(c.p, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

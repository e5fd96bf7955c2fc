package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/awsops/awstest"
	"github.com/iotbench/iotbench/awsops/emulator"
	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/localcloud"
)

// The AWS path end to end: the control plane is the in-repo AWS IoT
// emulator (real SDK calls, SigV4 checked), reached through awsops; the
// data plane is the local broker configured as the boards' endpoint. The
// emulator issues device certificates from the broker's CA, and every
// change in its registry is mirrored into the broker's before the API call
// returns, so the broker admits exactly what the emulated account says,
// under the policy awsops attached there.

// awsBench is one emulated account and the broker mirroring it.
type awsBench struct {
	emu    *emulator.Server
	url    string
	br     *broker
	client *awsops.Client
	creds  aws.CredentialsProvider
	cloud  *AWSCloud
	// source names the account in the broker's registry.
	source string
}

func newAWSBench(t *testing.T) *awsBench {
	t.Helper()
	awstest.Isolate(t)
	br := newBroker(t)
	emu, err := emulator.New()
	if err != nil {
		t.Fatal(err)
	}
	ca := br.cloud.CA()
	if err := emu.SignWith(ca.Cert, ca.Signer()); err != nil {
		t.Fatal(err)
	}
	scope := policy.Scope{Partition: "aws", Region: awstest.Region, Account: emulator.Account}
	ab := &awsBench{emu: emu, br: br, source: "aws " + emulator.Account + "/" + awstest.Region,
		creds: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID, emulator.SecretAccessKey, "")}
	mirror := func() {
		if err := br.cloud.Mirror(ab.source, scope, mirrored(emu.Principals(awstest.Region))); err != nil {
			t.Errorf("mirroring the emulated account into the broker: %v", err)
		}
	}
	if ab.url, err = emu.StartNotifying(mirror); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ab.client, err = awsops.New(context.Background(), awsops.Options{Region: awstest.Region, EndpointURL: ab.url, Credentials: ab.creds,
		DisableIMDS: true, LedgerDir: t.TempDir(), MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := br.cloud.ViewerTLS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host, port := br.b.Endpoint()
	ab.cloud = NewAWSCloud(ab.client, ab.creds)
	ab.cloud.MQTT = &MQTTOverride{Host: host, Port: port, CADER: ca.Cert.Raw, Addr: br.b.Addr().String(), ViewerTLS: vt}
	return ab
}

// mirrored is the data plane's view of the emulator's principals.
func mirrored(ps []emulator.Principal) []localcloud.MirroredCertificate {
	var out []localcloud.MirroredCertificate
	for _, p := range ps {
		m := localcloud.MirroredCertificate{DER: p.CertificateDER, Status: p.Status}
		if len(p.Things) > 0 {
			m.Thing = p.Things[0]
		}
		for _, pol := range p.Policies {
			m.Policies = append(m.Policies, localcloud.MirroredPolicy{Name: pol.Name, Document: pol.Document})
		}
		out = append(out, m)
	}
	return out
}

// iot is a plain SDK client on the emulated account: the operator's own
// console, for changes behind iotbench's back.
func (ab *awsBench) iot() *iot.Client {
	return iot.New(iot.Options{Region: awstest.Region, BaseEndpoint: aws.String(ab.url), Credentials: ab.creds})
}

// principal is the emulator's record of a certificate.
func (ab *awsBench) principal(t *testing.T, id string) emulator.Principal {
	t.Helper()
	for _, p := range ab.emu.Principals(awstest.Region) {
		if p.CertificateID == id {
			return p
		}
	}
	t.Fatalf("certificate %s is not in the emulated account", id)
	return emulator.Principal{}
}

func mutating(calls []string) []string {
	var out []string
	for _, c := range calls {
		op := c[strings.Index(c, ":")+1:]
		for _, verb := range []string{"Create", "Attach", "Update", "Delete", "Detach", "Register"} {
			if strings.HasPrefix(op, verb) {
				out = append(out, c)
			}
		}
	}
	return out
}

func TestAWSEmulatorPathBlankToVerified(t *testing.T) {
	ab := newAWSBench(t)
	tgt := twinTarget(t, 0x71)
	o := e2eOptions(t, ab.cloud, ab.br)
	res, events := provisionBlank(t, tgt, o, "aws", "esp8266-a1b271")
	var idNotes []string
	for _, e := range events {
		if e.Step == StepIdentity && e.Kind == KindProgress {
			idNotes = append(idNotes, e.Message)
		}
	}
	if notes := strings.Join(idNotes, "\n"); !strings.Contains(notes, "created thing esp8266-a1b271") || !strings.Contains(notes, "AWS signed the bench's CSR") {
		t.Errorf("identity notes do not come from awsops:\n%s", notes)
	}

	// What the board uses is what the emulated account holds: its
	// certificate, attached to the thing with awsops's device policy,
	// and that policy is what let the broker take the board's publish.
	rec, err := o.Ledger.Get(res.MAC)
	if err != nil || rec == nil {
		t.Fatalf("ledger: %v", err)
	}
	p := ab.principal(t, rec.CertificateID)
	if p.Status != "ACTIVE" || len(p.Things) != 1 || p.Things[0] != res.Thing || len(p.Policies) != 1 || p.Policies[0].Name != awsops.DefaultPolicyName {
		t.Fatalf("emulated account: %+v", p)
	}
	d, err := ab.br.cloud.Decide(rec.CertificateID, res.Thing, policy.ActionPublish, localcloud.Scope.TopicARN(res.Topic))
	if err != nil || !d.Allowed || !strings.Contains(d.Reason, localcloud.MirrorPolicyName(ab.source, awsops.DefaultPolicyName)) {
		t.Fatalf("the broker's publish decision %+v (%v) is not the mirrored AWS policy's", d, err)
	}
	if !ab.br.connectedAs(res.Thing) {
		t.Fatalf("the broker saw no connection from the board as its thing: %+v", ab.br.events("connected"))
	}

	// Again: awsops finds everything in place and creates nothing, the
	// flash is unchanged, and the board verifies again.
	before := len(ab.emu.Calls())
	rerunIsNoOp(t, tgt, o)
	if m := mutating(ab.emu.Calls()[before:]); len(m) > 0 {
		t.Fatalf("the re-run changed the account: %v", m)
	}
}

// A certificate deactivated in the account (after provisioning, before
// the board connects): the broker refuses the board, the pipeline does
// not verify, and the doctor names the cause from AWS's facts.
func TestAWSEmulatorPathInactiveCertificate(t *testing.T) {
	ab := newAWSBench(t)
	tgt := twinTarget(t, 0x72)
	deactivate := func(id *Identity) error {
		_, err := ab.iot().UpdateCertificate(context.Background(), &iot.UpdateCertificateInput{CertificateId: aws.String(id.CertificateID), NewStatus: iottypes.CertificateStatusInactive})
		return err
	}
	o := e2eOptions(t, &afterIdentity{Cloud: ab.cloud, after: deactivate}, ab.br)
	res := Run(context.Background(), tgt, o, nil)
	if res.Verified {
		t.Fatal("verified with an INACTIVE certificate")
	}
	top := res.Report.Top()
	if top == nil || top.Code != "cert.inactive" || !strings.Contains(top.Summary, "INACTIVE") || !strings.Contains(top.Fix, "aws iot update-certificate") {
		t.Fatalf("top finding %+v\nall: %+v", top, res.Report.Findings)
	}
	refused := false
	for _, e := range ab.br.events("refused") {
		refused = refused || e.ClientID == res.Thing && strings.Contains(e.Reason, "INACTIVE")
	}
	if !refused {
		t.Fatalf("the broker did not refuse the board for its INACTIVE certificate: %+v", ab.br.events("refused"))
	}
}

// afterIdentity applies a change in the cloud right after the identity
// exists, as an operator might between provisioning and the first boot.
type afterIdentity struct {
	Cloud
	after func(*Identity) error
}

func (a *afterIdentity) EnsureIdentity(ctx context.Context, req IdentityRequest, note func(string)) (*Identity, error) {
	id, err := a.Cloud.EnsureIdentity(ctx, req, note)
	if err != nil {
		return nil, err
	}
	return id, a.after(id)
}

func TestAWSEmulatorPathFourBoardsInParallel(t *testing.T) {
	ab := newAWSBench(t)
	var targets []Target
	for mac := byte(0x81); mac < 0x85; mac++ {
		targets = append(targets, twinTarget(t, mac))
	}
	o := e2eOptions(t, ab.cloud, ab.br)
	o.KeyType = "ec"
	res, err := RunAll(context.Background(), targets, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]bool{}
	for _, r := range res {
		requireVerified(t, r)
		rec, err := o.Ledger.Get(r.MAC)
		if err != nil || rec == nil {
			t.Fatalf("%s: ledger %v", r.Board, err)
		}
		certs[rec.CertificateID] = true
		p := ab.principal(t, rec.CertificateID)
		c, err := x509.ParseCertificate(p.CertificateDER)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || len(p.Things) != 1 || p.Things[0] != r.Thing {
			t.Errorf("%s: certificate key %T, things %v", r.Thing, c.PublicKey, p.Things)
		}
	}
	if len(certs) != 4 {
		t.Fatalf("certificates %v", certs)
	}
}

// The doctor's facts from the emulated account, without a board.
func TestAWSCloudFacts(t *testing.T) {
	ab := newAWSBench(t)
	ctx := context.Background()
	id, err := ab.cloud.EnsureIdentity(ctx, IdentityRequest{Thing: "facts-board", KeyType: "ec"}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if id.Reused || id.Endpoint != "localhost" || string(id.CADER) != string(ab.br.cloud.CA().Cert.Raw) {
		t.Fatalf("identity: reused %v endpoint %s", id.Reused, id.Endpoint)
	}
	if _, err := x509.ParseECPrivateKey(id.KeyDER); err != nil {
		t.Fatalf("private.der is not SEC 1: %v", err)
	}
	again, err := ab.cloud.EnsureIdentity(ctx, IdentityRequest{Thing: "facts-board", KeyType: "ec"}, func(string) {})
	if err != nil || !again.Reused || again.CertificateID != id.CertificateID {
		t.Fatalf("second identity: %+v %v", again, err)
	}
	topic := firmware.TelemetryTopic("facts-board")
	q := FactsQuery{Thing: "facts-board", ClientID: "facts-board", Topic: topic, CertificateID: id.CertificateID, Endpoint: "localhost"}

	f := ab.cloud.Facts(ctx, q)
	if len(f.Errors) > 0 || !f.ThingExists || !f.CertFound || f.CertStatus != "ACTIVE" || !f.CertAttached ||
		len(f.Policies) != 1 || f.Connect == nil || !f.Connect.Allowed || f.Publish == nil || !f.Publish.Allowed ||
		!f.EndpointChecked || f.WantEndpoint != "localhost" || f.EndpointKind != "other" {
		t.Fatalf("healthy facts: %+v", f)
	}
	for _, fd := range doctor.Diagnose(doctor.Input{Cloud: f}).Findings {
		for _, prefix := range []string{"cloud.", "thing.", "cert.", "policy.", "endpoint."} {
			if strings.HasPrefix(fd.Code, prefix) {
				t.Errorf("a healthy identity gives the cloud finding %s: %s", fd.Code, fd.Summary)
			}
		}
	}

	// The policy evaluator against what is attached in AWS.
	q2 := q
	q2.ClientID, q2.Topic = "someone-else", firmware.TelemetryTopic("someone-else")
	f = ab.cloud.Facts(ctx, q2)
	if f.Connect == nil || f.Connect.Allowed || f.Publish == nil || f.Publish.Allowed {
		t.Fatalf("another client id and topic: connect %+v publish %+v", f.Connect, f.Publish)
	}

	// Without the override the endpoint is compared with the account's.
	plain := NewAWSCloud(ab.client, ab.creds)
	ats, err := ab.client.Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f = plain.Facts(ctx, FactsQuery{Thing: "facts-board", ClientID: "facts-board", Topic: topic, CertificateID: id.CertificateID, Endpoint: ats})
	if f.WantEndpoint != ats || f.EndpointKind != "ats" {
		t.Fatalf("endpoint %s want %s kind %s", f.Endpoint, f.WantEndpoint, f.EndpointKind)
	}

	// A read AWS refuses leaves that part unchecked, and says so.
	ab.emu.Inject(emulator.AccessDenied("iot:DescribeThing"))
	f = ab.cloud.Facts(ctx, q)
	if len(f.Errors) == 0 || !strings.Contains(f.Errors[0], "iot:DescribeThing") || f.CertChecked || f.ThingChecked {
		t.Fatalf("facts with DescribeThing denied: %+v", f)
	}
	ab.emu.ClearFaults()

	// A thing that does not exist.
	f = ab.cloud.Facts(ctx, FactsQuery{Thing: "never-made", ClientID: "never-made", Topic: firmware.TelemetryTopic("never-made")})
	if !f.ThingChecked || f.ThingExists || len(f.Errors) > 0 {
		t.Fatalf("missing thing: %+v", f)
	}
}

// Without an override the viewer signs a WebSocket URL for the account's
// endpoint and region with the operator's credentials.
func TestAWSCloudViewerSignsWebSocket(t *testing.T) {
	ab := newAWSBench(t)
	ctx := context.Background()
	plain := NewAWSCloud(ab.client, ab.creds)
	cfg, err := plain.viewerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ats, _ := ab.client.Endpoint(ctx)
	if cfg.Broker != "wss://"+ats+"/mqtt" || !cfg.AWS || cfg.TLS == nil || cfg.TLS.RootCAs == nil {
		t.Fatalf("viewer config: %+v", cfg)
	}
	signed, err := cfg.Presign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	cred := u.Query().Get("X-Amz-Credential")
	if u.Host != ats || !strings.HasPrefix(cred, emulator.AccessKeyID+"/") || !strings.HasSuffix(cred, "/"+awstest.Region+"/iotdevicegateway/aws4_request") {
		t.Fatalf("presigned %s", signed)
	}
	if _, err := NewAWSCloud(ab.client, nil).viewerConfig(ctx); err == nil {
		t.Fatal("a viewer without credentials")
	}
}

func TestEndpointKind(t *testing.T) {
	for host, want := range map[string]string{
		"a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com":  "ats",
		"A1B2C3D4E5F6G7-ATS.iot.us-east-1.amazonaws.com.": "ats",
		"a1b2c3-ats.iot.cn-north-1.amazonaws.com.cn":      "ats",
		"a1b2c3d4e5f6g7.iot.eu-west-1.amazonaws.com":      "legacy",
		"localhost": "other",
		"a1b2-ats.iot.eu-west-1.amazonaws.com.evil.example": "other",
		"": "other",
	} {
		if got := EndpointKind(host); got != want {
			t.Errorf("EndpointKind(%q) = %s, want %s", host, got, want)
		}
	}
}

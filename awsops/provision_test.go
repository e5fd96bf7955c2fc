package awsops

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotbench/iotbench/awsops/awstest"
	"github.com/iotbench/iotbench/awsops/policy"
)

// keyFor is the key route the backend can verify end to end: moto's
// CreateCertificateFromCsr ignores the CSR's key (aws-iot.md §9.2).
func keyFor(b *awstest.Backend, want KeyType) KeyType {
	if b.IsMoto() && want != KeyAWSGenerated {
		return KeyAWSGenerated
	}
	return want
}

func TestProvisionFiles(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		macs := map[KeyType]string{KeyECP256: "A4:CF:12:A1:B2:C3", KeyRSA2048: "a4cf12a1b2c4", KeyAWSGenerated: "a4-cf-12-a1-b2-c5"}
		for _, kt := range []KeyType{KeyECP256, KeyRSA2048, KeyAWSGenerated} {
			if b.IsMoto() && kt != KeyAWSGenerated {
				continue
			}
			mac := macs[kt]
			t.Run(string(kt), func(t *testing.T) {
				c := newClient(t, b)
				out := t.TempDir()
				var log eventLog
				res, err := c.Provision(context.Background(), ProvisionOptions{MAC: mac, Key: kt, OutDir: out, OnEvent: log.add})
				if err != nil {
					t.Fatalf("%v\n%s", err, log.String())
				}
				want := "esp8266-a1b2c" + mac[len(mac)-1:]
				if res.Thing != want || res.ClientID != res.Thing {
					t.Errorf("thing %q client %q, want %s", res.Thing, res.ClientID, want)
				}
				if res.Topics.Telemetry != "iotbench/"+want+"/telemetry" {
					t.Errorf("telemetry topic %q", res.Topics.Telemetry)
				}
				if !strings.HasSuffix(res.Endpoint, "-ats.iot."+b.Region+".amazonaws.com") {
					t.Errorf("endpoint %q is not an ATS endpoint", res.Endpoint)
				}
				assertConverged(t, c, res.Thing)
				for _, dir := range []string{out, res.LedgerDir} {
					checkDeviceFiles(t, dir, kt)
				}
				// The ledger folder is private.
				for _, d := range []string{c.Ledger.Dir, res.LedgerDir} {
					if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
						t.Errorf("%s: mode %v, want 0700 (%v)", d, st.Mode().Perm(), err)
					}
				}
				// A second run changes nothing and says so.
				var again eventLog
				res2, err := c.Provision(context.Background(), ProvisionOptions{Thing: res.Thing, Key: kt, OutDir: out, OnEvent: again.add})
				if err != nil {
					t.Fatal(err)
				}
				if res2.CertificateID != res.CertificateID {
					t.Errorf("re-run replaced the certificate")
				}
				for _, step := range []string{"endpoint", "thing", "policy", "certificate", "attach-policy", "attach-thing"} {
					if !again.has(step, "exists") {
						t.Errorf("re-run: step %s did not report exists:\n%s", step, again.String())
					}
				}
				assertConverged(t, c, res.Thing)
			})
		}
	})
}

func checkDeviceFiles(t *testing.T, dir string, kt KeyType) {
	t.Helper()
	read := func(name string, mode os.FileMode) []byte {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), mode)
		}
		b, _ := os.ReadFile(p)
		return b
	}
	certDER := read(FileCertDER, 0o644)
	keyDERb := read(FileKeyDER, 0o600)
	caDER := read(FileCADER, 0o644)
	read(FileKeyPEM, 0o600)
	certPEM := read(FileCertPEM, 0o644)
	read(FileCAPEM, 0o644)
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		t.Fatalf("cert.der: %v", err)
	}
	if blk, _ := pem.Decode(certPEM); blk == nil || string(blk.Bytes) != string(certDER) {
		t.Errorf("cert.pem is not cert.der")
	}
	// BearSSL reads raw RSA (PKCS#1) or raw EC (SEC1) keys.
	var pub any
	if kt == KeyECP256 {
		k, err := x509.ParseECPrivateKey(keyDERb)
		if err != nil {
			t.Fatalf("private.der is not SEC1 EC: %v", err)
		}
		pub = &k.PublicKey
	} else {
		k, err := x509.ParsePKCS1PrivateKey(keyDERb)
		if err != nil {
			t.Fatalf("private.der is not PKCS#1 RSA: %v", err)
		}
		if k.N.BitLen() != 2048 {
			t.Errorf("RSA key of %d bits", k.N.BitLen())
		}
		pub = &k.PublicKey
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if !p.Equal(cert.PublicKey) {
			t.Errorf("private.der does not match cert.der")
		}
	case *ecdsa.PublicKey:
		if !p.Equal(cert.PublicKey) {
			t.Errorf("private.der does not match cert.der")
		}
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil || ca.Subject.CommonName != "Amazon Root CA 1" {
		t.Errorf("ca.der: %v %v", ca.Subject, err)
	}
}

func TestPolicyUpdateAndPrune(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		c := newClient(t, b)
		ctx := context.Background()
		doc := func(topic string) []byte {
			return []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/` + topic + `"}]}`)
		}
		if st, created, err := c.EnsurePolicy(ctx, "p1", doc("a")); err != nil || st != "created" || !created {
			t.Fatalf("create: %s %v %v", st, created, err)
		}
		// Same JSON, other whitespace: unchanged.
		if st, _, err := c.EnsurePolicy(ctx, "p1", []byte(" {\n"+string(doc("a"))[1:])); err != nil || st != "exists" {
			t.Fatalf("same: %s %v", st, err)
		}
		// Seven changes: AWS keeps five versions, the oldest are pruned.
		for i, topic := range []string{"b", "c", "d", "e", "f", "g", "h"} {
			if st, _, err := c.EnsurePolicy(ctx, "p1", doc(topic)); err != nil || st != "updated" {
				t.Fatalf("update %d: %s %v", i, st, err)
			}
		}
		get, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("p1")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(aws.ToString(get.PolicyDocument), "topic/h") {
			t.Errorf("default version is not the last: %s", aws.ToString(get.PolicyDocument))
		}
		vs, err := c.iot.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("p1")})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.PolicyVersions) != 5 {
			t.Errorf("%d versions, want 5", len(vs.PolicyVersions))
		}
	})
}

func TestDeprovision(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		c := newClient(t, b)
		ctx := context.Background()
		res, err := c.Provision(ctx, ProvisionOptions{Thing: "bench-01", Key: keyFor(b, KeyECP256)})
		if err != nil {
			t.Fatal(err)
		}
		var log eventLog
		dr, err := c.Deprovision(ctx, DeprovisionOptions{Thing: "bench-01", OnEvent: log.add})
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		all := strings.Join(dr.Removed, "\n")
		for _, want := range []string{"detached certificate", "detached policy iotbench-device", "deleted certificate " + res.CertificateID, "deleted thing bench-01", "deleted policy iotbench-device", "ledger folder"} {
			if !strings.Contains(all, want) {
				t.Errorf("deprovision did not say %q:\n%s", want, all)
			}
		}
		if certs := accountCerts(t, c); len(certs) != 0 {
			t.Errorf("certificates left: %v", certs)
		}
		if _, err := c.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("bench-01")}); !isNotFound(err) {
			t.Errorf("thing still there: %v", err)
		}
		if _, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(DefaultPolicyName)}); !isNotFound(err) {
			t.Errorf("policy still there: %v", err)
		}
		if _, err := os.Stat(res.LedgerDir); !os.IsNotExist(err) {
			t.Errorf("ledger folder still there: %v", err)
		}
		// Nothing left: a second deprovision says so.
		_, err = c.Deprovision(ctx, DeprovisionOptions{Thing: "bench-01"})
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("second deprovision: %v", err)
		}
	})
}

func TestSharedPolicyKept(t *testing.T) {
	b := awstest.Emulator(t)
	c := newClient(t, b)
	ctx := context.Background()
	for _, th := range []string{"a1", "a2"} {
		if _, err := c.Provision(ctx, ProvisionOptions{Thing: th, Key: KeyECP256}); err != nil {
			t.Fatal(err)
		}
	}
	dr, err := c.Deprovision(ctx, DeprovisionOptions{Thing: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(dr.Left, "\n"), "kept policy iotbench-device: 1 other certificate") {
		t.Errorf("shared policy: %v", dr.Left)
	}
	assertConverged(t, c, "a2")
}

func TestStatusAndCheck(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		c := newClient(t, b)
		ctx := context.Background()
		res, err := c.Provision(ctx, ProvisionOptions{Thing: "bench-02", Key: keyFor(b, KeyECP256)})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx, "bench-02")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Ready || !st.Exists || len(st.Certificates) != 1 || st.Certificates[0].Status != "ACTIVE" || !st.Certificates[0].KeyOnBench || len(st.Problems) != 0 {
			t.Errorf("status: %+v", st)
		}
		// Deactivated behind the bench's back: status says so, provision heals.
		if _, err := c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(res.CertificateID), NewStatus: "INACTIVE"}); err != nil {
			t.Fatal(err)
		}
		st, _ = c.Status(ctx, "bench-02")
		if st.Ready || len(st.Problems) == 0 || !strings.Contains(st.Problems[0], "INACTIVE") {
			t.Errorf("status of an inactive cert: %+v", st)
		}
		if _, err := c.Provision(ctx, ProvisionOptions{Thing: "bench-02", Key: keyFor(b, KeyECP256)}); err != nil {
			t.Fatal(err)
		}
		assertConverged(t, c, "bench-02")

		chk, err := c.CheckPolicy(ctx, CheckRequest{Thing: "bench-02", Publish: []string{res.Topics.Telemetry}, Subscribe: []string{res.Topics.Command}})
		if err != nil {
			t.Fatal(err)
		}
		if !chk.Allowed || !chk.ThingVariables || len(chk.Decisions) != 3 {
			t.Errorf("check as itself: %+v", chk)
		}
		chk, err = c.CheckPolicy(ctx, CheckRequest{Thing: "bench-02", ClientID: "other", Publish: []string{"iotbench/other/telemetry"}})
		if err != nil {
			t.Fatal(err)
		}
		var de *DeniedError
		if chk.Allowed || !errors.As(chk.Err(), &de) || !strings.Contains(chk.Err().Error(), "no statement allows iot:Connect") {
			t.Errorf("check as another client: %+v / %v", chk, chk.Err())
		}
		chk, _ = c.CheckPolicy(ctx, CheckRequest{Thing: "bench-02", Publish: []string{"iotbench/bench-03/telemetry"}})
		if chk.Allowed || chk.Decisions[0].Allowed != true || chk.Decisions[1].Allowed {
			t.Errorf("check of another thing's topic: %+v", chk)
		}
		_, err = c.Status(ctx, "nope")
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("status of a missing thing: %v", err)
		}
	})
}

func TestCustomPolicy(t *testing.T) {
	b := awstest.Emulator(t)
	c := newClient(t, b)
	ctx := context.Background()
	doc := []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"}]}`)
	res, err := c.Provision(ctx, ProvisionOptions{Thing: "custom", Key: KeyECP256, PolicyDocument: doc})
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy != "custom-policy" {
		t.Errorf("policy name %q", res.Policy)
	}
	_, err = c.Provision(ctx, ProvisionOptions{Thing: "custom2", Key: KeyECP256, PolicyDocument: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"Publish","Resource":"*"}]}`)})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "service:Action") {
		t.Errorf("invalid policy: %v", err)
	}
	var me *policy.MalformedError
	_ = me
}

// Names with the characters AWS allows that URLs escape: the emulator
// checks the SigV4 signature over the escaped path.
func TestOddNames(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		c := newClient(t, b)
		res, err := c.Provision(context.Background(), ProvisionOptions{Thing: "bench:01_a-b", Key: keyFor(b, KeyECP256), PolicyName: "p+=,.@-x",
			PolicyDocument: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		assertConverged(t, c, res.Thing)
	})
}

package awsops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotbench/iotbench/awsops/awstest"
	"github.com/iotbench/iotbench/awsops/emulator"
)

var errKilled = errors.New("killed (injected)")

// Every place the flow can be stopped, in order. certificate-response is
// the dangerous one: AWS minted a certificate and the answer is lost.
var crashPoints = map[KeyType][]string{
	KeyECP256:       {"endpoint", "thing", "policy", "key", "certificate-request", "certificate-response", "certificate", "attach-policy", "attach-thing", "cleanup", "files"},
	KeyAWSGenerated: {"endpoint", "thing", "policy", "certificate-request", "certificate-response", "certificate-key-saved", "certificate", "attach-policy", "attach-thing", "cleanup", "files"},
}

// killAt makes the client stop at the named checkpoint, once.
func killAt(c *Client, point string) *bool {
	hit := new(bool)
	c.crash = func(p string) error {
		if p == point && !*hit {
			*hit = true
			return errKilled
		}
		return nil
	}
	return hit
}

// TestCrashAfterEachStep kills the flow after each step, runs it again,
// and checks that exactly one certificate is attached and active, that the
// key on disk is its key, and that nothing is orphaned.
func TestCrashAfterEachStep(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		for _, kt := range []KeyType{KeyECP256, KeyAWSGenerated} {
			if b.IsMoto() && kt != KeyAWSGenerated {
				continue // moto's CSR certificates hold another key
			}
			for i, point := range crashPoints[kt] {
				t.Run(string(kt)+"/"+point, func(t *testing.T) {
					b.Reset(t)
					c := newClient(t, b)
					thing := fmt.Sprintf("crash-%d", i)
					hit := killAt(c, point)
					var log eventLog
					_, err := c.Provision(context.Background(), ProvisionOptions{Thing: thing, Key: kt, OutDir: t.TempDir(), OnEvent: log.add})
					if !*hit || !errors.Is(err, errKilled) {
						t.Fatalf("not killed at %s: %v", point, err)
					}
					c.crash = nil
					res, err := c.Provision(context.Background(), ProvisionOptions{Thing: thing, Key: kt, OutDir: t.TempDir(), OnEvent: log.add})
					if err != nil {
						t.Fatalf("re-run: %v\n%s", err, log.String())
					}
					rec := assertConverged(t, c, thing)
					if rec.CertificateID != res.CertificateID {
						t.Errorf("result and ledger disagree")
					}
					if point == "certificate-response" && kt != KeyAWSGenerated && !log.has("certificate", "recovered") {
						t.Errorf("the certificate minted before the kill was not recovered:\n%s", log.String())
					}
				})
			}
		}
	})
}

// TestCrashChain kills every run at the next step until one finishes.
func TestCrashChain(t *testing.T) {
	for _, kt := range []KeyType{KeyECP256, KeyAWSGenerated} {
		t.Run(string(kt), func(t *testing.T) {
			b := awstest.Emulator(t)
			c := newClient(t, b)
			for _, point := range crashPoints[kt] {
				killAt(c, point)
				if _, err := c.Provision(context.Background(), ProvisionOptions{Thing: "chain", Key: kt}); !errors.Is(err, errKilled) {
					t.Fatalf("at %s: %v", point, err)
				}
			}
			c.crash = nil
			if _, err := c.Provision(context.Background(), ProvisionOptions{Thing: "chain", Key: kt}); err != nil {
				t.Fatal(err)
			}
			assertConverged(t, c, "chain")
		})
	}
}

// TestLostResponse: AWS minted the certificate but the answer never
// arrived (a 5xx after the work). The SDK must not retry blindly, and the
// next run must find the certificate (CSR route) or remove it (AWS-made
// key, which is lost with the answer).
func TestLostResponse(t *testing.T) {
	for _, tc := range []struct {
		kt KeyType
		op string
	}{{KeyECP256, "iot:CreateCertificateFromCsr"}, {KeyRSA2048, "iot:CreateCertificateFromCsr"}, {KeyAWSGenerated, "iot:CreateKeysAndCertificate"}} {
		t.Run(string(tc.kt), func(t *testing.T) {
			b := awstest.Emulator(t)
			c := newClient(t, b)
			b.Emu.Inject(emulator.Fault{Op: tc.op, Code: "InternalFailureException", Status: 500, Message: "connection reset", Times: 1, Commit: true})
			_, err := c.Provision(context.Background(), ProvisionOptions{Thing: "lost", Key: tc.kt})
			var se *ServiceError
			if !errors.As(err, &se) {
				t.Fatalf("first run: %v", err)
			}
			n := 0
			for _, call := range b.Emu.Calls() {
				if call == tc.op {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s called %d times: a non-idempotent call was retried", tc.op, n)
			}
			var log eventLog
			if _, err := c.Provision(context.Background(), ProvisionOptions{Thing: "lost", Key: tc.kt, OnEvent: log.add}); err != nil {
				t.Fatal(err)
			}
			assertConverged(t, c, "lost")
			if tc.kt == KeyAWSGenerated {
				if !log.has("cleanup", "removed") {
					t.Errorf("the unusable certificate was not removed:\n%s", log.String())
				}
			} else if !log.has("certificate", "recovered") {
				t.Errorf("not recovered:\n%s", log.String())
			}
		})
	}
}

// TestHealing: damage done outside the bench is repaired by a re-run.
func TestHealing(t *testing.T) {
	ctx := context.Background()
	damage := map[string]func(t *testing.T, c *Client, rec *Record){
		"key deleted": func(t *testing.T, c *Client, rec *Record) {
			os.Remove(c.Ledger.Path(rec, FileKeyPEM))
		},
		"certificate revoked": func(t *testing.T, c *Client, rec *Record) {
			if _, err := c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(rec.CertificateID), NewStatus: "REVOKED"}); err != nil {
				t.Fatal(err)
			}
		},
		"certificate detached": func(t *testing.T, c *Client, rec *Record) {
			c.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(rec.Thing), Principal: aws.String(rec.CertificateARN)})
			c.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(rec.Policy), Target: aws.String(rec.CertificateARN)})
		},
		"policy changed": func(t *testing.T, c *Client, rec *Record) {
			c.iot.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(rec.Policy), SetAsDefault: true,
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)})
		},
		"thing deleted": func(t *testing.T, c *Client, rec *Record) {
			c.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(rec.Thing), Principal: aws.String(rec.CertificateARN)})
			if _, err := c.iot.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(rec.Thing)}); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			b := awstest.Emulator(t)
			c := newClient(t, b)
			if _, err := c.Provision(ctx, ProvisionOptions{Thing: "heal", Key: KeyECP256}); err != nil {
				t.Fatal(err)
			}
			id, _ := c.Identity(ctx)
			rec, _ := c.Ledger.Load(id.Account, id.Region, "heal")
			hurt(t, c, rec)
			var log eventLog
			if _, err := c.Provision(ctx, ProvisionOptions{Thing: "heal", Key: KeyECP256, OnEvent: log.add}); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			assertConverged(t, c, "heal")
			if name == "policy changed" {
				get, _ := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(DefaultPolicyName)})
				if strings.Contains(aws.ToString(get.PolicyDocument), `"iot:*"`) {
					t.Errorf("wide-open policy left in place")
				}
			}
		})
	}
}

// TestMotoCSRKeyMismatch documents moto's difference: its certificate for
// a CSR holds another key. iotbench notices, removes it and says why.
func TestMotoCSRKeyMismatch(t *testing.T) {
	b := awstest.Moto(t)
	c := newClient(t, b)
	_, err := c.Provision(context.Background(), ProvisionOptions{Thing: "csr", Key: KeyECP256})
	var km *KeyMismatchError
	if !errors.As(err, &km) || !strings.Contains(err.Error(), "moto") {
		t.Fatalf("got %v, want a KeyMismatchError", err)
	}
	if certs := accountCerts(t, c); len(certs) != 0 {
		t.Errorf("the mismatched certificate was left: %v", certs)
	}
}

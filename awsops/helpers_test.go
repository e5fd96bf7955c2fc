package awsops

import (
	"context"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotbench/iotbench/awsops/awstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awstest.StopMoto()
	os.Exit(code)
}

// newClient is a client for the backend with fast retries and a ledger
// in the test's temporary folder.
func newClient(t *testing.T, b *awstest.Backend) *Client {
	t.Helper()
	c, err := New(context.Background(), Options{
		Region: b.Region, EndpointURL: b.URL, Credentials: b.Credentials(), DisableIMDS: true,
		MaxAttempts: 6, MaxBackoff: 20 * time.Millisecond, RolePoll: 50 * time.Millisecond, RoleWait: 10 * time.Second,
		LedgerDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventLog collects events (and checks none is empty).
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) has(step, status string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Step == step && e.Status == status {
			return true
		}
	}
	return false
}

func (l *eventLog) String() string {
	var b strings.Builder
	for _, e := range l.events {
		b.WriteString(e.Step + " " + e.Status + ": " + e.Message + "\n")
	}
	return b.String()
}

// accountCerts lists every certificate in the backend's account.
func accountCerts(t *testing.T, c *Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	certs, err := c.certificatesSince(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range certs {
		out[aws.ToString(ct.CertificateArn)] = string(ct.Status)
	}
	return out
}

// assertConverged checks the end state the issue asks for: exactly one
// certificate in the account, active, attached to the thing and the
// policy, whose key is the one on disk; nothing pending or retired.
func assertConverged(t *testing.T, c *Client, thing string) *Record {
	t.Helper()
	ctx := context.Background()
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Ledger.Load(id.Account, id.Region, thing)
	if err != nil || rec == nil {
		t.Fatalf("no record: %v", err)
	}
	if rec.Pending != nil || len(rec.Retired) > 0 {
		t.Errorf("record left work: pending=%v retired=%v", rec.Pending, rec.Retired)
	}
	// No orphans: every certificate in the account is attached to a thing.
	certs := accountCerts(t, c)
	if certs[rec.CertificateARN] != "ACTIVE" {
		t.Errorf("certificate %s is %q, want ACTIVE", rec.CertificateID, certs[rec.CertificateARN])
	}
	for arn := range certs {
		if unused, err := c.unattached(ctx, arn); err != nil || unused {
			t.Errorf("orphan certificate %s (%v)", arn, err)
		}
	}
	ps, err := c.thingPrincipals(ctx, thing)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0] != rec.CertificateARN {
		t.Errorf("thing principals = %v, want [%s]", ps, rec.CertificateARN)
	}
	pols, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(rec.CertificateARN)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pols.Policies {
		names = append(names, aws.ToString(p.PolicyName))
	}
	sort.Strings(names)
	if len(names) != 1 || names[0] != rec.Policy {
		t.Errorf("certificate policies = %v, want [%s]", names, rec.Policy)
	}
	d, err := c.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(rec.CertificateID)})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := c.Ledger.ReadFile(rec, FileKeyPEM)
	if err != nil || keyPEM == nil {
		t.Fatalf("no key on disk: %v", err)
	}
	k, err := parseKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := keyMatches(aws.ToString(d.CertificateDescription.CertificatePem), k); !ok {
		t.Errorf("the key on disk does not match certificate %s", rec.CertificateID)
	}
	return rec
}

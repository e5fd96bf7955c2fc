package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/mqttview"
)

// AWSCloud adapts AWS IoT Core (through awsops) to the pipeline: the
// identity comes from awsops.Provision (idempotent, crash-safe, the key
// kept in its ledger), the first publish is watched over a SigV4
// WebSocket with the operator's credentials, and the doctor's facts come
// from the account's registry and the policy evaluator.
type AWSCloud struct {
	Client *awsops.Client
	// Credentials sign the viewer's WebSocket URL in Watch: the
	// operator's, as the client uses them. Their IAM identity needs
	// iot:Connect (client iotbench-viewer-*), iot:Subscribe and
	// iot:Receive on the boards' topics.
	Credentials aws.CredentialsProvider
	// PolicyName and PolicyDocument replace the default least-privilege
	// device policy (awsops.ProvisionOptions).
	PolicyName     string
	PolicyDocument []byte
	// CA is the Amazon root written as ca.der: awsops.RootCA1 (default)
	// or awsops.RootCA3.
	CA string
	// MQTT, when set, sends the boards and the viewer to a broker that
	// mirrors this account's data plane instead of its ATS endpoint.
	MQTT *MQTTOverride

	// mu makes the first call ask STS who the credentials are before
	// boards provisioned in parallel share the client.
	mu       sync.Mutex
	ready    bool
	endpoint string // the account's iot:Data-ATS endpoint, once asked
}

// MQTTOverride points the device side at a broker standing in for AWS
// IoT's data plane (a bench mirroring an emulated or real account), while
// the control plane stays AWS's.
type MQTTOverride struct {
	// Host and Port go into config.json: the name boards connect to, which
	// the broker's certificate must cover.
	Host string
	Port int
	// CADER is the board's ca.der: the root the broker's certificate
	// chains to (instead of the Amazon root).
	CADER []byte
	// Addr is where this machine reaches the broker (host:port); default
	// Host:Port.
	Addr string
	// ViewerTLS carries the viewer's client certificate and the broker's
	// root for Watch.
	ViewerTLS *tls.Config
}

// NewAWSCloud adapts an awsops client; creds sign the viewer's WebSocket.
func NewAWSCloud(c *awsops.Client, creds aws.CredentialsProvider) *AWSCloud {
	return &AWSCloud{Client: c, Credentials: creds}
}

func (a *AWSCloud) Kind() string { return "aws" }

// prime asks STS for the caller's identity once, under the lock: the
// client caches it unguarded, so parallel boards must find it cached.
func (a *AWSCloud) prime(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready {
		return nil
	}
	if _, err := a.Client.Identity(ctx); err != nil {
		return err
	}
	a.ready = true
	return nil
}

func (a *AWSCloud) EnsureIdentity(ctx context.Context, req IdentityRequest, note func(string)) (*Identity, error) {
	if a.Client == nil {
		return nil, errors.New("no AWS client: pass --profile/--region (or set up credentials with aws configure)")
	}
	// The pipeline's "rsa" and "ec" are awsops's bench-generated RSA-2048
	// and P-256 keys, signed from a CSR so the key never leaves the bench.
	kt, err := awsops.ParseKeyType(req.KeyType)
	if err != nil {
		return nil, err
	}
	if err := a.prime(ctx); err != nil {
		return nil, err
	}
	changed := false
	res, err := a.Client.Provision(ctx, awsops.ProvisionOptions{Thing: req.Thing, MAC: req.MAC, Chip: req.Chip, Key: kt,
		PolicyDocument: a.PolicyDocument, PolicyName: a.PolicyName, CA: a.CA,
		OnEvent: func(e awsops.Event) {
			// Files are rewritten on every run; a warning changes nothing.
			if e.Step != "files" && e.Status != "exists" && e.Status != "warning" {
				changed = true
			}
			note(e.Message)
		}})
	if err != nil {
		return nil, err
	}
	id := &Identity{Thing: res.Thing, CertificateID: res.CertificateID, PolicyName: res.Policy, Endpoint: res.Endpoint, Port: res.Port, Reused: !changed}
	for name, dst := range map[string]*[]byte{awsops.FileCertDER: &id.CertDER, awsops.FileKeyDER: &id.KeyDER, awsops.FileCADER: &id.CADER} {
		paths := res.Files[name]
		if len(paths) == 0 {
			return nil, fmt.Errorf("awsops wrote no %s for %s: run iotbench aws status --thing %s", name, res.Thing, res.Thing)
		}
		b, err := os.ReadFile(paths[0])
		if err != nil {
			return nil, fmt.Errorf("reading %s from the AWS ledger: %w", name, err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%s in the AWS ledger (%s) is empty: run the provisioning again", name, paths[0])
		}
		*dst = b
	}
	if m := a.MQTT; m != nil {
		id.Endpoint, id.Port = m.Host, m.Port
		if m.CADER != nil {
			id.CADER = append([]byte(nil), m.CADER...)
		}
		note(fmt.Sprintf("boards connect to %s:%d, the broker mirroring this account, and trust its CA instead of %s", m.Host, m.Port, res.CA))
	}
	return id, nil
}

// Watch subscribes to topic. On AWS the viewer signs a WebSocket URL with
// the operator's credentials (no device certificate needed); with an
// MQTT override it connects to the mirroring broker with ViewerTLS.
func (a *AWSCloud) Watch(ctx context.Context, topic string) (<-chan Message, error) {
	if m := a.MQTT; m != nil {
		addr := m.Addr
		if addr == "" {
			addr = net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
		}
		var tc *tls.Config
		if m.ViewerTLS != nil {
			tc = m.ViewerTLS.Clone()
		} else {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if tc.ServerName == "" {
			tc.ServerName = m.Host
		}
		return watch(ctx, mqttview.Config{Broker: "mqtts://" + addr, TLS: tc, AWSLimits: true}, topic)
	}
	cfg, err := a.viewerConfig(ctx)
	if err != nil {
		return nil, err
	}
	return watch(ctx, cfg, topic)
}

// viewerConfig is the SigV4 WebSocket viewer for the account's endpoint,
// trusting the Amazon roots iotbench carries (not the system's, which a
// bench machine may lack).
func (a *AWSCloud) viewerConfig(ctx context.Context) (mqttview.Config, error) {
	if a.Credentials == nil {
		return mqttview.Config{}, errors.New("no AWS credentials to sign the viewer's WebSocket with: the CLI passes the profile's")
	}
	ep, err := a.dataEndpoint(ctx)
	if err != nil {
		return mqttview.Config{}, err
	}
	roots := x509.NewCertPool()
	for _, name := range []string{awsops.RootCA1, awsops.RootCA3} {
		c, err := awsops.RootCA(name)
		if err != nil {
			return mqttview.Config{}, err
		}
		roots.AddCert(c)
	}
	return mqttview.AWSWebSocket(ep, a.Client.Region(), a.Credentials, roots), nil
}

func (a *AWSCloud) dataEndpoint(ctx context.Context) (string, error) {
	a.mu.Lock()
	ep := a.endpoint
	a.mu.Unlock()
	if ep != "" {
		return ep, nil
	}
	ep, err := a.Client.Endpoint(ctx)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.endpoint = ep
	a.mu.Unlock()
	return ep, nil
}

// Facts asks AWS what it knows of the board's identity: the thing, the
// certificate's status and attachments, the policy evaluator's verdict on
// connecting as the client id and publishing to the topic (against the
// policies attached in AWS), and the endpoint the board was given against
// the account's. Each call that fails leaves its part unchecked and says
// so in Errors.
func (a *AWSCloud) Facts(ctx context.Context, q FactsQuery) *doctor.CloudFacts {
	f := &doctor.CloudFacts{Cloud: "aws", Thing: q.Thing, ClientID: q.ClientID, Topic: q.Topic, CertID: q.CertificateID}
	if err := a.prime(ctx); err != nil {
		f.Errors = append(f.Errors, "who the AWS credentials belong to (sts:GetCallerIdentity), so nothing in AWS was checked: "+err.Error())
		return f
	}
	st, err := a.Client.Status(ctx, q.Thing)
	var nf *awsops.NotFoundError
	switch {
	case errors.As(err, &nf):
		f.ThingChecked = true
	case err != nil:
		f.Errors = append(f.Errors, "the thing and its certificate (iot:DescribeThing, DescribeCertificate, ListAttachedPolicies): "+err.Error())
	default:
		f.ThingChecked, f.ThingExists = true, st.Exists
		f.CertChecked = true
		for _, c := range st.Certificates {
			if c.ID != q.CertificateID {
				continue
			}
			// Status reports a certificate gone from AWS as DELETED.
			f.CertFound = c.Status != "DELETED"
			f.CertStatus, f.CertAttached = c.Status, c.Attached
			f.PolicyChecked, f.Policies = true, c.Policies
		}
	}
	if f.ThingExists {
		chk, err := a.Client.CheckPolicy(ctx, awsops.CheckRequest{Thing: q.Thing, ClientID: q.ClientID, Publish: []string{q.Topic}})
		if err != nil {
			f.Errors = append(f.Errors, "what the attached policies allow (iot:ListThingPrincipals, ListAttachedPolicies, GetPolicy): "+err.Error())
		} else {
			for _, d := range chk.Decisions {
				dec := &doctor.Decision{Allowed: d.Allowed, Reason: d.Reason}
				switch d.Action {
				case "iot:Connect":
					f.Connect = dec
				case "iot:Publish":
					f.Publish = dec
				}
			}
		}
	}
	want := ""
	if a.MQTT != nil {
		want = a.MQTT.Host
	} else if ep, err := a.dataEndpoint(ctx); err != nil {
		f.Errors = append(f.Errors, "the account's data endpoint (iot:DescribeEndpoint): "+err.Error())
	} else {
		want = ep
	}
	// Without the endpoint the board uses (a ledger entry from elsewhere)
	// there is nothing to compare.
	if want != "" && q.Endpoint != "" {
		f.EndpointChecked, f.Endpoint, f.WantEndpoint, f.EndpointKind = true, q.Endpoint, want, EndpointKind(q.Endpoint)
	}
	return f
}

var (
	atsEndpointRE    = regexp.MustCompile(`^[a-z0-9]+-ats\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)
	legacyEndpointRE = regexp.MustCompile(`^[a-z0-9]+\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)
)

// EndpointKind classifies a data endpoint host: "ats" (iot:Data-ATS, what
// Amazon Root CA 1/3 verify), "legacy" (iot:Data, the VeriSign chain AWS
// no longer serves to new clients) or "other".
func EndpointKind(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case atsEndpointRE.MatchString(h):
		return "ats"
	case legacyEndpointRE.MatchString(h):
		return "legacy"
	}
	return "other"
}

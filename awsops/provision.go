package awsops

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/firmware"
)

// DefaultPolicyName is the one policy every board shares: it names the
// thing only through policy variables.
const DefaultPolicyName = "iotbench-device"

// The device files, as the reference firmware reads them from its
// filesystem (device-side.md §3.2), and their PEM copies.
const (
	FileCertDER = "cert.der"
	FileKeyDER  = "private.der"
	FileCADER   = "ca.der"
	FileCertPEM = "cert.pem"
	FileKeyPEM  = "private.pem"
	FileCAPEM   = "ca.pem"
)

// ProvisionOptions describe the identity to set up.
type ProvisionOptions struct {
	// Thing is the thing name, also the MQTT client id. Empty: derived
	// from MAC and Chip (esp8266-a1b2c3).
	Thing string
	MAC   string
	Chip  string
	// Key is how the key pair is made (default KeyRSA2048).
	Key KeyType
	// PolicyDocument replaces the default least-privilege template (a
	// user's --policy FILE); PolicyName names it (default
	// DefaultPolicyName for the template, THING-policy otherwise).
	PolicyDocument []byte
	PolicyName     string
	// CA is the root written as ca.der (RootCA1 default, or RootCA3).
	CA string
	// OutDir also receives the device files (the ledger folder always
	// does).
	OutDir string
	// OnEvent receives one event per step.
	OnEvent func(Event)
}

// Event is one step's outcome. It never carries key material.
type Event struct {
	Step    string `json:"step"`
	Status  string `json:"status"` // done, exists, updated, recovered, removed, warning
	Message string `json:"message"`
}

// Topics are the thing's MQTT topics.
type Topics struct {
	Telemetry string `json:"telemetry"`
	Status    string `json:"status"`
	Command   string `json:"command"`
}

// TopicsFor returns the topic layout of a thing.
func TopicsFor(thing string) Topics {
	return Topics{Telemetry: firmware.TelemetryTopic(thing), Status: firmware.StatusTopic(thing), Command: firmware.CommandTopic(thing)}
}

// Result is what a board needs, minus the secrets (which are in Files).
type Result struct {
	Thing          string  `json:"thing"`
	ThingARN       string  `json:"thing_arn"`
	ClientID       string  `json:"client_id"`
	CertificateID  string  `json:"certificate_id"`
	CertificateARN string  `json:"certificate_arn"`
	KeyType        KeyType `json:"key_type"`
	Policy         string  `json:"policy"`
	Endpoint       string  `json:"endpoint"`
	Port           int     `json:"port"`
	Region         string  `json:"region"`
	Account        string  `json:"account"`
	CA             string  `json:"ca"`
	Topics         Topics  `json:"topics"`
	// Files maps each device file name to where it was written.
	Files     map[string][]string `json:"files"`
	LedgerDir string              `json:"ledger_dir"`
}

type flow struct {
	c   *Client
	o   ProvisionOptions
	id  *Identity
	rec *Record
	key crypto.Signer
}

func (f *flow) emit(step, status, format string, args ...any) {
	if f.o.OnEvent != nil {
		f.o.OnEvent(Event{Step: step, Status: status, Message: fmt.Sprintf(format, args...)})
	}
}

func (f *flow) save() error {
	f.rec.UpdatedAt = f.c.now().UTC()
	if err := f.c.Ledger.Save(f.rec); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func (f *flow) done(step string) error {
	f.rec.Steps[step] = f.c.now().UTC()
	if err := f.save(); err != nil {
		return err
	}
	return f.c.checkpoint(step)
}

// Provision creates or reuses everything a board needs to publish to AWS
// IoT, and writes its files. Every step looks at the ledger and at AWS
// before acting, so a run stopped anywhere and run again ends in the same
// state: one active certificate whose key is on disk, attached to the
// thing and to the policy, and nothing left behind.
func (c *Client) Provision(ctx context.Context, o ProvisionOptions) (*Result, error) {
	if o.Thing == "" && o.MAC != "" {
		name, err := DefaultThingName(o.Chip, o.MAC)
		if err != nil {
			return nil, err
		}
		o.Thing = name
	}
	if err := ValidateThingName(o.Thing); err != nil {
		return nil, err
	}
	if o.MAC != "" {
		m, err := NormalizeMAC(o.MAC)
		if err != nil {
			return nil, err
		}
		o.MAC = m
	}
	if o.Key == "" {
		o.Key = KeyRSA2048
	}
	if _, err := ParseKeyType(string(o.Key)); err != nil {
		return nil, err
	}
	if o.CA == "" {
		o.CA = RootCA1
	}
	if _, err := RootCAPEM(o.CA); err != nil {
		return nil, err
	}
	if o.PolicyDocument != nil {
		if _, err := policy.Parse(o.PolicyDocument); err != nil {
			return nil, &InputError{Msg: err.Error()}
		}
		if o.PolicyName == "" {
			o.PolicyName = o.Thing + "-policy"
		}
	} else if o.PolicyName == "" {
		o.PolicyName = DefaultPolicyName
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	f := &flow{c: c, o: o, id: id}
	if f.rec, err = c.Ledger.Load(id.Account, id.Region, o.Thing); err != nil {
		return nil, err
	}
	if f.rec == nil {
		now := c.now().UTC()
		f.rec = &Record{Version: recordVersion, Thing: o.Thing, Partition: id.Partition, Account: id.Account,
			Region: id.Region, CreatedAt: now, Steps: map[string]time.Time{}}
	}
	if o.MAC != "" {
		f.rec.MAC = o.MAC
	}
	f.rec.CA = o.CA
	if o.OutDir != "" {
		abs, err := filepath.Abs(o.OutDir)
		if err != nil {
			return nil, err
		}
		f.rec.OutDir = abs
	}
	if err := f.save(); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context) error{f.endpoint, f.thing, f.policy, f.certificate, f.attachPolicy, f.attachThing, f.cleanup, f.files} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return f.result(), nil
}

func (f *flow) result() *Result {
	r := f.rec
	res := &Result{Thing: r.Thing, ThingARN: r.ThingARN, ClientID: r.Thing, CertificateID: r.CertificateID,
		CertificateARN: r.CertificateARN, KeyType: r.KeyType, Policy: r.Policy, Endpoint: r.Endpoint, Port: 8883,
		Region: r.Region, Account: r.Account, CA: r.CA, Topics: TopicsFor(r.Thing), Files: map[string][]string{},
		LedgerDir: f.c.Ledger.ThingDir(r.Account, r.Region, r.Thing)}
	for _, name := range []string{FileCertDER, FileKeyDER, FileCADER, FileCertPEM, FileKeyPEM, FileCAPEM} {
		res.Files[name] = append(res.Files[name], f.c.Ledger.Path(r, name))
		if r.OutDir != "" {
			res.Files[name] = append(res.Files[name], filepath.Join(r.OutDir, name))
		}
	}
	return res
}

func (f *flow) endpoint(ctx context.Context) error {
	if f.rec.Endpoint != "" {
		f.emit("endpoint", "exists", "data endpoint %s", f.rec.Endpoint)
		return f.done("endpoint")
	}
	ep, err := f.c.Endpoint(ctx)
	if err != nil {
		return err
	}
	f.rec.Endpoint = ep
	f.emit("endpoint", "done", "data endpoint %s (iot:Data-ATS)", ep)
	return f.done("endpoint")
}

// Endpoint returns the account's ATS data endpoint.
func (c *Client) Endpoint(ctx context.Context) (string, error) {
	out, err := c.iot.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	if err != nil {
		return "", c.classify("iot:DescribeEndpoint", err)
	}
	return aws.ToString(out.EndpointAddress), nil
}

func (f *flow) thing(ctx context.Context) error {
	c := f.c
	out, err := c.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(f.o.Thing)})
	if err == nil {
		f.rec.ThingARN = aws.ToString(out.ThingArn)
		f.emit("thing", "exists", "thing %s exists", f.o.Thing)
		return f.done("thing")
	}
	if !isNotFound(err) {
		return c.classify("iot:DescribeThing", err)
	}
	in := &iot.CreateThingInput{ThingName: aws.String(f.o.Thing)}
	if f.o.MAC != "" {
		in.AttributePayload = &iottypes.AttributePayload{Attributes: map[string]string{"mac": f.o.MAC}}
	}
	cout, err := c.iot.CreateThing(ctx, in)
	if err != nil {
		return c.classify("iot:CreateThing", err)
	}
	f.rec.ThingARN = aws.ToString(cout.ThingArn)
	f.emit("thing", "done", "created thing %s", f.o.Thing)
	return f.done("thing")
}

func (f *flow) policy(ctx context.Context) error {
	doc := f.o.PolicyDocument
	if doc == nil {
		doc = policy.DevicePolicy(f.id.Scope(), "")
	}
	status, created, err := f.c.EnsurePolicy(ctx, f.o.PolicyName, doc)
	if err != nil {
		return err
	}
	if f.rec.Policy != f.o.PolicyName {
		f.rec.PolicyManaged = created
	} else if created {
		f.rec.PolicyManaged = true
	}
	f.rec.Policy = f.o.PolicyName
	switch status {
	case "exists":
		f.emit("policy", "exists", "policy %s is up to date", f.o.PolicyName)
	case "updated":
		f.emit("policy", "updated", "policy %s updated (new default version)", f.o.PolicyName)
	default:
		f.emit("policy", "done", "created policy %s", f.o.PolicyName)
	}
	return f.done("policy")
}

// EnsurePolicy makes the named policy's default version equal doc:
// created, left alone, or given a new default version (pruning the oldest
// version when AWS's five are used up). status is "created", "exists" or
// "updated".
func (c *Client) EnsurePolicy(ctx context.Context, name string, doc []byte) (status string, created bool, err error) {
	if _, err := policy.Parse(doc); err != nil {
		return "", false, &InputError{Msg: err.Error()}
	}
	get, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if isNotFound(err) {
		_, err = c.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(string(doc))})
		if err == nil {
			return "created", true, nil
		}
		if !isCode(err, "ResourceAlreadyExistsException") {
			return "", false, c.classify("iot:CreatePolicy", err)
		}
		get, err = c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	}
	if err != nil {
		return "", false, c.classify("iot:GetPolicy", err)
	}
	// AWS keeps the caller's whitespace: compare the JSON, not the text.
	have, err1 := policy.Normalize([]byte(aws.ToString(get.PolicyDocument)))
	want, err2 := policy.Normalize(doc)
	if err1 == nil && err2 == nil && string(have) == string(want) {
		return "exists", false, nil
	}
	for attempt := 0; attempt < 6; attempt++ {
		_, err = c.iot.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(name),
			PolicyDocument: aws.String(string(doc)), SetAsDefault: true})
		if err == nil {
			return "updated", false, nil
		}
		if !isCode(err, "VersionsLimitExceededException") {
			return "", false, c.classify("iot:CreatePolicyVersion", err)
		}
		if err := c.pruneOldestPolicyVersion(ctx, name); err != nil {
			return "", false, err
		}
	}
	return "", false, c.classify("iot:CreatePolicyVersion", err)
}

func (c *Client) pruneOldestPolicyVersion(ctx context.Context, name string) error {
	out, err := c.iot.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	if err != nil {
		return c.classify("iot:ListPolicyVersions", err)
	}
	var old []iottypes.PolicyVersion
	for _, v := range out.PolicyVersions {
		if !v.IsDefaultVersion {
			old = append(old, v)
		}
	}
	if len(old) == 0 {
		return fmt.Errorf("policy %s: no non-default version to prune", name)
	}
	sort.Slice(old, func(i, j int) bool {
		a, b := aws.ToTime(old[i].CreateDate), aws.ToTime(old[j].CreateDate)
		if !a.Equal(b) {
			return a.Before(b)
		}
		x, _ := strconv.Atoi(aws.ToString(old[i].VersionId))
		y, _ := strconv.Atoi(aws.ToString(old[j].VersionId))
		return x < y
	})
	_, err = c.iot.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(name), PolicyVersionId: old[0].VersionId})
	if err != nil && !isNotFound(err) {
		return c.classify("iot:DeletePolicyVersion", err)
	}
	return nil
}

// loadKey reads the thing's key from the ledger; nil when there is none
// or it cannot be read.
func (f *flow) loadKey() crypto.Signer {
	b, err := f.c.Ledger.ReadFile(f.rec, FileKeyPEM)
	if err != nil || b == nil {
		return nil
	}
	k, err := parseKeyPEM(b)
	if err != nil {
		return nil
	}
	return k
}

func keyTypeOf(k crypto.Signer) KeyType {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return KeyECP256
	case *rsa.PrivateKey:
		_ = k
		return KeyRSA2048
	}
	return ""
}

func (f *flow) retire(id, arn, reason string) {
	for _, r := range f.rec.Retired {
		if r.CertificateID == id {
			return
		}
	}
	f.rec.Retired = append(f.rec.Retired, Retired{CertificateID: id, CertificateARN: arn, Reason: reason, Since: f.c.now().UTC()})
}

func (f *flow) clearCert() {
	f.rec.CertificateID, f.rec.CertificateARN = "", ""
}

func (f *flow) certificate(ctx context.Context) error {
	c := f.c
	f.key = f.loadKey()
	if f.rec.CertificateID != "" {
		if err := f.checkRecordedCert(ctx); err != nil {
			return err
		}
	}
	if f.rec.CertificateID == "" && f.rec.Pending != nil {
		if err := f.recoverPending(ctx); err != nil {
			return err
		}
	}
	if f.rec.CertificateID != "" {
		return f.done("certificate")
	}
	// A key with no certificate yet: keep it only if it is what was asked.
	if f.key != nil && (f.o.Key == KeyAWSGenerated || keyTypeOf(f.key) != f.o.Key) {
		os.Remove(c.Ledger.Path(f.rec, FileKeyPEM))
		f.key = nil
	}
	if f.o.Key == KeyAWSGenerated {
		return f.awsGenerated(ctx)
	}
	if f.key == nil {
		k, err := generateKey(f.o.Key)
		if err != nil {
			return err
		}
		pemKey, err := keyPEM(k)
		if err != nil {
			return err
		}
		if err := c.Ledger.WriteFile(f.rec, FileKeyPEM, pemKey); err != nil {
			return fmt.Errorf("saving the private key: %w", err)
		}
		f.key = k
		f.rec.KeyType = f.o.Key
		f.rec.PublicKeySHA256, _ = publicKeyHash(k.Public())
		f.emit("key", "done", "generated a %s key pair on this bench", f.o.Key)
		if err := f.done("key"); err != nil {
			return err
		}
	}
	csr, err := makeCSR(f.key, f.o.Thing)
	if err != nil {
		return err
	}
	hash, _ := publicKeyHash(f.key.Public())
	f.rec.Pending = &Pending{Route: keyTypeOf(f.key), StartedAt: c.now().UTC(), PublicKeySHA256: hash}
	if err := f.save(); err != nil {
		return err
	}
	if err := c.checkpoint("certificate-request"); err != nil {
		return err
	}
	out, err := c.iot.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(csr), SetAsActive: true}, c.onlyThrottleRetries)
	if err != nil {
		return c.classify("iot:CreateCertificateFromCsr", err)
	}
	if err := c.checkpoint("certificate-response"); err != nil {
		return err
	}
	certID, certARN, certPEM := aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
	if ok, _ := keyMatches(certPEM, f.key); !ok {
		// AWS certifies the CSR's key; moto does not (aws-iot.md §9.2).
		// Such a certificate is useless to the board: remove it now.
		f.retire(certID, certARN, "issued for a different key than the CSR's")
		f.rec.Pending = nil
		if err := f.save(); err != nil {
			return err
		}
		f.cleanup(ctx)
		return &KeyMismatchError{CertificateID: certID, Why: "the service issued it for another key than the CSR's (moto does this; AWS does not)"}
	}
	if err := c.Ledger.WriteFile(f.rec, FileCertPEM, []byte(certPEM)); err != nil {
		return err
	}
	f.rec.CertificateID, f.rec.CertificateARN, f.rec.Pending = certID, certARN, nil
	f.rec.KeyType = keyTypeOf(f.key)
	f.emit("certificate", "done", "AWS signed the bench's CSR: certificate %s, active", short(certID))
	return f.done("certificate")
}

func (f *flow) awsGenerated(ctx context.Context) error {
	c := f.c
	f.rec.Pending = &Pending{Route: KeyAWSGenerated, StartedAt: c.now().UTC()}
	if err := f.save(); err != nil {
		return err
	}
	if err := c.checkpoint("certificate-request"); err != nil {
		return err
	}
	out, err := c.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true}, c.onlyThrottleRetries)
	if err != nil {
		return c.classify("iot:CreateKeysAndCertificate", err)
	}
	if err := c.checkpoint("certificate-response"); err != nil {
		return err
	}
	if out.KeyPair == nil {
		return fmt.Errorf("iot:CreateKeysAndCertificate returned no key pair")
	}
	k, err := parseKeyPEM([]byte(aws.ToString(out.KeyPair.PrivateKey)))
	if err != nil {
		return fmt.Errorf("iot:CreateKeysAndCertificate returned an unreadable private key: %v", err)
	}
	// AWS hands the key over once: it goes to disk before anything else.
	pemKey, err := keyPEM(k)
	if err != nil {
		return err
	}
	if err := c.Ledger.WriteFile(f.rec, FileKeyPEM, pemKey); err != nil {
		return fmt.Errorf("saving the private key: %w", err)
	}
	if err := c.checkpoint("certificate-key-saved"); err != nil {
		return err
	}
	certID, certARN, certPEM := aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
	if err := c.Ledger.WriteFile(f.rec, FileCertPEM, []byte(certPEM)); err != nil {
		return err
	}
	f.key = k
	f.rec.KeyType = KeyAWSGenerated
	f.rec.PublicKeySHA256, _ = publicKeyHash(k.Public())
	f.rec.CertificateID, f.rec.CertificateARN, f.rec.Pending = certID, certARN, nil
	f.emit("certificate", "done", "AWS generated the key pair and certificate %s, active; the key is saved on this bench only", short(certID))
	return f.done("certificate")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// checkRecordedCert keeps the recorded certificate if AWS still has it,
// it can be active and the key on disk is its key; otherwise it is retired.
func (f *flow) checkRecordedCert(ctx context.Context) error {
	c := f.c
	id := f.rec.CertificateID
	out, err := c.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if isNotFound(err) {
		f.emit("certificate", "warning", "certificate %s is gone from AWS; making a new one", short(id))
		f.clearCert()
		return f.save()
	}
	if err != nil {
		return c.classify("iot:DescribeCertificate", err)
	}
	d := out.CertificateDescription
	certPEM := aws.ToString(d.CertificatePem)
	if f.key == nil {
		f.emit("certificate", "warning", "the key of certificate %s is not on this bench any more; replacing the certificate", short(id))
		f.retire(id, f.rec.CertificateARN, "its key was lost")
		f.clearCert()
		return f.save()
	}
	if ok, _ := keyMatches(certPEM, f.key); !ok {
		f.emit("certificate", "warning", "certificate %s does not hold the key on this bench; replacing it", short(id))
		f.retire(id, f.rec.CertificateARN, "it does not hold the bench's key")
		f.clearCert()
		return f.save()
	}
	switch d.Status {
	case iottypes.CertificateStatusActive:
		f.emit("certificate", "exists", "certificate %s is active", short(id))
	case iottypes.CertificateStatusInactive:
		if _, err := c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: iottypes.CertificateStatusActive}); err != nil {
			return c.classify("iot:UpdateCertificate", err)
		}
		f.emit("certificate", "updated", "certificate %s was inactive; activated it", short(id))
	default:
		// Revoked (or stuck in a transfer): its key counts as burnt too.
		f.emit("certificate", "warning", "certificate %s is %s; replacing it and its key", short(id), d.Status)
		f.retire(id, f.rec.CertificateARN, "it is "+string(d.Status))
		f.clearCert()
		os.Remove(c.Ledger.Path(f.rec, FileKeyPEM))
		f.key = nil
		return f.save()
	}
	if err := c.Ledger.WriteFile(f.rec, FileCertPEM, []byte(certPEM)); err != nil {
		return err
	}
	return nil
}

// recoverPending finds what an interrupted certificate request minted.
// With the key on disk the certificate is recognised by its public key and
// adopted; duplicates (from retries) are retired. Without a key (AWS
// generated one and the run died before saving it) the certificates the
// request could have minted — created around it, attached to nothing —
// are retired: nobody can use them.
func (f *flow) recoverPending(ctx context.Context) error {
	c := f.c
	p := f.rec.Pending
	certs, err := c.certificatesSince(ctx, p.StartedAt.Add(-5*time.Minute))
	if err != nil {
		return err
	}
	if f.key != nil {
		want, _ := publicKeyHash(f.key.Public())
		var matches []iottypes.Certificate
		for _, ct := range certs {
			d, err := c.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: ct.CertificateId})
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return c.classify("iot:DescribeCertificate", err)
			}
			if h, err := certKeyHash(aws.ToString(d.CertificateDescription.CertificatePem)); err == nil && h == want {
				matches = append(matches, ct)
				if ct.Status == iottypes.CertificateStatusRevoked {
					continue
				}
			}
		}
		sort.Slice(matches, func(i, j int) bool {
			return aws.ToTime(matches[i].CreationDate).Before(aws.ToTime(matches[j].CreationDate))
		})
		for _, m := range matches {
			if f.rec.CertificateID == "" && m.Status != iottypes.CertificateStatusRevoked {
				d, err := c.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: m.CertificateId})
				if err != nil {
					return c.classify("iot:DescribeCertificate", err)
				}
				if err := c.Ledger.WriteFile(f.rec, FileCertPEM, []byte(aws.ToString(d.CertificateDescription.CertificatePem))); err != nil {
					return err
				}
				f.rec.CertificateID, f.rec.CertificateARN = aws.ToString(m.CertificateId), aws.ToString(m.CertificateArn)
				if f.rec.KeyType == "" || p.Route == KeyAWSGenerated {
					f.rec.KeyType = p.Route
				}
				f.rec.PublicKeySHA256 = want
				f.emit("certificate", "recovered", "found certificate %s, minted by the interrupted run for this bench's key", short(f.rec.CertificateID))
				if m.Status != iottypes.CertificateStatusActive {
					if _, err := c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: m.CertificateId, NewStatus: iottypes.CertificateStatusActive}); err != nil {
						return c.classify("iot:UpdateCertificate", err)
					}
				}
				continue
			}
			f.retire(aws.ToString(m.CertificateId), aws.ToString(m.CertificateArn), "a duplicate minted by an interrupted request")
		}
	} else if p.Route == KeyAWSGenerated {
		from, to := p.StartedAt.Add(-time.Minute), p.StartedAt.Add(2*time.Minute)
		for _, ct := range certs {
			t := aws.ToTime(ct.CreationDate)
			if t.Before(from) || t.After(to) {
				continue
			}
			unused, err := c.unattached(ctx, aws.ToString(ct.CertificateArn))
			if err != nil {
				return err
			}
			if unused {
				f.retire(aws.ToString(ct.CertificateId), aws.ToString(ct.CertificateArn), "minted by an interrupted run whose key was never saved")
				f.emit("certificate", "warning", "certificate %s was minted by an interrupted run and its key is lost; it will be removed", short(aws.ToString(ct.CertificateId)))
			}
		}
	}
	f.rec.Pending = nil
	return f.save()
}

// certificatesSince lists the account's certificates created at or after t.
func (c *Client) certificatesSince(ctx context.Context, t time.Time) ([]iottypes.Certificate, error) {
	var out []iottypes.Certificate
	var marker *string
	for {
		page, err := c.iot.ListCertificates(ctx, &iot.ListCertificatesInput{Marker: marker, PageSize: aws.Int32(250)})
		if err != nil {
			return nil, c.classify("iot:ListCertificates", err)
		}
		older := false
		for _, ct := range page.Certificates {
			if ct.CreationDate != nil && ct.CreationDate.Before(t) {
				older = true
				continue
			}
			out = append(out, ct)
		}
		// Newest first: once a page reaches older ones, the rest are older.
		if older || page.NextMarker == nil || aws.ToString(page.NextMarker) == "" {
			return out, nil
		}
		marker = page.NextMarker
	}
}

// unattached reports whether a certificate has no thing and no policy.
func (c *Client) unattached(ctx context.Context, arn string) (bool, error) {
	things, err := c.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})
	if err != nil {
		return false, c.classify("iot:ListPrincipalThings", err)
	}
	if len(things.Things) > 0 {
		return false, nil
	}
	pols, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
	if err != nil {
		return false, c.classify("iot:ListAttachedPolicies", err)
	}
	return len(pols.Policies) == 0, nil
}

// onlyThrottleRetries makes a call that mints a certificate retry only
// when AWS said it did nothing (a throttle). A timeout or a 5xx might have
// minted one; the ledger's recovery finds it on the next run, where a blind
// retry would mint a second.
func (c *Client) onlyThrottleRetries(o *iot.Options) {
	codes := map[string]struct{}{}
	for k, v := range retry.DefaultThrottleErrorCodes {
		if k != "LimitExceededException" {
			codes[k] = v
		}
	}
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = c.opts.MaxAttempts
		so.MaxBackoff = c.opts.MaxBackoff
		so.Backoff = retry.NewExponentialJitterBackoff(c.opts.MaxBackoff)
		so.RateLimiter = ratelimit.None
		so.Retryables = []retry.IsErrorRetryable{retry.NoRetryCanceledError{}, retry.RetryableErrorCode{Codes: codes}}
	})
}

func (f *flow) attachPolicy(ctx context.Context) error {
	c := f.c
	arn := f.rec.CertificateARN
	out, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
	if err != nil {
		return c.classify("iot:ListAttachedPolicies", err)
	}
	for _, p := range out.Policies {
		if aws.ToString(p.PolicyName) == f.rec.Policy {
			f.emit("attach-policy", "exists", "policy %s is attached to the certificate", f.rec.Policy)
			return f.done("attach-policy")
		}
	}
	if _, err := c.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(f.rec.Policy), Target: aws.String(arn)}); err != nil {
		return c.classify("iot:AttachPolicy", err)
	}
	f.emit("attach-policy", "done", "attached policy %s to the certificate", f.rec.Policy)
	return f.done("attach-policy")
}

func (f *flow) attachThing(ctx context.Context) error {
	c := f.c
	arn := f.rec.CertificateARN
	ps, err := c.thingPrincipals(ctx, f.o.Thing)
	if err != nil {
		return err
	}
	attached := false
	for _, p := range ps {
		if p == arn {
			attached = true
			continue
		}
		retired := false
		for _, r := range f.rec.Retired {
			retired = retired || r.CertificateARN == p
		}
		if !retired {
			f.emit("attach-thing", "warning", "thing %s also has %s attached, which this bench did not make; left alone (iotbench aws deprovision --force removes it)", f.o.Thing, p)
		}
	}
	if attached {
		f.emit("attach-thing", "exists", "the certificate is attached to thing %s", f.o.Thing)
		return f.done("attach-thing")
	}
	_, err = c.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(f.o.Thing), Principal: aws.String(arn)})
	if err != nil {
		return c.classify("iot:AttachThingPrincipal", err)
	}
	f.emit("attach-thing", "done", "attached the certificate to thing %s", f.o.Thing)
	return f.done("attach-thing")
}

func (c *Client) thingPrincipals(ctx context.Context, thing string) ([]string, error) {
	var out []string
	var token *string
	for {
		page, err := c.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing), NextToken: token})
		if err != nil {
			return nil, c.classify("iot:ListThingPrincipals", err)
		}
		out = append(out, page.Principals...)
		if page.NextToken == nil || *page.NextToken == "" {
			return out, nil
		}
		token = page.NextToken
	}
}

func (f *flow) cleanup(ctx context.Context) error {
	for len(f.rec.Retired) > 0 {
		r := f.rec.Retired[0]
		removed, err := f.c.removeCertificate(ctx, r.CertificateID, r.CertificateARN, f.o.OnEvent)
		if err != nil {
			return err
		}
		if removed {
			f.emit("cleanup", "removed", "deleted certificate %s (%s)", short(r.CertificateID), r.Reason)
		}
		f.rec.Retired = f.rec.Retired[1:]
		if err := f.save(); err != nil {
			return err
		}
	}
	return f.done("cleanup")
}

// removeCertificate tears a certificate down in AWS's order: detach from
// things, detach policies, deactivate, delete (retrying while a detach
// propagates). removed is false when it was already gone.
func (c *Client) removeCertificate(ctx context.Context, id, arn string, onEvent func(Event)) (bool, error) {
	emit := func(format string, args ...any) {
		if onEvent != nil {
			onEvent(Event{Step: "cleanup", Status: "removed", Message: fmt.Sprintf(format, args...)})
		}
	}
	things, err := c.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, c.classify("iot:ListPrincipalThings", err)
	}
	for _, t := range things.Things {
		if _, err := c.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(t), Principal: aws.String(arn)}); err != nil && !isNotFound(err) {
			return false, c.classify("iot:DetachThingPrincipal", err)
		}
		emit("detached certificate %s from thing %s", short(id), t)
	}
	pols, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
	if err != nil && !isNotFound(err) {
		return false, c.classify("iot:ListAttachedPolicies", err)
	}
	if err == nil {
		for _, p := range pols.Policies {
			if _, err := c.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: p.PolicyName, Target: aws.String(arn)}); err != nil && !isNotFound(err) {
				return false, c.classify("iot:DetachPolicy", err)
			}
			emit("detached policy %s from certificate %s", aws.ToString(p.PolicyName), short(id))
		}
	}
	_, err = c.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: iottypes.CertificateStatusInactive})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil && !isCode(err, "CertificateStateException") {
		return false, c.classify("iot:UpdateCertificate", err)
	}
	delay := 250 * time.Millisecond
	deadline := c.now().Add(20 * time.Second)
	for {
		_, err = c.iot.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
		if err == nil {
			return true, nil
		}
		if isNotFound(err) {
			return false, nil
		}
		// DetachThingPrincipal is asynchronous on AWS.
		if !isCode(err, "DeleteConflictException") || c.now().After(deadline) {
			return false, c.classify("iot:DeleteCertificate", err)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 4*time.Second)
	}
}

func (f *flow) files(ctx context.Context) error {
	c := f.c
	certPEM, err := c.Ledger.ReadFile(f.rec, FileCertPEM)
	if err != nil || certPEM == nil {
		return fmt.Errorf("ledger: certificate PEM missing for %s", f.o.Thing)
	}
	cert, err := parseCertPEM(string(certPEM))
	if err != nil {
		return fmt.Errorf("ledger: %s: %v", FileCertPEM, err)
	}
	if f.key == nil {
		f.key = f.loadKey()
	}
	if f.key == nil {
		return fmt.Errorf("ledger: the private key of %s is missing", f.o.Thing)
	}
	if ok, _ := keyMatches(string(certPEM), f.key); !ok {
		return &KeyMismatchError{CertificateID: f.rec.CertificateID, Why: "the key on disk is not the certificate's"}
	}
	kder, _, err := keyDER(f.key)
	if err != nil {
		return err
	}
	kpem, err := keyPEM(f.key)
	if err != nil {
		return err
	}
	caPEM, err := RootCAPEM(f.rec.CA)
	if err != nil {
		return err
	}
	ca, err := RootCA(f.rec.CA)
	if err != nil {
		return err
	}
	set := []struct {
		name   string
		data   []byte
		secret bool
	}{
		{FileCertDER, cert.Raw, false},
		{FileCertPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), false},
		{FileKeyDER, kder, true},
		{FileKeyPEM, kpem, true},
		{FileCADER, ca.Raw, false},
		{FileCAPEM, caPEM, false},
	}
	dirs := []string{c.Ledger.ThingDir(f.rec.Account, f.rec.Region, f.rec.Thing)}
	if f.rec.OutDir != "" {
		dirs = append(dirs, f.rec.OutDir)
	}
	for _, dir := range dirs {
		for _, s := range set {
			mode := os.FileMode(0o644)
			if s.secret {
				mode = 0o600
			}
			if err := writeFileMode(filepath.Join(dir, s.name), s.data, mode); err != nil {
				return fmt.Errorf("writing %s: %w", s.name, err)
			}
		}
	}
	where := dirs[len(dirs)-1]
	f.emit("files", "done", "wrote cert.der, private.der (%s), ca.der (%s) and PEM copies to %s", keyFormat(f.key), f.rec.CA, where)
	return f.done("files")
}

func keyFormat(k crypto.Signer) string {
	if _, ok := k.(*rsa.PrivateKey); ok {
		return "PKCS#1 RSA"
	}
	return "SEC1 EC"
}

// writeFileMode is writeFileAtomic with a mode for files that are not
// secret.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := writeFileAtomic(path, data); err != nil {
		return err
	}
	if mode != 0o600 {
		return os.Chmod(path, mode)
	}
	return nil
}

// ParseCertificatePEM is x509 parsing of a PEM certificate (for callers
// checking the files).
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) { return parseCertPEM(string(b)) }

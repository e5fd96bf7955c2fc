package localcloud

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/firmware"
)

// Scope is where the local cloud's resources live in ARNs: a region and
// account no AWS account can have, so a local ARN is never mistaken for a
// real one.
var Scope = policy.Scope{Partition: "aws", Region: "local", Account: "000000000000"}

// Policy names the local cloud creates.
const (
	DevicePolicyName = "iotbench-device"
	ViewerPolicyName = "iotbench-viewer"
	// ViewerClientPrefix is what viewer client IDs start with; the viewer
	// policy allows iot:Connect only for those.
	ViewerClientPrefix = "iotbench-viewer-"
	viewerThing        = "iotbench-viewer"
)

// DefaultPort is the MQTT-over-TLS port boards use, as on AWS IoT.
const DefaultPort = 8883

// InputError is a request the local cloud refuses for what it asks (a bad
// thing name, a CSR it cannot accept).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// NotFoundError is an unknown thing.
type NotFoundError struct{ Thing string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("thing %q is not provisioned in the local cloud", e.Thing)
}

// Cloud is one local cloud's state on disk: CA, registry, telemetry.
// Several processes may open the same directory.
type Cloud struct {
	dir       string
	ca        *CA
	reg       *registryFile
	telemetry *Telemetry
}

// DefaultDir is $XDG_DATA_HOME/iotbench/localcloud, else
// ~/.local/share/iotbench/localcloud.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "iotbench", "localcloud"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the local cloud's data: set XDG_DATA_HOME")
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "iotbench", "localcloud"), nil
}

// Open opens (creating on first use) the local cloud kept in dir: the CA
// is made once and reused, so boards provisioned earlier keep working.
func Open(dir string) (*Cloud, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := loadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		return nil, err
	}
	c := &Cloud{dir: dir, ca: ca, reg: &registryFile{path: filepath.Join(dir, "registry.json")}}
	c.telemetry = newTelemetry(filepath.Join(dir, "telemetry"))
	if err := c.ensurePolicies(); err != nil {
		return nil, err
	}
	return c, nil
}

// Close releases open telemetry files.
func (c *Cloud) Close() error { return c.telemetry.Close() }

// Dir is the data directory.
func (c *Cloud) Dir() string { return c.dir }

// CA returns the local certificate authority.
func (c *Cloud) CA() *CA { return c.ca }

// Telemetry returns the time-series store.
func (c *Cloud) Telemetry() *Telemetry { return c.telemetry }

// ViewerPolicy lets a viewer (client ID iotbench-viewer-*) watch, publish
// and clear retained messages anywhere: the operator's own bench.
func ViewerPolicy() []byte {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Effect": "Allow", "Action": policy.ActionConnect, "Resource": Scope.ClientARN(ViewerClientPrefix + "*")},
			{"Effect": "Allow", "Action": []string{policy.ActionSubscribe}, "Resource": Scope.TopicFilterARN("*")},
			{"Effect": "Allow", "Action": []string{policy.ActionReceive, policy.ActionPublish, policy.ActionRetainPublish}, "Resource": Scope.TopicARN("*")},
		},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

// ensurePolicies stores the default device and viewer policies the first
// time; a policy edited by hand in the registry is left alone.
func (c *Cloud) ensurePolicies() error {
	r, _, err := c.reg.load()
	if err != nil {
		return err
	}
	if r.Policies[DevicePolicyName] != "" && r.Policies[ViewerPolicyName] != "" {
		return nil
	}
	return c.reg.update(func(r *registry) error {
		if r.Policies[DevicePolicyName] == "" {
			r.Policies[DevicePolicyName] = string(policy.DevicePolicy(Scope, ""))
		}
		if r.Policies[ViewerPolicyName] == "" {
			r.Policies[ViewerPolicyName] = string(ViewerPolicy())
		}
		return nil
	})
}

// SetPolicy creates or replaces a named policy (checked by the same parser
// AWS-bound policies go through) and, when attach is set, attaches it to
// the thing's active certificates.
func (c *Cloud) SetPolicy(name string, doc []byte, attachTo string) error {
	if _, err := policy.Parse(doc); err != nil {
		return &InputError{Msg: err.Error()}
	}
	return c.reg.update(func(r *registry) error {
		r.Policies[name] = string(doc)
		if attachTo == "" {
			return nil
		}
		if r.Things[attachTo] == nil {
			return &NotFoundError{Thing: attachTo}
		}
		for _, cr := range r.thingCerts(attachTo) {
			if !contains(cr.Policies, name) {
				cr.Policies = append(cr.Policies, name)
			}
		}
		return nil
	})
}

// DetachPolicy removes a policy from a thing's certificates.
func (c *Cloud) DetachPolicy(name, thing string) error {
	return c.reg.update(func(r *registry) error {
		for _, cr := range r.thingCerts(thing) {
			var keep []string
			for _, p := range cr.Policies {
				if p != name {
					keep = append(keep, p)
				}
			}
			cr.Policies = keep
		}
		return nil
	})
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

var thingNameRE = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// CheckThingName applies AWS IoT's rule for thing names.
func CheckThingName(name string) error {
	if !thingNameRE.MatchString(name) {
		return &InputError{Msg: fmt.Sprintf("thing name %q: use 1–128 characters from a-z A-Z 0-9 : _ - (AWS IoT's rule)", name)}
	}
	return nil
}

// ProvisionRequest asks for a thing identity.
type ProvisionRequest struct {
	Thing string
	// MAC and Chip are recorded on the thing (informational).
	MAC, Chip string
	// CSR (PEM) keeps the key with the caller, as CreateCertificateFromCsr
	// does; without one the cloud generates the key pair, as
	// CreateKeysAndCertificate does.
	CSR []byte
	// KeyType for a generated key: "ec" (P-256, the default) or "rsa".
	KeyType string
	// Replace issues a new certificate even when the thing has a usable
	// one (the old one becomes INACTIVE).
	Replace bool
}

// Identity is everything a board needs to reach the local cloud as its
// thing. PrivateKeyPEM is a secret: write it 0600, never print or log it.
type Identity struct {
	Thing          string `json:"thing"`
	ClientID       string `json:"client_id"`
	CertificateID  string `json:"certificate_id"`
	CertificateARN string `json:"certificate_arn"`
	CertificatePEM []byte `json:"-"`
	PrivateKeyPEM  []byte `json:"-"`
	CAPEM          []byte `json:"-"`
	Endpoint       string `json:"endpoint"`
	Port           int    `json:"port"`
	PolicyName     string `json:"policy"`
	TelemetryTopic string `json:"telemetry_topic"`
	// Reused is true when the thing's existing certificate was returned
	// and nothing was created.
	Reused bool `json:"reused"`
}

// CertDER, KeyDER and CADER are the files a board reads (cert.der,
// private.der, ca.der); KeyDER is nil when the caller kept the key.
func (id *Identity) CertDER() []byte { d, _ := PEMToDER(id.CertificatePEM); return d }
func (id *Identity) KeyDER() []byte {
	if id.PrivateKeyPEM == nil {
		return nil
	}
	d, _ := PEMToDER(id.PrivateKeyPEM)
	return d
}
func (id *Identity) CADER() []byte { d, _ := PEMToDER(id.CAPEM); return d }

// Provision returns the thing's identity, idempotently like the AWS path:
// when the thing already has an ACTIVE certificate whose key the cloud
// generated and kept (or whose key is the CSR's), that identity is
// returned with Reused set. Otherwise it creates the thing if new, issues
// a certificate with the device policy attached, keeps a generated key
// (0600, under things/<thing>/) and marks the thing's earlier
// certificates INACTIVE, so a replaced identity stops working.
func (c *Cloud) Provision(ctx context.Context, req ProvisionRequest) (*Identity, error) {
	if err := CheckThingName(req.Thing); err != nil {
		return nil, err
	}
	if strings.HasPrefix(req.Thing, ViewerClientPrefix) || req.Thing == viewerThing {
		return nil, &InputError{Msg: fmt.Sprintf("thing names starting with %s are reserved for viewers", ViewerClientPrefix)}
	}
	id, err := c.existing(req)
	if err != nil {
		return nil, err
	}
	if id == nil {
		id, err = c.issue(ctx, req, DevicePolicyName)
		if err != nil {
			return nil, err
		}
		if id.PrivateKeyPEM != nil {
			if err := writeFileAtomic(c.keyPath(req.Thing, id.CertificateID), id.PrivateKeyPEM, 0o600); err != nil {
				return nil, err
			}
		}
	}
	host, port := c.Endpoint()
	id.Endpoint, id.Port = host, port
	id.TelemetryTopic = firmware.TelemetryTopic(req.Thing)
	return id, nil
}

func (c *Cloud) keyPath(thing, certID string) string {
	return filepath.Join(c.dir, "things", thing, certID+".key.pem")
}

// existing returns the thing's current identity when it can be reused.
func (c *Cloud) existing(req ProvisionRequest) (*Identity, error) {
	if req.Replace {
		return nil, nil
	}
	r, _, err := c.reg.load()
	if err != nil {
		return nil, err
	}
	if r.Things[req.Thing] == nil {
		return nil, nil
	}
	for _, cr := range r.thingCerts(req.Thing) {
		if cr.Status != StatusActive {
			continue
		}
		cert, err := parseCertPEM([]byte(cr.PEM))
		if err != nil || time.Until(cert.NotAfter) < 24*time.Hour || cert.CheckSignatureFrom(c.ca.Cert) != nil {
			continue
		}
		id := &Identity{Thing: req.Thing, ClientID: req.Thing, CertificateID: cr.ID, CertificateARN: Scope.ARN("cert/" + cr.ID), CertificatePEM: []byte(cr.PEM), CAPEM: c.ca.CertPEM, PolicyName: DevicePolicyName, Reused: true}
		if len(req.CSR) > 0 {
			b, _ := pem.Decode(req.CSR)
			if b == nil {
				return nil, &InputError{Msg: "the CSR is not a PEM \"CERTIFICATE REQUEST\""}
			}
			csr, err := x509.ParseCertificateRequest(b.Bytes)
			if err == nil && publicKeysEqual(cert.PublicKey, csr.PublicKey) {
				return id, nil
			}
			continue
		}
		keyPEM, err := os.ReadFile(c.keyPath(req.Thing, cr.ID))
		if err != nil {
			continue
		}
		key, err := parseKeyPEM(keyPEM)
		if err != nil || !publicKeysEqual(cert.PublicKey, key.Public()) {
			continue
		}
		if req.KeyType != "" && keyKind(key) != normalKeyType(req.KeyType) {
			continue // asked for another kind of key: issue a new one
		}
		id.PrivateKeyPEM = keyPEM
		return id, nil
	}
	return nil, nil
}

func keyKind(k crypto.Signer) string {
	if _, ok := k.Public().(*rsa.PublicKey); ok {
		return "rsa"
	}
	return "ec"
}

func normalKeyType(s string) string {
	if strings.HasPrefix(s, "rsa") {
		return "rsa"
	}
	return "ec"
}

func (c *Cloud) issue(ctx context.Context, req ProvisionRequest, policyName string) (*Identity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id := &Identity{Thing: req.Thing, ClientID: req.Thing, CAPEM: c.ca.CertPEM, PolicyName: policyName}
	var certPEM []byte
	if len(req.CSR) > 0 {
		p, err := c.ca.IssueClient(req.CSR, req.Thing)
		if err != nil {
			return nil, err
		}
		certPEM = p
	} else {
		key, err := generateKey(req.KeyType)
		if err != nil {
			return nil, err
		}
		p, err := c.ca.issue(pkix.Name{CommonName: req.Thing}, key.Public(), x509.ExtKeyUsageClientAuth, certsExpire, nil, nil)
		if err != nil {
			return nil, err
		}
		kp, err := marshalKeyPEM(key)
		if err != nil {
			return nil, err
		}
		certPEM, id.PrivateKeyPEM = p, kp
	}
	cert, _ := parseCertPEM(certPEM)
	id.CertificatePEM = certPEM
	id.CertificateID = CertificateID(cert.Raw)
	id.CertificateARN = Scope.ARN("cert/" + id.CertificateID)
	now := time.Now().UTC()
	err := c.reg.update(func(r *registry) error {
		if r.Things[req.Thing] == nil {
			r.Things[req.Thing] = &thingRecord{Name: req.Thing, Created: now}
		}
		if req.MAC != "" || req.Chip != "" {
			r.Things[req.Thing].MAC, r.Things[req.Thing].Chip = req.MAC, req.Chip
		}
		for _, old := range r.thingCerts(req.Thing) {
			if old.Status == StatusActive {
				old.Status = StatusInactive
			}
		}
		r.Certificates[id.CertificateID] = &certRecord{ID: id.CertificateID, Thing: req.Thing, Status: StatusActive, Policies: []string{policyName}, Created: now, NotAfter: cert.NotAfter, PEM: string(certPEM)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// CertStatus is one certificate of a thing.
type CertStatus struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Policies []string  `json:"policies"`
	Created  time.Time `json:"created"`
	NotAfter time.Time `json:"not_after"`
}

// ThingStatus answers "is this board set up, and has it talked?".
type ThingStatus struct {
	Thing         string       `json:"thing"`
	Exists        bool         `json:"exists"`
	Created       time.Time    `json:"created,omitzero"`
	Certificates  []CertStatus `json:"certificates"`
	Active        bool         `json:"active"` // an ACTIVE certificate exists
	LastTelemetry time.Time    `json:"last_telemetry,omitzero"`
}

// Status reports a thing's registration and its last stored telemetry.
func (c *Cloud) Status(ctx context.Context, thing string) (*ThingStatus, error) {
	r, _, err := c.reg.load()
	if err != nil {
		return nil, err
	}
	st := &ThingStatus{Thing: thing}
	t := r.Things[thing]
	if t == nil {
		return st, nil
	}
	st.Exists, st.Created = true, t.Created
	for _, cr := range r.thingCerts(thing) {
		st.Certificates = append(st.Certificates, CertStatus{ID: cr.ID, Status: cr.Status, Policies: cr.Policies, Created: cr.Created, NotAfter: cr.NotAfter})
		if cr.Status == StatusActive {
			st.Active = true
		}
	}
	if recs, err := c.telemetry.Query(thing, time.Time{}, time.Now().Add(time.Hour), 1, true); err == nil && len(recs) > 0 {
		st.LastTelemetry = recs[0].Time()
	}
	return st, nil
}

// Things lists the provisioned things (viewers excluded), sorted.
func (c *Cloud) Things() ([]string, error) {
	r, _, err := c.reg.load()
	if err != nil {
		return nil, err
	}
	var out []string
	for name := range r.Things {
		if name != viewerThing {
			out = append(out, name)
		}
	}
	sortStrings(out)
	return out, nil
}

// Deprovision revokes the thing's certificates and deletes the thing; a
// running broker disconnects it within a few seconds, as AWS IoT does when
// a certificate leaves ACTIVE. Telemetry already stored is kept.
func (c *Cloud) Deprovision(ctx context.Context, thing string) error {
	return c.reg.update(func(r *registry) error {
		if r.Things[thing] == nil {
			return &NotFoundError{Thing: thing}
		}
		for _, cr := range r.thingCerts(thing) {
			delete(r.Certificates, cr.ID)
		}
		delete(r.Things, thing)
		// Kept keys go with their certificates.
		return os.RemoveAll(filepath.Join(c.dir, "things", thing))
	})
}

// SetCertificateStatus sets a certificate ACTIVE, INACTIVE or REVOKED.
func (c *Cloud) SetCertificateStatus(id, status string) error {
	if status != StatusActive && status != StatusInactive && status != StatusRevoked {
		return &InputError{Msg: fmt.Sprintf("certificate status %q: use ACTIVE, INACTIVE or REVOKED", status)}
	}
	return c.reg.update(func(r *registry) error {
		cr := r.Certificates[id]
		if cr == nil {
			return &InputError{Msg: fmt.Sprintf("no certificate %s in the local cloud", id)}
		}
		cr.Status = status
		return nil
	})
}

// viewerMu serialises ViewerIdentity within the process.
var viewerMu sync.Mutex

// ViewerIdentity returns the operator's viewer certificate and key,
// issuing them the first time (kept 0600 under the data directory).
func (c *Cloud) ViewerIdentity(ctx context.Context) (tls.Certificate, error) {
	// Viewers started together (boards provisioned in parallel) must not
	// each issue one: every issue deactivates the viewer certificates
	// before it, so all viewers but the last would be refused.
	viewerMu.Lock()
	defer viewerMu.Unlock()
	// ... and so must viewers in other processes (a `cloud serve`, an
	// `mqtt sub`, a TUI) started at the same moment on the same directory.
	unlock, err := lockFile(filepath.Join(c.dir, "viewer.lock"))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("locking the local cloud's viewer identity: %w", err)
	}
	defer unlock()
	dir := filepath.Join(c.dir, "viewer")
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && leaf.CheckSignatureFrom(c.ca.Cert) == nil {
			if r, _, err := c.reg.load(); err == nil {
				if cr := r.Certificates[CertificateID(leaf.Raw)]; cr != nil && cr.Status == StatusActive {
					return cert, nil
				}
			}
		}
	}
	id, err := c.issue(ctx, ProvisionRequest{Thing: viewerThing}, ViewerPolicyName)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, id.PrivateKeyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, id.CertificatePEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(id.CertificatePEM, id.PrivateKeyPEM)
}

// endpointFile records where `cloud serve` listens, for viewers started
// later in other processes.
type endpointFile struct {
	Address string `json:"address"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	PID     int    `json:"pid"`
}

// Endpoint is the host and port boards should use: those of the running
// (or last) `cloud serve`, else this host's LAN address on 8883.
func (c *Cloud) Endpoint() (string, int) {
	if e, err := c.readEndpoint(); err == nil {
		return e.Host, e.Port
	}
	return advertiseHost(), DefaultPort
}

func (c *Cloud) readEndpoint() (*endpointFile, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "endpoint.json"))
	if err != nil {
		return nil, err
	}
	var e endpointFile
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// LocalAddress is where a viewer on this machine reaches the broker: the
// loopback address on the served port.
func (c *Cloud) LocalAddress() (string, error) {
	e, err := c.readEndpoint()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("the local cloud has not been started: run iotbench cloud serve")
		}
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", e.Port), nil
}

// ViewerTLS returns a TLS config for a viewer on this machine.
func (c *Cloud) ViewerTLS(ctx context.Context) (*tls.Config, error) {
	cert, err := c.ViewerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: c.ca.Pool(), MinVersion: tls.VersionTLS12}, nil
}

// PEMToDER converts a PEM block to DER (the board reads cert.der,
// private.der and ca.der).
func PEMToDER(p []byte) ([]byte, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, fmt.Errorf("not PEM")
	}
	return b.Bytes, nil
}

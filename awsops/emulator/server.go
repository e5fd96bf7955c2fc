// Package emulator owns an AWS control-plane emulator for tests: the parts
// of AWS IoT (REST-JSON), IAM and STS (Query/XML) and DynamoDB (JSON 1.0)
// that iotbench calls, served over HTTP on loopback so that the real
// aws-sdk-go-v2 clients — SigV4 signing, serialisation, typed errors,
// retries — are exercised end to end.
//
// Where AWS and moto differ (aws-iot.md §9), it behaves like AWS: a stable
// data endpoint, CreateThing conflicts on a different configuration,
// CreateCertificateFromCsr certifies the CSR's own key, policies are
// checked (MalformedPolicyException, 2048 characters), rule names and SQL
// are checked, and a freshly created rule role can be "not yet assumable"
// for a while. It also verifies every request's SigV4 signature against the
// credentials it was given, injects faults (throttling, access denied, any
// error code) and can run the telemetry rule on a simulated publish.
//
// Nothing in production depends on it except the hidden emulator mode of
// the CLI (iotbench aws --emulator), used by the CLI's own tests.
package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Default credentials accepted by a new emulator; tests configure the SDK
// with them.
const (
	AccessKeyID     = "AKIAIOTBENCHEMULATOR"
	SecretAccessKey = "iotbench-emulator-secret-not-a-real-key"
	Account         = "123456789012"
	UserARN         = "arn:aws:iam::123456789012:user/iotbench-test"
)

// Fault makes matching calls fail.
type Fault struct {
	// Op is "service:Operation" (e.g. "iot:CreateThing"), or "*".
	Op string
	// Code is the error name, e.g. "ThrottlingException"; AccessDenied
	// builds the message AWS sends for a missing IAM permission.
	Code    string
	Status  int
	Message string
	// Times is how many calls fail; 0 means every call.
	Times int
	// Commit runs the operation and keeps its effects, then answers with
	// the error anyway: a response lost after AWS did the work (a timeout,
	// a dropped connection).
	Commit bool
}

// AccessDenied is the fault AWS answers when the caller's IAM policy lacks
// the operation's permission.
func AccessDenied(op string) Fault {
	code, status := "AccessDeniedException", 403
	if strings.HasPrefix(op, "iam:") || strings.HasPrefix(op, "sts:") {
		code = "AccessDenied"
	}
	return Fault{Op: op, Code: code, Status: status,
		Message: fmt.Sprintf("User: %s is not authorized to perform: %s because no identity-based policy allows the %s action", UserARN, op, op)}
}

// Throttle is AWS's rate-limit answer for op, n times.
func Throttle(op string, n int) Fault {
	code := "ThrottlingException"
	if strings.HasPrefix(op, "iam:") || strings.HasPrefix(op, "sts:") {
		code = "Throttling"
	}
	return Fault{Op: op, Code: code, Status: 400, Message: "Rate exceeded", Times: n}
}

// Server is one emulated AWS account.
type Server struct {
	mu    sync.Mutex
	st    *state
	path  string // where Save writes, for the CLI's emulator mode
	creds map[string]string
	any   bool

	faults []*Fault
	calls  []string

	// RolePropagation is how long after CreateRole/PutRolePolicy the role
	// cannot be assumed by IoT yet (CreateTopicRule fails with
	// InvalidRequestException, as AWS does while IAM propagates).
	RolePropagation time.Duration
	now             func() time.Time

	// issuerCert and issuer, set by SignWith, replace the emulator's own
	// CA for device certificates.
	issuerCert *x509.Certificate
	issuer     crypto.Signer

	srv *http.Server
	ln  net.Listener
}

type state struct {
	Account string                  `json:"account"`
	CAKey   []byte                  `json:"ca_key"`
	CACert  []byte                  `json:"ca_cert"`
	Regions map[string]*regionState `json:"regions"`
	Roles   map[string]*role        `json:"roles"`
	Seq     int                     `json:"seq"`
}

type regionState struct {
	Endpoint        string                     `json:"endpoint"`
	Things          map[string]*thing          `json:"things"`
	Certs           map[string]*cert           `json:"certs"`
	Policies        map[string]*policyEntry    `json:"policies"`
	PolicyTargets   map[string]map[string]bool `json:"policy_targets"`   // policy → target ARNs
	ThingPrincipals map[string]map[string]bool `json:"thing_principals"` // thing → principal ARNs
	Rules           map[string]*rule           `json:"rules"`
	Tables          map[string]*table          `json:"tables"`
}

// New returns an emulator accepting the default credentials.
func New() (*Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"iotbench emulator"}, CommonName: "iotbench emulator CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	s := &Server{
		st:    &state{Account: Account, CAKey: kder, CACert: der, Regions: map[string]*regionState{}, Roles: map[string]*role{}},
		creds: map[string]string{AccessKeyID: SecretAccessKey},
		now:   time.Now,
	}
	return s, nil
}

// Open loads the state saved at path (or starts fresh when there is none)
// and saves it there after every change.
func Open(path string) (*Server, error) {
	s, err := New()
	if err != nil {
		return nil, err
	}
	s.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("emulator state %s: %w", path, err)
	}
	if st.Regions == nil {
		st.Regions = map[string]*regionState{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*role{}
	}
	s.st = st
	return s, nil
}

func (s *Server) saveLocked() {
	if s.path == "" {
		return
	}
	b, err := json.Marshal(s.st)
	if err != nil {
		return
	}
	tmp := s.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return
	}
	if os.WriteFile(tmp, b, 0o600) == nil {
		os.Rename(tmp, s.path)
	}
}

// AllowAnyCredentials accepts every access key without checking
// signatures, as moto does.
func (s *Server) AllowAnyCredentials() {
	s.mu.Lock()
	s.any = true
	s.mu.Unlock()
}

// AddCredentials accepts another key pair.
func (s *Server) AddCredentials(id, secret string) {
	s.mu.Lock()
	s.creds[id] = secret
	s.mu.Unlock()
}

// Inject adds a fault; it applies to calls from now on.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = 400
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Calls lists the operations served so far, as "service:Operation".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// CACertificate is the DER certificate of the CA that signs device
// certificates.
func (s *Server) CACertificate() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issuerCert != nil {
		return append([]byte(nil), s.issuerCert.Raw...)
	}
	return append([]byte(nil), s.st.CACert...)
}

// Start serves on a free loopback port and returns the base URL.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

func (s *Server) region(name string) *regionState {
	r := s.st.Regions[name]
	if r == nil {
		r = &regionState{
			Things: map[string]*thing{}, Certs: map[string]*cert{}, Policies: map[string]*policyEntry{},
			PolicyTargets: map[string]map[string]bool{}, ThingPrincipals: map[string]map[string]bool{},
			Rules: map[string]*rule{}, Tables: map[string]*table{},
		}
		s.st.Regions[name] = r
	}
	return r
}

// apiError is an error answer in the service's own encoding.
type apiError struct {
	status int
	code   string
	msg    string
	extra  map[string]any
	commit bool
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// call is one decoded request.
type call struct {
	r       *http.Request
	body    []byte
	service string
	region  string
	segs    []string // unescaped path segments
}

// ServeHTTP routes by the SigV4 credential scope, as AWS's front ends do
// by host name.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &call{r: r, body: body}
	service, region, aerr := s.authenticate(r, body)
	if aerr != nil {
		s.writeError(w, service, aerr)
		return
	}
	c.service, c.region = service, region
	c.segs = pathSegments(r)
	switch service {
	case "iot":
		s.serveIoT(w, c)
	case "iam":
		s.serveQuery(w, c, "iam", s.iamOp)
	case "sts":
		s.serveQuery(w, c, "sts", s.stsOp)
	case "dynamodb":
		s.serveDynamoDB(w, c)
	default:
		s.writeError(w, service, errf(400, "UnknownService", "the emulator does not serve %q", service))
	}
}

// fault returns the injected error for op, if any.
func (s *Server) fault(op string) *apiError {
	s.calls = append(s.calls, op)
	for _, f := range s.faults {
		if f.Times < 0 || (f.Op != "*" && f.Op != op) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Times = -1
			}
		}
		return &apiError{status: f.Status, code: f.Code, msg: f.Message, commit: f.Commit}
	}
	return nil
}

func (s *Server) writeError(w http.ResponseWriter, service string, e *apiError) {
	switch service {
	case "iam", "sts":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.status)
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://%s.amazonaws.com/doc/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			service, typ, xmlEscape(e.code), xmlEscape(e.msg), s.requestID())
	case "dynamodb":
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", e.code)
		w.WriteHeader(e.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + e.code, "message": e.msg})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", e.code)
		w.WriteHeader(e.status)
		m := map[string]any{"message": e.msg}
		for k, v := range e.extra {
			m[k] = v
		}
		json.NewEncoder(w).Encode(m)
	}
}

func (s *Server) requestID() string {
	s.st.Seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.st.Seq)
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	if v == nil {
		w.WriteHeader(200)
		return
	}
	b, _ := json.Marshal(v)
	w.Write(b)
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// Reset forgets every resource, fault and call, as moto's
// /moto-api/reset does.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Regions = map[string]*regionState{}
	s.st.Roles = map[string]*role{}
	s.faults, s.calls = nil, nil
	s.saveLocked()
}

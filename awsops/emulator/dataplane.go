package emulator

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"sort"
	"time"
)

// The emulator has no MQTT side (aws-iot.md §9.3). A bench can still run
// the whole device path against it by standing a local broker in for AWS
// IoT's data plane: the broker admits the certificates this control plane
// issued, with the status and policies it records. This file is what such
// a broker needs from the emulator: device certificates from the broker's
// CA (SignWith), the data plane's view of the registry (Principals), and
// word of every change before the caller hears the call succeeded
// (StartNotifying).

// SignWith makes CreateKeysAndCertificate and CreateCertificateFromCsr
// issue device certificates from ca and key instead of the emulator's own
// CA. key may be opaque (a signer that never hands its key out). It is not
// saved with the state: an emulator reopened from disk signs with its own
// CA again until told otherwise.
func (s *Server) SignWith(ca *x509.Certificate, key crypto.Signer) error {
	if ca == nil || key == nil {
		return errors.New("SignWith needs the CA certificate and its signer")
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("SignWith: the certificate is not a CA allowed to sign certificates")
	}
	pub, ok := ca.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return errors.New("SignWith: the signer's key is not the CA certificate's")
	}
	s.mu.Lock()
	s.issuerCert, s.issuer = ca, key
	s.mu.Unlock()
	return nil
}

// Principal is one certificate as AWS IoT's message broker sees it: what
// it may connect as and do is decided from this alone.
type Principal struct {
	CertificateID  string
	CertificateARN string
	CertificateDER []byte
	// Status is ACTIVE, INACTIVE, REVOKED…; only ACTIVE connects.
	Status string
	// Things the certificate is attached to, sorted.
	Things []string
	// Policies attached to the certificate, by name, with the document of
	// their default version.
	Policies []AttachedPolicy
}

// AttachedPolicy is a policy attached to a certificate.
type AttachedPolicy struct {
	Name     string
	Document []byte
}

// Principals lists the region's certificates, sorted by ID.
func (s *Server) Principals(region string) []Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.st.Regions[region]
	if rs == nil {
		return nil
	}
	var out []Principal
	for _, c := range rs.Certs {
		blk, _ := pem.Decode([]byte(c.PEM))
		if blk == nil {
			continue
		}
		p := Principal{CertificateID: c.ID, CertificateARN: c.ARN, CertificateDER: blk.Bytes, Status: c.Status}
		for thing, principals := range rs.ThingPrincipals {
			if principals[c.ARN] {
				p.Things = append(p.Things, thing)
			}
		}
		sort.Strings(p.Things)
		for name, targets := range rs.PolicyTargets {
			pe := rs.Policies[name]
			if !targets[c.ARN] || pe == nil {
				continue
			}
			if v := pe.defaultVersion(); v != nil {
				p.Policies = append(p.Policies, AttachedPolicy{Name: name, Document: []byte(v.Doc)})
			}
		}
		sort.Slice(p.Policies, func(i, j int) bool { return p.Policies[i].Name < p.Policies[j].Name })
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CertificateID < out[j].CertificateID })
	return out
}

// StartNotifying is Start, with onChange called after every successful
// call that may have changed something (any method but GET) and before
// its answer is sent, with no lock held, so onChange may call Principals.
// A broker mirroring the account thus knows of a certificate, or of its
// deactivation, by the time the caller learns the call succeeded — AWS
// takes up to minutes to do the same, which a test must not wait for.
func (s *Server) StartNotifying(onChange func()) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.ln = ln
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}}
		s.ServeHTTP(rec, r)
		if r.Method != http.MethodGet && rec.status() < 300 && onChange != nil {
			onChange()
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status())
		w.Write(rec.body.Bytes())
	})
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// recorder holds an answer until onChange has run.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

package localcloud

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/iotbench/iotbench/awsops/policy"
)

// The broker can stand in for another control plane's data plane (an
// emulated AWS IoT account on a bench): that control plane issues device
// certificates from this cloud's CA (CA.Signer), and Mirror copies what it
// records — each certificate's status, thing and attached policies — into
// the registry, where the broker enforces it like its own.

// Signer is the CA's key as a crypto.Signer that does not give the key
// itself away: for a control plane in this process that must issue the
// certificates this broker admits.
func (ca *CA) Signer() crypto.Signer { return opaqueSigner{ca.key} }

type opaqueSigner struct{ k crypto.Signer }

func (s opaqueSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s opaqueSigner) Sign(r io.Reader, digest []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, digest, o)
}

// MirroredCertificate is one certificate as its control plane records it.
type MirroredCertificate struct {
	DER []byte
	// Status as the control plane names it; only ACTIVE connects.
	Status string
	// Thing the certificate is attached to ("" for none).
	Thing string
	// Policies attached to the certificate, with their documents, whose
	// ARNs are in the control plane's scope.
	Policies []MirroredPolicy
}

// MirroredPolicy is a policy attached to a mirrored certificate.
type MirroredPolicy struct {
	Name     string
	Document []byte
}

// MirrorPolicyName is what a mirrored policy is called in the registry
// (and so in the broker's reasons): its own name and where it comes from,
// so it never clashes with the local cloud's policies of the same name.
func MirrorPolicyName(source, name string) string { return name + " (" + source + ")" }

// Mirror makes the registry hold exactly certs as source's certificates:
// new ones are added, changed ones updated, and those source no longer
// has removed, so the broker admits and refuses what the control plane
// says. Policies are translated from the control plane's scope (from)
// into the local cloud's (Scope), since the broker names resources in
// its own. The registry is only written when something changed.
func (c *Cloud) Mirror(source string, from policy.Scope, certs []MirroredCertificate) error {
	if source == "" {
		return &InputError{Msg: "a mirror needs a source name"}
	}
	want := map[string]*certRecord{}
	policies := map[string]string{}
	for _, m := range certs {
		cert, err := x509.ParseCertificate(m.DER)
		if err != nil {
			return &InputError{Msg: "mirrored certificate: " + err.Error()}
		}
		cr := &certRecord{ID: CertificateID(m.DER), Thing: m.Thing, Status: m.Status, Policies: []string{}, NotAfter: cert.NotAfter,
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.DER})), Mirror: source}
		for _, p := range m.Policies {
			doc, err := RescopePolicy(p.Document, from, Scope)
			if err != nil {
				return &InputError{Msg: fmt.Sprintf("mirrored policy %s: %v", p.Name, err)}
			}
			name := MirrorPolicyName(source, p.Name)
			policies[name] = string(doc)
			cr.Policies = append(cr.Policies, name)
		}
		want[cr.ID] = cr
	}
	r, _, err := c.reg.load()
	if err != nil {
		return err
	}
	if mirrorHolds(r, source, want, policies) {
		return nil
	}
	now := time.Now().UTC()
	return c.reg.update(func(r *registry) error {
		for id, cr := range r.Certificates {
			if cr.Mirror == source && want[id] == nil {
				delete(r.Certificates, id)
			}
		}
		for id, cr := range want {
			old := r.Certificates[id]
			if old != nil && old.Mirror != source {
				return &InputError{Msg: fmt.Sprintf("certificate %s is already the local cloud's own (or another mirror's): not mirrored from %s", id[:12], source)}
			}
			cr.Created = now
			if old != nil {
				cr.Created = old.Created
			}
			r.Certificates[id] = cr
			if cr.Thing != "" && r.Things[cr.Thing] == nil {
				r.Things[cr.Thing] = &thingRecord{Name: cr.Thing, Created: now}
			}
		}
		suffix := MirrorPolicyName(source, "")
		for name := range r.Policies {
			if _, ok := policies[name]; !ok && strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
				delete(r.Policies, name)
			}
		}
		for name, doc := range policies {
			r.Policies[name] = doc
		}
		return nil
	})
}

// mirrorHolds reports whether the registry already holds exactly want
// and policies for source.
func mirrorHolds(r *registry, source string, want map[string]*certRecord, policies map[string]string) bool {
	n := 0
	for id, cr := range r.Certificates {
		if cr.Mirror != source {
			continue
		}
		n++
		w := want[id]
		if w == nil || w.Status != cr.Status || w.Thing != cr.Thing || !slices.Equal(w.Policies, cr.Policies) {
			return false
		}
		if w.Thing != "" && r.Things[w.Thing] == nil {
			return false
		}
	}
	if n != len(want) {
		return false
	}
	for name, doc := range policies {
		if r.Policies[name] != doc {
			return false
		}
	}
	suffix := MirrorPolicyName(source, "")
	for name := range r.Policies {
		if _, ok := policies[name]; !ok && strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return false
		}
	}
	return true
}

// RescopePolicy rewrites the IoT ARNs of a policy document (Resource,
// NotResource, and ARN values of conditions) from one scope into another.
// Each ARN's partition, region and account that match from (literally or
// by wildcard) become to's; a field that does not match from is marked so
// that it matches nothing in to either: a resource in another account or
// region stays out of reach, as it was.
func RescopePolicy(doc []byte, from, to policy.Scope) ([]byte, error) {
	if _, err := policy.Parse(doc); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	stmts, ok := v["Statement"].([]any)
	if !ok {
		stmts = []any{v["Statement"]}
	}
	for _, s := range stmts {
		st, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range []string{"Resource", "NotResource"} {
			if x, ok := st[k]; ok {
				st[k] = mapStrings(x, func(a string) string { return rescopeARN(a, from, to) })
			}
		}
		if cond, ok := st["Condition"].(map[string]any); ok {
			for _, keys := range cond {
				if km, ok := keys.(map[string]any); ok {
					for k, x := range km {
						km[k] = mapStrings(x, func(a string) string { return rescopeARN(a, from, to) })
					}
				}
			}
		}
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := policy.Parse(out); err != nil {
		return nil, fmt.Errorf("the rescoped document does not parse: %w", err)
	}
	return out, nil
}

func mapStrings(x any, f func(string) string) any {
	switch x := x.(type) {
	case string:
		return f(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if s, ok := e.(string); ok {
				out[i] = f(s)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return x
}

// rescopeARN maps arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE from one
// scope to another; anything else (a bare "*", a policy variable) is left
// as it is.
func rescopeARN(arn string, from, to policy.Scope) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return arn
	}
	part := func(s policy.Scope) string {
		if s.Partition == "" {
			return "aws"
		}
		return s.Partition
	}
	for i, pair := range [][2]string{1: {part(from), part(to)}, 3: {from.Region, to.Region}, 4: {from.Account, to.Account}} {
		if i == 0 || i == 2 || strings.Contains(f[i], "${") {
			continue
		}
		if glob(f[i], pair[0]) {
			f[i] = pair[1]
		} else {
			// "!" starts no partition, region or account name.
			f[i] = "!" + f[i]
		}
	}
	return strings.Join(f, ":")
}

// glob matches s against a pattern of IoT policy wildcards: * (any run)
// and ? (one character). On a mismatch it only backtracks to the last
// star, so a pattern of many stars costs len(p)·len(s), not exponential
// time.
func glob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/awsops/policy"
)

type thing struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	ARN        string            `json:"arn"`
	TypeName   string            `json:"type_name,omitempty"`
	Attributes map[string]string `json:"attributes"`
	Version    int64             `json:"version"`
}

type cert struct {
	ID       string    `json:"id"`
	ARN      string    `json:"arn"`
	PEM      string    `json:"pem"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

type policyVersion struct {
	ID      int       `json:"id"`
	Doc     string    `json:"doc"`
	Default bool      `json:"default"`
	Created time.Time `json:"created"`
}

type policyEntry struct {
	Name     string          `json:"name"`
	ARN      string          `json:"arn"`
	Versions []policyVersion `json:"versions"`
	Next     int             `json:"next"`
	Created  time.Time       `json:"created"`
	Modified time.Time       `json:"modified"`
}

func (p *policyEntry) defaultVersion() *policyVersion {
	for i := range p.Versions {
		if p.Versions[i].Default {
			return &p.Versions[i]
		}
	}
	return nil
}

type rule struct {
	Name    string          `json:"name"`
	ARN     string          `json:"arn"`
	Payload json.RawMessage `json:"payload"`
	Created time.Time       `json:"created"`
}

var (
	thingNameRE  = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	policyNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	ruleNameRE   = regexp.MustCompile(`^[a-zA-Z0-9_]{1,128}$`)
	certIDRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const jsonType = "application/json"

func (s *Server) arn(region, resource string) string {
	return "arn:aws:iot:" + region + ":" + s.st.Account + ":" + resource
}

// serveIoT dispatches the REST-JSON routes of the IoT control plane.
func (s *Server) serveIoT(w http.ResponseWriter, c *call) {
	seg := c.segs
	m := c.r.Method
	n := len(seg)
	is := func(method string, parts ...string) bool {
		if m != method || n != len(parts) {
			return false
		}
		for i, p := range parts {
			if p != "*" && p != seg[i] {
				return false
			}
		}
		return true
	}
	var op string
	var h func(*call) (any, *apiError)
	switch {
	case is("POST", "things", "*"):
		op, h = "CreateThing", s.createThing
	case is("GET", "things", "*"):
		op, h = "DescribeThing", s.describeThing
	case is("DELETE", "things", "*"):
		op, h = "DeleteThing", s.deleteThing
	case is("PUT", "things", "*", "principals"):
		op, h = "AttachThingPrincipal", s.attachThingPrincipal
	case is("DELETE", "things", "*", "principals"):
		op, h = "DetachThingPrincipal", s.detachThingPrincipal
	case is("GET", "things", "*", "principals"):
		op, h = "ListThingPrincipals", s.listThingPrincipals
	case is("GET", "principals", "things"):
		op, h = "ListPrincipalThings", s.listPrincipalThings
	case is("POST", "keys-and-certificate"):
		op, h = "CreateKeysAndCertificate", s.createKeysAndCertificate
	case is("POST", "certificates"):
		op, h = "CreateCertificateFromCsr", s.createCertificateFromCsr
	case is("GET", "certificates"):
		op, h = "ListCertificates", s.listCertificates
	case is("GET", "certificates", "*"):
		op, h = "DescribeCertificate", s.describeCertificate
	case is("PUT", "certificates", "*"):
		op, h = "UpdateCertificate", s.updateCertificate
	case is("DELETE", "certificates", "*"):
		op, h = "DeleteCertificate", s.deleteCertificate
	case is("POST", "policies", "*"):
		op, h = "CreatePolicy", s.createPolicy
	case is("GET", "policies", "*"):
		op, h = "GetPolicy", s.getPolicy
	case is("DELETE", "policies", "*"):
		op, h = "DeletePolicy", s.deletePolicy
	case is("POST", "policies", "*", "version"):
		op, h = "CreatePolicyVersion", s.createPolicyVersion
	case is("GET", "policies", "*", "version"):
		op, h = "ListPolicyVersions", s.listPolicyVersions
	case is("PATCH", "policies", "*", "version", "*"):
		op, h = "SetDefaultPolicyVersion", s.setDefaultPolicyVersion
	case is("DELETE", "policies", "*", "version", "*"):
		op, h = "DeletePolicyVersion", s.deletePolicyVersion
	case is("PUT", "target-policies", "*"):
		op, h = "AttachPolicy", s.attachPolicy
	case is("POST", "target-policies", "*"):
		op, h = "DetachPolicy", s.detachPolicy
	case is("POST", "attached-policies", "*"):
		op, h = "ListAttachedPolicies", s.listAttachedPolicies
	case is("POST", "policy-targets", "*"):
		op, h = "ListTargetsForPolicy", s.listTargetsForPolicy
	case is("GET", "endpoint"):
		op, h = "DescribeEndpoint", s.describeEndpoint
	case is("POST", "rules", "*"):
		op, h = "CreateTopicRule", s.createTopicRule
	case is("GET", "rules", "*"):
		op, h = "GetTopicRule", s.getTopicRule
	case is("PATCH", "rules", "*"):
		op, h = "ReplaceTopicRule", s.replaceTopicRule
	case is("DELETE", "rules", "*"):
		op, h = "DeleteTopicRule", s.deleteTopicRule
	default:
		s.writeError(w, "iot", errf(404, "ResourceNotFoundException", "the emulator has no route for %s %s", m, c.r.URL.Path))
		return
	}
	fe := s.fault("iot:" + op)
	if fe != nil && !fe.commit {
		s.writeError(w, "iot", fe)
		return
	}
	out, e := h(c)
	if fe != nil && e == nil {
		s.saveLocked()
		e = fe
	}
	if e != nil {
		s.writeError(w, "iot", e)
		return
	}
	if m != "GET" {
		s.saveLocked()
	}
	writeJSON(w, jsonType, out)
}

func (c *call) decode(v any) *apiError {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errf(400, "InvalidRequestException", "request body is not valid JSON: %v", err)
	}
	return nil
}

func notFound(what, name string) *apiError {
	return errf(404, "ResourceNotFoundException", "%s %s does not exist", what, name)
}

func (s *Server) createThing(c *call) (any, *apiError) {
	name := c.segs[1]
	if !thingNameRE.MatchString(name) {
		return nil, errf(400, "InvalidRequestException", "1 validation error detected: Value '%s' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+", name)
	}
	var in struct {
		ThingTypeName    string `json:"thingTypeName"`
		AttributePayload *struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"attributePayload"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	attrs := map[string]string{}
	if in.AttributePayload != nil && in.AttributePayload.Attributes != nil {
		attrs = in.AttributePayload.Attributes
	}
	if in.ThingTypeName != "" {
		return nil, errf(404, "ResourceNotFoundException", "Thing type %s does not exist", in.ThingTypeName)
	}
	if len(attrs) > 3 {
		return nil, errf(400, "InvalidRequestException", "a thing without a thing type can have at most 3 attributes")
	}
	rs := s.region(c.region)
	if t, ok := rs.Things[name]; ok {
		if !sameMap(t.Attributes, attrs) {
			return nil, &apiError{status: 409, code: "ResourceAlreadyExistsException",
				msg:   fmt.Sprintf("Thing %s already exists with different tags or attributes", name),
				extra: map[string]any{"resourceId": t.ID, "resourceArn": t.ARN}}
		}
		return map[string]any{"thingName": t.Name, "thingArn": t.ARN, "thingId": t.ID}, nil
	}
	t := &thing{Name: name, ID: s.uuid(), ARN: s.arn(c.region, "thing/"+name), Attributes: attrs, Version: 1}
	rs.Things[name] = t
	return map[string]any{"thingName": t.Name, "thingArn": t.ARN, "thingId": t.ID}, nil
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func (s *Server) uuid() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) describeThing(c *call) (any, *apiError) {
	t, ok := s.region(c.region).Things[c.segs[1]]
	if !ok {
		return nil, notFound("Thing", c.segs[1])
	}
	return map[string]any{"defaultClientId": t.Name, "thingName": t.Name, "thingId": t.ID, "thingArn": t.ARN,
		"attributes": t.Attributes, "version": t.Version}, nil
}

func (s *Server) deleteThing(c *call) (any, *apiError) {
	rs := s.region(c.region)
	name := c.segs[1]
	if _, ok := rs.Things[name]; !ok {
		return nil, nil // AWS: deleting a missing thing succeeds
	}
	if len(rs.ThingPrincipals[name]) > 0 {
		return nil, errf(400, "InvalidRequestException", "Cannot delete thing %s: it still has principals attached; detach them first", name)
	}
	delete(rs.Things, name)
	delete(rs.ThingPrincipals, name)
	return nil, nil
}

func (s *Server) certByARN(rs *regionState, arn string) *cert {
	i := strings.LastIndex(arn, "/")
	if i < 0 {
		return nil
	}
	c := rs.Certs[arn[i+1:]]
	if c == nil || c.ARN != arn {
		return nil
	}
	return c
}

func (s *Server) attachThingPrincipal(c *call) (any, *apiError) {
	rs := s.region(c.region)
	name, p := c.segs[1], c.r.Header.Get("X-Amzn-Principal")
	if _, ok := rs.Things[name]; !ok {
		return nil, notFound("Thing", name)
	}
	if s.certByARN(rs, p) == nil {
		return nil, notFound("Principal", p)
	}
	if rs.ThingPrincipals[name] == nil {
		rs.ThingPrincipals[name] = map[string]bool{}
	}
	rs.ThingPrincipals[name][p] = true
	return nil, nil
}

func (s *Server) detachThingPrincipal(c *call) (any, *apiError) {
	rs := s.region(c.region)
	name, p := c.segs[1], c.r.Header.Get("X-Amzn-Principal")
	if _, ok := rs.Things[name]; !ok {
		return nil, notFound("Thing", name)
	}
	delete(rs.ThingPrincipals[name], p)
	return nil, nil
}

func (s *Server) listThingPrincipals(c *call) (any, *apiError) {
	rs := s.region(c.region)
	name := c.segs[1]
	if _, ok := rs.Things[name]; !ok {
		return nil, notFound("Thing", name)
	}
	return map[string]any{"principals": sortedSet(rs.ThingPrincipals[name])}, nil
}

func (s *Server) listPrincipalThings(c *call) (any, *apiError) {
	rs := s.region(c.region)
	p := c.r.Header.Get("X-Amzn-Principal")
	if s.certByARN(rs, p) == nil {
		return nil, notFound("Principal", p)
	}
	var things []string
	for t, ps := range rs.ThingPrincipals {
		if ps[p] {
			things = append(things, t)
		}
	}
	sort.Strings(things)
	return map[string]any{"things": nonNil(things)}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedSet(m map[string]bool) []string {
	out := []string{}
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) caSigner() (*x509.Certificate, crypto.Signer, *apiError) {
	if s.issuer != nil {
		return s.issuerCert, s.issuer, nil
	}
	ca, err := x509.ParseCertificate(s.st.CACert)
	if err != nil {
		return nil, nil, errf(500, "InternalFailureException", "emulator CA: %v", err)
	}
	key, err := x509.ParseECPrivateKey(s.st.CAKey)
	if err != nil {
		return nil, nil, errf(500, "InternalFailureException", "emulator CA key: %v", err)
	}
	return ca, key, nil
}

// issue signs a device certificate for pub, valid until 2049 as AWS's.
func (s *Server) issue(region string, pub crypto.PublicKey, subject pkix.Name, active bool) (*cert, *apiError) {
	ca, key, e := s.caSigner()
	if e != nil {
		return nil, e
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := s.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Minute).Truncate(time.Second),
		NotAfter:     time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, key)
	if err != nil {
		return nil, errf(500, "InternalFailureException", "signing: %v", err)
	}
	sum := sha256.Sum256(der)
	id := hex.EncodeToString(sum[:])
	status := "INACTIVE"
	if active {
		status = "ACTIVE"
	}
	ct := &cert{ID: id, ARN: s.arn(region, "cert/"+id), Status: status, Created: now, Modified: now,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	s.region(region).Certs[id] = ct
	return ct, nil
}

func (c *call) boolQuery(name string) bool {
	v, _ := strconv.ParseBool(c.r.URL.Query().Get(name))
	return v
}

func (s *Server) createKeysAndCertificate(c *call) (any, *apiError) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, errf(500, "InternalFailureException", "key: %v", err)
	}
	ct, e := s.issue(c.region, &key.PublicKey, pkix.Name{CommonName: "AWS IoT Certificate"}, c.boolQuery("setAsActive"))
	if e != nil {
		return nil, e
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	return map[string]any{
		"certificateArn": ct.ARN, "certificateId": ct.ID, "certificatePem": ct.PEM,
		// The capitals are the service's own (aws-iot.md §2.1).
		"keyPair": map[string]string{
			"PublicKey":  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
			"PrivateKey": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		},
	}, nil
}

func (s *Server) createCertificateFromCsr(c *call) (any, *apiError) {
	var in struct {
		CSR string `json:"certificateSigningRequest"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if len(in.CSR) > 4096 {
		return nil, errf(400, "InvalidRequestException", "certificateSigningRequest is longer than 4096 characters")
	}
	blk, _ := pem.Decode([]byte(in.CSR))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, errf(400, "InvalidRequestException", "The certificate signing request is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil, errf(400, "InvalidRequestException", "The certificate signing request is invalid")
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errf(400, "InvalidRequestException", "RSA keys must be at least 2048 bits")
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return nil, errf(400, "InvalidRequestException", "EC keys must be on P-256, P-384 or P-521")
		}
	default:
		return nil, errf(400, "InvalidRequestException", "unsupported key type in the CSR")
	}
	ct, e := s.issue(c.region, csr.PublicKey, csr.Subject, c.boolQuery("setAsActive"))
	if e != nil {
		return nil, e
	}
	return map[string]any{"certificateArn": ct.ARN, "certificateId": ct.ID, "certificatePem": ct.PEM}, nil
}

func (s *Server) certFor(c *call) (*cert, *apiError) {
	id := c.segs[1]
	if !certIDRE.MatchString(id) {
		return nil, errf(400, "InvalidRequestException", "certificateId must be 64 hexadecimal characters")
	}
	ct := s.region(c.region).Certs[id]
	if ct == nil {
		return nil, notFound("Certificate", id)
	}
	return ct, nil
}

func (s *Server) describeCertificate(c *call) (any, *apiError) {
	ct, e := s.certFor(c)
	if e != nil {
		return nil, e
	}
	blk, _ := pem.Decode([]byte(ct.PEM))
	x, _ := x509.ParseCertificate(blk.Bytes)
	return map[string]any{"certificateDescription": map[string]any{
		"certificateArn": ct.ARN, "certificateId": ct.ID, "status": ct.Status, "certificatePem": ct.PEM,
		"ownedBy": s.st.Account, "creationDate": epoch(ct.Created), "lastModifiedDate": epoch(ct.Modified),
		"customerVersion": 1, "generationId": ct.ID[:8], "certificateMode": "DEFAULT",
		"validity": map[string]any{"notBefore": epoch(x.NotBefore), "notAfter": epoch(x.NotAfter)},
	}}, nil
}

func (s *Server) updateCertificate(c *call) (any, *apiError) {
	ct, e := s.certFor(c)
	if e != nil {
		return nil, e
	}
	st := c.r.URL.Query().Get("newStatus")
	switch st {
	case "ACTIVE", "INACTIVE", "REVOKED":
	default:
		return nil, errf(400, "InvalidRequestException", "newStatus must be ACTIVE, INACTIVE or REVOKED")
	}
	if ct.Status == "REVOKED" && st != "REVOKED" {
		return nil, errf(406, "CertificateStateException", "Certificate %s is revoked and cannot change status", ct.ID)
	}
	ct.Status = st
	ct.Modified = s.now()
	return nil, nil
}

func (s *Server) deleteCertificate(c *call) (any, *apiError) {
	ct, e := s.certFor(c)
	if e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if ct.Status == "ACTIVE" {
		return nil, errf(406, "CertificateStateException", "Certificate must be deactivated (not ACTIVE) before deletion.")
	}
	for t, ps := range rs.ThingPrincipals {
		if ps[ct.ARN] {
			return nil, errf(409, "DeleteConflictException", "Things must be detached before deletion (thing: %s)", t)
		}
	}
	force := c.boolQuery("forceDelete")
	for p, targets := range rs.PolicyTargets {
		if targets[ct.ARN] {
			if !force {
				return nil, errf(409, "DeleteConflictException", "Certificate policies must be detached before deletion (policy: %s)", p)
			}
			delete(targets, ct.ARN)
		}
	}
	delete(rs.Certs, ct.ID)
	return nil, nil
}

func (s *Server) listCertificates(c *call) (any, *apiError) {
	rs := s.region(c.region)
	q := c.r.URL.Query()
	var all []*cert
	for _, ct := range rs.Certs {
		all = append(all, ct)
	}
	asc := c.boolQuery("isAscendingOrder")
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Created.Equal(all[j].Created) {
			return all[i].Created.Before(all[j].Created) == asc
		}
		return all[i].ID < all[j].ID
	})
	size := 25
	if v, err := strconv.Atoi(q.Get("pageSize")); err == nil && v > 0 && v <= 250 {
		size = v
	}
	start, _ := strconv.Atoi(q.Get("marker"))
	if start > len(all) {
		start = len(all)
	}
	end := min(start+size, len(all))
	out := []map[string]any{}
	for _, ct := range all[start:end] {
		out = append(out, map[string]any{"certificateArn": ct.ARN, "certificateId": ct.ID, "status": ct.Status,
			"creationDate": epoch(ct.Created), "certificateMode": "DEFAULT"})
	}
	res := map[string]any{"certificates": out}
	if end < len(all) {
		res["nextMarker"] = strconv.Itoa(end)
	}
	return res, nil
}

func checkPolicyDoc(doc string) *apiError {
	if _, err := policy.Parse([]byte(doc)); err != nil {
		return errf(400, "MalformedPolicyException", "%v", err)
	}
	return nil
}

func (s *Server) createPolicy(c *call) (any, *apiError) {
	name := c.segs[1]
	if !policyNameRE.MatchString(name) {
		return nil, errf(400, "InvalidRequestException", "policyName must match [\\w+=,.@-]+ (1-128 characters)")
	}
	var in struct {
		Doc string `json:"policyDocument"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if p, ok := rs.Policies[name]; ok {
		return nil, &apiError{status: 409, code: "ResourceAlreadyExistsException", msg: "Policy cannot be created - name already exists (name=" + name + ")",
			extra: map[string]any{"resourceId": name, "resourceArn": p.ARN}}
	}
	if e := checkPolicyDoc(in.Doc); e != nil {
		return nil, e
	}
	now := s.now()
	p := &policyEntry{Name: name, ARN: s.arn(c.region, "policy/"+name), Next: 2, Created: now, Modified: now,
		Versions: []policyVersion{{ID: 1, Doc: in.Doc, Default: true, Created: now}}}
	rs.Policies[name] = p
	return map[string]any{"policyName": name, "policyArn": p.ARN, "policyDocument": in.Doc, "policyVersionId": "1"}, nil
}

func (s *Server) policyFor(c *call) (*policyEntry, *apiError) {
	p := s.region(c.region).Policies[c.segs[1]]
	if p == nil {
		return nil, notFound("Policy", c.segs[1])
	}
	return p, nil
}

func (s *Server) getPolicy(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	d := p.defaultVersion()
	return map[string]any{"policyName": p.Name, "policyArn": p.ARN, "policyDocument": d.Doc,
		"defaultVersionId": strconv.Itoa(d.ID), "creationDate": epoch(p.Created), "lastModifiedDate": epoch(p.Modified),
		"generationId": fmt.Sprintf("%064d", d.ID)}, nil
}

func (s *Server) deletePolicy(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if len(sortedSet(rs.PolicyTargets[p.Name])) > 0 {
		return nil, errf(409, "DeleteConflictException", "The policy cannot be deleted as the policy is attached to one or more principals (name=%s)", p.Name)
	}
	if len(p.Versions) > 1 {
		return nil, errf(409, "DeleteConflictException", "Cannot delete the policy because it has one or more policy versions attached to it (name=%s)", p.Name)
	}
	delete(rs.Policies, p.Name)
	delete(rs.PolicyTargets, p.Name)
	return nil, nil
}

func (s *Server) createPolicyVersion(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	var in struct {
		Doc string `json:"policyDocument"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	if e := checkPolicyDoc(in.Doc); e != nil {
		return nil, e
	}
	if len(p.Versions) >= 5 {
		return nil, errf(409, "VersionsLimitExceededException", "The policy %s already has the maximum number of versions (5)", p.Name)
	}
	def := c.boolQuery("setAsDefault")
	if def {
		for i := range p.Versions {
			p.Versions[i].Default = false
		}
	}
	v := policyVersion{ID: p.Next, Doc: in.Doc, Default: def, Created: s.now()}
	p.Next++
	p.Versions = append(p.Versions, v)
	p.Modified = s.now()
	return map[string]any{"policyArn": p.ARN, "policyDocument": v.Doc, "policyVersionId": strconv.Itoa(v.ID), "isDefaultVersion": def}, nil
}

func (s *Server) listPolicyVersions(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	out := []map[string]any{}
	for _, v := range p.Versions {
		out = append(out, map[string]any{"versionId": strconv.Itoa(v.ID), "isDefaultVersion": v.Default, "createDate": epoch(v.Created)})
	}
	return map[string]any{"policyVersions": out}, nil
}

func (p *policyEntry) version(id string) (int, *apiError) {
	for i, v := range p.Versions {
		if strconv.Itoa(v.ID) == id {
			return i, nil
		}
	}
	return -1, notFound("Policy version", p.Name+"/"+id)
}

func (s *Server) setDefaultPolicyVersion(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	i, e := p.version(c.segs[3])
	if e != nil {
		return nil, e
	}
	for j := range p.Versions {
		p.Versions[j].Default = j == i
	}
	return nil, nil
}

func (s *Server) deletePolicyVersion(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	i, e := p.version(c.segs[3])
	if e != nil {
		return nil, e
	}
	if p.Versions[i].Default {
		return nil, errf(409, "DeleteConflictException", "Cannot delete the default version of a policy")
	}
	p.Versions = append(p.Versions[:i], p.Versions[i+1:]...)
	return nil, nil
}

func (s *Server) attachPolicy(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	var in struct {
		Target string `json:"target"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	rs := s.region(c.region)
	if s.certByARN(rs, in.Target) == nil {
		return nil, notFound("Target", in.Target)
	}
	n := 0
	for _, targets := range rs.PolicyTargets {
		if targets[in.Target] {
			n++
		}
	}
	if rs.PolicyTargets[p.Name] == nil {
		rs.PolicyTargets[p.Name] = map[string]bool{}
	}
	if !rs.PolicyTargets[p.Name][in.Target] && n >= 10 {
		return nil, errf(410, "LimitExceededException", "a certificate can have at most 10 policies attached")
	}
	rs.PolicyTargets[p.Name][in.Target] = true
	return nil, nil
}

func (s *Server) detachPolicy(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	var in struct {
		Target string `json:"target"`
	}
	if e := c.decode(&in); e != nil {
		return nil, e
	}
	delete(s.region(c.region).PolicyTargets[p.Name], in.Target)
	return nil, nil
}

func (s *Server) listAttachedPolicies(c *call) (any, *apiError) {
	rs := s.region(c.region)
	target := c.segs[1]
	if s.certByARN(rs, target) == nil {
		return nil, notFound("Target", target)
	}
	out := []map[string]string{}
	var names []string
	for name, targets := range rs.PolicyTargets {
		if targets[target] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, map[string]string{"policyName": n, "policyArn": rs.Policies[n].ARN})
	}
	return map[string]any{"policies": out}, nil
}

func (s *Server) listTargetsForPolicy(c *call) (any, *apiError) {
	p, e := s.policyFor(c)
	if e != nil {
		return nil, e
	}
	return map[string]any{"targets": sortedSet(s.region(c.region).PolicyTargets[p.Name])}, nil
}

func (s *Server) describeEndpoint(c *call) (any, *apiError) {
	rs := s.region(c.region)
	if rs.Endpoint == "" {
		b := make([]byte, 7)
		rand.Read(b)
		rs.Endpoint = hex.EncodeToString(b)[:14]
	}
	host := ".iot." + c.region + ".amazonaws.com"
	var addr string
	switch t := c.r.URL.Query().Get("endpointType"); t {
	case "iot:Data-ATS":
		addr = rs.Endpoint + "-ats" + host
	case "", "iot:Data":
		addr = rs.Endpoint + host
	case "iot:CredentialProvider":
		addr = rs.Endpoint + ".credentials" + host
	case "iot:Jobs":
		addr = rs.Endpoint + ".jobs" + host
	default:
		return nil, errf(400, "InvalidRequestException", "Endpoint type %s is not valid", t)
	}
	return map[string]any{"endpointAddress": addr}, nil
}

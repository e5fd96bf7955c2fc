package emulator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bench broker CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func TestSignWithChecksItsCA(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ca, key := testCA(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := s.SignWith(ca, other); err == nil {
		t.Error("accepted a signer that is not the CA's key")
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &other.PublicKey, key)
	leaf, _ := x509.ParseCertificate(leafDER)
	if err := s.SignWith(leaf, other); err == nil {
		t.Error("accepted a certificate that is not a CA")
	}
	if err := s.SignWith(ca, key); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.CACertificate(), ca.Raw) {
		t.Error("CACertificate is not the CA it signs with")
	}
}

// Certificates come from the CA given to SignWith, Principals is the
// registry as a broker needs it, and onChange has seen each change by the
// time the call that made it returns.
func TestDataPlaneView(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ca, key := testCA(t)
	if err := s.SignWith(ca, key); err != nil {
		t.Fatal(err)
	}
	const region = "eu-west-1"
	var mu sync.Mutex
	var seen [][]Principal
	url, err := s.StartNotifying(func() {
		ps := s.Principals(region)
		mu.Lock()
		seen = append(seen, ps)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last := func() ([]Principal, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return nil, 0
		}
		return seen[len(seen)-1], len(seen)
	}
	c := iot.New(iot.Options{Region: region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")})
	ctx := context.Background()

	devKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "board"}}, devKey)
	out, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{SetAsActive: true,
		CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})))})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(aws.ToString(out.CertificatePem)))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || cert.CheckSignatureFrom(ca) != nil || !devKey.PublicKey.Equal(cert.PublicKey) {
		t.Fatalf("the certificate is not the given CA's for the CSR's key: %v", err)
	}
	if ps, _ := last(); len(ps) != 1 || ps[0].Status != "ACTIVE" || !bytes.Equal(ps[0].CertificateDER, cert.Raw) {
		t.Fatalf("after CreateCertificateFromCsr onChange saw %+v", ps)
	}

	if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("board")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("board"), Principal: out.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`
	if _, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p1"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p1"), Target: out.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	ps, n := last()
	if len(ps) != 1 || len(ps[0].Things) != 1 || ps[0].Things[0] != "board" || len(ps[0].Policies) != 1 || ps[0].Policies[0].Name != "p1" || string(ps[0].Policies[0].Document) != doc {
		t.Fatalf("after the attachments onChange saw %+v", ps)
	}
	if _, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId}); err != nil {
		t.Fatal(err)
	}
	if _, n2 := last(); n2 != n {
		t.Errorf("a read called onChange")
	}
	if _, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: out.CertificateId, NewStatus: iottypes.CertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	if ps, _ := last(); ps[0].Status != "INACTIVE" {
		t.Fatalf("after UpdateCertificate onChange saw %s", ps[0].Status)
	}
	if ps := s.Principals("us-east-1"); ps != nil {
		t.Fatalf("another region: %+v", ps)
	}
}

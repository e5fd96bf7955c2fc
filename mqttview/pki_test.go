package mqttview

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a throwaway CA with a server and a client certificate, written
// as PEM files (for mosquitto) and kept as Go values.
type testPKI struct {
	dir                       string
	caPath, srvCert, srvKey   string
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
	pool                      *x509.CertPool
	client, expired, stranger tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, p.caKey.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.caPath = p.write(t, "ca.pem", "CERTIFICATE", der, 0o644)

	srv, srvKey := p.leaf(t, p.ca, p.caKey, "localhost", x509.ExtKeyUsageServerAuth, time.Now().Add(time.Hour))
	p.srvCert = p.write(t, "server.pem", "CERTIFICATE", srv, 0o644)
	kd, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	p.srvKey = p.write(t, "server.key", "PRIVATE KEY", kd, 0o600)

	p.client = p.pair(t, p.ca, p.caKey, "viewer", time.Now().Add(time.Hour))
	p.expired = p.pair(t, p.ca, p.caKey, "old", time.Now().Add(-time.Minute))
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherTmpl := *caTmpl
	otherTmpl.Subject.CommonName = "another CA"
	od, _ := x509.CreateCertificate(rand.Reader, &otherTmpl, &otherTmpl, otherKey.Public(), otherKey)
	other, _ := x509.ParseCertificate(od)
	p.stranger = p.pair(t, other, otherKey, "stranger", time.Now().Add(time.Hour))
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte, mode os.FileMode) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *testPKI) leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage, notAfter time.Time) ([]byte, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.Add(-2 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func (p *testPKI) pair(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, notAfter time.Time) tls.Certificate {
	der, key := p.leaf(t, ca, caKey, cn, x509.ExtKeyUsageClientAuth, notAfter)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsCertForTest(t *testing.T) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

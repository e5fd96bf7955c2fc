package doctor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

type pki struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

var serial int64

func issue(t *testing.T, cn string, parent *pki, isCA bool, dns ...string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: dns,
		IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &pki{cert: c, der: der, key: key}
}

func (p *pki) keyDER(t *testing.T) []byte {
	b, err := x509.MarshalECPrivateKey(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// broker is a TLS server that requires a client certificate from ca.
func broker(t *testing.T, server *pki, clientCA *pki) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{server.der}, PrivateKey: server.key}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					var b [1]byte
					c.Read(b[:])
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dialAs maps the endpoint name to the test server's address.
func dialAs(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func TestProbeTLS(t *testing.T) {
	ca := issue(t, "bench CA", nil, true)
	other := issue(t, "other CA", nil, true)
	server := issue(t, "broker", ca, false, "broker.test")
	device := issue(t, "esp8266-a1b2c3", ca, false)
	stranger := issue(t, "esp8266-ffffff", other, false)
	addr := broker(t, server, ca)
	ctx := context.Background()
	good := Files{Cert: device.der, Key: device.keyDER(t), CA: ca.der}

	cases := []struct {
		name     string
		endpoint string
		files    Files
		dial     func(ctx context.Context, network, addr string) (net.Conn, error)
		class    string
	}{
		{"ok", "broker.test:8883", good, dialAs(addr), ""},
		{"wrong CA", "broker.test:8883", Files{Cert: device.der, Key: device.keyDER(t), CA: other.der}, dialAs(addr), "unknown_authority"},
		{"by IP", "127.0.0.1:8883", good, dialAs(addr), "name_mismatch"},
		{"certificate from another CA", "broker.test:8883", Files{Cert: stranger.der, Key: stranger.keyDER(t), CA: ca.der}, dialAs(addr), "alert"},
		{"no such host", "nowhere.invalid:8883", good, func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}
		}, "dns"},
		{"refused", "broker.test:8883", good, func(ctx context.Context, network, _ string) (net.Conn, error) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			a := ln.Addr().String()
			ln.Close()
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		}, "tcp"},
		{"corrupt key", "broker.test:8883", Files{Cert: device.der, Key: []byte{0x30, 0x03, 0x02, 0x01, 0x00}, CA: ca.der}, dialAs(addr), "files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ProbeTLS(ctx, c.endpoint, c.files, time.Now(), c.dial)
			if c.class == "" {
				if !p.OK {
					t.Fatalf("handshake failed: %s (%s)", p.Err, p.Class)
				}
				return
			}
			if p.OK || p.Class != c.class {
				t.Fatalf("class %q (ok %v, err %s), want %q", p.Class, p.OK, p.Err, c.class)
			}
			if c.class == "unknown_authority" && !strings.Contains(p.ServerIssuer, "bench CA") {
				t.Errorf("server issuer %q", p.ServerIssuer)
			}
			fs := probeFindings(&ProbeFacts{TLS: p})
			if c.class != "files" && len(fs) != 1 {
				t.Errorf("findings: %+v", fs)
			}
		})
	}
}

func TestProbeFiles(t *testing.T) {
	ca := issue(t, "bench CA", nil, true)
	device := issue(t, "dev", ca, false)
	other := issue(t, "dev2", ca, false)
	p := ProbeFiles(Files{Cert: device.der, Key: device.keyDER(t), CA: ca.der}, time.Time{})
	if !p.KeyMatchesCert || !p.CASignsCert || p.KeyErr != "" || len(p.Missing) != 0 {
		t.Fatalf("good files: %+v", p)
	}
	if len(probeFindings(&ProbeFacts{Files: p})) != 0 {
		t.Fatal("good files produce findings")
	}
	p = ProbeFiles(Files{Cert: device.der, Key: other.keyDER(t), CA: ca.der}, time.Time{})
	if p.KeyMatchesCert {
		t.Fatal("mismatched key accepted")
	}
	if fs := probeFindings(&ProbeFacts{Files: p}); len(fs) != 1 || fs[0].Code != "files.key_mismatch" {
		t.Fatalf("mismatch findings: %+v", fs)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := firmware.ParseDeviceKey(x509.MarshalPKCS1PrivateKey(rsaKey)); err != nil {
		t.Fatalf("PKCS#1 RSA refused: %v", err)
	}
	pk8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	if _, err := firmware.ParseDeviceKey(pk8); err != nil {
		t.Fatalf("PKCS#8 refused: %v", err)
	}
	// The usual mistake: the key copied as PEM where the board reads DER.
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	p = ProbeFiles(Files{Cert: device.der, Key: keyPEM, CA: nil}, time.Time{})
	if p.KeyErr == "" || len(p.Missing) != 1 || p.Missing[0] != "ca.der" {
		t.Fatalf("bad files: %+v", p)
	}
	if fs := probeFindings(&ProbeFacts{Files: p}); len(fs) != 1 || fs[0].Code != "files.missing" {
		t.Fatalf("missing findings: %+v", fs)
	}
}

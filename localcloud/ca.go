package localcloud

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
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/iotbench/iotbench/internal/xdg"
)

// certsExpire is when device certificates end: the date AWS IoT gives the
// certificates it issues (aws-iot.md §2.3), so boards see the same thing.
var certsExpire = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// CA is the local cloud's certificate authority. Its key never leaves the
// data directory (mode 0600).
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
	// CertPath is where the CA certificate is, for boards and viewers.
	CertPath string
}

// loadOrCreateCA opens dir/ca.pem and dir/ca.key, creating them the first
// time.
func loadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		return createCA(dir, certPath, keyPath)
	}
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("local CA key: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key, CertPath: certPath}, nil
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"iotbench local cloud"}, CommonName: "iotbench local CA " + host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              certsExpire.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	// Key first: a CA certificate without its key would be useless.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, CertPEM: certPEM, key: key, CertPath: certPath}, nil
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// issue signs a leaf certificate for pub.
func (ca *CA) issue(subject pkix.Name, pub crypto.PublicKey, usage x509.ExtKeyUsage, notAfter time.Time, dns []string, ips []net.IP) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if notAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// IssueClient signs a client certificate for a CSR (PEM), checking its
// signature and key the way AWS IoT's CreateCertificateFromCsr does: RSA
// of at least 2048 bits, or ECDSA on P-256, P-384 or P-521. The thing name
// becomes the subject's common name.
func (ca *CA) IssueClient(csrPEM []byte, thing string) ([]byte, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
		return nil, &InputError{Msg: "the CSR is not a PEM \"CERTIFICATE REQUEST\""}
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, &InputError{Msg: "the CSR does not parse: " + err.Error()}
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, &InputError{Msg: "the CSR's signature does not verify: " + err.Error()}
	}
	if err := checkDeviceKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return ca.issue(pkix.Name{CommonName: thing}, csr.PublicKey, x509.ExtKeyUsageClientAuth, certsExpire, nil, nil)
}

func checkDeviceKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return &InputError{Msg: fmt.Sprintf("RSA key of %d bits: AWS IoT (and so the local cloud) wants at least 2048", k.N.BitLen())}
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return &InputError{Msg: "EC key on an unsupported curve: use P-256, P-384 or P-521"}
		}
	default:
		return &InputError{Msg: fmt.Sprintf("%T keys are not accepted: use RSA-2048 or EC P-256", pub)}
	}
	return nil
}

// generateKey makes a device key: EC P-256 by default (cheap handshakes on
// an ESP8266), RSA-2048 when asked (what AWS's CreateKeysAndCertificate
// generates).
func generateKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "", "ec", "ecdsa", "p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa", "rsa2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, &InputError{Msg: fmt.Sprintf("key type %q: use ec or rsa", kind)}
}

// hostAddresses lists the names and addresses the server certificate must
// cover: loopback, the host name (and .local for mDNS) and every address
// of every interface that is up, so boards on the LAN can connect by any.
func hostAddresses() ([]string, []net.IP) {
	dns := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dns = append(dns, h, h+".local")
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() && !containsIP(ips, n.IP) {
				ips = append(ips, n.IP)
			}
		}
	}
	return dns, ips
}

func containsIP(ips []net.IP, ip net.IP) bool {
	return slices.ContainsFunc(ips, func(x net.IP) bool { return x.Equal(ip) })
}

// serverCert returns the broker's certificate, issuing a new one when
// there is none, it expires within 30 days, or it misses one of the host's
// current addresses (a laptop moved to another network).
func (ca *CA) serverCert(dir string) (certPEM, keyPEM []byte, err error) {
	certPath, keyPath := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	dns, ips := hostAddresses()
	if c, err := os.ReadFile(certPath); err == nil {
		if k, err := os.ReadFile(keyPath); err == nil {
			if cert, err := parseCertPEM(c); err == nil && covers(cert, dns, ips) && time.Until(cert.NotAfter) > 30*24*time.Hour && cert.CheckSignatureFrom(ca.Cert) == nil {
				return c, k, nil
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.issue(pkix.Name{Organization: []string{"iotbench local cloud"}, CommonName: dns[len(dns)-1]}, key.Public(), x509.ExtKeyUsageServerAuth, time.Now().Add(398*24*time.Hour), dns, ips)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = marshalKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func covers(c *x509.Certificate, dns []string, ips []net.IP) bool {
	for _, d := range dns {
		if !slices.Contains(c.DNSNames, d) {
			return false
		}
	}
	for _, ip := range ips {
		if !containsIP(c.IPAddresses, ip) {
			return false
		}
	}
	return true
}

// CertificateID is the certificate's ID as AWS IoT is observed to compute
// it: the SHA-256 of the DER, in hex.
func CertificateID(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func marshalKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("not a PEM key")
	}
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key %T", k)
		}
		return s, nil
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	}
	return nil, fmt.Errorf("unsupported PEM block %q", blk.Type)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

// writeFileAtomic writes into a directory it creates 0700 if needed,
// through xdg.WriteFileAtomic: never a half-written file under the final
// name, and the final mode from the first byte (a key is never readable
// by others, not even for a moment).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return xdg.WriteFileAtomic(path, data, mode)
}

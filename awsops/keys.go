package awsops

import (
	"bytes"
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
	"regexp"
	"strings"
)

// KeyType is how a thing's key pair is made.
type KeyType string

const (
	// KeyRSA2048 is generated on the bench; AWS signs a CSR
	// (CreateCertificateFromCsr), so the key never leaves the bench.
	KeyRSA2048 KeyType = "rsa2048"
	// KeyECP256 likewise, on P-256: a much cheaper handshake on an ESP.
	KeyECP256 KeyType = "ec-p256"
	// KeyAWSGenerated is AWS's own RSA-2048 key pair
	// (CreateKeysAndCertificate), as the console's one-click certificate.
	KeyAWSGenerated KeyType = "aws-rsa2048"
)

// ParseKeyType reads a --key value.
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "", "rsa", "rsa2048", "rsa-2048":
		return KeyRSA2048, nil
	case "ec", "ecc", "p256", "p-256", "ec-p256", "ecdsa":
		return KeyECP256, nil
	case "aws", "aws-generated", "aws-rsa2048":
		return KeyAWSGenerated, nil
	}
	return "", inputErrorf("unknown key type %q: use rsa2048 (default), ec-p256, or aws-generated", s)
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("no local key generation for %s", kt)
}

// keyPEM encodes a key the way BearSSL and OpenSSL both read: PKCS#1 for
// RSA, SEC1 for EC.
func keyPEM(k crypto.Signer) ([]byte, error) {
	der, typ, err := keyDER(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), nil
}

// keyDER is private.der: PKCS#1 RSAPrivateKey for RSA (what BearSSL's
// decoder takes as "raw RSA", device-side.md §3.2) or SEC1 ECPrivateKey.
func keyDER(k crypto.Signer) ([]byte, string, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY", nil
	case *ecdsa.PrivateKey:
		b, err := x509.MarshalECPrivateKey(k)
		return b, "EC PRIVATE KEY", err
	}
	return nil, "", fmt.Errorf("unsupported key type %T", k)
}

// parseKeyPEM reads PKCS#1, SEC1 or PKCS#8 PEM.
func parseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
}

// publicKeyHash is the hex SHA-256 of the PKIX encoding of a public key.
func publicKeyHash(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// certKeyHash is the publicKeyHash of the key a PEM certificate holds.
func certKeyHash(certPEM string) (string, error) {
	c, err := parseCertPEM(certPEM)
	if err != nil {
		return "", err
	}
	return publicKeyHash(c.PublicKey)
}

func makeCSR(k crypto.Signer, thing string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: thing, Organization: []string{"iotbench"}},
	}, k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// keyMatches checks that the certificate certifies exactly this key.
func keyMatches(certPEM string, k crypto.Signer) (bool, error) {
	c, err := parseCertPEM(certPEM)
	if err != nil {
		return false, err
	}
	a, err := x509.MarshalPKIXPublicKey(c.PublicKey)
	if err != nil {
		return false, err
	}
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

var thingNameRE = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// ValidateThingName checks AWS's rule for thing names: 1–128 characters
// from a-z A-Z 0-9 : _ - (it is also the MQTT client id and a topic level).
func ValidateThingName(name string) error {
	if thingNameRE.MatchString(name) {
		return nil
	}
	if name == "" {
		return inputErrorf("no thing name: pass --thing NAME, or --mac to derive one from the board's MAC")
	}
	if len(name) > 128 {
		return inputErrorf("thing name %q is %d characters long; AWS allows at most 128", name[:20]+"…", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ':' || r == '_' || r == '-') {
			return inputErrorf("thing name %q contains %q: AWS allows only letters, digits, ':', '_' and '-'", name, r)
		}
	}
	return inputErrorf("invalid thing name %q", name)
}

var macRE = regexp.MustCompile(`^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$`)

// NormalizeMAC returns a MAC as aa:bb:cc:dd:ee:ff.
func NormalizeMAC(mac string) (string, error) {
	if !macRE.MatchString(mac) {
		return "", inputErrorf("%q is not a MAC address (expected six hex bytes, e.g. a4:cf:12:a1:b2:c3)", mac)
	}
	h := strings.ToLower(strings.NewReplacer(":", "", "-", "").Replace(mac))
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":"), nil
}

// DefaultThingName derives a thing name from the chip family and MAC:
// esp8266-a1b2c3 from the MAC's last three bytes, as the boards' default
// host names do.
func DefaultThingName(chip, mac string) (string, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", err
	}
	if chip == "" {
		chip = "esp8266"
	}
	name := strings.ToLower(chip) + "-" + strings.ReplaceAll(m[9:], ":", "")
	if err := ValidateThingName(name); err != nil {
		return "", err
	}
	return name, nil
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

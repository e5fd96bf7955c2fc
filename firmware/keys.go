package firmware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
)

// ErrDeviceKey is what ParseDeviceKey returns for bytes the firmware's
// TLS stack would not load.
var ErrDeviceKey = errors.New("not an RSA (PKCS#1), EC (SEC 1) or unencrypted PKCS#8 private key in DER")

// ParseDeviceKey reads private.der the way the reference firmware's TLS
// stack does (BearSSL's PrivateKey(der), device-side.md §3.2): raw RSA
// (PKCS#1), raw EC (SEC 1), or unencrypted PKCS#8 holding either. What it
// refuses, the board refuses.
func ParseDeviceKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, ErrDeviceKey
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, ErrDeviceKey
}

package awsops

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
)

// The Amazon Trust Services roots that the iot:Data-ATS endpoints chain to
// (aws-iot.md §5.1, §8), as Mozilla's bundle has them. Their fingerprints
// are checked in a test against shared/testdata/aws.
//
//go:embed rootca/AmazonRootCA1.pem rootca/AmazonRootCA3.pem
var rootCAs embed.FS

// Root CA names for Options and the record.
const (
	RootCA1 = "AmazonRootCA1" // RSA 2048: the chain AWS serves with RSA cipher suites
	RootCA3 = "AmazonRootCA3" // EC P-256: the chain AWS serves with ECDSA cipher suites
)

// RootCAPEM returns one of the embedded roots, PEM.
func RootCAPEM(name string) ([]byte, error) {
	switch name {
	case RootCA1, RootCA3:
		return rootCAs.ReadFile("rootca/" + name + ".pem")
	}
	return nil, inputErrorf("unknown root CA %q (use %s or %s)", name, RootCA1, RootCA3)
}

// RootCA returns one of the embedded roots, parsed.
func RootCA(name string) (*x509.Certificate, error) {
	p, err := RootCAPEM(name)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(p)
	if blk == nil {
		return nil, fmt.Errorf("embedded %s is not PEM", name)
	}
	return x509.ParseCertificate(blk.Bytes)
}

package doctor

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// Files are the board's identity files as they are (or will be) on its
// filesystem. A nil slice means the file is missing.
type Files struct {
	Cert, Key, CA []byte
}

// ProbeFacts is what the bench checked itself.
type ProbeFacts struct {
	// Files: parsed identity (nil when not probed).
	Files *FilesProbe
	// TLS: a handshake to the endpoint with the board's files (nil when
	// not probed).
	TLS *TLSProbe
	// FS: the filesystem image found in the board's flash (nil when not
	// probed).
	FS *FSProbe
}

// FilesProbe is the result of checking the identity files offline.
type FilesProbe struct {
	Missing        []string // file names absent
	CertErr        string   // why cert.der does not parse
	KeyErr         string   // why private.der does not parse as BearSSL would
	CAErr          string   // why ca.der does not parse
	KeyMatchesCert bool
	CertSubject    string
	CertNotBefore  time.Time
	CertNotAfter   time.Time
	CASubject      string
	// CASignsCert: the CA is the issuer of the device certificate. True
	// for the local cloud's own CA; false (and fine) for AWS, whose CA on
	// the board authenticates the server, not the device.
	CASignsCert bool
	// BoardTime is the clock the board validates certificates with, if
	// known (the NTP epoch it printed); ClockOK is the verdict.
	BoardTime time.Time
}

// ProbeFiles checks the identity files the way the firmware's TLS stack
// will use them (device-side.md §3.2: BearSSL takes PKCS#1/SEC1/PKCS#8 DER
// keys and X.509 DER certificates).
func ProbeFiles(f Files, boardTime time.Time) *FilesProbe {
	p := &FilesProbe{BoardTime: boardTime}
	var cert, ca *x509.Certificate
	var key crypto.Signer
	if f.Cert == nil {
		p.Missing = append(p.Missing, firmware.CertFile)
	} else if c, err := x509.ParseCertificate(f.Cert); err != nil {
		p.CertErr = err.Error()
	} else {
		cert = c
		p.CertSubject, p.CertNotBefore, p.CertNotAfter = c.Subject.String(), c.NotBefore, c.NotAfter
	}
	if f.Key == nil {
		p.Missing = append(p.Missing, firmware.KeyFile)
	} else if k, err := firmware.ParseDeviceKey(f.Key); err != nil {
		p.KeyErr = err.Error()
	} else {
		key = k
	}
	if f.CA == nil {
		p.Missing = append(p.Missing, firmware.CAFile)
	} else if c, err := x509.ParseCertificate(f.CA); err != nil {
		p.CAErr = err.Error()
	} else {
		ca = c
		p.CASubject = c.Subject.String()
	}
	if cert != nil && key != nil {
		p.KeyMatchesCert = publicKeysEqual(cert.PublicKey, key.Public())
	}
	if cert != nil && ca != nil {
		p.CASignsCert = cert.CheckSignatureFrom(ca) == nil
	}
	return p
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

// TLSProbe is the result of a handshake to the endpoint with the board's
// certificate, key and CA, made from the bench.
type TLSProbe struct {
	Endpoint string // host:port
	OK       bool
	// Class sorts the failure: "dns", "tcp", "unknown_authority",
	// "name_mismatch", "expired", "alert", "files", "other".
	Class string
	Err   string
	// ServerIssuer is the issuer of the top of the chain the server sent
	// (what ca.der would have to be).
	ServerIssuer string
	Alert        string // the TLS alert the server sent, when Class is "alert"
}

// ProbeTLS opens a TLS connection to endpoint (host:port) as the board
// would: its certificate and key as the client identity, ca.der as the
// only trust anchor, SNI = the host, validation time = now. dial reaches
// the endpoint (tests map names to loopback); nil uses net.Dialer. Only
// the handshake is made: an MQTT CONNECT with the board's client id would
// kick the board off the broker.
func ProbeTLS(ctx context.Context, endpoint string, f Files, now time.Time, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *TLSProbe {
	p := &TLSProbe{Endpoint: endpoint}
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		p.Class, p.Err = "other", "endpoint "+endpoint+": "+err.Error()
		return p
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, Time: func() time.Time { return now }}
	if f.CA != nil {
		ca, err := x509.ParseCertificate(f.CA)
		if err != nil {
			p.Class, p.Err = "files", "ca.der: "+err.Error()
			return p
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AddCert(ca)
	} else {
		cfg.RootCAs = x509.NewCertPool() // no anchors: nothing verifies, as on the board
	}
	if f.Cert != nil && f.Key != nil {
		key, err := firmware.ParseDeviceKey(f.Key)
		if err != nil {
			p.Class, p.Err = "files", "private.der: "+err.Error()
			return p
		}
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{f.Cert}, PrivateKey: key}}
	}
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := dial(ctx, "tcp", endpoint)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			p.Class = "dns"
		} else {
			p.Class = "tcp"
		}
		p.Err = err.Error()
		return p
	}
	defer raw.Close()
	conn := tls.Client(raw, cfg)
	err = conn.HandshakeContext(ctx)
	if err == nil {
		// TLS 1.3 servers report a rejected client certificate after the
		// client's Finished: read once so such an alert is seen here.
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var one [1]byte
		_, rerr := conn.Read(one[:])
		var ne net.Error
		if rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout()) && !errors.Is(rerr, net.ErrClosed) && rerr.Error() != "EOF" {
			err = rerr
		}
	}
	if err == nil {
		p.OK = true
		return p
	}
	p.Err = err.Error()
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	var alert tls.AlertError
	switch {
	case errors.As(err, &ua):
		p.Class = "unknown_authority"
		if ua.Cert != nil {
			p.ServerIssuer = ua.Cert.Issuer.String()
		}
	case errors.As(err, &he):
		p.Class = "name_mismatch"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		p.Class = "expired"
	case errors.As(err, &alert):
		p.Class, p.Alert = "alert", alertName(alert)
	case strings.Contains(err.Error(), "remote error: tls: "):
		p.Class, p.Alert = "alert", strings.TrimPrefix(err.Error()[strings.Index(err.Error(), "remote error: tls: "):], "remote error: tls: ")
	default:
		p.Class = "other"
	}
	if errors.As(err, &ve) && p.ServerIssuer == "" && len(ve.UnverifiedCertificates) > 0 {
		top := ve.UnverifiedCertificates[len(ve.UnverifiedCertificates)-1]
		p.ServerIssuer = top.Issuer.String()
	}
	return p
}

func alertName(a tls.AlertError) string {
	s := a.Error()
	return strings.TrimPrefix(s, "tls: ")
}

// FSProbe is what was found in flash where the layout puts the filesystem.
type FSProbe struct {
	Offset  uint32
	Layout  string
	Mounted bool
	Err     string   // why it does not mount
	Files   []string // names at the root
	// FoundAt is where a mountable image was found instead, when the
	// probe looked elsewhere (0 and FoundElsewhere false: not found).
	FoundAt        uint32
	FoundElsewhere bool
}

// probeFindings turns the bench's own checks into causes.
func probeFindings(p *ProbeFacts) []Finding {
	if p == nil {
		return nil
	}
	var fs []Finding
	add := func(code string, step Step, summary, fix string, explains []string, ev ...string) {
		f := Finding{Code: code, Step: step, Severity: decode.Error, Summary: summary, Fix: fix, explains: explains}
		for _, e := range ev {
			f.Evidence = append(f.Evidence, Evidence{Source: SourceProbe, Text: e})
		}
		fs = append(fs, f)
	}
	connectSyms := []string{SymTLS, SymMQTT, SymStalled}
	if s := p.FS; s != nil && !s.Mounted {
		summary := fmt.Sprintf("no filesystem mounts at 0x%x, where layout %s puts it", s.Offset, s.Layout)
		fix := "flash the filesystem image at the layout's offset (iotbench write-flash --fs DIR --layout " + s.Layout + ")"
		if label, ok := strings.CutPrefix(s.Layout, "partition "); ok {
			// ESP32 family: the partition table places the filesystem.
			summary = fmt.Sprintf("no filesystem mounts at 0x%x, where the partition table puts partition %s", s.Offset, label)
			fix = "flash the filesystem image into that partition: iotbench provision does, or iotbench write-flash --fs DIR --fs-partition " + label
		}
		if s.FoundElsewhere {
			summary += fmt.Sprintf("; a filesystem image was found at 0x%x instead", s.FoundAt)
			fix = fmt.Sprintf("the image was written at 0x%x: flash it at 0x%x, or build the firmware for the layout that matches where it is", s.FoundAt, s.Offset)
			if label, ok := strings.CutPrefix(s.Layout, "partition "); ok {
				fix = fmt.Sprintf("the image was written at 0x%x: flash it into partition %s at 0x%x (iotbench write-flash --fs DIR --fs-partition %s), or use a partition table that puts the filesystem where it is", s.FoundAt, label, s.Offset, label)
			}
		}
		add("fs.wrong_place", StepFiles, summary, fix, []string{SymFiles, SymStalled}, fmt.Sprintf("flash at 0x%x: %s", s.Offset, s.Err))
	} else if s != nil {
		var missing []string
		for _, want := range []string{firmware.ConfigFile, firmware.CertFile, firmware.KeyFile, firmware.CAFile} {
			found := false
			for _, f := range s.Files {
				if strings.TrimPrefix(f, "/") == want {
					found = true
				}
			}
			if !found {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			add("fs.files_missing", StepFiles, "the filesystem in flash lacks "+strings.Join(missing, ", "),
				"rebuild the image with the identity files and config.json at its root (iotbench provision does it) and flash it",
				[]string{SymFiles, SymStalled}, "files on the image: "+strings.Join(s.Files, ", "))
		}
	}
	if f := p.Files; f != nil {
		switch {
		case len(f.Missing) > 0:
			add("files.missing", StepFiles, "identity files missing: "+strings.Join(f.Missing, ", "),
				"provision the board (iotbench provision) so cert.der, private.der and ca.der are written", []string{SymFiles, SymTLS, SymStalled})
		case f.KeyErr != "":
			add("files.key_invalid", StepFiles, "private.der is not a key the board can use: "+f.KeyErr,
				"write the private key as DER (PKCS#1 for RSA, SEC 1 for EC): iotbench provision does; by hand: openssl rsa -in key.pem -outform DER -out private.der",
				[]string{SymFiles, SymTLS, SymStalled})
		case f.CertErr != "":
			add("files.cert_invalid", StepFiles, "cert.der is not an X.509 DER certificate: "+f.CertErr,
				"write the certificate as DER: openssl x509 -in cert.pem -outform DER -out cert.der", []string{SymFiles, SymTLS, SymStalled})
		case f.CAErr != "":
			add("files.ca_invalid", StepFiles, "ca.der is not an X.509 DER certificate: "+f.CAErr,
				"write the root CA as DER (for AWS: Amazon Root CA 1)", []string{SymFiles, SymTLS, SymStalled})
		case !f.KeyMatchesCert:
			add("files.key_mismatch", StepTLS, "private.der does not belong to cert.der: the server rejects the client certificate",
				"write the key that was generated with this certificate (the provisioning record keeps it), or provision a new identity",
				connectSyms, "certificate "+f.CertSubject)
		}
		if !f.BoardTime.IsZero() && !f.CertNotBefore.IsZero() {
			if f.BoardTime.Before(f.CertNotBefore) || f.BoardTime.After(f.CertNotAfter) {
				add("cert.validity", StepClock, fmt.Sprintf("the board's clock (%s) is outside the certificate's validity (%s … %s)",
					f.BoardTime.UTC().Format(time.RFC3339), f.CertNotBefore.UTC().Format(time.RFC3339), f.CertNotAfter.UTC().Format(time.RFC3339)),
					"set the board's clock from NTP before connecting (and check the certificate has not expired)", []string{SymClock, SymTLS})
			}
		}
	}
	if t := p.TLS; t != nil && !t.OK {
		switch t.Class {
		case "unknown_authority":
			ev := "handshake to " + t.Endpoint + ": " + t.Err
			if t.ServerIssuer != "" {
				ev += " (the server's chain ends at " + t.ServerIssuer + ")"
			}
			add("tls.ca_mismatch", StepTLS, "ca.der is not the root of the endpoint's certificate chain, so the board cannot trust the server",
				"write the CA that issued the endpoint's chain as ca.der (for the AWS ATS endpoint: Amazon Root CA 1 for RSA, 3 for ECC; for the local cloud: its CA)", connectSyms, ev)
		case "name_mismatch":
			add("tls.name_mismatch", StepTLS, "the endpoint's certificate does not cover the host name in config.json",
				"connect by the endpoint's host name, not an IP address or a CNAME (AWS: the iot:Data-ATS endpoint)", connectSyms, t.Err)
		case "dns":
			add("tls.dns", StepTLS, "the endpoint name does not resolve: "+t.Endpoint,
				"correct the endpoint in config.json (iotbench aws status shows the account's endpoint)", connectSyms, t.Err)
		case "tcp":
			add("tls.tcp", StepTLS, "cannot reach "+t.Endpoint+" over TCP",
				"check the network allows outbound TCP to the endpoint's port (8883) and that the broker is running", connectSyms, t.Err)
		case "alert":
			add("tls.client_rejected", StepTLS, "the server rejected the board's certificate during the handshake ("+t.Alert+")",
				"the certificate is unknown to the server, inactive or revoked, or the key does not match it: check the certificate's status in the cloud and re-provision if needed", connectSyms, t.Err)
		case "files":
			// Already reported by the files probe.
		default:
			add("tls.failed", StepTLS, "a TLS handshake to "+t.Endpoint+" with the board's files failed: "+t.Err,
				"see the error; compare with the board's TLS error code", connectSyms, t.Err)
		}
	}
	return fs
}

// epochOf returns the clock the board set from NTP (#IB ntp synced=1
// epoch=…), the last one seen. Unsynced clocks are the clock finding's
// business, not a certificate-validity one.
func epochOf(events []decode.Event) time.Time {
	var t time.Time
	for _, e := range events {
		if e.Kind != decode.IBKind("ntp") && e.Kind != decode.KindNTPSynced {
			continue
		}
		if e.Fields["synced"] == "0" || e.Severity >= decode.Error {
			continue
		}
		if v, ok := e.Fields["epoch"]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				t = time.Unix(n, 0)
			}
		}
	}
	return t
}

package twin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/layout"
)

// The faults of TestFaults on an ESP32-C3: what arduino-esp32's mbedTLS
// WiFiClientSecure makes the sketch print — lastError()'s code and
// mbedtls_strerror's text — where the ESP8266 prints BearSSL's.
func TestFaultsESP32(t *testing.T) {
	t.Parallel()
	verify := firmware.MbedTLSStrerror(firmware.MbedTLSCertVerifyFailed)
	alert := `#IB tls ok=0 code=-30592 text="SSL - A fatal alert message was received from our peer"`
	faults := []fault{
		{name: "wrong CA", files: func(t *testing.T, p *pki, f map[string][]byte) {
			ca, _ := newCA(t, "some other CA")
			f[firmware.CAFile] = ca.Raw
		},
			want:  []string{"failed, rc=-2 try again in 2 seconds", "SSL error: " + verify, `#IB tls ok=0 code=-9984 text="` + verify + `" mfln=0`, "#IB mqtt state=-2 connack=-1"},
			twice: "#IB tls ok=0 code=-9984"},
		{name: "corrupt CA", files: func(t *testing.T, p *pki, f map[string][]byte) { f[firmware.CAFile] = f[firmware.CAFile][:100] },
			want:  []string{"#IB file name=ca.der ok=0 err=parse", `#IB tls ok=0 code=-8576 text="X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"`},
			twice: "#IB tls ok=0 code=-8576"},
		{name: "no CA", files: func(t *testing.T, p *pki, f map[string][]byte) { delete(f, firmware.CAFile) },
			want:  []string{"#IB file name=ca.der ok=0 err=missing", `SSL error: ERROR - Generic error`, `#IB tls ok=0 code=-1 text="ERROR - Generic error"`},
			twice: "#IB tls ok=0 code=-1"},
		{name: "corrupt key", files: func(t *testing.T, p *pki, f map[string][]byte) {
			k := append([]byte(nil), f[firmware.KeyFile]...)
			k[7] ^= 0xff
			f[firmware.KeyFile] = k[:len(k)-9]
		},
			want: []string{"#IB file name=private.der ok=0 err=parse", "Stopped: no usable client certificate and key"}, silent: true},
		{name: "key of another device", files: func(t *testing.T, p *pki, f map[string][]byte) {
			f[firmware.KeyFile], _ = deviceIdentity(t, p.caCert, p.caKey, "other", false)
		},
			want: []string{alert}, twice: "#IB tls ok=0 code=-30592"},
		{name: "certificate inactive (TLS refused)", broker: brokerOpts{rejectCertTLS: true},
			want: []string{"SSL error: SSL - A fatal alert message was received from our peer", alert, "#IB mqtt state=-2 connack=-1"}, twice: "#IB tls ok=0 code=-30592"},
		{name: "certificate inactive (broker hangs up)", broker: brokerOpts{hangUpConnect: true},
			want: []string{"failed, rc=-4 try again in 2 seconds", "#IB tls ok=1 code=0", "#IB mqtt state=-4 connack=-1"}, twice: "#IB mqtt state=-4"},
		{name: "policy denies publish", broker: brokerOpts{denyPublish: true},
			want: []string{"#IB mqtt state=0 connack=0", "MQTT connection lost, rc=-3", "#IB mqtt state=-3"}, twice: "#IB mqtt state=-3"},
		{name: "endpoint not in the server certificate", files: func(t *testing.T, p *pki, f map[string][]byte) {
			cfg, err := firmware.Parse(f[firmware.ConfigFile])
			if err != nil {
				t.Fatal(err)
			}
			cfg.Endpoint.Host = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com"
			f[firmware.ConfigFile] = cfg.Marshal()
		},
			want: []string{`#IB tls ok=0 code=-9984`}, twice: "#IB tls ok=0 code=-9984"},
		// connect() returns before start_ssl_client: lastError() still
		// holds its initial 0, whose text is empty.
		{name: "endpoint does not resolve", opts: Options{Resolve: localhostOnly},
			want: []string{`#IB tls ok=0 code=0 text="" mfln=0`, "#IB mqtt state=-2 connack=-1"}, twice: "#IB mqtt state=-2"},
		// arduino-esp32's mbedTLS does not check certificate dates: a
		// clock at 2000 still connects (and publishes 2000 timestamps).
		{name: "NTP wrong", opts: Options{NTP: NTPWrong},
			want: []string{"#IB ntp synced=1 epoch=946684", "#IB mqtt state=0 connack=0"}, not: []string{"#IB tls ok=0"},
			twice: "#IB pub topic=", publishes: true},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			runFault(t, f, func(t *testing.T, o Options, files map[string][]byte) *bench {
				return newBench32(t, o, "ESP32-C3", layout.LittleFS, "spiffs", files)
			})
		})
	}
}

// After a connect that failed with an mbedTLS code, a failed name lookup
// leaves lastError() as it was; after a connect that worked it holds the
// socket's descriptor, whose text is an unknown low-level code.
func TestLastErrorSurvivesLookup(t *testing.T) {
	var l lastError
	lookup := fmt.Errorf("name lookup of x: %w: %w", errLookup, errors.New("no such host"))
	steps := []struct {
		err  error // nil: a connect that worked
		want int
		text string
	}{
		{lookup, 0, ""},
		{setupError{firmware.MbedTLSX509InvalidFmt}, -0x2180, "X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"},
		{lookup, -0x2180, "X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"},
		{fmt.Errorf("%w: %w", errTCP, syscall.ECONNREFUSED), -1, "ERROR - Generic error"},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, -80, "UNKNOWN ERROR CODE (0050)"},
		{io.EOF, -29312, "SSL - The connection indicated an EOF"},
		{x509.HostnameError{}, -9984, "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed"},
		{nil, lwipFirstSocket, "UNKNOWN ERROR CODE (0030)"},
		{lookup, lwipFirstSocket, "UNKNOWN ERROR CODE (0030)"},
	}
	for i, st := range steps {
		got := l.v
		if st.err == nil {
			l.connected()
			got = l.v
		} else {
			got = l.fail(st.err)
		}
		if got != st.want || firmware.MbedTLSStrerror(got) != st.text {
			t.Errorf("step %d (%v): %d %q, want %d %q", i, st.err, got, firmware.MbedTLSStrerror(got), st.want, st.text)
		}
	}
}

// mbedTLS as arduino-esp32 builds it ignores certificate dates but checks
// the chain, the host name and the server-auth usage.
func TestVerifyWithoutDates(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "old CA"}, NotBefore: now.Add(-20 * 24 * time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(notBefore, notAfter time.Time, usage x509.ExtKeyUsage) []byte {
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "broker"}, DNSNames: []string{"broker.test"},
			NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	other, _ := newCA(t, "other CA")
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other)
	expired := leaf(now.Add(-10*24*time.Hour), now.Add(-5*24*time.Hour), x509.ExtKeyUsageServerAuth)
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		host  string
		der   []byte
		code  int // 0: accepted
	}{
		{"expired server certificate", roots, "broker.test", expired, 0},
		{"not yet valid", roots, "broker.test", leaf(now.Add(24*time.Hour), now.Add(40*time.Hour), x509.ExtKeyUsageServerAuth), 0},
		{"another CA", otherRoots, "broker.test", expired, firmware.MbedTLSCertVerifyFailed},
		{"another host", roots, "other.test", expired, firmware.MbedTLSCertVerifyFailed},
		{"client certificate as server's", roots, "broker.test", leaf(now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageClientAuth), firmware.MbedTLSCertVerifyFailed},
	} {
		err := verifyWithoutDates(tc.roots, tc.host)([][]byte{tc.der}, nil)
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != 0 && (err == nil || mbedtlsError(err) != tc.code):
			t.Errorf("%s: %v (code %d), want code %d", tc.name, err, mbedtlsError(err), tc.code)
		}
	}
}

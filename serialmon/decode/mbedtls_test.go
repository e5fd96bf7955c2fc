package decode

import (
	"strings"
	"testing"

	"github.com/iotbench/iotbench/firmware"
)

const boot32 = `ESP-ROM:esp32c3-api1-20210207
rst:0x3 (RTC_SW_SYS_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)
#IB boot app=iotbench-ref ver=0.1.0 core=3.1.1 arch=esp32c3 chip=00112233 flash=4194304 reason=3 reason_s="Software restart"
`

const boot8266 = ` ets Jan  8 2013,rst cause:2, boot mode:(3,6)
#IB boot app=iotbench-ref ver=0.1.0 core=3.1.2 chip=00a1b2c3 flash=4194304 reason=6 reason_s="External System"
`

// The ESP32 sketch's "#IB tls" codes are mbedTLS's, with the advice the
// ESP8266's BearSSL codes get for the same fault.
func TestIBTLSMbedTLS(t *testing.T) {
	verify := firmware.MbedTLSStrerror(firmware.MbedTLSCertVerifyFailed)
	for _, tc := range []struct {
		name, line  string
		sum, fix    string
		fields      map[string]string
		bear        string // the ESP8266 line for the same fault (its fix must be contained)
		heapLowToo  bool
		sameFixAs32 string
	}{
		{name: "wrong CA", line: `#IB tls ok=0 code=-9984 text="` + verify + `" mfln=0 heap=46000`,
			sum: "TLS error -9984 (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED): " + verify, fix: "Amazon Root CA 1",
			fields: map[string]string{"tls_lib": "mbedtls", "code": "-9984", "name": "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED"},
			bear:   `#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor."`},
		{name: "certificate refused", line: `#IB tls ok=0 code=-30592 text="SSL - A fatal alert message was received from our peer" mfln=0 heap=46000`,
			sum: "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE", fix: "INACTIVE or REVOKED",
			bear: `#IB tls ok=0 code=46 text="SSL received fatal alert - Decoding error: value is off-limits."`},
		{name: "closed mid-handshake", line: `#IB tls ok=0 code=-29312 text="SSL - The connection indicated an EOF"`,
			sum: "MBEDTLS_ERR_SSL_CONN_EOF", fix: "INACTIVE or REVOKED"},
		{name: "reset", line: `#IB tls ok=0 code=-80 text="UNKNOWN ERROR CODE (0050)"`,
			sum: "MBEDTLS_ERR_NET_CONN_RESET", fix: "firewall"},
		{name: "below TLS", line: `#IB tls ok=0 code=-1 text="ERROR - Generic error"`,
			sum: "SSL_CLIENT_FAILED", fix: "8883"},
		{name: "lookup failed first", line: `#IB tls ok=0 code=0 text=""`, sum: "none", fix: "DNS", fields: map[string]string{"ambiguous": "1"}},
		{name: "lookup failed after a connection", line: `#IB tls ok=0 code=48 text="UNKNOWN ERROR CODE (0030)"`, sum: "socket", fix: "DNS"},
		{name: "bad key", line: `#IB tls ok=0 code=-15714 text="PK - Invalid key tag or value : ASN1 - ASN1 tag was of an unexpected value"`,
			sum: "MBEDTLS_ERR_PK_KEY_INVALID_FORMAT+MBEDTLS_ERR_ASN1_UNEXPECTED_TAG", fix: "SEC 1"},
		{name: "bad CA file", line: `#IB tls ok=0 code=-8576 text="X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"`,
			sum: "MBEDTLS_ERR_X509_INVALID_FORMAT", fix: "ca.der"},
		{name: "out of memory", line: `#IB tls ok=0 code=-32512 text="SSL - Memory allocation failed"`,
			sum: "MBEDTLS_ERR_SSL_ALLOC_FAILED", fix: "heap", heapLowToo: true},
		{name: "not a TLS server", line: `#IB tls ok=0 code=-29184 text="SSL - An invalid SSL record was received"`, sum: "MBEDTLS_ERR_SSL_INVALID_RECORD", fix: "8883"},
		{name: "internal", line: `#IB tls ok=0 code=-27648 text="SSL - Internal error (eg, unexpected failure in lower-level module)"`, sum: "MBEDTLS_ERR_SSL_INTERNAL_ERROR", fix: "heap"},
		{name: "text only", line: `#IB tls ok=0 text="` + verify + `"`, sum: "-9984", fix: "ca.der"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := decodeText(boot32 + tc.line)
			e := one(t, evs, IBKind(firmware.EventTLS))
			check(t, e, Error, tc.sum, tc.fix, tc.fields)
			if e.Fields["tls_lib"] != LibMbedTLS {
				t.Errorf("tls_lib %q", e.Fields["tls_lib"])
			}
			if tc.heapLowToo {
				one(t, evs, KindHeapLow)
			}
			if tc.bear != "" {
				b := one(t, decodeText(boot8266+tc.bear), IBKind(firmware.EventTLS))
				if !strings.Contains(e.Fix, b.Fix) && !strings.Contains(e.Fix, strings.TrimPrefix(b.Fix, b.Fix[:strings.Index(b.Fix, ": ")+2])) {
					t.Errorf("ESP32 fix %q does not carry the ESP8266 one %q", e.Fix, b.Fix)
				}
			}
		})
	}
}

// The arch comes from the last boot line and ends with the reset: an
// ESP8266 build after it reads its codes as BearSSL's again.
func TestTLSArchFollowsBoot(t *testing.T) {
	d := NewDecoder(Options{})
	e := one(t, feed(d, boot32+`#IB tls ok=0 code=-9984 text="x"`), IBKind(firmware.EventTLS))
	if e.Fields["tls_lib"] != LibMbedTLS {
		t.Fatalf("after an esp32c3 boot: %v", e.Fields)
	}
	e = one(t, feed(d, boot8266+`#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor."`), IBKind(firmware.EventTLS))
	if e.Fields["tls_lib"] != "" || e.Fields["name"] != "BR_ERR_X509_NOT_TRUSTED" {
		t.Fatalf("after an ESP8266 boot: %v", e.Fields)
	}
	// Told the chip but no boot line yet (a log that starts mid-run).
	d = NewDecoder(Options{Chip: "ESP32-S3"})
	e = one(t, feed(d, `#IB tls ok=0 code=-30592 text="SSL - A fatal alert message was received from our peer"`), IBKind(firmware.EventTLS))
	if e.Fields["name"] != "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE" {
		t.Fatalf("ESP32-S3 without a boot line: %v", e.Fields)
	}
}

// The sketch's free-form "SSL error:" line and the clock on an ESP32 build.
func TestSSLErrorLineMbedTLS(t *testing.T) {
	evs := decodeText(boot32 + "SSL error: X509 - Certificate verification failed, e.g. CRL, CA or signature check failed")
	check(t, one(t, evs, KindTLSError), Error, "-9984", "ca.der", map[string]string{"tls_lib": "mbedtls"})
	evs = decodeText(boot32 + "SSL error: ")
	check(t, one(t, evs, KindTLSError), Error, "none", "DNS", nil)
	evs = decodeText(boot32 + "#IB ntp synced=1 epoch=30 waited_ms=1")
	c := one(t, evs, IBKind(firmware.EventNTP))
	if strings.Contains(c.Summary, "54") || !strings.Contains(c.Summary, "waits for NTP") {
		t.Errorf("ESP32 clock event: %q", c.Summary)
	}
	evs = decodeText(boot32 + "#IB file name=private.der ok=0 err=parse")
	check(t, one(t, evs, IBKind(firmware.EventFile)), Error, "decoded by mbedTLS", "SEC 1", nil)
}

// arduino-esp32's ssl_client.cpp logs at core debug level ≥ 1.
func TestArduinoSSLClientLog(t *testing.T) {
	for _, tc := range []struct {
		line, kind string
		sev        Severity
		sum, fix   string
		fields     map[string]string
	}{
		{"[  5012][E][ssl_client.cpp:37] _handle_error(): [start_ssl_client():290]: (-9984) X509 - Certificate verification failed, e.g. CRL, CA or signature check failed",
			KindTLSError, Error, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED", "ca.der",
			map[string]string{"function": "start_ssl_client", "source": "ssl_client.cpp:37", "code": "-9984", "tls_lib": "mbedtls"}},
		{"[E][ssl_client.cpp:33] _handle_error(): [start_ssl_client():199]: (-80) UNKNOWN ERROR CODE (0050)",
			KindTLSError, Error, "MBEDTLS_ERR_NET_CONN_RESET", "INACTIVE", map[string]string{"code": "-80"}},
		{"[ 9437][E][ssl_client.cpp:38] _handle_error(): [ssl_starttls_handshake():316]: (-30592) SSL - A fatal alert message was received from our peer",
			KindTLSError, Error, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE", "REVOKED", nil},
		{"[E][ssl_client.cpp:40] _handle_error(): [start_ssl_client():230]: code -9984",
			KindTLSError, Error, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED", "ca.der", nil},
		{"[36217174][E][ssl_client.cpp:37] _handle_error(): [data_to_read():361]: (-76) UNKNOWN ERROR CODE (004C)",
			KindTLSError, Warning, "data_to_read", "reconnects", map[string]string{"name": "MBEDTLS_ERR_NET_RECV_FAILED"}},
		{"[ 1234][E][NetworkClientSecure.cpp:159] connect(): start_ssl_client: connect failed: -1",
			KindTLSError, Error, "SSL_CLIENT_FAILED", "8883", nil},
		{"[E][WiFiClientSecure.cpp:132] connect(): start_ssl_client: -80",
			KindTLSTrace, Warning, "start_ssl_client: -80", "", map[string]string{"code": "-80"}},
	} {
		// The log format says mbedTLS whatever the chip option says.
		e := one(t, decodeText(tc.line), tc.kind)
		check(t, e, tc.sev, tc.sum, tc.fix, tc.fields)
	}
	// Other arduino-esp32 log lines are not TLS events.
	for _, l := range []string{"[E][WiFiClient.cpp:517] flush(): fail on fd 48, errno: 11", "[E][ssl_client.cpp:37] _handle_error(): garbage"} {
		for _, e := range decodeText(l) {
			if e.Kind == KindTLSError || e.Kind == KindTLSTrace {
				t.Errorf("%q → %s", l, e.Kind)
			}
		}
	}
}

// Lines of ESP32 builds and arduino-esp32's logs: no panic, well-formed
// events, for any bytes after an esp32 boot line.
func FuzzMbedTLSLines(f *testing.F) {
	for _, s := range []string{
		`#IB tls ok=0 code=-9984 text="X509 - Certificate verification failed, e.g. CRL, CA or signature check failed" mfln=0 heap=46000`,
		`#IB tls ok=0 code=-2147483648 text=""`,
		`#IB tls ok=0 text="PK - Invalid key tag or value : UNKNOWN ERROR CODE (FFFF)"`,
		"SSL error: UNKNOWN ERROR CODE (0050)",
		"[  5012][E][ssl_client.cpp:37] _handle_error(): [start_ssl_client():290]: (-9984) X509 - Certificate verification failed, e.g. CRL, CA or signature check failed",
		"[E][ssl_client.cpp:40] _handle_error(): [start_ssl_client():230]: code -99999999999999999999",
		"[ 1234][E][NetworkClientSecure.cpp:159] connect(): start_ssl_client: connect failed: -1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		d := NewDecoder(Options{})
		feed(d, boot32)
		for _, e := range d.Line(line, t0) {
			wellFormed(t, e)
		}
	})
}

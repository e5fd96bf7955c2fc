package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/serialmon/decode"
)

const bootHead32 = `
ESP-ROM:esp32c3-api1-20210207
rst:0x3 (RTC_SW_SYS_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)
#IB boot app=iotbench-ref ver=0.1.0 core=3.0.7 arch=esp32c3 chip=00d3105e flash=4194304 reason=3 reason_s="Software restart"
`

const upTo32 = bootHead32 + `
#IB fs ok=1 kind=littlefs files=ca.der,cert.der,config.json,private.der
#IB cfg ok=1 thing=esp32c3-d3105e sensors=fake
#IB wifi status=3 ip=192.168.1.50 rssi=-58 ch=6
`

// The same faults on an ESP32-C3 (mbedTLS codes, as the twin and the
// sketch print them) and an ESP8266 (BearSSL codes): the doctor's top
// finding has the same code and fix.
func TestESP32FaultsMatchESP8266(t *testing.T) {
	filesOK := &FilesProbe{KeyMatchesCert: true, CertNotBefore: t0.Add(-time.Hour), CertNotAfter: t0.Add(365 * 24 * time.Hour)}
	caProbe := &ProbeFacts{Files: filesOK, TLS: &TLSProbe{Endpoint: "broker:8883", Class: "unknown_authority", Err: "x509: certificate signed by unknown authority", ServerIssuer: "CN=iotbench local CA"}}
	inactive := &CloudFacts{Cloud: "local", Thing: "t", CertChecked: true, CertID: "abc", CertFound: true, CertStatus: "INACTIVE"}
	up8266 := bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
`
	for _, c := range []struct {
		name       string
		log8266    string
		log32      string
		probe      *ProbeFacts
		cloud      *CloudFacts
		top        string
		tlsFixHas  string // the serial TLS finding's fix on both, when there is one
		noTLSOnESP bool
	}{
		{name: "wrong CA", probe: caProbe, top: "tls.ca_mismatch", tlsFixHas: "Amazon Root CA 1",
			log8266: up8266 + `#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor."
#IB mqtt state=-2 connack=-1`,
			log32: upTo32 + `#IB ntp synced=1 epoch=1795600800 waited_ms=1500
SSL error: X509 - Certificate verification failed, e.g. CRL, CA or signature check failed
#IB tls ok=0 code=-9984 text="X509 - Certificate verification failed, e.g. CRL, CA or signature check failed" mfln=0 heap=46000
#IB mqtt state=-2 connack=-1`},
		{name: "inactive certificate refused in the handshake", cloud: inactive, top: "cert.inactive", tlsFixHas: "INACTIVE",
			log8266: up8266 + `#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=0 code=46 text="SSL received fatal alert - Decoding error: value is off-limits."
#IB mqtt state=-2 connack=-1`,
			log32: upTo32 + `#IB ntp synced=1 epoch=1795600800 waited_ms=1500
#IB tls ok=0 code=-30592 text="SSL - A fatal alert message was received from our peer" mfln=0 heap=46000
#IB mqtt state=-2 connack=-1`},
		{name: "inactive certificate, broker hangs up", cloud: inactive, top: "cert.inactive",
			log8266: up8266 + `#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=1 code=0 mfln=0 heap=21344
#IB mqtt state=-4 connack=-1`,
			log32: upTo32 + `#IB ntp synced=1 epoch=1795600800 waited_ms=1500
#IB tls ok=1 code=0 mfln=0 heap=46000
#IB mqtt state=-4 connack=-1`},
		{name: "clock at 1970", top: SymClock, noTLSOnESP: true,
			log8266: up8266 + `#IB ntp synced=0 epoch=30 waited_ms=30000
#IB ntp synced=0 epoch=60 waited_ms=60000`,
			log32: upTo32 + `#IB ntp synced=0 epoch=30 waited_ms=30225
#IB ntp synced=0 epoch=61 waited_ms=60331`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r8 := Diagnose(Input{Lines: logOf(c.log8266), Probe: c.probe, Cloud: c.cloud, Seen: no(), Topic: "t"})
			r32 := Diagnose(Input{Lines: logOf(c.log32), Probe: c.probe, Cloud: c.cloud, Seen: no(), Topic: "t", Decode: decode.Options{Chip: "ESP32-C3"}})
			a, b := r8.Top(), r32.Top()
			if a == nil || b == nil || a.Code != c.top || b.Code != c.top || a.Fix != b.Fix || a.Summary != b.Summary {
				t.Fatalf("ESP8266 top %+v\nESP32 top %+v\nESP32 report:\n%s", a, b, dump(r32))
			}
			if c.tlsFixHas == "" {
				return
			}
			// The cause absorbed the TLS symptom on both; its evidence
			// carries the board's own TLS line.
			var ev32 []string
			for _, e := range b.Evidence {
				ev32 = append(ev32, e.Text)
			}
			if !strings.Contains(strings.Join(ev32, "\n"), "#IB tls ok=0 code=-") {
				t.Errorf("the ESP32 cause lacks the mbedTLS line as evidence: %q", ev32)
			}
			// Without cloud or probe facts the TLS symptom itself leads,
			// with the same advice on both.
			q8, q32 := Diagnose(Input{Lines: logOf(c.log8266)}), Diagnose(Input{Lines: logOf(c.log32)})
			s8, s32 := q8.Top(), q32.Top()
			if s8.Code != SymTLS || s32.Code != SymTLS || !strings.Contains(s8.Fix, c.tlsFixHas) || !strings.Contains(s32.Fix, c.tlsFixHas) {
				t.Errorf("serial only:\n ESP8266 %s: %s\n ESP32   %s: %s", s8.Code, s8.Fix, s32.Code, s32.Fix)
			}
		})
	}
}

// A clock outside the certificate's validity fails BearSSL's handshake
// (54) but not arduino-esp32's mbedTLS, which connects and publishes: on
// the ESP32 build it is a warning (wrong timestamps), not an error.
func TestESP32ClockOutsideValidityIsNotTheCause(t *testing.T) {
	files := &FilesProbe{KeyMatchesCert: true, CertNotBefore: time.Unix(1764000000, 0), CertNotAfter: time.Unix(1864000000, 0)}
	r := Diagnose(Input{Lines: logOf(upTo32 + `#IB ntp synced=1 epoch=946684800 waited_ms=500
#IB tls ok=1 code=0 mfln=0 heap=46000
#IB mqtt state=0 connack=0
#IB pub topic=iotbench/esp32c3-d3105e/telemetry bytes=87 ok=1 seq=0`), Probe: &ProbeFacts{Files: files},
		Seen: yes(), Topic: "iotbench/esp32c3-d3105e/telemetry", SeenEvidence: "message"})
	if !r.Has(CodeVerified) {
		t.Fatalf("not verified:\n%s", dump(r))
	}
	for _, f := range r.Findings {
		if f.Severity >= decode.Error {
			t.Fatalf("an error on a board that published:\n%s", dump(r))
		}
	}
	var validity *Finding
	for i := range r.Findings {
		if r.Findings[i].Code == "cert.validity" {
			validity = &r.Findings[i]
		}
	}
	if validity == nil || validity.Severity != decode.Warning || !strings.Contains(validity.Summary, "mbedTLS does not check certificate dates") {
		t.Fatalf("cert.validity on the ESP32: %+v\n%s", validity, dump(r))
	}
	// The ESP8266 with the same clock: the cause, as before.
	r = Diagnose(Input{Lines: logOf(bootHead + `#IB ntp synced=1 epoch=946684800 waited_ms=500
#IB tls ok=0 code=54 text="Certificate is expired or not yet valid."`), Probe: &ProbeFacts{Files: files}})
	if top := r.Top(); top.Code != "cert.validity" || top.Severity != decode.Error {
		t.Fatalf("ESP8266 top %s:\n%s", top.Code, dump(r))
	}
}

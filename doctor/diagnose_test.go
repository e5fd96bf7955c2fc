package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/serialmon/decode"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// logOf turns text into timestamped lines, one second apart.
func logOf(text string) []Line {
	var out []Line
	for i, l := range strings.Split(strings.TrimSpace(text), "\n") {
		out = append(out, Line{At: t0.Add(time.Duration(i) * time.Second), Text: strings.TrimSpace(l), Baud: 115200})
	}
	return out
}

const bootHead = `
 ets Jan  8 2013,rst cause:2, boot mode:(3,6)
#IB boot app=iotbench-ref ver=0.1.0 core=3.1.2 chip=00a1b2c3 flash=4194304 reason=6 reason_s="External System"
`

const healthy = bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=1 mfln=0 heap=21344
#IB mqtt state=0
#IB pub topic=iotbench/esp8266-a1b2c3/telemetry bytes=87 ok=1
`

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// The fault table of issue 8: for each, the top finding names the cause.
func TestFaultTable(t *testing.T) {
	filesOK := &FilesProbe{KeyMatchesCert: true, CertNotBefore: t0.Add(-time.Hour), CertNotAfter: t0.Add(365 * 24 * time.Hour)}
	cases := []struct {
		name    string
		in      Input
		top     string
		fixHas  string
		healthy bool
	}{
		{name: "healthy and seen", in: Input{Lines: logOf(healthy), Seen: yes(), Topic: "iotbench/esp8266-a1b2c3/telemetry", SeenEvidence: "message on iotbench/esp8266-a1b2c3/telemetry"},
			top: CodeVerified, healthy: true},
		// The pipeline stops reading the log once the broker has the
		// message, which can be before the board prints that it connected.
		{name: "seen while the log stops at the MQTT connect", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=1 mfln=0 heap=21344`), Seen: yes(), Topic: "iotbench/esp8266-a1b2c3/telemetry", SeenEvidence: "message on iotbench/esp8266-a1b2c3/telemetry"},
			top: CodeVerified, healthy: true},
		{name: "silent", in: Input{}, top: SymSilent, fixHas: "port"},
		{name: "no wifi", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=1
#IB wifi_disc reason=201
#IB wifi status=1`), Seen: no(), Topic: "t"}, top: SymWiFi},
		{name: "clock never syncs", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=0 epoch=8 waited_ms=30000
#IB tls ok=0 code=54 text="Certificate is expired or not yet valid."
#IB mqtt state=-2 connack=-1`), Seen: no(), Topic: "t"}, top: SymClock, fixHas: "123"},
		{name: "wrong CA", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor."
#IB mqtt state=-2 connack=-1`), Probe: &ProbeFacts{Files: filesOK, TLS: &TLSProbe{Endpoint: "broker:8883", Class: "unknown_authority", Err: "x509: certificate signed by unknown authority", ServerIssuer: "CN=iotbench local CA"}}, Seen: no(), Topic: "t"},
			top: "tls.ca_mismatch", fixHas: "ca.der"},
		{name: "inactive certificate", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=0 code=46 text="SSL received fatal alert - Decoding error: value is off-limits."
#IB mqtt state=-2 connack=-1`), Cloud: &CloudFacts{Cloud: "local", Thing: "esp8266-a1b2c3", CertChecked: true, CertID: "abc", CertFound: true, CertStatus: "INACTIVE"}, Seen: no(), Topic: "t"},
			top: "cert.inactive", fixHas: "activate"},
		{name: "policy denies publish", in: Input{Lines: logOf(healthy + `
#IB mqtt state=-3 connack=-1`), Cloud: &CloudFacts{Cloud: "local", Thing: "esp8266-a1b2c3", ClientID: "esp8266-a1b2c3", Topic: "iotbench/esp8266-a1b2c3/telemetry",
			Connect: &Decision{Allowed: true, Reason: "allowed by statement 1"}, Publish: &Decision{Allowed: false, Reason: "no statement allows iot:Publish on topic/iotbench/esp8266-a1b2c3/telemetry"}},
			Seen: no(), Topic: "iotbench/esp8266-a1b2c3/telemetry"}, top: "policy.publish_denied", fixHas: "iot:Publish"},
		{name: "policy denies connect", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=1 mfln=0 heap=21344
#IB mqtt state=-4 connack=-1`), Cloud: &CloudFacts{Cloud: "local", Thing: "esp8266-a1b2c3", ClientID: "other", Connect: &Decision{Allowed: false, Reason: "implicit deny"}}, Seen: no(), Topic: "t"},
			top: "policy.connect_denied", fixHas: "client id"},
		{name: "fs at wrong offset", in: Input{Lines: logOf(bootHead + `
#IB fs ok=0`), Probe: &ProbeFacts{FS: &FSProbe{Offset: 0x300000, Layout: "4M1M", Err: "no SPIFFS or LittleFS superblock", FoundElsewhere: true, FoundAt: 0x200000}}, Seen: no(), Topic: "t"},
			top: "fs.wrong_place", fixHas: "0x300000"},
		{name: "corrupt key", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=1 epoch=1795600800 waited_ms=2310
#IB tls ok=0 code=-1 text="Unknown error code."`), Probe: &ProbeFacts{Files: &FilesProbe{KeyErr: "not an RSA (PKCS#1), EC (SEC 1) or PKCS#8 private key in DER"}}, Seen: no(), Topic: "t"},
			top: "files.key_invalid", fixHas: "DER"},
		{name: "boot loop", in: Input{Lines: logOf(strings.Repeat("\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\ncsum err\n", 4))}, top: SymImage},
		{name: "download mode", in: Input{Lines: logOf(` ets Jan  8 2013,rst cause:2, boot mode:(1,6)`)}, top: SymBootMode, fixHas: "GPIO0"},
		{name: "baud mismatch", in: Input{Lines: append(logOf(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)"), logOf("\x8f\xe3\x01\x92\xff\xfe\x80\x81\n\x90\xa1\x02\x03\xee\xdd\n\xc0\xc1\xc2\x04\x05\xf0\xf1\n\xe0\xe1\x06\x07\xaa\xab")...)}, top: SymBaud, fixHas: "115200"},
		{name: "published but not seen", in: Input{Lines: logOf(healthy), Seen: no(), Topic: "iotbench/esp8266-a1b2c3/telemetry"}, top: SymNotSeen, fixHas: "topic"},
		{name: "stalled at clock", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6`)}, top: SymStalled, fixHas: "NTP"},
		// The board reports mounting its filesystem and fails later: its
		// own failure leads, and the bench's differing read-back stays a
		// warning behind it (it may be an older image, with an older
		// identity).
		{name: "clock fails on a board that mounted a filesystem the bench did not expect", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB cfg ok=1 thing=esp8266-a1b2c3 sensors=fake
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=0 waited_ms=30000`), Probe: &ProbeFacts{FS: &FSProbe{Offset: 0x200000, Layout: "4M2M", Err: "no filesystem image built by this run there"}}, Seen: no(), Topic: "t"},
			top: SymClock},
		{name: "wifi recovered then clock fails", in: Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der
#IB wifi_disc reason=201
#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6
#IB ntp synced=0 waited_ms=30000`)}, top: SymClock},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Diagnose(c.in)
			top := r.Top()
			if top == nil {
				t.Fatalf("no findings")
			}
			if top.Code != c.top {
				t.Fatalf("top finding %s (%s), want %s; all:\n%s", top.Code, top.Summary, c.top, dump(r))
			}
			if !strings.Contains(top.Fix, c.fixHas) {
				t.Errorf("fix %q does not mention %q", top.Fix, c.fixHas)
			}
			if r.Healthy != c.healthy {
				t.Errorf("healthy = %v, want %v:\n%s", r.Healthy, c.healthy, dump(r))
			}
			if !c.healthy && top.Severity < decode.Warning {
				t.Errorf("top finding of a failing board is only %v", top.Severity)
			}
			if len(top.Evidence) == 0 {
				t.Errorf("top finding has no evidence")
			}
		})
	}
}

func dump(r Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  " + f.Code + " [" + f.Step.String() + "/" + f.Severity.String() + "] " + f.Summary + "\n")
		for _, e := range f.Evidence {
			b.WriteString("      " + string(e.Source) + ": " + e.Text + "\n")
		}
	}
	return b.String()
}

// A cause takes the symptom's serial evidence, so the report shows both.
func TestCauseCarriesSerialEvidence(t *testing.T) {
	r := Diagnose(Input{Lines: logOf(bootHead + `
#IB tls ok=1 mfln=0 heap=21344
#IB mqtt state=-4 connack=-1`), Cloud: &CloudFacts{Cloud: "aws", Thing: "x", CertChecked: true, CertFound: true, CertStatus: "REVOKED", CertID: "c1"}})
	top := r.Top()
	var serial, cloud bool
	for _, e := range top.Evidence {
		serial = serial || e.Source == SourceSerial && strings.Contains(e.Text, "mqtt state=-4")
		cloud = cloud || e.Source == SourceCloud && strings.Contains(e.Text, "REVOKED")
	}
	if top.Code != "cert.inactive" || !serial || !cloud {
		t.Fatalf("top %s lacks joined evidence:\n%s", top.Code, dump(r))
	}
	if !strings.Contains(top.Fix, "cannot be re-activated") {
		t.Errorf("revoked fix: %q", top.Fix)
	}
	if r.Has(SymMQTT) {
		t.Errorf("the symptom is still listed separately:\n%s", dump(r))
	}
	if len(r.Timeline) < 2 {
		t.Errorf("timeline: %v", r.Timeline)
	}
}

// The board's reported clock is used for the certificate validity check.
func TestBoardClockAgainstCertificate(t *testing.T) {
	files := &FilesProbe{KeyMatchesCert: true, CertNotBefore: time.Unix(1764000000, 0), CertNotAfter: time.Unix(1864000000, 0)}
	r := Diagnose(Input{Lines: logOf(bootHead + `
#IB ntp synced=1 epoch=1000000000 waited_ms=10
#IB tls ok=0 code=54 text="Certificate is expired or not yet valid."`), Probe: &ProbeFacts{Files: files}})
	if top := r.Top(); top.Code != "cert.validity" {
		t.Fatalf("top %s:\n%s", top.Code, dump(r))
	}
}

// The reference firmware's per-file status: a key BearSSL cannot decode
// is a files finding with the fix, even without probes.
func TestFileStatusLine(t *testing.T) {
	r := Diagnose(Input{Lines: logOf(bootHead + `
#IB fs ok=1 files=config.json,cert.der,private.der,ca.der kind=littlefs
#IB file name=cert.der ok=1 bytes=610
#IB file name=private.der ok=0 err=parse`)})
	top := r.Top()
	if top.Code != SymFiles || !strings.Contains(top.Summary, "private.der") || !strings.Contains(top.Fix, "DER") {
		t.Fatalf("top %s: %s / %s", top.Code, top.Summary, top.Fix)
	}
}

// Without the board (a ledger entry): cloud facts alone, no claim that the
// board printed nothing.
func TestNoSerialEvidence(t *testing.T) {
	r := Diagnose(Input{NoSerial: true, Cloud: &CloudFacts{Cloud: "local", Thing: "x", CertChecked: true, CertFound: true, CertStatus: "ACTIVE", CertAttached: true,
		ClientID: "x", Topic: "iotbench/x/telemetry", Connect: &Decision{Allowed: true}, Publish: &Decision{Allowed: true}}})
	if !r.Healthy || r.Has(SymSilent) {
		t.Fatalf("healthy identity without serial evidence: %s", dump(r))
	}
	r = Diagnose(Input{NoSerial: true, Cloud: &CloudFacts{Cloud: "local", Thing: "x", CertChecked: true, CertFound: true, CertStatus: "REVOKED", CertID: "c"}})
	if r.Top() == nil || r.Top().Code != "cert.inactive" {
		t.Fatalf("revoked: %s", dump(r))
	}
}

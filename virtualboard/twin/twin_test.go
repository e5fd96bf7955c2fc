package twin

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/layout"
)

const waitLong = 30 * time.Second

func mustLayout(t testing.TB, name string) layout.ESP8266Layout {
	l, err := layout.ESP8266(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// checkPayloads parses what the broker received and checks it came from
// thing, in sequence, with the fake sensor's series.
func checkPayloads(t *testing.T, br *broker, thing string, n int) {
	t.Helper()
	msgs := br.waitMessages(t, n, waitLong)
	for i, m := range msgs[:n] {
		if m.TopicName != firmware.TelemetryTopic(thing) {
			t.Errorf("message %d on %q", i, m.TopicName)
		}
		p, err := firmware.ParsePayload(m.Payload)
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, m.Payload)
		}
		if p.Thing != thing || p.Seq != uint32(i) {
			t.Errorf("message %d: thing %s seq %d", i, p.Thing, p.Seq)
		}
		if p.T < time.Now().Add(-time.Hour).Unix() {
			t.Errorf("message %d: t=%d is not the NTP time", i, p.T)
		}
		var fake, light bool
		for _, r := range p.Readings {
			switch r.Sensor {
			case "fake":
				fake = true
			case "light":
				light = r.Value >= 500 && r.Value < 600
			}
		}
		if !fake || !light {
			t.Errorf("message %d: readings %+v", i, p.Readings)
		}
	}
}

func TestPublishesFromLittleFS(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "bench-01", endpointHost, false)
	br := startBroker(t, p, brokerOpts{}, firmware.TelemetryFilter)
	l := mustLayout(t, "4M2M")
	img := fsImage(t, layout.LittleFS, l, p.files(t, testConfig("bench-01", br.port)))
	b := newBench(t, Options{}, 4<<20, l.FS.Offset, img)
	checkPayloads(t, br, "bench-01", 2)
	c := b.console
	c.wait(t, "#IB pub topic=iotbench/bench-01/telemetry")
	for _, want := range []string{
		"iotbench-ref 0.1.0 (core 3.1.2) chip 00ab345a flash 4194304",
		"#IB boot app=iotbench-ref ver=0.1.0 core=3.1.2 arch=esp8266 chip=00ab345a flash=4194304 reason=6 reason_s=\"External System\"",
		"LittleFS mounted: ca.der,cert.der,config.json,private.der", // LittleFS lists names sorted
		"#IB fs ok=1 kind=littlefs files=ca.der,cert.der,config.json,private.der",
		"#IB cfg ok=1 thing=bench-01 sensors=fake,analog_light",
		"#IB wifi status=3 ip=192.168.1.50 rssi=-61 ch=6",
		"#IB ntp synced=1 epoch=",
		"Attempting MQTT connection to " + endpointHost + ":" + fmt.Sprint(br.port) + " as bench-01...connected",
		"#IB tls ok=1 code=0 mfln=0 heap=",
		"#IB mqtt state=0 connack=0",
		"Publish message: {\"thing\":\"bench-01\"",
	} {
		if c.count(want) == 0 {
			t.Errorf("no line with %q in:\n%s", want, strings.Join(c.all(), "\n"))
		}
	}
	c.checkStatusLines(t)
	for _, l := range c.all() {
		if strings.Contains(l, "password1") {
			t.Errorf("the Wi-Fi password was printed: %q", l)
		}
	}
}

func TestWrongOffsetIsAMountFailure(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "bench-02", endpointHost, false)
	for _, kind := range []layout.FSKind{layout.LittleFS, layout.SPIFFS} {
		t.Run(string(kind), func(t *testing.T) {
			l := mustLayout(t, "4M2M")
			img := fsImage(t, kind, l, p.files(t, testConfig("bench-02", 1)))
			// The image was built for 4M2M but written where 4M3M's
			// filesystem starts: the sketch's FS region holds no filesystem.
			b := newBench(t, Options{FS: kind}, 4<<20, mustLayout(t, "4M3M").FS.Offset, img)
			name := map[layout.FSKind]string{layout.LittleFS: "LittleFS", layout.SPIFFS: "SPIFFS"}[kind]
			b.console.wait(t, "Stopped: fix the filesystem image and reset")
			want := fmt.Sprintf("%s mount failed (0x%x, %d bytes): upload the filesystem image built for this flash layout", name, l.FS.Offset, l.FS.Size)
			if b.console.count(want) != 1 || b.console.count("#IB fs ok=0 kind="+string(kind)) != 1 {
				t.Fatalf("log:\n%s", strings.Join(b.console.all(), "\n"))
			}
			if b.console.count("Connecting to") != 0 {
				t.Fatal("went on after the mount failure")
			}
		})
	}
}

// fault is one injected problem and what the board must print for it.
type fault struct {
	name   string
	broker brokerOpts
	opts   Options
	// files changes the board's files (nil: the good ones).
	files func(t *testing.T, p *pki, f map[string][]byte)
	// want are lines the log must hold, each at least twice when retried
	// (the second proves the first was not a one-off), in order of appearance.
	want   []string
	twice  string   // a line that must appear twice before the test checks nothing was published
	silent bool     // the board stops without retrying (want lines appear once)
	not    []string // lines the log must not hold
	// publishes: the fault does not stop the board (the broker gets a message).
	publishes bool
}

func TestFaults(t *testing.T) {
	t.Parallel()
	otherCA := func(t *testing.T, p *pki, f map[string][]byte) {
		ca, _ := newCA(t, "some other CA")
		f[firmware.CAFile] = ca.Raw
	}
	faults := []fault{
		{name: "no Wi-Fi", opts: Options{Networks: []Network{}},
			want: []string{"WiFi not connected: reason 201 (NO_AP_FOUND)", "#IB wifi_disc reason=201", "#IB wifi status=1"}, twice: "#IB wifi_disc reason=201"},
		{name: "wrong Wi-Fi password", opts: Options{Networks: []Network{{SSID: "bench", Password: "other-password"}}},
			want: []string{"#IB wifi_disc reason=15", "#IB wifi status=6"}, twice: "#IB wifi_disc reason=15"},
		{name: "NTP never", opts: Options{NTP: NTPNever},
			want: []string{"NTP: no time after 30 s: check that UDP port 123 is open", "#IB ntp synced=0 epoch="}, twice: "#IB ntp synced=0"},
		{name: "NTP wrong", opts: Options{NTP: NTPWrong},
			want: []string{"Current time: Sat Jan  1 00:00", "#IB ntp synced=1 epoch=946684",
				`SSL error: Certificate is expired or not yet valid.`, `#IB tls ok=0 code=54 text="Certificate is expired or not yet valid."`, "#IB mqtt state=-2 connack=-1"},
			twice: "#IB tls ok=0 code=54"},
		{name: "wrong CA", files: otherCA,
			want:  []string{`failed, rc=-2 try again in 2 seconds`, `SSL error: Chain could not be linked to a trust anchor.`, `#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor." mfln=0 heap=46000`},
			twice: "#IB tls ok=0 code=62"},
		{name: "corrupt CA", files: func(t *testing.T, p *pki, f map[string][]byte) { f[firmware.CAFile] = f[firmware.CAFile][:100] },
			want:  []string{"ca.der: not loaded (no certificate)", "#IB file name=ca.der ok=0 err=parse", "#IB tls ok=0 code=62"},
			twice: "#IB tls ok=0 code=62"},
		{name: "corrupt key", files: func(t *testing.T, p *pki, f map[string][]byte) {
			k := append([]byte(nil), f[firmware.KeyFile]...)
			k[7] ^= 0xff
			f[firmware.KeyFile] = k[:len(k)-9]
		},
			want: []string{"private.der: not loaded (not an RSA or EC private key)", "#IB file name=private.der ok=0 err=parse", "Stopped: no usable client certificate and key"}, silent: true},
		{name: "key of another device", files: func(t *testing.T, p *pki, f map[string][]byte) {
			f[firmware.KeyFile], _ = deviceIdentity(t, p.caCert, p.caKey, "other", false)
		},
			want:  []string{`#IB tls ok=0 code=51 text="SSL received fatal alert - Key type does not match that which was expected."`},
			twice: "#IB tls ok=0 code=51"},
		{name: "certificate inactive (TLS refused)", broker: brokerOpts{rejectCertTLS: true},
			want:  []string{`#IB tls ok=0 code=42 text="SSL received fatal alert - Decoding error: expected constructed element, but is primitive."`, "#IB mqtt state=-2 connack=-1"},
			twice: "#IB tls ok=0 code=42"},
		{name: "certificate inactive (broker hangs up)", broker: brokerOpts{hangUpConnect: true},
			want:  []string{"failed, rc=-4 try again in 2 seconds", "#IB tls ok=1 code=0", "#IB mqtt state=-4 connack=-1"},
			twice: "#IB mqtt state=-4"},
		{name: "policy denies connect (CONNACK)", broker: brokerOpts{refuseConnect: true},
			want:  []string{"failed, rc=5 try again in 2 seconds", "#IB mqtt state=5 connack=5"},
			twice: "#IB mqtt state=5"},
		{name: "policy denies publish", broker: brokerOpts{denyPublish: true},
			want:  []string{"#IB mqtt state=0 connack=0", "#IB pub topic=iotbench/bench-03/telemetry", "MQTT connection lost, rc=-3", "#IB mqtt state=-3"},
			twice: "#IB mqtt state=-3"},
		{name: "endpoint not in the server certificate", opts: Options{},
			files: func(t *testing.T, p *pki, f map[string][]byte) {
				cfg, err := firmware.Parse(f[firmware.ConfigFile])
				if err != nil {
					t.Fatal(err)
				}
				cfg.Endpoint.Host = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com"
				f[firmware.ConfigFile] = cfg.Marshal()
			},
			want:  []string{`#IB tls ok=0 code=56 text="Expected server name was not found in the chain."`},
			twice: "#IB tls ok=0 code=56"},
		{name: "endpoint does not resolve", opts: Options{Resolve: localhostOnly},
			want:  []string{`SSL error: Unknown error code.`, `#IB tls ok=0 code=0 text="Unknown error code."`, "#IB mqtt state=-2 connack=-1"},
			twice: "#IB mqtt state=-2"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			runFault(t, f, func(t *testing.T, o Options, files map[string][]byte) *bench {
				l := mustLayout(t, "4M2M")
				return newBench(t, o, 4<<20, l.FS.Offset, fsImage(t, layout.LittleFS, l, files))
			})
		})
	}
}

// runFault boots a board with start against a test broker, injects f and
// checks the log and what reached the broker.
func runFault(t *testing.T, f fault, start func(t *testing.T, o Options, files map[string][]byte) *bench) {
	p := newPKI(t, "bench-03", endpointHost, false)
	br := startBroker(t, p, f.broker, firmware.TelemetryFilter)
	files := p.files(t, testConfig("bench-03", br.port))
	if f.files != nil {
		f.files(t, p, files)
	}
	c := start(t, f.opts, files).console
	if f.silent {
		c.wait(t, f.want[len(f.want)-1])
	} else {
		c.waitCount(t, f.twice, 2, waitLong)
	}
	for _, w := range f.want {
		if c.count(w) == 0 {
			t.Errorf("no line with %q in:\n%s", w, strings.Join(c.all(), "\n"))
		}
	}
	for _, w := range f.not {
		if c.count(w) != 0 {
			t.Errorf("a line with %q in:\n%s", w, strings.Join(c.all(), "\n"))
		}
	}
	switch {
	case f.broker.denyPublish:
		if n := len(br.messages()); n != 0 {
			t.Errorf("the broker delivered %d messages despite the policy", n)
		}
	case f.publishes:
		br.waitMessages(t, 1, waitLong)
	default:
		if n := len(br.messages()); n != 0 || c.count("#IB pub ") != 0 {
			t.Errorf("published %d messages (%d pub lines) despite the fault", n, c.count("#IB pub "))
		}
	}
	c.checkStatusLines(t)
}

func TestSSLErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		text string
	}{
		{x509.UnknownAuthorityError{}, 62, "Chain could not be linked to a trust anchor."},
		{x509.CertificateInvalidError{Reason: x509.Expired}, 54, "Certificate is expired or not yet valid."},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, 58, "Not a CA, or path length constraint violation."},
		{x509.HostnameError{}, 56, "Expected server name was not found in the chain."},
		{fmt.Errorf("dial: %w", errClosed), 0, "Unknown error code."},
	} {
		code, text := sslError(tc.err)
		if code != tc.code || text != tc.text {
			t.Errorf("%T: %d %q, want %d %q", tc.err, code, text, tc.code, tc.text)
		}
	}
}

var errClosed = fmt.Errorf("connection reset by peer")

// ESP-IDF's reset_reason.c: the ROM codes a board can print map to
// esp_reset_reason_t, and EN (power-on) is not a watchdog.
func TestIDFResetReason(t *testing.T) {
	for rst, want := range map[int]string{0x1: "ESP_RST_POWERON", 0x3: "ESP_RST_SW", 0xc: "ESP_RST_SW", 0x10: "ESP_RST_WDT",
		0xf: "ESP_RST_BROWNOUT", 0x15: "ESP_RST_USB", 0x7: "ESP_RST_TASK_WDT", 0x8: "ESP_RST_INT_WDT", 0x42: "ESP_RST_UNKNOWN"} {
		if got, _ := firmware.ESP32ResetReason(idfResetReason(rst)); got != want {
			t.Errorf("rst 0x%x: %s, want %s", rst, got, want)
		}
	}
}

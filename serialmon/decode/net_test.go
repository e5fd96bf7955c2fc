package decode

import (
	"fmt"
	"github.com/iotbench/iotbench/firmware"
	"strings"
	"testing"
)

// What copercini's mqtt_x509_DER sketch prints (device-side.md §3.7), with
// the SDK's Wi-Fi debug lines interleaved (setDebugOutput(true), §3.9).
const coperciniLog = `
Connecting to Wifi_ssid
scandone
state: 0 -> 2 (b0)
state: 2 -> 3 (0)
state: 3 -> 5 (10)
add 0 aid 1
cnt 

connected with Wifi_ssid, channel 6
dhcp client start...
.......ip:192.168.1.20,mask:255.255.255.0,gw:192.168.1.1
.

WiFi connected
IP address: 
192.168.1.20
Heap: 41000
Success to open cert file
cert loaded
Success to open private cert file
private key loaded
Success to open ca
ca loaded
Heap: 39000
Attempting MQTT connection...failed, rc=-2 try again in 5 seconds
WiFiClientSecure SSL error: Chain could not be linked to a trust anchor.
Attempting MQTT connection...connected
Publish message: hello world #1
Heap: 19000
Message arrived [inTopic] hi there
`

func TestCoperciniSketch(t *testing.T) {
	evs := decodeText(coperciniLog)
	want := []struct {
		kind string
		sev  Severity
		sum  string
	}{
		{KindWiFiConnecting, Info, `connecting to Wi-Fi network "Wifi_ssid"`},
		{KindWiFiAssociated, Info, `associated with "Wifi_ssid" on channel 6`},
		{KindWiFiUp, Notice, "Wi-Fi connected, IP 192.168.1.20"},
		{KindWiFiIP, Info, "IP address 192.168.1.20"},
		{KindHeapFree, Info, "free heap 41000 bytes"},
		{KindFSFile, Info, "opened /cert.der"},
		{KindCertLoad, Info, "cert.der loaded"},
		{KindFSFile, Info, "opened /private.der"},
		{KindCertLoad, Info, "private.der loaded"},
		{KindFSFile, Info, "opened /ca.der"},
		{KindCertLoad, Info, "ca.der loaded"},
		{KindHeapFree, Info, "free heap 39000 bytes"},
		{KindMQTTState, Error, "MQTT state -2 (MQTT_CONNECT_FAILED)"},
		{KindTLSError, Error, "TLS error 62 (BR_ERR_X509_NOT_TRUSTED): Chain could not be linked to a trust anchor."},
		{KindMQTTConnected, Notice, "MQTT connected"},
		{KindMQTTPublish, Info, "publishing: hello world #1"},
		{KindHeapFree, Info, "free heap 19000 bytes"}, // TLS is up: no warning
		{KindMQTTMessage, Info, "message on inTopic"},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %s", kinds(evs))
	}
	for i, w := range want {
		wellFormed(t, evs[i])
		if evs[i].Kind != w.kind || evs[i].Severity != w.sev || !strings.Contains(evs[i].Summary, w.sum) {
			t.Errorf("event %d: %s %v %q, want %s %v %q", i, evs[i].Kind, evs[i].Severity, evs[i].Summary, w.kind, w.sev, w.sum)
		}
	}
	if !strings.Contains(evs[13].Fix, "Amazon Root CA 1") {
		t.Errorf("62 fix: %q", evs[13].Fix)
	}
	if evs[2].Fields["gw"] != "192.168.1.1" || evs[17].Fields["payload"] != "hi there" {
		t.Errorf("fields: %v %v", evs[2].Fields, evs[17].Fields)
	}
}

func TestFileFailures(t *testing.T) {
	cases := []struct{ line, kind, file, sum string }{
		{"Failed to open cert file", KindFSFile, "cert.der", "could not open /cert.der"},
		{"Failed to open private cert file", KindFSFile, "private.der", "could not open /private.der"},
		{"Failed to open ca ", KindFSFile, "ca.der", "could not open /ca.der"},
		{"cert not loaded", KindCertLoad, "cert.der", "cert.der could not be loaded"},
		{"private key not loaded", KindCertLoad, "private.der", "private.der could not be loaded"},
		{"ca failed", KindCertLoad, "ca.der", "ca.der could not be loaded"},
	}
	for _, c := range cases {
		check(t, one(t, decodeText(c.line), c.kind), Error, c.sum, c.file, map[string]string{"file": c.file, "ok": "0"})
	}
	check(t, one(t, decodeText("Failed to mount file system"), KindFSMount), Error, "did not mount", "filesystem image", nil)
}

// Every getLastSSLError() code of device-side.md §3.4.
func TestTLSEveryCode(t *testing.T) {
	if len(docSSLErrors) < 60 {
		t.Fatalf("only %d doc rows", len(docSSLErrors))
	}
	for _, c := range docSSLErrors {
		e := SSLErrorByCode(c.code)
		if e.Name != c.name || e.Text != c.text {
			t.Errorf("code %d: %s %q, doc says %s %q", c.code, e.Name, e.Text, c.name, c.text)
		}
		if e.Meaning == "" && c.code != 32 {
			t.Errorf("code %d: no meaning", c.code)
		}
		// The copercini line.
		wantCode := c.code
		if c.code == 32 {
			wantCode = 0 // the text cannot tell 32 from 0
		}
		evs := decodeText("WiFiClientSecure SSL error: " + c.text)
		ev := one(t, evs, KindTLSError)
		check(t, ev, Error, fmt.Sprintf("TLS error %d (", wantCode), "", map[string]string{"code": fmt.Sprint(wantCode), "text": c.text})
		if c.code == -1000 {
			check(t, one(t, evs, KindHeapLow), Error, "not enough heap for TLS", "setBufferSizes", nil)
		}
		// The reference firmware's line.
		evs = decodeText(fmt.Sprintf(`#IB tls ok=0 code=%d text=%q mfln=0 heap=30000`, c.code, c.text))
		ev = one(t, evs, "ib.tls")
		check(t, ev, Error, fmt.Sprintf("TLS error %d (%s)", c.code, c.name), "", map[string]string{"code": fmt.Sprint(c.code), "name": c.name, "heap": "30000"})
	}
	// The AWS-specific causes of §3.5.
	for code, fix := range map[int]string{
		62: "Amazon Root CA 1", 54: "wait for NTP", 56: "never by IP address", 0: "8883",
		6: "16384-byte receive buffer", -1000: "free heap", 53: "setX509Time", 51: "setClientRSACert",
		29: "setClientRSACert", 33: "DER",
	} {
		e := one(t, decodeText("SSL error: "+SSLErrorByCode(code).Text), KindTLSError)
		if !strings.Contains(e.Fix, fix) {
			t.Errorf("code %d: fix %q lacks %q", code, e.Fix, fix)
		}
	}
	// A text cut short by a small buffer, a leading code, an unknown text.
	check(t, one(t, decodeText("SSL error: Chain could not be linked to a"), KindTLSError), Error, "TLS error 62", "", nil)
	check(t, one(t, decodeText("SSL error: 54: Certificate is expired or not yet valid."), KindTLSError), Error, "TLS error 54", "", nil)
	check(t, one(t, decodeText("SSL error: Decoding error: unsupported tag"), KindTLSError), Error, "TLS error: Decoding error: unsupported tag", "", nil)
	check(t, one(t, decodeText("SSL error: -1000"), KindTLSError), Error, "TLS error -1000", "", nil)
	check(t, one(t, decodeText("SSL error: something else"), KindTLSError), Error, "TLS error: something else", "", map[string]string{"text": "something else"})
}

// Received fatal alerts (core ≥ 3.0 relabels them, §3.4 trap 2).
func TestTLSAlerts(t *testing.T) {
	for _, a := range docAlerts {
		text := a.text
		if strings.HasSuffix(text, "…") { // abbreviated in the doc
			full := SSLErrorByCode(a.alert).Text
			if !strings.HasPrefix(full, strings.TrimSuffix(text, "…")) {
				t.Fatalf("alert %d: %q vs %q", a.alert, full, text)
			}
			text = full
		}
		line := "WiFiClientSecure SSL error: SSL received fatal alert - " + text
		e := one(t, decodeText(line), KindTLSError)
		if text == "Unknown error code." {
			check(t, e, Error, "fatal alert", "integer too", map[string]string{"ambiguous": "1"})
		} else {
			check(t, e, Error, fmt.Sprintf("the server sent fatal alert %d (%s)", a.alert, a.name), "", map[string]string{"alert": fmt.Sprint(a.alert), "alert_name": a.name})
		}
		// The reference firmware prints the integer too: never ambiguous.
		e = one(t, decodeText(fmt.Sprintf("#IB tls ok=0 code=%d text=%q", a.alert, "SSL received fatal alert - "+text)), "ib.tls")
		check(t, e, Error, fmt.Sprintf("the server sent fatal alert %d (%s)", a.alert, a.name), "", map[string]string{"alert": fmt.Sprint(a.alert), "alert_name": a.name})
	}
	// AWS rejecting the client certificate (§3.5): 46 and 51.
	for _, a := range []int{46, 51} {
		e := one(t, decodeText("SSL error: SSL received fatal alert - "+SSLErrorByCode(a).Text), KindTLSError)
		if !strings.Contains(e.Fix, "INACTIVE or REVOKED") {
			t.Errorf("alert %d fix %q", a, e.Fix)
		}
	}
	// TLS 1.3-only policy: alert 70.
	e := one(t, decodeText("#IB tls ok=0 code=70 text=\"SSL received fatal alert - Unknown error code.\""), "ib.tls")
	check(t, e, Error, "fatal alert 70 (protocol_version)", "TLS 1.2", nil)
	// 2.x cores: 256 + alert with "Unknown error code.".
	e = one(t, decodeText(`#IB tls ok=0 code=302 text="Unknown error code."`), "ib.tls")
	check(t, e, Error, "fatal alert 46 (certificate_unknown)", "INACTIVE", map[string]string{"alert": "46", "code": "302"})
	e = one(t, decodeText(`#IB tls ok=0 code=552`), "ib.tls")
	check(t, e, Error, "the board sent fatal alert 40 (handshake_failure)", "", map[string]string{"alert": "40", "name": "BR_ERR_SEND_FATAL_ALERT"})
}

func TestBSSLTrace(t *testing.T) {
	cases := []struct {
		line, sum, fix string
		sev            Severity
	}{
		{"BSSL:_connectSSL: start connection", "BSSL: _connectSSL: start connection", "", Info},
		{"BSSL:Connected!", "TLS connected", "", Notice},
		{"BSSL:connect: Name lookup failure", "DNS lookup", "host name", Error},
		{"BSSL:connect: Unable to connect TCP socket", "TCP connect", "8883", Error},
		{"BSSL:_run_until: Timeout", "timed out", "", Error},
		{"BSSL:_run_until: Not connected", "closed the connection", "certificate", Error},
		{"BSSL:_connectSSL: OOM error", "out of memory", "setBufferSizes", Error},
		{"BSSL:Connection *will* fail, no authentication method is setup", "no server authentication", "setTrustAnchors", Error},
		{"BSSL:_installClientX509Validator: OOM for _x509_minimal", "out of memory", "", Error},
		{"BSSL:_wait_for_handshake: failed", "handshake failed", "", Warning},
	}
	for _, c := range cases {
		check(t, one(t, decodeText(c.line), KindTLSTrace), c.sev, c.sum, c.fix, map[string]string{"text": strings.TrimPrefix(c.line, "BSSL:")})
	}
	e := one(t, decodeText("BSSL:Couldn't connect. Error = 'Certificate is expired or not yet valid.'"), KindTLSError)
	check(t, e, Error, "TLS error 54", "NTP", map[string]string{"code": "54"})
}

// Every PubSubClient state() and CONNACK code (§3.6).
func TestMQTTEveryState(t *testing.T) {
	cases := []struct {
		state      int
		kind, name string
		sev        Severity
		fix        string
	}{
		{-4, KindMQTTState, "MQTT_CONNECTION_TIMEOUT", Error, "iot:Connect for this client ID"},
		{-3, KindMQTTState, "MQTT_CONNECTION_LOST", Error, "same client ID"},
		{-2, KindMQTTState, "MQTT_CONNECT_FAILED", Error, "getLastSSLError()"},
		{-1, KindMQTTState, "MQTT_DISCONNECTED", Warning, ""},
		{0, KindMQTTConnected, "MQTT_CONNECTED", Notice, ""},
		{1, KindMQTTConnack, "MQTT_CONNECT_BAD_PROTOCOL", Error, "MQTT 3.1.1"},
		{2, KindMQTTConnack, "MQTT_CONNECT_BAD_CLIENT_ID", Error, "unique"},
		{3, KindMQTTConnack, "MQTT_CONNECT_UNAVAILABLE", Error, "retry"},
		{4, KindMQTTConnack, "MQTT_CONNECT_BAD_CREDENTIALS", Error, "no user name/password"},
		{5, KindMQTTConnack, "MQTT_CONNECT_UNAUTHORIZED", Error, "policy"},
	}
	for _, c := range cases {
		line := fmt.Sprintf("Attempting MQTT connection...failed, rc=%d try again in 5 seconds", c.state)
		e := one(t, decodeText(line), c.kind)
		check(t, e, c.sev, "", c.fix, map[string]string{"state": fmt.Sprint(c.state), "state_name": c.name})
		if c.kind == KindMQTTConnack && e.Fields["connack"] != fmt.Sprint(c.state) {
			t.Errorf("state %d: connack %q", c.state, e.Fields["connack"])
		}
		e = one(t, decodeText(fmt.Sprintf("#IB mqtt state=%d connack=-1", c.state)), "ib.mqtt")
		check(t, e, c.sev, "", c.fix, map[string]string{"state": fmt.Sprint(c.state), "state_name": c.name})
	}
	check(t, one(t, decodeText("Attempting MQTT connection..."), KindMQTTConnecting), Info, "connecting", "", nil)
	check(t, one(t, decodeText("rc=-2 failed, rc=-4"), KindMQTTState), Error, "-4", "", nil)
}

func TestWiFiEveryStatusAndReason(t *testing.T) {
	for n, s := range wifiStatus {
		e := one(t, decodeText(fmt.Sprintf("#IB wifi status=%d", n)), "ib.wifi")
		switch n {
		case 3:
			check(t, e, Notice, "Wi-Fi connected", "", map[string]string{"status_name": "WL_CONNECTED"})
		case 0, 2, 7:
			check(t, e, Warning, s.name, "", map[string]string{"status_name": s.name})
		default:
			check(t, e, Error, s.name, "", map[string]string{"status_name": s.name})
		}
	}
	check(t, one(t, decodeText("#IB wifi status=6"), "ib.wifi"), Error, "WL_WRONG_PASSWORD", "password", nil)
	check(t, one(t, decodeText("#IB wifi status=1"), "ib.wifi"), Error, "WL_NO_SSID_AVAIL", "2.4 GHz", nil)
	check(t, one(t, decodeText("#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6"), "ib.wifi"), Notice, "Wi-Fi connected, IP 192.168.1.20, RSSI -61 dBm", "", map[string]string{"ch": "6"})
	check(t, one(t, decodeText("#IB wifi status=3 ip=192.168.1.20 rssi=-88 ch=6"), "ib.wifi"), Warning, "weak signal", "closer", nil)

	doc := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 200, 201, 202, 203, 204}
	for _, r := range doc {
		name, _ := WiFiReason(r)
		if name == "UNKNOWN" {
			t.Errorf("reason %d unnamed", r)
		}
		e := one(t, decodeText(fmt.Sprintf("#IB wifi_disc reason=%d", r)), "ib.wifi_disc")
		check(t, e, Warning, fmt.Sprintf("reason %d (%s)", r, name), "", map[string]string{"reason_name": name})
	}
	check(t, one(t, decodeText("#IB wifi_disc reason=15"), "ib.wifi_disc"), Warning, "4WAY_HANDSHAKE_TIMEOUT", "wrong Wi-Fi password", nil)
	check(t, one(t, decodeText("#IB wifi_disc reason=201"), "ib.wifi_disc"), Warning, "NO_AP_FOUND", "SSID", nil)
	check(t, one(t, decodeText("bcn_timout"), KindWiFiDown), Warning, "beacon timeout", "", map[string]string{"reason": "200"})

	// wifi.up once per connection: again after a disconnect.
	evs := decodeText("WiFi connected\nWiFi connected\nbcn_timout\nWiFi connected\n")
	n := 0
	for _, e := range evs {
		if e.Kind == KindWiFiUp {
			n++
		}
	}
	if n != 2 {
		t.Errorf("wifi.up %d times: %s", n, kinds(evs))
	}
}

func TestNTP(t *testing.T) {
	check(t, one(t, decodeText("Waiting for NTP time sync: ......"), KindNTPWaiting), Info, "waiting for NTP", "", map[string]string{"polls": "6"})
	check(t, one(t, decodeText("Waiting for NTP time sync: "+strings.Repeat(".", 80)), KindNTPWaiting), Warning, "waited 40 s", "UDP port 123", nil)
	check(t, one(t, decodeText("Current time: Thu Nov 21 10:15:42 2024"), KindNTPSynced), Notice, "Thu Nov 21 10:15:42 2024", "", map[string]string{"time": "2024-11-21T10:15:42Z", "epoch": "1732184142"})
	check(t, one(t, decodeText("Current time: Thu Jan  1 00:00:05 1970"), KindNTPClock1970), Error, "the clock is not set", "wait for NTP", map[string]string{"epoch": "5"})
	check(t, one(t, decodeText("#IB ntp synced=1 epoch=1732184142 waited_ms=2310"), "ib.ntp"), Notice, "clock synchronised: 2024-11-21T10:15:42Z", "", map[string]string{"waited_ms": "2310"})
	check(t, one(t, decodeText("#IB ntp synced=1 epoch=12"), "ib.ntp"), Error, "the clock is not set", "wait for NTP", nil)
	check(t, one(t, decodeText("#IB ntp synced=0 waited_ms=30000"), "ib.ntp"), Error, "did not synchronise", "UDP port 123", nil)
}

func TestHeap(t *testing.T) {
	check(t, one(t, decodeText("Heap: 41000"), KindHeapFree), Info, "41000", "", map[string]string{"free": "41000"})
	check(t, one(t, decodeText("Heap: 15000"), KindHeapLow), Warning, "below the ~23450 a TLS connection needs", "setBufferSizes", map[string]string{"need": "23450"})
	check(t, one(t, decodeText("Heap: 2000"), KindHeapLow), Error, "nearly exhausted", "", nil)
	check(t, one(t, decodeText("#IB heap free=23456 max_block=15000 frag=12"), "ib.heap"), Warning, "largest free heap block 15000", "connect TLS early", map[string]string{"frag": "12"})
	check(t, one(t, decodeText("#IB heap free=40000 max_block=30000 frag=3"), "ib.heap"), Info, "free heap 40000", "", nil)
	check(t, one(t, decodeText("#IB tls ok=1 mfln=0\n#IB heap free=21000 max_block=9000 frag=40"), "ib.heap"), Info, "free heap 21000", "", nil)
}

func TestIBLines(t *testing.T) {
	syms := loadFixture(t)
	boot := `#IB boot app=iotbench-ref ver=0.3.1 core=3.1.2 chip=00a1b2c3 flash=4194304 reason=2 reason_s="Exception" info="Fatal exception:28 flag:2 (EXCEPTION) epc1:0x40201014 epc2:0x00000000 epc3:0x00000000 excvaddr:0x00000004 depc:0x00000000"`
	e := one(t, feed(NewDecoder(Options{Symbols: syms}), boot), "ib.boot")
	check(t, e, Warning, "firmware iotbench-ref 0.3.1 started (core 3.1.2); reset reason: Exception — the previous run crashed: Exception 28", "NULL pointer",
		map[string]string{"app": "iotbench-ref", "chip": "00a1b2c3", "reason_name": "REASON_EXCEPTION_RST", "pc_frames": "2"})
	if len(e.Frames) != 2 || e.Frames[0].Function != "read_value" {
		t.Errorf("frames %+v", e.Frames)
	}
	for reason, sev := range map[int]Severity{0: Info, 1: Warning, 2: Warning, 3: Warning, 4: Info, 5: Info, 6: Info} {
		_, text := SDKResetReason(reason)
		e := one(t, decodeText(fmt.Sprintf("#IB boot app=x ver=1 reason=%d", reason)), "ib.boot")
		check(t, e, sev, "reset reason: "+text, "", nil)
	}
	// An ESP32-family build numbers reasons as esp_reset_reason_t: 1 is a
	// power-on there, not the ESP8266's hardware watchdog.
	for reason, want := range map[int]struct {
		sev  Severity
		name string
	}{1: {Info, "ESP_RST_POWERON"}, 3: {Info, "ESP_RST_SW"}, 4: {Warning, "ESP_RST_PANIC"}, 6: {Warning, "ESP_RST_TASK_WDT"}, 9: {Warning, "ESP_RST_BROWNOUT"}, 99: {Info, "ESP_RST_UNKNOWN"}} {
		_, text := firmware.ESP32ResetReason(reason)
		e := one(t, decodeText(fmt.Sprintf("#IB boot app=x ver=1 core=3.0.7 arch=esp32s3 reason=%d reason_s=%q", reason, text)), "ib.boot")
		check(t, e, want.sev, "reset reason: "+text, "", map[string]string{"reason_name": want.name})
	}

	check(t, one(t, decodeText("#IB fs ok=1 files=config.json,cert.der,private.der,ca.der"), "ib.fs"), Notice, "filesystem mounted", "", map[string]string{"files": "config.json,cert.der,private.der,ca.der"})
	check(t, one(t, decodeText("#IB fs ok=1 files=config.json,cert.der"), "ib.fs"), Error, "private.der, ca.der missing", "rebuild the filesystem image", nil)
	check(t, one(t, decodeText("#IB fs ok=0"), "ib.fs"), Error, "did not mount", "", nil)
	check(t, one(t, decodeText("#IB cfg ok=1 thing=bench-01 sensors=dht22,analog"), "ib.cfg"), Notice, "thing bench-01", "", map[string]string{"sensors": "dht22,analog"})
	check(t, one(t, decodeText("#IB cfg ok=0"), "ib.cfg"), Error, "config.json", "", nil)
	check(t, one(t, decodeText("#IB pub topic=iotbench/bench-01/telemetry bytes=87 ok=1"), "ib.pub"), Notice, "published 87 bytes to iotbench/bench-01/telemetry", "", nil)
	check(t, one(t, decodeText("#IB pub topic=iotbench/bench-01/telemetry bytes=900 ok=0"), "ib.pub"), Error, "failed", "setBufferSize()", nil)
	check(t, one(t, decodeText("#IB tls ok=1 mfln=1"), "ib.tls"), Notice, "TLS connected (max fragment length negotiated: true)", "", nil)
	check(t, one(t, decodeText("#IB ota phase=start"), "ib.ota"), Info, "started", "", nil)
	check(t, one(t, decodeText("#IB ota phase=progress pct=42"), "ib.ota"), Info, "42%", "", nil)
	check(t, one(t, decodeText("#IB ota phase=end"), "ib.ota"), Notice, "restarts", "", nil)
	for code, e := range otaErrors {
		ev := one(t, decodeText(fmt.Sprintf("#IB ota phase=error err=%d", code)), "ib.ota")
		check(t, ev, Error, e.name, e.words, map[string]string{"err_name": e.name})
	}
	check(t, one(t, decodeText("#IB sensor name=t1 t=21.5"), "ib.sensor"), Info, "#IB sensor", "", map[string]string{"t": "21.5"})

	// Malformed lines are reported, not dropped; reset noise before #IB is skipped.
	check(t, one(t, decodeText(`#IB tls text="unterminated`), KindIBMalformed), Warning, "unreadable #IB status line", "fix its printer", nil)
	check(t, one(t, decodeText("\x00\xf0r#IB wifi_disc reason=201"), "ib.wifi_disc"), Warning, "NO_AP_FOUND", "", nil)
	if evs := decodeText("#IBX boot"); len(evs) != 0 {
		t.Errorf("%s", kinds(evs))
	}
}

func TestKindConstantsUnique(t *testing.T) {
	all := []string{KindROMBanner, KindROMID, KindROMLoader, KindROMError, KindROMDownload, KindBootEboot, KindBootLoop, KindBootSDK, KindResetInfo,
		KindCrashException, KindCrashWDT, KindCrashPanic, KindCrashGuru, KindCrashBacktrace, KindPowerBrownout,
		KindWiFiConnecting, KindWiFiAssociated, KindWiFiUp, KindWiFiIP, KindWiFiDown, KindNTPWaiting, KindNTPSynced, KindNTPClock1970,
		KindFSMount, KindFSFile, KindCertLoad, KindTLSError, KindTLSTrace, KindMQTTConnecting, KindMQTTConnected, KindMQTTState,
		KindMQTTConnack, KindMQTTPublish, KindMQTTMessage, KindHeapFree, KindHeapLow, KindHeapAllocFailed, KindIBMalformed}
	seen := map[string]bool{}
	for _, k := range all {
		if seen[k] || !strings.Contains(k, ".") {
			t.Errorf("kind %q", k)
		}
		seen[k] = true
	}
	if IBKind("wifi") != "ib.wifi" || Severity(7).String() != "severity(7)" || Error.String() != "error" {
		t.Error("IBKind/Severity")
	}
}

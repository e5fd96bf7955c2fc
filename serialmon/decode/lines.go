package decode

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

var (
	// Wi-Fi (§3.7, §3.9).
	reConnectingTo = regexp.MustCompile(`^Connecting to (.+)$`)
	reWiFiUp       = regexp.MustCompile(`^WiFi connected\.?!?$`)
	reIPAddress    = regexp.MustCompile(`^IP address: ?(\d{1,3}(?:\.\d{1,3}){3})?$`)
	reBareIP       = regexp.MustCompile(`^(\d{1,3}(?:\.\d{1,3}){3})$`)
	reSDKAssoc     = regexp.MustCompile(`^connected with (.+), channel (\d+)$`)
	reSDKIP        = regexp.MustCompile(`(?:^|\.)ip:(\d{1,3}(?:\.\d{1,3}){3}),mask:(\S+),gw:(\S+)$`)

	// NTP (§4).
	reNTPWait = regexp.MustCompile(`^Waiting for NTP time sync: ?(\.*)$`)
	reNTPTime = regexp.MustCompile(`^Current time: (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})$`)

	// Files and credentials (copercini sketch, §3.7).
	reOpenFile = regexp.MustCompile(`^(Failed|Success) to open (cert|private cert|ca)( file)?$`)
	reCertLoad = regexp.MustCompile(`^(cert|private key|ca) (loaded|not loaded|failed)$`)

	// TLS (§3.4, §3.8).
	reSSLError = regexp.MustCompile(`SSL error:(?: (.*))?$`)
	reBSSL     = regexp.MustCompile(`^BSSL:(.*)$`)
	reBSSLErr  = regexp.MustCompile(`^Couldn't connect\. Error = '(.*)'$`)
	reLeadCode = regexp.MustCompile(`^(-?\d+)(?:(?:\s*[:\-]\s*|\s+)(.*))?$`)

	// MQTT (§3.6, §3.7).
	reMQTTAttempt = regexp.MustCompile(`^Attempting MQTT connection\.\.\.(.*)$`)
	reFailedRC    = regexp.MustCompile(`failed, rc=(-?\d+)`)
	rePublish     = regexp.MustCompile(`^Publish message: (.*)$`)
	reArrived     = regexp.MustCompile(`^Message arrived \[([^\]]*)\] ?(.*)$`)

	// Heap.
	reHeap = regexp.MustCompile(`^Heap: (\d+)$`)
)

// TLS memory needs with the core's defaults (§3.1): BearSSL's secondary
// stack plus the receive and transmit buffers. Engine state comes on top.
const (
	tlsRecvBuf = 16384 + 325
	tlsSendBuf = 512 + 85
	tlsStack   = 6 * 1024
	// TLSHeapNeed is the free heap below which a TLS connect with the
	// default buffer sizes is expected to fail (getLastSSLError -1000).
	TLSHeapNeed = tlsStack + tlsRecvBuf + tlsSendBuf
	// heapCritical is low enough to warn about in any state.
	heapCritical = 4096
)

type evFunc func(kind string, sev Severity, summary, fix string, fields map[string]string) []Event

// appLine decodes the sketch's own output.
func (d *Decoder) appLine(line, t string, at time.Time, ev evFunc) ([]Event, bool) {
	if strings.HasPrefix(t, firmware.Prefix) || strings.Contains(t, firmware.Prefix+" ") {
		if evs, ok := d.ibLine(line, t, at); ok {
			return evs, false
		}
	}
	pending := d.pendingIP
	d.pendingIP = false
	switch {
	case reWiFiUp.MatchString(t):
		return d.wifiUpEvent(ev, "Wi-Fi connected", nil), false
	case reIPAddress.MatchString(t):
		m := reIPAddress.FindStringSubmatch(t)
		if m[1] == "" {
			d.pendingIP = true
			return nil, false
		}
		return d.ipEvent(ev, m[1], nil), false
	case pending && reBareIP.MatchString(t):
		return d.ipEvent(ev, t, nil), false
	case t == "bcn_timout":
		d.wifiUp = false
		return ev(KindWiFiDown, Warning, "Wi-Fi beacon timeout: the access point's beacons were lost", "weak signal or the access point restarted: move closer or check the access point",
			map[string]string{"reason": "200", "reason_name": "BEACON_TIMEOUT"}), false
	case t == "Failed to mount file system":
		return ev(KindFSMount, Error, "the filesystem did not mount", "flash a filesystem image built for this board's flash layout and filesystem type (LittleFS/SPIFFS) — iotbench builds it from the layout", nil), false
	case t == "Brownout detector was triggered" || reBrownout.MatchString(t):
		return ev(KindPowerBrownout, Error, "brown-out: the supply voltage dropped", "use a better USB cable/port or power supply and a bulk capacitor near the module; Wi-Fi start draws current peaks", nil), false
	}
	if m := reConnectingTo.FindStringSubmatch(t); m != nil && !strings.Contains(m[1], "MQTT") {
		return ev(KindWiFiConnecting, Info, "connecting to Wi-Fi network \""+m[1]+"\"", "", map[string]string{"ssid": m[1]}), false
	}
	if m := reSDKAssoc.FindStringSubmatch(t); m != nil {
		return ev(KindWiFiAssociated, Info, "associated with \""+m[1]+"\" on channel "+m[2], "", map[string]string{"ssid": m[1], "channel": m[2]}), false
	}
	if m := reSDKIP.FindStringSubmatch(t); m != nil {
		return d.wifiUpEvent(ev, "Wi-Fi connected, IP "+m[1], map[string]string{"ip": m[1], "mask": m[2], "gw": m[3]}), false
	}
	if m := reNTPWait.FindStringSubmatch(t); m != nil {
		polls := len(m[1])
		f := map[string]string{"polls": strconv.Itoa(polls)}
		if polls > 60 {
			return ev(KindNTPWaiting, Warning, fmt.Sprintf("waited %d s for NTP time sync", polls/2),
				"NTP does not answer: UDP port 123 blocked, DNS failing for the pool name, or no default route", f), false
		}
		return ev(KindNTPWaiting, Info, "waiting for NTP time sync", "", f), false
	}
	if m := reNTPTime.FindStringSubmatch(t); m != nil {
		tm, err := time.Parse("Mon Jan _2 15:04:05 2006", m[1])
		if err == nil {
			return d.clockEvent(ev, tm.Unix(), "NTP time sync: "+m[1]), false
		}
	}
	if m := reOpenFile.FindStringSubmatch(t); m != nil {
		file := map[string]string{"cert": "cert.der", "private cert": "private.der", "ca": "ca.der"}[m[2]]
		if m[1] == "Success" {
			return ev(KindFSFile, Info, "opened /"+file, "", map[string]string{"file": file, "ok": "1"}), false
		}
		return ev(KindFSFile, Error, "could not open /"+file, "put "+file+" in the filesystem image (at its root) and flash the image", map[string]string{"file": file, "ok": "0"}), false
	}
	if m := reCertLoad.FindStringSubmatch(t); m != nil {
		file := map[string]string{"cert": "cert.der", "private key": "private.der", "ca": "ca.der"}[m[1]]
		if m[2] == "loaded" {
			return ev(KindCertLoad, Info, file+" loaded", "", map[string]string{"file": file, "ok": "1"}), false
		}
		return ev(KindCertLoad, Error, file+" could not be loaded", "check that "+file+" is a complete DER file (openssl x509/rsa -outform DER) and that it opened", map[string]string{"file": file, "ok": "0"}), false
	}
	if m := reSSLError.FindStringSubmatch(t); m != nil {
		return d.tlsErrorEvent(ev, m[1], nil), false
	}
	if evs, ok := d.arduinoLogLine(ev, t); ok {
		return evs, false
	}
	if m := reBSSL.FindStringSubmatch(t); m != nil {
		return d.bsslLine(ev, strings.TrimSpace(m[1])), false
	}
	if m := reMQTTAttempt.FindStringSubmatch(t); m != nil && !reFailedRC.MatchString(t) {
		if strings.TrimSpace(m[1]) == "connected" {
			d.tlsUp = true
			return ev(KindMQTTConnected, Notice, "MQTT connected", "", nil), false
		}
		return ev(KindMQTTConnecting, Info, "connecting to the MQTT broker", "", nil), false
	}
	if m := reFailedRC.FindStringSubmatch(t); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil {
			return d.mqttStateEvent(ev, n, -2), false
		}
	}
	if m := rePublish.FindStringSubmatch(t); m != nil {
		return ev(KindMQTTPublish, Info, "publishing: "+m[1], "", map[string]string{"message": m[1]}), false
	}
	if m := reArrived.FindStringSubmatch(t); m != nil {
		return ev(KindMQTTMessage, Info, "message on "+m[1], "", map[string]string{"topic": m[1], "payload": m[2]}), false
	}
	if m := reHeap.FindStringSubmatch(t); m != nil {
		free, err := strconv.Atoi(m[1])
		if err == nil {
			return d.heapEvent(ev, free, -1), false
		}
	}
	if m := reAlloc.FindStringSubmatch(t); m != nil {
		f := map[string]string{"addr": "0x" + strings.ToLower(m[1]), "size": m[2]}
		return d.allocEvent(ev, m[1], f, "an allocation of "+m[2]+" bytes failed"), false
	}
	if m := reAllocCall.FindStringSubmatch(t); m != nil {
		return d.allocEvent(ev, m[1], map[string]string{"addr": "0x" + m[1]}, "an allocation failed (caller of the failed allocation)"), false
	}
	if m := reResetInfo.FindStringSubmatch(t); m != nil {
		return []Event{d.resetInfo(line, m, at)}, false
	}
	if reTaskWDT.MatchString(t) {
		return ev(KindCrashWDT, Error, "ESP32 task watchdog: a task did not yield in time", "a task (often loopTask or IDLE) ran without delay()/vTaskDelay(): add delays in long loops or run the work in its own task",
			map[string]string{"wdt": "task"}), false
	}
	return nil, false
}

func (d *Decoder) wifiUpEvent(ev evFunc, summary string, f map[string]string) []Event {
	if d.wifiUp {
		if f != nil && f["ip"] != "" {
			return ev(KindWiFiIP, Info, "IP address "+f["ip"], "", f)
		}
		return nil
	}
	d.wifiUp = true
	return ev(KindWiFiUp, Notice, summary, "", f)
}

func (d *Decoder) ipEvent(ev evFunc, ip string, f map[string]string) []Event {
	if f == nil {
		f = map[string]string{}
	}
	f["ip"] = ip
	if !d.wifiUp {
		return d.wifiUpEvent(ev, "Wi-Fi connected, IP "+ip, f)
	}
	return ev(KindWiFiIP, Info, "IP address "+ip, "", f)
}

// clockEvent judges a clock reading (§3.3, §4).
func (d *Decoder) clockEvent(ev evFunc, epoch int64, what string) []Event {
	f := map[string]string{"epoch": strconv.FormatInt(epoch, 10), "time": time.Unix(epoch, 0).UTC().Format(time.RFC3339)}
	if epoch < 57600 || time.Unix(epoch, 0).UTC().Year() < 2000 {
		why := "TLS certificate checks will fail with 54 (expired or not yet valid)"
		if d.mbedtls() {
			// arduino-esp32's mbedTLS skips certificate dates; the
			// reference sketch waits for a set clock before connecting.
			why = "the firmware waits for NTP before it connects"
		}
		return ev(KindNTPClock1970, Error, "the clock is not set ("+f["time"]+"): "+why,
			"wait for NTP before connecting (time(nullptr) > 57600, better a recent date); make sure UDP 123 and DNS work", f)
	}
	return ev(KindNTPSynced, Notice, what, "", f)
}

func (d *Decoder) tlsErrorEvent(ev evFunc, text string, f map[string]string) []Event {
	if f == nil {
		f = map[string]string{}
	}
	text = strings.TrimSpace(text)
	f["text"] = text
	if d.mbedtls() {
		if text == "" {
			return d.tlsEvent(ev, MbedTLSError(firmware.MbedTLSNone), f)
		}
		if code, ok := firmware.MbedTLSByText(text); ok {
			return d.tlsEvent(ev, MbedTLSError(code), f)
		}
	}
	e, ok := SSLErrorByText(text)
	if !ok {
		if m := reLeadCode.FindStringSubmatch(text); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				if e2, ok2 := SSLErrorByText(m[2]); ok2 {
					e, ok = e2, true
				} else {
					e, ok = SSLErrorByCode(n), true
				}
				if e.Alert < 0 && n != e.Code && (n < 256 || n >= 768) {
					e = SSLErrorByCode(n)
				}
			}
		}
	}
	if !ok {
		return ev(KindTLSError, Error, "TLS error: "+text, "", f)
	}
	return d.tlsEvent(ev, e, f)
}

func (d *Decoder) tlsEvent(ev evFunc, e TLSError, f map[string]string) []Event {
	d.tlsUp = false
	f["code"] = strconv.Itoa(e.Code)
	f["name"] = e.Name
	if e.Alert >= 0 {
		f["alert"] = strconv.Itoa(e.Alert)
		f["alert_name"] = e.AlertName
	}
	if e.Ambiguous {
		f["ambiguous"] = "1"
	}
	if e.Lib != "" {
		f["tls_lib"] = e.Lib
	}
	summary := fmt.Sprintf("TLS error %d (%s): %s", e.Code, e.Name, e.Text)
	switch {
	case e.Name == "BR_ERR_SEND_FATAL_ALERT":
		summary = fmt.Sprintf("TLS: the board sent fatal alert %d (%s)", e.Alert, nameOr(e.AlertName, "unknown"))
	case e.Alert >= 0:
		summary = fmt.Sprintf("TLS: the server sent fatal alert %d (%s)", e.Alert, nameOr(e.AlertName, "unknown"))
	}
	if e.OOM {
		return append(ev(KindTLSError, Error, summary, e.Meaning, f), ev(KindHeapLow, Error, "not enough heap for TLS", e.Meaning, map[string]string{"need": strconv.Itoa(TLSHeapNeed)})...)
	}
	return ev(KindTLSError, Error, summary, e.Meaning, f)
}

// bsslLine decodes the core's SSL debug output (§3.8).
func (d *Decoder) bsslLine(ev evFunc, msg string) []Event {
	f := map[string]string{"text": msg}
	if m := reBSSLErr.FindStringSubmatch(msg); m != nil {
		return d.tlsErrorEvent(ev, m[1], nil)
	}
	switch {
	case strings.Contains(msg, "Connected!"):
		d.tlsUp = true
		return ev(KindTLSTrace, Notice, "TLS connected", "", f)
	case strings.Contains(msg, "Name lookup failure"):
		return ev(KindTLSTrace, Error, "DNS lookup of the server name failed", "check the endpoint host name in config.json (…-ats.iot.<region>.amazonaws.com) and the network's DNS", f)
	case strings.Contains(msg, "Unable to connect TCP socket"):
		return ev(KindTLSTrace, Error, "TCP connect to the server failed", "outbound port 8883 is blocked or the endpoint is wrong: try another network, check the firewall", f)
	case strings.Contains(msg, "_run_until: Timeout"):
		return ev(KindTLSTrace, Error, "TLS handshake timed out", "slow or lossy network, or the server stopped answering; a too-small receive buffer can stall too", f)
	case strings.Contains(msg, "_run_until: Not connected"):
		return ev(KindTLSTrace, Error, "the server closed the connection during the TLS handshake", "the server refused the client (certificate not registered/active, or the key does not match)", f)
	case strings.Contains(msg, "OOM"):
		return ev(KindTLSTrace, Error, "out of memory in TLS setup", "free heap before connecting or shrink the TLS buffers (setBufferSizes after probeMaxFragmentLength)", f)
	case strings.Contains(msg, "no authentication method is setup"):
		return ev(KindTLSTrace, Error, "no server authentication configured: the connect will fail", "call setTrustAnchors() with ca.der (or setFingerprint/setInsecure for tests) before connect()", f)
	case strings.Contains(msg, "_wait_for_handshake: failed"):
		return ev(KindTLSTrace, Warning, "TLS handshake failed", "see the SSL error printed next", f)
	}
	return ev(KindTLSTrace, Info, "BSSL: "+msg, "", f)
}

func (d *Decoder) mqttStateEvent(ev evFunc, state, connack int) []Event {
	if state < 0 {
		d.tlsUp = false // the connection and its TLS buffers are gone
	}
	name, words, fix := MQTTState(state)
	f := map[string]string{"state": strconv.Itoa(state), "state_name": name}
	kind, sev := KindMQTTState, Error
	switch {
	case state == 0:
		d.tlsUp = true
		return ev(KindMQTTConnected, Notice, "MQTT connected", "", f)
	case state == -1:
		sev = Warning
	case state >= 1 && state <= 5:
		kind = KindMQTTConnack
		f["connack"] = strconv.Itoa(state)
	}
	if connack > 0 && kind != KindMQTTConnack {
		f["connack"] = strconv.Itoa(connack)
	}
	return ev(kind, sev, fmt.Sprintf("MQTT state %d (%s): %s", state, name, words), fix, f)
}

func (d *Decoder) heapEvent(ev evFunc, free, maxBlock int) []Event {
	f := map[string]string{"free": strconv.Itoa(free)}
	if maxBlock >= 0 {
		f["max_block"] = strconv.Itoa(maxBlock)
	}
	switch {
	case free < heapCritical:
		f["need"] = strconv.Itoa(heapCritical)
		return ev(KindHeapLow, Error, fmt.Sprintf("free heap nearly exhausted: %d bytes", free), "the sketch leaks or holds too much memory: free buffers, avoid String concatenation in loops", f)
	case !d.tlsUp && free < TLSHeapNeed:
		f["need"] = strconv.Itoa(TLSHeapNeed)
		return ev(KindHeapLow, Warning, fmt.Sprintf("free heap %d bytes is below the ~%d a TLS connection needs with default buffers", free, TLSHeapNeed),
			"free memory before connecting, or shrink the TLS buffers with setBufferSizes() after probeMaxFragmentLength() says the server accepts it", f)
	case !d.tlsUp && maxBlock >= 0 && maxBlock < tlsRecvBuf:
		f["need"] = strconv.Itoa(tlsRecvBuf)
		return ev(KindHeapLow, Warning, fmt.Sprintf("largest free heap block %d bytes is smaller than the %d-byte TLS receive buffer (fragmentation)", maxBlock, tlsRecvBuf),
			"connect TLS early, before the heap fragments, or shrink the receive buffer after probeMaxFragmentLength()", f)
	}
	return ev(KindHeapFree, Info, fmt.Sprintf("free heap %d bytes", free), "", f)
}

func (d *Decoder) allocEvent(ev evFunc, hexAddr string, f map[string]string, summary string) []Event {
	evs := ev(KindHeapAllocFailed, Warning, summary, "the heap was exhausted or fragmented at that call: allocate less or earlier", f)
	if a, err := strconv.ParseUint(hexAddr, 16, 32); err == nil && d.isCodeAddr(uint32(a)) {
		evs[0].Frames = d.frames(uint32(a), true, true)
		if w := where(evs[0].Frames); w != "" {
			evs[0].Summary += " in " + w
		}
	}
	return evs
}

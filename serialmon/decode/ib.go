package decode

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

// ibLine decodes the reference firmware's status lines (device-side.md §6.4,
// grammar in package firmware) into KindIBPrefix+event events. Reset noise
// before "#IB " on the same line is skipped. The severity comes from the
// fields (ok=0, a failing state or code…), with the same tables and fixes
// as the free-form lines.
func (d *Decoder) ibLine(line, t string, at time.Time) ([]Event, bool) {
	s, ok, err := firmware.ParseStatus(t)
	if !ok {
		i := strings.Index(t, firmware.Prefix+" ")
		if i <= 0 {
			return nil, false
		}
		if s, ok, err = firmware.ParseStatus(t[i:]); !ok {
			return nil, false
		}
	}
	base := Event{At: at, Evidence: []string{clip(line)}, Fields: map[string]string{}}
	if err != nil {
		base.Kind, base.Severity = KindIBMalformed, Warning
		base.Summary = "unreadable #IB status line: " + err.Error()
		base.Fix = "the firmware printed a status line that breaks the #IB grammar (package firmware): fix its printer"
		base.Fields["error"] = err.Error()
		return []Event{base}, true
	}
	for _, f := range s.Fields {
		base.Fields[f.Key] = f.Value
	}
	kind := IBKind(s.Event)
	// ev builds the event from a helper's verdict, keeping the line's
	// fields. The helpers' kinds become the #IB kind, except a separate
	// heap.low diagnosis that a TLS failure adds.
	ev := func(k string, sev Severity, summary, fix string, fields map[string]string) []Event {
		e := base
		if k != KindHeapLow || s.Event == firmware.EventHeap {
			k = kind
		}
		e.Kind, e.Severity, e.Summary, e.Fix = k, sev, summary, fix
		e.Fields = map[string]string{}
		for k, v := range fields {
			e.Fields[k] = v
		}
		for k, v := range base.Fields {
			e.Fields[k] = v
		}
		return []Event{e}
	}
	one := func(sev Severity, summary, fix string) ([]Event, bool) {
		return ev("", sev, summary, fix, nil), true
	}
	okv, hasOK := s.Bool(firmware.KeyOK)
	failed := hasOK && !okv

	switch s.Event {
	case firmware.EventBoot:
		return d.ibBoot(s, ev, at), true
	case firmware.EventFS:
		files, _ := s.Str(firmware.KeyFiles)
		if failed {
			return one(Error, "the filesystem did not mount", "flash a filesystem image built for this board's flash layout and filesystem type (iotbench builds it from the layout)")
		}
		var missing []string
		have := "," + files + ","
		for _, f := range []string{"config.json", "cert.der", "private.der", "ca.der"} {
			if !strings.Contains(have, ","+f+",") {
				missing = append(missing, f)
			}
		}
		if s.Has(firmware.KeyFiles) && len(missing) > 0 {
			return one(Error, "filesystem mounted but "+strings.Join(missing, ", ")+" missing", "rebuild the filesystem image with "+strings.Join(missing, ", ")+" at its root and flash it")
		}
		return one(Notice, "filesystem mounted: "+files, "")
	case firmware.EventFile:
		name, _ := s.Str(firmware.KeyName)
		if !failed {
			n, _ := s.Str(firmware.KeyBytes)
			return one(Info, name+" read ("+n+" bytes)", "")
		}
		why, _ := s.Str(firmware.KeyErr)
		switch why {
		case firmware.FileMissing:
			return one(Error, name+" is missing from the filesystem", "rebuild the filesystem image with "+name+" at its root (iotbench provision writes the identity files) and flash it")
		case firmware.FileEmpty:
			return one(Error, name+" is empty", "write the file again: an interrupted copy or upload leaves 0 bytes")
		case firmware.FileParse:
			return one(Error, name+" could not be decoded by "+d.tlsLibName(), fileParseFix(name))
		}
		return one(Error, name+" could not be read", "rebuild and flash the filesystem image")
	case firmware.EventCfg:
		thing, _ := s.Str(firmware.KeyThing)
		if failed {
			return one(Error, "config.json could not be read", "rebuild the filesystem image from a valid config.json (iotbench writes it from the provisioning record)")
		}
		return one(Notice, "config.json loaded (thing "+thing+")", "")
	case firmware.EventWiFi:
		st, hasSt := s.Int(firmware.KeyStatus)
		if !hasSt {
			return one(Info, "Wi-Fi status", "")
		}
		name, words, fix := WiFiStatus(int(st))
		if st == 3 {
			d.wifiUp = true
			sum := "Wi-Fi connected"
			if ip, ok := s.Str(firmware.KeyIP); ok {
				sum += ", IP " + ip
			}
			if rssi, ok := s.Int(firmware.KeyRSSI); ok {
				sum += fmt.Sprintf(", RSSI %d dBm", rssi)
				if rssi < -80 {
					return ev("", Warning, sum+" (weak signal)", "move the board closer to the access point or use a better antenna: below -80 dBm TLS and MQTT drop", map[string]string{"status_name": name}), true
				}
			}
			return ev("", Notice, sum, "", map[string]string{"status_name": name}), true
		}
		d.wifiUp = false
		sev := Error
		if st == 0 || st == 2 || st == 7 {
			sev = Warning
		}
		return ev("", sev, fmt.Sprintf("Wi-Fi status %d (%s): %s", st, name, words), fix, map[string]string{"status_name": name}), true
	case firmware.EventWiFiDisc:
		d.wifiUp = false
		r, hasR := s.Int(firmware.KeyReason)
		if !hasR {
			return one(Warning, "Wi-Fi disconnected", "")
		}
		name, fix := WiFiReason(int(r))
		return ev("", Warning, fmt.Sprintf("Wi-Fi disconnected, reason %d (%s)", r, name), fix, map[string]string{"reason_name": name}), true
	case firmware.EventNTP:
		synced, hasSynced := s.Bool(firmware.KeySynced)
		epoch, hasEpoch := s.Int(firmware.KeyEpoch)
		if hasSynced && !synced {
			return one(Error, "NTP did not synchronise the clock", "UDP port 123 blocked, DNS failing for the NTP pool name, or no default route: check the network")
		}
		if hasEpoch {
			return d.clockEvent(ev, epoch, "clock synchronised: "+time.Unix(epoch, 0).UTC().Format(time.RFC3339)), true
		}
		return one(Notice, "clock synchronised", "")
	case firmware.EventTLS:
		if !failed {
			d.tlsUp = true
			sum := "TLS connected"
			if m, ok := s.Bool(firmware.KeyMFLN); ok {
				sum += fmt.Sprintf(" (max fragment length negotiated: %v)", m)
			}
			return one(Notice, sum, "")
		}
		return d.ibTLS(s, ev), true
	case firmware.EventMQTT:
		st, hasSt := s.Int(firmware.KeyState)
		if !hasSt {
			return one(Info, "MQTT status", "")
		}
		connack, _ := s.Int(firmware.KeyConnack)
		if !s.Has(firmware.KeyConnack) {
			connack = -1
		}
		evs := d.mqttStateEvent(ev, int(st), int(connack))
		evs[0].Kind = kind
		return evs, true
	case firmware.EventPub:
		topic, _ := s.Str(firmware.KeyTopic)
		n, _ := s.Str(firmware.KeyBytes)
		if failed {
			return one(Error, "publish to "+topic+" failed", "the topic plus payload do not fit PubSubClient's buffer (raise setBufferSize()), or the client is not connected")
		}
		return one(Notice, "published "+n+" bytes to "+topic, "")
	case firmware.EventOTA:
		phase, _ := s.Str(firmware.KeyPhase)
		switch phase {
		case firmware.OTAPhaseStart:
			return one(Info, "OTA update started", "")
		case firmware.OTAPhaseProgress:
			pct, _ := s.Str(firmware.KeyPct)
			return one(Info, "OTA update "+pct+"%", "")
		case firmware.OTAPhaseEnd:
			return one(Notice, "OTA update received; the board restarts into it", "")
		case firmware.OTAPhaseError:
			code, ok := s.Int(firmware.KeyErr)
			if e, known := otaErrors[int(code)]; ok && known {
				return ev("", Error, fmt.Sprintf("OTA update failed: %s (%d)", e.name, code), e.words, map[string]string{"err_name": e.name}), true
			}
			return one(Error, "OTA update failed", "")
		}
		return one(Info, "OTA "+phase, "")
	case firmware.EventHeap:
		free, hasFree := s.Int(firmware.KeyFree)
		if !hasFree {
			return one(Info, "heap report", "")
		}
		mb, hasMB := s.Int(firmware.KeyMaxBlock)
		if !hasMB {
			mb = -1
		}
		evs := d.heapEvent(ev, int(free), int(mb))
		evs[0].Kind = kind
		return evs, true
	}
	return one(Info, "#IB "+s.Event, "")
}

func (d *Decoder) ibBoot(s firmware.Status, ev evFunc, at time.Time) []Event {
	app, _ := s.Str(firmware.KeyApp)
	ver, _ := s.Str(firmware.KeyVer)
	sum := strings.TrimSpace("firmware " + app + " " + ver + " started")
	if core, ok := s.Str(firmware.KeyCore); ok {
		sum += " (core " + core + ")"
	}
	d.bootSeen = true
	d.arch, _ = s.Str(firmware.KeyArch)
	reason, hasReason := s.Int(firmware.KeyReason)
	if !hasReason {
		return ev("", Info, sum, "", nil)
	}
	// An ESP32-family build reports esp_reset_reason(), whose numbers mean
	// something else (1 is power-on there, a watchdog on the ESP8266).
	if arch, _ := s.Str(firmware.KeyArch); firmware.IsESP32Arch(arch) {
		return d.ibBoot32(s, ev, sum, int(reason))
	}
	name, text := SDKResetReason(int(reason))
	if rs, ok := s.Str(firmware.KeyReasonS); ok && rs != "" {
		text = rs
	}
	sum += "; reset reason: " + text
	f := map[string]string{"reason_name": name}
	info, _ := s.Str(firmware.KeyInfo)
	var frames []Event
	if m := reResetInfo.FindStringSubmatch(info); m != nil {
		frames = []Event{d.resetInfo(info, m, at)}
	}
	sev, fix := Info, ""
	switch reason {
	case 1:
		sev, fix = Warning, "the previous run hung with interrupts blocked (hardware watchdog): see the last lines it printed"
	case 2:
		sev, fix = Warning, "the previous run crashed: decode the crash report (or the info field) with the firmware's ELF"
	case 3:
		sev, fix = Warning, "the previous run blocked for ~3 s without yield() (Soft WDT)"
	}
	out := ev("", sev, sum, fix, f)
	if len(frames) > 0 {
		out[0].Frames = frames[0].Frames
		out[0].Fields["pc_frames"] = strconv.Itoa(len(frames[0].Frames))
		out[0].Summary += " — " + frames[0].Summary
		if frames[0].Fix != "" {
			out[0].Fix = joinFix(out[0].Fix, frames[0].Fix)
		}
	}
	return out
}

// ibBoot32 finishes the boot event of an ESP32-family build (reason is an
// esp_reset_reason_t, firmware/reset.go).
func (d *Decoder) ibBoot32(s firmware.Status, ev evFunc, sum string, reason int) []Event {
	name, text := firmware.ESP32ResetReason(reason)
	sum += "; reset reason: " + text
	sev, fix := Info, ""
	switch reason {
	case firmware.ESP32ResetPanic:
		sev, fix = Warning, "the previous run crashed (panic): the Guru Meditation and Backtrace lines before this reset say where; decode them with the firmware's ELF"
	case firmware.ESP32ResetIntWDT, firmware.ESP32ResetTaskWDT, firmware.ESP32ResetWDT:
		sev, fix = Warning, "the previous run was reset by a watchdog: a loop that never yields (add delay() or yield()), or an interrupt handler that runs too long"
	case firmware.ESP32ResetBrownout:
		sev, fix = Warning, "the supply voltage dropped (brownout), usually when Wi-Fi starts: use a shorter USB cable, a powered hub or a supply that gives 500 mA"
	}
	return ev("", sev, sum, fix, map[string]string{"reason_name": name})
}

// ibTLS decodes "#IB tls ok=0 code=N text=…". On core ≥ 3.0 a received
// alert gives code = the alert number and text "SSL received fatal alert - …".
func (d *Decoder) ibTLS(s firmware.Status, ev evFunc) []Event {
	code, hasCode := s.Int(firmware.KeyCode)
	text, hasText := s.Str(firmware.KeyText)
	if d.mbedtls() {
		return d.ibTLS32(code, hasCode, text, hasText, ev)
	}
	var e TLSError
	switch {
	case hasText && strings.HasPrefix(text, alertPrefix):
		var ok bool
		e, ok = SSLErrorByText(text)
		if hasCode && (e.Ambiguous || !ok) {
			a := int(code)
			if a >= 256 && a < 512 {
				a -= 256
			}
			e = alertError(a, a)
		}
	case hasCode:
		e = SSLErrorByCode(int(code))
	case hasText:
		var ok bool
		if e, ok = SSLErrorByText(text); !ok {
			return ev("", Error, "TLS connect failed: "+text, "", nil)
		}
	default:
		return ev("", Error, "TLS connect failed", "", nil)
	}
	f := map[string]string{}
	evs := d.tlsEvent(ev, e, f)
	if heap, ok := s.Int(firmware.KeyHeap); ok && heap < TLSHeapNeed && !e.OOM && (e.Code == 0 || e.Code == 6) {
		evs[0].Fix = joinFix(evs[0].Fix, fmt.Sprintf("free heap was only %d bytes", heap))
	}
	return evs
}

// ibTLS32 decodes "#IB tls ok=0" of an ESP32-family build: code is
// lastError(), an mbedTLS code, text mbedtls_strerror's.
func (d *Decoder) ibTLS32(code int64, hasCode bool, text string, hasText bool, ev evFunc) []Event {
	switch {
	case hasCode && code >= -0xFFFF && code <= 0xFFFF:
		return d.tlsEvent(ev, MbedTLSError(int(code)), map[string]string{})
	case hasText:
		if c, ok := firmware.MbedTLSByText(text); ok {
			return d.tlsEvent(ev, MbedTLSError(c), map[string]string{})
		}
		return ev("", Error, "TLS connect failed: "+text, "", map[string]string{"tls_lib": LibMbedTLS})
	}
	return ev("", Error, "TLS connect failed", "", map[string]string{"tls_lib": LibMbedTLS})
}

// fileParseFix says how to produce each identity file in the form BearSSL
// decodes (device-side.md §3.2).
func fileParseFix(name string) string {
	switch name {
	case firmware.KeyFile:
		return "write the private key as DER: PKCS#1 (openssl rsa -outform DER) or SEC 1 for EC (openssl ec -outform DER); PEM or an encrypted key does not load"
	case firmware.CertFile:
		return "write the device certificate as X.509 DER (openssl x509 -outform DER)"
	case firmware.CAFile:
		return "write the root CA as X.509 DER (for AWS: Amazon Root CA 1, openssl x509 -outform DER)"
	}
	return "write the file in DER form"
}

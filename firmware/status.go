package firmware

import (
	"fmt"
	"strconv"
	"strings"
)

// The #IB status-line grammar (device-side.md §6.4, fixed here).
//
// The reference firmware prints one structured line per event so that the
// tool does not depend on free-form text. In ABNF (RFC 5234), after one
// trailing "\n" and then one trailing "\r" have been removed:
//
//	line    = "#IB" 1*SP event *( 1*SP field ) *SP
//	event   = name
//	field   = name "=" value
//	name    = LOWER *( LOWER / DIGIT / "_" )      ; LOWER = %x61-7A (a-z)
//	value   = quoted / bare
//	bare    = *bchar                               ; may be empty: "k=" is ""
//	bchar   = %x21 / %x23-7E                       ; printable ASCII but SP and DQUOTE
//	quoted  = DQUOTE *( qchar / "\" DQUOTE / "\" "\" ) DQUOTE
//	qchar   = %x20-21 / %x23-5B / %x5D-7E / %x80-FF ; no controls, DQUOTE or "\"
//
// Further rules:
//   - A line is an #IB line iff it is exactly "#IB" or starts with "#IB "
//     (SP is %x20 only). Anything else is not an #IB line, whatever follows.
//   - Control bytes (%x00-1F, %x7F) are not allowed anywhere, inside quotes
//     included: a value cannot hold CR, LF or TAB. Bytes %x80-FF (UTF-8) are
//     allowed inside quotes only.
//   - Inside a bare value "\" is an ordinary character; inside a quoted
//     value "\" must be followed by DQUOTE or "\" (the only two escapes).
//   - A closing DQUOTE must be followed by SP or the end of the line.
//   - Keys are unique within a line; field order is kept (and significant
//     for String).
//   - Values are text; the typed accessors interpret them: integers in
//     decimal with an optional sign, booleans as 1/0 (true/false accepted).
//
// Canonical form (String): "#IB", SP, the event, then for each field SP,
// key, "=", and the value bare when it is non-empty and made only of bchar,
// otherwise quoted with "\" and DQUOTE escaped. Exactly one SP separates
// items and there is no trailing SP.

// Prefix starts every status line.
const Prefix = "#IB"

// Status is one parsed #IB line: the event and its ordered key=value fields.
type Status struct {
	Event  string
	Fields []Field
}

// Field is one key=value pair of a status line; Value is unquoted text.
type Field struct {
	Key   string
	Value string
}

// Event names of the reference firmware's status lines (device-side.md §6.4).
const (
	EventBoot     = "boot"      // once per boot: identity and reset reason
	EventFS       = "fs"        // filesystem mounted and files found
	EventCfg      = "cfg"       // config.json parsed
	EventWiFi     = "wifi"      // Wi-Fi status changed
	EventWiFiDisc = "wifi_disc" // station disconnected, with the SDK reason
	EventNTP      = "ntp"       // clock synchronised (or gave up)
	EventTLS      = "tls"       // TLS connect result
	EventMQTT     = "mqtt"      // MQTT connect result / state change
	EventPub      = "pub"       // one publish
	EventOTA      = "ota"       // OTA update phase
	EventHeap     = "heap"      // heap report
)

// Keys of the reference firmware's status lines, by event (device-side.md §6.4).
const (
	// boot
	KeyApp     = "app"      // application name, e.g. iotbench-ref
	KeyVer     = "ver"      // application version
	KeyCore    = "core"     // Arduino core version
	KeyChip    = "chip"     // chip ID, lower-case hex
	KeyFlash   = "flash"    // real flash size in bytes
	KeyArch    = "arch"     // ArchESP8266 or the ESP-IDF target (reset.go)
	KeyReason  = "reason"   // SDK rst_info.reason (0..6); esp_reset_reason() when arch is esp32*
	KeyReasonS = "reason_s" // ESP.getResetReason() text; ESP32ResetReason's text on esp32*
	KeyInfo    = "info"     // ESP.getResetInfo() text

	// fs, cfg, tls, pub
	KeyOK      = "ok"      // 1 success, 0 failure
	KeyFiles   = "files"   // comma-separated file names found
	KeyThing   = "thing"   // thing name / MQTT client ID
	KeySensors = "sensors" // comma-separated sensor types

	// wifi, wifi_disc
	KeyStatus = "status" // WiFi.status() (wl_status_t)
	KeyIP     = "ip"     // station IP address
	KeyRSSI   = "rssi"   // signal strength, dBm
	KeyCh     = "ch"     // channel

	// ntp
	KeySynced   = "synced"    // 1 when the clock was set
	KeyEpoch    = "epoch"     // time(nullptr) after the wait
	KeyWaitedMS = "waited_ms" // how long the wait took

	// tls
	KeyCode = "code" // getLastSSLError() integer
	KeyText = "text" // getLastSSLError() text
	KeyMFLN = "mfln" // getMFLNStatus()
	KeyHeap = "heap" // free heap at that moment

	// mqtt
	KeyState   = "state"   // PubSubClient state()
	KeyConnack = "connack" // CONNACK return code, -1 when none arrived

	// pub
	KeyTopic = "topic" // topic published to
	KeyBytes = "bytes" // payload length

	// ota
	KeyPhase = "phase" // one of the OTAPhase values
	KeyPct   = "pct"   // progress percent
	KeyErr   = "err"   // ArduinoOTA error code

	// heap
	KeyFree     = "free"      // ESP.getFreeHeap()
	KeyMaxBlock = "max_block" // ESP.getMaxFreeBlockSize()
	KeyFrag     = "frag"      // ESP.getHeapFragmentation(), percent
)

// Values of the ota event's phase key.
const (
	OTAPhaseStart    = "start"
	OTAPhaseProgress = "progress"
	OTAPhaseEnd      = "end"
	OTAPhaseError    = "error"
)

// SyntaxError reports an #IB line that does not follow the grammar.
type SyntaxError struct {
	Offset int    // byte offset into the line (after CR/LF removal)
	Msg    string // what is wrong and how to write it instead
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed #IB status line at byte %d: %s", e.Offset, e.Msg)
}

// ParseStatus parses one serial line. It returns ok=false (and no error) when
// the line is not an #IB line, and an error when it is one that breaks the
// grammar. One trailing "\n" and then one trailing "\r" are ignored.
func ParseStatus(line string) (s Status, ok bool, err error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line != Prefix && !strings.HasPrefix(line, Prefix+" ") {
		return Status{}, false, nil
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return Status{}, true, &SyntaxError{i, fmt.Sprintf("control byte 0x%02x: values cannot hold control characters (replace CR, LF and TAB with spaces)", c)}
		}
	}
	p := len(Prefix)
	p = skipSpaces(line, p)
	if p == len(line) {
		return Status{}, true, &SyntaxError{p, `missing event name after "#IB " (e.g. "#IB wifi status=3")`}
	}
	end := scanName(line, p)
	if end == p || (end < len(line) && line[end] != ' ') {
		return Status{}, true, &SyntaxError{p, "event name must be lower-case letters, digits and _ starting with a letter, followed by a space"}
	}
	s.Event = line[p:end]
	p = end
	for {
		p = skipSpaces(line, p)
		if p == len(line) {
			break
		}
		kEnd := scanName(line, p)
		if kEnd == p {
			return Status{}, true, &SyntaxError{p, "field key must be lower-case letters, digits and _ starting with a letter"}
		}
		if kEnd == len(line) || line[kEnd] != '=' {
			return Status{}, true, &SyntaxError{kEnd, fmt.Sprintf("key %q must be followed by '=' and a value (write %s= for an empty value)", line[p:kEnd], line[p:kEnd])}
		}
		key := line[p:kEnd]
		for _, f := range s.Fields {
			if f.Key == key {
				return Status{}, true, &SyntaxError{p, fmt.Sprintf("key %q appears twice: print each key once", key)}
			}
		}
		p = kEnd + 1
		var val string
		if p < len(line) && line[p] == '"' {
			var e *SyntaxError
			val, p, e = scanQuoted(line, p)
			if e != nil {
				return Status{}, true, e
			}
		} else {
			start := p
			for p < len(line) && line[p] != ' ' {
				if c := line[p]; c == '"' || c >= 0x80 {
					return Status{}, true, &SyntaxError{p, "a value holding '\"' or non-ASCII bytes must be quoted: \"...\" with \\\" and \\\\ escapes"}
				}
				p++
			}
			val = line[start:p]
		}
		s.Fields = append(s.Fields, Field{Key: key, Value: val})
	}
	return s, true, nil
}

func skipSpaces(s string, p int) int {
	for p < len(s) && s[p] == ' ' {
		p++
	}
	return p
}

// scanName returns the end of the name starting at p (p itself if none).
func scanName(s string, p int) int {
	if p >= len(s) || s[p] < 'a' || s[p] > 'z' {
		return p
	}
	p++
	for p < len(s) {
		c := s[p]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			break
		}
		p++
	}
	return p
}

// scanQuoted reads the quoted value starting at s[p] == '"'.
func scanQuoted(s string, p int) (string, int, *SyntaxError) {
	open := p
	p++
	var b strings.Builder
	for {
		if p >= len(s) {
			return "", p, &SyntaxError{open, `unterminated quoted value: close it with '"'`}
		}
		c := s[p]
		switch c {
		case '"':
			p++
			if p < len(s) && s[p] != ' ' {
				return "", p, &SyntaxError{p, `a closing '"' must be followed by a space or the end of the line`}
			}
			return b.String(), p, nil
		case '\\':
			if p+1 >= len(s) || (s[p+1] != '"' && s[p+1] != '\\') {
				return "", p, &SyntaxError{p, `inside quotes '\' only escapes '"' and '\' (write \\ for a backslash)`}
			}
			b.WriteByte(s[p+1])
			p += 2
		default:
			b.WriteByte(c)
			p++
		}
	}
}

// String returns the canonical form of s (see the grammar above). Control
// bytes in values, which no line can carry, are written as spaces. String
// does not check the event and key names; ParseStatus of the result fails
// when they break the grammar.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteByte(' ')
	b.WriteString(s.Event)
	for _, f := range s.Fields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		writeValue(&b, f.Value)
	}
	return b.String()
}

func writeValue(b *strings.Builder, v string) {
	bare := v != ""
	for i := 0; i < len(v) && bare; i++ {
		if c := v[i]; c <= 0x20 || c == '"' || c >= 0x7f {
			bare = false
		}
	}
	if bare {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Get returns the value of key and whether the line has it.
func (s Status) Get(key string) (string, bool) {
	for _, f := range s.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Has reports whether the line carries key.
func (s Status) Has(key string) bool {
	_, ok := s.Get(key)
	return ok
}

// Str returns the text value of key; ok is false when the key is absent.
func (s Status) Str(key string) (string, bool) { return s.Get(key) }

// Int returns the value of key as a decimal integer with an optional sign;
// ok is false when the key is absent or its value is not such an integer.
func (s Status) Int(key string) (int64, bool) {
	v, ok := s.Get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Bool returns the value of key as a boolean: "1" and "true" are true, "0"
// and "false" are false; ok is false for anything else or a missing key.
func (s Status) Bool(key string) (value, ok bool) {
	v, present := s.Get(key)
	if !present {
		return false, false
	}
	switch v {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

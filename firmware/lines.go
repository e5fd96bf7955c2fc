package firmware

import (
	"fmt"
	"strings"
)

// What the reference firmware prints for people, next to its #IB lines.
// The sketch (ib_lines.h) and the virtual board's firmware twin print the
// same text from the same templates; testdata/lines.txt holds them and both
// sides' tests compare their tables with it. Templates use only %s, %d and
// %x, which mean the same in Go and C's printf. Lines end in "\r\n"
// (Serial.println, device-side.md conventions) unless the id ends in
// "_open", which the sketch continues on the same line.

// Application identity the reference firmware reports in its boot line.
const (
	AppName    = "iotbench-ref"
	AppVersion = "0.1.0"
	// CoreVersion is the ESP8266 Arduino core the sketch is written for.
	CoreVersion = "3.1.2"
	// CoreVersionESP32 is the arduino-esp32 core an ESP32-family build
	// reports (ESP_ARDUINO_VERSION_MAJOR.MINOR.PATCH); the virtual board's
	// OTA model follows 3.0–3.3.0 (virtualboard/arduinoota).
	CoreVersionESP32 = "3.0.7"
)

// Event and key names added to status.go's for the reference firmware.
const (
	EventFile = "file" // one identity file read: name, ok, bytes or err

	KeyField = "field" // cfg: the config.json field at fault
	KeyKind  = "kind"  // fs: littlefs or spiffs
	KeyName  = "name"  // file: the file name
	KeySeq   = "seq"   // pub: the payload's seq
)

// Values of the file event's err key.
const (
	FileMissing = "missing" // not on the filesystem
	FileEmpty   = "empty"   // 0 bytes
	FileParse   = "parse"   // BearSSL could not decode it
)

// Line template ids.
const (
	LineBanner      = "banner"
	LineReset       = "reset"
	LineFSOK        = "fs_ok"
	LineFSFail      = "fs_fail"
	LineFileOK      = "file_ok"
	LineFileMissing = "file_missing"
	LineFileEmpty   = "file_empty"
	LineFileBad     = "file_bad"
	LineCfgOK       = "cfg_ok"
	LineCfgFail     = "cfg_fail"
	LineWiFiOpen    = "wifi_open"
	LineWiFiOK      = "wifi_ok"
	LineWiFiFail    = "wifi_fail"
	LineNTPOpen     = "ntp_open"
	LineNTPOK       = "ntp_ok"
	LineNTPFail     = "ntp_fail"
	LineMQTTOpen    = "mqtt_open"
	LineMQTTOK      = "mqtt_ok"
	LineMQTTFail    = "mqtt_fail"
	LineSSLError    = "ssl_error"
	LineMQTTLost    = "mqtt_lost"
	LinePublish     = "publish"
	LinePubTooBig   = "pub_too_big"
	LineOTAStart    = "ota_start"
	LineOTAEnd      = "ota_end"
	LineOTAError    = "ota_error"
	LineStop        = "stop"
)

// lineTemplates: the copercini-style lines (device-side.md §3.7) are kept
// where the tool's decoders already know them (§0: "failed, rc=",
// "SSL error: ", "Waiting for NTP time sync: ").
var lineTemplates = map[string]string{
	LineBanner:      "%s %s (core %s) chip %s flash %d",
	LineReset:       "Reset reason: %s",
	LineFSOK:        "%s mounted: %s",
	LineFSFail:      "%s mount failed (0x%x, %d bytes): upload the filesystem image built for this flash layout",
	LineFileOK:      "%s: %d bytes",
	LineFileMissing: "%s: missing",
	LineFileEmpty:   "%s: empty",
	LineFileBad:     "%s: not loaded (%s)",
	LineCfgOK:       "Config: thing %s, endpoint %s:%d, %d sensor(s), publish every %d s",
	LineCfgFail:     "Config error: %s: %s",
	LineWiFiOpen:    "Connecting to %s",
	LineWiFiOK:      "WiFi connected, IP address: %s",
	LineWiFiFail:    "WiFi not connected: reason %d (%s)",
	LineNTPOpen:     "Waiting for NTP time sync: ",
	LineNTPOK:       "Current time: %s",
	LineNTPFail:     "NTP: no time after %d s: check that UDP port 123 is open",
	LineMQTTOpen:    "Attempting MQTT connection to %s:%d as %s...",
	LineMQTTOK:      "connected",
	LineMQTTFail:    "failed, rc=%d try again in %d seconds",
	LineSSLError:    "SSL error: %s",
	LineMQTTLost:    "MQTT connection lost, rc=%d",
	LinePublish:     "Publish message: %s",
	LinePubTooBig:   "Publish skipped: %d bytes do not fit the %d-byte MQTT buffer",
	LineOTAStart:    "OTA start: %s",
	LineOTAEnd:      "OTA end",
	LineOTAError:    "OTA error %d",
	LineStop:        "Stopped: %s",
}

// LineTemplate returns the template of id; it panics on an unknown id (a
// programming error caught by the tests).
func LineTemplate(id string) string {
	t, ok := lineTemplates[id]
	if !ok {
		panic("firmware: unknown line template " + id)
	}
	return t
}

// Line formats template id. Lines whose id ends in "_open" get no line
// ending; the others end in "\r\n".
func Line(id string, args ...any) string {
	s := fmt.Sprintf(LineTemplate(id), args...)
	if strings.HasSuffix(id, "_open") {
		return s
	}
	return s + "\r\n"
}

// LineIDs lists the template ids, for the vector test.
func LineIDs() []string {
	ids := make([]string, 0, len(lineTemplates))
	for id := range lineTemplates {
		ids = append(ids, id)
	}
	return ids
}

// Asctime formats Unix seconds as C's asctime() of gmtime() without its
// newline ("Thu Nov 21 10:15:42 2024"), what the core's NTP examples print
// (device-side.md §4).
func Asctime(epoch int64) string {
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	y, mo, d, h, mi, s, wd := civil(epoch)
	return fmt.Sprintf("%.3s %.3s%3d %02d:%02d:%02d %d", days[wd*3:], months[(mo-1)*3:], d, h, mi, s, y)
}

// civil splits Unix seconds into the UTC calendar (Howard Hinnant's
// days-from-civil inverse), the same arithmetic as the sketch's ib_time.
func civil(epoch int64) (y, mo, d, h, mi, s, wd int) {
	days := epoch / 86400
	rem := epoch % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	h, mi, s = int(rem/3600), int(rem%3600/60), int(rem%60)
	wd = int((days%7 + 11) % 7) // 1970-01-01 was a Thursday
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	mo = int(mp + 3)
	if mo > 12 {
		mo -= 12
	}
	y = int(yoe + era*400)
	if mo <= 2 {
		y++
	}
	return
}

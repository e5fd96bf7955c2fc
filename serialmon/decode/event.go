package decode

import (
	"strconv"
	"strings"
	"time"
)

// Severity ranks an event for display and diagnosis.
type Severity int

const (
	Info    Severity = iota // context: what happened, nothing to act on
	Notice                  // a milestone was reached (Wi-Fi up, clock synced, MQTT connected…)
	Warning                 // suspicious or degraded, may explain a later failure
	Error                   // a failure with a cause to fix
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Notice:
		return "notice"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Event is one thing the log says, decoded. Kind is one of the Kind
// constants (or KindIBPrefix + the #IB event name).
type Event struct {
	Kind     string
	Severity Severity
	At       time.Time         // when the (first) line producing it arrived
	Summary  string            // one line in words
	Fix      string            // concrete suggested fix, "" when there is none
	Evidence []string          // the line(s) that produced it, "\r" removed
	Fields   map[string]string // parsed values; keys per kind are listed with the constants
	Frames   []Frame           // crashes: decoded code addresses (see Kind docs)
}

// Event kinds. Fields common to several kinds: "cause"/"cause_name" (reset
// or exception cause), "reason"/"reason_name" (Wi-Fi), "code" (TLS), "state"
// (MQTT). Crash kinds carry Frames: first the frames of the program counter
// (epc1 on the ESP8266, the backtrace on the ESP32) and then, on the ESP8266,
// the stack words that are code addresses in stack order, top first, each
// resolved through Options.Symbols when given (unresolved frames carry only
// Addr; frames in the mask ROM carry File == ROMFile). Fields "pc_frames"
// says how many of the Frames belong to the program counter.
const (
	// ROM and boot loaders.
	KindROMBanner   = "rom.banner"      // the device just reset. ESP8266 "ets Jan  8 2013,rst cause:N, boot mode:(A,B)"; ESP32 "rst:0x..(NAME),boot:0x..(MODE)". Fields: chip, cause, cause_name, mode ("flash", "download", "sdio", "invalid"), ESP8266 mode_a/mode_b, ESP32 boot/boot_name
	KindROMID       = "rom.id"          // ESP32-family ROM identity: "ets Jun  8 2016 00:22:57", "ESP-ROM:esp32c3-api1-20210207". Fields: rom, chip
	KindROMLoader   = "rom.loader"      // the ROM's loader trace ended. Fields: segments, image, chksum, csum, ok (ESP8266); segments, entry, flash_mode (ESP32)
	KindROMError    = "rom.error"       // the ROM could not boot: csum err, ets_main.c, flash read err, invalid header, unknown reset, waiting for host, user code done. Field: error
	KindROMDownload = "rom.download"    // ESP32 ROM "waiting for download": in the serial loader
	KindBootEboot   = "boot.eboot"      // the Arduino core's second-stage loader: version (v%08x), ~ld, @cp:N, e:N. Fields: version, ota, action, result
	KindBootLoop    = "boot.loop"       // reset banners repeating quickly. Fields: count, interval_ms
	KindBootSDK     = "boot.sdk"        // NONOS SDK start-up lines (rf cal sector…). Info only
	KindResetInfo   = "boot.reset_info" // the sketch printed ESP.getResetInfo(): how the previous run ended. Fields: cause, flag, flag_name, epc1…depc

	// The ESP-IDF second-stage bootloader (ESP32 family), from its log lines
	// "E (ms) tag: message" before the app runs (idfboot.go). Fields of all:
	// level, tag, message, time (the line's timestamp).
	KindBootChipID         = "boot.chip_mismatch"   // "mismatch chip ID": the app is for another chip. Fields: expected, found (chip IDs), expected_chip, found_chip (names; "" when unknown)
	KindBootChipRev        = "boot.chip_revision"   // "chip revision check failed": the app excludes this chip revision. Fields: required, bound, found_rev
	KindBootNoApp          = "boot.no_app"          // "image at 0x… has invalid magic byte": nothing flashed at the app offset. Field: offset
	KindBootAppCorrupt     = "boot.app_corrupt"     // checksum/SHA-256/segment/length check of the app failed. Fields: check (checksum, sha256, segments, length), calculated, read, offset, partition_size
	KindBootNotBootable    = "boot.not_bootable"    // "… partition is not bootable" (Warning; Field partition: factory, test, ota_N) or "No bootable app partitions" (Error; partition "")
	KindBootPartitionTable = "boot.partition_table" // "Failed to verify partition table", "load partition table error!", flash_parts errors
	KindBootIDFError       = "boot.idf_error"       // any other bootloader E line
	KindBootIDFWarning     = "boot.idf_warning"     // a bootloader W line

	// Crashes.
	KindCrashException = "crash.exception" // ESP8266 "Exception (N):" report, SDK "Fatal exception N(...)". Fields: cause, cause_name, epc1, epc2, epc3, excvaddr, depc, ctx, sp, end, offset, alloc_addr, alloc_size, truncated
	KindCrashWDT       = "crash.wdt"       // watchdogs: ESP8266 Soft WDT report (wdt=soft), hardware WDT (wdt=hw, from "wdt reset" or the HWDT stack dump), ESP32 interrupt/task WDT (wdt=interrupt/task). Field last_lines: what the app printed last
	KindCrashPanic     = "crash.panic"     // panic/abort/assert/unhandled C++ exception/stack smashing/stack overflow/generic reset. Fields: reason, text, addr
	KindCrashGuru      = "crash.guru"      // ESP32 "Guru Meditation Error". Fields: core, reason, cause, cause_name, pc, excvaddr, corrupted, elf_sha256, elf_mismatch
	KindCrashBacktrace = "crash.backtrace" // an ESP32 "Backtrace:" line outside a panic report
	KindPowerBrownout  = "power.brownout"  // ESP32 "Brownout detector was triggered"
	KindIDFError       = "idf.error"       // an ESP-IDF "E (ms) tag: message" line of the running app that no other decoder explains (Warning). Fields: level, tag, message, time

	// Wi-Fi (§3.9).
	KindWiFiConnecting = "wifi.connecting" // "Connecting to <ssid>". Field: ssid
	KindWiFiAssociated = "wifi.associated" // SDK "connected with <ssid>, channel N". Fields: ssid, channel
	KindWiFiUp         = "wifi.up"         // Wi-Fi connected (once per connection). Fields: ip, mask, gw when known
	KindWiFiIP         = "wifi.ip"         // the IP address was printed again. Field: ip
	KindWiFiDown       = "wifi.down"       // disconnected. Fields: reason, reason_name

	// Clock (§4).
	KindNTPWaiting   = "ntp.waiting"    // "Waiting for NTP time sync: ...". Field: polls
	KindNTPSynced    = "ntp.synced"     // clock set. Fields: time (RFC 3339)
	KindNTPClock1970 = "ntp.clock_1970" // the clock says 1970: not synced; TLS will fail with 54

	// Files and credentials (copercini-style sketches, §3.7).
	KindFSMount  = "fs.mount"  // "Failed to mount file system"
	KindFSFile   = "fs.file"   // "Success to open cert file" / "Failed to open … file". Fields: file, ok
	KindCertLoad = "cert.load" // "cert loaded" / "private key not loaded" / "ca failed". Fields: file, ok

	// TLS (§3.4, §3.5, §3.8).
	KindTLSError = "tls.error" // getLastSSLError() text printed by the sketch or BSSL "Couldn't connect"; on ESP32 builds lastError() (mbedTLS) or ssl_client.cpp's _handle_error log. Fields: code, name, text, alert, alert_name, tls_lib ("mbedtls" for arduino-esp32's codes)
	KindTLSTrace = "tls.trace" // a "BSSL:" debug line. Field: text

	// MQTT (§3.6).
	KindMQTTConnecting = "mqtt.connecting" // "Attempting MQTT connection..."
	KindMQTTConnected  = "mqtt.connected"  // "...connected"
	KindMQTTState      = "mqtt.state"      // PubSubClient "failed, rc=N" with N <= 0. Fields: state, state_name
	KindMQTTConnack    = "mqtt.connack"    // "failed, rc=N" with N = 1..5: the broker's CONNACK refusal. Fields: state, state_name, connack
	KindMQTTPublish    = "mqtt.publish"    // "Publish message: …". Field: message
	KindMQTTMessage    = "mqtt.message"    // "Message arrived [topic] payload". Fields: topic, payload

	// Heap.
	KindHeapFree        = "heap.free"         // "Heap: N" (enough). Field: free
	KindHeapLow         = "heap.low"          // free heap or largest block too small for TLS. Fields: free, max_block, need
	KindHeapAllocFailed = "heap.alloc_failed" // "last failed alloc call/caller" outside a crash report. Fields: addr, size

	// The reference firmware's status lines (device-side.md §6.4): KindIBPrefix
	// + the event name ("ib.wifi", "ib.tls", …), Fields = the line's fields.
	KindIBPrefix    = "ib."
	KindIBMalformed = "ib.malformed" // an #IB line that breaks the grammar. Field: error
)

// IsBootKind reports whether an event of this kind comes from the boot
// ROM or a boot loader, before the application runs: the rom.* and boot.*
// kinds, except boot.reset_info, which the sketch prints.
func IsBootKind(kind string) bool {
	return strings.HasPrefix(kind, "rom.") || strings.HasPrefix(kind, "boot.") && kind != KindResetInfo
}

// IBKind is the event kind of an #IB line with the given event name.
func IBKind(event string) string { return KindIBPrefix + event }

// maxEvidenceLine caps how much of one line an event keeps.
const maxEvidenceLine = 512

func clip(line string) string {
	if len(line) <= maxEvidenceLine {
		return line
	}
	return strings.ToValidUTF8(line[:maxEvidenceLine], "") + "…"
}

package doctor

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// Line is one line the board printed, as the monitor session delivered it.
type Line struct {
	At   time.Time
	Text string
	Baud int // the rate it was read at (0: unknown)
}

// Symptom codes: what the serial log shows. Causes found in the cloud or
// by the probes name these in their explains lists.
const (
	SymSilent    = "serial.silent"
	SymBaud      = "serial.baud"
	SymBootMode  = "serial.boot_mode"
	SymImage     = "serial.image"
	SymCrash     = "serial.crash"
	SymFiles     = "serial.files"
	SymWiFi      = "serial.wifi"
	SymClock     = "serial.clock"
	SymTLS       = "serial.tls"
	SymMQTT      = "serial.mqtt"
	SymPublish   = "serial.publish"
	SymOTA       = "serial.ota"
	SymHeap      = "serial.heap"
	SymStatus    = "serial.status_line"
	SymStalled   = "serial.stalled"
	SymNotSeen   = "publish.not_seen"
	CodeVerified = "publish.verified"

	// The ESP-IDF second-stage bootloader's verdicts on the app (ESP32
	// family): why the image step failed, more precisely than SymImage.
	SymAppChip        = "serial.app_chip"         // the app is built for another chip (or chip revision)
	SymAppMissing     = "serial.app_missing"      // nothing flashed at the app partition
	SymAppCorrupt     = "serial.app_corrupt"      // checksum, SHA-256, segments or length of the app fail
	SymAppNotBootable = "serial.app_not_bootable" // no app partition holds a valid app
	SymPartitionTable = "serial.partition_table"  // no valid partition table at 0x8000
	SymBootloader     = "serial.bootloader"       // another bootloader error line
)

// imageCauses: a bootloader line that says why the app was refused
// explains what follows from it — "not bootable" and the reset loop the
// bootloader then runs (bootloader_reset) — so those fold into it and
// its fix leads, instead of "a reset loop: check the power first".
var imageCauses = map[string][]string{
	SymAppChip:        {SymAppNotBootable, SymImage},
	SymAppMissing:     {SymAppNotBootable, SymImage},
	SymAppCorrupt:     {SymAppNotBootable, SymImage},
	SymPartitionTable: {SymAppNotBootable, SymImage},
}

// classify maps a decoded event to its symptom code and step, and says
// whether it is a success milestone of that step (which resolves earlier
// failures of the same step) rather than a failure.
func classify(e decode.Event) (code string, step Step, success, ok bool) {
	fail := e.Severity >= decode.Warning
	kind := e.Kind
	if strings.HasPrefix(kind, decode.KindIBPrefix) && kind != decode.KindIBMalformed {
		switch strings.TrimPrefix(kind, decode.KindIBPrefix) {
		case firmware.EventFS, firmware.EventCfg, firmware.EventFile:
			return SymFiles, StepFiles, !fail, true
		case firmware.EventWiFi, firmware.EventWiFiDisc:
			return SymWiFi, StepWiFi, !fail && e.Severity == decode.Notice, fail || e.Severity == decode.Notice
		case firmware.EventNTP:
			return SymClock, StepClock, !fail, true
		case firmware.EventTLS:
			return SymTLS, StepTLS, !fail, true
		case firmware.EventMQTT:
			return SymMQTT, StepMQTT, !fail && e.Severity == decode.Notice, fail || e.Severity == decode.Notice
		case firmware.EventPub:
			return SymPublish, StepPublish, !fail, true
		case firmware.EventOTA:
			return SymOTA, StepOTA, false, fail
		case firmware.EventHeap:
			return SymHeap, StepTLS, false, fail
		case firmware.EventBoot:
			// The previous run's end (crash, watchdog) is history of this
			// boot: a warning, ranked with crashes.
			return SymCrash, StepCrash, false, fail
		}
		return "", 0, false, false
	}
	switch kind {
	case decode.KindIBMalformed:
		return SymStatus, StepOTA, false, true
	case decode.KindROMBanner:
		if e.Fields["mode"] == "flash" {
			return SymBootMode, StepBootMode, true, true
		}
		return SymBootMode, StepBootMode, false, fail
	case decode.KindROMLoader:
		return SymImage, StepImage, !fail, true
	case decode.KindROMError, decode.KindBootLoop:
		return SymImage, StepImage, false, true
	case decode.KindBootEboot:
		return SymImage, StepImage, false, fail
	case decode.KindBootChipID, decode.KindBootChipRev:
		return SymAppChip, StepImage, false, true
	case decode.KindBootNoApp:
		return SymAppMissing, StepImage, false, true
	case decode.KindBootAppCorrupt:
		return SymAppCorrupt, StepImage, false, true
	case decode.KindBootNotBootable:
		return SymAppNotBootable, StepImage, false, true
	case decode.KindBootPartitionTable:
		return SymPartitionTable, StepImage, false, true
	case decode.KindBootIDFError:
		return SymBootloader, StepImage, false, true
	case decode.KindCrashException, decode.KindCrashWDT, decode.KindCrashPanic, decode.KindCrashGuru, decode.KindPowerBrownout:
		return SymCrash, StepCrash, false, true
	case decode.KindFSMount, decode.KindFSFile, decode.KindCertLoad:
		return SymFiles, StepFiles, !fail, true
	case decode.KindWiFiUp:
		return SymWiFi, StepWiFi, true, true
	case decode.KindWiFiDown:
		return SymWiFi, StepWiFi, false, true
	case decode.KindNTPSynced:
		return SymClock, StepClock, true, true
	case decode.KindNTPClock1970:
		return SymClock, StepClock, false, true
	case decode.KindTLSError:
		return SymTLS, StepTLS, false, true
	case decode.KindMQTTConnected:
		return SymMQTT, StepMQTT, true, true
	case decode.KindMQTTState, decode.KindMQTTConnack:
		return SymMQTT, StepMQTT, false, fail
	case decode.KindHeapLow, decode.KindHeapAllocFailed:
		return SymHeap, StepTLS, false, true
	}
	return "", 0, false, false
}

// milestone names what the board reached, for "stalled after" findings.
var milestone = map[Step]string{
	StepBootMode: "booted from flash",
	StepFiles:    "loaded its files",
	StepWiFi:     "joined Wi-Fi",
	StepClock:    "set its clock",
	StepTLS:      "completed the TLS handshake",
	StepMQTT:     "connected to MQTT",
	StepPublish:  "published",
}

// next names what comes after a step in the firmware's start-up.
var next = map[Step]Step{StepBootMode: StepFiles, StepFiles: StepWiFi, StepWiFi: StepClock, StepClock: StepTLS, StepTLS: StepMQTT, StepMQTT: StepPublish}

// serialFindings decodes the log and turns its events into findings.
// A failure that a later success of the same step resolved (Wi-Fi came
// back, the clock got set on the second try) is kept as information only.
func serialFindings(lines []Line, opts decode.Options) (fs []Finding, reached Step, events []decode.Event) {
	d := decode.NewDecoder(opts)
	for _, l := range lines {
		events = append(events, d.Line(l.Text, l.At)...)
	}
	events = append(events, d.Flush()...)

	if len(lines) == 0 {
		return []Finding{{Code: SymSilent, Step: StepPort, Severity: decode.Error,
			Summary:  "the board printed nothing",
			Fix:      "check that this is the board's port and that it is powered; press RESET and watch again (a board that prints nothing at 74880 either does not run or is on another port)",
			Evidence: []Evidence{{Source: SourceSerial, Text: "no output received"}}}}, StepPort, events
	}
	if f, ok := baudFinding(lines, events); ok {
		fs = append(fs, f)
	}

	latest := map[string]int{} // code → index in fs of the latest failure
	reached = StepPort
	for _, e := range events {
		code, step, success, ok := classify(e)
		if !ok {
			continue
		}
		ev := evidenceOf(e)
		if success {
			if i, ok := latest[code]; ok {
				// Resolved: keep as history, not as a problem.
				fs[i].Severity = decode.Info
				fs[i].Summary += " (recovered later)"
				delete(latest, code)
			}
			if step > reached {
				reached = step
			}
			continue
		}
		f := Finding{Code: code, Step: step, Severity: e.Severity, Summary: e.Summary, Fix: e.Fix, Evidence: ev, first: e.At,
			explains: imageCauses[code], ownEvidenceFirst: imageCauses[code] != nil}
		if i, ok := latest[code]; ok && fs[i].Summary == f.Summary {
			// The same failure again (the firmware retries): one finding,
			// more evidence, bounded.
			if len(fs[i].Evidence) < 8 {
				fs[i].Evidence = append(fs[i].Evidence, ev...)
			}
			continue
		}
		if i, ok := latest[code]; ok {
			fs[i].Severity = min(fs[i].Severity, decode.Warning)
		}
		fs = append(fs, f)
		latest[code] = len(fs) - 1
	}
	// Nothing failed after the furthest milestone, yet the board got no
	// further: say where it stopped.
	// Only for firmware that reports its steps (the reference firmware's
	// #IB lines, or the usual sketch messages): reaching at least the files.
	if n, ok := next[reached]; ok && reached >= StepFiles {
		stuck := true
		for _, f := range fs {
			if f.Severity >= decode.Warning && f.Step >= n {
				stuck = false
			}
		}
		if stuck {
			last := lines[len(lines)-1]
			fs = append(fs, Finding{Code: SymStalled, Step: n, Severity: decode.Warning,
				Summary:  fmt.Sprintf("the board %s and then reported nothing about the next step (%s)", milestone[reached], n),
				Fix:      stallFix[n],
				Evidence: []Evidence{{Source: SourceSerial, At: last.At, Text: "last line: " + clipText(last.Text)}},
				first:    last.At})
		}
	}
	return fs, reached, events
}

var stallFix = map[Step]string{
	StepFiles:   "the firmware did not report mounting its filesystem: is this iotbench's reference firmware (or one that prints #IB status lines)? Otherwise watch its own messages",
	StepWiFi:    "the board is still trying to join Wi-Fi: check the SSID and password in config.json and that the access point is 2.4 GHz and in range",
	StepClock:   "the board is waiting for NTP: make sure UDP port 123 and DNS work on its network",
	StepTLS:     "the board is opening TLS to the endpoint: check the endpoint name and that outbound TCP 8883 is open",
	StepMQTT:    "TLS is up but MQTT has not answered: the broker may be dropping the CONNECT (certificate not attached, policy without iot:Connect for this client id)",
	StepPublish: "MQTT is connected but no publish was reported: check the firmware's publish interval and sensor configuration",
}

func evidenceOf(e decode.Event) []Evidence {
	out := make([]Evidence, 0, len(e.Evidence))
	for _, l := range e.Evidence {
		out = append(out, Evidence{Source: SourceSerial, At: e.At, Text: l})
	}
	if len(out) == 0 {
		out = append(out, Evidence{Source: SourceSerial, At: e.At, Text: e.Summary})
	}
	return out
}

func clipText(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// garbled reports whether a line looks like bytes read at the wrong rate:
// mostly not printable text (device-side.md §1.1: the ROM prints at
// 74880, the sketch at its own rate; read at the wrong one, text turns
// into high bytes and control characters).
func garbled(s string) bool {
	if len(s) < 4 {
		return false
	}
	bad, n := 0, 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f || r >= 0x80 {
			bad++
		}
	}
	return bad*3 > n
}

// baudFinding: readable boot output (the ROM banner at the boot rate) but
// the application's lines unreadable (§7.1).
func baudFinding(lines []Line, events []decode.Event) (Finding, bool) {
	sawBanner := false
	for _, e := range events {
		if e.Kind == decode.KindROMBanner {
			sawBanner = true
		}
	}
	var bad []Line
	good := 0
	for _, l := range lines {
		if garbled(l.Text) {
			bad = append(bad, l)
		} else if strings.TrimSpace(l.Text) != "" {
			good++
		}
	}
	if len(bad) < 3 || len(bad)*2 < len(lines) && good > 5 {
		return Finding{}, false
	}
	f := Finding{Code: SymBaud, Step: StepBaud, Severity: decode.Error, first: bad[0].At}
	rate := ""
	if bad[0].Baud > 0 {
		rate = fmt.Sprintf(" at %d baud", bad[0].Baud)
	}
	if sawBanner {
		f.Summary = "the boot ROM's lines are readable but the application's are not" + rate + ": the monitor and the firmware use different baud rates"
		f.Fix = "monitor at the rate the firmware passes to Serial.begin() (the reference firmware uses 115200; iotbench monitor --baud N), or make the firmware use 74880 so boot and application share one rate"
	} else {
		f.Summary = "the board's output is unreadable" + rate
		f.Fix = "monitor at the firmware's baud rate (iotbench monitor --baud N); the ESP8266 ROM itself prints at 74880"
	}
	for i, l := range bad {
		if i == 3 {
			break
		}
		f.Evidence = append(f.Evidence, Evidence{Source: SourceSerial, At: l.At, Text: fmt.Sprintf("%q", clipText(l.Text))})
	}
	return f, true
}

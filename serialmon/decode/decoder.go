package decode

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options configure a Decoder.
type Options struct {
	// Chip is the chip family ("ESP8266", "ESP32", "ESP32-S3", "ESP32-C3"…)
	// when known from the flasher; it picks the ESP32 reset-cause numbering
	// and the code-address ranges used without an ELF. Empty: taken from
	// the banners seen (ESP8266 unless an ESP32-family banner appears).
	Chip string
	// Symbols resolves crash addresses; nil leaves frames unresolved.
	Symbols *Symbols
}

// Limits on what a Decoder holds, so that a block that never ends (a crash
// report cut off, noise that looks like stack rows) cannot grow memory.
const (
	maxLineLen     = 4096 // longer lines are decoded from their first 4096 bytes
	maxBlockLines  = 1024 // a multi-line block is emitted (truncated) at this size
	maxCandidates  = 128  // code addresses kept from one stack dump (PlatformIO's cap)
	maxUnknownRun  = 16   // unrelated lines that end an open block
	maxLoaderLines = 64   // loader trace lines
	lastLinesKept  = 3    // app lines remembered for hardware-watchdog reports
)

// Decoder turns serial lines into events. It keeps state only for what
// spans lines (crash reports, stack dumps, ESP32 panics, ROM loader traces)
// and for a few facts of the current boot. Not safe for concurrent use.
type Decoder struct {
	opts Options
	chip string // effective chip family

	blk block // the open multi-line block, if any

	// Since the last reset banner.
	appRan    bool
	wifiUp    bool
	tlsUp     bool
	pendingIP bool
	bootSeen  bool   // a "#IB boot" line came since the reset
	arch      string // its arch ("" = an ESP8266 build)
	romErrs   map[string]bool
	lastLines []string

	// Across resets.
	lastWasID     bool     // the previous non-blank line was an ESP32 ROM identity line
	prevLines     []string // what the app printed last before the latest reset
	bannerAt      time.Time
	quickBanners  int
	loopReported  bool
	bannerCounter int
}

// NewDecoder returns a Decoder.
func NewDecoder(opts Options) *Decoder {
	d := &Decoder{opts: opts, chip: normChip(opts.Chip), romErrs: map[string]bool{}}
	return d
}

func normChip(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	c = strings.ReplaceAll(c, "_", "-")
	if strings.HasPrefix(c, "ESP32") && len(c) > 5 && c[5] != '-' {
		c = "ESP32-" + c[5:]
	}
	return c
}

func (d *Decoder) is8266() bool { return d.chip == "" || d.chip == "ESP8266" || d.chip == "ESP8285" }

// feedResult tells Line what an open block did with a line.
type feedResult int

const (
	feedTake feedResult = iota // consumed; the block stays open
	feedDone                   // consumed; the block is complete
	feedEnd                    // not consumed; the block ends before this line
	feedPass                   // not consumed; the block stays open
)

type block interface {
	feed(d *Decoder, line string) feedResult
	finish(d *Decoder, complete bool) []Event
	size() int
}

// Line decodes one line (a trailing "\r" or "\n" is ignored) that arrived
// at at, and returns the events it completes: usually zero or one; a line
// that ends an open block may return that block's event first.
func (d *Decoder) Line(line string, at time.Time) []Event {
	line = stripANSI(strings.TrimRight(line, "\r\n"))
	if len(line) > maxLineLen {
		line = line[:maxLineLen]
	}
	var out []Event
	if reset := d.resetLine(line); reset != nil {
		out = append(out, d.closeBlock(false)...)
		out = append(out, reset(at)...)
		d.lastWasID = len(out) > 0 && out[len(out)-1].Kind == KindROMID
		return out
	}
	if d.lastWasID && strings.HasPrefix(line, "Build:") {
		return nil // newer ROMs print their build date under the identity line
	}
	if strings.TrimSpace(line) != "" {
		d.lastWasID = false
	}
	if d.blk != nil {
		switch d.blk.feed(d, line) {
		case feedTake:
			if d.blk.size() >= maxBlockLines {
				out = append(out, d.closeBlock(false)...)
			}
			return out
		case feedDone:
			return append(out, d.closeBlock(true)...)
		case feedEnd:
			out = append(out, d.closeBlock(false)...)
		case feedPass:
			if d.blk.size() >= maxBlockLines {
				out = append(out, d.closeBlock(false)...)
			}
		}
	}
	if d.blk == nil {
		if b := d.startBlock(line, at); b != nil {
			d.blk = b
			switch b.feed(d, line) {
			case feedDone:
				out = append(out, d.closeBlock(true)...)
			case feedEnd, feedPass: // a block refusing its own first line: drop it
				d.blk = nil
			}
			return out
		}
	}
	evs, known := d.single(line, at)
	out = append(out, evs...)
	if !known && len(evs) == 0 {
		d.noteAppLine(line)
	} else if len(evs) > 0 && !strings.HasPrefix(evs[0].Kind, "rom.") && !strings.HasPrefix(evs[0].Kind, "boot.") {
		d.appRan = true
		d.remember(line)
	}
	return out
}

// Flush returns the event of a block still open (e.g. when the port closes).
func (d *Decoder) Flush() []Event { return d.closeBlock(false) }

func (d *Decoder) closeBlock(complete bool) []Event {
	if d.blk == nil {
		return nil
	}
	b := d.blk
	d.blk = nil
	return b.finish(d, complete)
}

// noteAppLine records output of the running application: mostly printable
// text that no decoder claimed.
func (d *Decoder) noteAppLine(line string) {
	t := strings.TrimSpace(line)
	if len(t) < 3 {
		return
	}
	printable := 0
	for i := 0; i < len(t); i++ {
		if t[i] >= 0x20 && t[i] < 0x7f {
			printable++
		}
	}
	if printable*10 < len(t)*9 {
		return // line noise (another baud rate)
	}
	d.appRan = true
	d.remember(line)
}

func (d *Decoder) remember(line string) {
	if len(d.lastLines) == lastLinesKept {
		copy(d.lastLines, d.lastLines[1:])
		d.lastLines = d.lastLines[:lastLinesKept-1]
	}
	d.lastLines = append(d.lastLines, clip(line))
}

// --- reset banners (§0, §1.2, §1.8) ---

var (
	reBanner8266 = regexp.MustCompile(`ets Jan\s+8 201\d,\s*rst cause:?\s*(\d+), boot mode:\((\d+),(\d+)\)`)
	reROMID32    = regexp.MustCompile(`ets (Jun\s+8 2016 00:22:57|Jul 29 2019 12:21:46)|ESP-ROM:(\S+)`)
	reRst32      = regexp.MustCompile(`rst:0x([0-9a-f]+) \((\w+)\),boot:0x([0-9a-f]+) \(([^)]*)\)`)
)

// resetLine recognises lines that mean "the chip just reset"; it returns
// the handler to run after open blocks are closed.
func (d *Decoder) resetLine(line string) func(time.Time) []Event {
	if !strings.Contains(line, "ets ") && !strings.Contains(line, "rst") && !strings.Contains(line, "ESP-ROM:") {
		return nil
	}
	if m := reBanner8266.FindStringSubmatch(line); m != nil {
		return func(at time.Time) []Event { return d.banner8266(line, m, at) }
	}
	if m := reRst32.FindStringSubmatch(line); m != nil {
		return func(at time.Time) []Event { return d.banner32(line, m, at) }
	}
	if m := reROMID32.FindStringSubmatchIndex(line); m != nil {
		return func(at time.Time) []Event { return d.romID32(line, m, at) }
	}
	return nil
}

// newBoot resets the per-boot state and tracks reset loops.
func (d *Decoder) newBoot(line string, at time.Time) []Event {
	var out []Event
	if len(d.lastLines) > 0 {
		d.prevLines = d.lastLines
	}
	d.lastLines = nil
	d.wifiUp, d.tlsUp, d.pendingIP = false, false, false
	d.bootSeen, d.arch = false, ""
	d.romErrs = map[string]bool{}
	d.bannerCounter++
	if !at.IsZero() && !d.bannerAt.IsZero() {
		gap := at.Sub(d.bannerAt)
		if gap >= 0 && gap < 2*time.Second {
			d.quickBanners++
		} else {
			d.quickBanners = 0
			d.loopReported = false
		}
		if d.quickBanners >= 2 && !d.loopReported {
			d.loopReported = true
			out = append(out, Event{Kind: KindBootLoop, Severity: Error, At: at, Evidence: []string{clip(line)},
				Summary: fmt.Sprintf("the board resets every %d ms: a reset loop", gap.Milliseconds()),
				Fix:     "if nothing but the banner repeats, check the power first (USB cable and port, a capacitor near the module: brown-out); if a crash report precedes each reset, fix that crash; erase and reflash if the image is corrupt",
				Fields:  map[string]string{"count": strconv.Itoa(d.quickBanners + 1), "interval_ms": strconv.FormatInt(gap.Milliseconds(), 10)}})
		}
	}
	d.bannerAt = at
	d.appRan = false
	return out
}

func (d *Decoder) banner8266(line string, m []string, at time.Time) []Event {
	ran := d.appRan
	loop := d.newBoot(line, at)
	if d.opts.Chip == "" {
		d.chip = "ESP8266"
	}
	cause, _ := strconv.Atoi(m[1])
	a, _ := strconv.Atoi(m[2])
	cname, cwords := RSTCause8266(cause)
	mode, mwords, fix := BootMode8266(a)
	ev := Event{Kind: KindROMBanner, At: at, Evidence: []string{clip(line)},
		Summary: cwords + ", " + mwords,
		Fix:     fix,
		Fields: map[string]string{"chip": "ESP8266", "cause": m[1], "cause_name": cname,
			"mode": mode, "mode_a": m[2], "mode_b": m[3]}}
	switch {
	case mode == "invalid" || mode == "sdio" || cause >= 7:
		ev.Severity = Error
	case mode == "download" && cause == 2 && ran:
		ev.Severity = Error
		ev.Summary = "restarted into download mode: the boot straps are still latched from serial flashing, so the ROM waits for a flasher"
		ev.Fix = "press RESET or power-cycle the board once after serial flashing (ESP.restart() keeps the download-mode latch)"
		ev.Fields["latched"] = "1"
	case mode == "download" || cause == 4:
		ev.Severity = Warning
	case cause == 2:
		ev.Summary += " (reset pin, ESP.restart(), or a crash/watchdog restart)"
	}
	if cause == 4 {
		ev.Fix = joinFix(ev.Fix, "the hardware watchdog fired: see the last lines the sketch printed before the reset")
	}
	if cause >= 7 {
		ev.Fix = joinFix(ev.Fix, "the ROM does not know this reset cause and halts: power-cycle the board")
	}
	return append(loop, ev)
}

func (d *Decoder) banner32(line string, m []string, at time.Time) []Event {
	var loop []Event
	if !d.lastWasID { // the ROM identity line already started this boot
		loop = d.newBoot(line, at)
	}
	if d.opts.Chip == "" && d.is8266() {
		d.chip = "ESP32"
	}
	n, _ := strconv.ParseInt(m[1], 16, 64)
	bootv, _ := strconv.ParseInt(m[3], 16, 64)
	name, words := ResetCause32(d.chip, int(n), m[2])
	mode, mwords, fix := BootMode32(m[4])
	ev := Event{Kind: KindROMBanner, At: at, Evidence: []string{clip(line)},
		Summary: words + ", " + mwords, Fix: fix,
		Fields: map[string]string{"chip": d.chip, "cause": "0x" + m[1], "cause_name": name,
			"mode": mode, "boot": "0x" + m[3], "boot_name": m[4]}}
	if d.chip == "ESP32" {
		ev.Fields["straps"] = straps32(int(bootv))
	}
	switch {
	case mode == "invalid":
		ev.Severity = Error
	case name == "RTCWDT_BROWN_OUT_RESET":
		ev.Severity = Error
		ev.Fix = joinFix(ev.Fix, "the supply dropped: use a better USB cable/port or power supply, add a bulk capacitor; Wi-Fi start draws current peaks")
	case mode == "download" || strings.Contains(name, "WDT"):
		ev.Severity = Warning
	}
	return append(loop, ev)
}

func (d *Decoder) romID32(line string, m []int, at time.Time) []Event {
	loop := d.newBoot(line, at)
	ev := Event{Kind: KindROMID, At: at, Evidence: []string{clip(line)}, Fields: map[string]string{}}
	if m[4] >= 0 { // ESP-ROM:<chip>-<date>
		rom := line[m[4]:m[5]]
		ev.Fields["rom"] = rom
		chip := rom
		if i := strings.IndexByte(chip, '-'); i > 0 {
			chip = chip[:i]
		}
		ev.Fields["chip"] = normChip(chip)
		ev.Summary = "ESP32-family ROM " + rom + ": the chip just reset"
	} else {
		ev.Fields["rom"] = line[m[2]:m[3]]
		ev.Fields["chip"] = "ESP32"
		ev.Summary = "ESP32 ROM (" + ev.Fields["rom"] + "): the chip just reset"
	}
	if d.opts.Chip == "" {
		d.chip = ev.Fields["chip"]
	}
	return append(loop, ev)
}

func joinFix(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// --- ROM loader traces (§1.5, §1.8) ---

var (
	reLoad8266  = regexp.MustCompile(`^load 0x([0-9a-f]{8}), len (\d+), room (\d+)\s*$`)
	reTrace8266 = regexp.MustCompile(`^(tail \d+|chksum 0x([0-9a-f]{2})|csum 0x([0-9a-f]{2})|csum err|ho \d+ tail \d+ room \d+)\s*$`)
	reLoad32    = regexp.MustCompile(`^load:0x([0-9a-f]{8}),len:(\d+|0x[0-9a-f]+)\s*$`) // newer ROMs print the length in hex
	reEntry32   = regexp.MustCompile(`^entry 0x([0-9a-f]{8})\s*$`)
	reMode32    = regexp.MustCompile(`^mode:(\w+), clock div:(\d+)\s*$`)
)

type segment struct {
	addr uint32
	len  int
}

type loader8266 struct {
	at       time.Time
	segs     []segment
	chksum   string
	csum     string
	csumErr  bool
	evidence []string
}

func (l *loader8266) size() int { return len(l.evidence) }

func (l *loader8266) feed(d *Decoder, line string) feedResult {
	if len(l.evidence) >= maxLoaderLines {
		return feedEnd
	}
	if m := reLoad8266.FindStringSubmatch(line); m != nil {
		a, _ := strconv.ParseUint(m[1], 16, 32)
		n, _ := strconv.Atoi(m[2])
		l.segs = append(l.segs, segment{uint32(a), n})
		l.evidence = append(l.evidence, line)
		return feedTake
	}
	m := reTrace8266.FindStringSubmatch(line)
	if m == nil {
		return feedEnd
	}
	l.evidence = append(l.evidence, line)
	switch {
	case m[2] != "":
		l.chksum = m[2]
	case m[3] != "":
		l.csum = m[3]
		return feedDone
	case m[1] == "csum err":
		l.csumErr = true
		return feedDone
	}
	return feedTake
}

func (l *loader8266) finish(d *Decoder, complete bool) []Event {
	ev := Event{Kind: KindROMLoader, At: l.at, Evidence: l.evidence, Fields: map[string]string{
		"segments": strconv.Itoa(len(l.segs)), "chksum": l.chksum, "csum": l.csum}}
	image := "an image"
	if len(l.segs) > 0 {
		switch l.segs[0].addr {
		case 0x4010f000:
			image = "eboot (Arduino second-stage loader)"
			ev.Fields["image"] = "eboot"
		case 0x40100000:
			image = "a NONOS SDK image"
			ev.Fields["image"] = "nonos"
		}
	}
	zeros := len(l.segs) > 0
	for _, s := range l.segs {
		if s.addr != 0 || s.len != 0 {
			zeros = false
		}
	}
	switch {
	case l.csumErr && (zeros || l.chksum == "ef"):
		ev.Severity = Error
		ev.Fields["ok"] = "0"
		ev.Summary = "the ROM read zeros/garbage at flash offset 0 (checksum error)"
		ev.Fix = "offset 0 is erased or overwritten, the flash mode is wrong (QIO on a DOUT-only module) or the flash size/offsets were wrong when flashing: reflash with --flash-mode dout and the board's real flash size"
	case l.csumErr:
		ev.Severity = Error
		ev.Fields["ok"] = "0"
		ev.Summary = fmt.Sprintf("the ROM rejected the boot image: checksum error after %d segments", len(l.segs))
		ev.Fix = "the image at offset 0 is corrupt or read wrongly: reflash it, try --flash-mode dout, check the power supply"
	case l.csum != "" && l.chksum != "" && l.csum != l.chksum:
		ev.Severity = Error
		ev.Fields["ok"] = "0"
		ev.Summary = fmt.Sprintf("the ROM loaded %s but the checksum differs (computed 0x%s, stored 0x%s)", image, l.chksum, l.csum)
		ev.Fix = "reflash the image at offset 0"
	case l.csum != "" && len(l.segs) == 0:
		ev.Summary = "end of a ROM loader trace whose start was missed (stored checksum 0x" + l.csum + ")"
	case l.csum != "":
		ev.Fields["ok"] = "1"
		ev.Summary = fmt.Sprintf("the ROM loaded %s (%d segments, checksum 0x%s ok)", image, len(l.segs), l.csum)
	default:
		ev.Summary = fmt.Sprintf("ROM loader trace cut short after %d segments", len(l.segs))
	}
	return []Event{ev}
}

type loader32 struct {
	at       time.Time
	segs     int
	mode     string
	entry    string
	evidence []string
}

func (l *loader32) size() int { return len(l.evidence) }

func isLoader32Line(line string) bool {
	// Newer ROMs (S3, C3, C6…) print "Saved PC:0x…" after the reset line
	// and "SPIWP:0xee" alone where the ESP32 prints "configsip: 0, SPIWP:".
	return strings.HasPrefix(line, "configsip: ") || strings.HasPrefix(line, "clk_drv:") ||
		strings.HasPrefix(line, "SPIWP:0x") || strings.HasPrefix(line, "Saved PC:0x") ||
		reMode32.MatchString(line) || reLoad32.MatchString(line) || reEntry32.MatchString(line)
}

func (l *loader32) feed(d *Decoder, line string) feedResult {
	if len(l.evidence) >= maxLoaderLines || !isLoader32Line(line) {
		return feedEnd
	}
	l.evidence = append(l.evidence, line)
	if m := reMode32.FindStringSubmatch(line); m != nil {
		l.mode = m[1]
	}
	if reLoad32.MatchString(line) {
		l.segs++
	}
	if m := reEntry32.FindStringSubmatch(line); m != nil {
		l.entry = "0x" + m[1]
		return feedDone
	}
	return feedTake
}

func (l *loader32) finish(d *Decoder, complete bool) []Event {
	ev := Event{Kind: KindROMLoader, At: l.at, Evidence: l.evidence, Fields: map[string]string{
		"segments": strconv.Itoa(l.segs), "flash_mode": l.mode, "entry": l.entry}}
	if l.entry != "" {
		ev.Summary = fmt.Sprintf("the ROM loaded the second-stage bootloader (%d segments, flash mode %s, entry %s)", l.segs, nameOr(l.mode, "?"), l.entry)
	} else {
		ev.Summary = fmt.Sprintf("ROM loader trace cut short after %d segments", l.segs)
	}
	return []Event{ev}
}

// startBlock opens a multi-line block when line starts one.
func (d *Decoder) startBlock(line string, at time.Time) block {
	if reLoad8266.MatchString(line) || reTrace8266.MatchString(line) {
		return &loader8266{at: at}
	}
	if isLoader32Line(line) {
		return &loader32{at: at}
	}
	if b := startCrash8266(line, at); b != nil {
		return b
	}
	if b := startPanic32(line, at); b != nil {
		return b
	}
	return nil
}

// --- single lines ---

var (
	reROMHalt  = regexp.MustCompile(`^(ets_main\.c.*|flash read err.*|waiting for host|unknown reset|user code done|invalid header.*|csum err:.*)$`)
	reEbootVer = regexp.MustCompile(`^v([0-9a-f]{8})$`)
	reEboot    = regexp.MustCompile(`^([~@]?)(cp:B?(-?\d+)|ld|e:(\d+))$`)
	reSDK      = regexp.MustCompile(`^(rf cal sector: \d+|freq trace enable \d+|rf\[\d+\] ?: ?\d+|SDK ver: .*|mode : .*|add if\d+|f r0, .*)$`)
)

// single decodes a line on its own. known reports that the line is a
// ROM/boot line even when it produced no event.
func (d *Decoder) single(line string, at time.Time) ([]Event, bool) {
	t := strings.TrimRight(line, " \t")
	ev := func(kind string, sev Severity, summary, fix string, fields map[string]string) []Event {
		if fields == nil {
			fields = map[string]string{}
		}
		return []Event{{Kind: kind, Severity: sev, At: at, Summary: summary, Fix: fix, Evidence: []string{clip(line)}, Fields: fields}}
	}
	switch {
	case t == "wdt reset":
		f := map[string]string{"wdt": "hw"}
		if len(d.prevLines) > 0 {
			f["last_lines"] = strings.Join(d.prevLines, "\n")
		}
		sum := "hardware watchdog reset: the previous run hung with interrupts blocked (no crash report is printed for it)"
		if len(d.prevLines) > 0 {
			sum += "; last output: " + d.prevLines[len(d.prevLines)-1]
		}
		return ev(KindCrashWDT, Error, sum,
			"find what ran after the last printed line: long loops with interrupts disabled, ESP.wdtDisable()/a stopped soft WDT for more than ~6 s, or blocking code in an ISR; call yield()/delay() in long loops", f), true
	case t == "waiting for download":
		return ev(KindROMDownload, Warning, "the ROM is in download mode, waiting for a flasher",
			"if you did not mean to flash: release GPIO0 (the BOOT button) and press EN/RESET", nil), true
	case reROMHalt.MatchString(t):
		key := strings.Fields(t)[0]
		if d.romErrs[key] || len(d.romErrs) > 16 {
			return nil, true // repeated (invalid header loops on a blank flash)
		}
		d.romErrs[key] = true
		return d.romError(t, ev), true
	}
	if m := reEbootVer.FindStringSubmatch(t); m != nil {
		return ev(KindBootEboot, Info, "eboot loader, application build marker v"+m[1], "", map[string]string{"version": m[1]}), true
	}
	if m := reEboot.FindStringSubmatch(t); m != nil {
		f := map[string]string{"ota": strconv.FormatBool(m[1] == "@")}
		switch {
		case m[2] == "ld":
			f["action"] = "ld"
			d.appRan = true // the application is being started
			if m[1] == "@" {
				return ev(KindBootEboot, Info, "eboot: command pending from the Updater, loading the application", "", f), true
			}
			return ev(KindBootEboot, Info, "eboot: loading the application", "", f), true
		case m[3] != "":
			f["action"], f["result"] = "cp", m[3]
			if m[3] == "0" {
				return ev(KindBootEboot, Notice, "eboot copied the new OTA image into place", "", f), true
			}
			return ev(KindBootEboot, Error, "eboot failed to copy the OTA image into place (result "+m[3]+")",
				"the staged update could not be copied: upload it again; check the flash size setting", f), true
		default:
			f["action"], f["result"] = "e", m[4]
			return ev(KindBootEboot, Error, "eboot could not load the application (error "+m[4]+"): the board will reset in a loop",
				"the application image is invalid (bad magic or segments): reflash the sketch at 0x0 with the right flash size", f), true
		}
	}
	if reSDK.MatchString(t) {
		return ev(KindBootSDK, Info, "SDK start-up: "+t, "", nil), true
	}
	if evs, ok := d.idfBootLine(line, at); ok {
		return evs, true
	}
	evs, known := d.appLine(line, t, at, ev)
	if len(evs) == 0 && !known {
		evs = idfAppError(line, at)
	}
	return evs, known
}

func (d *Decoder) romError(t string, ev func(string, Severity, string, string, map[string]string) []Event) []Event {
	f := map[string]string{"error": t}
	switch {
	case strings.HasPrefix(t, "ets_main.c"):
		return ev(KindROMError, Error, "the ROM halted ("+t+"): no bootable image",
			"reflash the bootloader/application at 0x0 (check --flash-mode and --flash-size); a blank or erased chip shows this too", f)
	case strings.HasPrefix(t, "flash read err"):
		return ev(KindROMError, Error, "the ROM could not read the flash ("+t+")",
			"check the flash mode (try dout/dio) and the module's flash wiring and power; reflash the bootloader", f)
	case t == "waiting for host":
		return ev(KindROMError, Error, "SDIO boot mode: the ROM waits for an SDIO host",
			"GPIO15 must be low at reset (10 kΩ to GND)", f)
	case t == "unknown reset":
		return ev(KindROMError, Error, "the ROM saw an unknown reset cause and halted", "power-cycle the board", f)
	case t == "user code done":
		return ev(KindROMError, Warning, "the ROM reports user code done", "", f)
	case strings.HasPrefix(t, "invalid header"):
		return ev(KindROMError, Error, "no valid second-stage bootloader ("+t+")",
			"flash a bootloader, partition table and application, e.g. iotbench provision --app merged.bin (a merge-bin image; the bootloader goes at 0x1000 on the ESP32 and S2, 0x0 on newer chips)", f)
	case strings.HasPrefix(t, "csum err"):
		return ev(KindROMError, Error, "corrupt bootloader segment ("+t+")",
			"reflash the bootloader; check flash mode and power", f)
	}
	return nil
}

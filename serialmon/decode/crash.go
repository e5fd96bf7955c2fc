package decode

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// --- ESP8266 core crash report (§2.1–§2.6) ---

var (
	reCut       = regexp.MustCompile(`-{15} CUT HERE FOR EXCEPTION DECODER -{15}`)
	reException = regexp.MustCompile(`^Exception \((\d+)\):$`)
	reSDKFatal  = regexp.MustCompile(`^Fatal exception (\d+)\((\w*)\):$`)
	reRegs      = regexp.MustCompile(`^epc1=0x([0-9a-f]{8}),? epc2=0x([0-9a-f]{8}),? epc3=0x([0-9a-f]{8}),? excvaddr=0x([0-9a-f]{8}),? depc=0x([0-9a-f]{8})$`)
	reSoftWDT   = regexp.MustCompile(`^Soft WDT reset( - deliberate infinite loop detected)?$`)
	rePanic     = regexp.MustCompile(`^Panic (.*)$`)
	reAssert    = regexp.MustCompile(`^(\S+):(\d+) (.*?): Assertion '(.*)' failed\.$`)
	rePanicLoc  = regexp.MustCompile(`^(\S+):(\d+) (\S+)$`)
	reCxx       = regexp.MustCompile(`^Unhandled C\+\+ exception: (.*)$`)
	reSmash     = regexp.MustCompile(`^Stack smashing detected at 0x([0-9a-f]{8})$`)
	reCtx       = regexp.MustCompile(`^ctx: (cont|sys|bearssl|ROM)$`)
	reSP        = regexp.MustCompile(`^sp: ([0-9a-f]{8}) end: ([0-9a-f]{8}) offset: ([0-9a-f]{4})$`)
	reStackRow  = regexp.MustCompile(`^([0-9a-f]{8}):\s+([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})\s*<?\s*$`)
	reAlloc     = regexp.MustCompile(`^last failed alloc call: ([0-9A-F]{8})\((\d+)\)(@.*)?$`)
	reAllocCall = regexp.MustCompile(`^last failed alloc caller: 0x([0-9a-f]{8})$`)
	reHWDTDiag  = regexp.MustCompile(`^([A-Za-z_ ]+?) ?= ?(\S+)$`)
	reResetInfo = regexp.MustCompile(`Fatal exception:(\d+) flag:(\d+) \(([^)]*)\) epc1:0x([0-9a-f]{8}) epc2:0x([0-9a-f]{8}) epc3:0x([0-9a-f]{8}) excvaddr:0x([0-9a-f]{8}) depc:0x([0-9a-f]{8})`)
)

const romDivideHelper = 0x4000dce5 // the ROM divide helper's illegal instruction (§2.2)

type crash8266 struct {
	at       time.Time
	cut      bool   // opened by the cut line
	header   string // exception, sdk_exception, soft_wdt, hw_wdt, panic, abort, cxx, smash, overflow, generic
	user     bool   // "User exception (panic/abort/assert)"
	isr      bool   // "ISR not in IRAM!"
	text     string
	cause    int
	hasCause bool
	regs     [5]uint32
	hasRegs  bool
	addr     uint32 // stack smashing address
	ctxs     []string
	sp       []string // sp, end, offset of the first context
	inStack  bool
	ended    bool // saw <<<stack<<<
	words    []uint32
	rows     int
	alloc    []string
	diag     map[string]string
	evidence []string
	unknown  int
}

func startCrash8266(line string, at time.Time) *crash8266 {
	t := strings.TrimRight(line, " \t")
	if reCut.MatchString(t) || t == ">>>stack>>>" || t == "ISR not in IRAM!" ||
		strings.Contains(t, "User exception (panic/abort/assert)") || t == "Hardware WDT reset" {
		return &crash8266{at: at}
	}
	if h, _ := crashHeader(t); h != "" {
		return &crash8266{at: at}
	}
	return nil
}

// crashHeader recognises the header lines of §2.2.
func crashHeader(t string) (string, []string) {
	switch {
	case t == "Abort called":
		return "abort", nil
	case t == "Stack overflow detected":
		return "overflow", nil
	case t == "Generic Reset":
		return "generic", nil
	case t == "Hardware WDT reset":
		return "hw_wdt", nil
	}
	for _, h := range []struct {
		name string
		re   *regexp.Regexp
	}{{"exception", reException}, {"sdk_exception", reSDKFatal}, {"soft_wdt", reSoftWDT}, {"cxx", reCxx}, {"smash", reSmash}, {"panic", rePanic}} {
		if m := h.re.FindStringSubmatch(t); m != nil {
			return h.name, m
		}
	}
	return "", nil
}

func (c *crash8266) size() int { return len(c.evidence) }

func (c *crash8266) take(line string) feedResult {
	c.evidence = append(c.evidence, clip(line))
	c.unknown = 0
	return feedTake
}

func (c *crash8266) feed(d *Decoder, line string) feedResult {
	t := strings.TrimRight(line, " \t")
	switch {
	case reCut.MatchString(t):
		if !c.cut && c.header == "" && c.rows == 0 && !c.inStack {
			c.cut = true
			return c.take(line)
		}
		c.evidence = append(c.evidence, clip(line))
		return feedDone
	case t == "":
		return feedTake
	case strings.HasPrefix(t, "To make this dump useful"):
		return c.take(line)
	case strings.Contains(t, "User exception (panic/abort/assert)"):
		c.user = true
		return c.take(line)
	case t == "ISR not in IRAM!":
		c.isr = true
		return c.take(line)
	}
	if h, m := crashHeader(t); h != "" {
		softThenException := c.header == "soft_wdt" && h == "exception"
		if c.ended || (c.header != "" && !softThenException) {
			return feedEnd // a new report
		}
		if !softThenException {
			c.header = h
		}
		switch h {
		case "exception", "sdk_exception":
			c.cause, _ = strconv.Atoi(m[1])
			c.hasCause = true
		case "soft_wdt":
			c.text = strings.TrimPrefix(m[1], " - ")
		case "cxx":
			c.text = m[1]
		case "panic":
			c.text = m[1]
		case "smash":
			a, _ := strconv.ParseUint(m[1], 16, 32)
			c.addr = uint32(a)
		}
		return c.take(line)
	}
	if m := reRegs.FindStringSubmatch(t); m != nil {
		for i := range c.regs {
			v, _ := strconv.ParseUint(m[i+1], 16, 32)
			c.regs[i] = uint32(v)
		}
		c.hasRegs = true
		c.take(line)
		if c.header == "sdk_exception" {
			return feedDone // the SDK's own handler prints no stack
		}
		return feedTake
	}
	switch {
	case t == ">>>stack>>>":
		c.inStack = true
		return c.take(line)
	case t == "<<<stack<<<":
		c.inStack, c.ended = false, true
		c.take(line)
		if !c.cut {
			return feedDone
		}
		return feedTake
	}
	if m := reCtx.FindStringSubmatch(t); m != nil {
		c.ctxs = append(c.ctxs, m[1])
		return c.take(line)
	}
	if m := reSP.FindStringSubmatch(t); m != nil {
		if c.sp == nil {
			c.sp = m[1:4]
		}
		return c.take(line)
	}
	if m := reStackRow.FindStringSubmatch(t); m != nil {
		c.rows++
		for _, w := range m[2:6] {
			v, _ := strconv.ParseUint(w, 16, 32)
			if len(c.words) < maxCandidates && d.isCodeAddr(uint32(v)) {
				c.words = append(c.words, uint32(v))
			}
		}
		return c.take(line)
	}
	if m := reAlloc.FindStringSubmatch(t); m != nil {
		c.alloc = m[1:]
		return c.take(line)
	}
	if c.header == "hw_wdt" {
		if m := reHWDTDiag.FindStringSubmatch(t); m != nil && len(c.diag) < 16 {
			if c.diag == nil {
				c.diag = map[string]string{}
			}
			c.diag[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", "_"))] = m[2]
			return c.take(line)
		}
	}
	c.unknown++
	if c.unknown > maxUnknownRun {
		return feedEnd
	}
	return feedPass
}

// isCodeAddr tells whether a stack word counts as a code address (§2.8):
// in an executable section of the ELF or the chip's mask ROM; without an
// ELF, in the chip's code ranges.
func (d *Decoder) isCodeAddr(a uint32) bool {
	if d.inROM(a) {
		return true
	}
	if s := d.opts.Symbols; s != nil {
		return s.IsCode(a)
	}
	if d.is8266() {
		return a >= 0x40000000 && a < 0x40300000
	}
	switch d.chip {
	case "ESP32":
		return a >= 0x40000000 && a < 0x40c00000
	}
	return (a >= 0x40000000 && a < 0x40c00000) || (a >= 0x42000000 && a < 0x44000000)
}

func (d *Decoder) inROM(a uint32) bool {
	if d.is8266() {
		return a >= 0x40000000 && a < 0x40010000
	}
	if d.chip == "ESP32" {
		return a >= 0x40000000 && a < 0x40060000
	}
	return false
}

// frames resolves one address: pc (resolve as is) or a stack word (a return
// address). Unresolvable addresses keep a bare frame when keep is set.
func (d *Decoder) frames(a uint32, ret, keep bool) []Frame {
	if d.inROM(a) && (d.opts.Symbols == nil || !d.opts.Symbols.IsCode(a)) {
		return []Frame{{Addr: a, File: ROMFile}}
	}
	if s := d.opts.Symbols; s != nil {
		var f []Frame
		if ret {
			f = s.ResolveReturn(a)
		} else {
			f = s.Resolve(a)
		}
		if len(f) > 0 || !keep {
			return f
		}
	}
	return []Frame{{Addr: a}}
}

// where names the innermost frame in words: "crash_here (crash.c:25)".
func where(frames []Frame) string {
	if len(frames) == 0 || frames[0].Function == "" && frames[0].File == "" {
		return ""
	}
	f := frames[0]
	if f.File == ROMFile {
		return fmt.Sprintf("the mask ROM (0x%08x)", f.Addr)
	}
	s := f.Function
	if s == "" {
		s = fmt.Sprintf("0x%08x", f.Addr)
	}
	if f.File != "" {
		s += fmt.Sprintf(" (%s:%d)", path.Base(f.File), f.Line)
	}
	if f.Inlined {
		last := frames[len(frames)-1]
		s += " inlined into " + last.Function
		if last.File != "" {
			s += fmt.Sprintf(" (%s:%d)", path.Base(last.File), last.Line)
		}
	}
	return s
}

func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }

func (c *crash8266) finish(d *Decoder, complete bool) []Event {
	ev := Event{At: c.at, Evidence: c.evidence, Fields: map[string]string{}, Severity: Error}
	if !complete {
		ev.Fields["incomplete"] = "1"
	}
	if len(c.evidence) >= maxBlockLines {
		ev.Fields["truncated"] = "1"
	}
	epc1, excvaddr := c.regs[0], c.regs[3]
	if c.hasRegs {
		for i, n := range []string{"epc1", "epc2", "epc3", "excvaddr", "depc"} {
			ev.Fields[n] = hex32(c.regs[i])
		}
	}
	if len(c.ctxs) > 0 {
		ev.Fields["ctx"] = c.ctxs[0]
		ev.Fields["contexts"] = strings.Join(c.ctxs, ",")
	}
	if c.sp != nil {
		ev.Fields["sp"], ev.Fields["end"], ev.Fields["offset"] = c.sp[0], c.sp[1], c.sp[2]
	}
	if c.alloc != nil {
		ev.Fields["alloc_addr"] = "0x" + strings.ToLower(c.alloc[0])
		ev.Fields["alloc_size"] = c.alloc[1]
		if c.alloc[2] != "" {
			ev.Fields["alloc_where"] = strings.TrimPrefix(c.alloc[2], "@")
		}
	}
	for k, v := range c.diag {
		ev.Fields["hwdt_"+k] = v
	}
	if c.hasCause {
		name, _, _ := ExcCause(c.cause)
		ev.Fields["cause"], ev.Fields["cause_name"] = strconv.Itoa(c.cause), name
	}
	// Program counter first, then the stack candidates.
	var pc []Frame
	switch {
	case c.header == "smash":
		ev.Fields["addr"] = hex32(c.addr)
		pc = d.frames(c.addr, true, true)
	case c.hasRegs && epc1 != 0 && (d.isCodeAddr(epc1) || epc1 == romDivideHelper):
		pc = d.frames(epc1, false, true)
	}
	ev.Frames = append(ev.Frames, pc...)
	ev.Fields["pc_frames"] = strconv.Itoa(len(pc))
	for _, w := range c.words {
		ev.Frames = append(ev.Frames, d.frames(w, true, d.opts.Symbols == nil)...)
	}
	at := where(pc)
	if at == "" {
		at = where(ev.Frames)
	}
	atSuffix := ""
	if at != "" {
		atSuffix = " at " + at
	}
	ctxNote, ctxFix := ctxWords(ev.Fields["ctx"])

	switch c.header {
	case "exception", "sdk_exception", "":
		ev.Kind = KindCrashException
		if !c.hasCause {
			ev.Summary = "crash report without its header (cut off)" + atSuffix
			ev.Fix = "decode the frames shown with the firmware's ELF"
			break
		}
		name, what, _ := ExcCause(c.cause)
		note, fix := exceptionHeuristics(d, c.cause, epc1, excvaddr, c.hasRegs)
		ev.Summary = fmt.Sprintf("Exception %d (%s): %s%s%s%s", c.cause, name, what, note, atSuffix, ctxNote)
		if c.cause == 0 && epc1 == romDivideHelper {
			ev.Summary = fmt.Sprintf("Exception 0 in the ROM divide helper (0x%08x): integer division by zero%s", epc1, ctxNote)
		}
		ev.Fix = joinFix(fix, ctxFix)
	case "soft_wdt":
		ev.Kind = KindCrashWDT
		ev.Fields["wdt"] = "soft"
		ev.Summary = "Soft WDT reset: the sketch ran about 3 s without yielding"
		if c.text != "" {
			ev.Summary += " (" + c.text + ")"
		}
		if at != "" {
			ev.Summary += "; stuck" + atSuffix
		}
		if c.hasCause {
			ev.Summary += fmt.Sprintf(" — the Exception (%d) in the report is the timer interrupt that caught it, not a real exception", c.cause)
		}
		ev.Summary += ctxNote
		ev.Fix = "find the long loop or blocking wait at the frames shown and call yield() or delay(0) inside it, or make it non-blocking"
	case "hw_wdt":
		ev.Kind = KindCrashWDT
		ev.Fields["wdt"] = "hw"
		ev.Summary = "hardware watchdog reset (HWDT stack dump)" + atSuffix + ctxNote
		ev.Fix = "interrupts were blocked too long or the soft WDT was stopped: look at the frames shown; call yield()/delay() in long loops and keep ISRs short"
	default:
		ev.Kind = KindCrashPanic
		ev.Fields["reason"] = c.header
		ev.Summary, ev.Fix = panicWords(c, atSuffix)
		if c.text != "" {
			ev.Fields["text"] = c.text
		}
		ev.Summary += ctxNote
		ev.Fix = joinFix(ev.Fix, ctxFix)
	}
	if c.user {
		ev.Fields["user"] = "1"
	}
	if c.alloc != nil {
		ev.Summary += "; last failed allocation: " + c.alloc[1] + " bytes"
		ev.Fix = joinFix(ev.Fix, "an allocation failed before the crash: the heap was exhausted or fragmented")
	}
	if ev.Fields["incomplete"] == "1" {
		ev.Summary += " (report cut short)"
	}
	if d.opts.Symbols == nil && len(ev.Frames) > 0 {
		ev.Fix = joinFix(ev.Fix, "give the firmware's .elf to decode the addresses")
	}
	return []Event{ev}
}

func ctxWords(ctx string) (note, fix string) {
	switch ctx {
	case "sys":
		return " (in SDK/interrupt context: a Wi-Fi callback or an ISR)", "code in SDK callbacks and ISRs must be short and must not block or allocate much"
	case "bearssl":
		return " (inside TLS processing, on the BearSSL stack)", ""
	}
	return "", ""
}

func panicWords(c *crash8266, at string) (summary, fix string) {
	switch c.header {
	case "panic":
		if m := reAssert.FindStringSubmatch(c.text); m != nil {
			return fmt.Sprintf("assertion failed: %s in %s (%s:%s)", m[4], m[3], path.Base(m[1]), m[2]), "the condition asserted at that line was false: fix the caller or the state it checks"
		}
		if m := rePanicLoc.FindStringSubmatch(c.text); m != nil {
			return fmt.Sprintf("panic in %s (%s:%s)", m[3], path.Base(m[1]), m[2]), "see the code at that line for why it panics"
		}
		return "panic: " + c.text + at, ""
	case "abort":
		if c.isr {
			return "abort: an interrupt handler is not in IRAM (attachInterrupt)" + at, "mark the interrupt handler IRAM_ATTR: void IRAM_ATTR handler() { … }"
		}
		return "abort() called" + at, "see the frames for the caller of abort()"
	case "cxx":
		fix := "catch the exception or avoid the failing call"
		if strings.Contains(c.text, "bad_alloc") {
			fix = "out of memory: free heap before that point or allocate less"
		}
		return "unhandled C++ exception: " + c.text + at, fix
	case "smash":
		return fmt.Sprintf("stack smashing detected: a local buffer overflowed in the function that called 0x%08x%s", c.addr, at),
			"look for writes past the end of a local array in that function (strcpy/sprintf without a size, a wrong loop bound)"
	case "overflow":
		return "stack overflow: the loop() stack (4 KiB) overran" + at, "move large local arrays/objects to static storage or the heap, avoid deep recursion"
	case "generic":
		return "restart without a recognised reason (Generic Reset)" + at, ""
	}
	return "crash" + at, ""
}

// exceptionHeuristics adds the §2.3 diagnosis to an exception.
func exceptionHeuristics(d *Decoder, cause int, epc1, excvaddr uint32, hasRegs bool) (note, fix string) {
	switch {
	case cause == 6 || (cause == 0 && epc1 == romDivideHelper):
		return "", "an integer was divided by zero: guard the divisor"
	case !hasRegs:
	case (cause == 28 || cause == 29) && excvaddr < 0x1000:
		return fmt.Sprintf(" — a NULL pointer (member offset 0x%x)", excvaddr),
			"a NULL pointer was dereferenced at the frames shown: check the pointer (failed allocation, missing object, uninitialised member) before use"
	case cause == 28 || cause == 29:
		return fmt.Sprintf(" (address 0x%08x)", excvaddr),
			"an invalid or dangling pointer was used: check object lifetimes (BearSSL X509List/PrivateKey must outlive the client) and buffer bounds"
	case cause == 3 && ((excvaddr >= 0x40200000 && excvaddr < 0x40300000) || (excvaddr >= 0x40100000 && excvaddr < 0x40200000)):
		return fmt.Sprintf(" — a byte/halfword read from flash or IRAM (0x%08x)", excvaddr),
			"data in PROGMEM/IRAM was read like RAM: use pgm_read_byte()/memcpy_P()/strcpy_P() (or the F()/PSTR() helpers)"
	case cause == 9:
		return fmt.Sprintf(" (address 0x%08x)", excvaddr), "unaligned word access: copy with memcpy() instead of casting a byte pointer to uint32_t*/float*"
	case (cause == 0 || cause == 20) && (epc1 == excvaddr || !d.isCodeAddr(epc1)):
		return " — a jump to a bad address", "a corrupted function pointer, vtable or stack: look for stack buffer overflows, use after free of objects with virtual methods, or a NULL callback"
	case cause == 0:
		return "", "an illegal instruction: a jump into data, or flash code running while the flash cache was off (an ISR or callback without IRAM_ATTR)"
	case cause == 2 || cause == 20:
		return "", "the program jumped to a bad address: a corrupted function pointer or stack"
	}
	return "", ""
}

// resetInfo decodes ESP.getResetInfo()'s "Fatal exception:N flag:N (...)" line.
func (d *Decoder) resetInfo(line string, m []string, at time.Time) Event {
	cause, _ := strconv.Atoi(m[1])
	flag, _ := strconv.Atoi(m[2])
	var regs [5]uint32
	for i := range regs {
		v, _ := strconv.ParseUint(m[4+i], 16, 32)
		regs[i] = uint32(v)
	}
	ev := Event{Kind: KindResetInfo, At: at, Evidence: []string{clip(line)}, Fields: map[string]string{
		"cause": m[1], "flag": m[2], "flag_name": m[3]}}
	for i, n := range []string{"epc1", "epc2", "epc3", "excvaddr", "depc"} {
		ev.Fields[n] = hex32(regs[i])
	}
	if regs[0] != 0 && d.isCodeAddr(regs[0]) {
		ev.Frames = d.frames(regs[0], false, true)
	}
	ev.Fields["pc_frames"] = strconv.Itoa(len(ev.Frames))
	at2 := where(ev.Frames)
	if at2 != "" {
		at2 = " at " + at2
	}
	name, what, _ := ExcCause(cause)
	switch flag {
	case 1:
		ev.Severity = Warning
		ev.Summary = "the previous run ended with a hardware watchdog reset"
		ev.Fix = "see the last lines printed before the reset; avoid blocking with interrupts off"
	case 2:
		ev.Severity = Warning
		note, fix := exceptionHeuristics(d, cause, regs[0], regs[3], true)
		ev.Summary = fmt.Sprintf("the previous run crashed: Exception %d (%s): %s%s%s", cause, name, what, note, at2)
		ev.Fix = fix
	case 3:
		ev.Severity = Warning
		ev.Summary = "the previous run ended with a Soft WDT reset" + at2 + " (the exception number is the timer interrupt, not a real exception)"
		ev.Fix = "call yield() or delay(0) in long loops"
	default:
		_, text := SDKResetReason(flag)
		ev.Summary = "reset reason: " + text
	}
	return ev
}

// --- ESP32 panics (§2.7) ---

var (
	reGuru      = regexp.MustCompile(`^Guru Meditation Error: Core\s+(\d+) panic'ed \(([^)]*)\)`)
	reAbort32   = regexp.MustCompile(`^abort\(\) was called at PC 0x([0-9a-f]{8}) on core (\d+)`)
	reOverflow  = regexp.MustCompile(`^\*\*\*ERROR\*\*\* A stack overflow in task (.*) has been detected\.`)
	reBacktrace = regexp.MustCompile(`^Backtrace:((?:\s*0x[0-9a-fA-F]{8}:0x[0-9a-fA-F]{8})*)\s*(\|<-CORRUPTED)?`)
	reBTCont    = regexp.MustCompile(`^((?:\s*0x[0-9a-fA-F]{8}:0x[0-9a-fA-F]{8})+)\s*(\|<-CORRUPTED)?\s*$`)
	reBTPair    = regexp.MustCompile(`0x([0-9a-fA-F]{8}):0x([0-9a-fA-F]{8})`)
	reRegLine   = regexp.MustCompile(`^(?:\s*[A-Z][A-Z0-9]*\s*:\s*0x[0-9a-fA-F]{8})+\s*$`)
	reRegPair   = regexp.MustCompile(`([A-Z][A-Z0-9]*)\s*:\s*0x([0-9a-fA-F]{8})`)
	reRegDump   = regexp.MustCompile(`^(Core\s*\d+ register dump:|Register dump:)$`)
	reSHA       = regexp.MustCompile(`^ELF file SHA256:\s*([0-9a-fA-F]+)`)
	reDebugWhy  = regexp.MustCompile(`^Debug exception reason: (.*)$`)
	reHexDump   = regexp.MustCompile(`^[0-9a-f]{8}:(?:\s+0x[0-9a-f]{8})+\s*$`)
	reTaskWDT   = regexp.MustCompile(`task_wdt: Task watchdog got triggered`)
	reBrownout  = regexp.MustCompile(`^Brownout detector was triggered`)
)

type panic32 struct {
	at        time.Time
	kind      string // guru, abort, overflow, backtrace
	core      string
	reason    string
	task      string
	pc        uint32
	regs      map[string]uint32
	debugWhy  string
	bt        []uint32
	btSP      []uint32
	corrupted bool
	inBT      bool
	sha       string
	evidence  []string
	unknown   int
}

func startPanic32(line string, at time.Time) *panic32 {
	t := strings.TrimRight(line, " \t")
	if reGuru.MatchString(t) || reAbort32.MatchString(t) || reOverflow.MatchString(t) || reBacktrace.MatchString(t) {
		return &panic32{at: at, regs: map[string]uint32{}}
	}
	return nil
}

func (p *panic32) size() int { return len(p.evidence) }

func (p *panic32) take(line string) feedResult {
	p.evidence = append(p.evidence, clip(line))
	p.unknown = 0
	return feedTake
}

func (p *panic32) feed(d *Decoder, line string) feedResult {
	t := strings.TrimRight(line, " \t")
	wasBT := p.inBT
	p.inBT = false
	if m := reGuru.FindStringSubmatch(t); m != nil {
		if p.kind != "" {
			return feedEnd
		}
		p.kind, p.core, p.reason = "guru", m[1], m[2]
		return p.take(line)
	}
	if m := reAbort32.FindStringSubmatch(t); m != nil {
		if p.kind != "" {
			return feedEnd
		}
		a, _ := strconv.ParseUint(m[1], 16, 32)
		p.kind, p.pc, p.core = "abort", uint32(a), m[2]
		return p.take(line)
	}
	if m := reOverflow.FindStringSubmatch(t); m != nil {
		if p.kind != "" {
			return feedEnd
		}
		p.kind, p.task = "overflow", m[1]
		return p.take(line)
	}
	if m := reBacktrace.FindStringSubmatch(t); m != nil {
		if len(p.bt) > 0 {
			return feedEnd
		}
		if p.kind == "" {
			p.kind = "backtrace"
		}
		p.addPairs(m[1])
		p.corrupted = m[2] != ""
		p.inBT = !p.corrupted
		return p.take(line)
	}
	if wasBT {
		if m := reBTCont.FindStringSubmatch(t); m != nil {
			p.addPairs(m[1])
			p.corrupted = m[2] != ""
			p.inBT = !p.corrupted
			return p.take(line)
		}
	}
	switch {
	case t == "":
		p.inBT = wasBT
		return feedTake
	case strings.TrimSpace(t) == ". Exception was unhandled." || strings.TrimSpace(t) == "Exception was unhandled.":
		return p.take(line)
	case reRegDump.MatchString(t) || t == "Stack memory:":
		return p.take(line)
	case t == "Rebooting..." || t == "CPU halted.":
		p.evidence = append(p.evidence, clip(line))
		return feedDone
	}
	if m := reSHA.FindStringSubmatch(t); m != nil {
		p.sha = strings.ToLower(m[1])
		p.evidence = append(p.evidence, clip(line))
		return feedDone
	}
	if m := reDebugWhy.FindStringSubmatch(t); m != nil {
		p.debugWhy = m[1]
		return p.take(line)
	}
	if reRegLine.MatchString(t) {
		for _, m := range reRegPair.FindAllStringSubmatch(t, -1) {
			v, _ := strconv.ParseUint(m[2], 16, 32)
			if len(p.regs) < 96 {
				p.regs[m[1]] = uint32(v)
			}
		}
		return p.take(line)
	}
	if reHexDump.MatchString(t) {
		return p.take(line)
	}
	p.unknown++
	if p.unknown > maxUnknownRun {
		return feedEnd
	}
	return feedPass
}

func (p *panic32) addPairs(s string) {
	for _, m := range reBTPair.FindAllStringSubmatch(s, -1) {
		if len(p.bt) >= maxCandidates {
			return
		}
		pc, _ := strconv.ParseUint(m[1], 16, 32)
		sp, _ := strconv.ParseUint(m[2], 16, 32)
		p.bt = append(p.bt, uint32(pc))
		p.btSP = append(p.btSP, uint32(sp))
	}
}

func (p *panic32) finish(d *Decoder, complete bool) []Event {
	ev := Event{At: p.at, Severity: Error, Evidence: p.evidence, Fields: map[string]string{}}
	if !complete {
		ev.Fields["incomplete"] = "1"
	}
	if len(p.evidence) >= maxBlockLines {
		ev.Fields["truncated"] = "1"
	}
	if p.core != "" {
		ev.Fields["core"] = p.core
	}
	pc, hasPC := p.regs["PC"]
	if !hasPC {
		pc, hasPC = p.regs["MEPC"] // RISC-V chips
	}
	if p.kind == "abort" {
		pc, hasPC = p.pc, true
	}
	if hasPC {
		ev.Fields["pc"] = hex32(pc)
	}
	if v, ok := p.regs["EXCVADDR"]; ok {
		ev.Fields["excvaddr"] = hex32(v)
	}
	if v, ok := p.regs["MTVAL"]; ok {
		ev.Fields["mtval"] = hex32(v)
	}
	cause, hasCause := 0, false
	if v, ok := p.regs["EXCCAUSE"]; ok {
		cause, hasCause = int(v), true
	} else if n, ok := excCauseByName(p.reason); ok {
		cause, hasCause = n, true
	}
	if hasCause {
		name, _, _ := ExcCause(cause)
		ev.Fields["cause"], ev.Fields["cause_name"] = strconv.Itoa(cause), name
	}
	// Frames: the backtrace (PCs already point at the calls), else the PC
	// (and RA on RISC-V).
	for _, a := range p.bt {
		ev.Frames = append(ev.Frames, d.frames(a, false, true)...)
	}
	if len(p.bt) == 0 && hasPC {
		ev.Frames = append(ev.Frames, d.frames(pc, false, true)...)
		if ra, ok := p.regs["RA"]; ok && ra != 0 {
			ev.Frames = append(ev.Frames, d.frames(ra, false, true)...)
		}
	}
	ev.Fields["pc_frames"] = strconv.Itoa(len(ev.Frames))
	if p.corrupted {
		ev.Fields["corrupted"] = "1"
	}
	at := where(ev.Frames)
	if at != "" {
		at = " at " + at
	}
	switch p.kind {
	case "guru":
		ev.Kind = KindCrashGuru
		ev.Fields["reason"] = p.reason
		ev.Summary = fmt.Sprintf("Guru Meditation on core %s: %s", p.core, p.reason)
		if hasCause && strings.Contains(strings.ToLower(p.reason), strings.ToLower(strings.TrimSuffix(ev.Fields["cause_name"], "Cause"))) {
			_, what, _ := ExcCause(cause)
			ev.Summary += " — " + what
		}
		excv, hasV := p.regs["EXCVADDR"]
		switch {
		case strings.Contains(p.reason, "Interrupt wdt timeout"):
			ev.Kind = KindCrashWDT
			ev.Fields["wdt"] = "interrupt"
			ev.Fix = "an interrupt handler or critical section ran too long: keep ISRs short and never block with interrupts disabled"
		case p.debugWhy != "":
			ev.Fields["debug_reason"] = p.debugWhy
			ev.Summary += " — " + p.debugWhy
			if strings.Contains(p.debugWhy, "Stack canary") {
				ev.Fix = "a task overflowed its stack: give the task a larger stack or move big locals to the heap"
			}
		case strings.Contains(p.reason, "Cache disabled"):
			ev.Fix = "code or data in flash was used while the flash cache was off (during a flash write): put the ISR and what it touches in IRAM/DRAM (IRAM_ATTR, DRAM_ATTR)"
		case hasCause && (cause == 28 || cause == 29) && hasV && excv < 0x1000:
			ev.Summary += fmt.Sprintf(" — a NULL pointer (member offset 0x%x)", excv)
			ev.Fix = "a NULL pointer was dereferenced at the frames shown: check the pointer before use"
		case hasCause:
			_, ev.Fix = exceptionHeuristics(d, cause, pc, excv, hasV)
		}
		ev.Summary += at
	case "abort":
		ev.Kind = KindCrashPanic
		ev.Fields["reason"] = "abort"
		ev.Summary = fmt.Sprintf("abort() called at 0x%08x on core %s%s", p.pc, p.core, at)
		ev.Fix = "see the frames for who called abort() (a failed ESP_ERROR_CHECK, an assert, or std::terminate)"
	case "overflow":
		ev.Kind = KindCrashPanic
		ev.Fields["reason"] = "stack_overflow"
		ev.Fields["task"] = p.task
		ev.Summary = "stack overflow in task " + p.task + at
		ev.Fix = "give the task a larger stack (xTaskCreate's stack size; loopTask: SET_LOOP_TASK_STACK_SIZE) or move big locals to the heap"
	default:
		ev.Kind = KindCrashBacktrace
		ev.Summary = "backtrace" + at
	}
	if p.corrupted {
		ev.Summary += " (backtrace corrupted: unwinding stopped on a bad frame)"
	}
	if p.sha != "" {
		ev.Fields["elf_sha256"] = p.sha
		if s := d.opts.Symbols; s != nil && !strings.HasPrefix(s.SHA256, p.sha) {
			ev.Fields["elf_mismatch"] = "1"
			ev.Summary += " (the ELF given does not match the running firmware: frames may be wrong)"
			ev.Fix = joinFix(ev.Fix, "use the .elf of the build that is flashed (its SHA-256 starts with "+p.sha+")")
		}
	}
	if ev.Fields["incomplete"] == "1" {
		ev.Summary += " (report cut short)"
	}
	if d.opts.Symbols == nil && len(ev.Frames) > 0 {
		ev.Fix = joinFix(ev.Fix, "give the firmware's .elf to decode the addresses")
	}
	return []Event{ev}
}

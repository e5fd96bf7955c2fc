package decode

import (
	"fmt"
	"strings"
	"testing"
)

const cutLine = "--------------- CUT HERE FOR EXCEPTION DECODER ---------------"

// report8266 builds a core 3.x postmortem (device-side.md §2.1) with the
// given header lines and the fixture's addresses on the stack.
func report8266(header string) string {
	return "\r\nTo make this dump useful, DECODE IT - https://bit.ly/arduino-esp8266-stack-decoder\r\n" +
		"\r\n" + cutLine + "\r\n" +
		"\r\n" + header + "\r\n" +
		"\r\n>>>stack>>>\r\n" +
		"\r\nctx: cont\r\n" +
		"sp: 3ffffe30 end: 3fffffc0 offset: 0150\r\n" +
		"3ffffe30:  3fffdad0 00000000 3ffee5b8 40201047  \r\n" +
		"3ffffe40:  3fffdad0 00000000 3ffffe50 40201087 <\r\n" +
		"3ffffe50:  3ffe8010 00000001 3ffee5b8 40100013  \r\n" +
		"3ffffe60:  4000dce5 3fffdab0 00000000 4000f1c8  \r\n" +
		"<<<stack<<<\r\n" +
		"\r\n" + cutLine + "\r\n"
}

func regs(epc1, excvaddr uint32) string {
	return fmt.Sprintf("epc1=0x%08x epc2=0x00000000 epc3=0x00000000 excvaddr=0x%08x depc=0x00000000", epc1, excvaddr)
}

// The names of device-side.md §2.3, written out independently of tables.go.
var wantCauseNames = map[int]string{
	0: "IllegalInstructionCause", 1: "SyscallCause", 2: "InstructionFetchErrorCause", 3: "LoadStoreErrorCause",
	4: "Level1InterruptCause", 5: "AllocaCause", 6: "IntegerDivideByZeroCause", 7: "reserved",
	8: "PrivilegedCause", 9: "LoadStoreAlignmentCause", 10: "reserved", 11: "reserved",
	12: "InstrPIFDataErrorCause", 13: "LoadStorePIFDataErrorCause", 14: "InstrPIFAddrErrorCause",
	15: "LoadStorePIFAddrErrorCause", 16: "InstTLBMissCause", 17: "InstTLBMultiHitCause",
	18: "InstFetchPrivilegeCause", 19: "reserved", 20: "InstFetchProhibitedCause", 21: "reserved",
	22: "reserved", 23: "reserved", 24: "LoadStoreTLBMissCause", 25: "LoadStoreTLBMultiHitCause",
	26: "LoadStorePrivilegeCause", 27: "reserved", 28: "LoadProhibitedCause", 29: "StoreProhibitedCause",
	30: "reserved", 31: "reserved", 32: "Coprocessor0Disabled", 33: "Coprocessor1Disabled",
	34: "Coprocessor2Disabled", 35: "Coprocessor3Disabled", 36: "Coprocessor4Disabled",
	37: "Coprocessor5Disabled", 38: "Coprocessor6Disabled", 39: "Coprocessor7Disabled",
}

func TestExceptionEveryCause(t *testing.T) {
	for n := 0; n <= 64; n++ {
		want, ok := wantCauseNames[n]
		if !ok {
			want = "reserved"
			if n > 63 {
				want = "unknown"
			}
		}
		text := report8266(fmt.Sprintf("Exception (%d):\r\n%s", n, regs(0x40201016, 0x3ffe8010)))
		evs := decodeText(text)
		e := one(t, evs, KindCrashException)
		wellFormed(t, e)
		check(t, e, Error, fmt.Sprintf("Exception %d (%s): ", n, want), "give the firmware's .elf",
			map[string]string{"cause": fmt.Sprint(n), "cause_name": want, "epc1": "0x40201016", "excvaddr": "0x3ffe8010", "ctx": "cont", "sp": "3ffffe30", "end": "3fffffc0", "offset": "0150", "pc_frames": "1"})
		if len(evs) != 1 {
			t.Fatalf("cause %d: %s", n, kinds(evs))
		}
		if e.Fields["incomplete"] != "" {
			t.Errorf("cause %d: incomplete", n)
		}
		// Without an ELF the frames are the bare candidates: epc1, then the
		// code words of the stack in order (ROM words marked).
		wantAddrs := []uint32{0x40201016, 0x40201047, 0x40201087, 0x40100013, 0x4000dce5, 0x4000f1c8}
		if len(e.Frames) != len(wantAddrs) {
			t.Fatalf("cause %d: frames %+v", n, e.Frames)
		}
		for i, a := range wantAddrs {
			if e.Frames[i].Addr != a || e.Frames[i].Function != "" {
				t.Fatalf("cause %d frame %d: %+v", n, i, e.Frames[i])
			}
		}
		if e.Frames[4].File != ROMFile || e.Frames[0].File != "" {
			t.Errorf("ROM marking: %+v", e.Frames)
		}
		// The what of §2.3 is in the summary.
		_, what, _ := ExcCause(n)
		if !strings.Contains(e.Summary, what) {
			t.Errorf("cause %d: summary %q lacks %q", n, e.Summary, what)
		}
	}
}

func TestExceptionHeuristics(t *testing.T) {
	cases := []struct {
		cause          int
		epc1, excvaddr uint32
		ctx            string
		sum, fix       string
	}{
		{28, 0x40201016, 0x00000004, "cont", "a NULL pointer (member offset 0x4)", "NULL pointer was dereferenced"},
		{29, 0x40201016, 0x00000000, "cont", "a NULL pointer (member offset 0x0)", "NULL pointer"},
		{29, 0x40201016, 0x3fff1234, "cont", "(address 0x3fff1234)", "dangling pointer"},
		{3, 0x40201016, 0x40201020, "cont", "byte/halfword read from flash or IRAM", "pgm_read_byte()"},
		{3, 0x40201016, 0x40100010, "cont", "byte/halfword read from flash or IRAM", "memcpy_P()"},
		{9, 0x40201016, 0x3ffe8011, "cont", "unaligned", "memcpy()"},
		{6, 0x40201016, 0, "cont", "integer division by zero", "guard the divisor"},
		{0, 0x4000dce5, 0, "cont", "ROM divide helper (0x4000dce5): integer division by zero", "guard the divisor"},
		{0, 0x3ffe8010, 0x3ffe8010, "cont", "a jump to a bad address", "corrupted function pointer"},
		{20, 0x00000000, 0x00000000, "cont", "a jump to a bad address", "corrupted function pointer"},
		{0, 0x40201016, 0x00000000, "cont", "invalid opcode", "IRAM_ATTR"},
		{28, 0x40201016, 0x00000004, "sys", "SDK/interrupt context", "ISRs must be short"},
		{28, 0x40201016, 0x00000004, "bearssl", "inside TLS processing", ""},
	}
	for _, c := range cases {
		text := report8266(fmt.Sprintf("Exception (%d):\r\n%s", c.cause, regs(c.epc1, c.excvaddr)))
		text = strings.Replace(text, "ctx: cont", "ctx: "+c.ctx, 1)
		e := one(t, decodeText(text), KindCrashException)
		check(t, e, Error, c.sum, c.fix, map[string]string{"ctx": c.ctx})
	}
}

// The crash decoded against the ELF fixture: epc1 inside the inlined
// read_value, return addresses into loop_step, app_entry and IRAM.
func TestCrashDecodedWithELF(t *testing.T) {
	syms := loadFixture(t)
	d := NewDecoder(Options{Symbols: syms})
	text := report8266("Exception (28):\r\n" + regs(0x40201014, 0x00000004))
	evs := feed(d, text)
	e := one(t, evs, KindCrashException)
	check(t, e, Error, "Exception 28 (LoadProhibitedCause): read from an address that forbids loads (invalid or NULL pointer read) — a NULL pointer (member offset 0x4) at read_value (crash.c:19) inlined into crash_here (crash.c:25)",
		"NULL pointer", map[string]string{"pc_frames": "2"})
	if strings.Contains(e.Fix, ".elf") {
		t.Errorf("asks for the ELF it has: %q", e.Fix)
	}
	want := []Frame{
		{0x40201014, "read_value", "/fixture/crash.c", 19, true},
		{0x40201014, "crash_here", "/fixture/crash.c", 25, false},
		// Return addresses: the line of the call (addr-3), like §2.8 point 5.
		{0x40201047, "loop_step", "/fixture/crash.c", 33, false},
		{0x40201087, "app_entry", "/fixture/crash.c", 49, false},
		{0x40100013, "isr_handler", "/fixture/crash.c", 40, false},
		{0x4000dce5, "", ROMFile, 0, false},
		{0x4000f1c8, "", ROMFile, 0, false},
	}
	if len(e.Frames) != len(want) {
		t.Fatalf("frames %+v", e.Frames)
	}
	for i := range want {
		if e.Frames[i] != want[i] {
			t.Errorf("frame %d: %+v, want %+v", i, e.Frames[i], want[i])
		}
	}
	// Data words and literal-pool words are not frames even when in range.
	d = NewDecoder(Options{Symbols: syms})
	e = one(t, feed(d, report8266("Exception (28):\r\n"+regs(0x40201014, 4))+"\n"), KindCrashException)
	for _, f := range e.Frames {
		if f.Addr == 0x3ffe8010 || f.Addr == 0x3ffee5b8 {
			t.Errorf("data word decoded: %+v", f)
		}
	}
}

func TestSoftWDT(t *testing.T) {
	for _, hdr := range []string{"Soft WDT reset", "Soft WDT reset - deliberate infinite loop detected"} {
		text := report8266(hdr + "\r\n\r\nException (4):\r\n" + regs(0x40201016, 0))
		text = strings.Replace(text, "offset: 0150", "offset: 0160", 1)
		evs := feed(NewDecoder(Options{Symbols: loadFixture(t)}), text)
		if len(evs) != 1 {
			t.Fatalf("%s", kinds(evs))
		}
		e := one(t, evs, KindCrashWDT)
		check(t, e, Error, "Soft WDT reset: the sketch ran about 3 s without yielding", "yield()", map[string]string{"wdt": "soft", "cause": "4", "offset": "0160"})
		if !strings.Contains(e.Summary, "not a real exception") || !strings.Contains(e.Summary, "stuck at crash_here (crash.c:26)") {
			t.Errorf("summary %q", e.Summary)
		}
		if strings.Contains(hdr, "deliberate") && !strings.Contains(e.Summary, "deliberate infinite loop detected") {
			t.Errorf("summary %q", e.Summary)
		}
	}
}

func TestPanics8266(t *testing.T) {
	syms := loadFixture(t)
	cases := []struct {
		pre, header string
		reason      string
		sum, fix    string
	}{
		{"User exception (panic/abort/assert)", "Panic core_esp8266_main.cpp:137 __yield", "panic", "panic in __yield (core_esp8266_main.cpp:137)", ""},
		{"User exception (panic/abort/assert)", "Panic /home/u/sketch/sketch.ino:12 void setup(): Assertion 'buf != nullptr' failed.", "panic", "assertion failed: buf != nullptr in void setup() (sketch.ino:12)", "condition asserted"},
		{"User exception (panic/abort/assert)", "Panic out of sensors", "panic", "panic: out of sensors", ""},
		{"User exception (panic/abort/assert)", "Unhandled C++ exception: std::bad_alloc", "cxx", "unhandled C++ exception: std::bad_alloc", "out of memory"},
		{"User exception (panic/abort/assert)", "Unhandled C++ exception: std::out_of_range", "cxx", "unhandled C++ exception: std::out_of_range", "catch the exception"},
		{"User exception (panic/abort/assert)", "Abort called", "abort", "abort() called at crash_here", "caller of abort()"},
		{"ISR not in IRAM!\r\n\r\nUser exception (panic/abort/assert)", "Abort called", "abort", "interrupt handler is not in IRAM", "IRAM_ATTR"},
		{"", "Stack smashing detected at 0x40201047", "smash", "stack smashing detected: a local buffer overflowed in the function that called 0x40201047 at loop_step (crash.c:33)", "past the end of a local array"},
		{"", "Stack overflow detected", "overflow", "stack overflow: the loop() stack (4 KiB) overran", "static storage"},
		{"", "Generic Reset", "generic", "Generic Reset", ""},
	}
	for _, c := range cases {
		text := report8266(c.header)
		if c.header == "Abort called" || strings.HasPrefix(c.header, "Panic") || strings.HasPrefix(c.header, "Unhandled") {
			// User exceptions: epc1 comes from the register line the core
			// prints for them too (pointing at the caller).
			text = report8266(c.header + "\r\n" + regs(0x40201016, 0))
		}
		text = c.pre + text
		evs := feed(NewDecoder(Options{Symbols: syms}), text)
		if len(evs) != 1 {
			t.Fatalf("%q: %s", c.header, kinds(evs))
		}
		e := one(t, evs, KindCrashPanic)
		wellFormed(t, e)
		check(t, e, Error, c.sum, c.fix, map[string]string{"reason": c.reason})
		if c.pre != "" && e.Fields["user"] != "1" {
			t.Errorf("%q: user flag missing", c.header)
		}
	}
}

// Older cores print no cut line; the SDK's own handler prints commas.
func TestOldCoreAndSDKReports(t *testing.T) {
	old := "\nException (29):\nepc1=0x40201016 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000000 depc=0x00000000\n\nctx: sys \nsp: 3ffffc90 end: 3fffffb0 offset: 01a0\n\n>>>stack>>>\n3ffffe30:  3fffdad0 00000000 3ffee5b8 40201047\n<<<stack<<<\nWiFi connected\n"
	evs := decodeText(old)
	e := one(t, evs, KindCrashException)
	check(t, e, Error, "Exception 29 (StoreProhibitedCause)", "NULL pointer", map[string]string{"ctx": "sys", "offset": "01a0"})
	if e.Fields["incomplete"] != "" || len(e.Frames) != 2 {
		t.Errorf("%+v", e)
	}
	one(t, evs, KindWiFiUp) // the line after the block is decoded normally

	sdk := "Fatal exception 28(LoadProhibitedCause):\nepc1=0x40201014, epc2=0x00000000, epc3=0x00000000, excvaddr=0x00000000, depc=0x00000000\n"
	e = one(t, decodeText(sdk), KindCrashException)
	check(t, e, Error, "Exception 28 (LoadProhibitedCause)", "", map[string]string{"epc1": "0x40201014", "cause": "28"})
}

func TestAllocFailures(t *testing.T) {
	text := report8266("Exception (29):\r\n" + regs(0x40201016, 0))
	text = strings.Replace(text, "<<<stack<<<\r\n", "<<<stack<<<\r\n\r\nlast failed alloc call: 40201047(17000)@sketch.ino:42\r\n", 1)
	text += "\r\nlast failed alloc caller: 0x40201087\r\n"
	evs := feed(NewDecoder(Options{Symbols: loadFixture(t)}), text)
	e := one(t, evs, KindCrashException)
	check(t, e, Error, "last failed allocation: 17000 bytes", "heap was exhausted", map[string]string{"alloc_addr": "0x40201047", "alloc_size": "17000", "alloc_where": "sketch.ino:42"})
	a := one(t, evs, KindHeapAllocFailed)
	check(t, a, Warning, "in app_entry (crash.c:49)", "allocate less", map[string]string{"addr": "0x40201087"})

	a = one(t, decodeText("last failed alloc call: 40201047(512)"), KindHeapAllocFailed)
	check(t, a, Warning, "an allocation of 512 bytes failed", "", map[string]string{"size": "512", "addr": "0x40201047"})
}

func TestHWDTStackDump(t *testing.T) {
	text := "Hardware WDT Stack Dump - enabled\n\nHardware WDT reset\nRTC_SYS Reset Reason = 4\n\n>>>stack>>>\n\nctx: ROM\nsp: 3fffffb0 end: 3fffffb0 offset: 0000\n3fffff80:  40201047 00000000 3ffe8010 4000050c\n<<<stack<<<\n"
	evs := decodeText(text)
	e := one(t, evs, KindCrashWDT)
	check(t, e, Error, "hardware watchdog reset (HWDT stack dump)", "interrupts were blocked", map[string]string{"wdt": "hw", "ctx": "ROM", "hwdt_rtc_sys_reset_reason": "4"})
	if len(e.Frames) != 2 || e.Frames[1].File != ROMFile {
		t.Errorf("frames %+v", e.Frames)
	}
}

func TestResetInfoLine(t *testing.T) {
	line := "Reset info: Fatal exception:28 flag:2 (EXCEPTION) epc1:0x40201014 epc2:0x00000000 epc3:0x00000000 excvaddr:0x00000004 depc:0x00000000"
	e := one(t, feed(NewDecoder(Options{Symbols: loadFixture(t)}), line), KindResetInfo)
	check(t, e, Warning, "the previous run crashed: Exception 28 (LoadProhibitedCause)", "NULL pointer", map[string]string{"flag": "2", "flag_name": "EXCEPTION", "excvaddr": "0x00000004"})
	if len(e.Frames) != 2 || e.Frames[1].Function != "crash_here" {
		t.Errorf("frames %+v", e.Frames)
	}
	e = one(t, decodeText("Fatal exception:4 flag:3 (SOFT_WDT) epc1:0x40201016 epc2:0x00000000 epc3:0x00000000 excvaddr:0x00000000 depc:0x00000000"), KindResetInfo)
	check(t, e, Warning, "Soft WDT", "yield()", nil)
	e = one(t, decodeText("Fatal exception:0 flag:1 (WDT) epc1:0x00000000 epc2:0x00000000 epc3:0x00000000 excvaddr:0x00000000 depc:0x00000000"), KindResetInfo)
	check(t, e, Warning, "hardware watchdog", "", nil)
}

// A block that never ends must not grow: it is emitted, truncated, at the cap.
func TestCrashBlockIsBounded(t *testing.T) {
	d := NewDecoder(Options{})
	var evs []Event
	evs = append(evs, d.Line(cutLine, t0)...)
	evs = append(evs, d.Line("Exception (28):", t0)...)
	evs = append(evs, d.Line(">>>stack>>>", t0)...)
	for i := 0; i < 5000; i++ {
		evs = append(evs, d.Line(fmt.Sprintf("%08x:  40201047 00000000 3ffee5b8 40201087 <", 0x3fff0000+16*i), t0)...)
		if d.blk != nil && d.blk.size() > maxBlockLines {
			t.Fatalf("block holds %d lines", d.blk.size())
		}
	}
	e := one(t, evs, KindCrashException)
	if e.Fields["truncated"] != "1" || e.Fields["incomplete"] != "1" || len(e.Frames) > maxCandidates+1 {
		t.Fatalf("fields %v, %d frames", e.Fields, len(e.Frames))
	}
	// Interleaved noise ends a block after a while instead of holding it open.
	d = NewDecoder(Options{})
	evs = feed(d, ">>>stack>>>\n"+strings.Repeat("noise from the app\n", 40))
	e = one(t, evs, KindCrashException)
	check(t, e, Error, "report cut short", "", map[string]string{"incomplete": "1"})
}

// A reset in the middle of a report closes it and still shows the banner.
func TestCrashCutByReset(t *testing.T) {
	text := cutLine + "\nException (28):\n" + regs(0x40201016, 0) + "\n>>>stack>>>\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n"
	evs := decodeText(text)
	if len(evs) != 2 || evs[0].Kind != KindCrashException || evs[1].Kind != KindROMBanner || evs[0].Fields["incomplete"] != "1" {
		t.Fatalf("%s", kinds(evs))
	}
}

// device-side.md §2.7 (IDF 4/5 shape) with the fixture's addresses.
const guru = "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\n" +
	"\n" +
	"Core  1 register dump:\n" +
	"PC      : 0x40201014  PS      : 0x00060630  A0      : 0x80201047  A1      : 0x3ffb1f70  \n" +
	"A2      : 0x00000000  A3      : 0x3ffe8010  A4      : 0x00000001  A5      : 0x00000000  \n" +
	"A14     : 0x00000000  A15     : 0x00000000  SAR     : 0x0000000a  EXCCAUSE: 0x0000001c  \n" +
	"EXCVADDR: 0x00000004  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  LCOUNT  : 0xffffffff  \n" +
	"\n" +
	"\n" +
	"Backtrace: 0x40201016:0x3ffb1f70 0x40201044:0x3ffb1f90 0x40201084:0x3ffb1fb0\n" +
	"\n" +
	"\n" +
	"\n" +
	"\n" +
	"ELF file SHA256: 7657a022e2c80563\n" +
	"\n" +
	"Rebooting...\n"

func TestGuruMeditation(t *testing.T) {
	syms := loadFixture(t)
	evs := feed(NewDecoder(Options{Chip: "ESP32", Symbols: syms}), guru+"ets Jun  8 2016 00:22:57\n\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n")
	e := one(t, evs, KindCrashGuru)
	wellFormed(t, e)
	check(t, e, Error, "Guru Meditation on core 1: LoadProhibited — read from an address that forbids loads (invalid or NULL pointer read) — a NULL pointer (member offset 0x4) at crash_here (crash.c:26)",
		"use the .elf of the build that is flashed", map[string]string{"core": "1", "reason": "LoadProhibited", "cause": "28", "cause_name": "LoadProhibitedCause",
			"pc": "0x40201014", "excvaddr": "0x00000004", "elf_sha256": "7657a022e2c80563", "elf_mismatch": "1", "pc_frames": "3"})
	want := []string{"crash_here", "loop_step", "app_entry"}
	for i, fn := range want {
		if e.Frames[i].Function != fn {
			t.Errorf("frame %d: %+v", i, e.Frames[i])
		}
	}
	if e.Frames[1].Line != 33 || e.Frames[2].Line != 49 {
		t.Errorf("lines: %+v", e.Frames)
	}
	b := one(t, evs, KindROMBanner)
	check(t, b, Info, "software CPU reset", "", map[string]string{"cause_name": "SW_CPU_RESET"})

	// ELF that matches: no mismatch flag.
	matching := strings.Replace(guru, "7657a022e2c80563", syms.SHA256[:16], 1)
	e = one(t, feed(NewDecoder(Options{Chip: "ESP32", Symbols: syms}), matching), KindCrashGuru)
	if e.Fields["elf_mismatch"] != "" {
		t.Error("mismatch reported for the right ELF")
	}
}

func TestGuruVariants(t *testing.T) {
	// Old IDF: the first line split, "Register dump:" without the core.
	old := "Guru Meditation Error: Core  0 panic'ed (StoreProhibited)\n. Exception was unhandled.\nRegister dump:\nPC      : 0x400d1a2b  PS      : 0x00060630  A0      : 0x800d0f6e  A1      : 0x3ffb1f70\nEXCVADDR: 0x00000010\n\nBacktrace: 0x400d1a28:0x3ffb1f70 0x400d0f6b:0x3ffb1f90 |<-CORRUPTED\n\nRebooting...\n"
	e := one(t, decodeText(old), KindCrashGuru)
	check(t, e, Error, "StoreProhibited", "NULL pointer", map[string]string{"cause": "29", "corrupted": "1", "excvaddr": "0x00000010"})
	if len(e.Frames) != 2 || e.Frames[0].Addr != 0x400d1a28 || !strings.Contains(e.Summary, "CORRUPTED") && !strings.Contains(e.Summary, "corrupted") {
		t.Errorf("%+v", e)
	}

	// A backtrace wrapping onto the next line.
	wrapped := "Guru Meditation Error: Core  0 panic'ed (IllegalInstruction). Exception was unhandled.\nBacktrace: 0x400d1a28:0x3ffb1f70 0x400d0f6b:0x3ffb1f90\n0x4008a2f1:0x3ffb1fb0 0x4008a2f4:0x3ffb1fd0\n\nELF file SHA256: 7657a022e2c80563\n"
	e = one(t, decodeText(wrapped), KindCrashGuru)
	check(t, e, Error, "IllegalInstruction", "", map[string]string{"cause": "0", "pc_frames": "4"})

	// Watchdog, stack canary, cache.
	e = one(t, decodeText("Guru Meditation Error: Core  0 panic'ed (Interrupt wdt timeout on CPU0).\nBacktrace: 0x400d1a28:0x3ffb1f70\nRebooting...\n"), KindCrashWDT)
	check(t, e, Error, "Interrupt wdt timeout on CPU0", "keep ISRs short", map[string]string{"wdt": "interrupt"})
	e = one(t, decodeText("Guru Meditation Error: Core  1 panic'ed (Unhandled debug exception).\nDebug exception reason: Stack canary watchpoint triggered (loopTask)\nCore  1 register dump:\nPC      : 0x40086e6c  PS      : 0x00060036  A0      : 0x3ffb8a50  A1      : 0x3ffb89f0\nRebooting...\n"), KindCrashGuru)
	check(t, e, Error, "Stack canary watchpoint triggered (loopTask)", "larger stack", map[string]string{"debug_reason": "Stack canary watchpoint triggered (loopTask)"})
	e = one(t, decodeText("Guru Meditation Error: Core  0 panic'ed (Cache disabled but cached memory region accessed).\nRebooting...\n"), KindCrashGuru)
	check(t, e, Error, "Cache disabled", "IRAM_ATTR", nil)
	e = one(t, decodeText("Guru Meditation Error: Core  0 panic'ed (Double exception).\nRebooting...\n"), KindCrashGuru)
	check(t, e, Error, "Double exception", "", nil)

	// RISC-V: MEPC/RA and a stack memory dump instead of a backtrace.
	riscv := "Guru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled.\n\nCore  0 register dump:\nMEPC    : 0x42000bde  RA      : 0x42000bd6  SP      : 0x3fc8f2d0  GP      : 0x3fc8b200\nMTVAL   : 0x00000000\n\nStack memory:\n3fc8f2d0: 0x00000000 0x00000000 0x00000000 0x42005cb6 0x00000000 0x00000000 0x00000000 0x00000000\n\nELF file SHA256: 0000000000000000\n\nRebooting...\n"
	e = one(t, feed(NewDecoder(Options{Chip: "ESP32-C3"}), riscv), KindCrashGuru)
	check(t, e, Error, "Load access fault", "", map[string]string{"pc": "0x42000bde", "mtval": "0x00000000", "pc_frames": "2"})
}

func TestESP32OneLiners(t *testing.T) {
	evs := decodeText("abort() was called at PC 0x400d2357 on core 1\n\nBacktrace: 0x40083f0d:0x3ffb1e80 0x40084ef5:0x3ffb1ea0 0x400d2357:0x3ffb1ec0\n\nELF file SHA256: 7657a022e2c80563\n\nRebooting...\n")
	e := one(t, evs, KindCrashPanic)
	check(t, e, Error, "abort() called at 0x400d2357 on core 1", "who called abort()", map[string]string{"reason": "abort", "pc": "0x400d2357", "pc_frames": "3"})

	e = one(t, decodeText("***ERROR*** A stack overflow in task loopTask has been detected.\n\nBacktrace: 0x40083f0d:0x3ffb1e80 0x40084ef5:0x3ffb1ea0\n\nELF file SHA256: 7657a022e2c80563\n"), KindCrashPanic)
	check(t, e, Error, "stack overflow in task loopTask", "SET_LOOP_TASK_STACK_SIZE", map[string]string{"reason": "stack_overflow", "task": "loopTask"})

	e = one(t, decodeText("Backtrace: 0x400d1a28:0x3ffb1f70 0x400d0f6b:0x3ffb1f90\nhello\n"), KindCrashBacktrace)
	check(t, e, Error, "backtrace", "", map[string]string{"pc_frames": "2"})

	e = one(t, decodeText("E (12345) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:"), KindCrashWDT)
	check(t, e, Error, "task watchdog", "vTaskDelay", map[string]string{"wdt": "task"})

	e = one(t, decodeText("Brownout detector was triggered"), KindPowerBrownout)
	check(t, e, Error, "brown-out", "power supply", nil)
}

package decode

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const fixtureELF = "testdata/fixture.elf"

var (
	fixtureOnce sync.Once
	fixtureSyms *Symbols
	fixtureErr  error
)

func loadFixture(t testing.TB) *Symbols {
	t.Helper()
	fixtureOnce.Do(func() { fixtureSyms, fixtureErr = LoadELF(fixtureELF) })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureSyms
}

// addr2lineStyle formats frames as `addr2line -pfiaC` prints one address.
func addr2lineStyle(addr uint32, frames []Frame) string {
	head := "0x" + strconv.FormatUint(uint64(addr)|1<<32, 16)[1:] + ": "
	if len(frames) == 0 {
		return head + "?? ??:0"
	}
	var b strings.Builder
	for i, f := range frames {
		if i == 0 {
			b.WriteString(head)
		} else {
			b.WriteString("\n (inlined by) ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

var discriminator = regexp.MustCompile(` \(discriminator \d+\)`)

// TestResolveMatchesAddr2line compares Resolve with the answers of Debian's
// xtensa-lx106-elf-addr2line -pfiaC for every address of the fixture's code
// (testdata/fixture.addr2line.txt, written by testdata/build.sh).
func TestResolveMatchesAddr2line(t *testing.T) {
	s := loadFixture(t)
	f, err := os.Open(filepath.Join("testdata", "fixture.addr2line.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Group the output per address: continuation lines start with " (inlined by)".
	var blocks []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := discriminator.ReplaceAllString(sc.Text(), "")
		if strings.HasPrefix(line, " (inlined by) ") {
			blocks[len(blocks)-1] += "\n" + line
			continue
		}
		blocks = append(blocks, line)
	}
	if len(blocks) < 150 {
		t.Fatalf("only %d addresses in the addr2line answers", len(blocks))
	}
	inlined := 0
	for _, want := range blocks {
		a, err := strconv.ParseUint(want[2:10], 16, 32)
		if err != nil {
			t.Fatalf("bad line %q", want)
		}
		frames := s.Resolve(uint32(a))
		if got := addr2lineStyle(uint32(a), frames); got != want {
			t.Errorf("0x%08x:\n got  %q\n want %q", a, got, want)
		}
		if len(frames) > 1 {
			inlined++
		}
	}
	if inlined == 0 {
		t.Fatal("no inlined frames exercised")
	}
}

// Spot checks with the meaning spelled out, so a failure reads well.
func TestResolveFixture(t *testing.T) {
	s := loadFixture(t)
	cases := []struct {
		addr uint32
		want []Frame
	}{
		// The load of s->value: read_value inlined into crash_here.
		{0x40201014, []Frame{
			{0x40201014, "read_value", "/fixture/crash.c", 19, true},
			{0x40201014, "crash_here", "/fixture/crash.c", 25, false},
		}},
		{0x40201016, []Frame{{0x40201016, "crash_here", "/fixture/crash.c", 26, false}}},
		// Two levels: clamp inlined into limit inlined into scale (second CU).
		{0x4020109b, []Frame{
			{0x4020109b, "clamp", "/fixture/util.c", 7, true},
			{0x4020109b, "limit", "/fixture/util.c", 15, true},
			{0x4020109b, "scale", "/fixture/util.c", 20, false},
		}},
		// IRAM code.
		{0x40100013, []Frame{{0x40100013, "isr_handler", "/fixture/crash.c", 41, false}}},
		// Padding after a function: symbol table only.
		{0x40201026, []Frame{{0x40201026, "crash_here", "", 0, false}}},
		// Literal pool before the first function of the section, ROM, data.
		{0x40201010, nil},
		{0x4000dce5, nil},
		{0x3ffe8010, nil},
	}
	for _, c := range cases {
		got := s.Resolve(c.addr)
		if len(got) != len(c.want) {
			t.Errorf("0x%08x: got %+v, want %+v", c.addr, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("0x%08x frame %d: got %+v, want %+v", c.addr, i, got[i], c.want[i])
			}
		}
	}
	if !s.IsCode(0x40201014) || !s.IsCode(0x40100000) || s.IsCode(0x3ffe8000) || s.IsCode(0x402010ac) {
		t.Error("IsCode wrong")
	}
	if len(s.SHA256) != 64 {
		t.Errorf("SHA256 %q", s.SHA256)
	}
}

func TestResolveReturn(t *testing.T) {
	s := loadFixture(t)
	// 0x40201047 is the return address of the call0 crash_here at
	// 0x40201044 (crash.c:33); 0x4020105c returns from call0 scale at
	// 0x40201059, whose line is 34 while 0x4020105c itself is line 35.
	if f := s.ResolveReturn(0x4020105c); len(f) != 1 || f[0].Line != 34 || f[0].Addr != 0x4020105c || f[0].Function != "loop_step" {
		t.Errorf("0x4020105c: %+v", f)
	}
	if f := s.Resolve(0x4020105c); len(f) != 1 || f[0].Line != 35 {
		t.Errorf("0x4020105c plain: %+v", f)
	}
	// The first instruction of a function: addr-3 is in another one.
	if f := s.ResolveReturn(0x40201028); len(f) != 1 || f[0].Function != "loop_step" || f[0].Line != 31 {
		t.Errorf("0x40201028: %+v", f)
	}
	if f := s.ResolveReturn(2); f != nil {
		t.Errorf("2: %+v", f)
	}
	var nilSyms *Symbols
	if nilSyms.Resolve(0x40201014) != nil {
		t.Error("nil Symbols resolved")
	}
}

func TestLoadELFErrors(t *testing.T) {
	if _, err := LoadELF("testdata/does-not-exist.elf"); err == nil || !strings.Contains(err.Error(), ".elf the build wrote") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadELF("testdata/crash.c"); err == nil || !strings.Contains(err.Error(), "not the .bin") {
		t.Errorf("not an ELF: %v", err)
	}
	data, err := os.ReadFile(fixtureELF)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 16, 52, 200, len(data) / 2} {
		if _, err := ParseELF(data[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
}

// FuzzLookupFixture looks random addresses up on the fixture: no panic,
// frames well formed, and consistent with IsCode and with a linear scan of
// the line table.
func FuzzLookupFixture(f *testing.F) {
	s := loadFixture(f)
	for _, a := range []uint32{0, 0x40100000, 0x40100014, 0x40201014, 0x4020109b, 0x402010ab, 0x402010ac, 0xffffffff} {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, addr uint32) {
		frames := s.Resolve(addr)
		if len(frames) > 0 && !s.IsCode(addr) {
			t.Fatalf("0x%08x resolved outside code", addr)
		}
		for i, fr := range frames {
			if fr.Addr != addr || fr.Inlined != (i < len(frames)-1) {
				t.Fatalf("0x%08x: bad frame %d %+v", addr, i, fr)
			}
		}
		var want *lineRow
		for i := range s.lines {
			if s.lines[i].lo <= addr && addr < s.lines[i].hi {
				if want != nil {
					t.Fatalf("0x%08x: overlapping line rows", addr)
				}
				want = &s.lines[i]
			}
		}
		if want != nil && (len(frames) == 0 || frames[0].File != s.files[want.file] || frames[0].Line != int(want.line)) {
			t.Fatalf("0x%08x: %+v, line table says %s:%d", addr, frames, s.files[want.file], want.line)
		}
		r := s.ResolveReturn(addr)
		if len(frames) > 0 && len(r) == 0 {
			t.Fatalf("0x%08x: ResolveReturn lost the address", addr)
		}
	})
}

// FuzzParseELF mutates the fixture's bytes: ParseELF must fail or succeed,
// never panic, and a successful parse must answer lookups.
func FuzzParseELF(f *testing.F) {
	data, err := os.ReadFile(fixtureELF)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint32(0x40201014))
	f.Add(data[:1024], uint32(0x40100004))
	f.Fuzz(func(t *testing.T, b []byte, addr uint32) {
		s, err := ParseELF(b)
		if err != nil {
			return
		}
		for _, a := range []uint32{addr, addr - 3, 0x40201014} {
			s.Resolve(a)
			s.ResolveReturn(a)
		}
	})
}

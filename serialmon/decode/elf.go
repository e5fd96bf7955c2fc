package decode

import (
	"bytes"
	"crypto/sha256"
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Frame is one resolved code address. An address inside inlined code gives
// several frames for the same Addr, innermost first (like addr2line -i):
// Inlined is true on a frame whose function was inlined into the frame that
// follows it, and that following frame's File:Line is the call site. A frame
// with an empty Function is unresolved (no ELF, or nothing known there); File
// "" with a Function means the function is known but not the line.
type Frame struct {
	Addr     uint32
	Function string
	File     string
	Line     int
	Inlined  bool
}

// String formats f like one line of `addr2line -pfiaC` (without the address
// and without the " (inlined by)" prefix): "crash_here at /src/a.c:25".
func (f Frame) String() string {
	fn := f.Function
	if fn == "" {
		fn = "??"
	}
	switch {
	case f.File == "" && f.Function == "":
		return "?? ??:0"
	case f.File == "":
		return fn + " at ??:?"
	}
	return fmt.Sprintf("%s at %s:%d", fn, f.File, f.Line)
}

// ROMFile is the File of frames for addresses in the chip's mask ROM, which
// the application ELF cannot describe (device-side.md §2.8).
const ROMFile = "(mask ROM)"

// Symbols maps code addresses of one firmware ELF to functions and source
// lines, using the ELF's DWARF line tables and debugging entries (inlined
// frames included) and, where those are silent, its symbol table. It is
// safe for concurrent use once loaded.
type Symbols struct {
	// SHA256 is the hex SHA-256 of the ELF file, to compare with the
	// "ELF file SHA256:" prefix an ESP32 prints after a panic.
	SHA256  string
	Machine elf.Machine

	exec  []addrRange // executable sections, sorted
	lines []lineRow   // non-overlapping, sorted by lo
	files []string
	top   []scopeRange // out-of-line function ranges, sorted by lo
	syms  []symbol     // function symbols, sorted by addr
}

type addrRange struct{ lo, hi uint32 } // [lo, hi)

type lineRow struct {
	lo, hi uint32
	file   int32
	line   int32
}

// scope is a function body or an inlined copy of one.
type scope struct {
	name     string
	ranges   []addrRange
	callFile string // for inlined scopes: where the call is, in the parent
	callLine int
	children []*scope
}

type scopeRange struct {
	addrRange
	s *scope
}

type symbol struct {
	addr    uint32
	section int
	name    string
}

// LoadELF reads the firmware ELF at path (Arduino: <build dir>/<sketch>.ino.elf,
// PlatformIO: .pio/build/<env>/firmware.elf) and indexes its code addresses.
func LoadELF(path string) (*Symbols, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading firmware ELF: %w (point to the .elf the build wrote next to the .bin)", err)
	}
	s, err := ParseELF(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseELF is LoadELF for an ELF already in memory. It treats data as
// untrusted: a malformed file gives an error, never a panic.
func ParseELF(data []byte) (s *Symbols, err error) {
	defer func() {
		// debug/elf and debug/dwarf are meant not to panic on bad input,
		// but this is a parser of user-supplied files: fail safe.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("malformed ELF (%v): rebuild the firmware and use the .elf it produced", r)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a readable ELF file (%v): use the .elf from the build, not the .bin", err)
	}
	if f.Class != elf.ELFCLASS32 {
		return nil, fmt.Errorf("ELF is %v, but ESP firmware is 32-bit: use the ELF of the ESP build", f.Class)
	}
	sum := sha256.Sum256(data)
	s = &Symbols{SHA256: hex.EncodeToString(sum[:]), Machine: f.Machine}
	for _, sec := range f.Sections {
		if sec.Flags&elf.SHF_EXECINSTR != 0 && sec.Flags&elf.SHF_ALLOC != 0 && sec.Size > 0 && sec.Addr <= 0xffffffff {
			s.exec = append(s.exec, addrRange{uint32(sec.Addr), uint32(min(sec.Addr+sec.Size, 0xffffffff))})
		}
	}
	sort.Slice(s.exec, func(i, j int) bool { return s.exec[i].lo < s.exec[j].lo })
	s.loadSymbols(f)
	d, derr := f.DWARF()
	if derr == nil {
		// Budgets: every entry and every line-table row takes at least
		// one byte of its section, so a well-formed file stays within
		// them and a malformed one cannot make the walk run away.
		budget := dwarfBudget{entries: sectionSize(f, ".debug_info") + 64, rows: sectionSize(f, ".debug_line") + 64}
		derr = s.loadDWARF(d, budget)
	}
	if len(s.exec) == 0 {
		return nil, errors.New("ELF has no executable sections: use the firmware's linked .elf, not an object file or a data image")
	}
	if derr != nil && len(s.syms) == 0 {
		return nil, fmt.Errorf("ELF has neither usable debug information (%v) nor a symbol table: build with -g and do not strip the .elf", derr)
	}
	return s, nil
}

// IsCode reports whether addr falls in an executable section of the ELF.
func (s *Symbols) IsCode(addr uint32) bool {
	i := sort.Search(len(s.exec), func(i int) bool { return s.exec[i].hi > addr })
	return i < len(s.exec) && s.exec[i].lo <= addr
}

func (s *Symbols) sectionOf(addr uint32) int {
	i := sort.Search(len(s.exec), func(i int) bool { return s.exec[i].hi > addr })
	if i < len(s.exec) && s.exec[i].lo <= addr {
		return i
	}
	return -1
}

func (s *Symbols) loadSymbols(f *elf.File) {
	syms, err := f.Symbols()
	if err != nil {
		return
	}
	for _, sym := range syms {
		t := elf.ST_TYPE(sym.Info)
		if (t != elf.STT_FUNC && t != elf.STT_NOTYPE) || sym.Name == "" || sym.Value > 0xffffffff ||
			strings.HasPrefix(sym.Name, "$") || strings.HasPrefix(sym.Name, ".L") {
			continue
		}
		sec := s.sectionOf(uint32(sym.Value))
		if sec < 0 {
			continue
		}
		s.syms = append(s.syms, symbol{uint32(sym.Value), sec, sym.Name})
	}
	// Stable: of several names at one address, the first in the table wins.
	sort.SliceStable(s.syms, func(i, j int) bool { return s.syms[i].addr < s.syms[j].addr })
}

// symbolAt is addr2line's fallback: the nearest symbol at or below addr in
// the same section.
func (s *Symbols) symbolAt(addr uint32) string {
	sec := s.sectionOf(addr)
	if sec < 0 {
		return ""
	}
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].addr > addr }) - 1
	// Several symbols may share an address; take the first of them.
	for i > 0 && s.syms[i-1].addr == s.syms[i].addr {
		i--
	}
	if i < 0 || s.syms[i].section != sec {
		return ""
	}
	return s.syms[i].name
}

// dwarfEntry is what loadDWARF keeps of a debugging entry while it walks a
// compilation unit.
type dwarfEntry struct {
	tag      dwarf.Tag
	name     string
	link     dwarf.Offset // DW_AT_abstract_origin or DW_AT_specification
	parent   dwarf.Offset
	scope    *scope // for subprograms and inlined subroutines with code
	callFile int64
	callLine int64
	cu       int
}

type dwarfBudget struct{ entries, rows int }

func sectionSize(f *elf.File, name string) int {
	if sec := f.Section(name); sec != nil && sec.Size < 1<<30 {
		return int(sec.Size) * 4 // compressed sections expand
	}
	return 0
}

func (s *Symbols) loadDWARF(d *dwarf.Data, budget dwarfBudget) error {
	fileIdx := map[string]int32{}
	intern := func(name string) int32 {
		if i, ok := fileIdx[name]; ok {
			return i
		}
		fileIdx[name] = int32(len(s.files))
		s.files = append(s.files, name)
		return int32(len(s.files) - 1)
	}
	var rows []lineRow
	entries := map[dwarf.Offset]*dwarfEntry{}
	var order []dwarf.Offset
	var cuFiles [][]*dwarf.LineFile
	var cuLang []int64

	r := d.Reader()
	var stack []dwarf.Offset // parents of the next entry
	cu := -1
	var firstErr error
	var lastOff dwarf.Offset
	for n := 0; ; n++ {
		e, err := r.Next()
		if err != nil {
			firstErr = err
			break
		}
		if e == nil {
			break
		}
		// Null entries (end of a children list) carry no offset.
		if n >= budget.entries || (e.Tag != 0 && n > 0 && e.Offset <= lastOff) {
			firstErr = errors.New("debugging entries do not advance (corrupt .debug_info)")
			break
		}
		if e.Tag != 0 {
			lastOff = e.Offset
		}
		if e.Tag == 0 {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			stack = stack[:0]
			cu++
			var files []*dwarf.LineFile
			lang, _ := e.Val(dwarf.AttrLanguage).(int64)
			if lr, err := d.LineReader(e); err == nil && lr != nil {
				files = lr.Files()
				rows = appendLineRows(rows, lr, intern, &budget.rows)
			} else if err != nil && firstErr == nil {
				firstErr = err
			}
			cuFiles = append(cuFiles, files)
			cuLang = append(cuLang, lang)
			if e.Children {
				stack = append(stack, e.Offset)
			}
			continue
		}
		var parent dwarf.Offset
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagNamespace,
			dwarf.TagClassType, dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagLexDwarfBlock:
			de := &dwarfEntry{tag: e.Tag, parent: parent, cu: cu}
			de.name, _ = e.Val(dwarf.AttrName).(string)
			if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
				de.link = o
			} else if o, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
				de.link = o
			}
			de.callFile, _ = e.Val(dwarf.AttrCallFile).(int64)
			de.callLine, _ = e.Val(dwarf.AttrCallLine).(int64)
			if e.Tag == dwarf.TagSubprogram || e.Tag == dwarf.TagInlinedSubroutine {
				if rg, err := d.Ranges(e); err == nil {
					for _, r := range rg {
						if r[0] < r[1] && r[1] <= 1<<32 && r[0] != 0 {
							if de.scope == nil {
								de.scope = &scope{}
							}
							de.scope.ranges = append(de.scope.ranges, addrRange{uint32(r[0]), uint32(min(r[1], 0xffffffff))})
						}
					}
				}
			}
			entries[e.Offset] = de
			order = append(order, e.Offset)
		}
		if e.Children {
			stack = append(stack, e.Offset)
		}
	}

	// Names: follow abstract origins / specifications (bounded, as the
	// links come from the file) and qualify C++ names with their scopes.
	var nameOf func(off dwarf.Offset, depth int) string
	nameOf = func(off dwarf.Offset, depth int) string {
		de := entries[off]
		if de == nil || depth > 8 {
			return ""
		}
		if de.name == "" && de.link != 0 {
			return nameOf(de.link, depth+1)
		}
		if de.name == "" {
			return ""
		}
		if de.cu >= 0 && de.cu < len(cuLang) && isCPlusPlus(cuLang[de.cu]) {
			var quals []string
			for p, n := de.parent, 0; p != 0 && n < 16; n++ {
				pe := entries[p]
				if pe == nil {
					break
				}
				switch pe.tag {
				case dwarf.TagNamespace, dwarf.TagClassType, dwarf.TagStructType, dwarf.TagUnionType:
					q := pe.name
					if q == "" {
						q = "(anonymous namespace)"
					}
					quals = append(quals, q)
				case dwarf.TagSubprogram:
					p = 0 // a local class: stop at the function
					continue
				}
				p = pe.parent
			}
			if len(quals) > 0 {
				for i, j := 0, len(quals)-1; i < j; i, j = i+1, j-1 {
					quals[i], quals[j] = quals[j], quals[i]
				}
				return strings.Join(quals, "::") + "::" + de.name
			}
		}
		return de.name
	}
	for _, off := range order {
		de := entries[off]
		if de.scope == nil {
			continue
		}
		de.scope.name = nameOf(off, 0)
		if de.tag == dwarf.TagInlinedSubroutine {
			if de.cu < len(cuFiles) && de.callFile >= 0 && de.callFile < int64(len(cuFiles[de.cu])) && cuFiles[de.cu][de.callFile] != nil {
				de.scope.callFile = cuFiles[de.cu][de.callFile].Name
			}
			de.scope.callLine = int(de.callLine)
		}
		// Attach to the nearest enclosing scope with code (lexical blocks
		// are transparent).
		var host *scope
		for p, n := de.parent, 0; p != 0 && n < 64; n++ {
			pe := entries[p]
			if pe == nil {
				break
			}
			if pe.scope != nil && (pe.tag == dwarf.TagSubprogram || pe.tag == dwarf.TagInlinedSubroutine) {
				host = pe.scope
				break
			}
			if pe.tag == dwarf.TagSubprogram {
				break // a subprogram without code: the nested one is on its own
			}
			p = pe.parent
		}
		if de.tag == dwarf.TagInlinedSubroutine && host != nil {
			host.children = append(host.children, de.scope)
			continue
		}
		for _, rg := range de.scope.ranges {
			if s.IsCode(rg.lo) {
				s.top = append(s.top, scopeRange{rg, de.scope})
			}
		}
	}
	sort.SliceStable(s.top, func(i, j int) bool { return s.top[i].lo < s.top[j].lo })

	// Line table: keep rows in code, sort, and clip overlaps so that a
	// binary search finds the one row covering an address.
	kept := rows[:0]
	for _, r := range rows {
		if s.IsCode(r.lo) {
			kept = append(kept, r)
		}
	}
	rows = kept
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].lo < rows[j].lo })
	for i := 0; i+1 < len(rows); i++ {
		if rows[i].hi > rows[i+1].lo {
			rows[i].hi = rows[i+1].lo
		}
	}
	kept = rows[:0]
	for _, r := range rows {
		if r.lo < r.hi {
			kept = append(kept, r)
		}
	}
	s.lines = kept
	if firstErr != nil && len(s.lines) == 0 && len(s.top) == 0 {
		return fmt.Errorf("reading DWARF: %w", firstErr)
	}
	return nil
}

// appendLineRows turns one compilation unit's line program into intervals:
// each row covers the addresses up to the next row of its sequence. Rows at
// the same address give empty intervals except the last, which is what
// addr2line reports. LineReader.SeekPC is deliberately not used: with
// -ffunction-sections the sequences are out of address order and SeekPC
// misses addresses (device-side.md §2.8).
func appendLineRows(rows []lineRow, lr *dwarf.LineReader, intern func(string) int32, budget *int) []lineRow {
	var prev dwarf.LineEntry
	have := false
	var le dwarf.LineEntry
	for ; *budget > 0; *budget-- {
		err := lr.Next(&le)
		if err == io.EOF {
			break
		}
		if err != nil {
			break
		}
		if have && le.Address >= prev.Address && le.Address <= 0xffffffff && prev.File != nil {
			rows = append(rows, lineRow{lo: uint32(prev.Address), hi: uint32(le.Address), file: intern(prev.File.Name), line: int32(prev.Line)})
		}
		if le.EndSequence {
			have = false
			continue
		}
		prev, have = le, true
	}
	return rows
}

func isCPlusPlus(lang int64) bool {
	switch lang {
	case 0x04, 0x19, 0x1a, 0x21: // DW_LANG_C_plus_plus, _03, _11, _14
		return true
	}
	return false
}

func (sc *scope) contains(addr uint32) bool {
	for _, r := range sc.ranges {
		if r.lo <= addr && addr < r.hi {
			return true
		}
	}
	return false
}

// chain returns the scopes containing addr, outermost first.
func (s *Symbols) chain(addr uint32) []*scope {
	i := sort.Search(len(s.top), func(i int) bool { return s.top[i].lo > addr }) - 1
	var outer *scope
	// Function ranges do not overlap in a linked image, but be tolerant:
	// look back a little for the innermost range containing addr.
	for j := i; j >= 0 && j > i-16; j-- {
		if s.top[j].lo <= addr && addr < s.top[j].hi {
			outer = s.top[j].s
			break
		}
	}
	if outer == nil {
		return nil
	}
	out := []*scope{outer}
	for cur := outer; len(out) < 64; {
		var next *scope
		for _, c := range cur.children {
			if c.contains(addr) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		out = append(out, next)
		cur = next
	}
	return out
}

func (s *Symbols) lineAt(addr uint32) (file string, line int, ok bool) {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i].hi > addr })
	if i < len(s.lines) && s.lines[i].lo <= addr {
		return s.files[s.lines[i].file], int(s.lines[i].line), true
	}
	return "", 0, false
}

// Resolve returns the frames for a code address, innermost first (see Frame),
// or nil when addr is not in the ELF's code. It does what
// `xtensa-lx106-elf-addr2line -pfiaC -e ELF addr` does for code addresses,
// except that C++ names are qualified from the debugging entries instead of
// demangled (no parameter list) and "(discriminator N)" is not reported.
func (s *Symbols) Resolve(addr uint32) []Frame {
	if s == nil || !s.IsCode(addr) {
		return nil
	}
	file, line, hasLine := s.lineAt(addr)
	ch := s.chain(addr)
	if len(ch) == 0 {
		fn := s.symbolAt(addr)
		if fn == "" && !hasLine {
			return nil
		}
		return []Frame{{Addr: addr, Function: fn, File: file, Line: line}}
	}
	frames := make([]Frame, 0, len(ch))
	for i := len(ch) - 1; i >= 0; i-- {
		f := Frame{Addr: addr, Function: ch[i].name, Inlined: i > 0}
		if i == len(ch)-1 {
			f.File, f.Line = file, line
		} else {
			f.File, f.Line = ch[i+1].callFile, ch[i+1].callLine
		}
		if f.Function == "" {
			f.Function = s.symbolAt(addr)
		}
		frames = append(frames, f)
	}
	return frames
}

// ResolveReturn resolves a return address found on the stack. A CALL0
// returns to the instruction after the 3-byte call, whose line may be the
// next statement; when addr-3 is in the same function its frames (which
// name the call's line) are used, still reported with Addr = addr
// (device-side.md §2.8 point 5).
func (s *Symbols) ResolveReturn(addr uint32) []Frame {
	frames := s.Resolve(addr)
	if len(frames) == 0 || addr < 3 {
		return frames
	}
	prev := s.Resolve(addr - 3)
	if len(prev) == 0 || prev[len(prev)-1].Function != frames[len(frames)-1].Function {
		return frames
	}
	for i := range prev {
		prev[i].Addr = addr
	}
	return prev
}

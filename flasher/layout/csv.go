package layout

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseCSV reads a partition table CSV with gen_esp32part.py's syntax and
// defaults, then validates it (Validate without a flash size). Every error
// names its line.
//
//   - A UTF-8 byte-order mark is skipped; blank lines and lines starting
//     with '#' are ignored.
//   - Fields are Name, Type, SubType, Offset, Size, Flags, separated by
//     commas, surrounding spaces trimmed; missing trailing fields are
//     empty and fields after Flags are ignored.
//   - Type is app, data, bootloader, partition_table (any case) or a
//     number; SubType is a keyword of that type (factory, ota_0…ota_15,
//     test, tee_0/1; ota, phy, nvs, coredump, nvs_keys, efuse, undefined,
//     esphttpd, fat, spiffs, littlefs, tee_ota) or a number. An empty
//     SubType means "undefined" (0x06) for data partitions and is an error
//     for app partitions.
//   - Numbers are decimal (no leading zeros), 0x…, 0o… or 0b…, optionally
//     with a K (×1024) or M (×1024×1024) suffix, any case.
//   - An empty Offset is the end of the previous partition (the first
//     one: 0x9000, after the table at its default 0x8000; projects that
//     move the table need explicit offsets) rounded up to 0x10000 for app
//     partitions and 0x1000 for the rest (ESP-IDF's rule; PlatformIO's
//     own reader aligns data partitions to 4 only). Explicit offsets must
//     not go below the end of the previous partition.
//   - Size is required. A negative size -X means "up to offset X".
//   - Flags are encrypted and readonly, separated by ':'.
//   - partition_table rows take the fixed offset (primary: 0x8000) and
//     size 0x1000; bootloader rows are refused (their size depends on the
//     chip's bootloader offset, which a CSV does not say).
//   - Environment variables ($NAME) are not expanded: they are an error.
func ParseCSV(r io.Reader) (*PartitionTable, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimPrefix(raw, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("partition CSV is not UTF-8 text")
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\r", "\n")

	type row struct {
		p           Partition
		line        int
		offsetSet   bool
		size        int64 // negative: "up to -size"
		fixedLayout bool  // primary partition_table entry: not part of the offset chain
	}
	var rows []row
	for n, line := range strings.Split(text, "\n") {
		lineNo := n + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := envVar.FindString(line); m != "" {
			return nil, fmt.Errorf("line %d: %s: environment variables are not expanded here; write the value", lineNo, m)
		}
		if len(rows) == MaxPartitions {
			return nil, fmt.Errorf("line %d: too many partitions: a table holds at most %d", lineNo, MaxPartitions)
		}
		fields := strings.Split(line+",,,,", ",")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("line %d: "+format, append([]any{lineNo}, a...)...)
		}
		rw := row{line: lineNo}
		p := &rw.p
		p.Label = fields[0]
		if err := checkLabel(p.Label); err != nil {
			return nil, bad("%v", err)
		}

		if fields[1] == "" {
			return nil, bad("the Type field is empty: use app, data or a number")
		}
		t, ok := keyword(fields[1], typeNames)
		if !ok {
			v, err := parseNumber(fields[1])
			if err != nil || v < 0 || v > 0xFF {
				return nil, bad("unknown partition type %q: use app, data, bootloader, partition_table or a number 0x00..0xFF", fields[1])
			}
			t = byte(v)
		}
		p.Type = t

		switch sub := fields[2]; {
		case sub == "" && t == TypeApp:
			return nil, bad("app partitions need a SubType (factory, ota_0 … ota_15, test)")
		case sub == "":
			p.SubType = 0x06 // "undefined"
		default:
			st, ok := keyword(sub, subtypeNames[t])
			if !ok {
				v, err := parseNumber(sub)
				if err != nil || v < 0 || v > 0xFF {
					var names []string
					for _, kv := range subtypeNames[t] {
						names = append(names, kv.name)
					}
					hint := "a number 0x00..0xFF"
					if len(names) > 0 {
						hint = strings.Join(names, ", ") + " or " + hint
					}
					return nil, bad("unknown %s subtype %q: use %s", typeText(t), sub, hint)
				}
				st = byte(v)
			}
			p.SubType = st
		}

		switch {
		case t == TypeBootloader:
			return nil, bad("bootloader partitions are not supported: their offset and size depend on the chip's bootloader offset")
		case t == TypePartitionTable:
			rw.size = PartitionTableSize
			if p.SubType == 0 {
				p.Offset, rw.offsetSet, rw.fixedLayout = PartitionTableOffset, true, true
				break
			}
			fallthrough
		default:
			if fields[3] != "" {
				v, err := parseNumber(fields[3])
				if err != nil {
					return nil, bad("offset %q: %v", fields[3], err)
				}
				if v < 0 || v > 0xFFFFFFFF {
					return nil, bad("offset %q is outside 0..0xFFFFFFFF", fields[3])
				}
				p.Offset, rw.offsetSet = uint32(v), true
			}
			if t == TypePartitionTable {
				break
			}
			if fields[4] == "" {
				return nil, bad("the Size field is empty")
			}
			v, err := parseNumber(fields[4])
			if err != nil {
				return nil, bad("size %q: %v", fields[4], err)
			}
			if v == 0 || v > 0xFFFFFFFF || v < -0xFFFFFFFF {
				return nil, bad("size %q is outside 1..0xFFFFFFFF (or -1..-0xFFFFFFFF for \"up to\")", fields[4])
			}
			rw.size = v
		}

		for _, f := range strings.Split(fields[5], ":") {
			switch strings.ToLower(strings.TrimSpace(f)) {
			case "":
			case "encrypted":
				p.Encrypted = true
			case "readonly":
				p.ReadOnly = true
			default:
				return nil, bad("unknown flag %q: use encrypted, readonly or both as encrypted:readonly", strings.TrimSpace(f))
			}
		}
		p.fillNames()
		rows = append(rows, rw)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("partition CSV has no partitions")
	}

	// Fill in offsets and "up to" sizes in table order (gen_esp32part.py
	// PartitionTable.from_csv).
	lastEnd := int64(PartitionTableOffset + PartitionTableSize)
	for i := range rows {
		rw := &rows[i]
		if rw.fixedLayout {
			rw.p.Size = uint32(rw.size)
			continue
		}
		if rw.offsetSet && int64(rw.p.Offset) < lastEnd {
			if i == 0 {
				return nil, fmt.Errorf("line %d: partitions overlap: offset 0x%X is inside the partition table's sector; use 0x%X or higher",
					rw.line, rw.p.Offset, lastEnd)
			}
			return nil, fmt.Errorf("line %d: partitions overlap: offset 0x%X is below the end of the previous partition (0x%X); use 0x%X or higher",
				rw.line, rw.p.Offset, lastEnd, lastEnd)
		}
		if !rw.offsetSet {
			a := int64(offsetAlign(rw.p.Type))
			lastEnd = (lastEnd + a - 1) / a * a
			if lastEnd > 0xFFFFFFFF {
				return nil, fmt.Errorf("line %d: the computed offset 0x%X is beyond 4 GiB", rw.line, lastEnd)
			}
			rw.p.Offset = uint32(lastEnd)
		}
		size := rw.size
		if size < 0 {
			size = -size - int64(rw.p.Offset)
			if size <= 0 {
				return nil, fmt.Errorf("line %d: size -0x%X means \"up to 0x%X\", but the partition starts at 0x%X", rw.line, -rw.size, -rw.size, rw.p.Offset)
			}
		}
		if int64(rw.p.Offset)+size > 1<<32 {
			return nil, fmt.Errorf("line %d: the partition ends at 0x%X, beyond 4 GiB", rw.line, int64(rw.p.Offset)+size)
		}
		rw.p.Size = uint32(size)
		lastEnd = int64(rw.p.Offset) + size
	}

	t := &PartitionTable{Partitions: make([]Partition, len(rows))}
	lines := make([]int, len(rows))
	for i, rw := range rows {
		t.Partitions[i], lines[i] = rw.p, rw.line
	}
	if err := t.validate(0, lines); err != nil {
		return nil, err
	}
	return t, nil
}

// envVar is what gen_esp32part.py would expand from the environment.
var envVar = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*`)

func keyword(s string, names []struct {
	name string
	v    byte
}) (byte, bool) {
	s = strings.ToLower(s)
	for _, kv := range names {
		if kv.name == s {
			return kv.v, true
		}
	}
	return 0, false
}

// parseNumber reads gen_esp32part.py's integers: Python int(s, 0) —
// decimal without leading zeros, 0x/0o/0b prefixes, '_' between digits, a
// sign — with an optional K or M suffix (any case).
func parseNumber(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 {
		return 0, fmt.Errorf("not a number")
	}
	if len(digits) > 1 && digits[0] == '0' {
		switch digits[1] {
		case 'x', 'X', 'o', 'O', 'b', 'B':
		default:
			// Python rejects "010"; Go would read it as octal.
			if strings.Trim(digits, "0_") != "" {
				return 0, fmt.Errorf("not a number (decimal numbers cannot start with 0; write 0x… for hex)")
			}
		}
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number (use decimal, 0x…, or a K/M suffix)")
	}
	if v > (1<<62)/mult || v < -(1<<62)/mult {
		return 0, fmt.Errorf("number too large")
	}
	return v * mult, nil
}

// CSV writes the table in gen_esp32part.py's CSV syntax, columns aligned,
// offsets in hex and sizes with K/M suffixes where they divide evenly.
// ParseCSV reads it back to the same table when the table is valid.
func (t *PartitionTable) CSV() string {
	rows := [][]string{{"# Name", "Type", "SubType", "Offset", "Size", "Flags"}}
	for _, p := range t.Partitions {
		size := fmt.Sprintf("0x%X", p.Size)
		switch {
		case p.Size != 0 && p.Size%(1<<20) == 0:
			size = fmt.Sprintf("%dM", p.Size>>20)
		case p.Size != 0 && p.Size%1024 == 0:
			size = fmt.Sprintf("%dK", p.Size>>10)
		}
		rows = append(rows, []string{p.Label, typeText(p.Type), subtypeText(p.Type, p.SubType), fmt.Sprintf("0x%X", p.Offset), size, p.flags()})
	}
	width := make([]int, 5)
	for _, r := range rows {
		for i := range width {
			width[i] = max(width[i], len(r[i])+1)
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i < len(width) {
				c += ","
				b.WriteString(c)
				b.WriteString(strings.Repeat(" ", width[i]+1-len(c)))
			} else {
				b.WriteString(c)
			}
		}
		b.WriteString("\n")
	}
	// Drop the alignment spaces trailing rows without flags.
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

// Package ihex owns the Intel HEX format as esptool uses it: reading a
// .hex file into the runs of bytes it places in flash (write-flash and
// merge-bin accept such files, whose addresses come from the file), and
// writing runs out as records (merge-bin --format hex).
//
// Records (Intel, "Hexadecimal Object File Format Specification" rev. A,
// 1988): ':' count(1) address(2) type(1) data checksum(1), all as hex
// digits; the checksum makes the record's bytes sum to 0 mod 256. Types:
// 00 data, 01 end of file, 02 extended segment address (base = value ×
// 16), 03 start segment address, 04 extended linear address (base =
// value << 16), 05 start linear address.
package ihex

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Segment is a run of contiguous bytes at an address.
type Segment struct {
	Addr uint32
	Data []byte
}

// maxBytes bounds what one file may place (esptool targets flash of at
// most 128 MB; a file claiming more is not firmware).
const maxBytes = 128 << 20

// Looks reports whether data starts like an Intel HEX file (esptool's
// test: the first byte is ':').
func Looks(data []byte) bool { return len(data) > 0 && data[0] == ':' }

// Parse reads an Intel HEX file into its segments in address order:
// contiguous bytes form one segment, a gap starts the next (esptool's
// _split_intel_hex_file). Errors name the line and what is wrong.
func Parse(data []byte) ([]Segment, error) {
	var (
		base   uint32
		bytesN int
		eof    bool
		chunks []Segment
		seen   = map[uint32]int{} // address → line, for overlap messages
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), 1024)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if eof {
			return nil, fmt.Errorf("line %d: data after the end-of-file record", line)
		}
		rec, err := decodeRecord(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch rec.typ {
		case 0x00:
			addr := uint64(base) + uint64(rec.addr)
			if addr+uint64(len(rec.data)) > 1<<32 {
				return nil, fmt.Errorf("line %d: data at 0x%X runs past 4 GiB", line, addr)
			}
			if bytesN += len(rec.data); bytesN > maxBytes {
				return nil, fmt.Errorf("line %d: the file places more than %d MB: not a flash image", line, maxBytes>>20)
			}
			if len(rec.data) > 0 {
				if l, dup := seen[uint32(addr)]; dup {
					return nil, fmt.Errorf("line %d: address 0x%X was already given data on line %d", line, addr, l)
				}
				seen[uint32(addr)] = line
				chunks = append(chunks, Segment{Addr: uint32(addr), Data: rec.data})
			}
		case 0x01:
			eof = true
		case 0x02:
			if len(rec.data) != 2 {
				return nil, fmt.Errorf("line %d: extended segment address record needs 2 data bytes, has %d", line, len(rec.data))
			}
			base = (uint32(rec.data[0])<<8 | uint32(rec.data[1])) << 4
		case 0x04:
			if len(rec.data) != 2 {
				return nil, fmt.Errorf("line %d: extended linear address record needs 2 data bytes, has %d", line, len(rec.data))
			}
			base = (uint32(rec.data[0])<<8 | uint32(rec.data[1])) << 16
		case 0x03, 0x05:
			// Start addresses mean nothing to flash.
		default:
			return nil, fmt.Errorf("line %d: unknown record type %02X (want 00–05)", line, rec.typ)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %v (records are at most 255 data bytes)", line+1, err)
	}
	if !eof {
		return nil, fmt.Errorf("no end-of-file record (:00000001FF): the file is truncated")
	}
	return merge(chunks)
}

type record struct {
	typ  byte
	addr uint16
	data []byte
}

func decodeRecord(s string) (record, error) {
	if s[0] != ':' {
		return record{}, fmt.Errorf("record does not start with ':'")
	}
	raw, err := hex.DecodeString(s[1:])
	if err != nil {
		return record{}, fmt.Errorf("not hexadecimal: %v", err)
	}
	if len(raw) < 5 {
		return record{}, fmt.Errorf("record too short (%d bytes)", len(raw))
	}
	n := int(raw[0])
	if len(raw) != n+5 {
		return record{}, fmt.Errorf("record says %d data bytes but holds %d", n, len(raw)-5)
	}
	var sum byte
	for _, b := range raw {
		sum += b
	}
	if sum != 0 {
		return record{}, fmt.Errorf("checksum %02X is wrong (should be %02X)", raw[len(raw)-1], raw[len(raw)-1]-sum)
	}
	return record{typ: raw[3], addr: uint16(raw[1])<<8 | uint16(raw[2]), data: raw[4 : 4+n]}, nil
}

// merge sorts chunks and joins the contiguous ones; overlapping ranges
// (not caught by the start-address check) are an error.
func merge(chunks []Segment) ([]Segment, error) {
	sort.SliceStable(chunks, func(i, j int) bool { return chunks[i].Addr < chunks[j].Addr })
	var out []Segment
	for _, c := range chunks {
		if n := len(out); n > 0 {
			last := &out[n-1]
			end := uint64(last.Addr) + uint64(len(last.Data))
			switch {
			case uint64(c.Addr) < end:
				return nil, fmt.Errorf("data at 0x%X overlaps data given for 0x%X..0x%X", c.Addr, last.Addr, end-1)
			case uint64(c.Addr) == end:
				last.Data = append(last.Data, c.Data...)
				continue
			}
		}
		out = append(out, Segment{Addr: c.Addr, Data: append([]byte(nil), c.Data...)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the file holds no data records")
	}
	return out, nil
}

// Write writes segments as Intel HEX: 16 data bytes per record (what
// Python's intelhex, which esptool uses, writes), an extended linear
// address record whenever the upper 16 address bits change, and the
// end-of-file record.
func Write(w io.Writer, segs []Segment) error {
	bw := bufio.NewWriter(w)
	upper := -1
	for _, s := range segs {
		for off := 0; off < len(s.Data); {
			addr := uint64(s.Addr) + uint64(off)
			if addr >= 1<<32 {
				return fmt.Errorf("segment at 0x%X runs past 4 GiB", s.Addr)
			}
			if int(addr>>16) != upper {
				upper = int(addr >> 16)
				writeRecord(bw, 0, 0x04, []byte{byte(upper >> 8), byte(upper)})
			}
			// A record stays inside its 64 KiB page.
			n := min(16, len(s.Data)-off, int(0x10000-addr&0xFFFF))
			writeRecord(bw, uint16(addr), 0x00, s.Data[off:off+n])
			off += n
		}
	}
	writeRecord(bw, 0, 0x01, nil)
	return bw.Flush()
}

func writeRecord(w *bufio.Writer, addr uint16, typ byte, data []byte) {
	raw := append([]byte{byte(len(data)), byte(addr >> 8), byte(addr), typ}, data...)
	var sum byte
	for _, b := range raw {
		sum += b
	}
	raw = append(raw, -sum)
	w.WriteByte(':')
	w.WriteString(strings.ToUpper(hex.EncodeToString(raw)))
	w.WriteByte('\n')
}

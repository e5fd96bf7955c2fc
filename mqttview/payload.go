package mqttview

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PayloadKind says how a payload is best shown.
type PayloadKind string

const (
	KindEmpty  PayloadKind = "empty"
	KindJSON   PayloadKind = "json"
	KindText   PayloadKind = "text"
	KindBinary PayloadKind = "binary"
)

// Classify picks JSON, text (valid UTF-8 without control characters other
// than tab and newlines) or binary: binary payloads are shown as hex so
// that nothing a board sends can scramble the terminal.
func Classify(p []byte) PayloadKind {
	if len(p) == 0 {
		return KindEmpty
	}
	if !utf8.Valid(p) {
		return KindBinary
	}
	for _, r := range string(p) {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return KindBinary
		}
	}
	if json.Valid(p) {
		return KindJSON
	}
	return KindText
}

// FormatPayload renders p for a human: pretty-printed JSON (one line when
// oneLine), text as is, binary as hex. Long payloads are cut at max bytes
// of output (0: no cut) with a note of the full size.
func FormatPayload(p []byte, oneLine bool, max int) string {
	var s string
	switch Classify(p) {
	case KindEmpty:
		return "(empty)"
	case KindJSON:
		var b bytes.Buffer
		if oneLine {
			if json.Compact(&b, p) == nil {
				s = b.String()
			}
		} else if json.Indent(&b, p, "", "  ") == nil {
			s = b.String()
		}
		if s == "" {
			s = string(p)
		}
	case KindText:
		s = string(p)
		if oneLine {
			s = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(s)
		}
	case KindBinary:
		n := len(p)
		if max > 0 && n*3 > max {
			n = max / 3
		}
		s = "hex:" + spacedHex(p[:n])
		if n < len(p) {
			return fmt.Sprintf("%s … (%d bytes)", s, len(p))
		}
		return s
	}
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%s … (%d bytes)", s[:cut], len(p))
	}
	return s
}

func spacedHex(p []byte) string {
	h := hex.EncodeToString(p)
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Leaf is one scalar of a JSON payload, named by its path: "env.temp",
// "readings[2]", or "" for a payload that is a bare scalar.
type Leaf struct {
	Path  string
	Value any // float64, string, bool or nil
}

// maxLeaves and maxDepth bound the work one payload can cause.
const (
	maxLeaves = 4096
	maxDepth  = 32
)

// Leaves flattens a JSON payload into its scalars, sorted by path. A
// payload that is not JSON has no leaves.
func Leaves(p []byte) ([]Leaf, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("not JSON: more than one value")
	}
	var out []Leaf
	var walk func(path string, v any, depth int) error
	walk = func(path string, v any, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
		}
		if len(out) >= maxLeaves {
			return fmt.Errorf("more than %d values in one payload", maxLeaves)
		}
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if err := walk(p, v[k], depth+1); err != nil {
					return err
				}
			}
		case []any:
			for i, e := range v {
				if err := walk(path+"["+strconv.Itoa(i)+"]", e, depth+1); err != nil {
					return err
				}
			}
		case json.Number:
			f, err := v.Float64()
			if err != nil || math.IsInf(f, 0) {
				// Out of float64 range: keep the digits as text.
				out = append(out, Leaf{Path: path, Value: v.String()})
			} else {
				out = append(out, Leaf{Path: path, Value: f})
			}
		default:
			out = append(out, Leaf{Path: path, Value: v})
		}
		return nil
	}
	if err := walk("", v, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// Numbers flattens the numeric fields of a JSON payload into named values
// ({"env":{"t":21.5}} → env.t = 21.5), the series a chart draws. Booleans
// count as 0/1; strings are ignored unless they hold a plain number.
func Numbers(p []byte) (map[string]float64, error) {
	leaves, err := Leaves(p)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64)
	for _, l := range leaves {
		switch v := l.Value.(type) {
		case float64:
			out[l.Path] = v
		case bool:
			if v {
				out[l.Path] = 1
			} else {
				out[l.Path] = 0
			}
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				out[l.Path] = f
			}
		}
	}
	return out, nil
}

// Change is one difference between two consecutive payloads.
type Change struct {
	Path string `json:"path"`
	Op   string `json:"op"` // "added", "removed", "changed"
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// Diff compares two payloads field by field when both are JSON, else as a
// whole (path "").
func Diff(prev, cur []byte) []Change {
	a, errA := Leaves(prev)
	b, errB := Leaves(cur)
	if errA != nil || errB != nil {
		if bytes.Equal(prev, cur) {
			return nil
		}
		return []Change{{Op: "changed", Old: FormatPayload(prev, true, 80), New: FormatPayload(cur, true, 80)}}
	}
	old := make(map[string]any, len(a))
	for _, l := range a {
		old[l.Path] = l.Value
	}
	var out []Change
	seen := make(map[string]bool, len(b))
	for _, l := range b {
		seen[l.Path] = true
		o, ok := old[l.Path]
		switch {
		case !ok:
			out = append(out, Change{Path: l.Path, Op: "added", New: l.Value})
		case o != l.Value:
			out = append(out, Change{Path: l.Path, Op: "changed", Old: o, New: l.Value})
		}
	}
	for _, l := range a {
		if !seen[l.Path] {
			out = append(out, Change{Path: l.Path, Op: "removed", Old: l.Value})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

package firmware

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The strict JSON reader behind config.json (and ParsePayload).
//
// The board parses config.json with ArduinoJson, which is lenient: it takes
// single quotes, unquoted keys and duplicate keys (the last one wins). The
// tool and the reference firmware must reject the same files, so both run
// this reader's rules first (the sketch's ib_json.cpp is the same
// algorithm; the vectors under testdata/config hold both to it):
//
//   - RFC 8259 syntax, UTF-8 text, at most MaxJSONDepth nested containers;
//   - no duplicate keys in an object;
//   - no "\u0000" escape and no lone UTF-16 surrogate escape (C strings on
//     the board cannot hold them; ArduinoJson would cut the string short);
//   - nothing but white space after the top-level value.

// MaxJSONDepth bounds nesting (config.json needs 3 levels).
const MaxJSONDepth = 8

// jsonKind is the type of a jsonValue.
type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// jsonValue is one parsed value; objects keep their members in order.
type jsonValue struct {
	kind    jsonKind
	b       bool
	num     string // the literal, as written
	str     string
	arr     []*jsonValue
	members []jsonMember
}

type jsonMember struct {
	key string
	val *jsonValue
}

// get returns the member named key, or nil.
func (v *jsonValue) get(key string) *jsonValue {
	for _, m := range v.members {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// isInteger reports whether a number literal is written as an integer (no
// fraction, no exponent). ArduinoJson stores such literals as integers and
// everything else as floating point, so is<int>() on the board agrees.
func (v *jsonValue) isInteger() bool {
	for i := 0; i < len(v.num); i++ {
		if c := v.num[i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// JSONSyntaxError is a file that is not strict JSON.
type JSONSyntaxError struct {
	Offset int
	Msg    string
}

func (e *JSONSyntaxError) Error() string {
	return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg)
}

type jsonParser struct {
	s   string
	p   int
	err *JSONSyntaxError
}

// parseJSON parses data strictly (rules above).
func parseJSON(data []byte) (*jsonValue, error) {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, &JSONSyntaxError{i, "not UTF-8 text: save the file as UTF-8"}
			}
			i += n
		}
	}
	ps := &jsonParser{s: string(data)}
	ps.space()
	v := ps.value(0)
	if ps.err != nil {
		return nil, ps.err
	}
	ps.space()
	if ps.p < len(ps.s) {
		return nil, &JSONSyntaxError{ps.p, "unexpected text after the end of the JSON value"}
	}
	return v, nil
}

func (ps *jsonParser) fail(msg string) *jsonValue {
	if ps.err == nil {
		ps.err = &JSONSyntaxError{ps.p, msg}
	}
	return nil
}

func (ps *jsonParser) space() {
	for ps.p < len(ps.s) {
		switch ps.s[ps.p] {
		case ' ', '\t', '\n', '\r':
			ps.p++
		default:
			return
		}
	}
}

func (ps *jsonParser) value(depth int) *jsonValue {
	if ps.p >= len(ps.s) {
		return ps.fail("unexpected end of the file: the JSON is cut short")
	}
	switch c := ps.s[ps.p]; {
	case c == '{':
		return ps.object(depth + 1)
	case c == '[':
		return ps.array(depth + 1)
	case c == '"':
		s, ok := ps.str()
		if !ok {
			return nil
		}
		return &jsonValue{kind: jsonString, str: s}
	case c == '-' || (c >= '0' && c <= '9'):
		return ps.number()
	case c == 't':
		return ps.literal("true", &jsonValue{kind: jsonBool, b: true})
	case c == 'f':
		return ps.literal("false", &jsonValue{kind: jsonBool})
	case c == 'n':
		return ps.literal("null", &jsonValue{kind: jsonNull})
	case c == '\'':
		return ps.fail("strings take double quotes (\"), not single quotes")
	}
	return ps.fail(fmt.Sprintf("unexpected character %q: expected a JSON value", ps.s[ps.p]))
}

func (ps *jsonParser) literal(word string, v *jsonValue) *jsonValue {
	if len(ps.s)-ps.p < len(word) || ps.s[ps.p:ps.p+len(word)] != word {
		return ps.fail("unknown word: JSON values are strings in double quotes, numbers, true, false or null")
	}
	ps.p += len(word)
	return v
}

func (ps *jsonParser) number() *jsonValue {
	start := ps.p
	digits := func() int {
		n := 0
		for ps.p < len(ps.s) && ps.s[ps.p] >= '0' && ps.s[ps.p] <= '9' {
			ps.p++
			n++
		}
		return n
	}
	if ps.s[ps.p] == '-' {
		ps.p++
	}
	if ps.p < len(ps.s) && ps.s[ps.p] == '0' {
		ps.p++
		if ps.p < len(ps.s) && ps.s[ps.p] >= '0' && ps.s[ps.p] <= '9' {
			return ps.fail("numbers cannot have leading zeros")
		}
	} else if digits() == 0 {
		return ps.fail("malformed number: a digit must follow '-'")
	}
	if ps.p < len(ps.s) && ps.s[ps.p] == '.' {
		ps.p++
		if digits() == 0 {
			return ps.fail("malformed number: digits must follow '.'")
		}
	}
	if ps.p < len(ps.s) && (ps.s[ps.p] == 'e' || ps.s[ps.p] == 'E') {
		ps.p++
		if ps.p < len(ps.s) && (ps.s[ps.p] == '+' || ps.s[ps.p] == '-') {
			ps.p++
		}
		if digits() == 0 {
			return ps.fail("malformed number: digits must follow the exponent")
		}
	}
	return &jsonValue{kind: jsonNumber, num: ps.s[start:ps.p]}
}

func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:4], 16, 16)
	return rune(n), err == nil
}

// str reads a string starting at the opening quote.
func (ps *jsonParser) str() (string, bool) {
	ps.p++
	var b []byte
	for {
		if ps.p >= len(ps.s) {
			ps.fail("unterminated string: close it with '\"'")
			return "", false
		}
		c := ps.s[ps.p]
		switch {
		case c == '"':
			ps.p++
			return string(b), true
		case c < 0x20:
			ps.fail("control character inside a string: write it as an escape (\\n, \\t, \\u00XX)")
			return "", false
		case c != '\\':
			b = append(b, c)
			ps.p++
			continue
		}
		if ps.p+1 >= len(ps.s) {
			ps.fail("unterminated string: close it with '\"'")
			return "", false
		}
		e := ps.s[ps.p+1]
		ps.p += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(ps.s[ps.p:])
			if !ok {
				ps.p -= 2
				ps.fail("\\u must be followed by 4 hex digits")
				return "", false
			}
			ps.p += 4
			if r == 0 {
				ps.p -= 6
				ps.fail("\\u0000 is not allowed: the board's C strings cannot hold a NUL character")
				return "", false
			}
			if r >= 0xDC00 && r <= 0xDFFF {
				ps.p -= 6
				ps.fail("lone UTF-16 low surrogate escape: write the character itself or a full surrogate pair")
				return "", false
			}
			if r >= 0xD800 && r <= 0xDBFF {
				var lo rune
				ok := ps.p+1 < len(ps.s) && ps.s[ps.p] == '\\' && ps.s[ps.p+1] == 'u'
				if ok {
					lo, ok = hex4(ps.s[ps.p+2:])
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					ps.p -= 6
					ps.fail("lone UTF-16 high surrogate escape: write the character itself or a full surrogate pair")
					return "", false
				}
				ps.p += 6
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			b = utf8.AppendRune(b, r)
		default:
			ps.p -= 2
			ps.fail(fmt.Sprintf("unknown escape \\%c: JSON knows \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX", e))
			return "", false
		}
	}
}

func (ps *jsonParser) array(depth int) *jsonValue {
	if depth > MaxJSONDepth {
		return ps.fail(fmt.Sprintf("nested more than %d levels deep", MaxJSONDepth))
	}
	ps.p++
	v := &jsonValue{kind: jsonArray, arr: []*jsonValue{}}
	ps.space()
	if ps.p < len(ps.s) && ps.s[ps.p] == ']' {
		ps.p++
		return v
	}
	for {
		ps.space()
		e := ps.value(depth)
		if e == nil {
			return nil
		}
		v.arr = append(v.arr, e)
		ps.space()
		if ps.p >= len(ps.s) {
			return ps.fail("unexpected end of the file: close the array with ']'")
		}
		switch ps.s[ps.p] {
		case ',':
			ps.p++
		case ']':
			ps.p++
			return v
		default:
			return ps.fail("expected ',' or ']' after an array element")
		}
	}
}

func (ps *jsonParser) object(depth int) *jsonValue {
	if depth > MaxJSONDepth {
		return ps.fail(fmt.Sprintf("nested more than %d levels deep", MaxJSONDepth))
	}
	ps.p++
	v := &jsonValue{kind: jsonObject, members: []jsonMember{}}
	ps.space()
	if ps.p < len(ps.s) && ps.s[ps.p] == '}' {
		ps.p++
		return v
	}
	for {
		ps.space()
		if ps.p >= len(ps.s) {
			return ps.fail("unexpected end of the file: close the object with '}'")
		}
		if ps.s[ps.p] != '"' {
			return ps.fail("expected a key in double quotes")
		}
		at := ps.p
		k, ok := ps.str()
		if !ok {
			return nil
		}
		if v.get(k) != nil {
			ps.p = at
			return ps.fail(fmt.Sprintf("key %q appears twice in the same object: keep one", k))
		}
		ps.space()
		if ps.p >= len(ps.s) || ps.s[ps.p] != ':' {
			return ps.fail("expected ':' after the key")
		}
		ps.p++
		ps.space()
		e := ps.value(depth)
		if e == nil {
			return nil
		}
		v.members = append(v.members, jsonMember{k, e})
		ps.space()
		if ps.p >= len(ps.s) {
			return ps.fail("unexpected end of the file: close the object with '}'")
		}
		switch ps.s[ps.p] {
		case ',':
			ps.p++
		case '}':
			ps.p++
			return v
		default:
			return ps.fail("expected ',' or '}' after an object member")
		}
	}
}

// appendJSONString writes s as a JSON string: '"' and '\' escaped,
// control characters as \n \r \t or \u00XX, everything else (UTF-8
// included) as is. The sketch's writer does the same.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, fmt.Sprintf("\\u%04x", c)...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

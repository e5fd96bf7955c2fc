package decode

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/iotbench/iotbench/firmware"
)

// Sample is one numeric value taken from a log line, for the plotter.
type Sample struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// maxSamples caps the samples taken from one line.
const maxSamples = 64

// Series extracts the measurements of one line; it is SeriesParser.Line
// without memory, so CSV columns are always named c0, c1, ….
func Series(line string) []Sample {
	var p SeriesParser
	return p.Line(line)
}

// SeriesParser extracts measurements from log lines, remembering the last
// CSV header line. The zero value is ready to use; not safe for concurrent use.
//
// What counts as a measurement, in this order:
//
//  1. Device lines are not measurements: ROM banners and loader traces,
//     eboot and SDK start-up lines, SDK Wi-Fi debug lines, crash reports
//     (registers, stack rows, backtraces, register dumps) give no samples.
//  2. An #IB status line gives its numeric fields, named "<event>.<key>"
//     ("heap.free", "wifi.rssi", "ntp.waited_ms"), except fields that are
//     codes or identifiers, not measurements: ok, synced, status, state,
//     connack, reason, code, err, mfln, flash, epoch, chip, ver, core.
//  3. A CSV line — only numbers separated by commas, semicolons, tabs or
//     spaces, as the Arduino Serial Plotter accepts — gives one sample per
//     column, named c0, c1, … or, when the last header line had as many
//     columns, by that header.
//  4. A header line — two or more names (letters, digits, _ . -, starting
//     with a letter or _) separated by commas, semicolons or tabs — gives no
//     samples and names the columns of the CSV lines that follow.
//  5. Any other line gives its key=value and key:value pairs (also JSON's
//     "key":value), key first: a name starting with a letter or _, then =
//     or :, optional spaces, and a decimal number with optional sign,
//     fraction and exponent, optionally followed by a unit made of letters,
//     % or / ("21.5C", "-61dBm", "42%"). The value must end the token.
//     Hexadecimal values (0x…, addresses), version numbers and IP addresses
//     (1.2.3), clock times (10:15:42) are therefore not samples; neither
//     are keys naming timestamps or identifiers: epoch, ts, timestamp,
//     time, date, millis, chip, chipid, mac, ip, id, ver, version, pin,
//     port (case-insensitive).
//
// Samples whose value is not finite are dropped; at most 64 per line.
type SeriesParser struct {
	header []string
}

var (
	reSDKWiFi    = regexp.MustCompile(`^(state: \d+ -> \d+.*|pm open,type:\d+ \d+|rm \d+|scandone|bcn_timout|reconnect|dhcp client start\.\.\.|wifi evt: \d+|STA disconnect: \d+)$`)
	reHeaderCell = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)
)

var deniedKeys = map[string]bool{
	"epoch": true, "ts": true, "timestamp": true, "time": true, "date": true, "millis": true,
	"chip": true, "chipid": true, "mac": true, "ip": true, "id": true, "ver": true,
	"version": true, "pin": true, "port": true,
}

var ibNotMeasured = map[string]bool{
	firmware.KeyOK: true, firmware.KeySynced: true, firmware.KeyStatus: true, firmware.KeyState: true,
	firmware.KeyConnack: true, firmware.KeyReason: true, firmware.KeyCode: true, firmware.KeyErr: true,
	firmware.KeyMFLN: true, firmware.KeyFlash: true, firmware.KeyEpoch: true, firmware.KeyChip: true,
	firmware.KeyVer: true, firmware.KeyCore: true,
}

// Line returns the samples of one line (see SeriesParser).
func (p *SeriesParser) Line(line string) []Sample {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > maxLineLen {
		line = line[:maxLineLen]
	}
	t := strings.TrimSpace(line)
	if t == "" || isDeviceLine(t) {
		return nil
	}
	if s, ok, err := firmware.ParseStatus(t); ok {
		if err != nil {
			return nil
		}
		var out []Sample
		for _, f := range s.Fields {
			if ibNotMeasured[f.Key] || len(out) >= maxSamples {
				continue
			}
			if v, ok := wholeNumber(f.Value); ok {
				out = append(out, Sample{s.Event + "." + f.Key, v})
			}
		}
		return out
	}
	if vals, ok := csvNumbers(t); ok {
		names := p.header
		if len(names) != len(vals) {
			names = nil
		}
		out := make([]Sample, 0, len(vals))
		for i, v := range vals {
			name := "c" + strconv.Itoa(i)
			if names != nil {
				name = names[i]
			}
			out = append(out, Sample{name, v})
		}
		return out
	}
	if h := headerCells(t); h != nil {
		p.header = h
		return nil
	}
	return keyValues(t)
}

// isDeviceLine reports lines of the ROM, boot loaders, SDK and crash
// reports, which hold numbers that are not measurements.
func isDeviceLine(t string) bool {
	if strings.Contains(t, "rst") && (reBanner8266.MatchString(t) || reRst32.MatchString(t)) {
		return true
	}
	for _, re := range []*regexp.Regexp{reROMID32, reLoad8266, reTrace8266, reRegs, reStackRow, reSP, reCtx,
		reException, reSDKFatal, reResetInfo, reBacktrace, reRegLine, reGuru, reHexDump, reAlloc, reAllocCall,
		reEbootVer, reEboot, reSDK, reSDKWiFi, reAbort32, reROMHalt} {
		if re.MatchString(t) {
			return true
		}
	}
	return isLoader32Line(t)
}

// csvSep splits a CSV line: commas, semicolons, tabs and spaces.
func csvSep(r rune) bool { return r == ',' || r == ';' || r == '\t' || r == ' ' }

func csvNumbers(t string) ([]float64, bool) {
	cells := strings.FieldsFunc(t, csvSep)
	if len(cells) == 0 || len(cells) > maxSamples {
		return nil, false
	}
	vals := make([]float64, 0, len(cells))
	for _, c := range cells {
		v, ok := wholeNumber(c)
		if !ok {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}

func headerCells(t string) []string {
	cells := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ';' || r == '\t' })
	if len(cells) < 2 || len(cells) > maxSamples {
		return nil
	}
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if !reHeaderCell.MatchString(c) {
			return nil
		}
		cells[i] = c
	}
	return cells
}

// wholeNumber parses s when all of it is one decimal number.
func wholeNumber(s string) (float64, bool) {
	v, end, ok := scanNumber(s, 0)
	if !ok || end != len(s) {
		return 0, false
	}
	return v, true
}

// scanNumber reads a decimal number at s[i:]: [+-] digits [. digits]
// [e [+-] digits]. It refuses hexadecimal (0x) and returns the end offset.
func scanNumber(s string, i int) (float64, int, bool) {
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
		return 0, i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, i, false
	}
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if s[j] == '+' || s[j] == '-' {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	v, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, i, false
	}
	return v, i, true
}

func isKeyStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isKeyChar(c byte) bool {
	return isKeyStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'
}

func isUnitChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%' || c == '/'
}

func isValueEnd(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	switch s[i] {
	case ' ', '\t', ',', ';', ')', '}', ']', '|', '"', '\'':
		return true
	}
	return false
}

// keyValues finds key=value / key:value pairs (see SeriesParser).
func keyValues(s string) []Sample {
	var out []Sample
	for i := 0; i < len(s) && len(out) < maxSamples; {
		var key string
		var j int
		switch {
		case s[i] == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end <= 0 {
				i++
				continue
			}
			key, j = s[i+1:i+1+end], i+end+2
			if !isKeyStart(key[0]) || strings.ContainsAny(key, " \t") {
				i = j
				continue
			}
		case isKeyStart(s[i]) && (i == 0 || !isKeyChar(s[i-1])):
			j = i + 1
			for j < len(s) && isKeyChar(s[j]) {
				j++
			}
			key = s[i:j]
		default:
			i++
			continue
		}
		k := j
		for k < len(s) && s[k] == ' ' {
			k++
		}
		if k >= len(s) || (s[k] != '=' && s[k] != ':') {
			i = j
			continue
		}
		k++
		for k < len(s) && s[k] == ' ' {
			k++
		}
		v, end, ok := scanNumber(s, k)
		if !ok {
			i = max(j, k)
			continue
		}
		u := end
		for u < len(s) && isUnitChar(s[u]) {
			u++
		}
		if strings.HasPrefix(s[u:], "°") { // a degree sign then the unit letter
			u += len("°")
			for u < len(s) && isUnitChar(s[u]) {
				u++
			}
		}
		if !isValueEnd(s, u) {
			i = u
			continue
		}
		if !deniedKeys[strings.ToLower(key)] {
			out = append(out, Sample{key, v})
		}
		i = u
	}
	return out
}

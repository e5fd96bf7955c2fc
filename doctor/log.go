package doctor

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxLogLine bounds one line of a saved log; longer ones are cut (the
// decoders look at the first 4 KiB of a line anyway).
const maxLogLine = 64 << 10

// ParseLog reads a saved serial log for diagnosis: what `iotbench monitor
// --log` writes ("[RFC 3339 time] line", with status lines "--- … ---" and
// decoder notes "⇢ …" that are skipped, and control bytes escaped as
// \xNN), or plain text such as a copy of a terminal or a raw capture
// (lines without a time get none). At most maxLines lines are kept, the
// last ones, since the end of a log is what explains its state.
func ParseLog(r io.Reader, maxLines int) ([]Line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	var out []Line
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimSuffix(sc.Text(), "\r")
		l, keep := parseLogLine(raw)
		if !keep {
			continue
		}
		out = append(out, l)
		if maxLines > 0 && len(out) > maxLines {
			out = out[len(out)-maxLines:]
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("line %d of the log is longer than %d KiB: is this a text log? (iotbench monitor --log writes one)", n+1, maxLogLine>>10)
		}
		return nil, err
	}
	return out, nil
}

func parseLogLine(s string) (Line, bool) {
	if strings.HasPrefix(strings.TrimLeft(s, " "), "⇢") {
		return Line{}, false // a decoder note, not something the board printed
	}
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "] "); end > 0 {
			if t, err := time.Parse(time.RFC3339Nano, s[1:end]); err == nil {
				text := s[end+2:]
				if strings.HasPrefix(text, "--- ") && strings.HasSuffix(text, " ---") {
					return Line{}, false // the monitor's own status
				}
				return Line{At: t, Text: unescape(text)}, true
			}
		}
	}
	return Line{Text: s}, true
}

// unescape reverses the monitor log's \xNN for the bytes it escapes
// (control characters and bytes that are not UTF-8); printable text is
// never escaped, so "\x41" stays as written.
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil && (v < 0x20 && v != '\t' || v >= 0x7F) {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

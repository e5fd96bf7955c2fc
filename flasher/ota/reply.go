package ota

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ReplyKind classifies a UDP datagram from the device (device-side.md §5.3).
type ReplyKind int

const (
	ReplyOK          ReplyKind = iota // invitation (and authentication) accepted
	ReplyAuth                         // "AUTH <nonce>": a password is required
	ReplyAuthFailed                   // "Authentication Failed"
	ReplyBeginFailed                  // "ERR: …": Update.begin refused the update
)

// Reply is one parsed UDP reply.
type Reply struct {
	Kind ReplyKind
	// Nonce is the challenge of a ReplyAuth, lower-case hex: 32 characters
	// (MD5, ESP8266 and arduino-esp32 before 3.3.1) or 64 (SHA-256,
	// arduino-esp32 3.3.1 and later).
	Nonce string
	// Message is the device's text after "ERR: " for ReplyBeginFailed.
	Message DeviceMessage
}

// DeviceMessage is an error text the device sent: the ESP8266 Updater's
// printError() form "ERROR[n]: text", or arduino-esp32's bare text.
type DeviceMessage struct {
	Code    UpdaterError // valid when HasCode
	HasCode bool
	Text    string // without "ERROR[n]: " and line ending
}

func (m DeviceMessage) String() string {
	if m.HasCode {
		return fmt.Sprintf("ERROR[%d]: %s", int(m.Code), m.Text)
	}
	return m.Text
}

// ErrMalformedReply is wrapped by the errors ParseReply returns.
var ErrMalformedReply = errors.New("malformed OTA reply")

const maxReplyText = 512

// ParseReply parses a UDP datagram from the device. ArduinoOTA sends "OK",
// "AUTH " + nonce (no line ending), "Authentication Failed", or "ERR: "
// followed by the Updater's printError() text (ArduinoOTA.cpp _onRx and
// _runUpdate; §5.1 steps 5–6). Trailing CR/LF and spaces are tolerated.
func ParseReply(b []byte) (Reply, error) {
	if len(b) > maxReplyText {
		return Reply{}, fmt.Errorf("%w: %d bytes, longer than any ArduinoOTA reply", ErrMalformedReply, len(b))
	}
	s := strings.TrimRight(string(b), "\r\n \x00")
	switch {
	case s == "OK":
		return Reply{Kind: ReplyOK}, nil
	case s == "Authentication Failed":
		return Reply{Kind: ReplyAuthFailed}, nil
	case strings.HasPrefix(s, "AUTH "):
		nonce := strings.TrimSpace(s[len("AUTH "):])
		if (len(nonce) != 32 && len(nonce) != 64) || !isLowerHex(nonce) {
			return Reply{}, fmt.Errorf("%w: AUTH challenge %q is not 32 or 64 lower-case hex digits", ErrMalformedReply, printable(nonce))
		}
		return Reply{Kind: ReplyAuth, Nonce: nonce}, nil
	case strings.HasPrefix(s, "ERR:"):
		return Reply{Kind: ReplyBeginFailed, Message: ParseDeviceMessage(strings.TrimLeft(s[len("ERR:"):], " "))}, nil
	}
	return Reply{}, fmt.Errorf("%w: %q", ErrMalformedReply, printable(s))
}

// ParseDeviceMessage splits "ERROR[n]: text" (the ESP8266 Updater's
// printError format, "%hhu" so n ≤ 255) into number and text; other text
// is kept whole without a number.
func ParseDeviceMessage(s string) DeviceMessage {
	s = strings.TrimRight(s, "\r\n ")
	if rest, ok := strings.CutPrefix(s, "ERROR["); ok {
		if i := strings.IndexByte(rest, ']'); i > 0 && i <= 3 {
			if n, err := strconv.Atoi(rest[:i]); err == nil && n >= 0 && n <= 255 && isDigits(rest[:i]) {
				text := strings.TrimPrefix(strings.TrimPrefix(rest[i+1:], ":"), " ")
				return DeviceMessage{Code: UpdaterError(n), HasCode: true, Text: printable(text)}
			}
		}
	}
	m := DeviceMessage{Text: printable(s)}
	// The doc's "ERR: Not Enough Space" form (older cores printed the text
	// alone): recover the number from the text.
	for n := UpdateWrite; n <= maxKnownUpdaterError; n++ {
		t := n.Text()
		if rest, ok := strings.CutPrefix(m.Text, t); ok && (rest == "" || rest[0] == ':' || rest[0] == ',') {
			m.Code, m.HasCode = n, true
			break
		}
	}
	return m
}

// ResultScanner reads the device's TCP stream during an upload: runs of
// decimal digits (the byte counts each Update.write() consumed, printed
// with no separator), then either "OK" or an error line (§5.1 steps 9–11,
// §5.3). Feed it what arrives; it never blocks.
type ResultScanner struct {
	acked   int64
	digits  []byte // digits not yet attributed to a count
	msg     []byte // text after the digits
	inMsg   bool
	done    bool
	ok      bool
	message DeviceMessage
}

// maxCountDigits bounds one byte count: Update.write() can consume at most
// what the TCP window holds, far below 10^7.
const maxCountDigits = 7

// Feed consumes bytes from the connection. sent is how many image bytes
// the host has written so far; the device cannot have consumed more, which
// is what lets the digit run be split into counts (see Acked).
func (s *ResultScanner) Feed(p []byte, sent int64) {
	for _, c := range p {
		if s.done {
			return
		}
		if !s.inMsg {
			if c >= '0' && c <= '9' {
				s.digits = append(s.digits, c)
				continue
			}
			s.inMsg = true
		}
		s.msg = append(s.msg, c)
		s.checkMessage(false)
	}
	s.splitCounts(sent)
}

// Close tells the scanner the connection ended; a pending text becomes the
// result. It reports whether a result (OK or error) was seen.
func (s *ResultScanner) Close() bool {
	if !s.done && s.inMsg {
		s.checkMessage(true)
	}
	return s.done
}

func (s *ResultScanner) checkMessage(eof bool) {
	switch {
	case bytes.HasPrefix(s.msg, []byte("OK")):
		s.done, s.ok = true, true
	case len(s.msg) == 1 && s.msg[0] == 'O' && !eof:
		// wait for the K
	case bytes.IndexByte(s.msg, '\n') >= 0 || len(s.msg) >= maxReplyText || eof:
		line := s.msg
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		s.done = true
		s.message = ParseDeviceMessage(string(line))
	}
}

// splitCounts turns the digit run into byte counts. The run is ambiguous
// ("14601460" is 1460+1460 or 14601+460), so each count is taken as the
// longest prefix that keeps the total within what was sent; a leading zero
// cannot start a count (the device never prints 0) and is dropped. A count
// that reaches the end of what has arrived may still be growing (TCP can
// split "1460" into "14" and "60"), so it waits for more bytes unless it
// makes the total equal to what was sent.
func (s *ResultScanner) splitCounts(sent int64) {
	for len(s.digits) > 0 {
		if s.digits[0] == '0' {
			s.digits = s.digits[1:]
			continue
		}
		took := 0
		var val int64
		for n := min(len(s.digits), maxCountDigits); n > 0; n-- {
			v, _ := strconv.ParseInt(string(s.digits[:n]), 10, 64)
			if s.acked+v <= sent {
				took, val = n, v
				break
			}
		}
		if took == 0 {
			return // the rest is a count whose bytes we have not sent yet: wait
		}
		if took == len(s.digits) && !s.inMsg && s.acked+val != sent {
			return
		}
		s.acked += val
		s.digits = s.digits[took:]
	}
}

// Acked estimates how many bytes the device has written: the sum of its
// byte counts, split as splitCounts describes. It never exceeds what was
// sent; the final OK is what confirms the whole image.
func (s *ResultScanner) Acked() int64 { return s.acked }

// Result reports whether the device finished (done) and how: ok for "OK",
// else the error message it sent.
func (s *ResultScanner) Result() (done, ok bool, msg DeviceMessage) {
	return s.done, s.ok, s.message
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// printable keeps device text safe to print: control bytes and invalid
// UTF-8 become '?' (a corrupt reply must not drive the user's terminal).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F || r == 0xFFFD {
			return '?'
		}
		return r
	}, s)
}

package ota

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The challenge answer as espota.py computes it, checked against Python's
// hashlib: md5(md5("s3cret") + ":" + nonce + ":" + cnonce), nonce =
// md5("12345678") as the device makes it from micros().
func TestAuthResponseMatchesEspota(t *testing.T) {
	if got := PasswordHash("s3cret"); got != "33e1b232a4e6fa0028a6670753749a17" {
		t.Fatalf("PasswordHash = %s", got)
	}
	nonce := MD5Hex([]byte("12345678"))
	if nonce != "25d55ad283aa400af464c76d713c07ad" {
		t.Fatalf("nonce %s", nonce)
	}
	got := AuthResponse(PasswordHash("s3cret"), nonce, "0123456789abcdef0123456789abcdef")
	if got != "d4fed9d53c02de99051ec26c2010f1cf" {
		t.Errorf("AuthResponse = %s", got)
	}
	if s := Invitation(CommandFS, 41234, 372480, nonce); s != "100 41234 372480 25d55ad283aa400af464c76d713c07ad\n" {
		t.Errorf("Invitation = %q", s)
	}
	if s := AuthReply("c", "r"); s != "200 c r\n" {
		t.Errorf("AuthReply = %q", s)
	}
}

func TestParseReply(t *testing.T) {
	nonce := "25d55ad283aa400af464c76d713c07ad"
	cases := []struct {
		in   string
		kind ReplyKind
		code UpdaterError
		text string
		err  bool
	}{
		{in: "OK", kind: ReplyOK},
		{in: "OK\r\n", kind: ReplyOK},
		{in: "AUTH " + nonce, kind: ReplyAuth},
		{in: "AUTH " + strings.Repeat("ab", 32), kind: ReplyAuth},
		{in: "Authentication Failed", kind: ReplyAuthFailed},
		// ESP8266 core 3.x: "ERR: " + printError().
		{in: "ERR: ERROR[4]: Not Enough Space\n", kind: ReplyBeginFailed, code: UpdateSpace, text: "Not Enough Space"},
		{in: "ERR: ERROR[11]: Invalid bootstrapping state, reset ESP8266 before updating\r\n", kind: ReplyBeginFailed, code: UpdateBootstrap, text: "Invalid bootstrapping state, reset ESP8266 before updating"},
		// The text alone, as device-side.md §5.1 quotes it.
		{in: "ERR: Not Enough Space", kind: ReplyBeginFailed, code: UpdateSpace, text: "Not Enough Space"},
		{in: "AUTH " + strings.ToUpper(nonce), err: true},
		{in: "AUTH 1234", err: true},
		{in: "HELLO", err: true},
		{in: "", err: true},
		{in: strings.Repeat("x", 600), err: true},
	}
	for _, c := range cases {
		r, err := ParseReply([]byte(c.in))
		if c.err {
			if err == nil || !errors.Is(err, ErrMalformedReply) {
				t.Errorf("%q: got %+v, %v; want a malformed-reply error", c.in, r, err)
			}
			continue
		}
		if err != nil || r.Kind != c.kind {
			t.Errorf("%q: got %+v, %v", c.in, r, err)
			continue
		}
		if c.kind == ReplyBeginFailed && (!r.Message.HasCode || r.Message.Code != c.code || r.Message.Text != c.text) {
			t.Errorf("%q: message %+v", c.in, r.Message)
		}
	}
}

func TestParseDeviceMessage(t *testing.T) {
	cases := []struct {
		in      string
		hasCode bool
		code    UpdaterError
		text    string
	}{
		{"ERROR[7]: MD5 verification failed: expected: aa, calculated: bb\n", true, UpdateMD5, "MD5 verification failed: expected: aa, calculated: bb"},
		{"ERROR[0]: No Error\n", true, UpdateOK, "No Error"},
		{"ERROR[255]: UNKNOWN", true, 255, "UNKNOWN"},
		{"ERROR[256]: x", false, 0, "ERROR[256]: x"},
		{"ERROR[-1]: x", false, 0, "ERROR[-1]: x"},
		{"MD5 Check Failed\r\n", false, 0, "MD5 Check Failed"}, // arduino-esp32
		{"new Flash config wrong, real size: 1048576", true, UpdateNewFlashConfig, "new Flash config wrong, real size: 1048576"},
		{"bad\x1b[2Jtext", false, 0, "bad?[2Jtext"},
	}
	for _, c := range cases {
		m := ParseDeviceMessage(c.in)
		if m.HasCode != c.hasCode || m.Code != c.code || m.Text != c.text {
			t.Errorf("%q: got %+v", c.in, m)
		}
	}
	if UpdaterError(99).Text() != "UNKNOWN" || UpdateMD5.Text() != "MD5 verification failed" || UpdaterError(-1).Fix() == "" {
		t.Error("Updater error table")
	}
}

func feedAll(sc *ResultScanner, chunks []string, sent int64) {
	for _, c := range chunks {
		sc.Feed([]byte(c), sent)
	}
}

func TestResultScanner(t *testing.T) {
	cases := []struct {
		name   string
		chunks []string
		sent   int64
		acked  int64
		done   bool
		ok     bool
		code   UpdaterError
	}{
		{"counts then OK", []string{"1460", "14602920", "OK"}, 5840, 5840, true, true, 0},
		{"OK split", []string{"1460O", "K"}, 1460, 1460, true, true, 0},
		{"counts only", []string{"146", "0"}, 2000, 0, false, false, 0},
		{"counts then text", []string{"146", "0", "\r"}, 2000, 1460, false, false, 0},
		// Which split of "12345" is right cannot be known; the total
		// never exceeds what was sent.
		{"ambiguous", []string{"12345E"}, 1500, 1234 + 5, false, false, 0},
		{"count may grow", []string{"14"}, 2920, 0, false, false, 0},
		{"count split by TCP", []string{"14", "60"}, 2920, 0, false, false, 0},
		{"count split, all acked", []string{"14", "60", "1460"}, 2920, 2920, false, false, 0},
		{"error line", []string{"4096ERROR[7]: MD5 verification failed: expected: a, calculated: b\n"}, 8192, 4096, true, false, UpdateMD5},
		{"error at EOF without newline", []string{"ERROR[0]: No Error"}, 100, 0, false, false, 0},
	}
	for _, c := range cases {
		var sc ResultScanner
		feedAll(&sc, c.chunks, c.sent)
		done, ok, msg := sc.Result()
		if done != c.done || ok != c.ok || sc.Acked() != c.acked || (done && !ok && msg.Code != c.code) {
			t.Errorf("%s: done %v ok %v acked %d msg %+v", c.name, done, ok, sc.Acked(), msg)
		}
	}
	var sc ResultScanner
	sc.Feed([]byte("ERROR[0]: No Error"), 10)
	if !sc.Close() {
		t.Fatal("EOF should end a pending error line")
	}
	if done, ok, msg := sc.Result(); !done || ok || !msg.HasCode || msg.Code != UpdateOK {
		t.Errorf("got %v %v %+v", done, ok, msg)
	}
	sc = ResultScanner{}
	sc.Feed([]byte("O"), 10)
	if sc.Close() {
		if _, ok, _ := sc.Result(); ok {
			t.Error("a lone O at EOF is not OK")
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"OK", "AUTH 25d55ad283aa400af464c76d713c07ad", "Authentication Failed",
		"ERR: ERROR[4]: Not Enough Space\n", "ERR: x", "ERROR[", "AUTH ", "\xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedReply) {
				t.Fatalf("error %v does not wrap ErrMalformedReply", err)
			}
			return
		}
		switch r.Kind {
		case ReplyAuth:
			if (len(r.Nonce) != 32 && len(r.Nonce) != 64) || !isLowerHex(r.Nonce) {
				t.Fatalf("nonce %q", r.Nonce)
			}
		case ReplyBeginFailed:
			checkPrintable(t, r.Message.Text)
		}
	})
}

func checkPrintable(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("text %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			t.Fatalf("text %q has control characters", s)
		}
	}
}

// FuzzResultScanner feeds a device stream in two pieces: the scanner must
// never count more than was sent, must find OK only where the stream has
// it, and must not depend on where TCP split the stream.
func FuzzResultScanner(f *testing.F) {
	for _, s := range []string{"14601460OK", "4096ERROR[7]: MD5 verification failed\n", "0000", "O", "12E", "99999999999OK"} {
		f.Add([]byte(s), uint8(3), int64(5000))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8, sent int64) {
		if sent < 0 {
			sent = -sent
		}
		var whole, split ResultScanner
		whole.Feed(b, sent)
		c := int(cut) % (len(b) + 1)
		split.Feed(b[:c], sent)
		split.Feed(b[c:], sent)
		for _, sc := range []*ResultScanner{&whole, &split} {
			if sc.Acked() > sent || sc.Acked() < 0 {
				t.Fatalf("acked %d of %d sent", sc.Acked(), sent)
			}
			sc.Close()
			done, ok, msg := sc.Result()
			if ok && !bytes.Contains(b, []byte("OK")) {
				t.Fatalf("OK found in %q", b)
			}
			if done && !ok {
				checkPrintable(t, msg.Text)
			}
		}
		d1, ok1, m1 := whole.Result()
		d2, ok2, m2 := split.Result()
		if d1 != d2 || ok1 != ok2 || m1 != m2 {
			t.Fatalf("split at %d changed the result: %v %v %+v vs %v %v %+v", c, d1, ok1, m1, d2, ok2, m2)
		}
	})
}

// arduino-esp32 sends its Update error as bare text: the uploader still
// names the fix for it, and an ESP8266 number keeps its own.
func TestDeviceMessageFix(t *testing.T) {
	for text, want := range map[string]string{
		"MD5 Check Failed":                "upload again",
		"Partition Could Not be Found":    "ota_0 and ota_1",
		"Could Not Activate The Firmware": "another chip",
		"Wrong Magic Byte":                "--spiffs",
		"Not Enough Space":                "fit",
		"something else":                  "serial log",
		"No Error":                        "serial log",
	} {
		if got := ParseDeviceMessage(text + "\r\n").Fix(); !strings.Contains(got, want) {
			t.Errorf("fix for %q = %q, want it to mention %q", text, got, want)
		}
	}
	if got := ParseDeviceMessage("ERROR[11]: Invalid bootstrapping state, reset ESP8266 before updating").Fix(); got != UpdateBootstrap.Fix() {
		t.Errorf("ESP8266 number: %q", got)
	}
	if ESP32UpdateError(99).Text() != "UNKNOWN" || ESP32UpdateError(-1).Fix() == "" || ESP32UpdateMD5.Text() != "MD5 Check Failed" {
		t.Error("ESP32 table bounds")
	}
}

package arduinoota

import (
	"net"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"golang.org/x/net/dns/dnsmessage"
)

func testDevice(t testing.TB) *Device {
	t.Helper()
	l, err := layout.ESP8266("4M1M")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// detachedOTA is an ArduinoOTA without a board: onRx only needs the
// nonce source and the reply path.
func detachedOTA(d *Device, pass string) (*OTA, *[]string) {
	var replies []string
	o := &OTA{d: d, host: "esp8266-ab345a", pass: pass}
	o.micros = func() uint32 { return 123456 }
	o.reply = func(s string) { replies = append(replies, s) }
	return o, &replies
}

var from = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func TestInvitationParsing(t *testing.T) {
	d := testDevice(t)
	md5 := strings.Repeat("a", 32)
	cases := []struct {
		in    string
		state int
		cmd   ota.Command
		port  uint16
		size  int
	}{
		{"0 41234 372480 " + md5 + "\n", stateRunUpdate, ota.CommandFlash, 41234, 372480},
		{"  100   9 8 " + md5 + "  \n", stateRunUpdate, ota.CommandFS, 9, 8},
		{"0 1 2 " + md5, stateRunUpdate, ota.CommandFlash, 1, 2}, // no LF: read to the end
		{"0 1 99999999999 " + md5 + "\n", stateRunUpdate, ota.CommandFlash, 1, 1<<31 - 1},
		{"0 70000 2 " + md5 + "\n", stateRunUpdate, ota.CommandFlash, 70000 - 65536, 2}, // uint16_t
		{"200 1 2 " + md5 + "\n", stateIdle, 0, 0, 0},
		{"0 1 2 abc\n", stateIdle, 0, 0, 0},
		{"hello", stateIdle, 0, 0, 0}, // parseInt gives 0 = FLASH, but the MD5 is short
	}
	for _, c := range cases {
		o, replies := detachedOTA(d, "")
		o.onRx([]byte(c.in), from)
		if o.state != c.state {
			t.Errorf("%q: state %d, want %d", c.in, o.state, c.state)
			continue
		}
		if c.state == stateRunUpdate && (o.cmd != c.cmd || o.tcpPort != c.port || o.size != c.size || o.md5 != md5) {
			t.Errorf("%q: cmd %d port %d size %d md5 %q", c.in, o.cmd, o.tcpPort, o.size, o.md5)
		}
		if len(*replies) != 0 {
			t.Errorf("%q: replies %q without a password", c.in, *replies)
		}
	}
}

func TestAuthExchange(t *testing.T) {
	d := testDevice(t)
	hash := ota.PasswordHash("pw")
	o, replies := detachedOTA(d, hash)
	o.onRx([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), from)
	nonce := ota.MD5Hex([]byte("123456"))
	if o.state != stateWaitAuth || len(*replies) != 1 || (*replies)[0] != "AUTH "+nonce {
		t.Fatalf("state %d replies %q", o.state, *replies)
	}
	cnonce := strings.Repeat("c", 32)
	// A wrong answer fails and goes back to IDLE.
	o.onRx([]byte(ota.AuthReply(cnonce, ota.AuthResponse(ota.PasswordHash("PW"), nonce, cnonce))), from)
	if o.state != stateIdle || (*replies)[1] != "Authentication Failed" {
		t.Fatalf("state %d replies %q", o.state, *replies)
	}
	// Anything but 200 in WAITAUTH silently returns to IDLE.
	o.onRx([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), from)
	o.onRx([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), from)
	if o.state != stateIdle || len(*replies) != 3 {
		t.Fatalf("state %d replies %q", o.state, *replies)
	}
	o.onRx([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), from)
	o.onRx([]byte(ota.AuthReply(cnonce, ota.AuthResponse(hash, nonce, cnonce))), from)
	if o.state != stateRunUpdate {
		t.Fatalf("right answer: state %d replies %q", o.state, *replies)
	}
	// An upper-case hash in setPasswordHash never matches (§5.2).
	o, _ = detachedOTA(d, strings.ToUpper(hash))
	o.onRx([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), from)
	o.onRx([]byte(ota.AuthReply(cnonce, ota.AuthResponse(hash, nonce, cnonce))), from)
	if o.state != stateIdle {
		t.Error("an upper-case password hash authenticated")
	}
}

// FuzzOnRx drives ArduinoOTA's receive state machine with two arbitrary
// datagrams: it must only ever reach RUNUPDATE with a 32-character MD5, a
// FLASH or FS command and, with a password, the right answer.
func FuzzOnRx(f *testing.F) {
	d := testDevice(f)
	hash := ota.PasswordHash("pw")
	nonce := ota.MD5Hex([]byte("123456"))
	cn := strings.Repeat("c", 32)
	f.Add([]byte("0 1 2 "+strings.Repeat("b", 32)+"\n"), []byte(ota.AuthReply(cn, ota.AuthResponse(hash, nonce, cn))), true)
	f.Add([]byte("100 65535 0 "+strings.Repeat("b", 32)), []byte("200 x y\n"), false)
	f.Add([]byte("\x00\xff 12"), []byte(""), true)
	f.Fuzz(func(t *testing.T, a, b []byte, withPass bool) {
		pass := ""
		if withPass {
			pass = hash
		}
		o, _ := detachedOTA(d, pass)
		o.onRx(a, from)
		if o.state == stateRunUpdate && (len(o.md5) != 32 || (o.cmd != ota.CommandFlash && o.cmd != ota.CommandFS) || withPass) {
			t.Fatalf("RUNUPDATE after %q: cmd %d md5 %q", a, o.cmd, o.md5)
		}
		before := o.state
		o.onRx(b, from)
		if withPass && before == stateWaitAuth && o.state == stateRunUpdate && !holdsAnswer(string(b), hash, nonce) {
			t.Fatalf("authenticated with %q", b)
		}
	})
}

// holdsAnswer reports whether s contains some 32-character cnonce and,
// somewhere, the right response for it.
func holdsAnswer(s, hash, nonce string) bool {
	for j := 0; j+32 <= len(s); j++ {
		if strings.Contains(s, ota.AuthResponse(hash, nonce, s[j:j+32])) {
			return true
		}
	}
	return false
}

// FuzzMDNSQuery feeds the responder arbitrary queries: it must not fail,
// and whatever it answers must parse as an mDNS response.
func FuzzMDNSQuery(f *testing.F) {
	d := testDevice(f)
	o, _ := detachedOTA(d, "")
	o.probed = true
	d.cur = o
	for _, typ := range []dnsmessage.Type{dnsmessage.TypePTR, dnsmessage.TypeSRV, dnsmessage.TypeA, dnsmessage.TypeALL} {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("_arduino._tcp.local."), Type: typ, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		f.Add(q, uint16(40000))
	}
	f.Fuzz(func(t *testing.T, q []byte, port uint16) {
		resp := d.answerMDNS(q, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
		if resp == nil {
			return
		}
		if _, err := ota.ParseResponse(resp); err != nil {
			t.Fatalf("the responder's answer does not parse: %v", err)
		}
	})
}

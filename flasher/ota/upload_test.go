package ota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

// fakeDevice is a scripted peer on loopback for the uploader's failure
// paths; the real ArduinoOTA model is exercised in virtualboard/arduinoota.
type fakeDevice struct {
	t    *testing.T
	conn *net.UDPConn
	got  chan string
}

// newFake answers each datagram with reply(msg) (nothing when it returns "").
func newFake(t *testing.T, reply func(f *fakeDevice, msg string, from *net.UDPAddr) string) *fakeDevice {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDevice{t: t, conn: c, got: make(chan string, 16)}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			select {
			case f.got <- msg:
			default:
			}
			if r := reply(f, msg, from); r != "" {
				c.WriteToUDP([]byte(r), from)
			}
		}
	}()
	return f
}

func (f *fakeDevice) opts() Options {
	return Options{Host: "127.0.0.1", Port: f.conn.LocalAddr().(*net.UDPAddr).Port,
		ReplyTimeout: 2 * time.Second, AcceptTimeout: 2 * time.Second, ChunkTimeout: 2 * time.Second, ResultTimeout: 2 * time.Second}
}

// connectBack parses an invitation and connects to the port it names.
func connectBack(t *testing.T, msg string) net.Conn {
	fields := strings.Fields(msg)
	if len(fields) != 4 {
		t.Errorf("invitation %q", msg)
		return nil
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+fields[1])
	if err != nil {
		t.Errorf("connect back: %v", err)
		return nil
	}
	return c
}

var appImage = append([]byte{0xE9, 3, 2, 0x40}, make([]byte, 20000)...)

func wantError(t *testing.T, err error, kind ErrorKind, step string, texts ...string) *Error {
	t.Helper()
	var oe *Error
	if !errors.As(err, &oe) || oe.Kind != kind || oe.Step != step {
		t.Fatalf("got %v, want a kind-%d error at %s", err, kind, step)
	}
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	return oe
}

func TestNothingListens(t *testing.T) {
	c, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	_, err := Upload(context.Background(), Options{Host: "127.0.0.1", Port: port}, appImage, nil)
	wantError(t, err, KindNoReply, "invitation", "nothing listens on UDP port "+strconv.Itoa(port))
}

func TestSilentDeviceGetsInvitationRepeated(t *testing.T) {
	f := newFake(t, func(*fakeDevice, string, *net.UDPAddr) string { return "" })
	o := f.opts()
	o.ReplyTimeout = 400 * time.Millisecond
	_, err := Upload(context.Background(), o, appImage, nil)
	wantError(t, err, KindNoReply, "invitation", "no answer", "within 400ms", "ArduinoOTA.handle()")
	if n := len(f.got); n != 4 {
		t.Errorf("the device got %d invitations, want 4", n)
	}
	first := <-f.got
	if want := fmt.Sprintf(" %d %s\n", len(appImage), MD5Hex(appImage)); !strings.HasPrefix(first, "0 ") || !strings.HasSuffix(first, want) {
		t.Errorf("invitation %q", first)
	}
}

// An ArduinoOTA left waiting for a password swallows the next datagram;
// the repeated invitation gets through.
func TestInvitationRepeatedAfterStaleAuthState(t *testing.T) {
	seen := 0
	f := newFake(t, func(f *fakeDevice, msg string, from *net.UDPAddr) string {
		seen++
		if seen == 1 {
			return ""
		}
		return "Authentication Failed"
	})
	o := f.opts()
	o.ReplyTimeout = 800 * time.Millisecond
	o.Password = "pw"
	_, err := Upload(context.Background(), o, appImage, nil)
	wantError(t, err, KindAuth, "authentication", "Authentication Failed", "wrong password")
}

func TestAcceptedButNoConnectBack(t *testing.T) {
	f := newFake(t, func(*fakeDevice, string, *net.UDPAddr) string { return "OK" })
	o := f.opts()
	o.AcceptTimeout = 300 * time.Millisecond
	_, err := Upload(context.Background(), o, appImage, nil)
	wantError(t, err, KindNoReply, "connect-back", "did not connect back", "firewall", "--host-port")
}

func TestOddReplies(t *testing.T) {
	cases := []struct {
		reply string
		kind  ErrorKind
		step  string
		says  string
	}{
		{"HTTP/1.1 400 Bad Request", KindUnsupported, "invitation", "not an ArduinoOTA device"},
		{"AUTH " + strings.Repeat("0f", 32), KindUnsupported, "authentication", "SHA-256"},
		{"AUTH " + strings.Repeat("0f", 16), KindAuth, "authentication", "--auth"},
		{"ERR: ERROR[11]: Invalid bootstrapping state, reset ESP8266 before updating\n", KindRefused, "invitation", "press RESET"},
	}
	for _, c := range cases {
		t.Run(c.reply, func(t *testing.T) {
			f := newFake(t, func(_ *fakeDevice, msg string, _ *net.UDPAddr) string {
				if strings.HasPrefix(msg, "0 ") && strings.Count(msg, " ") == 3 {
					return c.reply
				}
				return ""
			})
			_, err := Upload(context.Background(), f.opts(), appImage, nil)
			wantError(t, err, c.kind, c.step, c.says)
		})
	}
}

// Giving up after the challenge (no password) puts the device back to IDLE.
func TestGivingUpAfterChallengeResetsDevice(t *testing.T) {
	f := newFake(t, func(_ *fakeDevice, msg string, _ *net.UDPAddr) string {
		if strings.HasPrefix(msg, "0 ") && len(msg) > 10 {
			return "AUTH " + strings.Repeat("ab", 16)
		}
		return ""
	})
	_, err := Upload(context.Background(), f.opts(), appImage, nil)
	wantError(t, err, KindAuth, "authentication")
	<-f.got
	select {
	case m := <-f.got:
		if m != resetDatagram {
			t.Errorf("second datagram %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reset datagram")
	}
}

// deviceThat accepts the invitation, connects back and runs serve on the
// connection.
func deviceThat(t *testing.T, serve func(c net.Conn)) Options {
	f := newFake(t, func(_ *fakeDevice, msg string, _ *net.UDPAddr) string {
		if !strings.HasPrefix(msg, "0 ") {
			return ""
		}
		go func() {
			if c := connectBack(t, msg); c != nil {
				defer c.Close()
				serve(c)
			}
		}()
		return "OK"
	})
	return f.opts()
}

func TestRejectedAtTheEnd(t *testing.T) {
	// arduino-esp32 prints the bare error text.
	o := deviceThat(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, len(appImage)))
		io.WriteString(c, strconv.Itoa(len(appImage))+"MD5 Check Failed\r\n")
	})
	_, err := Upload(context.Background(), o, appImage, nil)
	oe := wantError(t, err, KindRefused, "result", "MD5 Check Failed", "old firmware keeps running")
	if oe.Device == nil || oe.Device.HasCode {
		t.Errorf("device message %+v", oe.Device)
	}
}

func TestRejectedDuringTransfer(t *testing.T) {
	big := append([]byte{0xE9}, make([]byte, 4<<20)...)
	o := deviceThat(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, 8192))
		io.WriteString(c, "4096ERROR[1]: Flash Write Failed\n")
		io.Copy(io.Discard, c) // until the uploader hangs up
	})
	_, err := Upload(context.Background(), o, big, nil)
	oe := wantError(t, err, KindRefused, "result", "ERROR[1]: Flash Write Failed", "power supply")
	if oe.Device.Code != UpdateWrite {
		t.Errorf("code %d", oe.Device.Code)
	}
}

func TestDeviceHangsUpWithoutResult(t *testing.T) {
	o := deviceThat(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, len(appImage)))
	})
	_, err := Upload(context.Background(), o, appImage, nil)
	wantError(t, err, KindTransfer, "result", "without OK")
}

func TestDeviceSilentAfterData(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	o := deviceThat(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, len(appImage)))
		<-release
	})
	o.ResultTimeout = 300 * time.Millisecond
	_, err := Upload(context.Background(), o, appImage, nil)
	wantError(t, err, KindTransfer, "result", "no OK or error", "300ms")
}

func TestCheckImage(t *testing.T) {
	var ie *flasher.InputError
	if err := CheckImage(CommandFlash, nil); !errors.As(err, &ie) {
		t.Errorf("empty: %v", err)
	}
	if err := CheckImage(CommandFlash, []byte("hello")); !errors.As(err, &ie) || !strings.Contains(err.Error(), "--spiffs") {
		t.Errorf("not an image: %v", err)
	}
	if err := CheckImage(CommandFlash, []byte{0x1F, 0x8B, 8}); err != nil {
		t.Errorf("gzip: %v", err)
	}
	if err := CheckImage(CommandFS, appImage); !errors.As(err, &ie) || !strings.Contains(err.Error(), "drop --spiffs") {
		t.Errorf("app as FS: %v", err)
	}
	if err := CheckImage(CommandFS, []byte{0xFF, 0, 1}); err != nil {
		t.Errorf("fs: %v", err)
	}
	_, err := Upload(context.Background(), Options{}, appImage, nil)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "ota discover") {
		t.Errorf("no host: %v", err)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	f := newFake(t, func(*fakeDevice, string, *net.UDPAddr) string { return "" })
	ctx, cancel := context.WithCancel(context.Background())
	o := f.opts()
	o.ReplyTimeout = time.Minute
	go func() { <-f.got; cancel() }()
	_, err := Upload(ctx, o, appImage, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

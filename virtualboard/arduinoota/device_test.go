package arduinoota_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

func TestDiscover(t *testing.T) {
	v1 := sketch(t, 1, 20_000)
	r := newRig(t, arduinoota.Config{PasswordHash: ota.PasswordHash("pw"), BoardID: "d1_mini"}, v1, nil)
	mdns := r.d.MDNSAddr().String()
	boards, err := ota.Discover(context.Background(), ota.DiscoverOptions{Servers: []string{mdns}, Timeout: waitLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(boards) != 1 {
		t.Fatalf("boards %+v", boards)
	}
	b := boards[0]
	// MAC 18:fe:34:ab:34:5a → chip ID ab345a → the core's default name.
	want := ota.Board{Name: "esp8266-ab345a", Host: "esp8266-ab345a.local", Addr: "127.0.0.1", Port: r.d.Addr().Port,
		BoardID: "d1_mini", AuthUpload: true}
	if b.Name != want.Name || b.Host != want.Host || b.Addr != want.Addr || b.Port != want.Port || b.BoardID != want.BoardID ||
		!b.AuthUpload || b.SSHUpload || b.TCPCheck || b.TXT["tcp_check"] != "no" || b.TXT["ssh_upload"] != "no" {
		t.Errorf("got %+v, want %+v", b, want)
	}
	ip, err := ota.ResolveLocal(context.Background(), "esp8266-ab345a.local", ota.DiscoverOptions{Servers: []string{mdns}, Timeout: waitLimit})
	if err != nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("ResolveLocal: %v %v", ip, err)
	}
	// Upload by mDNS name.
	m := r.log.mark()
	o := ota.Options{Host: "esp8266-ab345a.local", Port: r.d.Addr().Port, Password: "pw", MDNS: []string{mdns}}
	if _, err := ota.Upload(context.Background(), o, sketch(t, 2, 20_000), nil); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v00000002")
}

// blockedSketch begins OTA but never calls handle(): like a sketch stuck
// in a reconnect loop.
func blockedSketch(d *arduinoota.Device) virtualboard.App {
	return func(ctx context.Context, env *virtualboard.AppEnv) {
		if _, err := d.Boot(ctx, env); err != nil {
			return
		}
		o := d.Begin(ctx, env, arduinoota.Settings{}, arduinoota.PrintCallbacks(env.Print))
		defer o.End()
		env.Print("Ready\n")
		<-ctx.Done()
	}
}

func TestSketchNotCallingHandle(t *testing.T) {
	v1 := sketch(t, 1, 20_000)
	r := newRig(t, arduinoota.Config{PasswordHash: ota.PasswordHash("pw")}, v1, blockedSketch)
	boards, err := ota.Discover(context.Background(), ota.DiscoverOptions{Servers: []string{r.d.MDNSAddr().String()}, Timeout: 300 * time.Millisecond})
	if err != nil || len(boards) != 0 {
		t.Errorf("a sketch that never ran handle() was found: %+v %v", boards, err)
	}
	// The challenge comes from the network callback; the OK never does.
	_, _, err = r.upload(context.Background(), ota.Options{Password: "pw", ReplyTimeout: 300 * time.Millisecond}, sketch(t, 2, 20_000))
	var oe *ota.Error
	if !errors.As(err, &oe) || oe.Kind != ota.KindNoReply || oe.Step != "authentication" || !strings.Contains(err.Error(), "ArduinoOTA.handle()") {
		t.Fatalf("got %v", err)
	}
}

// rawUpload speaks espota by hand so the device can be given what
// ota.Upload refuses to send (a wrong MD5, a non-image); it returns what
// the device wrote on the TCP connection.
func rawUpload(t *testing.T, r *rig, cmd ota.Command, img []byte, sum string) string {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, err := net.DialUDP("udp4", nil, r.d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte(ota.Invitation(cmd, ln.Addr().(*net.TCPAddr).Port, len(img), sum)))
	u.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 256)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "OK" {
		t.Fatalf("invitation: %q %v", buf[:n], err)
	}
	ln.SetDeadline(time.Now().Add(waitLimit))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write(img)
	c.SetReadDeadline(time.Now().Add(waitLimit))
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestDeviceChecksAtTheEnd(t *testing.T) {
	v1 := sketch(t, 1, 20_000)
	r := newRig(t, arduinoota.Config{}, v1, nil)
	v2 := sketch(t, 2, 30_000)
	wrong := strings.Repeat("0", 32)
	big := bytes.Clone(v2)
	big[3] = 0x90 | big[3]&0x0F // header claims 16 MB on a 4 MB chip
	cases := []struct {
		name string
		img  []byte
		sum  string
		want string
	}{
		{"wrong MD5", v2, wrong, fmt.Sprintf("ERROR[7]: MD5 verification failed: expected: %s, calculated: %s\n", wrong, ota.MD5Hex(v2))},
		{"not an image", append([]byte{0}, v2[1:]...), "", "ERROR[10]: Magic byte is not 0xE9\n"},
		{"image for a bigger flash", big, "", "ERROR[9]: new Flash config wrong, real size: 4194304\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum := c.sum
			if sum == "" {
				sum = ota.MD5Hex(c.img)
			}
			m := r.log.mark()
			out := rawUpload(t, r, ota.CommandFlash, c.img, sum)
			var sc ota.ResultScanner
			sc.Feed([]byte(out), int64(len(c.img)))
			sc.Close()
			done, ok, _ := sc.Result()
			if !done || ok || !strings.HasSuffix(out, c.want) || sc.Acked() != int64(len(c.img)) {
				t.Errorf("device wrote %q (acked %d of %d), want the counts and %q", out, sc.Acked(), len(c.img), c.want)
			}
			r.log.waitFor(t, m, "OTA error 4\r\n#IB ota phase=error err=4\r\n")
			if _, _, staged := r.d.Staged(); staged {
				t.Error("a rejected image was staged")
			}
		})
	}
	t.Run("MD5 in upper case is fine", func(t *testing.T) {
		m := r.log.mark()
		out := rawUpload(t, r, ota.CommandFlash, v2, strings.ToUpper(ota.MD5Hex(v2)))
		if !strings.HasSuffix(out, "OK") {
			t.Errorf("device wrote %q", out)
		}
		r.log.waitFor(t, m, "BasicOTA v00000002")
	})
}

// After esptool starts a sketch straight from the ROM loader (--after
// soft_reset) the boot mode stays at 1 and the Updater refuses until the
// board is reset (device-side.md §5.6 error 11).
func TestUpdaterRefusesInDownloadBootMode(t *testing.T) {
	l := layout4M1M(t)
	d, err := arduinoota.New(arduinoota.Config{Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := virtualboard.New(virtualboard.Config{Speed: testSpeed, App: arduinoota.BasicOTA(d)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Flash().Load(0, sketch(t, 1, 20_000))
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ld, _, err := flasher.Open(context.Background(), p, flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: "vb", TimeoutScale: 0.02}, NoStub: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ld.After(flasher.AfterSoftReset); err != nil {
		t.Fatal(err)
	}
	// The port stays at the loader's 115200 while the sketch prints at
	// 74880, so readiness is seen on the network: the board advertises.
	ready := func() {
		t.Helper()
		bs, err := ota.Discover(context.Background(), ota.DiscoverOptions{Servers: []string{d.MDNSAddr().String()}, Timeout: waitLimit})
		if err != nil || len(bs) != 1 {
			t.Fatalf("the sketch did not come up: %+v %v", bs, err)
		}
	}
	ready()
	o := ota.Options{Host: "127.0.0.1", Port: d.Addr().Port}
	_, err = ota.Upload(context.Background(), o, sketch(t, 2, 20_000), nil)
	var oe *ota.Error
	if !errors.As(err, &oe) || oe.Device == nil || oe.Device.Code != ota.UpdateBootstrap || !strings.Contains(err.Error(), "press RESET") {
		t.Fatalf("got %v", err)
	}
	b.Reset(false)
	ready()
	if _, err := ota.Upload(context.Background(), o, sketch(t, 2, 20_000), nil); err != nil {
		t.Fatalf("after a reset: %v", err)
	}
}

func waitSerial(t *testing.T, p *virtualboard.HostPort, want string) {
	t.Helper()
	p.SetReadTimeout(waitLimit)
	var got []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(got, []byte(want)) {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || n == 0 {
			t.Fatalf("waiting for %q: %v; got %q", want, err, got)
		}
	}
}

// The Updater accepts gzip-compressed apps; eboot inflates them while it
// copies (eboot.c copy_raw with uzlib).
func TestGzipImage(t *testing.T) {
	v1, v2 := sketch(t, 1, 20_000), sketch(t, 0x600d0002, 50_000)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(v2)
	zw.Close()
	r := newRig(t, arduinoota.Config{}, v1, nil)
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{}, z.Bytes()); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, m, "BasicOTA v600d0002")
	if !r.flashHolds(0, v2) {
		t.Error("flash does not hold the inflated image")
	}
}

// An application whose segments run past the end of the flash makes eboot
// fail with e:3 and reset, over and over (device-side.md §1.6).
func TestEbootLoadFailureLoops(t *testing.T) {
	img := sketch(t, 1, 20_000)
	binary.LittleEndian.PutUint32(img[0x1000+8+4:], 0x7FFFFFF0) // first segment length
	d, err := arduinoota.New(arduinoota.Config{Layout: layout4M1M(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := virtualboard.New(virtualboard.Config{Speed: testSpeed, App: arduinoota.BasicOTA(d)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBaudRate(74880)
	b.Flash().Load(0, img)
	b.Reset(false)
	waitSerial(t, p, "ld\ne:3\n")
	waitSerial(t, p, "rst cause:2")
	waitSerial(t, p, "ld\ne:3\n")
}

// A sketch model that does not know eboot (the firmware twin) gets it by
// WithEboot, and sets the host name and password per boot as the reference
// sketch does from its config.json.
func TestWithEbootAndSettings(t *testing.T) {
	app := func(d *arduinoota.Device) virtualboard.App {
		return d.WithEboot(func(ctx context.Context, env *virtualboard.AppEnv) {
			o := d.Begin(ctx, env, arduinoota.Settings{Hostname: "bench-01", PasswordHash: ota.PasswordHash("cfg pw")}, arduinoota.PrintCallbacks(env.Print))
			defer o.End()
			env.Print("twin up\r\nReady\n")
			for o.Handle(ctx) == nil && env.Sleep(ctx, 100*time.Millisecond) == nil {
			}
		})
	}
	r := newRig(t, arduinoota.Config{Hostname: "ignored", PasswordHash: ota.PasswordHash("ignored")}, sketch(t, 0x7717, 20_000), app)
	if out := r.log.String(); !strings.Contains(out, "v00007717\n~ld\ntwin up") {
		t.Errorf("boot output:\n%s", out)
	}
	bs, err := ota.Discover(context.Background(), ota.DiscoverOptions{Servers: []string{r.d.MDNSAddr().String()}, Timeout: waitLimit})
	if err != nil || len(bs) != 1 || bs[0].Name != "bench-01" || !bs[0].AuthUpload {
		t.Fatalf("discover: %+v %v", bs, err)
	}
	m := r.log.mark()
	if _, _, err := r.upload(context.Background(), ota.Options{Password: "cfg pw"}, sketch(t, 0x7718, 20_000)); err != nil {
		t.Fatal(err)
	}
	out := r.log.waitFor(t, m, "v00007717\n@cp:B0\nld\ntwin up")
	if !strings.Contains(out, "OTA start: sketch\r\n") {
		t.Errorf("output:\n%s", out)
	}
	if !r.flashHolds(0, sketch(t, 0x7718, 20_000)) {
		t.Error("flash")
	}
}

package arduinoota

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
)

// Config describes the board's OTA setup: what the sketch passes to
// ArduinoOTA and what its network looks like.
type Config struct {
	// Chip is the board's chip: "" or "ESP8266" for the ESP8266 core's
	// ArduinoOTA and Updater, an ESP32-family name for arduino-esp32's
	// (esp32.go), which finds its partitions in the table in flash.
	Chip string
	// Layout is the ESP8266 board's flash layout (boards.txt eesz): the
	// Updater stages apps below Layout.FS.Offset and writes filesystem
	// images into Layout.FS. Required on the ESP8266, unused on ESP32s.
	Layout layout.ESP8266Layout
	// Hostname is ArduinoOTA.setHostname(); empty means the core's default:
	// "esp8266-" + the chip ID in six lower-case hex digits, or on ESP32s
	// "esp32-" + the MAC in twelve (ArduinoOTA.cpp begin()).
	Hostname string
	// PasswordHash is what setPasswordHash() receives (or setPassword()
	// computes): the lower-case hex MD5 of the password; empty = no
	// password. Upper-case hex never authenticates, as on the board.
	PasswordHash string
	// BoardID is the TXT "board" value (ARDUINO_BOARD_ID); default "generic".
	BoardID string
	// IP is the board's station address; default 127.0.0.1 (tests and the
	// virtual board stay on loopback).
	IP string
	// Port is the ArduinoOTA UDP port. Real boards use 8266 (ESP32s 3232);
	// 0 picks a free port, so that several virtual boards can run on one
	// machine.
	Port int
	// MDNSPort is where the mDNS responder listens (5353 on a real
	// board); 0 picks a free port. NoMDNS turns the responder off
	// (ArduinoOTA.begin(false)).
	MDNSPort int
	NoMDNS   bool
	// Log receives device-side diagnostics (nil = none).
	Log func(string)
}

// Device is the OTA side of one powered virtual board; see the package
// documentation.
type Device struct {
	cfg  Config
	ip   net.IP
	udp  *net.UDPConn
	mdns *net.UDPConn

	mu     sync.Mutex
	cur    *OTA          // the running sketch's ArduinoOTA, nil while none
	rtc    *ebootCommand // RTC memory: survives resets, not power-off
	closed bool
	wg     sync.WaitGroup
}

// New opens the board's OTA and mDNS sockets. Nothing answers until a
// sketch calls Begin.
func New(cfg Config) (*Device, error) {
	if image.IsESP8266(cmp.Or(cfg.Chip, image.ChipESP8266)) && cfg.Layout.FlashSize == 0 {
		return nil, errors.New("arduinoota: Config.Layout is required (the Updater needs FS_start and FS_end)")
	}
	if cfg.BoardID == "" {
		cfg.BoardID = "generic"
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	ip := net.ParseIP(cfg.IP).To4()
	if ip == nil {
		return nil, fmt.Errorf("arduinoota: IP %q is not an IPv4 address (the ESP8266 core's ArduinoOTA is IPv4)", cfg.IP)
	}
	d := &Device{cfg: cfg, ip: ip}
	var err error
	if d.udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: cfg.Port}); err != nil {
		return nil, fmt.Errorf("arduinoota: OTA port: %w", err)
	}
	if !cfg.NoMDNS {
		if d.mdns, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: cfg.MDNSPort}); err != nil {
			d.udp.Close()
			return nil, fmt.Errorf("arduinoota: mDNS port: %w", err)
		}
		d.wg.Add(1)
		go d.serveMDNS()
	}
	d.wg.Add(1)
	go d.serveOTA()
	return d, nil
}

// Addr is the ArduinoOTA UDP address (host and port for the uploader).
func (d *Device) Addr() *net.UDPAddr { return d.udp.LocalAddr().(*net.UDPAddr) }

// MDNSAddr is the mDNS responder's address, nil with NoMDNS.
func (d *Device) MDNSAddr() *net.UDPAddr {
	if d.mdns == nil {
		return nil
	}
	return d.mdns.LocalAddr().(*net.UDPAddr)
}

// Layout is the flash layout the Updater works with.
func (d *Device) Layout() layout.ESP8266Layout { return d.cfg.Layout }

// Staged reports whether an update is staged for eboot (RTC memory holds
// a copy command), and where.
func (d *Device) Staged() (src, size uint32, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rtc == nil {
		return 0, 0, false
	}
	return d.rtc.src, d.rtc.size, true
}

// Close closes the sockets: the board is powered off.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.udp.Close()
	if d.mdns != nil {
		d.mdns.Close()
	}
	d.wg.Wait()
	return nil
}

func (d *Device) logf(format string, args ...any) {
	if d.cfg.Log != nil {
		d.cfg.Log(fmt.Sprintf(format, args...))
	}
}

func (d *Device) current() *OTA {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// serveOTA is lwIP delivering datagrams to ArduinoOTA (see receive): on
// the ESP8266 to its receive callback, which runs whether or not the
// sketch is in handle(), so the AUTH challenge and "Authentication Failed"
// go out even from a busy sketch; on ESP32s into the socket's queue.
func (d *Device) serveOTA() {
	defer d.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := d.udp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if o := d.current(); o != nil {
			o.receive(buf[:n], from)
		}
	}
}

// ArduinoOTA states (ArduinoOTA.h ota_state_t).
const (
	stateIdle = iota
	stateWaitAuth
	stateRunUpdate
)

// Error is an ArduinoOTA error code, what the sketch's onError callback
// receives (ota_error_t; device-side.md §5.6).
type Error int

const (
	ErrAuth    Error = 0
	ErrBegin   Error = 1
	ErrConnect Error = 2
	ErrReceive Error = 3
	ErrEnd     Error = 4
)

// Callbacks are the sketch's ArduinoOTA.onStart/onProgress/onEnd/onError.
type Callbacks struct {
	OnStart    func(cmd ota.Command)
	OnProgress func(done, total int)
	OnEnd      func()
	OnError    func(code Error)
}

// OTA is ArduinoOTA for one run of a sketch.
type OTA struct {
	d    *Device
	env  *virtualboard.AppEnv
	ctx  context.Context
	cb   Callbacks
	host string
	pass string
	// esp32: arduino-esp32's ArduinoOTA, which answers OK as soon as it
	// accepts the invitation (or the password), runs its own Update class
	// (esp32.go) and reads datagrams from rx in handle().
	esp32 bool
	rx    chan datagram
	begun time.Duration // board time at Begin, for mDNS probing
	// micros is the board's micros() (the nonce source) and reply sends a
	// UDP reply to the invitation's source; fields so tests can drive
	// onRx without a board.
	micros func() uint32
	reply  func(string)

	mu      sync.Mutex
	state   int
	cmd     ota.Command
	peer    *net.UDPAddr // invitation source: replies go here
	tcpPort uint16
	size    int
	md5     string
	nonce   string
	probed  bool
}

// Settings are what a sketch gives ArduinoOTA before begin() — from its
// config.json, so they can change from one boot to the next. Empty fields
// take the Device's Config. (setPort is not modelled: the port is the
// Device's socket, Config.Port.)
type Settings struct {
	Hostname     string // setHostname
	PasswordHash string // setPasswordHash: lower-case hex MD5 of the password
}

// Begin is ArduinoOTA.begin(): from now on invitations are answered and
// (after mDNS probing, which handle() drives) the board is advertised.
// The OTA stops when ctx ends (the chip reset) or End is called.
func (d *Device) Begin(ctx context.Context, env *virtualboard.AppEnv, s Settings, cb Callbacks) *OTA {
	host := cmp.Or(s.Hostname, d.cfg.Hostname)
	esp32 := !image.IsESP8266(env.Chip())
	if mac := env.MAC(); host == "" && esp32 {
		host = fmt.Sprintf("esp32-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	} else if host == "" {
		host = fmt.Sprintf("esp8266-%06x", uint32(mac[3])<<16|uint32(mac[4])<<8|uint32(mac[5]))
	}
	o := &OTA{d: d, env: env, ctx: ctx, cb: cb, host: host, pass: cmp.Or(s.PasswordHash, d.cfg.PasswordHash), begun: env.Now(), esp32: esp32}
	if esp32 {
		o.rx = make(chan datagram, udpRecvMbox)
	}
	o.micros = func() uint32 { return uint32(env.Now().Microseconds()) }
	o.reply = o.send
	d.mu.Lock()
	d.cur = o
	d.mu.Unlock()
	context.AfterFunc(ctx, o.End)
	d.logf("OTA server at %s.local:%d", host, d.Addr().Port)
	return o
}

// Hostname is the name the board advertises.
func (o *OTA) Hostname() string { return o.host }

// End is ArduinoOTA.end(): stop answering and advertising.
func (o *OTA) End() {
	o.d.mu.Lock()
	if o.d.cur == o {
		o.d.cur = nil
	}
	o.d.mu.Unlock()
}

// datagram is a UDP packet waiting in the socket.
type datagram struct {
	b    []byte
	from *net.UDPAddr
}

// udpRecvMbox is how many datagrams an ESP-IDF UDP socket holds
// (CONFIG_LWIP_UDP_RECVMBOX_SIZE, default 6); more are dropped.
const udpRecvMbox = 6

// receive is a datagram reaching ArduinoOTA's port. The ESP8266 core
// handles it in lwIP's receive callback, at once, even while the sketch
// is busy; arduino-esp32's handle() reads one waiting datagram per call
// (parsePacket, then _onRx), after the update it may have run — so an
// invitation that arrives during an update is answered once it is over.
func (o *OTA) receive(b []byte, from *net.UDPAddr) {
	if !o.esp32 {
		o.onRx(b, from)
		return
	}
	select {
	case o.rx <- datagram{append([]byte(nil), b...), from}:
	default:
	}
}

// packet reads a datagram the way ArduinoOTA's helpers do.
type packet struct {
	b []byte
	i int
}

func (p *packet) peek() int {
	if p.i >= len(p.b) {
		return -1
	}
	return int(p.b[p.i])
}

func (p *packet) read() int {
	c := p.peek()
	if c >= 0 {
		p.i++
	}
	return c
}

// parseInt is ArduinoOTAClass::parseInt: skip spaces, take up to 16
// digits, atoi them (newlib saturates at INT_MAX); 16 digits in a row, or
// none, give 0.
func (p *packet) parseInt() int {
	for p.peek() == ' ' {
		p.read()
	}
	var digits []byte
	for range 16 {
		c := p.peek()
		if c < '0' || c > '9' {
			v, err := strconv.ParseInt(string(digits), 10, 32)
			if err != nil && len(digits) > 0 {
				return 1<<31 - 1
			}
			return int(v)
		}
		digits = append(digits, byte(p.read()))
	}
	return 0
}

// readStringUntil stops at end, NUL or the terminator (consumed).
func (p *packet) readStringUntil(end byte) string {
	var s []byte
	for {
		c := p.read()
		if c < 0 || c == 0 || c == int(end) {
			return string(s)
		}
		s = append(s, byte(c))
	}
}

// onRx is ArduinoOTAClass::_onRx (device-side.md §5.1 steps 4–5).
func (o *OTA) onRx(b []byte, from *net.UDPAddr) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := &packet{b: b}
	switch o.state {
	case stateIdle:
		cmd := p.parseInt()
		if cmd != int(ota.CommandFlash) && cmd != int(ota.CommandFS) {
			return
		}
		o.peer = from
		o.cmd = ota.Command(cmd)
		o.tcpPort = uint16(p.parseInt())
		o.size = p.parseInt()
		p.read()
		o.md5 = strings.TrimSpace(p.readStringUntil('\n'))
		if len(o.md5) != 32 {
			return
		}
		if o.pass != "" {
			// nonce = md5 of the decimal micros() (a 32-bit counter).
			o.nonce = ota.MD5Hex([]byte(strconv.FormatUint(uint64(o.micros()), 10)))
			o.reply("AUTH " + o.nonce)
			o.state = stateWaitAuth
			return
		}
		o.accept()
	case stateWaitAuth:
		if p.parseInt() != int(ota.CommandAuth) {
			o.state = stateIdle
			return
		}
		p.read()
		cnonce := p.readStringUntil(' ')
		response := p.readStringUntil('\n')
		if len(cnonce) != 32 || len(response) != 32 {
			o.state = stateIdle
			return
		}
		want := ota.AuthResponse(o.pass, o.nonce, cnonce)
		if subtle.ConstantTimeCompare([]byte(want), []byte(response)) == 1 {
			o.accept()
			return
		}
		o.reply("Authentication Failed")
		o.state = stateIdle
		o.callError(ErrAuth)
	}
}

// accept moves to RUNUPDATE. arduino-esp32 replies OK here, before
// Update.begin; the ESP8266 core only after Update.begin succeeded
// (device-side.md §5.1 step 6).
func (o *OTA) accept() {
	if o.esp32 {
		o.reply("OK")
	}
	o.state = stateRunUpdate
}

func (o *OTA) setIdle() {
	o.mu.Lock()
	o.state = stateIdle
	o.mu.Unlock()
}

func (o *OTA) send(s string) {
	if _, err := o.d.udp.WriteToUDP([]byte(s), o.peer); err != nil {
		o.d.logf("OTA: UDP reply to %s: %v", o.peer, err)
	}
}

func (o *OTA) callError(code Error) {
	if o.cb.OnError != nil {
		o.cb.OnError(code)
	}
}

// Handle is ArduinoOTA.handle(): run an accepted update now (blocking the
// sketch until it ends) and drive mDNS probing. It returns an error only
// when ctx ended (the chip was reset); after a successful update the
// board restarts, which also ends ctx.
func (o *OTA) Handle(ctx context.Context) error {
	o.mu.Lock()
	run := o.state == stateRunUpdate
	if !o.probed && o.env.Now()-o.begun >= probeTime {
		o.probed = true
	}
	o.mu.Unlock()
	if run {
		run := o.runUpdate
		if o.esp32 {
			run = o.runUpdate32
		}
		c, err := run(ctx)
		// handle() sets IDLE before the WiFiClient's destructor closes the
		// connection, and no network callback runs in between (the SDK only
		// runs them when the sketch yields): a host that saw the close can
		// invite again at once.
		o.setIdle()
		c.close()
		if err != nil {
			return err
		}
	}
	if o.esp32 {
		select {
		case d := <-o.rx:
			o.onRx(d.b, d.from)
		default:
		}
	}
	return ctx.Err()
}

// WiFiClient timings of the ESP8266 core and lwIP's receive window
// ("lwIP v2 Higher Bandwidth": TCP_MSS 1460, TCP_WND 4 × MSS).
const (
	connectTimeout = 5 * time.Second
	tcpWindow      = 4 * 1460
)

// runUpdate is ArduinoOTAClass::_runUpdate (ESP8266 core 3.1.x), steps
// 6–10 of device-side.md §5.1, including its quirks: a failed connect is
// reported and then also fails Update.end(); a second of silence is not
// an error while the host keeps the connection open.
func (o *OTA) runUpdate(ctx context.Context) (c *conn, err error) {
	env := o.env
	o.mu.Lock()
	cmd, size, sum, peer, port := o.cmd, o.size, o.md5, o.peer, o.tcpPort
	o.mu.Unlock()

	u := newUpdater(env, o.d.cfg.Layout)
	if !u.begin(uint32(size), cmd) {
		o.callError(ErrBegin)
		o.reply("ERR: " + u.printError())
		env.Sleep(ctx, 100*time.Millisecond)
		o.d.logf("OTA: Update.begin failed: %s", u.errorString())
		return nil, ctx.Err()
	}
	o.reply("OK")
	if err := env.Sleep(ctx, 100*time.Millisecond); err != nil {
		return nil, err
	}
	u.setMD5(sum)
	if c, err = o.connectBack(ctx, cmd, size, peer, port); ctx.Err() != nil {
		return nil, err
	}
	total := 0
	for c != nil && !u.isFinished() && (c.connected() || len(c.pending) > 0) {
		if err := c.waitAvailable(ctx, time.Second); err != nil {
			return c, err
		}
		written, err := u.write(ctx, c.pending)
		if err != nil {
			return c, err
		}
		c.pending = c.pending[written:]
		if written > 0 {
			c.print(strconv.Itoa(written))
			total += written
			if o.cb.OnProgress != nil {
				o.cb.OnProgress(total, size)
			}
		}
		if !c.connected() && written == 0 && len(c.pending) > 0 {
			break // the Updater refused the rest: nothing more will be consumed
		}
	}

	if u.end(ctx) {
		// Update.end() writes eboot's command before anything is sent: a
		// reset from here on still boots into the new image.
		if u.staged != nil {
			o.d.mu.Lock()
			o.d.rtc = u.staged
			o.d.mu.Unlock()
		}
		if err := env.Sleep(ctx, time.Second); err != nil {
			return c, err
		}
		c.print("OK")
		if err := env.Sleep(ctx, time.Second); err != nil {
			return c, err
		}
		c.close()
		o.d.logf("OTA: update of %d bytes done (%s)", size, cmd)
		return c, o.restartAfterEnd(ctx)
	}
	o.callError(ErrEnd)
	c.print(u.printError())
	o.d.logf("OTA: Update.end failed: %s", strings.TrimSpace(u.printError()))
	return c, ctx.Err()
}

// restartAfterEnd ends a successful update as both cores do: onEnd,
// 100 ms for the sketch's output to leave, ESP.restart().
func (o *OTA) restartAfterEnd(ctx context.Context) error {
	if o.cb.OnEnd != nil {
		o.cb.OnEnd()
	}
	if err := o.env.Sleep(ctx, 100*time.Millisecond); err != nil {
		return err
	}
	o.env.Flush(ctx)
	o.env.Restart()
	<-ctx.Done()
	return ctx.Err()
}

// connectBack runs the sketch's onStart and first onProgress, then
// connects to the host; a failed connect is reported to the sketch (the
// update goes on to fail in Update.end(), as on both cores). It returns
// an error only when ctx ended.
func (o *OTA) connectBack(ctx context.Context, cmd ota.Command, size int, peer *net.UDPAddr, port uint16) (*conn, error) {
	if o.cb.OnStart != nil {
		o.cb.OnStart(cmd)
	}
	if o.cb.OnProgress != nil {
		o.cb.OnProgress(0, size)
	}
	c, err := dialBack(ctx, o.env, o.d.ip, peer.IP, port)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		o.d.logf("OTA: connect to %s:%d failed: %v", peer.IP, port, err)
		o.setIdle()
		o.callError(ErrConnect)
	}
	return c, nil
}

// conn is the sketch's WiFiClient: bytes read from the socket wait in
// pending (what client.available() counts) until the Updater takes them.
type conn struct {
	env     *virtualboard.AppEnv
	c       *net.TCPConn
	pending []byte
	eof     bool
	buf     []byte
}

func dialBack(ctx context.Context, env *virtualboard.AppEnv, local, ip net.IP, port uint16) (*conn, error) {
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: max(env.Clock().Real(connectTimeout), hostLatency)}
	nc, err := dl.DialContext(ctx, "tcp4", net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
	if err != nil {
		return nil, err
	}
	tc := nc.(*net.TCPConn)
	tc.SetNoDelay(true)
	// The socket keeps the kernel's buffer size: shrinking it to lwIP's
	// window makes Linux hold back window updates (silly-window avoidance)
	// and stall the sender on 200 ms persist probes, which no ESP8266 does.
	return &conn{env: env, c: tc, buf: make([]byte, tcpWindow)}, nil
}

func (c *conn) connected() bool { return c != nil && !c.eof }

// waitAvailable waits up to d of board time for data, as ArduinoOTA's
// 1000 × delay(1) loop does, and then takes what has arrived without
// waiting longer.
func (c *conn) waitAvailable(ctx context.Context, d time.Duration) error {
	if len(c.pending) > 0 || c.eof {
		return ctx.Err()
	}
	clk := c.env.Clock()
	c.fill(time.Now().Add(clk.Real(d)))
	if len(c.pending) > 0 && !c.eof {
		// Update.write() keeps taking data while more is there.
		c.fill(time.Now().Add(max(clk.Real(time.Millisecond), 50*time.Microsecond)))
	}
	return ctx.Err()
}

// fill reads what fits into the window until the deadline or until the
// socket has nothing more.
func (c *conn) fill(deadline time.Time) {
	room := tcpWindow - len(c.pending)
	if room <= 0 {
		return
	}
	c.c.SetReadDeadline(deadline)
	n, err := c.c.Read(c.buf[:room])
	c.pending = append(c.pending, c.buf[:n]...)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.eof = true
	}
}

func (c *conn) print(s string) {
	if c == nil || c.eof {
		return
	}
	// At least hostLatency of real time: on a clock sped up 1000 times the
	// 5 s are 5 ms, which a loaded machine can spend between setting the
	// deadline and the write, and the final "OK" was then never sent
	// (TestDiscover, TestUploadWithoutPassword under -race).
	c.c.SetWriteDeadline(time.Now().Add(max(c.env.Clock().Real(5*time.Second), hostLatency)))
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.eof = true
	}
}

func (c *conn) close() {
	if c != nil {
		c.c.Close()
		c.eof = true
	}
}

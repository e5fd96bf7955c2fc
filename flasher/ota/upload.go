package ota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

// Options configure an upload. Zero values mean espota's defaults.
type Options struct {
	// Host is the device: an IP address or a host name; "name.local" is
	// resolved with an mDNS query when the system resolver cannot.
	Host string
	// Port is the device's ArduinoOTA UDP port (DefaultPort).
	Port int
	// Password is the OTA password; empty when the device has none. It is
	// sent only as the challenge answer and never appears in events or
	// errors.
	Password string
	// Target is CommandFlash (an application image) or CommandFS (a
	// filesystem image, espota's --spiffs).
	Target Command
	// LocalAddr is this computer's IP the device connects back to (espota
	// -I); empty means the address of the route to the device.
	LocalAddr string
	// LocalPort is the TCP port the device connects back to (espota -P);
	// 0 picks a free one.
	LocalPort int
	// ReplyTimeout bounds the wait for each UDP reply (espota: 10 s),
	// AcceptTimeout the wait for the device to connect back (10 s),
	// ChunkTimeout each write during the transfer (10 s), ResultTimeout
	// the wait for OK or ERROR after the last byte (60 s).
	ReplyTimeout, AcceptTimeout, ChunkTimeout, ResultTimeout time.Duration
	// ChunkSize is the write size (DefaultChunk, espota's 1460).
	ChunkSize int
	// MDNS lists unicast addresses to ask when resolving a ".local" Host
	// (see DiscoverOptions.Servers); empty means multicast.
	MDNS []string
}

// Result describes a successful upload.
type Result struct {
	Size    int           `json:"size"`
	MD5     string        `json:"md5"`
	Target  string        `json:"target"`
	Device  string        `json:"device"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (o Options) withDefaults() Options {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReplyTimeout, 10*time.Second)
	def(&o.AcceptTimeout, 10*time.Second)
	def(&o.ChunkTimeout, 10*time.Second)
	def(&o.ResultTimeout, 60*time.Second)
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunk
	}
	return o
}

// CheckImage refuses what the device would only refuse after the whole
// transfer (device-side.md §5.4, §5.7): an app must start with the ESP
// image magic 0xE9 or be gzip-compressed (0x1F); a filesystem image that
// starts like an app image is almost certainly the wrong file.
func CheckImage(target Command, image []byte) error {
	if len(image) == 0 {
		return &flasher.InputError{Msg: "the image is empty: build the firmware (or filesystem image) first"}
	}
	switch target {
	case CommandFlash:
		if image[0] != 0xE9 && image[0] != 0x1F {
			return &flasher.InputError{Msg: fmt.Sprintf("not an ESP application image: first byte 0x%02X, want 0xE9 (or 0x1F for a gzip-compressed image); for a filesystem image add --spiffs", image[0])}
		}
	case CommandFS:
		if image[0] == 0xE9 && len(image) >= 4 && image[1] > 0 && image[1] <= 16 {
			return &flasher.InputError{Msg: "this looks like an application image (first byte 0xE9), not a filesystem image: drop --spiffs to update the firmware"}
		}
	default:
		return &flasher.InputError{Msg: fmt.Sprintf("unknown OTA target %d: use the app (0) or the filesystem (100)", int(target))}
	}
	return nil
}

// Upload sends image to an ArduinoOTA device the way espota.py does
// (device-side.md §5.1): invitation over UDP, the password challenge when
// the device asks, then the device connects back over TCP and receives the
// image, answering with byte counts and finally "OK" or an error. Events go
// to onEvent (which may be nil) from this goroutine and one helper
// goroutine, never concurrently.
func Upload(ctx context.Context, o Options, image []byte, onEvent func(Event)) (Result, error) {
	o = o.withDefaults()
	var emitMu sync.Mutex
	emit := func(e Event) {
		if onEvent != nil {
			emitMu.Lock()
			onEvent(e)
			emitMu.Unlock()
		}
	}
	if err := CheckImage(o.Target, image); err != nil {
		return Result{}, err
	}
	start := time.Now()
	sum := MD5Hex(image)

	device, err := resolveDevice(ctx, o)
	if err != nil {
		return Result{}, err
	}
	var laddr *net.UDPAddr
	if o.LocalAddr != "" {
		ip := net.ParseIP(o.LocalAddr)
		if ip == nil {
			return Result{}, &flasher.InputError{Msg: fmt.Sprintf("local address %q is not an IP address: give this computer's address on the board's network", o.LocalAddr)}
		}
		laddr = &net.UDPAddr{IP: ip}
	}
	// One connected UDP socket: the device answers to the invitation's
	// source address and port (§5.1 step 4), and the connection filters
	// out anything else.
	udp, err := net.DialUDP("udp", laddr, device)
	if err != nil {
		return Result{}, &Error{Kind: KindNoReply, Step: "invitation", Err: err,
			Msg: fmt.Sprintf("cannot send to %s: %v; check the address and that this computer is on the board's network", device, err)}
	}
	defer udp.Close()
	localIP := udp.LocalAddr().(*net.UDPAddr).IP
	// The listener exists before the invitation leaves (§5.1 step 2).
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: localIP, Port: o.LocalPort})
	if err != nil {
		return Result{}, &flasher.InputError{Msg: fmt.Sprintf("cannot listen on %s port %d for the device's connection: %v; pick another --host-port", localIP, o.LocalPort, err)}
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { udp.Close(); ln.Close() })
	defer stop()
	cbPort := ln.Addr().(*net.TCPAddr).Port

	emit(InviteEvent{Device: device.String(), Callback: net.JoinHostPort(localIP.String(), strconv.Itoa(cbPort)),
		Target: o.Target.String(), Size: len(image), MD5: sum})
	reply, err := invite(ctx, udp, o, []byte(Invitation(o.Target, cbPort, len(image), sum)), device)
	if err != nil {
		return Result{}, err
	}
	if reply.Kind == ReplyAuth {
		if reply, err = authenticate(ctx, udp, o, reply.Nonce, device, emit); err != nil {
			// Leave the device in IDLE rather than waiting for our
			// answer: in WAITAUTH it would swallow the next invitation.
			udp.Write([]byte(resetDatagram))
			return Result{}, err
		}
	} else if reply.Kind == ReplyOK && o.Password != "" {
		emit(WarningEvent{Message: "the device did not ask for the password: it has none set"})
	}
	if err := acceptanceError(reply, device); err != nil {
		return Result{}, err
	}
	emit(AcceptedEvent{})

	conn, err := accept(ctx, ln, o.AcceptTimeout, localIP, cbPort)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	stopConn := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopConn()
	emit(ConnectedEvent{Remote: conn.RemoteAddr().String()})

	if err := transfer(ctx, conn, image, o, start, emit); err != nil {
		return Result{}, ctxOr(ctx, err)
	}
	res := Result{Size: len(image), MD5: sum, Target: o.Target.String(), Device: device.String(), Elapsed: time.Since(start)}
	emit(DoneEvent{Size: res.Size, MD5: res.MD5, Target: res.Target, Elapsed: res.Elapsed})
	return res, nil
}

// ctxOr prefers the context's error: a cancelled upload fails because it
// was cancelled, not because its sockets were closed under it.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("OTA upload interrupted: %w", ctx.Err())
	}
	return err
}

func resolveDevice(ctx context.Context, o Options) (*net.UDPAddr, error) {
	host := strings.TrimSuffix(o.Host, ".")
	if host == "" {
		return nil, &flasher.InputError{Msg: "no device given: pass its IP address or mDNS name with --host (find boards with `iotbench ota discover`)"}
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return &net.UDPAddr{IP: ip, Port: o.Port}, nil
	}
	if strings.HasSuffix(strings.ToLower(host), ".local") {
		if ip, err := ResolveLocal(ctx, host, DiscoverOptions{Timeout: o.ReplyTimeout / 3, Servers: o.MDNS}); err == nil {
			return &net.UDPAddr{IP: ip, Port: o.Port}, nil
		}
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, &Error{Kind: KindNoReply, Step: "invitation", Err: err,
			Msg: fmt.Sprintf("cannot resolve %q: %v; use the board's IP address (its serial log prints it) or find it with `iotbench ota discover`", host, err)}
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return &net.UDPAddr{IP: ip, Port: o.Port}, nil
		}
	}
	return &net.UDPAddr{IP: ips[0], Port: o.Port}, nil
}

// resetDatagram moves an ESP8266 ArduinoOTA that waits for a password
// back to IDLE: in WAITAUTH any datagram that does not start with 200 does
// that silently, and in IDLE this one is ignored (its MD5 field is empty).
const resetDatagram = "0\n"

// invite sends the invitation and waits for the answer. The ESP8266 flavour
// of espota sends it once; this uploader repeats it after a quarter of
// ReplyTimeout of silence, because an ArduinoOTA left in WAITAUTH by an
// upload that gave up after the challenge (a missing password, a killed
// espota) swallows the next datagram, whatever it is (ArduinoOTA.cpp
// _onRx). A device that is slow to answer loses nothing by the repeat: in
// RUNUPDATE it ignores datagrams, and it answers AUTH from the network
// callback at once.
func invite(ctx context.Context, udp *net.UDPConn, o Options, msg []byte, device *net.UDPAddr) (Reply, error) {
	const tries = 4
	var err error
	for try := 1; try <= tries; try++ {
		if _, werr := udp.Write(msg); werr != nil {
			return Reply{}, ctxOr(ctx, &Error{Kind: KindNoReply, Step: "invitation", Err: werr, Msg: fmt.Sprintf("sending to %s failed: %v", device, werr)})
		}
		wait := o.ReplyTimeout / tries
		if try == tries {
			wait = o.ReplyTimeout - wait*(tries-1)
		}
		var r Reply
		r, err = readReply(ctx, udp, wait, "invitation", device)
		var oe *Error
		if err == nil || !errors.As(err, &oe) || !errors.Is(oe.Err, os.ErrDeadlineExceeded) {
			return r, err
		}
	}
	var oe *Error
	if errors.As(err, &oe) {
		oe.Msg = strings.Replace(oe.Msg, "within "+(o.ReplyTimeout/tries).String(), "within "+o.ReplyTimeout.String(), 1)
	}
	return Reply{}, err
}

// readReply waits for one datagram and parses it; silence, an ICMP "port
// unreachable" and garbage each get their own explanation.
func readReply(ctx context.Context, udp *net.UDPConn, timeout time.Duration, step string, device *net.UDPAddr) (Reply, error) {
	buf := make([]byte, 1500)
	udp.SetReadDeadline(time.Now().Add(timeout))
	n, err := udp.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			return Reply{}, ctxOr(ctx, err)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return Reply{}, &Error{Kind: KindNoReply, Step: step, Err: err,
				Msg: fmt.Sprintf("%s answered that nothing listens on UDP port %d: no sketch with ArduinoOTA runs there, or it uses another port (ArduinoOTA.setPort; --port)", device.IP, device.Port)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			msg := fmt.Sprintf("no answer from %s within %s: the board is not running an OTA-enabled sketch, is not on this network, or its sketch does not call ArduinoOTA.handle() often enough (a blocking connect or delay); check its serial log", device, timeout)
			if step == "authentication" {
				msg = fmt.Sprintf("the device asked for the password but did not answer the reply within %s: its sketch is busy and does not call ArduinoOTA.handle(); check its serial log", timeout)
			}
			return Reply{}, &Error{Kind: KindNoReply, Step: step, Err: err, Msg: msg}
		}
		return Reply{}, &Error{Kind: KindNoReply, Step: step, Err: err, Msg: fmt.Sprintf("reading the reply from %s failed: %v", device, err)}
	}
	r, err := ParseReply(buf[:n])
	if err != nil {
		return Reply{}, &Error{Kind: KindUnsupported, Step: step, Err: err,
			Msg: fmt.Sprintf("%v from %s: this is not an ArduinoOTA device, or a variant this tool does not speak", err, device)}
	}
	return r, nil
}

func authenticate(ctx context.Context, udp *net.UDPConn, o Options, nonce string, device *net.UDPAddr, emit func(Event)) (Reply, error) {
	if len(nonce) == 64 {
		return Reply{}, &Error{Kind: KindUnsupported, Step: "authentication",
			Msg: "the device uses the SHA-256 challenge of arduino-esp32 3.3.1 and later, which this tool does not speak yet; upload with that core's espota.py"}
	}
	if o.Password == "" {
		return Reply{}, &Error{Kind: KindAuth, Step: "authentication",
			Msg: "the device requires a password (such boards advertise auth_upload=yes, see iotbench ota discover): pass it with --auth or --auth-file"}
	}
	var raw [16]byte
	rand.Read(raw[:])
	// The device only checks that the cnonce is 32 characters (§5.2).
	cnonce := hex.EncodeToString(raw[:])
	resp := AuthResponse(PasswordHash(o.Password), nonce, cnonce)
	emit(AuthEvent{Nonce: nonce})
	if _, err := udp.Write([]byte(AuthReply(cnonce, resp))); err != nil {
		return Reply{}, ctxOr(ctx, &Error{Kind: KindNoReply, Step: "authentication", Err: err, Msg: fmt.Sprintf("sending the password answer to %s failed: %v", device, err)})
	}
	r, err := readReply(ctx, udp, o.ReplyTimeout, "authentication", device)
	if err != nil {
		return Reply{}, err
	}
	if r.Kind == ReplyAuth {
		return Reply{}, &Error{Kind: KindUnsupported, Step: "authentication", Msg: "the device sent a second challenge instead of an answer: another upload to it may be running"}
	}
	return r, nil
}

func acceptanceError(r Reply, device *net.UDPAddr) error {
	switch r.Kind {
	case ReplyOK:
		return nil
	case ReplyAuthFailed:
		return &Error{Kind: KindAuth, Step: "authentication",
			Msg: "the device answered \"Authentication Failed\": wrong password; use the one its sketch sets (ArduinoOTA.setPassword, or the hash given to setPasswordHash, which must be lower-case hex)"}
	case ReplyBeginFailed:
		m := r.Message
		return &Error{Kind: KindRefused, Step: "invitation", Device: &m,
			Msg: fmt.Sprintf("the device refused to begin the update (%s): %s", m, m.Fix())}
	}
	return &Error{Kind: KindUnsupported, Step: "invitation", Msg: fmt.Sprintf("unexpected reply from %s", device)}
}

func accept(ctx context.Context, ln *net.TCPListener, timeout time.Duration, localIP net.IP, port int) (*net.TCPConn, error) {
	ln.SetDeadline(time.Now().Add(timeout))
	conn, err := ln.AcceptTCP()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxOr(ctx, err)
		}
		return nil, &Error{Kind: KindNoReply, Step: "connect-back", Err: err,
			Msg: fmt.Sprintf("the device accepted the update but did not connect back to %s within %s: a firewall on this computer probably blocks incoming TCP connections to that port; allow it, or pick an allowed port with --host-port (and --host-ip if this computer has several networks); or, on an ESP32, the board refused the image after answering OK (bigger than its OTA slot, say): its serial log says why",
				net.JoinHostPort(localIP.String(), strconv.Itoa(port)), timeout)}
	}
	return conn, nil
}

// transfer streams the image while a reader goroutine follows the
// device's counts and watches for its verdict, instead of espota's
// lock-step of one write and one read (§5.7); TCP's own flow control keeps
// the host from running ahead of the device.
func transfer(ctx context.Context, conn *net.TCPConn, image []byte, o Options, start time.Time, emit func(Event)) error {
	conn.SetNoDelay(true)
	total := int64(len(image))
	var sent, acked atomic.Int64
	var lastPct atomic.Int64
	lastPct.Store(-1)
	progress := func() {
		s, a := sent.Load(), acked.Load()
		pct := (s + a) * 100 / (2 * total)
		if lastPct.Swap(pct) != pct {
			emit(ProgressEvent{Sent: s, Acked: a, Total: total, Elapsed: time.Since(start)})
		}
	}
	type verdict struct {
		done, ok bool
		msg      DeviceMessage
		err      error
	}
	verdictC := make(chan verdict, 1)
	go func() {
		var sc ResultScanner
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				sc.Feed(buf[:n], sent.Load())
				acked.Store(sc.Acked())
				progress()
				if done, ok, msg := sc.Result(); done {
					verdictC <- verdict{done: true, ok: ok, msg: msg}
					return
				}
			}
			if err != nil {
				done, ok, msg := sc.Result()
				if sc.Close() {
					done, ok, msg = sc.Result()
				}
				verdictC <- verdict{done: done, ok: ok, msg: msg, err: err}
				return
			}
		}
	}()

	refused := func(v verdict) error {
		m := v.msg
		return &Error{Kind: KindRefused, Step: "result", Device: &m,
			Msg: fmt.Sprintf("the device rejected the image after %d of %d bytes (%s): %s; the old firmware keeps running", sent.Load(), total, m, m.Fix())}
	}
	for off := 0; off < len(image); {
		select {
		case v := <-verdictC:
			if v.done && !v.ok {
				return refused(v)
			}
			if v.ok {
				return &Error{Kind: KindUnsupported, Step: "transfer",
					Msg: fmt.Sprintf("the device answered OK after only %d of %d bytes: it does not count bytes as ArduinoOTA does; check that the port belongs to an ArduinoOTA sketch", off, total)}
			}
			return &Error{Kind: KindTransfer, Step: "transfer", Err: v.err,
				Msg: fmt.Sprintf("the device closed the connection after %d of %d bytes: it reset or lost Wi-Fi; the old firmware stays in place, try again", off, total)}
		default:
		}
		n := min(o.ChunkSize, len(image)-off)
		conn.SetWriteDeadline(time.Now().Add(o.ChunkTimeout))
		if _, err := conn.Write(image[off : off+n]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The device may have said why before it closed.
			select {
			case v := <-verdictC:
				if v.done && !v.ok {
					return refused(v)
				}
			case <-time.After(time.Second):
			}
			msg := fmt.Sprintf("sending failed after %d of %d bytes: %v; the device reset or lost Wi-Fi, the old firmware stays in place; try again", off, total, err)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				msg = fmt.Sprintf("the device stopped taking data for %s after %d of %d bytes: its Wi-Fi link is too weak or it hung; the old firmware stays in place; try again", o.ChunkTimeout, off, total)
			}
			return &Error{Kind: KindTransfer, Step: "transfer", Err: err, Msg: msg}
		}
		off += n
		sent.Store(int64(off))
		progress()
	}
	emit(VerifyEvent{})
	conn.SetReadDeadline(time.Now().Add(o.ResultTimeout))
	var v verdict
	select {
	case v = <-verdictC:
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case v.done && v.ok:
		acked.Store(total)
		progress()
		return nil
	case v.done:
		return refused(v)
	case errors.Is(v.err, os.ErrDeadlineExceeded):
		return &Error{Kind: KindTransfer, Step: "result", Err: v.err,
			Msg: fmt.Sprintf("no OK or error from the device within %s after the last byte: it hung or reset while checking the image; check its serial log", o.ResultTimeout)}
	}
	return &Error{Kind: KindTransfer, Step: "result", Err: v.err,
		Msg: fmt.Sprintf("the device closed the connection after all %d bytes without OK or an error: it reset while checking the image; the old firmware stays in place, try again", total)}
}

package rfc2217

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	// DefaultBaud is the rate Dial sets unless WithBaud says otherwise.
	DefaultBaud = 115200
	// DefaultTimeout is the network timeout: for connecting, for each
	// negotiation phase and for every acknowledged request. pyserial uses
	// the same default.
	DefaultTimeout = 3 * time.Second

	// maxBuffered bounds received data nobody has read yet. A real UART
	// drops bytes on overrun; doing the same keeps a stalled reader from
	// growing memory without bound, and unlike TCP back-pressure it never
	// stalls the acknowledgements that synchronous calls wait for.
	maxBuffered = 1 << 20

	// maxPendingControls bounds remembered unacknowledged SET-CONTROL
	// requests, for servers that never acknowledge them.
	maxPendingControls = 256

	signature = "iotbench"
)

// Option adjusts Dial.
type Option func(*config)

type config struct {
	baud    int
	timeout time.Duration
	ignCtl  bool
}

// WithBaud sets the baud rate requested while opening (default 115200).
func WithBaud(baud int) Option { return func(c *config) { c.baud = baud } }

// WithTimeout sets the network timeout (default 3 s). A timeout=SECONDS
// query parameter in the URL takes precedence, because the URL is what the
// user typed.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Port is a serial port reached through an RFC 2217 server. It has the
// method set of flasher.Port and flasher.LinePairSetter. All methods are
// safe for concurrent use.
type Port struct {
	conn    net.Conn
	name    string // "rfc2217://host:port", for error messages
	timeout time.Duration
	ignCtl  bool
	opener  []byte         // our first negotiation bytes, to recognise an echo
	bg      sync.WaitGroup // socket reader and reply writer

	wmu  sync.Mutex // one writer on the socket: subnegotiations stay whole
	opMu sync.Mutex // one synchronous request at a time

	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex
	notify      chan struct{} // closed and replaced on every state change
	dec         Decoder
	neg         negotiator
	buf         []byte // received data; buf[off:] is unread
	off         int
	readTimeout time.Duration
	baud        int
	closed      bool   // Close was called
	replyQ      []byte // Telnet answers not yet sent
	replying    bool   // a goroutine is sending replyQ
	rerr        error  // why the socket reader stopped
	head        []byte
	echo        bool             // the peer mirrored our opener
	expect      map[byte]bool    // reply codes a synchronous call waits for
	acks        map[byte][]byte  // replies that arrived for expect
	controls    []pendingControl // SET-CONTROL requests not acknowledged yet
	syncAck     byte             // answer to the synchronous SET-CONTROL
	syncAcked   bool             // syncAck is valid
	ctlErr      error            // rejected control change not reported yet
	modem       byte
	haveModem   bool
}

type pendingControl struct {
	value byte
	sync  bool
}

// Dial connects to an RFC 2217 server and opens the port at 8N1, without
// flow control, at the initial baud rate. The URL has the form
// rfc2217://HOST:PORT[?ign_set_control][&timeout=SECONDS]:
//
//   - ign_set_control: do not wait for SET-CONTROL acknowledgements nor
//     check their values (pyserial's flag for servers such as sredird that
//     answer them wrongly).
//   - timeout: network timeout in seconds (default 3).
//
// pyserial's logging and poll_modem parameters are accepted and ignored so
// that URLs written for esptool keep working.
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Port, error) {
	cfg := config{baud: DefaultBaud, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	addr, err := parseURL(rawURL, &cfg)
	if err != nil {
		return nil, err
	}
	name := "rfc2217://" + addr
	if cfg.baud <= 0 || uint64(cfg.baud) > math.MaxUint32 {
		return nil, fmt.Errorf("%s: invalid baud rate %d", name, cfg.baud)
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("%s: network timeout must be positive, got %v", name, cfg.timeout)
	}

	d := net.Dialer{Timeout: cfg.timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, dialError(name, cfg.timeout, err)
	}

	p := &Port{
		conn:    conn,
		name:    name,
		timeout: cfg.timeout,
		ignCtl:  cfg.ignCtl,
		notify:  make(chan struct{}),
		baud:    cfg.baud,
		expect:  map[byte]bool{},
		acks:    map[byte][]byte{},
	}
	p.neg.acceptUs = func(opt byte) bool {
		return opt == OptBinary || opt == OptSGA || opt == OptComPort
	}
	// Refuse ECHO (nothing may come back that the device did not send) and
	// the server's WILL COM-PORT-OPTION: in RFC 2217 only the client
	// enables it, and accepting would let an echo server look like a
	// server that agreed.
	p.neg.acceptHim = func(opt byte) bool { return opt == OptBinary || opt == OptSGA }
	o := p.neg.offer(nil, OptBinary)
	o = p.neg.request(o, OptBinary)
	o = p.neg.offer(o, OptSGA)
	o = p.neg.request(o, OptSGA)
	o = p.neg.offer(o, OptComPort)
	p.opener = o
	p.bg.Add(1)
	go p.readLoop()

	if err := p.open(ctx, cfg.baud); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func parseURL(raw string, cfg *config) (addr string, err error) {
	const form = "rfc2217://HOST:PORT[?ign_set_control][&timeout=SECONDS]"
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rfc2217" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an RFC 2217 URL: use %s", raw, form)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || port == "" {
		return "", fmt.Errorf("%q lacks a host or port: use %s", raw, form)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", raw, port)
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "ign_set_control":
			cfg.ignCtl = true
		case "timeout":
			s, err := strconv.ParseFloat(q.Get(k), 64)
			if err != nil || s <= 0 || s > 3600 || math.IsNaN(s) {
				return "", fmt.Errorf("%q: timeout=%q is not a number of seconds between 0 and 3600", raw, q.Get(k))
			}
			cfg.timeout = time.Duration(s * float64(time.Second))
		case "logging", "poll_modem":
			// pyserial options; accepted so that esptool URLs work.
		default:
			return "", fmt.Errorf("%q: unknown option %q (known: ign_set_control, timeout=SECONDS)", raw, k)
		}
	}
	return net.JoinHostPort(host, port), nil
}

func dialError(name string, timeout time.Duration, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: connection refused — is the RFC 2217 server (e.g. `iotbench virtual-board` or esp_rfc2217_server) running? (%w)", name, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s: cannot resolve the host name — check its spelling (%w)", name, err)
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("%s: no answer within %v — check the host and port and that no firewall drops the connection (%w)", name, timeout, err)
	}
	return fmt.Errorf("%s: cannot connect: %w", name, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// open runs the Telnet negotiation and sets the line to baud 8N1.
func (p *Port) open(ctx context.Context, baud int) error {
	if err := p.write(p.opener); err != nil {
		return err
	}
	err := p.waitFor(ctx, p.timeout, func() (bool, error) {
		switch {
		case p.echo:
			return false, p.errEcho()
		case p.neg.us[OptComPort] == optYes:
			return true, nil
		case p.neg.peerRefusedUs[OptComPort]:
			return false, fmt.Errorf("%s: the server refused COM-PORT-OPTION (it answered DONT 44): it speaks Telnet but not RFC 2217 — for ser2net, enable remctl on the port", p.name)
		}
		return false, nil
	})
	if errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("%s: remote did not agree to COM-PORT-OPTION within %v: the server is a plain TCP bridge, not RFC 2217 (check the port number, or run the bridge in RFC 2217/telnet mode)", p.name, p.timeout)
	}
	if err != nil {
		return p.openError(err)
	}
	// The server may have sent data already (a banner, boot output): keep it.

	p.opMu.Lock()
	defer p.opMu.Unlock()
	msg := AppendComPortOption(nil, CmdSetBaudRate, be32(uint32(baud)))
	msg = AppendComPortOption(msg, CmdSetDataSize, []byte{8})
	msg = AppendComPortOption(msg, CmdSetParity, []byte{ParityNone})
	msg = AppendComPortOption(msg, CmdSetStopSize, []byte{StopSize1})
	vals, err := p.roundTrip(ctx, msg, CmdSetBaudRate, CmdSetDataSize, CmdSetParity, CmdSetStopSize)
	if err != nil {
		return p.openError(err)
	}
	if err := p.checkBaud(baud, vals[0]); err != nil {
		return err
	}
	for i, want := range []byte{8, ParityNone, StopSize1} {
		if v := vals[i+1]; len(v) < 1 || v[0] != want {
			what := [...]string{"data size", "parity", "stop size"}[i]
			return fmt.Errorf("%s: the server refused 8N1 framing: asked for %s %d, it answered %v", p.name, what, want, v)
		}
	}
	if err := p.syncControl(ctx, ControlNoFlow); err != nil {
		return p.openError(err)
	}
	return nil
}

func (p *Port) openError(err error) error {
	switch {
	case errors.Is(err, errConnLost):
		p.mu.Lock()
		cause := p.rerr
		p.mu.Unlock()
		return fmt.Errorf("%s: the server closed the connection while opening the port — is another client already connected? (%w)", p.name, cause)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: opening the port: %w", p.name, err)
	}
	return err
}

func (p *Port) errEcho() error {
	return fmt.Errorf("%s: the server echoed our Telnet negotiation back byte for byte: it is a plain TCP echo or loopback, not an RFC 2217 server", p.name)
}

func be32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

func (p *Port) checkBaud(baud int, v []byte) error {
	if len(v) < 4 {
		return fmt.Errorf("%s: malformed SET-BAUDRATE answer %v from the server", p.name, v)
	}
	// Compare only the first four bytes: sredird appends four zero bytes.
	if got := binary.BigEndian.Uint32(v); uint64(got) != uint64(baud) {
		return fmt.Errorf("%s: the server refused %d baud (it kept %d) — pick a rate the remote UART supports", p.name, baud, got)
	}
	return nil
}

// readLoop owns the socket's read side: everything the server sends is
// decoded here, in order, so acknowledgements and data keep their relative
// position (ResetInputBuffer depends on it).
func (p *Port) readLoop() {
	defer p.bg.Done()
	buf := make([]byte, 16<<10)
	for {
		n, err := p.conn.Read(buf)
		if n > 0 {
			p.handle(buf[:n])
		}
		if err != nil {
			p.mu.Lock()
			p.rerr = err
			p.broadcastLocked()
			p.mu.Unlock()
			return
		}
	}
}

func (p *Port) broadcastLocked() {
	close(p.notify)
	p.notify = make(chan struct{})
}

// handle decodes one chunk and queues the Telnet replies it calls for.
func (p *Port) handle(chunk []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.replyQ
	if len(p.head) < len(p.opener) {
		n := min(len(p.opener)-len(p.head), len(chunk))
		p.head = append(p.head, chunk[:n]...)
		if string(p.head) == string(p.opener) {
			p.echo = true
		}
	}
	p.dec.Feed(chunk, func(ev Event) {
		switch ev.Kind {
		case EventData:
			p.buffer(ev.Data)
		case EventNegotiation:
			out = p.neg.receive(out, ev.Cmd, ev.Option)
		case EventSubnegotiation:
			if ev.Option == OptComPort && len(ev.Data) > 0 {
				out = p.comPort(ev.Data[0], ev.Data[1:], out)
			}
		}
	})
	p.broadcastLocked()
	p.replyQ = out
	if len(p.replyQ) > 0 && !p.replying && !p.closed {
		// Replies go out from another goroutine: the reader must never
		// block on the socket's write side, or a Write stuck on a full
		// TCP window would stop the reads that let the peer drain it.
		p.replying = true
		p.bg.Add(1)
		go p.sendReplies()
	}
}

func (p *Port) sendReplies() {
	defer p.bg.Done()
	for {
		p.mu.Lock()
		b := p.replyQ
		p.replyQ = nil
		if len(b) == 0 {
			p.replying = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if p.write(b) != nil {
			// The connection is gone; Read reports it.
			p.mu.Lock()
			p.replying = false
			p.replyQ = nil
			p.mu.Unlock()
			return
		}
	}
}

// buffer stores received data; p.mu is held.
func (p *Port) buffer(data []byte) {
	if p.off > 0 && p.off >= len(p.buf)/2 {
		// Reclaim the read part so a reader taking a few bytes at a time
		// neither grows the buffer nor pays for a move on every Read.
		p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
		p.off = 0
	}
	room := maxBuffered - len(p.buf)
	p.buf = append(p.buf, data[:max(0, min(room, len(data)))]...)
}

func (p *Port) discardLocked() {
	p.buf = p.buf[:0]
	p.off = 0
}

// comPort handles a COM-PORT-OPTION message from the server; p.mu is held.
func (p *Port) comPort(code byte, v []byte, out []byte) []byte {
	switch {
	case code == ServerReply+CmdSignature:
		if len(v) == 0 {
			out = AppendComPortOption(out, CmdSignature, []byte(signature))
		}
	case code == ServerReply+CmdSetControl:
		if len(v) > 0 {
			p.controlAck(v[0])
		}
	case code == ServerReply+CmdNotifyModemState:
		if len(v) > 0 {
			p.modem, p.haveModem = v[0], true
		}
	case code > ServerReply && code <= ServerReply+CmdPurgeData:
		req := code - ServerReply
		if !p.expect[req] {
			return out // unsolicited or too late
		}
		delete(p.expect, req)
		p.acks[req] = append([]byte(nil), v...)
		if req == CmdPurgeData && len(v) > 0 && (v[0] == PurgeReceive || v[0] == PurgeBoth) {
			// Everything before this ack in the stream was in flight
			// when the server purged: it belongs to the discarded past.
			p.discardLocked()
		}
	case code == CmdFlowControlSuspend || code == CmdFlowControlResume:
		// Some servers send these without the +100 (pyserial accepts
		// both); we never throttle, so either form is ignored.
	case code >= CmdSetBaudRate && code <= CmdPurgeData:
		// Our own pending request coming back means a loopback or an echo
		// server, never an RFC 2217 server: fail now instead of timing out.
		if p.expect[code] || (code == CmdSetControl && len(p.controls) > 0) {
			p.echo = true
		}
	}
	return out
}

// controlFamily groups SET-CONTROL values that answer each other, so an
// ack can be matched to its request even when answers are reordered or
// some are missing.
func controlFamily(v byte) int {
	switch v {
	case 0, 1, 2, 3, 17, 19:
		return 1 // outbound flow control
	case 4, 5, 6:
		return 2 // BREAK
	case 7, 8, 9:
		return 3 // DTR
	case 10, 11, 12:
		return 4 // RTS
	case 13, 14, 15, 16, 18:
		return 5 // inbound flow control
	}
	return 0
}

func controlName(v byte) string {
	switch v {
	case ControlNoFlow:
		return "no flow control"
	case ControlXonXoff:
		return "XON/XOFF flow control"
	case ControlHardwareFlow:
		return "RTS/CTS flow control"
	case ControlBreakOn:
		return "BREAK on"
	case ControlBreakOff:
		return "BREAK off"
	case ControlDTROn:
		return "DTR on"
	case ControlDTROff:
		return "DTR off"
	case ControlRTSOn:
		return "RTS on"
	case ControlRTSOff:
		return "RTS off"
	}
	return "value " + strconv.Itoa(int(v))
}

// controlAck matches a SET-CONTROL answer to the oldest outstanding
// request of the same kind; p.mu is held.
func (p *Port) controlAck(v byte) {
	if p.ignCtl || len(p.controls) == 0 {
		return
	}
	i := 0
	for j, c := range p.controls {
		if controlFamily(c.value) == controlFamily(v) {
			i = j
			break
		}
	}
	req := p.controls[i]
	p.controls = append(p.controls[:i], p.controls[i+1:]...)
	if req.sync {
		p.syncAck, p.syncAcked = v, true
		return
	}
	if v != req.value && p.ctlErr == nil {
		p.ctlErr = p.controlRejected(req.value, v)
	}
}

func (p *Port) controlRejected(want, got byte) error {
	return fmt.Errorf("%s: the server rejected %s (SET-CONTROL %d; it answered %d) — if it always answers SET-CONTROL with a fixed value (sredird does), add ?ign_set_control to the URL", p.name, controlName(want), want, got)
}

var (
	errWaitTimeout = errors.New("timed out")
	errConnLost    = errors.New("connection lost")
)

// waitFor waits until cond, evaluated with p.mu held, reports done or an
// error; or until the timeout, ctx, Close or the end of the connection.
func (p *Port) waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		done, err := cond()
		if !done && err == nil {
			switch {
			case p.closed:
				err = p.errClosed()
			case p.rerr != nil:
				err = fmt.Errorf("%w: %w", errConnLost, p.rerr)
			}
		}
		ch := p.notify
		p.mu.Unlock()
		if done || err != nil {
			return err
		}
		select {
		case <-ch:
		case <-t.C:
			return errWaitTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Port) errClosed() error {
	return fmt.Errorf("%s: port closed: %w", p.name, net.ErrClosed)
}

var subName = [...]string{
	"SIGNATURE", "SET-BAUDRATE", "SET-DATASIZE", "SET-PARITY", "SET-STOPSIZE",
	"SET-CONTROL", "NOTIFY-LINESTATE", "NOTIFY-MODEMSTATE", "FLOWCONTROL-SUSPEND",
	"FLOWCONTROL-RESUME", "SET-LINESTATE-MASK", "SET-MODEMSTATE-MASK", "PURGE-DATA",
}

// roundTrip sends msg and waits for the server's answer to each request
// code; the caller holds opMu. Answers are returned in the order of codes.
func (p *Port) roundTrip(ctx context.Context, msg []byte, codes ...byte) ([][]byte, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, p.errClosed()
	}
	for _, c := range codes {
		p.expect[c] = true
		delete(p.acks, c)
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		for _, c := range codes {
			delete(p.expect, c)
			delete(p.acks, c)
		}
		p.mu.Unlock()
	}()
	if err := p.write(msg); err != nil {
		return nil, err
	}
	vals := make([][]byte, len(codes))
	err := p.waitFor(ctx, p.timeout, func() (bool, error) {
		if p.echo {
			return false, p.errEcho()
		}
		for i, c := range codes {
			v, ok := p.acks[c]
			if !ok {
				return false, nil
			}
			vals[i] = v
		}
		return true, nil
	})
	if errors.Is(err, errWaitTimeout) {
		p.mu.Lock()
		var missing []string
		for _, c := range codes {
			if _, ok := p.acks[c]; !ok {
				missing = append(missing, subName[c])
			}
		}
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: the server did not acknowledge %v within %v — is it a complete RFC 2217 server? (a longer ?timeout=SECONDS helps on slow links)", p.name, missing, p.timeout)
	}
	if err != nil {
		return nil, p.wrapErr(err)
	}
	return vals, nil
}

// wrapErr names the port in errors from waitFor that do not yet.
func (p *Port) wrapErr(err error) error {
	if errors.Is(err, errConnLost) {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return err
}

// syncControl sends a SET-CONTROL and, unless ign_set_control, waits for
// its acknowledgement; the caller holds opMu.
func (p *Port) syncControl(ctx context.Context, value byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.errClosed()
	}
	p.syncAcked = false
	if !p.ignCtl {
		p.pushControlLocked(pendingControl{value: value, sync: true})
	}
	p.mu.Unlock()
	if err := p.write(AppendComPortOption(nil, CmdSetControl, []byte{value})); err != nil {
		return err
	}
	if p.ignCtl {
		return nil
	}
	var got byte
	err := p.waitFor(ctx, p.timeout, func() (bool, error) {
		if p.echo {
			return false, p.errEcho()
		}
		if p.syncAcked {
			got = p.syncAck
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		p.mu.Lock()
		for i, c := range p.controls {
			if c.sync {
				p.controls = append(p.controls[:i], p.controls[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
	}
	if errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("%s: the server did not acknowledge SET-CONTROL (%s) within %v — if it never does, add ?ign_set_control to the URL", p.name, controlName(value), p.timeout)
	}
	if err != nil {
		return p.wrapErr(err)
	}
	if got != value {
		return p.controlRejected(value, got)
	}
	return nil
}

func (p *Port) pushControlLocked(c pendingControl) {
	if len(p.controls) >= maxPendingControls {
		// The server does not acknowledge SET-CONTROL; forget the oldest.
		p.controls = append(p.controls[:0], p.controls[1:]...)
	}
	p.controls = append(p.controls, c)
}

// write sends raw protocol bytes as one unit.
func (p *Port) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(b)
	if err != nil {
		return p.ioError(err)
	}
	return nil
}

func (p *Port) ioError(err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return p.errClosed()
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// Read reads received data. With a read timeout set (SetReadTimeout with a
// positive duration) it waits at most that long and returns 0, nil if
// nothing arrived; with none (the default, or a zero or negative duration)
// it blocks until data arrives or the port is closed. After Close, or once
// the server has gone and the buffered data is drained, it returns an
// error (wrapping net.ErrClosed or io.EOF respectively).
func (p *Port) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var timer *time.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return 0, p.errClosed()
		}
		if p.off < len(p.buf) {
			n := copy(b, p.buf[p.off:])
			p.off += n
			if p.off == len(p.buf) {
				p.discardLocked()
			}
			p.mu.Unlock()
			return n, nil
		}
		if p.rerr != nil {
			err := p.rerr
			p.mu.Unlock()
			if errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("%s: connection closed by the server: %w", p.name, err)
			}
			return 0, fmt.Errorf("%s: connection lost: %w", p.name, err)
		}
		if timer == nil && p.readTimeout > 0 {
			timer = time.NewTimer(p.readTimeout)
			expired = timer.C
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-expired:
			return 0, nil
		}
		p.mu.Lock()
	}
}

// Write sends data to the device, escaping IAC bytes. It returns len(b)
// on success; a partial count means the connection failed.
func (p *Port) Write(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return 0, p.errClosed()
	}
	esc := AppendEscaped(make([]byte, 0, len(b)+len(b)/64+8), b)
	p.wmu.Lock()
	n, err := p.conn.Write(esc)
	p.wmu.Unlock()
	if err != nil {
		return unescapedLen(b, n), p.ioError(err)
	}
	return len(b), nil
}

// unescapedLen converts a count of escaped bytes written into the number
// of bytes of b that went out completely.
func unescapedLen(b []byte, written int) int {
	for i, c := range b {
		w := 1
		if c == IAC {
			w = 2
		}
		if written < w {
			return i
		}
		written -= w
	}
	return len(b)
}

// SetReadTimeout sets how long Read waits for the first byte; zero or
// negative means wait until data arrives or the port closes. It affects
// Reads started afterwards.
func (p *Port) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	p.readTimeout = d
	p.mu.Unlock()
	return nil
}

// SetBaudRate changes the remote UART's rate and waits for the server to
// confirm it. It also reports a control-line change (SetDTR/SetRTS) that
// the server rejected since the last synchronous call.
func (p *Port) SetBaudRate(baud int) error {
	if baud <= 0 || uint64(baud) > math.MaxUint32 {
		return fmt.Errorf("%s: invalid baud rate %d", p.name, baud)
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	vals, err := p.roundTrip(context.Background(), AppendComPortOption(nil, CmdSetBaudRate, be32(uint32(baud))), CmdSetBaudRate)
	if err != nil {
		return err
	}
	if err := p.checkBaud(baud, vals[0]); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.baud = baud
	return p.takeControlErrLocked()
}

func (p *Port) takeControlErrLocked() error {
	err := p.ctlErr
	p.ctlErr = nil
	return err
}

// BaudRate reports the rate last confirmed by the server.
func (p *Port) BaudRate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baud
}

// SetDTR drives DTR (true = asserted). It does not wait for the server's
// acknowledgement: reset sequences depend on the order and spacing of line
// changes, and a round trip per change would distort them. A rejection is
// reported by the next SetBaudRate or ResetInputBuffer.
func (p *Port) SetDTR(asserted bool) error {
	return p.sendControls(dtrValue(asserted))
}

// SetRTS drives RTS (true = asserted); see SetDTR about acknowledgements.
func (p *Port) SetRTS(asserted bool) error {
	return p.sendControls(rtsValue(asserted))
}

// SetDTRRTS changes DTR, then RTS, in one TCP write so that the server
// applies them back to back (the closest RFC 2217 gets to a single
// TIOCMSET).
func (p *Port) SetDTRRTS(dtr, rts bool) error {
	return p.sendControls(dtrValue(dtr), rtsValue(rts))
}

func dtrValue(on bool) byte {
	if on {
		return ControlDTROn
	}
	return ControlDTROff
}

func rtsValue(on bool) byte {
	if on {
		return ControlRTSOn
	}
	return ControlRTSOff
}

// sendControls sends SET-CONTROL requests without waiting for their answers.
func (p *Port) sendControls(values ...byte) error {
	var msg []byte
	for _, v := range values {
		msg = AppendComPortOption(msg, CmdSetControl, []byte{v})
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.errClosed()
	}
	if !p.ignCtl {
		// Registered before sending, so the answer cannot overtake it.
		for _, v := range values {
			p.pushControlLocked(pendingControl{value: v})
		}
	}
	p.mu.Unlock()
	return p.write(msg)
}

// ResetInputBuffer discards everything received and not yet read. It asks
// the server to purge its receive buffer and waits for the answer; data
// that arrives before the answer was in flight before the purge and is
// discarded too, data after it is kept. It also reports a control-line
// change the server rejected since the last synchronous call.
func (p *Port) ResetInputBuffer() error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	p.discardLocked()
	p.mu.Unlock()
	vals, err := p.roundTrip(context.Background(), AppendComPortOption(nil, CmdPurgeData, []byte{PurgeReceive}), CmdPurgeData)
	if err != nil {
		return err
	}
	if v := vals[0]; len(v) < 1 || v[0] != PurgeReceive {
		return fmt.Errorf("%s: the server refused PURGE-DATA (answered %v)", p.name, v)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeControlErrLocked()
}

// ModemState returns the last NOTIFY-MODEMSTATE value the server sent
// (bits: 0x80 CD, 0x40 RI, 0x20 DSR, 0x10 CTS, low nibble the deltas), and
// false if it has sent none.
func (p *Port) ModemState() (byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.modem, p.haveModem
}

// Close closes the connection and unblocks pending calls. Further calls
// return an error wrapping net.ErrClosed; Close itself is idempotent.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.broadcastLocked()
		p.mu.Unlock()
		p.closeErr = p.conn.Close()
		p.bg.Wait()
	})
	return p.closeErr
}

// IsRemote tells the flasher the line is reached over a network
// (flasher.RemotePort): esptool uses the classic reset there, because the
// DTR/RTS changes travel as separate Telnet messages.
func (p *Port) IsRemote() bool { return true }

package flasher

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/iotbench/iotbench/flasher/slip"
	"github.com/iotbench/iotbench/flasher/target"
)

// Timeouts esptool uses (esp-serial-protocol.md §15).
const (
	DefaultTimeout      = 3 * time.Second
	SyncTimeout         = 100 * time.Millisecond
	MemEndROMTimeout    = 200 * time.Millisecond
	EraseChipTimeout    = 120 * time.Second
	MaxCommandTimeout   = 240 * time.Second
	eraseSecondsPerMB   = 30
	writeSecondsPerMB   = 40
	md5SecondsPerMB     = 8
	DefaultAttempts     = 7
	syncTriesPerAttempt = 5
	dataTries           = 3
	maxStaleFrames      = 100
	ROMBaud             = 115200
)

// timeoutPerMB scales a timeout with the data size; MB = 10^6 bytes, never
// below the default and never above the cap (§15).
func timeoutPerMB(secondsPerMB float64, size int) time.Duration {
	t := time.Duration(secondsPerMB * float64(size) / 1e6 * float64(time.Second))
	if t < DefaultTimeout {
		t = DefaultTimeout
	}
	if t > MaxCommandTimeout {
		t = MaxCommandTimeout
	}
	return t
}

// Loader is a session with a chip's serial loader: the ROM, or the stub
// once it runs. It is not safe for concurrent use; one goroutine drives it.
type Loader struct {
	port     Port
	portName string
	dec      slip.Decoder
	queue    [][]byte
	rbuf     []byte
	junk     []byte // recent non-protocol bytes, for diagnostics
	junkSeen int
	ohai     bool
	waitOHAI bool          // readFrame returns as soon as OHAI arrives
	sent     map[byte]bool // opcodes sent since the last sync

	chip    *target.Chip
	stub    bool
	stubSrc *Stub
	info    *ChipInfo // from ReadChipInfo: the MAC keys the flash ledger

	flashID     uint32
	haveFlashID bool
	attached    bool

	emit  func(Event)
	trace func(string)
	sleep func(time.Duration)

	wireTx, wireRx int64
	tscale         float64
}

// scaled applies ConnectOptions.TimeoutScale.
func (l *Loader) scaled(d time.Duration) time.Duration {
	if l.tscale <= 0 || l.tscale == 1 {
		return d
	}
	return max(time.Duration(float64(d)*l.tscale), 20*time.Millisecond)
}

// ConnectOptions configure Connect.
type ConnectOptions struct {
	PortName string     // for messages ("/dev/ttyUSB0", "rfc2217://…")
	Before   BeforeMode // default: default-reset
	Attempts int        // default 7; negative = forever
	Chip     string     // "auto" (default) or a chip name
	Events   func(Event)
	Trace    func(string) // protocol trace (--trace); nil = off
	// TimeoutScale multiplies every reply timeout (default 1 = esptool's
	// values). A board whose clock runs faster than real time, such as the
	// virtual board in tests, answers sooner; scaling keeps a lost reply
	// from costing seconds. Scaled timeouts never go below 20 ms.
	TimeoutScale float64
}

func newLoader(p Port, o ConnectOptions) *Loader {
	l := &Loader{port: p, portName: o.PortName, rbuf: make([]byte, 64<<10), emit: o.Events, trace: o.Trace, sleep: time.Sleep, sent: map[byte]bool{}, tscale: o.TimeoutScale}
	if l.emit == nil {
		l.emit = func(Event) {}
	}
	if l.portName == "" {
		l.portName = "the port"
	}
	l.dec.MaxFrame = 64 << 10
	return l
}

// Chip is the detected chip.
func (l *Loader) Chip() *target.Chip { return l.chip }

// IsStub reports whether the flasher stub is answering.
func (l *Loader) IsStub() bool { return l.stub }

// Port is the underlying serial port.
func (l *Loader) Port() Port { return l.port }

// WireBytes reports bytes sent and received on the line so far (SLIP
// framing included), for throughput accounting.
func (l *Loader) WireBytes() (tx, rx int64) { return l.wireTx, l.wireRx }

func (l *Loader) tracef(format string, args ...any) {
	if l.trace != nil {
		l.trace(fmt.Sprintf(format, args...))
	}
}

func (l *Loader) warn(format string, args ...any) {
	l.emit(WarningEvent{Message: fmt.Sprintf(format, args...)})
}

func (l *Loader) write(pkt []byte) error {
	w := slip.Encode(pkt)
	l.tracef("TX %d bytes: % X", len(w), clip(w, 48))
	n, err := l.port.Write(w)
	l.wireTx += int64(n)
	if err != nil {
		return &PortError{Err: err}
	}
	return nil
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// feed pushes received bytes through the SLIP decoder.
func (l *Loader) feed(p []byte) {
	l.dec.Feed(p, func(it slip.Item) {
		switch {
		case it.Err != nil:
			l.tracef("dropped frame: %v", it.Err)
		case it.Junk != nil:
			l.junkSeen += len(it.Junk)
			l.junk = append(l.junk, it.Junk...)
			if len(l.junk) > 4096 {
				l.junk = l.junk[len(l.junk)-4096:]
			}
			l.tracef("junk %d bytes: %q", len(it.Junk), clip(it.Junk, 64))
		default:
			if bytes.Equal(it.Frame, []byte("OHAI")) {
				l.ohai = true
				l.tracef("RX OHAI")
				return
			}
			l.tracef("RX frame %d bytes: % X", len(it.Frame), clip(it.Frame, 48))
			l.queue = append(l.queue, it.Frame)
		}
	})
}

// readFrame returns the next frame, waiting until deadline.
func (l *Loader) readFrame(deadline time.Time) ([]byte, error) {
	for {
		if len(l.queue) > 0 {
			f := l.queue[0]
			l.queue = l.queue[1:]
			return f, nil
		}
		if l.waitOHAI && l.ohai {
			return nil, nil
		}
		remain := time.Until(deadline)
		if remain <= 0 {
			return nil, errTimeout
		}
		if err := l.port.SetReadTimeout(remain); err != nil {
			return nil, &PortError{Err: err}
		}
		n, err := l.port.Read(l.rbuf)
		if n > 0 {
			l.wireRx += int64(n)
			l.feed(l.rbuf[:n])
		}
		if err != nil {
			return nil, &PortError{Err: err}
		}
	}
}

var errTimeout = errors.New("timeout")

// flushInput discards everything received so far, on the port and here.
func (l *Loader) flushInput() error {
	l.queue = nil
	l.dec.Reset()
	if err := l.port.ResetInputBuffer(); err != nil {
		return &PortError{Err: err}
	}
	return nil
}

// command sends one request and waits for the response with the same
// opcode, skipping stale frames: one SYNC alone produces eight replies
// (§3.4).
func (l *Loader) command(op byte, data []byte, chk uint32, timeout time.Duration) (Response, error) {
	if timeout > MaxCommandTimeout {
		timeout = MaxCommandTimeout
	}
	timeout = l.scaled(timeout)
	if err := l.write(EncodeRequest(op, data, chk)); err != nil {
		return Response{}, err
	}
	l.sent[op] = true
	return l.awaitResponse(op, timeout)
}

func (l *Loader) awaitResponse(op byte, timeout time.Duration) (Response, error) {
	deadline := time.Now().Add(timeout)
	for i := 0; i < maxStaleFrames; i++ {
		f, err := l.readFrame(deadline)
		if err == errTimeout {
			return Response{}, &TimeoutError{Op: op, After: timeout.String(), Partial: l.dec.Pending(), Junk: len(l.dec.TakeJunk())}
		}
		if err != nil {
			return Response{}, err
		}
		r, perr := ParseResponse(f)
		if perr != nil {
			continue
		}
		if r.Op != op {
			// A loader that does not know a command (Secure Download Mode,
			// §3.4) answers with a different opcode and status x/0x05. A
			// stale reply to something we sent earlier looks the same, so
			// only frames for opcodes we never sent count.
			if len(r.Data) >= 2 && r.Data[0] != 0 && r.Data[1] == 0x05 && !l.sent[r.Op] {
				l.sleep(l.scaled(200 * time.Millisecond))
				l.flushInput()
				return Response{}, fmt.Errorf("%s: %w", OpName(op), errMaybeUnsupported)
			}
			continue
		}
		return r, nil
	}
	return Response{}, fmt.Errorf("%s: response doesn't match request after %d frames", OpName(op), maxStaleFrames)
}

// check runs a command and applies the status rule, returning the result
// bytes (resultLen of them) and the header value.
func (l *Loader) check(what string, op byte, data []byte, chk uint32, timeout time.Duration, resultLen int) (uint32, []byte, error) {
	r, err := l.command(op, data, chk, timeout)
	if err != nil {
		return 0, nil, &CommandError{Op: op, What: what, Err: err}
	}
	res, err := Status(r.Data, resultLen)
	if err != nil {
		return 0, nil, &CommandError{Op: op, What: what, Err: err}
	}
	return r.Value, res, nil
}

// retry runs f up to n times while it fails in a way a resend can fix
// (a reply lost or mangled on the line). Used for idempotent commands only.
func retry(n int, f func() error) error {
	var err error
	for i := 0; i < n; i++ {
		if err = f(); err == nil || !transient(err) {
			return err
		}
	}
	return err
}

// transient errors are ones line noise can cause: a lost or mangled
// reply, or a failure status — the ROM and the stub only fail a valid
// register or data command when the request arrived damaged, and status
// bytes are not checksummed, so a corrupted "success" looks like a failure.
// Resending is safe for the commands that use this (idempotent ones, and
// data packets, which the ROM writes at offset + seq × size).
func transient(err error) bool {
	var te *TimeoutError
	var se *StatusError
	return errors.As(err, &te) || errors.As(err, &se) || errors.Is(err, errMaybeUnsupported)
}

// errMaybeUnsupported: a reply said "unknown command" under another
// opcode. A real unsupported command does that every time; a request
// whose opcode byte was corrupted on the line does it once. Callers retry
// and only then conclude the loader lacks the command.
var errMaybeUnsupported = fmt.Errorf("%w (or the request was damaged on the line)", ErrUnsupported)

// ReadReg reads a 32-bit register or memory word.
func (l *Loader) ReadReg(addr uint32) (uint32, error) {
	var v uint32
	err := retry(3, func() error {
		var err error
		v, _, err = l.check(fmt.Sprintf("read register 0x%08X", addr), OpReadReg, words(addr), 0, DefaultTimeout, 0)
		return err
	})
	return v, err
}

// WriteReg writes a 32-bit register (mask 0xFFFFFFFF, no delay).
func (l *Loader) WriteReg(addr, value uint32) error {
	return retry(3, func() error {
		_, _, err := l.check(fmt.Sprintf("write register 0x%08X", addr), OpWriteReg, words(addr, value, 0xFFFFFFFF, 0), 0, DefaultTimeout, 0)
		return err
	})
}

// sync sends one SYNC and collects its replies (§6.3). The first reply must
// come within 100 ms; the other seven are drained so they cannot be
// mistaken for later replies. A stub answers with value 0 in all eight.
func (l *Loader) sync() (stubRunning bool, err error) {
	for k := range l.sent {
		delete(l.sent, k)
	}
	r, err := l.command(OpSync, SyncPayload, 0, SyncTimeout)
	if err != nil {
		return false, err
	}
	if _, err := Status(r.Data, 0); err != nil {
		return false, &CommandError{Op: OpSync, What: "sync", Err: err}
	}
	zero := r.Value == 0
	// The eight replies leave back to back; give the rest the time seven
	// replies take on the wire plus margin, rather than esptool's 3 s each,
	// so a reply lost to noise costs little.
	window := l.scaled(100*time.Millisecond + time.Duration(7*16*10*int64(time.Second)/int64(max(l.port.BaudRate(), 1200))))
	deadline := time.Now().Add(window)
	for got := 1; got < 8; {
		f, err := l.readFrame(deadline)
		if err != nil {
			if err == errTimeout {
				break
			}
			return false, err
		}
		if rr, perr := ParseResponse(f); perr == nil && rr.Op == OpSync {
			got++
			zero = zero && rr.Value == 0
		}
	}
	return zero, nil
}

var bootLogRE = regexp.MustCompile(`(?s)boot:(0x[0-9a-fA-F]+)(.*waiting for download)?`)

// Connect resets the chip into its loader (per opts.Before), syncs, and
// identifies the chip. The port should already be open at the rate to sync
// at (esptool never syncs above 115200, §1).
func Connect(ctx context.Context, p Port, opts ConnectOptions) (*Loader, error) {
	l := newLoader(p, opts)
	if opts.Before == "" {
		opts.Before = BeforeDefaultReset
	}
	attempts := opts.Attempts
	if attempts == 0 {
		attempts = DefaultAttempts
	}
	if opts.Before == BeforeNoResetNoSync {
		if err := l.identify(opts.Chip); err != nil {
			return nil, err
		}
		return l, nil
	}
	strategies := strategiesFor(p, opts.Before)
	var last error
	var bootMode string
	var downloadSeen bool
	sawData := false
	for i := 0; attempts < 0 || i < attempts; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := strategies[i%len(strategies)]
		name := st.name
		if opts.Before == BeforeNoReset {
			name = "no-reset"
		}
		l.emit(ConnectingEvent{Port: l.portName, Attempt: i + 1, Of: attempts, Strategy: name})
		if opts.Before != BeforeNoReset {
			if err := l.flushInput(); err != nil {
				return nil, err
			}
			if err := st.run(p, l.sleep); err != nil {
				if !isNoLines(err) {
					return nil, &PortError{Err: err}
				}
				if i == 0 {
					l.warn("chip was NOT reset: %s has no DTR/RTS lines (a pseudo-terminal?); put the board into download mode by hand or use --before no-reset", l.portName)
				}
			}
			// Look for an ESP32-family ROM banner to explain a failure (§6.2).
			pending := l.drainPending()
			if len(pending) > 0 {
				sawData = true
			}
			if m := bootLogRE.FindSubmatch(pending); m != nil {
				bootMode = string(m[1])
				downloadSeen = len(m[2]) > 0
			}
		}
		for try := 0; try < syncTriesPerAttempt; try++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := l.flushInput(); err != nil {
				return nil, err
			}
			stubRunning, err := l.sync()
			if err == nil {
				l.stub = stubRunning
				if err := l.identify(opts.Chip); err != nil {
					return nil, err
				}
				return l, nil
			}
			var pe *PortError
			if errors.As(err, &pe) {
				return nil, err
			}
			if l.junkSeen > 0 {
				sawData = true
			}
			last = err
			l.sleep(50 * time.Millisecond)
		}
	}
	ce := &ConnectError{Port: l.portName, Attempts: attempts, Last: last}
	switch {
	case bootMode != "" && downloadSeen:
		ce.Reason = "download mode detected but no reply to SYNC"
		ce.Hint = "the serial TX path (host→chip) seems to be down: check the RX/TX wiring and the adapter"
	case bootMode != "":
		ce.Reason = fmt.Sprintf("wrong boot mode detected (%s): the chip is not in download mode", bootMode)
		ce.Hint = "hold BOOT/GPIO0 low while pressing RESET, or check the auto-reset circuit"
	case sawData:
		ce.Reason = fmt.Sprintf("received %d bytes that are not the ESP loader protocol (%s)", l.junkSeen, describeJunk(l.junk))
		ce.Hint = "the board is running its application instead of the ROM loader, or this is not an ESP board: hold BOOT/GPIO0 low while pressing RESET (boards without auto-reset need this by hand), or try --before no-reset if it is already in download mode"
	default:
		ce.Reason = "nothing was received"
		ce.Hint = "check that this is the board's port and the cable carries data; hold BOOT/GPIO0 low while pressing RESET, or try --before no-reset if the board is already in download mode"
	}
	return nil, ce
}

// drainPending reads what is already waiting without blocking long.
func (l *Loader) drainPending() []byte {
	var out []byte
	l.port.SetReadTimeout(20 * time.Millisecond)
	for i := 0; i < 64; i++ {
		n, err := l.port.Read(l.rbuf)
		if n > 0 {
			l.wireRx += int64(n)
			out = append(out, l.rbuf[:n]...)
		}
		if n == 0 || err != nil {
			break
		}
	}
	if len(out) > 0 {
		l.junkSeen += len(out)
		l.junk = append(l.junk, out...)
		if len(l.junk) > 4096 {
			l.junk = l.junk[len(l.junk)-4096:]
		}
	}
	return out
}

// describeJunk tells a user what non-protocol data looked like.
func describeJunk(j []byte) string {
	if len(j) == 0 {
		return "no sample"
	}
	printable := 0
	for _, b := range j {
		if b == '\n' || b == '\r' || (b >= 0x20 && b < 0x7F) {
			printable++
		}
	}
	if printable*10 >= len(j)*9 {
		s := string(clip(j, 60))
		return fmt.Sprintf("text %q", s)
	}
	return fmt.Sprintf("binary, first bytes % X — often a baud mismatch such as the 74880-baud boot log", clip(j, 12))
}

// identify finds out which chip answered (§6.4, §8): GET_SECURITY_INFO
// first for a chip ID, else the magic register.
func (l *Loader) identify(want string) error {
	var wantChip *target.Chip
	if want != "" && want != "auto" {
		c, err := target.ByName(want)
		if err != nil {
			return &InputError{Msg: err.Error()}
		}
		wantChip = c
	}
	chip, err := l.detect()
	if err != nil {
		return err
	}
	if wantChip != nil && wantChip != chip {
		return &ChipError{Msg: fmt.Sprintf("this chip is %s, not %s: use --chip %s or --chip auto", chip.Name, wantChip.Name, target.Names()[indexOf(chip)])}
	}
	l.chip = chip
	return nil
}

func indexOf(c *target.Chip) int {
	for i, x := range target.Chips {
		if x == c {
			return i
		}
	}
	return 0
}

func (l *Loader) detect() (*target.Chip, error) {
	if id, ok, err := l.securityInfoChipID(); err != nil {
		return nil, err
	} else if ok {
		if c := target.ByImageID(id); c != nil {
			return c, nil
		}
		return nil, &ChipError{Msg: fmt.Sprintf("the chip reports chip ID %d, which iotbench does not know", id)}
	}
	magic, err := l.ReadReg(target.MagicReg)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return nil, &ChipError{Msg: "the chip refuses register reads: an ESP32-S2 in Secure Download Mode, which iotbench does not support"}
		}
		return nil, fmt.Errorf("reading the chip's magic register: %w", err)
	}
	c := target.ByMagic(magic)
	if c == nil {
		return nil, &ChipError{Msg: fmt.Sprintf("unknown chip magic value 0x%08X at 0x%08X: not an ESP chip iotbench knows (or line noise: retry)", magic, target.MagicReg)}
	}
	return c, nil
}

// securityInfoChipID tries GET_SECURITY_INFO as esptool 4.12 does: first
// expecting 20 result bytes, then 12 (ESP32-S2); chips without the command
// fail and are identified by magic instead (§6.4, §8.2).
func (l *Loader) securityInfoChipID() (int, bool, error) {
	for _, n := range []int{20, 12} {
		_, res, err := l.check("get security info", OpGetSecInfo, nil, 0, DefaultTimeout, n)
		if err == nil {
			if n == 20 {
				return int(binary.LittleEndian.Uint32(res[12:16])), true, nil
			}
			return 0, false, nil
		}
		if errors.Is(err, ErrUnsupported) {
			return 0, false, nil
		}
		var pe *PortError
		if errors.As(err, &pe) {
			return 0, false, err
		}
	}
	return 0, false, nil
}

package serialmon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.bug.st/serial"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

var (
	// ErrPortBusy is wrapped by Open's error when another program has the
	// port open.
	ErrPortBusy = errors.New("serial port busy")
	// ErrPortGone is wrapped by Read and Write errors when the device went
	// away while open: a USB adapter unplugged, a board re-enumerating
	// after a reset, the far end of a pseudo-terminal closed. Reopening the
	// path may work again.
	ErrPortGone = errors.New("serial port went away")
)

// Open opens a port for the flasher or the monitor at baud, 8N1, without
// flow control. spec is either an rfc2217://HOST:PORT[?...] URL (see
// rfc2217.Dial for the query parameters) or a local device path such as
// /dev/ttyUSB0, /dev/serial/by-id/..., COM3 or a pseudo-terminal.
//
// A local port is opened with DTR and RTS deasserted: ESP dev boards wire
// them to EN and GPIO0, and a board wired without the usual transistor
// pair stays in reset while RTS is asserted. A local port's USBIDs
// (flasher.USBPort) reports the IDs of a USB device, found when it was
// opened. An rfc2217 port implements flasher.RemotePort and
// flasher.LinePairSetter.
//
// ctx bounds the network part of an rfc2217 open; opening a local path
// relies on the operating system not to block (it is opened non-blocking).
func Open(ctx context.Context, spec string, baud int) (flasher.Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if baud <= 0 || uint64(baud) > math.MaxUint32 {
		return nil, fmt.Errorf("%s: invalid baud rate %d", spec, baud)
	}
	if spec == "" {
		return nil, errors.New("no serial port given: pass --port PATH (list ports with `iotbench ports`)")
	}
	if scheme, _, ok := strings.Cut(spec, "://"); ok {
		if !strings.EqualFold(scheme, "rfc2217") {
			return nil, fmt.Errorf("%s: unsupported port URL: use rfc2217://HOST:PORT or a device path", spec)
		}
		p, err := rfc2217.Dial(ctx, spec, rfc2217.WithBaud(baud))
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return openLocal(spec, baud)
}

func mode8N1(baud int) *serial.Mode {
	return &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
}

func openLocal(path string, baud int) (*localPort, error) {
	pty := isPseudoTerminal(path)
	var sp serial.Port
	var err error
	if !pty {
		// go.bug.st/serial sets both lines in one TIOCMSET right after
		// open(2). The kernel asserts both on open, so a short assertion
		// remains (Unix cannot open without it), but going from both
		// asserted to both released in one step passes through no state
		// that resets a board with the usual two-transistor circuit;
		// releasing DTR and then RTS would (RTS alone asserted pulls EN
		// low).
		m := mode8N1(baud)
		m.InitialStatusBits = &serial.ModemOutputBits{DTR: false, RTS: false}
		sp, err = closeOnExec(func() (serial.Port, error) { return serial.Open(path, m) })
	}
	var pe *serial.PortError
	if pty || (err != nil && errors.As(err, &pe) && pe.Code() == serial.InvalidSerialPort) {
		// A tty without modem lines fails the TIOCMGET above (ENOTTY) and
		// go.bug.st/serial gives up on the whole open. Pseudo-terminals
		// are recognised up front so that they are opened once: a virtual
		// board behind one takes every close and reopen as a reset.
		sp, err = closeOnExec(func() (serial.Port, error) { return serial.Open(path, mode8N1(baud)) })
	}
	if err != nil {
		return nil, openError(path, err)
	}
	p := &localPort{path: path, sp: sp, baud: baud}
	if !pty {
		p.vid, p.pid, p.usb = lookupUSB(path, ListPorts)
	}
	return p, nil
}

// openError turns an open failure into a message that says what to do.
func openError(path string, err error) error {
	var pe *serial.PortError
	var code serial.PortErrorCode = -1
	if errors.As(err, &pe) {
		code = pe.Code()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO), code == serial.PortNotFound:
		return &portError{msg: path + ": no such port; list ports with `iotbench ports`", kind: fs.ErrNotExist, cause: err}
	case errors.Is(err, fs.ErrPermission), code == serial.PermissionDenied:
		return &portError{msg: path + ": permission denied: add your user to the dialout group (Linux) or uucp (Arch), then log in again", kind: fs.ErrPermission, cause: err}
	case errors.Is(err, syscall.EBUSY), code == serial.PortBusy:
		who := ""
		if h := holders(path); len(h) > 0 {
			who = " (held by " + strings.Join(h, ", ") + ")"
		}
		return &portError{msg: path + ": the port is busy" + who + ": close the other program using it (a serial monitor?)", kind: ErrPortBusy, cause: err}
	case code == serial.InvalidSerialPort:
		return fmt.Errorf("%s: not a serial port (%w)", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// portError carries a message written for the user and, for errors.Is and
// errors.As, both the category (fs.ErrNotExist, ErrPortBusy...) and the
// underlying error. go.bug.st/serial's *PortError does not unwrap to the
// errno, so the category cannot always come from the cause.
type portError struct {
	msg   string
	kind  error
	cause error
}

func (e *portError) Error() string   { return e.msg }
func (e *portError) Unwrap() []error { return []error{e.kind, e.cause} }

// lookupUSB finds path's USB IDs among the listed ports, following
// symlinks such as /dev/serial/by-id/... to the device node.
func lookupUSB(path string, list func() ([]PortInfo, error)) (vid, pid uint16, ok bool) {
	ports, err := list()
	if err != nil {
		return 0, 0, false
	}
	want := resolvePath(path)
	for _, p := range ports {
		if p.IsUSB && resolvePath(p.Path) == want {
			return p.VID, p.PID, true
		}
	}
	return 0, 0, false
}

func resolvePath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// localPort adapts a go.bug.st/serial port to flasher.Port. All methods
// are safe for concurrent use.
//
// It deliberately has no SetDTRRTS (flasher.LinePairSetter):
// go.bug.st/serial changes one line per TIOCMGET/TIOCMSET pair and does not
// expose the descriptor, so both lines cannot change in one operation.
// Without it the flasher's "tight" reset sets DTR and then RTS back to
// back.
type localPort struct {
	path string
	sp   serial.Port

	// rmu serialises Reads, each of which installs the current timeout:
	// go.bug.st/serial keeps the timeout in a field its Read uses without
	// a lock.
	rmu sync.Mutex

	// cmu keeps Write and the ioctls off a closed descriptor: go.bug.st
	// only guards Read, and a descriptor number reused by another file
	// would receive the write. Close holds it exclusively.
	cmu    sync.RWMutex
	closed bool

	mu      sync.Mutex
	baud    int
	timeout time.Duration

	vid, pid uint16
	usb      bool
}

var (
	_ flasher.Port    = (*localPort)(nil)
	_ flasher.USBPort = (*localPort)(nil)
)

// Read waits at most the read timeout for data and returns 0, nil when none
// came. Without a timeout (the default, or zero or negative, as for an
// rfc2217 port) it waits until data arrives or the port is closed.
func (p *localPort) Read(b []byte) (int, error) {
	if len(b) == 0 {
		// go.bug.st/serial would read(2) zero bytes and take that for a
		// vanished device.
		return 0, nil
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	p.mu.Lock()
	d := p.timeout
	p.mu.Unlock()
	if d <= 0 {
		// go.bug.st/serial returns at once for 0; it waits forever only
		// for NoTimeout.
		d = serial.NoTimeout
	}
	if err := p.sp.SetReadTimeout(d); err != nil {
		return 0, p.ioError("read", err, p.isClosed())
	}
	n, err := p.sp.Read(b)
	if err != nil {
		return n, p.ioError("read", err, p.isClosed())
	}
	return n, nil
}

func (p *localPort) Write(b []byte) (int, error) {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	if p.closed {
		return 0, p.closedError()
	}
	n, err := p.sp.Write(b)
	if err != nil {
		return n, p.ioError("write", err, false)
	}
	return n, nil
}

// SetReadTimeout sets how long Reads started afterwards wait for the first
// byte; zero or negative means until data arrives or the port closes.
func (p *localPort) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	p.timeout = d
	p.mu.Unlock()
	return nil
}

// SetBaudRate reprograms the line at 8N1. Rates without a Bnnn constant,
// such as the ESP8266 ROM's 74880, are set with BOTHER on Linux (termios2).
func (p *localPort) SetBaudRate(baud int) error {
	if baud <= 0 || uint64(baud) > math.MaxUint32 {
		return fmt.Errorf("%s: invalid baud rate %d", p.path, baud)
	}
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	if p.closed {
		return p.closedError()
	}
	if err := p.sp.SetMode(mode8N1(baud)); err != nil {
		return fmt.Errorf("%s: setting %d baud: %w", p.path, baud, err)
	}
	p.mu.Lock()
	p.baud = baud
	p.mu.Unlock()
	return nil
}

func (p *localPort) BaudRate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baud
}

func (p *localPort) SetDTR(asserted bool) error {
	return p.setLine("DTR", asserted, p.sp.SetDTR)
}

func (p *localPort) SetRTS(asserted bool) error {
	return p.setLine("RTS", asserted, p.sp.SetRTS)
}

func (p *localPort) setLine(name string, asserted bool, set func(bool) error) error {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	if p.closed {
		return p.closedError()
	}
	err := set(asserted)
	if err == nil {
		return nil
	}
	// A pseudo-terminal has no TIOCMGET/TIOCMSET: ENOTTY, or EINVAL from
	// some drivers. go.bug.st/serial returns the bare errno here.
	if errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EINVAL) {
		return &portError{msg: fmt.Sprintf("%s: cannot set %s: %v", p.path, name, flasher.ErrNoModemLines), kind: flasher.ErrNoModemLines, cause: err}
	}
	return p.ioError("setting "+name, err, false)
}

func (p *localPort) ResetInputBuffer() error {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	if p.closed {
		return p.closedError()
	}
	if err := p.sp.ResetInputBuffer(); err != nil {
		return p.ioError("discarding input", err, false)
	}
	return nil
}

// Close closes the port and ends a Read in progress; it waits for a Write
// in progress to finish. It is idempotent.
func (p *localPort) Close() error {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.sp.Close(); err != nil {
		return fmt.Errorf("%s: closing: %w", p.path, err)
	}
	return nil
}

// USBIDs reports the USB vendor and product IDs found when the port was
// opened (flasher.USBPort).
func (p *localPort) USBIDs() (vid, pid uint16, ok bool) {
	return p.vid, p.pid, p.usb
}

func (p *localPort) closedError() error {
	return fmt.Errorf("%s: %w", p.path, fs.ErrClosed)
}

// ioError names what failed and classifies a vanished device as
// ErrPortGone, so that a monitor knows to wait for it to come back. closed
// is p.closed, read by the caller under cmu.
func (p *localPort) ioError(op string, err error, closed bool) error {
	if closed {
		return p.closedError()
	}
	// On Linux a USB adapter unplugged mid-read leaves the descriptor
	// readable with zero bytes (go.bug.st/serial reports PortClosed);
	// reads and writes on a hung-up tty or a pty whose master is gone
	// fail with EIO; ENODEV and ENXIO come from some drivers.
	var pe *serial.PortError
	if (errors.As(err, &pe) && pe.Code() == serial.PortClosed) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
		return &portError{msg: fmt.Sprintf("%s: %s: the port went away (unplugged, or the board re-enumerated): %v", p.path, op, err), kind: ErrPortGone, cause: err}
	}
	return fmt.Errorf("%s: %s: %w", p.path, op, err)
}

func (p *localPort) isClosed() bool {
	p.cmu.RLock()
	defer p.cmu.RUnlock()
	return p.closed
}

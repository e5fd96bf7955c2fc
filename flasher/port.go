package flasher

import (
	"errors"
	"time"
)

// Port is a serial line to a chip. serialmon opens local paths and
// rfc2217:// URLs as Ports; virtualboard implements one in-process. The
// flasher needs nothing else from a transport.
type Port interface {
	// Read reads up to len(p) bytes. It waits at most the read timeout and
	// returns 0, nil when the timeout expires with nothing received, like
	// go.bug.st/serial. A closed or vanished port returns an error.
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// SetReadTimeout sets how long Read waits for the first byte.
	SetReadTimeout(d time.Duration) error
	// SetBaudRate reprograms the host side of the line (8N1).
	SetBaudRate(baud int) error
	// BaudRate reports the rate last set.
	BaudRate() int
	// SetDTR and SetRTS drive the modem lines; true means asserted (pin at
	// 0 V), as in pyserial and esptool. Ports without modem lines (a pty)
	// return an error wrapping ErrNoModemLines.
	SetDTR(asserted bool) error
	SetRTS(asserted bool) error
	// ResetInputBuffer discards everything received and not yet read.
	ResetInputBuffer() error
	Close() error
}

// LinePairSetter is implemented by ports that can change DTR and RTS in one
// operation, which esptool's "unix tight" reset relies on (one TIOCMSET).
type LinePairSetter interface {
	SetDTRRTS(dtr, rts bool) error
}

// ErrNoModemLines is wrapped by SetDTR/SetRTS on ports that have no modem
// control lines, such as a pseudo-terminal (ioctl answers ENOTTY/EINVAL).
var ErrNoModemLines = errors.New("port has no DTR/RTS modem lines")

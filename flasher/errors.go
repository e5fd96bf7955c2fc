package flasher

import (
	"errors"
	"fmt"
)

// romErrors are the ROM error codes carried in the second status byte
// when the first is 1 (§5.1).
var romErrors = map[byte]string{
	0x00: "undefined error",
	0x01: "invalid input parameter",
	0x02: "out of memory",
	0x03: "failed to send message",
	0x04: "failed to receive message",
	0x05: "invalid message (bad length or unknown command)",
	0x06: "operation failed",
	0x07: "checksum error",
	0x08: "flash write error (read-back mismatch)",
	0x09: "flash read error",
	0x0A: "flash read length error",
	0x0B: "inflate error",
	0x0C: "inflate Adler-32 error",
	0x0D: "inflate parameter error",
	0x0E: "invalid RAM binary size",
	0x0F: "invalid RAM binary address",
	0x64: "invalid parameter",
	0x65: "invalid format",
	0x66: "description too long",
	0x67: "bad encoding description",
	0x69: "insufficient storage",
}

// stubErrors are the stub's error codes, carried in the first status byte
// (§5.2).
var stubErrors = map[byte]string{
	0xC0: "bad data length",
	0xC1: "bad data checksum",
	0xC2: "bad block size",
	0xC3: "invalid command",
	0xC4: "SPI operation failed",
	0xC5: "SPI unlock failed",
	0xC6: "not in flash mode",
	0xC7: "inflate error",
	0xC8: "not enough data",
	0xC9: "too much data",
	0xFF: "command not implemented",
}

// Stub and ROM status keys that callers test for.
const (
	KeyROMInvalidMessage uint16 = 0x0105
	KeyROMChecksum       uint16 = 0x0107
	KeyStubBadChecksum   uint16 = 0xC100
	KeyStubNotImpl       uint16 = 0xFF00
)

// StatusError is a command the loader answered with a failure status.
type StatusError struct {
	Key   uint16 // first<<8 | second status byte
	Short bool   // the reply was too short to hold result + status
	Got   int
	Want  int
}

// Name decodes the status key (§5.1, §5.2).
func (e *StatusError) Name() string {
	if e.Short {
		return fmt.Sprintf("reply too short (%d bytes, want %d)", e.Got, e.Want)
	}
	hi, lo := byte(e.Key>>8), byte(e.Key)
	if hi == 0x01 {
		if n, ok := romErrors[lo]; ok {
			return n
		}
		return fmt.Sprintf("ROM error 0x%02X", lo)
	}
	if n, ok := stubErrors[hi]; ok {
		return n
	}
	return "unknown error"
}

func (e *StatusError) Error() string {
	if e.Short {
		return e.Name()
	}
	return fmt.Sprintf("%s (status 0x%04X)", e.Name(), e.Key)
}

// CommandError wraps a failure of one protocol command with what was being
// done, so messages read "write to flash at seq 12: checksum error (0x0107)".
type CommandError struct {
	Op   byte
	What string
	Err  error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s (%s): %v", e.What, OpName(e.Op), e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped when a loader refuses a command as unknown
// (§3.4, §5.3) or the flasher knows the loader lacks it (ESP8266 ROM).
var ErrUnsupported = errors.New("command not supported by this loader")

// TimeoutError is a reply that did not arrive in time.
type TimeoutError struct {
	Op      byte
	After   string
	Partial int // bytes of an unfinished frame received
	Junk    int // bytes received outside frames
}

func (e *TimeoutError) Error() string {
	switch {
	case e.Partial > 0:
		return fmt.Sprintf("timed out after %s waiting for the %s reply (%d bytes of it arrived)", e.After, OpName(e.Op), e.Partial)
	case e.Junk > 0:
		return fmt.Sprintf("no %s reply within %s (%d bytes of non-protocol data received)", OpName(e.Op), e.After, e.Junk)
	}
	return fmt.Sprintf("no %s reply within %s (no serial data received)", OpName(e.Op), e.After)
}

// PortError is the serial port itself failing (unplugged, closed).
type PortError struct{ Err error }

func (e *PortError) Error() string { return "serial port: " + e.Err.Error() }
func (e *PortError) Unwrap() error { return e.Err }

// ConnectError says why no loader answered, with the fix.
type ConnectError struct {
	Port     string
	Attempts int
	Reason   string
	Hint     string
	Last     error
}

func (e *ConnectError) Error() string {
	s := fmt.Sprintf("no reply to SYNC on %s after %d attempts: %s", e.Port, e.Attempts, e.Reason)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *ConnectError) Unwrap() error { return e.Last }

// VerifyError is data in flash that differs from what was written.
type VerifyError struct {
	Addr   uint32
	Size   int
	Method string
	Want   string
	Got    string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify failed for 0x%X..0x%X (%s): flash holds %s, expected %s — the data was corrupted on the line or the flash is failing; retry at a lower --baud",
		e.Addr, e.Addr+uint32(e.Size), e.Method, e.Got, e.Want)
}

// InputError is bad user input caught before touching the board.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// ChipError: something answered, but not as a chip iotbench can work with
// (wrong --chip, unknown magic, Secure Download Mode).
type ChipError struct{ Msg string }

func (e *ChipError) Error() string { return e.Msg }

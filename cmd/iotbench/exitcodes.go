package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
)

// Exit codes. They are part of the CLI's contract (README "Exit codes"):
// scripts and factory benches branch on them.
const (
	exitOK          = 0   // success
	exitFailure     = 1   // anything not covered below
	exitUsage       = 2   // bad command line
	exitPort        = 3   // no port, several candidates, cannot open, port vanished
	exitConnect     = 4   // nothing answered as an ESP loader / wrong chip
	exitOperation   = 5   // the board refused or failed the operation (write, verify, read, erase)
	exitInput       = 6   // a bad input file or value (unreadable, too large, misaligned, overlapping, invalid stub)
	exitCloud       = 7   // the cloud side failed: credentials, permissions, AWS or broker unreachable, refused
	exitNotVerified = 8   // a check came out negative: the board did not verify, or a policy would refuse
	exitInterrupted = 130 // Ctrl-C
)

// usageError marks command-line mistakes.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// portError marks failures to find or open the serial port.
type portError struct{ err error }

func (e *portError) Error() string { return e.err.Error() }
func (e *portError) Unwrap() error { return e.err }

// exitClassifiers let each command group map its own error types to a
// code without this file knowing them: a file registers one in init().
// The first classifier that answers ok wins; they run after the checks
// for interrupts and usage errors.
var exitClassifiers []func(err error) (code int, ok bool)

func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	var ie *flasher.InputError
	var pe *portError
	var fpe *flasher.PortError
	var ce *flasher.ConnectError
	var chipErr *flasher.ChipError
	var ambiguous *serialmon.AmbiguousPortError
	var pathErr *os.PathError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	}
	for _, classify := range exitClassifiers {
		if code, ok := classify(err); ok {
			return code
		}
	}
	switch {
	case errors.As(err, &pe), errors.As(err, &fpe), errors.Is(err, serialmon.ErrNoPort), errors.As(err, &ambiguous):
		return exitPort
	case errors.As(err, &ie), errors.As(err, &pathErr):
		return exitInput
	case errors.As(err, &ce), errors.As(err, &chipErr):
		return exitConnect
	}
	var se *flasher.StatusError
	var te *flasher.TimeoutError
	var ve *flasher.VerifyError
	var cmdErr *flasher.CommandError
	if errors.As(err, &se) || errors.As(err, &te) || errors.As(err, &ve) || errors.As(err, &cmdErr) || errors.Is(err, flasher.ErrUnsupported) {
		return exitOperation
	}
	return exitFailure
}

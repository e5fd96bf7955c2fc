package ota

import "fmt"

// ErrorKind says which way an upload failed, for callers that branch on it
// (the CLI's exit codes).
type ErrorKind int

const (
	// KindNoReply: nothing answered the invitation or the password, or
	// the device never connected back — not in OTA mode, not calling
	// ArduinoOTA.handle(), or a firewall in the way.
	KindNoReply ErrorKind = iota + 1
	// KindAuth: the device wants a password that was not given, or
	// refused the one given ("Authentication Failed").
	KindAuth
	// KindRefused: the device's Updater refused the image (an "ERR: …"
	// reply, or an "ERROR[n]: …" at the end of the transfer).
	KindRefused
	// KindTransfer: the connection broke or stalled during the transfer.
	KindTransfer
	// KindUnsupported: the device speaks a variant this uploader does not.
	KindUnsupported
)

// Error is a failed upload: the step, what was seen, and what to do.
type Error struct {
	Kind ErrorKind
	// Step is where it failed: "invitation", "authentication",
	// "connect-back", "transfer" or "result".
	Step string
	// Msg says what was seen and the fix, in one sentence or two.
	Msg string
	// Device is the device's own error text, when it sent one.
	Device *DeviceMessage
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("OTA %s: %s", e.Step, e.Msg) }
func (e *Error) Unwrap() error { return e.Err }

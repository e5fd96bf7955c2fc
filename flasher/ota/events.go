package ota

import "time"

// Event is a typed progress report of Upload; the CLI renders events as
// text, a progress bar or JSON lines. No event carries the password.
type Event interface{ EventType() string }

// InviteEvent: the invitation is on its way.
type InviteEvent struct {
	Device   string `json:"device"`   // host:port the invitation goes to
	Callback string `json:"callback"` // host:port the device must connect back to
	Target   string `json:"target"`   // "app" or "spiffs"
	Size     int    `json:"size"`
	MD5      string `json:"md5"`
}

// AuthEvent: the device asked for the password and the answer was sent.
type AuthEvent struct {
	Nonce string `json:"nonce"`
}

// AcceptedEvent: the device accepted the invitation (and the password)
// and its Updater began; it will now connect back.
type AcceptedEvent struct{}

// ConnectedEvent: the device connected back; the transfer starts.
type ConnectedEvent struct {
	Remote string `json:"remote"`
}

// ProgressEvent: bytes handed to the connection (Sent) and the device's
// own count of bytes written (Acked, an estimate, see ResultScanner.Acked).
type ProgressEvent struct {
	Sent    int64         `json:"sent"`
	Acked   int64         `json:"acked"`
	Total   int64         `json:"total"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// VerifyEvent: everything is sent; the device checks the MD5 and the
// image header and answers OK or an error (espota waits 60 s for this).
type VerifyEvent struct{}

// DoneEvent: the device answered OK; an app update is staged and the
// device reboots into it (eboot copies it over the old one first).
type DoneEvent struct {
	Size    int           `json:"size"`
	MD5     string        `json:"md5"`
	Target  string        `json:"target"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// WarningEvent: something worth knowing that does not stop the upload.
type WarningEvent struct {
	Message string `json:"message"`
}

func (InviteEvent) EventType() string    { return "ota.invite" }
func (AuthEvent) EventType() string      { return "ota.auth" }
func (AcceptedEvent) EventType() string  { return "ota.accepted" }
func (ConnectedEvent) EventType() string { return "ota.connected" }
func (ProgressEvent) EventType() string  { return "ota.progress" }
func (VerifyEvent) EventType() string    { return "ota.verify" }
func (DoneEvent) EventType() string      { return "ota.done" }
func (WarningEvent) EventType() string   { return "ota.warning" }

// BytesPerSecond is the rate at which the image went out.
func (e ProgressEvent) BytesPerSecond() float64 {
	if e.Elapsed <= 0 {
		return 0
	}
	return float64(e.Sent) / e.Elapsed.Seconds()
}

package flasher

import "time"

// Event is a typed progress report. The CLI renders events as text,
// progress bars or JSON lines; the TUI as widgets; tests assert on them.
type Event interface{ EventType() string }

// ConnectingEvent: a connection attempt starts.
type ConnectingEvent struct {
	Port     string `json:"port"`
	Attempt  int    `json:"attempt"`
	Of       int    `json:"of"`
	Strategy string `json:"strategy"`
}

// WarningEvent: something the user should know that does not stop the job.
type WarningEvent struct {
	Message string `json:"message"`
}

// ChipEvent: the chip was identified.
type ChipEvent struct {
	Chip        string   `json:"chip"`
	Description string   `json:"description"`
	Features    []string `json:"features"`
	CrystalMHz  int      `json:"crystal_mhz,omitempty"`
	MAC         string   `json:"mac"`
	ChipID      string   `json:"chip_id,omitempty"`
}

// StubEvent: the flasher stub was (or could not be) started.
type StubEvent struct {
	Running bool   `json:"running"`
	Source  string `json:"source,omitempty"`
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// BaudEvent: the line speed changed.
type BaudEvent struct {
	Baud int `json:"baud"`
}

// FlashInfoEvent: the SPI flash chip was identified.
type FlashInfoEvent struct {
	Manufacturer string `json:"manufacturer"`
	Device       string `json:"device"`
	Size         int    `json:"size"`
	SizeName     string `json:"size_name"`
}

// PhaseEvent: a long operation starts a new phase (erase, write, verify…).
type PhaseEvent struct {
	Phase  string `json:"phase"`
	Addr   uint32 `json:"addr"`
	Size   int    `json:"size"`
	Detail string `json:"detail,omitempty"`
}

// ProgressEvent: bytes done in the current phase.
type ProgressEvent struct {
	Phase     string        `json:"phase"`
	Addr      uint32        `json:"addr"`
	Done      int           `json:"done"`
	Total     int           `json:"total"`
	WireBytes int64         `json:"wire_bytes"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// BytesPerSecond is the effective rate (uncompressed bytes per second).
func (e ProgressEvent) BytesPerSecond() float64 {
	if e.Elapsed <= 0 {
		return 0
	}
	return float64(e.Done) / e.Elapsed.Seconds()
}

// WrittenEvent: one region is in flash.
type WrittenEvent struct {
	Addr       uint32        `json:"addr"`
	Size       int           `json:"size"`
	Compressed int           `json:"compressed,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Verified   bool          `json:"verified"`
	VerifiedBy string        `json:"verified_by,omitempty"`
	MD5        string        `json:"md5"`
	Skipped    bool          `json:"skipped,omitempty"`
}

// ResetEvent: the chip was reset (or deliberately not).
type ResetEvent struct {
	Mode string `json:"mode"`
}

func (ConnectingEvent) EventType() string { return "connecting" }
func (WarningEvent) EventType() string    { return "warning" }
func (ChipEvent) EventType() string       { return "chip" }
func (StubEvent) EventType() string       { return "stub" }
func (BaudEvent) EventType() string       { return "baud" }
func (FlashInfoEvent) EventType() string  { return "flash" }
func (PhaseEvent) EventType() string      { return "phase" }
func (ProgressEvent) EventType() string   { return "progress" }
func (WrittenEvent) EventType() string    { return "written" }
func (ResetEvent) EventType() string      { return "reset" }

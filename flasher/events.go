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
	// Skipped: fast reflash found every sector already holding the data
	// and wrote nothing (the region was still verified).
	Skipped bool `json:"skipped,omitempty"`
	// SectorsWritten and SectorsSkipped count 4 KiB sectors when fast
	// reflash decided what to write (both 0 for a whole write).
	SectorsWritten int `json:"sectors_written,omitempty"`
	SectorsSkipped int `json:"sectors_skipped,omitempty"`
}

// DiffEvent: fast reflash compared a region with what flash holds and
// decided which sectors to write.
type DiffEvent struct {
	Addr    uint32 `json:"addr"`
	Size    int    `json:"size"`
	Sectors int    `json:"sectors"`
	// Write lists the runs of sectors that differ, in address order.
	Write   []SectorRun `json:"write"`
	Changed int         `json:"changed"`
	// Basis says what the comparison trusted: "ledger" (what iotbench
	// wrote last), "diff-with" (a file the caller named), "chip" (MD5s
	// read from the chip), or a combination such as "ledger+chip".
	Basis string `json:"basis"`
	// Probes is how many SPI_FLASH_MD5 commands the comparison took.
	Probes  int           `json:"probes"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// SectorRun is a run of whole 4 KiB sectors.
type SectorRun struct {
	Addr uint32 `json:"addr"`
	Size int    `json:"size"`
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
func (DiffEvent) EventType() string       { return "diff" }

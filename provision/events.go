package provision

import (
	"time"

	"github.com/iotbench/iotbench/doctor"
)

// StepID names a pipeline step.
type StepID string

// The steps, in order.
const (
	StepPort     StepID = "port"
	StepChip     StepID = "chip"
	StepIdentity StepID = "identity"
	StepFiles    StepID = "files"
	StepImage    StepID = "image"
	StepFlash    StepID = "flash"
	StepReset    StepID = "reset"
	StepBoot     StepID = "boot"
	StepPublish  StepID = "publish"
)

// Steps lists the steps in pipeline order.
var Steps = []StepID{StepPort, StepChip, StepIdentity, StepFiles, StepImage, StepFlash, StepReset, StepBoot, StepPublish}

// Kind is what an event says about its step.
type Kind string

const (
	KindStart    Kind = "start"
	KindProgress Kind = "progress" // Done of Total bytes (flashing), or a note
	KindEvidence Kind = "evidence" // something the board printed or the cloud said
	KindDone     Kind = "done"
	KindSkipped  Kind = "skipped" // already true (ledger and board agree)
	KindFailed   Kind = "failed"  // Finding says why
	KindVerified Kind = "verified"
)

// Event is one thing that happened to one board.
type Event struct {
	Board   string    `json:"board"`
	Step    StepID    `json:"step"`
	Kind    Kind      `json:"kind"`
	Message string    `json:"message,omitempty"`
	Done    int64     `json:"done,omitempty"`
	Total   int64     `json:"total,omitempty"`
	At      time.Time `json:"at"`
	// Severity of evidence: "info", "notice", "warning", "error".
	Severity string `json:"severity,omitempty"`
	// Finding explains a failure (KindFailed) — the doctor's top finding.
	Finding *doctor.Finding `json:"finding,omitempty"`
}

// StepResult is how one step ended.
type StepResult struct {
	Step     StepID        `json:"step"`
	Status   Kind          `json:"status"` // done, skipped or failed
	Message  string        `json:"message,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Result is one board's outcome.
type Result struct {
	Board    string       `json:"board"`
	Port     string       `json:"port"`
	Chip     string       `json:"chip,omitempty"`
	MAC      string       `json:"mac,omitempty"`
	Thing    string       `json:"thing,omitempty"`
	Cloud    string       `json:"cloud,omitempty"`
	Topic    string       `json:"topic,omitempty"`
	Verified bool         `json:"verified"`
	Steps    []StepResult `json:"steps"`
	// Report is the doctor's diagnosis when the board did not verify (and
	// its notes when it did).
	Report *doctor.Report `json:"report,omitempty"`
	// Error is the failure in one line ("" when verified).
	Error string `json:"error,omitempty"`
	// NoChange is true when nothing needed doing: identity, files and
	// flash were all already in place (the board was only re-verified).
	NoChange bool          `json:"no_change"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

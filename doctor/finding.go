package doctor

import (
	"cmp"
	"slices"
	"time"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// Step is where in the board's start-up a finding belongs, in the decision
// order of device-side.md §7 (with the port and the files steps the
// reference firmware adds around it). Lower steps explain higher ones.
type Step int

const (
	StepPort     Step = iota // nothing readable from the board at all
	StepBaud                 // §7.1 readable at 74880 but not at the sketch rate
	StepBootMode             // §7.2 strapping / download mode
	StepImage                // §7.3 csum err, e:N, boot loops
	StepCrash                // §7.4 exceptions, watchdogs
	StepFiles                // filesystem, config.json, DER files (§3.2)
	StepWiFi                 // §7.5
	StepClock                // §7.6
	StepTLS                  // §7.7
	StepMQTT                 // §7.8
	StepPublish              // connected, but the telemetry does not arrive
	StepOTA                  // §7.9
	StepCloud                // the cloud itself could not be checked
)

var stepNames = [...]string{"port", "baud", "boot-mode", "image", "crash", "files", "wifi", "clock", "tls", "mqtt", "publish", "ota", "cloud"}

func (s Step) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	return "step?"
}

// Source says where a piece of evidence comes from.
type Source string

const (
	SourceSerial Source = "serial" // a line the board printed
	SourceCloud  Source = "cloud"  // an answer of the cloud's API / broker
	SourceProbe  Source = "probe"  // something the bench checked itself
	SourceFlash  Source = "flash"  // what is in the board's flash
)

// Evidence is one observation behind a finding.
type Evidence struct {
	Source Source    `json:"source"`
	At     time.Time `json:"at,omitzero"`
	Text   string    `json:"text"`
}

// Finding is one diagnosis: what is wrong, why we think so, what to do.
type Finding struct {
	// Code identifies the kind of finding ("clock.not_synced",
	// "cert.inactive" …); tests and scripts match on it.
	Code     string          `json:"code"`
	Step     Step            `json:"-"`
	StepName string          `json:"step"`
	Severity decode.Severity `json:"-"`
	Level    string          `json:"severity"`
	Summary  string          `json:"summary"`
	Fix      string          `json:"fix"`
	Evidence []Evidence      `json:"evidence"`

	// explains lists the symptom codes this cause accounts for.
	explains []string
	// ownEvidenceFirst: when it absorbs symptoms, this cause's own
	// evidence stays in front (a serial line that names the cause is the
	// evidence to read first; a cloud or probe cause shows the board's
	// symptom first).
	ownEvidenceFirst bool
	// first is when the earliest evidence was seen (ties in ranking).
	first time.Time
}

// Report is the doctor's answer.
type Report struct {
	// Findings, most important first: Findings[0] is the diagnosis.
	Findings []Finding `json:"findings"`
	// Timeline is every piece of evidence from every source, in time order
	// (evidence without a time keeps its place after timed evidence).
	Timeline []Evidence `json:"timeline"`
	// Healthy is true when nothing at Warning or above was found.
	Healthy bool `json:"healthy"`
}

// Top is the leading finding, or nil when there is none.
func (r *Report) Top() *Finding {
	if len(r.Findings) == 0 {
		return nil
	}
	return &r.Findings[0]
}

// Has reports whether a finding with code is present.
func (r *Report) Has(code string) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Code == code })
}

// rank orders findings: problems before information, then by step (an
// early failure explains the later ones), then by severity, then by time.
func rank(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		ap, bp := a.Severity >= decode.Warning, b.Severity >= decode.Warning
		if ap != bp {
			if ap {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.Step, b.Step); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		return a.first.Compare(b.first)
	})
}

// merge folds symptoms into the causes that explain them: the cause keeps
// its summary and fix, gains the symptoms' evidence, and moves to the
// earliest step among them (that is where the board showed it).
func merge(fs []Finding) []Finding {
	absorbed := make([]bool, len(fs))
	for i := range fs {
		c := &fs[i]
		if len(c.explains) == 0 {
			continue
		}
		for j := range fs {
			if i == j || absorbed[j] || !slices.Contains(c.explains, fs[j].Code) {
				continue
			}
			s := fs[j]
			absorbed[j] = true
			if c.ownEvidenceFirst {
				c.Evidence = append(c.Evidence, s.Evidence...)
			} else {
				c.Evidence = append(s.Evidence, c.Evidence...)
			}
			if s.Step < c.Step {
				c.Step = s.Step
			}
			if s.Severity > c.Severity {
				c.Severity = s.Severity
			}
			if !s.first.IsZero() && (c.first.IsZero() || s.first.Before(c.first)) {
				c.first = s.first
			}
		}
	}
	var out []Finding
	for i, f := range fs {
		if !absorbed[i] {
			out = append(out, f)
		}
	}
	return out
}

func finish(fs []Finding) Report {
	fs = merge(fs)
	rank(fs)
	var r Report
	r.Healthy = true
	for i := range fs {
		fs[i].StepName = fs[i].Step.String()
		fs[i].Level = fs[i].Severity.String()
		if fs[i].Evidence == nil {
			fs[i].Evidence = []Evidence{}
		}
		if fs[i].Severity >= decode.Warning {
			r.Healthy = false
		}
		r.Timeline = append(r.Timeline, fs[i].Evidence...)
	}
	slices.SortStableFunc(r.Timeline, func(a, b Evidence) int {
		switch {
		case a.At.IsZero() && b.At.IsZero():
			return 0
		case a.At.IsZero():
			return 1
		case b.At.IsZero():
			return -1
		}
		return a.At.Compare(b.At)
	})
	r.Timeline = slices.CompactFunc(r.Timeline, func(a, b Evidence) bool { return a == b })
	if fs == nil {
		fs = []Finding{}
	}
	r.Findings = fs
	return r
}

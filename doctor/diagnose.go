package doctor

import (
	"github.com/iotbench/iotbench/serialmon/decode"
)

// Input is everything known about one board.
type Input struct {
	// Lines the board printed since its last reset (or a saved log).
	Lines []Line
	// NoSerial: there is no serial evidence at all (diagnosing a ledger
	// entry without the board), as opposed to a board that printed
	// nothing.
	NoSerial bool
	// Decode options: the chip, the ELF's symbols for crash frames.
	Decode decode.Options
	// Cloud facts (nil: the cloud was not checked).
	Cloud *CloudFacts
	// Probe facts (nil: nothing probed). A FilesProbe without BoardTime
	// gets the clock the board reported in its log.
	Probe *ProbeFacts
	// Seen says whether a message from the thing arrived on its topic
	// (nil: nobody watched). SeenEvidence describes it.
	Seen         *bool
	SeenEvidence string
	Topic        string
}

// Diagnose joins the three sources into a ranked report.
func Diagnose(in Input) Report {
	var fs []Finding
	var reached Step
	var events []decode.Event
	if !in.NoSerial {
		fs, reached, events = serialFindings(in.Lines, in.Decode)
	}
	if in.Probe != nil && in.Probe.Files != nil && in.Probe.Files.BoardTime.IsZero() {
		f := *in.Probe.Files
		f.BoardTime = epochOf(events)
		p := *in.Probe
		p.Files = &f
		in.Probe = &p
	}
	fs = append(fs, cloudFindings(in.Cloud)...)
	fs = append(fs, undatedTLS(boardMountedAnyway(probeFindings(in.Probe), events), events)...)
	if in.Seen != nil {
		if *in.Seen {
			fs = dropStalledPublish(fs)
			fs = append(fs, Finding{Code: CodeVerified, Step: StepPublish, Severity: decode.Notice,
				Summary:  "a message from the board arrived on " + in.Topic + ": verified",
				Evidence: []Evidence{{Source: SourceCloud, Text: in.SeenEvidence}}})
		} else {
			f := Finding{Code: SymNotSeen, Step: StepPublish, Severity: decode.Error,
				Summary: "no message from the board arrived on " + in.Topic,
				Fix:     "the board did not get as far as publishing; see the findings above"}
			if reached >= StepPublish {
				f.Summary = "the board reports publishing, but nothing arrived on " + in.Topic
				f.Fix = "check that config.json's topic and endpoint are the ones being watched (same account and region), and that the policy allows iot:Publish there (AWS drops the connection on a denied publish)"
			}
			for _, e := range events {
				if code, _, success, ok := classify(e); ok && success && code == SymPublish {
					f.Evidence = append(f.Evidence[:0:0], evidenceOf(e)...)
				}
			}
			if in.SeenEvidence != "" {
				f.Evidence = append(f.Evidence, Evidence{Source: SourceCloud, Text: in.SeenEvidence})
			}
			if len(f.Evidence) == 0 {
				f.Evidence = []Evidence{{Source: SourceCloud, Text: "nothing arrived on " + in.Topic}}
			}
			fs = append(fs, f)
		}
	}
	return finish(fs)
}

// boardMountedAnyway: when the board reports that it mounted its
// filesystem and read its files, the bench finding no image of this run
// in flash cannot be why the board stopped. It still matters (the board
// may be running an older image, with an older identity), so it stays,
// as a warning ranked after what the board itself reported, absorbing
// none of its symptoms.
func boardMountedAnyway(probe []Finding, events []decode.Event) []Finding {
	mounted := false
	for _, e := range events {
		if code, _, success, ok := classify(e); ok && success && code == SymFiles {
			mounted = true
		}
	}
	if !mounted {
		return probe
	}
	for i := range probe {
		f := &probe[i]
		if f.Code != "fs.wrong_place" && f.Code != "fs.files_missing" {
			continue
		}
		f.Step, f.Severity, f.explains = StepPublish, decode.Warning, nil
		f.Summary = "the board mounted a filesystem, but not the one this run flashed: " + f.Summary
		f.Fix = "run iotbench provision again (it rewrites a filesystem that differs from the one it builds); if this stays, the flash does not keep what is written: " + f.Fix
	}
	return probe
}

// dropStalledPublish: once the publish was seen, no "stalled" finding
// holds: the board got through every step, and the log was only cut where
// the pipeline stopped reading it (the broker can have the message before
// the board prints that it connected).
func dropStalledPublish(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if f.Code == SymStalled {
			continue
		}
		out = append(out, f)
	}
	return out
}

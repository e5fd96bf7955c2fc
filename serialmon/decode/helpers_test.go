package decode

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 11, 21, 10, 0, 0, 0, time.UTC)

// feed decodes text line by line (100 ms apart) and flushes at the end.
func feed(d *Decoder, text string) []Event {
	var out []Event
	at := t0
	for _, l := range strings.Split(text, "\n") {
		out = append(out, d.Line(l, at)...)
		at = at.Add(100 * time.Millisecond)
	}
	return append(out, d.Flush()...)
}

func decodeText(text string) []Event { return feed(NewDecoder(Options{}), text) }

// one returns the only event of kind, failing the test otherwise.
func one(t *testing.T, evs []Event, kind string) Event {
	t.Helper()
	var found []Event
	for _, e := range evs {
		if e.Kind == kind {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s event, got %d in %s", kind, len(found), kinds(evs))
	}
	return found[0]
}

func kinds(evs []Event) string {
	var k []string
	for _, e := range evs {
		k = append(k, e.Kind+"("+e.Severity.String()+")")
	}
	return "[" + strings.Join(k, " ") + "]"
}

// check verifies an event's severity, summary and fix fragments and fields.
func check(t *testing.T, e Event, sev Severity, summary, fix string, fields map[string]string) {
	t.Helper()
	if e.Severity != sev {
		t.Errorf("%s: severity %v, want %v (%s)", e.Kind, e.Severity, sev, e.Summary)
	}
	if !strings.Contains(e.Summary, summary) {
		t.Errorf("%s: summary %q lacks %q", e.Kind, e.Summary, summary)
	}
	if !strings.Contains(e.Fix, fix) {
		t.Errorf("%s: fix %q lacks %q", e.Kind, e.Fix, fix)
	}
	for k, v := range fields {
		if e.Fields[k] != v {
			t.Errorf("%s: field %s=%q, want %q (fields %v)", e.Kind, k, e.Fields[k], v, e.Fields)
		}
	}
	if len(e.Evidence) == 0 {
		t.Errorf("%s: no evidence", e.Kind)
	}
}

// wellFormed checks what every event must satisfy.
func wellFormed(t testing.TB, e Event) {
	t.Helper()
	if e.Kind == "" || e.Summary == "" || e.Severity < Info || e.Severity > Error || e.Fields == nil || len(e.Evidence) == 0 {
		t.Fatalf("malformed event %+v", e)
	}
	if len(e.Evidence) > maxBlockLines+1 {
		t.Fatalf("%s holds %d evidence lines", e.Kind, len(e.Evidence))
	}
	for _, l := range e.Evidence {
		if len(l) > maxEvidenceLine+len("…") {
			t.Fatalf("%s evidence line of %d bytes", e.Kind, len(l))
		}
	}
}

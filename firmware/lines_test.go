package firmware

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLineTemplatesMatchVectors(t *testing.T) {
	rows := readTSV(t, "lines.txt", 2)
	seen := map[string]bool{}
	for _, row := range rows {
		seen[row[0]] = true
		if got := LineTemplate(row[0]); got != row[1] {
			t.Errorf("%s: %q, vector %q", row[0], got, row[1])
		}
		for _, verb := range strings.Split(row[1], "%")[1:] {
			if verb == "" || !strings.ContainsRune("sdx", rune(verb[0])) {
				t.Errorf("%s: only %%s %%d %%x are portable to the sketch's printf", row[0])
			}
		}
	}
	ids := LineIDs()
	sort.Strings(ids)
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("template %s missing from testdata/lines.txt", id)
		}
	}
	if Line(LineMQTTOpen, "h", 8883, "t") != "Attempting MQTT connection to h:8883 as t..." || Line(LineReset, "Power On") != "Reset reason: Power On\r\n" {
		t.Error("line endings")
	}
}

func TestAsctimeVectors(t *testing.T) {
	for _, row := range readTSV(t, "time.txt", 2) {
		e, _ := strconv.ParseInt(row[0], 10, 64)
		if got := Asctime(e); got != row[1] {
			t.Errorf("%d: %q want %q", e, got, row[1])
		}
		if want := time.Unix(e, 0).UTC().Format("Mon Jan _2 15:04:05 2006"); want != row[1] {
			t.Errorf("%d: vector %q, Go's time says %q", e, row[1], want)
		}
	}
	// Every day over four centuries agrees with Go's calendar.
	for d := int64(-800); d < 146097+800; d += 13 {
		e := d*86400 + 3723
		if got, want := Asctime(e), time.Unix(e, 0).UTC().Format("Mon Jan _2 15:04:05 2006"); got != want {
			t.Fatalf("%d: %q want %q", e, got, want)
		}
	}
}

func TestBackoffVectors(t *testing.T) {
	for _, row := range readTSV(t, "backoff.txt", 2) {
		a, _ := strconv.Atoi(row[0])
		ms, _ := strconv.ParseInt(row[1], 10, 64)
		if got := Backoff(a); got != time.Duration(ms)*time.Millisecond {
			t.Errorf("Backoff(%d) = %v, want %d ms", a, got, ms)
		}
	}
}

package doctor

import (
	"strings"
	"testing"
	"time"
)

func TestParseLog(t *testing.T) {
	log := "[2026-11-25T10:00:00.5Z] --- connected to /dev/ttyUSB0 at 74880 baud ---\n" +
		"[2026-11-25T10:00:01.25Z]  ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n" +
		"    ⇢ external reset, booting from flash\n" +
		"[2026-11-25T10:00:02Z] #IB ntp synced=0 waited_ms=30000\n" +
		"[2026-11-25T10:00:03Z] noise \\x01\\xff and \\x41\r\n" +
		"plain copied line\n"
	lines, err := ParseLog(strings.NewReader(log), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	if !lines[0].At.Equal(time.Date(2026, 11, 25, 10, 0, 1, 250e6, time.UTC)) || lines[0].Text != " ets Jan  8 2013,rst cause:2, boot mode:(3,6)" {
		t.Errorf("line 0: %+v", lines[0])
	}
	if lines[2].Text != "noise \x01\xff and \\x41" {
		t.Errorf("unescape: %q", lines[2].Text)
	}
	if !lines[3].At.IsZero() || lines[3].Text != "plain copied line" {
		t.Errorf("plain: %+v", lines[3])
	}
	r := Diagnose(Input{Lines: lines})
	if r.Top().Code != SymClock {
		t.Errorf("diagnosis of the saved log: %s", r.Top().Code)
	}
	last, _ := ParseLog(strings.NewReader(log), 2)
	if len(last) != 2 || last[1].Text != "plain copied line" {
		t.Errorf("bounded: %+v", last)
	}
	if _, err := ParseLog(strings.NewReader(strings.Repeat("x", maxLogLine+10)), 0); err == nil || !strings.Contains(err.Error(), "text log") {
		t.Errorf("overlong line: %v", err)
	}
}

func FuzzParseLog(f *testing.F) {
	f.Add("[2026-11-25T10:00:01.25Z]  ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n#IB tls ok=0 code=62\n")
	f.Add("[bad] x\n\\x\\x1\\xzz\n    ⇢ note\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := ParseLog(strings.NewReader(s), 100)
		if err != nil {
			return
		}
		if len(lines) > 100 {
			t.Fatalf("%d lines kept", len(lines))
		}
		Diagnose(Input{Lines: lines}) // must not panic on anything
	})
}

package boards

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/device"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// feeder turns a log into the lines the device would deliver, decoded by
// the real decoders. "#status " lines are the session's own messages.
type feeder struct {
	dec *decode.Decoder
	at  time.Time
}

func newFeeder() *feeder { return &feeder{dec: decode.NewDecoder(decode.Options{}), at: t0} }

func (f *feeder) lines(log string) []device.Line {
	var out []device.Line
	for _, l := range strings.Split(log, "\n") {
		f.at = f.at.Add(10 * time.Millisecond)
		if s, ok := strings.CutPrefix(l, "#status "); ok {
			out = append(out, device.Line{Item: serialmon.Item{Kind: serialmon.ItemStatus, Time: f.at, Text: s}})
			continue
		}
		out = append(out, device.Line{Item: serialmon.Item{Kind: serialmon.ItemLine, Time: f.at, Text: l}, Events: f.dec.Line(l, f.at)})
	}
	return out
}

const (
	banner   = " ets Jan  8 2013,rst cause:2, boot mode:(3,6)"
	download = " ets Jan  8 2013,rst cause:2, boot mode:(1,6)"
	romOver  = "#status ROM output over: reading the application at 115200 baud"
	loader   = "load 0x40100000, len 16384, room 16 \ntail 0\nchksum 0x67\ncsum 0x67"
)

func TestSerialStates(t *testing.T) {
	for _, c := range []struct {
		name, log string
		want      State
		detail    string
	}{
		{"banner only", banner + "\n\n" + romOver, Blank, "no image at 0x0"},
		{"still booting", banner + "\n" + loader, Booting, ""},
		{"application prints", banner + "\n" + loader + "\n" + romOver + "\nhello from the sketch", Running, "application is running"},
		{"garbage is not the application", banner + "\n" + romOver + "\n", Blank, ""},
		{"MQTT connected", banner + "\n" + loader + "\nAttempting MQTT connection...connected", Connected, "MQTT"},
		{"download mode", download, Loader, "ROM loader"},
		{"checksum error", banner + "\nload 0x40100000, len 16384, room 16 \ntail 0\nchksum 0x67\ncsum 0x66", Failed, "checksum"},
		{"watchdog", banner + "\n" + loader + "\nhello\n ets Jan  8 2013,rst cause:4, boot mode:(3,6)\n\nwdt reset", Failed, "watchdog"},
		{"reboot after a crash", banner + "\n" + loader + "\nhello\n ets Jan  8 2013,rst cause:4, boot mode:(3,6)\n\nwdt reset\n" + banner, Booting, ""},
		{"unplugged", banner + "\n#status port virtual:0 went away (EOF): waiting for the board to come back", Unplugged, "went away"},
		{"back", "#status port x went away (EOF): waiting\n#status reconnected to x", Unknown, "reconnected"},
	} {
		b := &Board{}
		b.Serial(newFeeder().lines(c.log))
		if b.State != c.want || !strings.Contains(b.Detail, c.detail) {
			t.Errorf("%s: state %s (%q), want %s (%q)", c.name, b.State, b.Detail, c.want, c.detail)
		}
	}
}

func TestFlashStates(t *testing.T) {
	f := newFeeder()
	b := &Board{}
	b.FlashStarted(t0)
	if b.State != Flashing {
		t.Fatalf("state %s", b.State)
	}
	// What a closing monitor still delivers does not override flashing.
	b.Serial(f.lines(banner))
	if b.State != Flashing {
		t.Fatalf("serial lines moved a flashing board to %s", b.State)
	}
	b.FlashDone(device.FlashDone{Facts: &device.Facts{Chip: "ESP8266", Description: "ESP8266EX", MAC: "18:fe:34:00:00:01", FlashSize: 4 << 20}}, t0)
	if b.State != Booting || b.Chip != "ESP8266EX" || b.MAC != "18:fe:34:00:00:01" || b.FlashSize != 4<<20 {
		t.Fatalf("after success: %+v", b)
	}
	b.FlashStarted(t0)
	b.FlashDone(device.FlashDone{Err: fmt.Errorf("cancelled: %w", errors.New("context canceled")), Canceled: true}, t0)
	if b.State != Unknown || !strings.Contains(b.Detail, "cancelled") {
		t.Fatalf("after cancel: %s %q", b.State, b.Detail)
	}
	b.FlashStarted(t0)
	b.FlashDone(device.FlashDone{Err: errors.New("no reply to SYNC")}, t0)
	if b.State != Failed || !strings.Contains(b.Detail, "no reply to SYNC") {
		t.Fatalf("after failure: %s %q", b.State, b.Detail)
	}
	b.MonitorFailed(fmt.Errorf("open: %w", fs.ErrNotExist), t0)
	if b.State != Unplugged {
		t.Fatalf("port missing: %s", b.State)
	}
	b.MonitorFailed(fmt.Errorf("%w: flashing", device.ErrBusy), t0)
	if b.State != Unplugged {
		t.Fatalf("a busy port changed the state to %s", b.State)
	}
	b.MonitorStarted(t0)
	if b.State != Unknown || !strings.Contains(b.Detail, "back") {
		t.Fatalf("port back: %s %q", b.State, b.Detail)
	}
	b.set(Running, "", t0)
	b.MonitorStarted(t0)
	if b.State != Running {
		t.Fatalf("a monitor restart moved a running board to %s", b.State)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/progress"
	"github.com/charmbracelet/x/term"

	"github.com/iotbench/iotbench/flasher"
)

// output renders flasher events: esptool-like text with a progress bar on
// a terminal, plain lines when piped, or JSON lines with --json.
type output struct {
	stdout, stderr io.Writer
	json           bool
	tty            bool
	bar            progress.Model

	mu       sync.Mutex
	inBar    bool
	lastDraw time.Time
}

func newOutput(stdout, stderr io.Writer, jsonOut bool) *output {
	o := &output{stdout: stdout, stderr: stderr, json: jsonOut}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(f.Fd()) {
		o.tty = true
	}
	o.bar = progress.New(progress.WithDefaultBlend(), progress.WithWidth(30))
	return o
}

// jsonLine writes {"type": typ, ...fields of v}.
func (o *output) jsonLine(typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil || len(b) < 2 || b[0] != '{' {
		b, _ = json.Marshal(map[string]any{"type": typ, "value": v})
		fmt.Fprintln(o.stdout, string(b))
		return
	}
	head := fmt.Sprintf(`{"type":%q`, typ)
	if len(b) > 2 {
		head += ","
	}
	fmt.Fprintln(o.stdout, head+string(b[1:]))
}

// result is a command's answer: JSON "result" event, or nothing (text
// commands print their own lines).
func (o *output) result(v any) error {
	if o.json {
		o.jsonLine("result", v)
	}
	return nil
}

// say prints a human line (stderr-free: results and progress go to stdout
// in text mode, like esptool).
func (o *output) say(format string, args ...any) {
	if o.json {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finishLineLocked()
	fmt.Fprintf(o.stdout, format+"\n", args...)
}

func (o *output) finishLine() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finishLineLocked()
}

func (o *output) finishLineLocked() {
	if o.inBar {
		fmt.Fprintln(o.stderr)
		o.inBar = false
	}
}

// event renders one flasher event.
func (o *output) event(e flasher.Event) {
	if o.json {
		o.jsonLine(e.EventType(), e)
		return
	}
	switch e := e.(type) {
	case flasher.ConnectingEvent:
		if e.Attempt == 1 {
			o.say("Connecting to %s...", e.Port)
		} else {
			o.say("Connecting... attempt %d of %d (%s)", e.Attempt, e.Of, e.Strategy)
		}
	case flasher.WarningEvent:
		o.say("Warning: %s", e.Message)
	case flasher.ChipEvent:
		o.say("Chip is %s", e.Description)
		o.say("Features: %s", strings.Join(e.Features, ", "))
		if e.CrystalMHz > 0 {
			o.say("Crystal is %dMHz", e.CrystalMHz)
		}
		o.say("MAC: %s", e.MAC)
	case flasher.StubEvent:
		if e.Running {
			o.say("Stub running (%s%s)", e.Source, pathSuffix(e.Path))
		} else {
			o.say("No flasher stub: %s", e.Reason)
		}
	case flasher.BaudEvent:
		o.say("Changed baud rate to %d", e.Baud)
	case flasher.FlashInfoEvent:
		o.say("Flash: manufacturer %s, device %s, %s", e.Manufacturer, e.Device, e.SizeName)
	case flasher.PhaseEvent:
		switch e.Phase {
		case "erase":
			if e.Detail != "" {
				o.say("Erasing flash (%s)...", e.Detail)
			} else {
				o.say("Erasing 0x%08x..0x%08x...", e.Addr, (e.Addr+uint32(e.Size)+4095)&^4095-1)
			}
		case "header":
			o.say("%s", strings.ToUpper(e.Detail[:1])+e.Detail[1:])
		case "verify":
			o.say("Verifying 0x%08x (%s)...", e.Addr, e.Detail)
		case "read":
			o.say("Reading %d bytes at 0x%08x...", e.Size, e.Addr)
		}
	case flasher.ProgressEvent:
		o.progress(e)
	case flasher.WrittenEvent:
		kbit := 0.0
		if e.Elapsed > 0 {
			kbit = float64(e.Size) * 8 / 1000 / e.Elapsed.Seconds()
		}
		comp := ""
		if e.Compressed > 0 {
			comp = fmt.Sprintf(" (%d compressed)", e.Compressed)
		}
		o.say("Wrote %d bytes%s at 0x%08x in %.1f s (effective %.1f kbit/s)", e.Size, comp, e.Addr, e.Elapsed.Seconds(), kbit)
		if e.Verified {
			o.say("Hash of data verified (%s %s).", e.VerifiedBy, e.MD5)
		} else {
			o.say("Not verified (MD5 of the data: %s).", e.MD5)
		}
	case flasher.ResetEvent:
		switch e.Mode {
		case "hard-reset":
			o.say("Hard resetting via RTS pin...")
		case "soft-reset":
			o.say("Soft resetting...")
		case "no-reset":
			o.say("Staying in bootloader.")
		case "no-reset-stub":
			o.say("Staying in flasher stub.")
		}
	}
}

func pathSuffix(p string) string {
	if p == "" {
		return ""
	}
	return ": " + p
}

// progress draws a bar on a terminal (at most every 100 ms) and nothing
// when piped except the final line printed by the Written event.
func (o *output) progress(e flasher.ProgressEvent) {
	if !o.tty || e.Total <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if e.Done < e.Total && now.Sub(o.lastDraw) < 100*time.Millisecond {
		return
	}
	o.lastDraw = now
	pct := float64(e.Done) / float64(e.Total)
	rate := e.BytesPerSecond() * 8 / 1000
	verb := map[string]string{"write": "Writing", "verify": "Verifying", "read": "Reading", "erase": "Erasing"}[e.Phase]
	fmt.Fprintf(o.stderr, "\r%s at 0x%08x %s %6.1f kbit/s ", verb, e.Addr+uint32(e.Done), o.bar.ViewAs(pct), rate)
	o.inBar = true
	if e.Done >= e.Total {
		fmt.Fprintln(o.stderr)
		o.inBar = false
	}
}

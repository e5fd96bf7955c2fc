// Package boards owns the board list: each board's identity (port, chip,
// MAC, thing) and its state on the way from blank to verified, derived
// from what the monitor decodes and what the flasher reports, and the list
// component that shows them beside the active view.
package boards

import (
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/tui/common"
	"github.com/iotbench/iotbench/tui/device"
)

// State is where a board is on its way to a verified publish.
type State int

// States. Blank, Flashing, Booting, Connected, Verified and Failed are
// the milestones of the bench flow; Unknown (nothing seen yet), Loader
// (waiting in the ROM's download mode), Running (the application prints,
// no cloud connection seen) and Unplugged (the port went away) say what
// the board is doing between them.
const (
	Unknown State = iota
	Blank
	Loader
	Flashing
	Booting
	Running
	Connected
	Verified
	Failed
	Unplugged
)

var stateNames = [...]string{"unknown", "blank", "bootloader", "flashing", "booting", "running", "connected", "verified", "failed", "unplugged"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state?"
}

// Board is one row of the list.
type Board struct {
	ID        common.BoardID
	Port      string
	Label     string
	Chip      string
	MAC       string
	FlashSize int
	// Thing is the cloud identity once provisioned ("" until then).
	Thing string
	State State
	// Detail says why the board is in its state, in words.
	Detail string
	Since  time.Time

	// Since the last reset banner: whether the ROM loaded an image and
	// whether the application has printed.
	sawBanner, loaded, appRan bool
	flashBoot                 bool
}

func (b *Board) set(s State, detail string, at time.Time) {
	if s != b.State {
		b.Since = at
	}
	b.State, b.Detail = s, detail
}

// Facts records what the ROM loader reported.
func (b *Board) Facts(f device.Facts) {
	if f.Description != "" {
		b.Chip = f.Description
	} else if f.Chip != "" {
		b.Chip = f.Chip
	}
	if f.MAC != "" {
		b.MAC = f.MAC
	}
	if f.FlashSize > 0 {
		b.FlashSize = f.FlashSize
	}
}

// Serial follows the monitor: reset banners, the ROM loader's verdict,
// application output, crashes and milestones move the state.
func (b *Board) Serial(lines []device.Line) {
	if b.State == Flashing {
		return
	}
	for _, ln := range lines {
		switch ln.Kind {
		case serialmon.ItemStatus:
			b.status(ln)
		case serialmon.ItemLine:
			b.line(ln)
		}
		for _, ev := range ln.Events {
			b.event(ev, ln.Time)
		}
	}
}

func (b *Board) status(ln device.Line) {
	t := ln.Text
	switch {
	case strings.Contains(t, "went away"):
		b.set(Unplugged, "the port went away: waiting for the board to come back", ln.Time)
	case strings.HasPrefix(t, "reconnected"):
		b.set(Unknown, "reconnected: waiting for the board to speak", ln.Time)
	case strings.HasPrefix(t, "ROM output over"):
		// The ROM printed its banner, booting from flash, and nothing
		// followed: there is no image at 0x0 (device-side.md §1.5,
		// "banner only").
		if b.sawBanner && b.flashBoot && !b.loaded && b.State == Booting {
			b.set(Blank, "the ROM found no image at 0x0: flash an application", ln.Time)
		}
	}
}

func (b *Board) line(ln device.Line) {
	if strings.TrimSpace(ln.Text) == "" || len(ln.Events) > 0 {
		return
	}
	if b.loaded && !b.appRan && (b.State == Booting || b.State == Unknown) {
		b.appRan = true
		b.set(Running, "the application is running", ln.Time)
	}
}

func (b *Board) event(ev decode.Event, at time.Time) {
	f := ev.Fields
	switch {
	case ev.Kind == decode.KindROMBanner:
		b.sawBanner, b.loaded, b.appRan = true, false, false
		if c := f["chip"]; c != "" && b.Chip == "" {
			b.Chip = c
		}
		b.flashBoot = f["mode"] == "flash"
		switch {
		case ev.Severity == decode.Error:
			b.set(Failed, ev.Summary, at)
		case f["mode"] == "download":
			b.set(Loader, "in the ROM loader, waiting for a flasher", at)
		default:
			b.set(Booting, ev.Summary, at)
		}
	case ev.Kind == decode.KindROMLoader:
		if f["ok"] == "0" {
			b.set(Failed, ev.Summary, at)
			return
		}
		b.loaded = true
	case ev.Kind == decode.KindBootEboot && f["action"] == "ld":
		b.loaded = true
	case ev.Kind == decode.KindMQTTConnected,
		ev.Kind == decode.IBKind("mqtt") && f["ok"] == "1":
		// A verified board that reconnects stays verified: only a reset
		// (the banner) or a failure takes the verdict back.
		if b.State != Verified {
			b.set(Connected, "connected to the MQTT broker", at)
		}
	case strings.HasPrefix(ev.Kind, "crash.") || ev.Kind == decode.KindBootLoop ||
		ev.Kind == decode.KindROMError || ev.Kind == decode.KindPowerBrownout:
		if ev.Severity >= decode.Error {
			b.set(Failed, ev.Summary, at)
		}
	case ev.Severity == decode.Error && b.State != Failed:
		// A failure the application reports (TLS, MQTT refused, files
		// missing): running, but not going to get connected as is.
		b.set(Failed, ev.Summary, at)
	default:
		if strings.HasPrefix(ev.Kind, "wifi.") || strings.HasPrefix(ev.Kind, "ntp.") || strings.HasPrefix(ev.Kind, "mqtt.") || strings.HasPrefix(ev.Kind, decode.KindIBPrefix) {
			if b.loaded && (b.State == Booting || b.State == Unknown) {
				b.appRan = true
				b.set(Running, "the application is running", at)
			}
		}
	}
}

// FlashStarted marks the board as being flashed.
func (b *Board) FlashStarted(at time.Time) {
	b.set(Flashing, "writing flash", at)
}

// FlashDone records the end of a flash job.
func (b *Board) FlashDone(d device.FlashDone, at time.Time) {
	if d.Facts != nil {
		b.Facts(*d.Facts)
	}
	switch {
	case d.Err == nil:
		b.set(Booting, "flashed: restarting into the new firmware", at)
	case d.Canceled:
		b.set(Unknown, "flashing cancelled: the flash holds a partial image", at)
	default:
		b.set(Failed, "flashing failed: "+d.Err.Error(), at)
	}
}

// MonitorStarted records that the monitor holds the port: a board that
// was unplugged is back.
func (b *Board) MonitorStarted(at time.Time) {
	if b.State == Unplugged {
		b.set(Unknown, "the port is back: waiting for the board to speak", at)
	}
}

// MonitorFailed records that the monitor could not open the port.
func (b *Board) MonitorFailed(err error, at time.Time) {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, serialmon.ErrPortGone) {
		b.set(Unplugged, err.Error(), at)
		return
	}
	if errors.Is(err, device.ErrBusy) {
		return
	}
	if b.State != Failed {
		b.set(Failed, "cannot open the port: "+err.Error(), at)
	}
}

// Provision follows a provisioning run: the port is the pipeline's from
// the start, the board is being flashed during the flash step and boots
// from the reset on (its log, copied to the monitor, moves the state
// further through Serial).
func (b *Board) Provision(e provision.Event) {
	at := e.At
	switch {
	case e.Step == provision.StepPort && e.Kind == provision.KindStart:
		b.set(Loader, "provisioning: the pipeline has the port", at)
	case e.Step == provision.StepFlash && e.Kind == provision.KindStart:
		b.set(Flashing, "provisioning: writing the firmware and the board's files", at)
	case e.Step == provision.StepFlash && e.Kind == provision.KindSkipped:
		b.set(Loader, "provisioning: the flash already holds these bytes", at)
	case e.Step == provision.StepReset && e.Kind == provision.KindStart:
		b.set(Booting, "provisioning: restarting into the firmware", at)
		b.sawBanner, b.loaded, b.appRan, b.flashBoot = false, true, false, true
	case e.Kind == provision.KindFailed && e.Step != provision.StepBoot && e.Step != provision.StepPublish:
		// Boot and publish failures come with the doctor's report at the
		// end (Provisioned); these are the steps before the board ran.
		b.set(Failed, "provisioning failed at "+string(e.Step)+": "+e.Message, at)
	}
}

// Provisioned records the end of a run: verified (the thing's message
// was seen on its topic) or failed with the doctor's diagnosis. Examining
// a board (examine) never verifies it, but names its thing.
func (b *Board) Provisioned(r *provision.Result, examine bool, at time.Time) {
	if r.Chip != "" && b.Chip == "" {
		b.Chip = r.Chip
	}
	if r.MAC != "" {
		b.MAC = r.MAC
	}
	if r.Thing != "" {
		b.Thing = r.Thing
	}
	why := r.Error
	if r.Report != nil {
		if top := r.Report.Top(); top != nil && !r.Verified {
			why = top.Summary
		}
	}
	switch {
	case r.Verified:
		b.set(Verified, "verified: "+r.Thing+" published on "+r.Topic, at)
	case examine:
		if why != "" && r.Report != nil && !r.Report.Healthy {
			b.set(Failed, "the doctor: "+why, at)
		}
	default:
		if why == "" {
			why = "not verified"
		}
		b.set(Failed, "not verified: "+why, at)
	}
}

package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// sharedPort hands the pipeline's open port to the monitor session
// without letting the session close it: the pipeline may need the loader
// again afterwards (the doctor reads flash), and closes it itself.
type sharedPort struct{ flasher.Port }

func (sharedPort) Close() error { return nil }

// bootAndVerify resets the board into its firmware, follows the boot log
// and waits for the first message from the thing on its topic.
func (r *run) bootAndVerify(ctx context.Context, msgs <-chan Message) error {
	o := r.o
	bootBaud, appBaud := 0, o.AppBaud
	if r.info.Chip.IsESP8266() {
		bootBaud = 74880 // device-side.md §1.1: the ROM prints at 74880 with a 26 MHz crystal
		if appBaud == 0 {
			appBaud = firmware.SerialBaud
		}
	} else if appBaud == 0 {
		// ESP32-family ROMs print at 115200 (device-side.md §1.8), and
		// so does the reference firmware there: one rate for the whole log.
		appBaud = firmware.SerialBaudESP32
	}
	var sess *serialmon.Session
	// The session lives for the whole watch, so it takes ctx, not the
	// reset step's shorter one.
	outer := ctx
	err := r.step(ctx, StepReset, 10*time.Second, func(ctx context.Context) (string, bool, error) {
		var err error
		sess, err = serialmon.StartSession(outer, serialmon.SessionOptions{
			Port: r.t.Port, Baud: appBaud, BootBaud: bootBaud,
			OpenPort: func(ctx context.Context, spec string, baud int) (flasher.Port, error) {
				if err := r.port.SetBaudRate(baud); err != nil {
					return nil, err
				}
				return sharedPort{r.port}, nil
			},
		})
		if err != nil {
			return "", false, err
		}
		r.resetAt = time.Now()
		if err := sess.Reset(); err != nil {
			return "", false, err
		}
		return "hard reset into the firmware", false, nil
	})
	if err != nil {
		return err
	}
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()

	thing := r.id.Thing
	topic := r.cfg.Topics.Telemetry
	dec := decode.NewDecoder(r.decodeOptions())
	deadline := time.NewTimer(o.BootTimeout)
	defer deadline.Stop()
	start := time.Now()
	r.event(StepBoot, KindStart, "")
	booted, connected := false, false
	var seen *Message
	repeats := map[string]int{}
	stopReason := ""
	items := sess.Items()
	// settle fires when the board has been quiet for SettleAfterError
	// after reporting a failure.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	failedOnce := ""

loop:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			stopReason = fmt.Sprintf("no message from %s on %s within %v of the reset", thing, topic, o.BootTimeout)
			break loop
		case <-settle.C:
			stopReason = fmt.Sprintf("the board reported a failure (%s) and then nothing more for %v", failedOnce, o.SettleAfterError)
			break loop
		case m, ok := <-msgs:
			if !ok {
				stopReason = "the subscription to " + topic + " ended"
				break loop
			}
			if r.fromBoard(m, thing) {
				seen = &m
				break loop
			}
		case it, ok := <-items:
			if !ok {
				stopReason = "the serial port closed"
				break loop
			}
			if it.Kind != serialmon.ItemLine {
				continue
			}
			r.lines = append(r.lines, doctor.Line{At: it.Time, Text: it.Text, Baud: it.Baud})
			if failedOnce != "" {
				settle.Reset(o.SettleAfterError)
			}
			for _, e := range dec.Line(it.Text, it.Time) {
				if e.Severity >= decode.Notice {
					r.emit(Event{Board: r.t.Name, Step: r.current(booted), Kind: KindEvidence, Message: e.Summary, Severity: e.Severity.String(), At: e.At})
				}
				if !booted && isAppLine(e) {
					booted = true
					r.finish(StepBoot, start, "firmware running: "+e.Summary)
					start = time.Now()
					r.event(StepPublish, KindStart, "waiting for a message on "+topic)
				}
				if e.Kind == decode.KindMQTTConnected || e.Kind == decode.IBKind("mqtt") && e.Severity == decode.Notice {
					connected = true
				}
				// Nobody watches the topic (examining a board the ledger
				// does not know): the board's own word is all there is.
				if msgs == nil && e.Kind == decode.IBKind("pub") && e.Severity == decode.Notice {
					stopReason = "the board reports publishing (nobody watched its topic, so it is not verified)"
					break loop
				}
				// A firmware that retries shows the same failure again:
				// the verdict will not change by waiting longer.
				if e.Severity >= decode.Error {
					key := e.Kind + "|" + e.Summary
					repeats[key]++
					failedOnce = e.Summary
					settle.Reset(o.SettleAfterError)
					if repeats[key] >= 2 {
						stopReason = "the board repeats the same failure: " + e.Summary
						break loop
					}
				}
				// The ROM gave up (no bootloader, a corrupt one): nothing
				// will run until the flash is fixed, however long we wait
				// (an ESP32 ROM repeats "invalid header" until reset).
				if e.Kind == decode.KindROMError && e.Severity >= decode.Error {
					stopReason = "the ROM cannot boot: " + e.Summary
					break loop
				}
				if e.Kind == decode.KindBootLoop {
					stopReason = "the board is in a boot loop"
					break loop
				}
			}
		}
	}
	sess.Close()
	sess = nil

	if seen != nil {
		if !booted {
			r.finish(StepBoot, start, "firmware running")
			start = time.Now()
		}
		msg := fmt.Sprintf("message from %s on %s (%d bytes) %.1f s after the reset", thing, topic, len(seen.Payload), seen.At.Sub(r.resetAt).Seconds())
		r.finish(StepPublish, start, msg)
		r.res.Verified = true
		r.res.NoChange = !r.changed && !r.fresh
		yes := true
		rep := doctor.Diagnose(doctor.Input{Lines: r.lines, Decode: r.decodeOptions(), Seen: &yes, Topic: topic, SeenEvidence: msg})
		r.res.Report = &rep
		r.rec.Thing, r.rec.CertificateID, r.rec.Endpoint, r.rec.Port = thing, r.id.CertificateID, r.id.Endpoint, r.id.Port
		if r.o.Cloud != nil {
			r.rec.Cloud = r.o.Cloud.Kind()
		}
		if r.rec.ProvisionedAt.IsZero() {
			r.rec.ProvisionedAt = o.Now()
		}
		r.rec.VerifiedAt = o.Now()
		if o.Ledger != nil {
			if err := o.Ledger.Put(r.rec); err != nil {
				return err
			}
		}
		note := "verified"
		if r.res.NoChange {
			note = "verified; nothing needed changing (identity, files and flash were already in place)"
		}
		r.event(StepPublish, KindVerified, note)
		return nil
	}

	// Not verified: ask the doctor, with everything we can learn.
	failed := StepBoot
	if booted {
		failed = StepPublish
	}
	var seenFlag *bool
	if msgs != nil {
		no := false
		seenFlag = &no
	}
	rep := r.diagnose(ctx, seenFlag, stopReason, connected)
	r.res.Report = &rep
	top := rep.Top()
	se := &StepError{Step: failed, Err: errors.New(stopReason), Finding: top}
	r.res.Steps = append(r.res.Steps, StepResult{Step: failed, Status: KindFailed, Message: se.Error(), Duration: time.Since(start)})
	r.emit(Event{Board: r.t.Name, Step: failed, Kind: KindFailed, Message: se.Error(), Finding: top, At: time.Now()})
	return se
}

func (r *run) current(booted bool) StepID {
	if booted {
		return StepPublish
	}
	return StepBoot
}

func (r *run) finish(id StepID, start time.Time, msg string) {
	r.res.Steps = append(r.res.Steps, StepResult{Step: id, Status: KindDone, Message: msg, Duration: time.Since(start)})
	r.event(id, KindDone, msg)
}

// isAppLine: the first sign that the application (not the ROM or a boot
// loader: ESP-IDF's bootloader errors are boot.* kinds too) runs.
func isAppLine(e decode.Event) bool { return !decode.IsBootKind(e.Kind) }

func (r *run) decodeOptions() decode.Options {
	d := r.o.Decode
	if d.Chip == "" && r.info != nil {
		d.Chip = r.info.Chip.Name
	}
	return d
}

// fromBoard accepts a message as the board's first publish: live (not a
// retained message from an earlier run), after the reset, and, when the
// payload names its thing, from this thing.
func (r *run) fromBoard(m Message, thing string) bool {
	if m.Retained || m.At.Before(r.resetAt) {
		return false
	}
	var p struct {
		Thing *string `json:"thing"`
	}
	if json.Unmarshal(m.Payload, &p) == nil && p.Thing != nil && *p.Thing != thing {
		return false
	}
	return true
}

// diagnose gathers cloud facts and probes and asks the doctor. Probes
// need what this run knows: the files (provisioning) or only the ledger
// (examining a board), and a cloud to ask.
func (r *run) diagnose(ctx context.Context, seen *bool, why string, connected bool) doctor.Report {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topic := r.cfg.Topics.Telemetry
	var probe *doctor.ProbeFacts
	if r.files != nil {
		// What is on the board, which is what its TLS stack uses.
		files := doctor.Files{Cert: r.files[firmware.CertFile], Key: r.files[firmware.KeyFile], CA: r.files[firmware.CAFile]}
		probe = &doctor.ProbeFacts{Files: doctor.ProbeFiles(files, time.Time{})}
		if !connected {
			endpoint := net.JoinHostPort(r.id.Endpoint, strconv.Itoa(r.id.Port))
			probe.TLS = doctor.ProbeTLS(ctx, endpoint, files, time.Now(), r.o.Dial)
		}
	}
	if r.fsImage != nil {
		if probe == nil {
			probe = &doctor.ProbeFacts{}
		}
		probe.FS = r.probeFS(ctx)
	}
	var facts *doctor.CloudFacts
	if r.o.Cloud != nil && r.id != nil && r.id.Thing != "" {
		facts = r.o.Cloud.Facts(ctx, FactsQuery{Thing: r.id.Thing, ClientID: r.cfg.Thing, Topic: topic, CertificateID: r.id.CertificateID, CertDER: r.id.CertDER, Endpoint: r.cfg.Endpoint.Host})
	}
	return doctor.Diagnose(doctor.Input{Lines: r.lines, Decode: r.decodeOptions(), Cloud: facts, Probe: probe, Seen: seen, Topic: topic, SeenEvidence: why})
}

// probeFS reads the start of the filesystem region back from the board
// (through the loader again: the pipeline still owns the port) and says
// whether the image it wrote is where the firmware will look for it.
func (r *run) probeFS(ctx context.Context) *doctor.FSProbe {
	want := r.geom.Offset
	n := min(2*flasher.SectorSize, len(r.fsImage))
	l, _, err := flasher.Open(ctx, r.port, flasher.SessionOptions{
		ConnectOptions: flasher.ConnectOptions{PortName: r.t.Port, Before: r.o.Before, Attempts: 3, TimeoutScale: r.o.TimeoutScale},
		Baud:           r.o.Baud, NoStub: true,
	})
	if err != nil {
		return nil // the board does not answer the loader now; no FS evidence
	}
	defer l.After(flasher.AfterHardReset)
	read := func(at uint32) ([]byte, error) { return l.ReadFlash(ctx, at, n) }
	got, err := read(want)
	if err != nil {
		return nil
	}
	p := &doctor.FSProbe{Offset: want, Layout: r.lay}
	switch {
	case bytes.Equal(got, r.fsImage[:n]):
		p.Mounted = true
		p.Files = r.fileNames()
		return p
	case allErased(got):
		p.Err = "erased flash: no filesystem there"
	default:
		p.Err = "no filesystem image built by this run there"
	}
	if r.fsAt != want {
		if b, err := read(r.fsAt); err == nil && bytes.Equal(b, r.fsImage[:n]) {
			p.FoundElsewhere, p.FoundAt = true, r.fsAt
		}
	}
	return p
}

func (r *run) fileNames() []string {
	var out []string
	for n := range r.files {
		out = append(out, n)
	}
	return out
}

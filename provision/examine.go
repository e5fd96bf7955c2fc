package provision

import (
	"context"
	"errors"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

// Examine is the doctor on a live board: it creates nothing and writes
// nothing. It reads the chip's MAC, finds the board in the ledger, resets
// it into its firmware, follows the boot log, watches the thing's topic
// (when the ledger names a thing and o.Cloud is the cloud it lives in),
// and reports what it saw with the doctor's diagnosis. A board the ledger
// does not know is still examined from its log alone.
func Examine(ctx context.Context, t Target, o Options, emit func(Event)) *Result {
	return newRun(t, o, emit).complete(ctx, (*run).examine)
}

func (r *run) examine(ctx context.Context) error {
	if err := r.step(ctx, StepPort, 30*time.Second, r.openPort); err != nil {
		return err
	}
	if err := r.step(ctx, StepChip, r.o.StepTimeout, r.connectChip); err != nil {
		return err
	}
	// What the board should be doing, from the ledger.
	rec := r.rec
	if rec == nil {
		rec = &Record{MAC: r.mac}
		r.rec = rec
		r.event(StepIdentity, KindProgress, "this board is not in the ledger: examining its log only (provision it with iotbench provision)")
	}
	r.id = &Identity{Thing: rec.Thing, CertificateID: rec.CertificateID, Endpoint: rec.Endpoint, Port: rec.Port}
	r.cfg = &firmware.Config{Thing: rec.Thing, Endpoint: firmware.Endpoint{Host: rec.Endpoint, Port: rec.Port}}
	if rec.Thing != "" {
		r.cfg.Topics.Telemetry = firmware.TelemetryTopic(rec.Thing)
		r.res.Thing = rec.Thing
	}
	var msgs <-chan Message
	if r.o.Cloud != nil && rec.Thing != "" && (rec.Cloud == "" || rec.Cloud == r.o.Cloud.Kind()) {
		r.res.Cloud = r.o.Cloud.Kind()
		ch, err := r.o.Cloud.Watch(ctx, r.cfg.Topics.Telemetry)
		if err != nil {
			r.event(StepPublish, KindProgress, "cannot watch "+r.cfg.Topics.Telemetry+": "+err.Error())
		} else {
			msgs = ch
		}
	} else if r.o.Cloud != nil && rec.Cloud != "" {
		r.event(StepPublish, KindProgress, "the ledger says this board lives in the "+rec.Cloud+" cloud, not "+r.o.Cloud.Kind()+": not watching its topic")
		r.o.Cloud = nil
	}
	err := r.bootAndVerify(ctx, msgs)
	var se *StepError
	if errors.As(err, &se) {
		return nil // the report says it
	}
	return err
}

package device

import (
	"bytes"
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon"
)

// ProvisionJob is a run of the provisioning pipeline on this board, or of
// the doctor on it (Examine). The pipeline owns the port from connecting
// to the ROM loader until it has watched the boot (issue 8: no hand-over
// between flashing and monitoring), so the device gives the port up for
// the whole run, as for a flash job, and takes it back afterwards.
type ProvisionJob struct {
	// Examine runs provision.Examine: nothing is created or written.
	Examine bool
	Options provision.Options
	// Cloud opens the cloud for this run (an AWS client for the profile
	// and region typed in the wizard); nil keeps Options.Cloud.
	Cloud func(ctx context.Context) (provision.Cloud, error)
}

// ProvisionProgress is a batch of the run's events, and the lines the
// board printed while the pipeline watched its boot (copied from the
// pipeline's reads, so the monitor shows the boot the pipeline judged).
type ProvisionProgress struct {
	Examine bool
	Events  []provision.Event
	Lines   []Line
}

// ProvisionDone ends a run. The port is released; the caller restarts
// the monitor.
type ProvisionDone struct {
	Examine bool
	// Result is nil only when the run could not start (Err says why).
	Result   *provision.Result
	Err      error
	Canceled bool
}

type provItem struct {
	ev   *provision.Event
	line *serialmon.Item
	done *ProvisionDone
}

type provJob struct {
	cancel  context.CancelFunc
	q       *queue[provItem]
	examine bool
}

// Provision starts a run and returns its first progress (or its end).
// Follow it with ReadProvision until ProvisionDone.
func (d *Device) Provision(j ProvisionJob) tea.Cmd {
	return func() tea.Msg {
		what := "provisioning"
		if j.Examine {
			what = "examining"
		}
		if err := d.take(what); err != nil {
			return ProvisionDone{Examine: j.Examine, Err: err}
		}
		ctx, cancel := context.WithCancel(d.ctx)
		pj := &provJob{cancel: cancel, q: newQueue[provItem](), examine: j.Examine}
		d.mu.Lock()
		d.pjob = pj
		d.mu.Unlock()
		go d.runProvision(ctx, pj, j)
		return d.nextProvision(pj)
	}
}

// ReadProvision waits for more of the running provisioning job.
func (d *Device) ReadProvision() tea.Cmd {
	d.mu.Lock()
	pj := d.pjob
	d.mu.Unlock()
	if pj == nil {
		return nil
	}
	return func() tea.Msg { return d.nextProvision(pj) }
}

// nextProvision returns what the run queued: its events (flash progress
// only at its latest value) and the board's lines, decoded; or its end.
func (d *Device) nextProvision(pj *provJob) tea.Msg {
	items, _ := pj.q.take(1 << 12)
	out := ProvisionProgress{Examine: pj.examine}
	var lines []serialmon.Item
	lastProgress := -1
	for _, it := range items {
		switch {
		case it.done != nil:
			if len(out.Events) > 0 || len(lines) > 0 {
				pj.q.pushFront(it)
				out.Lines = d.decodeItems(lines)
				return out
			}
			d.mu.Lock()
			if d.pjob == pj {
				d.pjob = nil
			}
			d.mu.Unlock()
			return *it.done
		case it.line != nil:
			lines = append(lines, *it.line)
		case it.ev != nil:
			e := *it.ev
			if e.Kind == provision.KindProgress && e.Total > 0 {
				if lastProgress >= 0 && lastProgress == len(out.Events)-1 {
					out.Events[lastProgress] = e
					continue
				}
				lastProgress = len(out.Events)
			}
			out.Events = append(out.Events, e)
		}
	}
	out.Lines = d.decodeItems(lines)
	return out
}

func (d *Device) runProvision(ctx context.Context, pj *provJob, j ProvisionJob) {
	res := ProvisionDone{Examine: j.Examine}
	defer func() {
		res.Canceled = ctx.Err() != nil
		pj.cancel()
		d.release()
		pj.q.push(provItem{done: &res})
	}()
	o := j.Options
	if j.Cloud != nil {
		c, err := j.Cloud(ctx)
		if err != nil {
			res.Err = err
			return
		}
		o.Cloud = c
	}
	var tee *teePort
	t := provision.Target{Name: d.spec.Port, Port: d.spec.Port,
		Open: func(ctx context.Context, baud int) (flasher.Port, error) {
			p, err := d.open(ctx, baud)
			if err != nil {
				return nil, err
			}
			tee = newTeePort(p, func(it serialmon.Item) { pj.q.push(provItem{line: &it}) })
			return tee.port(), nil
		}}
	emit := func(e provision.Event) {
		// The pipeline hands the port to its boot watch at the reset: from
		// then on what the board prints is its log, not the loader's SLIP.
		if e.Step == provision.StepReset && e.Kind == provision.KindStart && tee != nil {
			tee.start()
		}
		pj.q.push(provItem{ev: &e})
	}
	if j.Examine {
		res.Result = provision.Examine(ctx, t, o, emit)
	} else {
		res.Result = provision.Run(ctx, t, o, emit)
	}
	if tee != nil {
		tee.stop()
	}
	if res.Result != nil && res.Result.Chip != "" {
		d.setChip(res.Result.Chip)
	}
}

// ProvisionRunning reports whether a provisioning or examining run holds
// the port.
func (d *Device) ProvisionRunning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pjob != nil
}

// teePort passes everything through to the board's port and, once
// started, copies what is read into lines for the monitor. It stops at
// the first write: after the boot watch only the loader talks on the
// line (the doctor reading the filesystem back), and SLIP frames are no
// log.
type teePort struct {
	flasher.Port
	emit func(serialmon.Item)

	mu     sync.Mutex
	on     bool
	line   []byte
	lineAt time.Time
}

func newTeePort(p flasher.Port, emit func(serialmon.Item)) *teePort {
	return &teePort{Port: p, emit: emit}
}

// port is the tee as the flasher must see it: with the one-operation
// DTR/RTS change when the port has it, since esptool's "unix tight" reset
// is chosen by that.
func (t *teePort) port() flasher.Port {
	if _, ok := t.Port.(flasher.LinePairSetter); ok {
		return &teePairPort{t}
	}
	return t
}

func (t *teePort) start() {
	t.mu.Lock()
	t.on = true
	t.mu.Unlock()
}

func (t *teePort) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	t.flushLocked(time.Now())
}

func (t *teePort) Read(p []byte) (int, error) {
	n, err := t.Port.Read(p)
	if n > 0 {
		now := time.Now()
		t.mu.Lock()
		if t.on {
			t.feedLocked(p[:n], now)
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *teePort) Write(p []byte) (int, error) {
	t.mu.Lock()
	if t.on {
		t.on = false
		t.flushLocked(time.Now())
	}
	t.mu.Unlock()
	return t.Port.Write(p)
}

func (t *teePort) feedLocked(p []byte, now time.Time) {
	for len(p) > 0 {
		if len(t.line) == 0 {
			t.lineAt = now
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.line = append(t.line, p...)
			if len(t.line) > 64<<10 {
				t.flushLocked(now)
			}
			return
		}
		t.line = append(t.line, p[:i+1]...)
		p = p[i+1:]
		t.flushLocked(now)
	}
}

func (t *teePort) flushLocked(time.Time) {
	if len(t.line) == 0 {
		return
	}
	raw := append([]byte(nil), t.line...)
	text := bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
	t.line = t.line[:0]
	t.emit(serialmon.Item{Kind: serialmon.ItemLine, Time: t.lineAt, Text: string(text), Raw: raw, Baud: t.Port.BaudRate()})
}

// USBIDs and IsRemote answer for the port underneath (the flasher picks
// its reset sequence by them).
func (t *teePort) USBIDs() (vid, pid uint16, ok bool) {
	if u, is := t.Port.(flasher.USBPort); is {
		return u.USBIDs()
	}
	return 0, 0, false
}

func (t *teePort) IsRemote() bool {
	r, is := t.Port.(flasher.RemotePort)
	return is && r.IsRemote()
}

type teePairPort struct{ *teePort }

func (t *teePairPort) SetDTRRTS(dtr, rts bool) error {
	return t.Port.(flasher.LinePairSetter).SetDTRRTS(dtr, rts)
}

// Package device is the TUI's hold on one board: it owns the board's
// serial port and hands it between the monitor session and the flasher
// (one owner at a time, as a real port opened exclusively demands), and
// turns what the domain packages report into typed messages for the views.
// Every method that touches the port returns a tea.Cmd; nothing here
// renders.
package device

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/target"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// Spec says how to reach a board.
type Spec struct {
	// Port is a device path or an rfc2217:// URL; it names the board in
	// the list.
	Port string
	// Label describes the board when the port alone does not ("virtual
	// ESP8266").
	Label string
	// Open opens the port at baud; nil means serialmon.Open(ctx, Port, baud).
	Open func(ctx context.Context, baud int) (flasher.Port, error)
	// ListPorts finds the board again by USB serial number after an
	// unplug; nil means serialmon.ListPorts (or nothing, with a custom Open).
	ListPorts func() ([]serialmon.PortInfo, error)
	// TimeoutScale scales the flasher's reply timeouts for a board whose
	// clock runs faster than real time (a virtual board); 0 = 1.
	TimeoutScale float64
	// StubFile is a flasher stub for this board only, overriding
	// Config's: a virtual board's stub, whose code is filler that a real
	// chip must never run.
	StubFile string
}

// Config is how the TUI talks to every board.
type Config struct {
	// Baud is the application's rate, BootBaud the ROM's after a reset
	// (74880 on an ESP8266 with a 26 MHz crystal, device-side.md §1.1).
	Baud, BootBaud int
	// FlashBaud is the transfer rate once a stub runs (the ESP8266 ROM
	// stays at 115200).
	FlashBaud int
	NoStub    bool
	StubFile  string
	// StubDirs are searched for an installed esptool's stubs; nil means
	// flasher.StubSearchDirs.
	StubDirs []string
	// ELF resolves crash addresses from the start.
	ELF string
	// IdleFlush and ReconnectPoll tune the monitor session (0 = its
	// defaults).
	IdleFlush, ReconnectPoll time.Duration
	// MaxBatch caps the serial items delivered in one message.
	MaxBatch int
	// Coalesce is how long a batch keeps collecting after its first item
	// (default 16 ms, one frame at 60 fps): a fast stream then costs one
	// update and one render a frame rather than one per read.
	Coalesce time.Duration
}

func (c *Config) defaults() {
	if c.Baud == 0 {
		c.Baud = 115200
	}
	if c.BootBaud == 0 {
		c.BootBaud = 74880
	}
	if c.FlashBaud == 0 {
		c.FlashBaud = 460800
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 4096
	}
	if c.Coalesce == 0 {
		c.Coalesce = 16 * time.Millisecond
	}
}

// Facts are what connecting to the ROM loader told about the board.
type Facts struct {
	Chip        string   `json:"chip"`
	Description string   `json:"description"`
	MAC         string   `json:"mac"`
	Features    []string `json:"features,omitempty"`
	CrystalMHz  int      `json:"crystal_mhz,omitempty"`
	FlashSize   int      `json:"flash_size,omitempty"`
}

// Device is one board. Its methods are safe to call from Update: they only
// build commands; the commands do the I/O.
type Device struct {
	spec   Spec
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	// own serialises changes of the port's owner (monitor start/stop,
	// jobs taking the port).
	own sync.Mutex

	mu   sync.Mutex
	sess *serialmon.Session
	gen  int
	job  *job
	pjob *provJob
	busy string // what holds the port instead of the monitor
	// closed (under own) refuses new sessions and jobs once Close began.
	closed bool
	jobWG  sync.WaitGroup

	// decMu guards the decoder and the series parser: a pump of an old
	// session may still be decoding when the next session's pump starts.
	decMu   sync.Mutex
	dec     *decode.Decoder
	series  decode.SeriesParser
	symbols *decode.Symbols
	elf     string
	chip    string
}

// New returns a device for spec; nothing is opened until a command runs.
func New(ctx context.Context, spec Spec, cfg Config) *Device {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	d := &Device{spec: spec, cfg: cfg, ctx: ctx, cancel: cancel}
	d.dec = decode.NewDecoder(decode.Options{})
	return d
}

// Spec is how the board is reached.
func (d *Device) Spec() Spec { return d.spec }

// Busy says what holds the port when the monitor does not ("flashing",
// "identifying"), "" otherwise.
func (d *Device) Busy() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy
}

func (d *Device) open(ctx context.Context, baud int) (flasher.Port, error) {
	if d.spec.Open != nil {
		return d.spec.Open(ctx, baud)
	}
	return serialmon.Open(ctx, d.spec.Port, baud)
}

// ErrBusy is returned for a command that needs the port while a job holds it.
var ErrBusy = errors.New("the board is busy")

// MonitorStarted: a monitor session opened the port (Err == nil) or could
// not. Gen identifies the session in later SerialBatch messages.
type MonitorStarted struct {
	Gen      int
	Err      error
	ResetErr error // the reset asked for failed (the monitor still runs)
}

// SerialBatch is what the monitor read since the last batch.
type SerialBatch struct {
	Gen   int
	Lines []Line
	// Ended: the session is over (stopped for a job, or closed); no more
	// batches come for this Gen.
	Ended bool
}

// Line is one session item with what the decoders made of it.
type Line struct {
	serialmon.Item
	Events  []decode.Event
	Samples []decode.Sample
}

// StartMonitor opens a monitor session (unless one runs); reset restarts
// the board so its boot log is read from the ROM banner on.
func (d *Device) StartMonitor(reset bool) tea.Cmd { return d.startMonitor(reset, true) }

// ResumeMonitor opens a monitor session on a board that is running its
// application (after a provisioning run watched it boot): no reset, and
// no boot-rate phase, which would read the application's first lines at
// the ROM's rate and show them garbled.
func (d *Device) ResumeMonitor() tea.Cmd { return d.startMonitor(false, false) }

func (d *Device) startMonitor(reset, boot bool) tea.Cmd {
	return func() tea.Msg {
		d.own.Lock()
		defer d.own.Unlock()
		if d.closed {
			return MonitorStarted{Err: context.Canceled}
		}
		d.mu.Lock()
		if d.busy != "" {
			busy := d.busy
			d.mu.Unlock()
			return MonitorStarted{Err: fmt.Errorf("%w: %s", ErrBusy, busy)}
		}
		if s := d.sess; s != nil {
			gen := d.gen
			d.mu.Unlock()
			return MonitorStarted{Gen: gen, ResetErr: d.maybeReset(s, reset)}
		}
		d.mu.Unlock()
		bootBaud := d.cfg.BootBaud
		if !boot || !d.bootsAt74880() {
			bootBaud = 0
		}
		o := serialmon.SessionOptions{
			Port: d.spec.Port, Baud: d.cfg.Baud, BootBaud: bootBaud,
			IdleFlush: d.cfg.IdleFlush, ReconnectPoll: d.cfg.ReconnectPoll,
			ListPorts: d.spec.ListPorts,
		}
		if d.spec.Open != nil {
			o.OpenPort = func(ctx context.Context, _ string, baud int) (flasher.Port, error) { return d.spec.Open(ctx, baud) }
			if o.ListPorts == nil {
				o.ListPorts = func() ([]serialmon.PortInfo, error) { return nil, nil }
			}
		}
		s, err := serialmon.StartSession(d.ctx, o)
		if err != nil {
			return MonitorStarted{Err: err}
		}
		d.mu.Lock()
		d.gen++
		gen := d.gen
		d.sess = s
		d.mu.Unlock()
		return MonitorStarted{Gen: gen, ResetErr: d.maybeReset(s, reset)}
	}
}

func (d *Device) maybeReset(s *serialmon.Session, reset bool) error {
	if !reset {
		return nil
	}
	return s.Reset()
}

// stopMonitor closes the session, releasing the port. Its pump sees the
// end and reports Ended.
func (d *Device) stopMonitor() {
	d.mu.Lock()
	s := d.sess
	d.sess = nil
	d.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// ReadSerial waits for the next batch of the session gen. It returns nil
// when that session is no longer the current one.
func (d *Device) ReadSerial(gen int) tea.Cmd {
	d.mu.Lock()
	s := d.sess
	cur := d.gen
	d.mu.Unlock()
	if s == nil || gen != cur {
		return nil
	}
	return func() tea.Msg {
		items := s.Items()
		it, ok := <-items
		if !ok {
			return SerialBatch{Gen: gen, Ended: true, Lines: d.flushDecoder()}
		}
		batch := []serialmon.Item{it}
		ended := false
		window := time.NewTimer(d.cfg.Coalesce)
		defer window.Stop()
	drain:
		for len(batch) < d.cfg.MaxBatch {
			select {
			case it, ok := <-items:
				if !ok {
					ended = true
					break drain
				}
				batch = append(batch, it)
			case <-window.C:
				break drain
			}
		}
		lines := d.decodeItems(batch)
		if ended {
			lines = append(lines, d.flushDecoder()...)
		}
		return SerialBatch{Gen: gen, Lines: lines, Ended: ended}
	}
}

func (d *Device) decodeItems(items []serialmon.Item) []Line {
	d.decMu.Lock()
	defer d.decMu.Unlock()
	out := make([]Line, len(items))
	for i, it := range items {
		out[i].Item = it
		if it.Kind != serialmon.ItemLine {
			continue
		}
		out[i].Events = d.dec.Line(it.Text, it.Time)
		out[i].Samples = d.series.Line(it.Text)
	}
	return out
}

// flushDecoder reports a crash report or loader trace cut off by the end
// of the session, as an event on an empty status line.
func (d *Device) flushDecoder() []Line {
	d.decMu.Lock()
	evs := d.dec.Flush()
	d.decMu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	return []Line{{Item: serialmon.Item{Kind: serialmon.ItemStatus, Time: evs[0].At, Text: "monitor stopped: a report was cut short"}, Events: evs}}
}

// newDecoder starts decoding afresh for chip with the loaded symbols.
func (d *Device) newDecoderLocked() {
	d.dec = decode.NewDecoder(decode.Options{Chip: d.chip, Symbols: d.symbols})
}

// setChip tells the decoders the chip family (it picks the ESP32 reset
// cause numbering and code-address ranges).
func (d *Device) setChip(chip string) {
	d.decMu.Lock()
	defer d.decMu.Unlock()
	if chip != d.chip {
		d.chip = chip
		d.newDecoderLocked()
	}
}

// bootsAt74880 reports whether the ROM's output after a reset comes at
// the ESP8266's 74880 baud (device-side.md §1.1): yes while the chip is
// unknown; the ESP32-family ROMs print at 115200, the application's rate.
func (d *Device) bootsAt74880() bool {
	d.decMu.Lock()
	defer d.decMu.Unlock()
	return d.chip == "" || image.IsESP8266(d.chip)
}

// SymbolsLoaded reports an ELF loaded for crash decoding.
type SymbolsLoaded struct {
	Path string
	Err  error
}

// LoadELF reads an application ELF; crash addresses decoded from then on
// resolve to function and file:line.
func (d *Device) LoadELF(path string) tea.Cmd {
	return func() tea.Msg {
		sym, err := decode.LoadELF(path)
		if err != nil {
			return SymbolsLoaded{Path: path, Err: err}
		}
		d.decMu.Lock()
		d.symbols, d.elf = sym, path
		d.newDecoderLocked()
		d.decMu.Unlock()
		return SymbolsLoaded{Path: path}
	}
}

// ELF is the path of the ELF in use, "" for none.
func (d *Device) ELF() string {
	d.decMu.Lock()
	defer d.decMu.Unlock()
	return d.elf
}

// ActionDone reports a monitor action (send, reset, baud change).
type ActionDone struct {
	What string
	Err  error
}

func (d *Device) withSession(what string, f func(*serialmon.Session) error) tea.Cmd {
	return func() tea.Msg {
		d.mu.Lock()
		s, busy := d.sess, d.busy
		d.mu.Unlock()
		switch {
		case busy != "":
			return ActionDone{What: what, Err: fmt.Errorf("%w: %s", ErrBusy, busy)}
		case s == nil:
			return ActionDone{What: what, Err: errors.New("the monitor is not running")}
		}
		return ActionDone{What: what, Err: f(s)}
	}
}

// Send writes text to the board.
func (d *Device) Send(text string) tea.Cmd {
	return d.withSession("send", func(s *serialmon.Session) error { return s.Send([]byte(text)) })
}

// Reset restarts the board into its application.
func (d *Device) Reset() tea.Cmd {
	return d.withSession("reset", (*serialmon.Session).Reset)
}

// Bootloader restarts the board into its ROM loader.
func (d *Device) Bootloader() tea.Cmd {
	return d.withSession("bootloader", (*serialmon.Session).ResetToBootloader)
}

// SetBaud switches the monitor's rate.
func (d *Device) SetBaud(baud int) tea.Cmd {
	return d.withSession(fmt.Sprintf("baud %d", baud), func(s *serialmon.Session) error { return s.SetBaud(baud) })
}

// Identified reports what the ROM loader said about the board.
type Identified struct {
	Facts Facts
	Err   error
}

// Identify stops the monitor, asks the ROM loader for chip, MAC and flash
// size, and releases the port; the caller restarts the monitor (with a
// reset, which brings the board out of the loader).
func (d *Device) Identify() tea.Cmd {
	return func() tea.Msg {
		if err := d.take("identifying"); err != nil {
			return Identified{Err: err}
		}
		defer d.release()
		port, err := d.open(d.ctx, flasher.ROMBaud)
		if err != nil {
			return Identified{Err: err}
		}
		defer port.Close()
		l, info, err := flasher.Open(d.ctx, port, flasher.SessionOptions{
			ConnectOptions: flasher.ConnectOptions{PortName: d.spec.Port, TimeoutScale: d.spec.TimeoutScale},
			NoStub:         true,
		})
		if err != nil {
			return Identified{Err: err}
		}
		f := factsOf(info)
		if size, err := l.FlashSize(); err == nil {
			f.FlashSize = size
		}
		d.setChip(f.Chip)
		return Identified{Facts: f}
	}
}

func factsOf(info *flasher.ChipInfo) Facts {
	return Facts{Chip: info.Chip.Name, Description: info.Description, MAC: target.FormatMAC(info.MAC),
		Features: info.Features, CrystalMHz: info.CrystalMHz}
}

// take gives the port to a job: the monitor stops first.
func (d *Device) take(what string) error {
	d.own.Lock()
	defer d.own.Unlock()
	if d.closed {
		return context.Canceled
	}
	d.mu.Lock()
	if d.busy != "" {
		busy := d.busy
		d.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrBusy, busy)
	}
	d.busy = what
	d.mu.Unlock()
	d.jobWG.Add(1)
	d.stopMonitor()
	return nil
}

func (d *Device) release() {
	d.mu.Lock()
	d.busy = ""
	d.mu.Unlock()
	d.jobWG.Done()
}

// Cancel stops a running job (a flash, a provisioning run); the job
// reports its end (FlashDone, ProvisionDone) with Canceled set once the
// port is released.
func (d *Device) Cancel() {
	d.mu.Lock()
	j, pj := d.job, d.pjob
	d.mu.Unlock()
	if j != nil {
		j.cancel()
	}
	if pj != nil {
		pj.cancel()
	}
}

// Close ends everything: the job (cancelled) and the monitor session.
func (d *Device) Close() {
	d.cancel()
	d.own.Lock()
	d.closed = true
	d.own.Unlock()
	d.jobWG.Wait()
	d.stopMonitor()
}

// IsBusy reports an error that only says another job holds the port.
func IsBusy(err error) bool { return errors.Is(err, ErrBusy) }

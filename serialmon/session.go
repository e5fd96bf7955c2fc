package serialmon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

// ItemKind says what a session Item carries.
type ItemKind int

const (
	// ItemLine is a complete line, without its "\n" or "\r\n".
	ItemLine ItemKind = iota
	// ItemPartial is text with no newline yet, shown after the line has
	// been idle (a prompt, a progress dot). The same bytes arrive again in
	// the ItemLine that completes the line; PartialLen in that item says how
	// many were already shown.
	ItemPartial
	// ItemStatus is the session talking: connected, port gone, reconnected,
	// baud switched, paused.
	ItemStatus
)

// Item is one thing a monitor shows.
type Item struct {
	Kind ItemKind
	// Time is the host time the item's first byte arrived.
	Time time.Time
	// Text is the line (or status message). Bytes that are not valid
	// UTF-8 are kept as they are: showing them is the renderer's job.
	Text string
	// Raw is exactly what was received for this item (with line ending).
	Raw []byte
	// PartialLen: for an ItemLine, how many leading bytes an earlier
	// ItemPartial already showed.
	PartialLen int
	// Baud the bytes were read at.
	Baud int
}

// SessionOptions configure a monitor session.
type SessionOptions struct {
	// Port is a device path or an rfc2217:// URL.
	Port string
	// Baud is the application's rate (default 115200).
	Baud int
	// BootBaud is the rate the boot ROM prints at: 74880 for an ESP8266
	// with a 26 MHz crystal (device-side.md §1.1). On a reset the session
	// reads the ROM banner and loader output at this rate, then switches to
	// Baud. 0 disables the switching.
	BootBaud int
	// IdleFlush is how long an unfinished line waits before it is shown
	// as an ItemPartial (default 100 ms).
	IdleFlush time.Duration
	// ReconnectPoll is how often a vanished port is looked for (default
	// 100 ms, so a replugged board is back within a second).
	ReconnectPoll time.Duration
	// RawLog receives every byte exactly as read.
	RawLog io.Writer
	// OpenPort and ListPorts default to Open and ListPorts; tests replace
	// them.
	OpenPort  func(ctx context.Context, spec string, baud int) (flasher.Port, error)
	ListPorts func() ([]PortInfo, error)
}

// Session reads a serial port in the background and turns the bytes into
// timestamped lines, keeping the port (and the board behind it) across
// unplugs. Its read loop never waits for the consumer: items queue up
// without bound until read.
type Session struct {
	o      SessionOptions
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	port    flasher.Port
	path    string // what is open now (a reconnect may find the board elsewhere)
	serial  string // USB serial number, if the port has one
	baud    int    // rate the port is set to now
	paused  bool
	held    []Item // items that arrived while paused
	heldLen int
	boot    *bootWatch

	line       []byte
	lineStart  time.Time
	partialLen int
	lastByte   time.Time

	qmu    sync.Mutex
	queue  []Item
	notify chan struct{}
	out    chan Item
}

// maxHeld bounds what a paused session keeps for when it resumes.
const maxHeld = 1 << 20

// StartSession opens the port and starts reading.
func StartSession(ctx context.Context, o SessionOptions) (*Session, error) {
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if o.Baud < 0 || o.BootBaud < 0 {
		return nil, fmt.Errorf("invalid baud rate %d: use a positive rate such as 115200", o.Baud)
	}
	if o.IdleFlush <= 0 {
		o.IdleFlush = 100 * time.Millisecond
	}
	if o.ReconnectPoll <= 0 {
		o.ReconnectPoll = 100 * time.Millisecond
	}
	if o.OpenPort == nil {
		o.OpenPort = Open
	}
	if o.ListPorts == nil {
		o.ListPorts = ListPorts
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Session{o: o, ctx: ctx, cancel: cancel, done: make(chan struct{}), path: o.Port,
		notify: make(chan struct{}, 1), out: make(chan Item, 256)}
	if err := s.open(o.Port); err != nil {
		cancel()
		return nil, err
	}
	s.serial = s.serialOf(o.Port)
	s.status("connected to %s at %d baud", o.Port, s.baud)
	go s.readLoop()
	go s.deliver()
	return s, nil
}

// Items delivers what the monitor shows, in order; it is closed when the
// session ends.
func (s *Session) Items() <-chan Item { return s.out }

// serialOf finds the USB serial number of a local port, so that a board
// that comes back under another name is still recognised.
func (s *Session) serialOf(spec string) string {
	ports, err := s.o.ListPorts()
	if err != nil {
		return ""
	}
	want := resolvePath(spec)
	for _, p := range ports {
		if resolvePath(p.Path) == want {
			return p.SerialNumber
		}
	}
	return ""
}

func (s *Session) enqueue(it Item) {
	s.mu.Lock()
	if s.paused && it.Kind != ItemStatus {
		if s.heldLen < maxHeld {
			s.held = append(s.held, it)
			s.heldLen += len(it.Raw)
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.push(it)
}

func (s *Session) push(it Item) {
	s.qmu.Lock()
	s.queue = append(s.queue, it)
	s.qmu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// deliver moves queued items to the consumer without ever blocking the
// read loop.
func (s *Session) deliver() {
	defer close(s.out)
	for {
		if it, ok := s.pop(); ok {
			select {
			case s.out <- it:
				continue
			case <-s.done:
				s.unpop(it)
			}
		} else {
			select {
			case <-s.notify:
				continue
			case <-s.done:
			}
		}
		// The session ended: hand over what is left to a consumer that is
		// still reading, then stop.
		for {
			it, ok := s.pop()
			if !ok {
				return
			}
			select {
			case s.out <- it:
			case <-time.After(100 * time.Millisecond):
				return
			}
		}
	}
}

func (s *Session) pop() (Item, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(s.queue) == 0 {
		return Item{}, false
	}
	it := s.queue[0]
	s.queue = s.queue[1:]
	return it, true
}

func (s *Session) unpop(it Item) {
	s.qmu.Lock()
	s.queue = append([]Item{it}, s.queue...)
	s.qmu.Unlock()
}

func (s *Session) status(format string, args ...any) {
	s.mu.Lock()
	baud := s.baud
	s.mu.Unlock()
	s.push(Item{Kind: ItemStatus, Time: time.Now(), Text: fmt.Sprintf(format, args...), Baud: baud})
}

func (s *Session) readLoop() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for s.ctx.Err() == nil {
		s.mu.Lock()
		p := s.port
		baud := s.baud
		watching := s.boot != nil
		s.mu.Unlock()
		if p == nil {
			s.reconnect()
			continue
		}
		timeout := min(s.o.IdleFlush/2, 50*time.Millisecond)
		if watching {
			// Switch to the application's rate promptly when the ROM is done.
			timeout = 2 * time.Millisecond
		}
		p.SetReadTimeout(timeout)
		n, err := p.Read(buf)
		now := time.Now()
		if n > 0 {
			if s.o.RawLog != nil {
				s.o.RawLog.Write(buf[:n])
			}
			s.feed(buf[:n], now, baud)
		} else {
			s.idle(now)
		}
		s.checkBoot(now)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.flushPartialLine(now)
			s.mu.Lock()
			s.port = nil
			s.mu.Unlock()
			p.Close()
			s.status("port %s went away (%v): waiting for the board to come back", s.path, err)
		}
	}
}

// open opens a port. Opening a USB serial port usually resets the board
// (the driver raises DTR/RTS), plugging it in powers it up, and a virtual
// board's pty resets on open: so with a BootBaud the port starts at the
// ROM's rate and switches to the application's when the ROM output is over
// (or when none comes).
func (s *Session) open(spec string) error {
	baud := s.o.Baud
	var w *bootWatch
	if s.o.BootBaud > 0 && s.o.BootBaud != s.o.Baud {
		baud = s.o.BootBaud
		now := time.Now()
		w = &bootWatch{deadline: now.Add(3 * time.Second), quietUntil: now.Add(300 * time.Millisecond)}
	}
	p, err := s.o.OpenPort(s.ctx, spec, baud)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.port, s.path, s.baud, s.boot = p, spec, baud, w
	s.mu.Unlock()
	return nil
}

// reconnect waits for the same board: by USB serial number when the port
// had one (it may come back under another name), else by path.
func (s *Session) reconnect() {
	t := time.NewTicker(s.o.ReconnectPoll)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		candidates := []string{s.path}
		if s.serial != "" {
			if ports, err := s.o.ListPorts(); err == nil {
				candidates = nil
				for _, p := range ports {
					if p.SerialNumber == s.serial {
						candidates = append(candidates, p.Path)
					}
				}
			}
		}
		for _, c := range candidates {
			if err := s.open(c); err != nil {
				continue
			}
			s.status("reconnected to %s", c)
			return
		}
	}
}

// feed splits bytes into lines.
func (s *Session) feed(p []byte, now time.Time, baud int) {
	s.lastByte = now
	for len(p) > 0 {
		if len(s.line) == 0 {
			s.lineStart = now
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line = append(s.line, p...)
			if len(s.line) > 64<<10 {
				// A "line" this long is binary or a stuck stream: show it.
				s.emitLine(now, baud, false)
			}
			return
		}
		s.line = append(s.line, p[:i+1]...)
		p = p[i+1:]
		s.emitLine(now, baud, true)
	}
}

func (s *Session) emitLine(now time.Time, baud int, complete bool) {
	raw := append([]byte(nil), s.line...)
	text := bytes.TrimSuffix(raw, []byte("\n"))
	text = bytes.TrimSuffix(text, []byte("\r"))
	it := Item{Kind: ItemLine, Time: s.lineStart, Text: string(text), Raw: raw, PartialLen: s.partialLen, Baud: baud}
	s.line = s.line[:0]
	s.partialLen = 0
	s.mu.Lock()
	s.boot.sawLine(it.Text, now)
	s.mu.Unlock()
	s.enqueue(it)
}

// idle shows an unfinished line once the line has been quiet a while.
func (s *Session) idle(now time.Time) {
	if len(s.line) > s.partialLen && now.Sub(s.lastByte) >= s.o.IdleFlush {
		s.mu.Lock()
		baud := s.baud
		s.mu.Unlock()
		s.enqueue(Item{Kind: ItemPartial, Time: s.lineStart, Text: string(s.line), Raw: append([]byte(nil), s.line[s.partialLen:]...), Baud: baud})
		s.partialLen = len(s.line)
	}
}

func (s *Session) flushPartialLine(now time.Time) {
	if len(s.line) > 0 {
		s.mu.Lock()
		baud := s.baud
		s.mu.Unlock()
		s.emitLine(now, baud, false)
	}
}

// Send writes to the board.
func (s *Session) Send(p []byte) error {
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	if port == nil {
		return errors.New("the port is gone: waiting for the board to come back")
	}
	_, err := port.Write(p)
	return err
}

// SetPaused stops (true) or resumes showing lines; reading and logging go
// on, and what arrived meanwhile (up to 1 MiB) is shown on resume.
func (s *Session) SetPaused(on bool) {
	s.mu.Lock()
	was := s.paused
	s.paused = on
	held := s.held
	if !on {
		s.held, s.heldLen = nil, 0
	}
	s.mu.Unlock()
	if on && !was {
		s.status("paused (the board is still being read)")
	}
	if !on && was {
		s.status("resumed")
		for _, it := range held {
			s.push(it)
		}
	}
}

// SetBaud switches the port's rate (and the application rate the session
// returns to after a reset).
func (s *Session) SetBaud(baud int) error {
	if baud <= 0 {
		return fmt.Errorf("invalid baud rate %d", baud)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Baud = baud
	s.baud = baud
	if s.port != nil {
		if err := s.port.SetBaudRate(baud); err != nil {
			return err
		}
	}
	go s.status("baud set to %d", baud)
	return nil
}

// Reset restarts the board into its application (EN pulse). With a
// BootBaud set, the ROM's banner and loader trace are read at that rate
// and the session switches to the application rate when the ROM output
// ends.
func (s *Session) Reset() error {
	return s.reset(false)
}

// ResetToBootloader restarts the board into its ROM loader (GPIO0 held low
// through the reset).
func (s *Session) ResetToBootloader() error {
	return s.reset(true)
}

func (s *Session) reset(loader bool) error {
	s.mu.Lock()
	port := s.port
	appBaud := s.o.Baud // SetBaud may change it
	s.mu.Unlock()
	if port == nil {
		return errors.New("the port is gone: waiting for the board to come back")
	}
	if s.o.BootBaud > 0 && s.o.BootBaud != appBaud {
		s.mu.Lock()
		s.baud = s.o.BootBaud
		err := port.SetBaudRate(s.o.BootBaud)
		now := time.Now()
		s.boot = &bootWatch{deadline: now.Add(3 * time.Second), quietUntil: now.Add(300 * time.Millisecond), loader: loader}
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	var err error
	if loader {
		err = flasher.ResetIntoBootloader(port)
	} else {
		err = flasher.HardReset(port)
	}
	if errors.Is(err, flasher.ErrNoModemLines) {
		return fmt.Errorf("%s has no DTR/RTS lines: press the board's RESET button (hold BOOT too for the bootloader)", s.path)
	}
	if err == nil {
		what := "application"
		if loader {
			what = "ROM bootloader"
		}
		s.status("reset into the %s", what)
	}
	return err
}

// bootWatch follows the ROM output after a reset to know when to switch
// to the application's rate: the ROM trace ends with "csum 0xNN", the
// Arduino second-stage loader then prints "vNNNNNNNN" and "~ld" / "@cp:0"
// + "ld" (device-side.md §1.5, §1.6); anything that is not ROM output, or
// a quiet line, also ends it.
type bootWatch struct {
	deadline   time.Time
	quietUntil time.Time // no ROM line by then: there was no reset
	loader     bool
	endAt      time.Time // when to switch (a short quiet time after the end marker)
	sawCsum    bool
	sawAny     bool
	lastLine   time.Time
}

var (
	ebootVer = regexp.MustCompile(`^v[0-9a-f]{8}$`)
	ebootLd  = regexp.MustCompile(`^[~@]?(cp:B?-?\d+)?ld$`)
	romCsum  = regexp.MustCompile(`^csum 0x[0-9a-f]{2}$`)
)

func (w *bootWatch) sawLine(line string, now time.Time) {
	if w == nil {
		return
	}
	w.sawAny = true
	w.lastLine = now
	switch {
	case ebootLd.MatchString(line):
		w.endAt = now
	case romCsum.MatchString(line):
		w.sawCsum = true
		w.endAt = now.Add(10 * time.Millisecond) // eboot's version line follows at once if there is one
	case ebootVer.MatchString(line) && w.sawCsum:
		w.endAt = time.Time{} // wait for "ld"
	}
}

// checkBoot switches to the application rate once the ROM output is over.
func (s *Session) checkBoot(now time.Time) {
	s.mu.Lock()
	w := s.boot
	if w == nil {
		s.mu.Unlock()
		return
	}
	// The ROM loader prints only its banner; without any ROM line there
	// was no reset to follow.
	switchNow := (w.loader || !w.sawAny) && now.After(w.quietUntil)
	// A banner with nothing after it (no image in flash, a loader
	// waiting): quiet for a while means the ROM is done.
	if w.sawAny && w.endAt.IsZero() && now.Sub(w.lastLine) > 300*time.Millisecond {
		switchNow = true
	}
	if !w.endAt.IsZero() && !now.Before(w.endAt) {
		switchNow = true
	}
	if now.After(w.deadline) {
		switchNow = true
	}
	if !switchNow {
		s.mu.Unlock()
		return
	}
	// Switch under the lock: a reset() at this moment sets the boot rate,
	// and must not have it overwritten by this switch.
	s.boot = nil
	s.baud = s.o.Baud
	baud := s.o.Baud
	if s.port != nil {
		s.port.SetBaudRate(baud)
	}
	s.mu.Unlock()
	s.status("ROM output over: reading the application at %d baud", baud)
}

// Close ends the session and closes the port.
func (s *Session) Close() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	p := s.port
	s.port = nil
	s.mu.Unlock()
	if p != nil {
		return p.Close()
	}
	return nil
}

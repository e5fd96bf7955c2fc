package virtualboard

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// A UART frame is 10 bits (start, 8 data, stop) at 8N1, so a byte takes
// 10/baud seconds on the wire (esp-serial-protocol.md §1).
func byteTime(baud int) time.Duration {
	if baud <= 0 {
		baud = 115200
	}
	return time.Duration(10 * int64(time.Second) / int64(baud))
}

// baudsMatch: a UART receiver samples mid-bit and still frames correctly
// when the two clocks differ by a few percent; beyond that it reads junk.
// 3% is within the usual ±(3–5)% tolerance of 8N1 framing.
func baudsMatch(a, b int) bool {
	if a <= 0 || b <= 0 {
		return false
	}
	d := float64(a-b) / float64(b)
	return d > -0.03 && d < 0.03
}

// garble stands for what a receiver at the wrong baud rate decodes: wrong
// bits and framing errors. Real junk depends on the bit pattern; a fixed
// scramble keeps tests deterministic while never passing data through.
func garble(b byte) byte { return (b*167 + 13) ^ 0x5A }

// Noise corrupts or drops bytes on a line (fault injection).
type Noise struct {
	DropRate    float64 // probability a byte is lost
	CorruptRate float64 // probability a byte is replaced by another value
	Seed        uint64
}

type noiser struct {
	mu  sync.Mutex
	cfg Noise
	rng *rand.Rand
	// counters for tests and reports
	dropped, corrupted int
}

func (n *noiser) set(cfg Noise) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg = cfg
	n.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15))
}

func (n *noiser) apply(p []byte) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rng == nil || (n.cfg.DropRate <= 0 && n.cfg.CorruptRate <= 0) {
		return p
	}
	out := make([]byte, 0, len(p))
	for _, b := range p {
		r := n.rng.Float64()
		switch {
		case r < n.cfg.DropRate:
			n.dropped++
			continue
		case r < n.cfg.DropRate+n.cfg.CorruptRate:
			b ^= byte(1 + n.rng.IntN(255))
			n.corrupted++
		}
		out = append(out, b)
	}
	return out
}

// line carries bytes one way with UART timing: a byte written at baud B
// becomes readable when its stop bit has been sent, 10/B after the
// previous one, and the transmitter is busy until its last byte is out.
type line struct {
	clk   *Clock
	noise *noiser
	// fixedBaud, when set, replaces both ends' rates: a USB CDC-ACM link
	// moves bytes at the bus's pace whatever line coding the host set,
	// and nothing is ever sent "at the wrong baud".
	fixedBaud int

	mu     sync.Mutex
	chunks []*chunk
	free   time.Duration // virtual time the transmitter goes idle
	wake   chan struct{} // closed when bytes are added or the line purged
	closed bool
}

type chunk struct {
	data  []byte
	start time.Duration // virtual time the first byte starts
	bt    time.Duration // per-byte time
	baud  int
	taken int
}

func (c *chunk) readyAt(i int) time.Duration { return c.start + time.Duration(i+1)*c.bt }
func (c *chunk) end() time.Duration          { return c.readyAt(len(c.data) - 1) }

func newLine(clk *Clock) *line {
	return &line{clk: clk, noise: &noiser{}, wake: make(chan struct{})}
}

func (l *line) signal() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// send queues p as transmitted at baud. It returns at once, like a UART
// FIFO backed by a driver buffer; the bytes arrive over time.
func (l *line) send(p []byte, baud int) {
	p = l.noise.apply(p)
	if len(p) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.fixedBaud > 0 {
		baud = l.fixedBaud
	}
	now := l.clk.Now()
	start := max(now, l.free)
	c := &chunk{data: append([]byte(nil), p...), start: start, bt: byteTime(baud), baud: baud}
	l.chunks = append(l.chunks, c)
	l.free = c.end()
	l.signal()
}

// busyUntil is when the transmitter finishes what is queued.
func (l *line) busyUntil() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.free
}

// rxState is the receiving UART: its baud and, for the ESP8266 ROM loader,
// whether it auto-detects the baud from a SYNC's run of 0x55 bytes.
type rxState struct {
	baud     func() int
	autobaud func(newBaud int) bool // nil = no autobaud
}

// recv waits up to timeout (real time; < 0 = forever) for at least one
// readable byte, then returns every byte readable by then (up to len(p)).
// Bytes sent at a baud the receiver is not set to arrive garbled.
func (l *line) recv(ctx context.Context, p []byte, rx rxState, timeout time.Duration) (int, error) {
	var deadline <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	// Batch wake-ups: once a byte is due, wait a little longer (1 ms of
	// real time) or to the end of its chunk, so a long packet is not
	// delivered one timer tick per byte.
	batch := l.clk.Virtual(time.Millisecond)
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return 0, errClosed
		}
		now := l.clk.Now()
		n := l.take(p, now, rx)
		if n > 0 {
			l.mu.Unlock()
			return n, nil
		}
		var wait time.Duration = -1
		if c := l.first(); c != nil {
			due := c.readyAt(c.taken)
			target := min(c.end(), max(due, now)+batch)
			wait = l.clk.Real(target - now)
			if wait < 0 {
				wait = 0
			}
		}
		wake := l.wake
		l.mu.Unlock()
		if err := waitPrecise(ctx, wait, wake, deadline); err != nil {
			if err == errDeadline {
				return 0, nil
			}
			return 0, err
		}
	}
}

var errDeadline = errors.New("deadline")

// waitPrecise waits d (forever if d < 0) unless wake is closed, the
// deadline fires or ctx ends. Go's timers fire up to a millisecond late
// once the network poller is in use, which would add a millisecond to
// every byte time the UART model waits for; so the last stretch of a wait
// is spun with Gosched instead of slept.
func waitPrecise(ctx context.Context, d time.Duration, wake <-chan struct{}, deadline <-chan time.Time) error {
	const spin = 1500 * time.Microsecond
	end := time.Now().Add(d)
	if d < 0 || d > spin {
		var tc <-chan time.Time
		if d >= 0 {
			t := time.NewTimer(d - spin)
			defer t.Stop()
			tc = t.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errDeadline
		case <-wake:
			return nil
		case <-tc:
		}
	}
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errDeadline
		case <-wake:
			return nil
		default:
			runtime.Gosched()
		}
	}
	return nil
}

func (l *line) first() *chunk {
	for len(l.chunks) > 0 && l.chunks[0].taken >= len(l.chunks[0].data) {
		l.chunks = l.chunks[1:]
	}
	if len(l.chunks) == 0 {
		return nil
	}
	return l.chunks[0]
}

// take moves ready bytes into p; caller holds l.mu.
func (l *line) take(p []byte, now time.Duration, rx rxState) int {
	n := 0
	for n < len(p) {
		c := l.first()
		if c == nil || c.readyAt(c.taken) > now {
			break
		}
		rxBaud := rx.baud()
		if l.fixedBaud > 0 {
			rxBaud = c.baud
		}
		if !baudsMatch(c.baud, rxBaud) && rx.autobaud != nil {
			// The ESP8266 ROM measures the host's bit time on the 0x55
			// run of a SYNC and reprograms its divider; the bytes it
			// measured on are consumed by the detection (§6.3, §6.5).
			if i := run55(c.data[c.taken:]); i >= 0 && rx.autobaud(c.baud) {
				c.taken += i
				continue
			}
		}
		match := baudsMatch(c.baud, rxBaud)
		for n < len(p) && c.taken < len(c.data) && c.readyAt(c.taken) <= now {
			b := c.data[c.taken]
			if !match {
				b = garble(b)
			}
			p[n] = b
			n++
			c.taken++
		}
	}
	return n
}

// run55 finds a run of at least 8 bytes of 0x55 (alternating bits, what
// an autobaud detector locks onto) and returns the index just past it.
func run55(b []byte) int {
	run := 0
	for i, x := range b {
		if x == 0x55 {
			run++
			if run >= 8 {
				j := i + 1
				for j < len(b) && b[j] == 0x55 {
					j++
				}
				return j
			}
		} else {
			run = 0
		}
	}
	return -1
}

// purge discards bytes that have already arrived (a receive-buffer
// flush); bytes still on the wire keep coming.
func (l *line) purge() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	for _, c := range l.chunks {
		for c.taken < len(c.data) && c.readyAt(c.taken) <= now {
			c.taken++
		}
	}
	l.signal()
}

// drop cuts off what the transmitter has not sent yet, as when the chip
// resets mid-transfer; bytes already on the far side stay there.
func (l *line) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	kept := l.chunks[:0]
	for _, c := range l.chunks {
		n := c.taken
		for n < len(c.data) && c.readyAt(n) <= now {
			n++
		}
		if n > c.taken {
			c.data = c.data[:n]
			kept = append(kept, c)
		}
	}
	l.chunks = kept
	l.free = min(l.free, now)
	l.signal()
}

func (l *line) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.signal()
	}
}

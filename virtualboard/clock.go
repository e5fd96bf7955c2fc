package virtualboard

import (
	"context"
	"time"
)

// Clock is the board's virtual time. Everything the hardware does takes
// virtual time (UART bits, flash erases); Speed > 1 makes it pass faster
// than real time so tests of long transfers stay quick, while the host on
// the other side of the wire keeps its real-time timeouts.
type Clock struct {
	speed  float64
	origin time.Time
}

// NewClock returns a clock running speed times faster than real time
// (speed <= 0 means 1).
func NewClock(speed float64) *Clock {
	if speed <= 0 {
		speed = 1
	}
	return &Clock{speed: speed, origin: time.Now()}
}

// Speed is the speed-up factor.
func (c *Clock) Speed() float64 { return c.speed }

// Now is the virtual time since the clock started.
func (c *Clock) Now() time.Duration {
	return time.Duration(float64(time.Since(c.origin)) * c.speed)
}

// Real converts a virtual duration to the real time it takes.
func (c *Clock) Real(v time.Duration) time.Duration {
	return time.Duration(float64(v) / c.speed)
}

// Virtual converts a real duration to virtual time.
func (c *Clock) Virtual(r time.Duration) time.Duration {
	return time.Duration(float64(r) * c.speed)
}

// Sleep waits for a virtual duration, or until ctx ends.
func (c *Clock) Sleep(ctx context.Context, v time.Duration) error {
	if v <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(c.Real(v))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SleepUntil waits until virtual time v.
func (c *Clock) SleepUntil(ctx context.Context, v time.Duration) error {
	return c.Sleep(ctx, v-c.Now())
}

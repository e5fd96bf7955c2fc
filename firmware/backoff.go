package firmware

import "time"

// Reconnect backoff of the reference firmware's state machine (device-side.md
// §6.3: TLS/MQTT connect with backoff): 2 s after the first failed attempt,
// doubling, at most 60 s. No jitter: one board per client ID, and a
// predictable retry is easier to follow in a boot log.
const (
	BackoffFirst = 2 * time.Second
	BackoffMax   = 60 * time.Second
)

// Backoff is the wait after the attempt-th consecutive failure (1-based;
// 0 counts as 1).
func Backoff(attempt int) time.Duration {
	d := BackoffFirst
	for i := 1; i < attempt && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

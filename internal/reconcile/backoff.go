package reconcile

import (
	"context"
	"time"
)

// Backoff is a capped exponential delay for retrying after failures. The
// first call of Next after construction or Reset returns Min; each later call
// doubles the previous delay, capped at Max. A Max below Min caps every delay
// after the first at Max. The zero value returns zero delays; a Backoff is not
// safe for concurrent use.
type Backoff struct {
	// Min is the first delay of a failure streak.
	Min time.Duration
	// Max caps the delays after the first.
	Max time.Duration

	cur time.Duration
}

// Next returns the delay to wait before the next attempt and advances the
// streak.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else if b.cur > b.Max/2 { // 2*cur > Max, and 2*cur might overflow
		b.cur = b.Max
	} else {
		b.cur *= 2
	}
	return b.cur
}

// Reset ends a failure streak: the next call of Next returns Min again.
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits d or until ctx is done, whichever comes first, and reports
// whether ctx is still live (false means the caller should stop).
func Sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

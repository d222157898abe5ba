package reconcile

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential delay with jitter for retrying after
// failures. Each failure streak starts at Min and doubles per attempt up to
// Max (a Max below Min caps every delay after the first at Max); Next returns
// a random delay between half that step and the step itself, so that many
// agents failing at once (a server restart) do not retry in lockstep. The
// zero value returns zero delays; a Backoff is not safe for concurrent use.
type Backoff struct {
	// Min is the first step of a failure streak.
	Min time.Duration
	// Max caps the steps after the first.
	Max time.Duration

	cur time.Duration
	// rand returns a number in [0, 1); nil means math/rand/v2.
	rand func() float64
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
	r := rand.Float64
	if b.rand != nil {
		r = b.rand
	}
	half := b.cur / 2
	return half + time.Duration(r()*float64(b.cur-half))
}

// Jitter returns d shortened by a random part of at most frac of it
// (frac in [0, 1]): periodic work that many agents started at one moment
// (a renewal every period) drifts apart, yet never runs later than d.
func Jitter(d time.Duration, frac float64) time.Duration {
	return d - time.Duration(rand.Float64()*frac*float64(d))
}

// Reset ends a failure streak: the next call of Next starts from Min again.
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

package reconcile

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	// op "n" calls Next and records its result; op "r" calls Reset.
	tests := []struct {
		name     string
		min, max time.Duration
		ops      string
		want     []time.Duration
	}{
		{"doubles up to the cap", 100 * ms, 1000 * ms, "nnnnnnn", []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms, 1000 * ms}},
		{"reset starts from min", 10 * ms, 1000 * ms, "nnnrnn", []time.Duration{10 * ms, 20 * ms, 40 * ms, 10 * ms, 20 * ms}},
		{"reset before any next", 10 * ms, 50 * ms, "rnn", []time.Duration{10 * ms, 20 * ms}},
		{"min equals max", 30 * ms, 30 * ms, "nnn", []time.Duration{30 * ms, 30 * ms, 30 * ms}},
		{"max not a power-of-two multiple", 30 * ms, 100 * ms, "nnnn", []time.Duration{30 * ms, 60 * ms, 100 * ms, 100 * ms}},
		{"max below min caps after the first", 100 * ms, 40 * ms, "nnn", []time.Duration{100 * ms, 40 * ms, 40 * ms}},
		{"zero value", 0, 0, "nn", []time.Duration{0, 0}},
		{"max near the int64 limit does not overflow", 1 << 61, math.MaxInt64, "nnnn", []time.Duration{1 << 61, 1 << 62, math.MaxInt64, math.MaxInt64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := Backoff{Min: tc.min, Max: tc.max, rand: func() float64 { return 1 }} // the top of each step
			var got []time.Duration
			for _, op := range tc.ops {
				switch op {
				case 'n':
					got = append(got, b.Next())
				case 'r':
					b.Reset()
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Backoff{%v, %v} after %q (-want +got):\n%s", tc.min, tc.max, tc.ops, diff)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		d    time.Duration
		want bool
	}{
		{"live context, delay elapses", func(t *testing.T) context.Context { return t.Context() }, time.Millisecond, true},
		{"live context, zero delay", func(t *testing.T) context.Context { return t.Context() }, 0, true},
		{"context already done", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, time.Hour, false},
		{"context already done, zero delay", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, 0, false},
		{"context ends during the delay", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sleep(tc.ctx(t), tc.d); got != tc.want {
				t.Errorf("Sleep(ctx, %v) = %v; want %v", tc.d, got, tc.want)
			}
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	const step = 100 * time.Millisecond
	b := Backoff{Min: step, Max: step, rand: func() float64 { return 0 }}
	if got := b.Next(); got != step/2 {
		t.Errorf("Next() with rand 0 = %v; want %v", got, step/2)
	}
	// Real randomness: every delay within [step/2, step], and not all equal
	// (agents restarted together must spread out).
	b = Backoff{Min: step, Max: step}
	seen := map[time.Duration]bool{}
	for range 100 {
		d := b.Next()
		if d < step/2 || d > step {
			t.Fatalf("Next() = %v; want within [%v, %v]", d, step/2, step)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("100 delays took %d distinct values; want jitter", len(seen))
	}
}

func TestJitter(t *testing.T) {
	const d = time.Second
	for _, frac := range []float64{0, 0.1, 0.5, 1} {
		seen := map[time.Duration]bool{}
		for range 100 {
			got := Jitter(d, frac)
			if lo := d - time.Duration(frac*float64(d)); got < lo || got > d {
				t.Fatalf("Jitter(%v, %v) = %v; want within [%v, %v]", d, frac, got, lo, d)
			}
			seen[got] = true
		}
		if want := frac > 0; (len(seen) > 1) != want {
			t.Errorf("Jitter(%v, %v) took %d distinct values in 100 calls; want spread %v", d, frac, len(seen), want)
		}
	}
}

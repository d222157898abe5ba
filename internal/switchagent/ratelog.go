package switchagent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// repeatInterval is how often a repeating log line is logged at most.
const repeatInterval = 30 * time.Second

// rateLog logs lines that a loop can repeat (every reconcile pass, every
// retry cut short by a trigger): a line equal to one logged less than
// interval ago (same level, message and attributes) is dropped and counted;
// the next one logged carries the count as "suppressed". A line that
// changes is logged at once. Safe for concurrent use.
type rateLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	lines map[string]*rateLine
}

type rateLine struct {
	last       time.Time
	suppressed int
}

// rateLogMaxLines bounds the lines remembered; past it those older than
// the interval are forgotten.
const rateLogMaxLines = 1024

func newRateLog(log *slog.Logger, interval time.Duration) *rateLog {
	return &rateLog{log: log, interval: interval, now: time.Now, lines: map[string]*rateLine{}}
}

// Warn logs at warning level, rate-limited.
func (r *rateLog) Warn(msg string, args ...any) { r.logAt(slog.LevelWarn, msg, args...) }

// Info logs at info level, rate-limited.
func (r *rateLog) Info(msg string, args ...any) { r.logAt(slog.LevelInfo, msg, args...) }

func (r *rateLog) logAt(level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	if !r.log.Enabled(ctx, level) {
		return
	}
	key := fmt.Sprint(level, "\x00", msg, "\x00", args)
	now := r.now()
	r.mu.Lock()
	l := r.lines[key]
	if l != nil && now.Sub(l.last) < r.interval {
		l.suppressed++
		r.mu.Unlock()
		return
	}
	n := 0
	if l != nil {
		n = l.suppressed
	}
	if l == nil && len(r.lines) >= rateLogMaxLines {
		for k, o := range r.lines {
			if now.Sub(o.last) >= r.interval {
				delete(r.lines, k)
			}
		}
		if len(r.lines) >= rateLogMaxLines {
			clear(r.lines)
		}
	}
	r.lines[key] = &rateLine{last: now}
	r.mu.Unlock()
	if n > 0 {
		args = append(args[:len(args):len(args)], "suppressed", n)
	}
	r.log.Log(ctx, level, msg, args...)
}

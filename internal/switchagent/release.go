package switchagent

import (
	"context"
	"time"
)

// Returning memory after a bulk transaction (issue 12: server RSS after a
// 10,000-port convergence). Such a transaction ends a burst: the plan
// change was computed, fanned out, diffed and encoded, and what that
// allocated (several times the request's size: the diff's maps, the
// operations and their rows) is garbage once the request is on the wire.
// Left to the collector, the heap the burst grew into stays resident: the
// runtime's goal is twice the heap live at the burst's last collection,
// which ran mid-burst, and an idle process collects nothing more. One
// collection while the agent waits for the switch to ingest the rows
// (hundreds of milliseconds for thousands of rows, on ovsdb-server's core)
// returns it. Small transactions (churn) never ask; bursts closer together
// than releaseInterval release once, so a cold start of many switches
// costs a collection per interval, not per switch.
const (
	// releaseOps is the least number of operations of a transaction after
	// which the agent returns the process's free memory (~1 KB of garbage
	// each: 4 MB and more).
	releaseOps = 4096
	// releaseInterval is the least time between two releases.
	releaseInterval = time.Second
)

// memRelease runs free (debug.FreeOSMemory in the agent) when asked, at
// most once per interval; requests in between are dropped.
type memRelease struct {
	req      chan struct{}
	interval time.Duration
	free     func()
	done     func() // after each free (metrics, tests); may be nil
}

func newMemRelease(interval time.Duration, free, done func()) *memRelease {
	return &memRelease{req: make(chan struct{}, 1), interval: interval, free: free, done: done}
}

// request asks for a release; it never blocks.
func (r *memRelease) request() {
	select {
	case r.req <- struct{}{}:
	default:
	}
}

// run serves requests until ctx is done.
func (r *memRelease) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.req:
		}
		if !last.IsZero() && time.Since(last) < r.interval {
			continue
		}
		r.free()
		last = time.Now()
		if r.done != nil {
			r.done()
		}
	}
}

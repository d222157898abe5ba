package planfeed

import (
	"context"
	"iter"
	"sync"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
)

// Plans serves the plans of one kind (switches or hosts) from a Feed. It
// implements planstream.Source; Watch is the feed's one entry point.
type Plans[P, D any] struct {
	f *Feed
	k *kind[P, D]
}

// kind ties a plan type to the feed's state.
type kind[P, D any] struct {
	plan     func(*planner.Planner, string) P
	marks    func(*marks) map[string]int64
	watchers func(*Feed) watchers[P, D]
}

// watchers are a feed's watches of one kind by plan name: a batch of
// changes touches a few plans of thousands, and only their watches are
// visited.
type watchers[P, D any] map[string]map[*Watch[P, D]]struct{}

func (ws watchers[P, D]) add(w *Watch[P, D]) {
	m := ws[w.name]
	if m == nil {
		m = map[*Watch[P, D]]struct{}{}
		ws[w.name] = m
	}
	m[w] = struct{}{}
}

func (ws watchers[P, D]) remove(w *Watch[P, D]) {
	delete(ws[w.name], w)
	if len(ws[w.name]) == 0 {
		delete(ws, w.name)
	}
}

// all yields every watch.
func (ws watchers[P, D]) all() iter.Seq[*Watch[P, D]] {
	return func(yield func(*Watch[P, D]) bool) {
		for _, m := range ws {
			for w := range m {
				if !yield(w) {
					return
				}
			}
		}
	}
}

var (
	switchKind = &kind[planner.SwitchPlan, planner.SwitchDelta]{
		plan:     (*planner.Planner).SwitchPlan,
		marks:    func(m *marks) map[string]int64 { return m.switches },
		watchers: func(f *Feed) watchers[planner.SwitchPlan, planner.SwitchDelta] { return f.switches },
	}
	hostKind = &kind[planner.HostPlan, planner.HostDelta]{
		plan:     (*planner.Planner).HostPlan,
		marks:    func(m *marks) map[string]int64 { return m.hosts },
		watchers: func(f *Feed) watchers[planner.HostPlan, planner.HostDelta] { return f.hosts },
	}
)

// Switches returns the source of switch plans (by Physical_Switch name; a
// switch nobody plans anything on has an empty plan).
func (f *Feed) Switches() Plans[planner.SwitchPlan, planner.SwitchDelta] {
	return Plans[planner.SwitchPlan, planner.SwitchDelta]{f: f, k: switchKind}
}

// Hosts returns the source of host plans (by name, as in ports'
// binding:host_id).
func (f *Feed) Hosts() Plans[planner.HostPlan, planner.HostDelta] {
	return Plans[planner.HostPlan, planner.HostDelta]{f: f, k: hostKind}
}

var (
	_ planstream.SwitchSource = Plans[planner.SwitchPlan, planner.SwitchDelta]{}
	_ planstream.HostSource   = Plans[planner.HostPlan, planner.HostDelta]{}
)

// FeedID is the ID of the feed the plans come from (Feed.ID).
func (p Plans[P, D]) FeedID() string { return p.f.ID() }

// Watch subscribes to the named plan. It does not block: the first Next
// waits for the feed's first snapshot. A watcher that holds the plan at
// revision from gets a resumed event first when that plan is still current
// (from is not newer than the feed, and the plan has not changed after
// from, as far as the feed knows: it dates what changed before its last
// snapshot at that snapshot); otherwise, and with from 0, a snapshot.
// The watch ends when ctx is done or Close is called.
func (p Plans[P, D]) Watch(ctx context.Context, name string, from int64) (planstream.Stream[P, D], error) {
	w := &Watch[P, D]{f: p.f, k: p.k, name: name, from: from, needPlan: true, wake: make(chan struct{}, 1)}
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	p.k.watchers(f).add(w)
	w.stopCtx = context.AfterFunc(ctx, w.Close)
	return w, nil
}

// Watch is a subscription to one switch's or host's plan. Events queue
// without blocking the feed; Next takes them in order.
//
// A watch has its own lock: Next takes a queued delta without the feed's
// lock, which the feed holds while it plans. With a thousand host agents'
// streams, every one woken by a commit used to queue on the feed's lock
// behind the others and behind the next batch of changes (bench/scale's
// mutex profile). The feed's lock is taken first when both are held.
type Watch[P, D any] struct {
	f       *Feed
	k       *kind[P, D]
	name    string
	wake    chan struct{} // 1-buffered
	stopCtx func() bool

	mu       sync.Mutex
	from     int64 // the watcher's revision, for the first event only
	needPlan bool
	pending  []planner.Event[P, D]
	stopped  bool // by Close, or because the feed closed
}

// Close ends the watch: Next returns ErrClosed from now on.
func (w *Watch[P, D]) Close() {
	w.f.mu.Lock()
	w.mu.Lock()
	w.k.watchers(w.f).remove(w)
	if !w.stopped {
		w.stopped = true
		w.wakeLocked()
	}
	w.mu.Unlock()
	w.f.mu.Unlock()
	if w.stopCtx != nil {
		w.stopCtx()
	}
}

// Next returns the next event, waiting for one until ctx is done.
func (w *Watch[P, D]) Next(ctx context.Context) (planner.Event[P, D], error) {
	for {
		w.mu.Lock()
		stopped, needPlan := w.stopped, w.needPlan
		if !stopped && !needPlan && len(w.pending) > 0 {
			ev := w.pending[0]
			w.pending[0] = planner.Event[P, D]{}
			w.pending = w.pending[1:]
			w.mu.Unlock()
			return ev, nil
		}
		w.mu.Unlock()
		if stopped {
			return planner.Event[P, D]{}, ErrClosed
		}
		if needPlan {
			// The whole plan is the planner's: take the feed's lock.
			w.f.mu.Lock()
			w.mu.Lock()
			var ev planner.Event[P, D]
			ready := w.f.p != nil && w.needPlan && !w.stopped
			if ready {
				ev = w.firstLocked()
			}
			w.mu.Unlock()
			w.f.mu.Unlock()
			if ready {
				return ev, nil
			}
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return planner.Event[P, D]{}, ctx.Err()
		}
	}
}

// firstLocked returns the event that starts (or restarts) the watch: a
// resumed event when the watcher's plan at w.from is current, else the
// whole plan. The caller holds the feed's lock and w.mu.
func (w *Watch[P, D]) firstLocked() planner.Event[P, D] {
	f, from := w.f, w.from
	w.needPlan, w.pending, w.from = false, nil, 0
	if from > 0 && from <= f.rev && f.marks.get(w.k.marks(&f.marks), w.name) <= from {
		return planner.Event[P, D]{Type: planner.EventResumed, Revision: f.rev}
	}
	p := w.k.plan(f.p, w.name)
	return planner.Event[P, D]{Type: planner.EventSnapshot, Revision: f.rev, Plan: &p}
}

func (w *Watch[P, D]) wakeLocked() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// reset makes the next event a whole plan; the caller holds the feed's
// lock.
func (w *Watch[P, D]) reset() {
	w.mu.Lock()
	w.needPlan, w.pending, w.from = true, nil, 0
	w.mu.Unlock()
	w.wakeLocked()
}

// stop ends the watch because the feed closed; the caller holds the
// feed's lock.
func (w *Watch[P, D]) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.wakeLocked()
}

// push queues a delta (shared with the other watchers of the plan); the
// caller holds the feed's lock.
func (w *Watch[P, D]) push(rev int64, d *D, maxPending int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.needPlan || w.stopped {
		return // the coming first event covers d
	}
	if len(w.pending) >= maxPending {
		w.needPlan, w.pending, w.from = true, nil, 0
		w.wakeLocked()
		return
	}
	w.pending = append(w.pending, planner.Event[P, D]{Type: planner.EventDelta, Revision: rev, Delta: d})
	w.wakeLocked()
}

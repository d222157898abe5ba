package planfeed

import (
	"context"

	"github.com/l2gw/l2gw/internal/planner"
)

// Event is one step of a watch: a whole plan (Plan non-nil: the first event,
// and whenever the watcher fell too far behind or the feed re-read a
// snapshot) or a delta to apply to the previous state. Revision is the store
// revision the plan after this event reflects.
type Event[P, D any] struct {
	Revision int64
	Plan     *P
	Delta    D
}

// SwitchEvent is an Event of a switch plan.
type SwitchEvent = Event[planner.SwitchPlan, planner.SwitchDelta]

// HostEvent is an Event of a host plan.
type HostEvent = Event[planner.HostPlan, planner.HostDelta]

// Watch is a subscription to one switch's or host's plan. Events queue
// without blocking the feed; Next takes them in order.
type Watch[P, D any] struct {
	f        *Feed
	name     string
	plan     func(*planner.Planner, string) P
	needPlan bool
	pending  []Event[P, D]
	wake     chan struct{} // 1-buffered
	stopped  bool
	unlink   func()
}

// WatchSwitch subscribes to the plan of the named switch (a switch nobody
// plans anything on has an empty plan). The watch ends when ctx is done.
func (f *Feed) WatchSwitch(ctx context.Context, name string) (*Watch[planner.SwitchPlan, planner.SwitchDelta], error) {
	w := &Watch[planner.SwitchPlan, planner.SwitchDelta]{f: f, name: name, plan: (*planner.Planner).SwitchPlan, needPlan: true, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	f.switches[w] = struct{}{}
	w.unlink = func() { delete(f.switches, w) }
	context.AfterFunc(ctx, w.Stop)
	return w, nil
}

// WatchHost subscribes to the plan of the named host (by name, as in ports'
// binding:host_id). The watch ends when ctx is done.
func (f *Feed) WatchHost(ctx context.Context, name string) (*Watch[planner.HostPlan, planner.HostDelta], error) {
	w := &Watch[planner.HostPlan, planner.HostDelta]{f: f, name: name, plan: (*planner.Planner).HostPlan, needPlan: true, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	f.hosts[w] = struct{}{}
	w.unlink = func() { delete(f.hosts, w) }
	context.AfterFunc(ctx, w.Stop)
	return w, nil
}

// Stop ends the watch: Next returns ErrClosed from now on.
func (w *Watch[P, D]) Stop() {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		w.unlink()
		w.wakeLocked()
	}
}

// Next returns the next event, waiting for one until ctx is done. The first
// event carries the whole plan (waiting for the feed's first snapshot).
func (w *Watch[P, D]) Next(ctx context.Context) (Event[P, D], error) {
	for {
		w.f.mu.Lock()
		switch {
		case w.stopped || w.f.closed:
			w.f.mu.Unlock()
			return Event[P, D]{}, ErrClosed
		case w.f.p != nil && w.needPlan:
			p := w.plan(w.f.p, w.name)
			ev := Event[P, D]{Revision: w.f.rev, Plan: &p}
			w.needPlan, w.pending = false, nil
			w.f.mu.Unlock()
			return ev, nil
		case len(w.pending) > 0:
			ev := w.pending[0]
			w.pending[0] = Event[P, D]{}
			w.pending = w.pending[1:]
			w.f.mu.Unlock()
			return ev, nil
		}
		w.f.mu.Unlock()
		select {
		case <-w.wake:
		case <-ctx.Done():
			return Event[P, D]{}, ctx.Err()
		}
	}
}

func (w *Watch[P, D]) wakeLocked() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// resetLocked makes the next event a whole plan.
func (w *Watch[P, D]) resetLocked() {
	w.needPlan, w.pending = true, nil
	w.wakeLocked()
}

func (w *Watch[P, D]) pushLocked(rev int64, d D, maxPending int) {
	if w.needPlan {
		return // the coming whole plan includes d
	}
	if len(w.pending) >= maxPending {
		w.resetLocked()
		return
	}
	w.pending = append(w.pending, Event[P, D]{Revision: rev, Delta: d})
	w.wakeLocked()
}

package planfeed

import (
	"context"

	"github.com/l2gw/l2gw/internal/planner"
)

// SwitchUpdate is one whole version of a switch's plan.
type SwitchUpdate struct {
	Revision int64
	Plan     planner.SwitchPlan
}

// HostUpdate is one whole version of a host's plan.
type HostUpdate struct {
	Revision int64
	Plan     planner.HostPlan
}

// SwitchPlans returns a channel that carries the current plan of the named
// switch and then each newer one (whole plans; only the latest unread one
// is kept). It is closed when ctx is done or the feed stops. This is the
// contract of switchagent.Plans (its PlanUpdate converts from SwitchUpdate).
func (f *Feed) SwitchPlans(ctx context.Context, name string) (<-chan SwitchUpdate, error) {
	w, err := f.WatchSwitch(ctx, name)
	if err != nil {
		return nil, err
	}
	return latest(ctx, f, w, func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) },
		func(rev int64, p planner.SwitchPlan) SwitchUpdate {
			return SwitchUpdate{Revision: rev, Plan: p.Clone()}
		}), nil
}

// HostPlans is SwitchPlans for a host (the contract of hostagent.Plans).
func (f *Feed) HostPlans(ctx context.Context, name string) (<-chan HostUpdate, error) {
	w, err := f.WatchHost(ctx, name)
	if err != nil {
		return nil, err
	}
	return latest(ctx, f, w, func(p *planner.HostPlan, d planner.HostDelta) { p.Apply(d) },
		func(rev int64, p planner.HostPlan) HostUpdate { return HostUpdate{Revision: rev, Plan: p.Clone()} }), nil
}

// latest folds a watch's events into whole plans sent on a 1-slot channel,
// replacing an unread older plan. Its goroutine ends with ctx or the feed.
func latest[P, D, U any](ctx context.Context, f *Feed, w *Watch[P, D], apply func(*P, D), mk func(int64, P) U) <-chan U {
	out := make(chan U, 1)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		w.Stop()
		close(out)
		return out
	}
	f.wg.Add(1) // under mu and before closed: never concurrent with Run's Wait
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		defer close(out)
		defer w.Stop()
		var cur P
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				return
			}
			if ev.Plan != nil {
				cur = *ev.Plan
			} else {
				apply(&cur, ev.Delta)
			}
			u := mk(ev.Revision, cur)
			select {
			case <-out: // drop the unread older plan
			default:
			}
			select {
			case out <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// SwitchEventsFunc delivers the watch events of the named switch's plan as
// mk(event) values, in order and without dropping any: first the whole plan
// (a private copy), then deltas (a whole plan again whenever the consumer
// fell too far behind the feed). Deltas are shared between watchers and
// must not be modified. The channel is closed when ctx is done or the feed
// stops. No plan is copied per change: the consumer applies the deltas.
func SwitchEventsFunc[U any](ctx context.Context, f *Feed, name string, mk func(ev SwitchEvent) U) (<-chan U, error) {
	w, err := f.WatchSwitch(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make(chan U, 16)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		w.Stop()
		close(out)
		return out, nil
	}
	f.wg.Add(1) // under mu and before closed: never concurrent with Run's Wait
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		defer close(out)
		defer w.Stop()
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				return
			}
			select {
			case out <- mk(ev):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

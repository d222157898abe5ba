package agentapi_test

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
)

var followCfg = planstream.FollowConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond}

// events follows the named plan of src as an agent does (planstream.Follow)
// and passes on every event; the channel is closed once ctx is done.
func events[P, D any](ctx context.Context, src planstream.Source[P, D], name string) <-chan planner.Event[P, D] {
	ch := make(chan planner.Event[P, D], 64)
	go func() {
		defer close(ch)
		planstream.Follow(ctx, src, name, followCfg, func(ev planner.Event[P, D]) {
			select {
			case ch <- ev:
			case <-ctx.Done():
			}
		})
	}()
	return ch
}

// planUpdate is a whole plan at a revision.
type planUpdate[P any] struct {
	Revision int64
	Plan     P
}

// plans folds the events of the named plan into whole plans, one per event
// (a private copy each); the channel is closed once ctx is done.
func plans[P, D any](ctx context.Context, k planstream.Kind[P, D], src planstream.Source[P, D], name string) <-chan planUpdate[P] {
	out := make(chan planUpdate[P], 64)
	go func() {
		defer close(out)
		var cur P
		for ev := range events(ctx, src, name) {
			switch ev.Type {
			case planner.EventSnapshot:
				cur = *ev.Plan
			case planner.EventDelta:
				k.Apply(&cur, ev.Delta)
			}
			select {
			case out <- planUpdate[P]{Revision: ev.Revision, Plan: k.Clone(&cur)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func switchPlans(ctx context.Context, src planstream.SwitchSource, name string) <-chan planUpdate[planner.SwitchPlan] {
	return plans(ctx, planstream.Switch, src, name)
}

package planfeed

import (
	"context"
	"errors"
	"testing"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
)

// follow takes every queued event of w (the feed has processed rev) and
// applies it to cur; it reports whether a whole plan came.
func follow[P, D any](t *testing.T, ctx context.Context, f *Feed, w planstream.Stream[P, D], rev int64, cur *P, apply func(*P, D)) (sawPlan bool) {
	t.Helper()
	if err := f.WaitRevision(ctx, rev); err != nil {
		t.Fatalf("WaitRevision(%d) = %v", rev, err)
	}
	// Events up to rev are queued before WaitRevision returns; an already
	// cancelled context makes Next return them and then stop.
	done, cancel := context.WithCancel(ctx)
	cancel()
	for {
		ev, err := w.Next(done)
		if errors.Is(err, context.Canceled) {
			return sawPlan
		}
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		if ev.Revision > rev {
			t.Fatalf("event revision %d > %d", ev.Revision, rev)
		}
		switch ev.Type {
		case planner.EventSnapshot:
			*cur, sawPlan = *ev.Plan, true
		case planner.EventDelta:
			apply(cur, *ev.Delta)
		default:
			t.Fatalf("event type %q on a watch from 0", ev.Type)
		}
	}
}

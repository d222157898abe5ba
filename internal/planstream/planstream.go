// Package planstream carries plans from the server to agents. It holds the
// one interface every plan transport implements (Source: the in-process
// plan feed, and the agent protocol over HTTP), Follow, which keeps a watch
// open and resumes it by revision after a failure, and Pending, the fold of
// a watch's events into the plan an agent's worker takes. Agents depend on
// this package, never on the server's feed or store.
package planstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/reconcile"
)

// Stream is one open watch on a plan.
type Stream[P, D any] interface {
	// Next returns the next event, waiting until ctx is done. Any error
	// ends the stream.
	Next(ctx context.Context) (planner.Event[P, D], error)
	// Close ends the stream and releases it.
	Close()
}

// Source opens watches on the plans of switches or hosts.
type Source[P, D any] interface {
	// Watch opens a stream on the named plan. A watcher that holds the
	// plan at revision from (> 0) may get a resumed event first when that
	// plan is still current; otherwise, and always with from 0, the first
	// event is a snapshot.
	Watch(ctx context.Context, name string, from int64) (Stream[P, D], error)
}

// SwitchSource is a Source of switch plans.
type SwitchSource = Source[planner.SwitchPlan, planner.SwitchDelta]

// HostSource is a Source of host plans.
type HostSource = Source[planner.HostPlan, planner.HostDelta]

// FollowConfig configures Follow.
type FollowConfig struct {
	// BackoffMin and BackoffMax bound the (jittered) wait before a failed
	// watch is opened again. Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// Logger receives lost streams (Warn); nil discards.
	Logger *slog.Logger
	// Opened, when set, is called each time a stream is opened.
	Opened func()
}

// ErrOutOfOrder is the error of a stream that sent a delta or a resumed
// event before any snapshot.
var ErrOutOfOrder = errors.New("plan stream: delta or resumed event without a plan")

// Follow watches the named plan until ctx is done and hands every event to
// handle, in order. When a stream fails it is opened again after a backoff,
// from the revision of the last event handled, so that an unchanged plan is
// resumed rather than sent again. Events are checked: a snapshot has a plan,
// a delta a delta, and neither a delta nor a resumed event comes before the
// first snapshot.
func Follow[P, D any](ctx context.Context, src Source[P, D], name string, cfg FollowConfig, handle func(planner.Event[P, D])) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bo := reconcile.Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax}
	if bo.Min <= 0 {
		bo.Min = 100 * time.Millisecond
	}
	if bo.Max <= 0 {
		bo.Max = 30 * time.Second
	}
	var rev int64 // of the last event handled; 0 until a snapshot
	for {
		err := follow(ctx, src, name, &rev, cfg.Opened, &bo, handle)
		if ctx.Err() != nil {
			return
		}
		d := bo.Next()
		log.Warn("plan stream lost, reconnecting", "name", name, "revision", rev, "retry_in", d, "err", err)
		if !reconcile.Sleep(ctx, d) {
			return
		}
	}
}

func follow[P, D any](ctx context.Context, src Source[P, D], name string, rev *int64, opened func(),
	bo *reconcile.Backoff, handle func(planner.Event[P, D])) error {
	s, err := src.Watch(ctx, name, *rev)
	if err != nil {
		return fmt.Errorf("watch %s: %w", name, err)
	}
	defer s.Close()
	if opened != nil {
		opened()
	}
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return err
		}
		switch {
		case ev.Type == planner.EventSnapshot && ev.Plan == nil,
			ev.Type == planner.EventDelta && ev.Delta == nil:
			return fmt.Errorf("plan stream: %s event without its content", ev.Type)
		case ev.Type != planner.EventSnapshot && *rev == 0:
			return ErrOutOfOrder
		case ev.Type != planner.EventSnapshot && ev.Type != planner.EventDelta && ev.Type != planner.EventResumed:
			continue // a type of a newer server
		}
		bo.Reset()
		handle(ev)
		*rev = max(ev.Revision, 1)
	}
}

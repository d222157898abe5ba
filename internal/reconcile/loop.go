package reconcile

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/metrics"
)

// LoopConfig configures a Loop. Zero durations take the documented defaults.
type LoopConfig struct {
	// BackoffMin and BackoffMax bound the backoff after failed passes.
	// Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// Resync is the period of passes run with resync set, which catch
	// what no event reported. Zero or negative: none.
	Resync time.Duration
	// Metrics receives every pass (runs by result, duration) and the queue
	// depth; nil records nothing.
	Metrics *metrics.Reconcile
	// QueueDepth returns the work waiting for the next pass, for the queue
	// depth metric; nil means 1 while a trigger is pending.
	QueueDepth func() int
}

// Outcome is what a pass did.
type Outcome struct {
	// Changed reports that the pass changed something (result "ok").
	Changed bool
	// Err is set when the pass failed (result "error"): it runs again after
	// the backoff, or sooner when triggered.
	Err error
	// After asks for another pass after this long (0: none).
	After time.Duration
}

func (o Outcome) result() string {
	switch {
	case o.Err != nil:
		return metrics.ResultError
	case o.Changed:
		return metrics.ResultOK
	default:
		return metrics.ResultNoop
	}
}

// Loop runs the passes of one level-triggered reconciler, one at a time: on
// every Trigger, on the resync tick, after a failure once its backoff has
// passed, and when a pass asks to run again. A trigger cuts any wait short:
// it means there is something new, which may be what the failed pass needed.
// Triggers coalesce while a pass runs or waits.
type Loop struct {
	cfg     LoopConfig
	trigger chan struct{}
}

// NewLoop returns a loop; Run runs it.
func NewLoop(cfg LoopConfig) *Loop {
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	return &Loop{cfg: cfg, trigger: make(chan struct{}, 1)}
}

// Trigger asks for a pass; it never blocks.
func (l *Loop) Trigger() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
	l.setQueue()
}

func (l *Loop) setQueue() {
	if l.cfg.Metrics == nil {
		return
	}
	if l.cfg.QueueDepth != nil {
		l.cfg.Metrics.SetQueue(l.cfg.QueueDepth())
	} else {
		l.cfg.Metrics.SetQueue(len(l.trigger))
	}
}

// Run runs passes until ctx is done. pass gets resync true on the resync
// tick's passes. A pass cut short because ctx ended is not recorded.
func (l *Loop) Run(ctx context.Context, pass func(ctx context.Context, resync bool) Outcome) {
	var tick <-chan time.Time
	if l.cfg.Resync > 0 {
		t := time.NewTicker(l.cfg.Resync)
		defer t.Stop()
		tick = t.C
	}
	again := time.NewTimer(time.Hour)
	again.Stop()
	defer again.Stop()
	defer func() {
		if l.cfg.Metrics != nil {
			l.cfg.Metrics.SetQueue(0)
		}
	}()
	bo := Backoff{Min: l.cfg.BackoffMin, Max: l.cfg.BackoffMax}
	for {
		resync := false
		select {
		case <-ctx.Done():
			return
		case <-l.trigger:
		case <-tick:
			resync = true
		case <-again.C:
		}
		again.Stop()
		l.setQueue()
		start := time.Now()
		out := pass(ctx, resync)
		if ctx.Err() != nil {
			return
		}
		if l.cfg.Metrics != nil {
			l.cfg.Metrics.Done(start, out.result())
		}
		switch {
		case out.Err != nil:
			again.Reset(bo.Next())
		case out.After > 0:
			bo.Reset()
			again.Reset(out.After)
		default:
			bo.Reset()
		}
	}
}

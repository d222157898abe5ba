// Package lease is an agent's side of the election among agents serving
// one switch (an HA pair of switch agents) or one host: an Elector keeps
// trying to hold the named lease in the server's database (internal/store
// lease.go), renews it while held, and says at every moment whether the
// agent may act and with which epoch. The epoch increases at every change
// of holder; the switch agent fences its OVSDB transactions with it.
//
// The holder counts its lease as valid until the time it sent the
// request that got it plus the duration granted: the server's expiry is
// later than that, so a holder that cannot renew stops acting before a
// standby can take over.
package lease

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/reconcile"
)

// DefaultPeriod is the default lease period: the lease's duration. The
// holder renews it three times a period, a standby asks for it as often,
// so a standby takes over within about 4/3 of a period of the holder's
// death.
const DefaultPeriod = 3 * time.Second

// Client acquires, renews and releases the leases of one kind for one
// agent instance: agentlink over the agent protocol, Store in the server.
type Client interface {
	// AcquireLease acquires (epoch 0) or renews (epoch set) the lease of
	// name for d; it returns the epoch held and the duration granted. A
	// lease held by another agent, or taken over, is an error matching
	// model.ErrConflict whose text names the holder.
	AcquireLease(ctx context.Context, name string, epoch int64, d time.Duration) (held int64, granted time.Duration, err error)
	// ReleaseLease gives the lease of epoch up.
	ReleaseLease(ctx context.Context, name string, epoch int64) error
}

// Config configures an Elector.
type Config struct {
	// Period is the lease's duration; default DefaultPeriod.
	Period time.Duration
	// Logger receives elections (Info) and refusals (Debug); nil discards.
	Logger *slog.Logger
	// Changed is called (in the Elector's goroutine) whenever the lease is
	// taken or lost; it must not block.
	Changed func()
	// StandbyLevel is the level of the log line saying another agent holds
	// the lease (once per holder): Info (the zero value) where standing by
	// is the plan, as in an HA pair; Warn where it is a mistake.
	StandbyLevel slog.Level
}

// Elector holds, or stands by for, the lease of one name.
type Elector struct {
	c    Client
	name string
	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	mu    sync.Mutex
	epoch int64     // held epoch, 0 when standing by
	until time.Time // local validity of the held lease
	last  string    // the last refusal logged
	final int64     // the epoch held when Run returned
}

// New returns an Elector of the named lease; it does nothing until Run.
func New(c Client, name string, cfg Config) *Elector {
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	return &Elector{c: c, name: name, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1)}
}

// Held returns the epoch of the lease while this agent holds it (and its
// validity has not passed), ok false while it stands by.
func (e *Elector) Held() (epoch int64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.epoch == 0 || !time.Now().Before(e.until) {
		return 0, false
	}
	return e.epoch, true
}

// HeldAtStop reports whether the lease was held when Run returned.
func (e *Elector) HeldAtStop() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.final != 0
}

// Lost tells the Elector that the lease of epoch is no longer its own
// (a transaction fenced by it failed: another agent took over): it stands
// by at once and asks the server again.
func (e *Elector) Lost(epoch int64) {
	e.mu.Lock()
	lost := e.epoch == epoch && epoch != 0
	if lost {
		e.epoch = 0
	}
	e.mu.Unlock()
	if lost {
		e.log.Warn("lease lost: another agent took over, standing by", "name", e.name, "epoch", epoch)
		e.cfg.Changed()
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// renewJitter is the part of the renewal interval taken off at random, so
// the agents restarted together (a rollout) do not renew in lockstep.
const renewJitter = 0.1

// Run takes part in the election until ctx is done, then releases the
// lease if it holds it (so a standby takes over at once). It asks about
// every Period/3 while the server answers, and after a failure (the
// server out of reach) retries with a jittered backoff, from Period/12 up
// to Period/3, so that agents do not all retry at once when the server
// comes back.
func (e *Elector) Run(ctx context.Context) {
	every := e.cfg.Period / 3
	retry := reconcile.Backoff{Min: every / 4, Max: every}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			e.stop(ctx)
			return
		case <-timer.C:
		case <-e.kick:
		}
		wait := reconcile.Jitter(every, renewJitter)
		if e.try(ctx) {
			retry.Reset()
		} else {
			wait = retry.Next()
		}
		e.mu.Lock()
		// Wake up when the validity passes, to stand by at that moment.
		if e.epoch != 0 {
			wait = min(wait, max(time.Until(e.until), time.Millisecond))
		}
		e.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// try asks for (or renews) the lease once; it reports whether the server
// answered (granted or refused).
func (e *Elector) try(ctx context.Context) (answered bool) {
	e.mu.Lock()
	epoch := e.epoch
	if epoch != 0 && !time.Now().Before(e.until) {
		e.log.Warn("lease not renewed in time, standing by", "name", e.name, "epoch", epoch)
		e.epoch, epoch = 0, 0
		e.mu.Unlock()
		e.cfg.Changed()
	} else {
		e.mu.Unlock()
	}
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Period/2)
	defer cancel()
	sent := time.Now()
	held, granted, err := e.c.AcquireLease(rctx, e.name, epoch, e.cfg.Period)
	changed := false
	answered = true
	e.mu.Lock()
	switch {
	case ctx.Err() != nil:
	case err == nil:
		// Held turns false by itself when the validity passes, even with
		// the epoch kept: an answer that comes after that moment (a slow
		// renewal) must tell the agent to act again, or it stands by until
		// something else wakes it.
		lapsed := e.epoch == held && !time.Now().Before(e.until)
		if e.epoch != held || lapsed {
			changed = true
			e.log.Info("lease held: this agent acts", "name", e.name, "epoch", held, "previous_epoch", e.epoch, "renewed_late", lapsed)
		}
		e.epoch, e.until, e.last = held, sent.Add(granted), ""
	case errors.Is(err, model.ErrConflict):
		if e.epoch != 0 {
			changed = true
			e.log.Warn("lease lost, standing by", "name", e.name, "epoch", e.epoch, "reason", err.Error())
			e.epoch = 0
		}
		if msg := err.Error(); msg != e.last && epoch == 0 {
			e.last = msg
			e.log.Log(context.Background(), e.cfg.StandbyLevel, "standing by: the server refused the lease", "name", e.name, "reason", msg)
		}
	default:
		// The server is out of reach: a held lease stays valid until its
		// time, then try stands by.
		e.log.Debug("lease request failed", "name", e.name, "epoch", epoch, "err", err)
		answered = false
	}
	e.mu.Unlock()
	if changed {
		e.cfg.Changed()
	}
	return answered
}

// stop releases a held lease (best effort, bounded).
func (e *Elector) stop(ctx context.Context) {
	e.mu.Lock()
	epoch := e.epoch
	if epoch != 0 && !time.Now().Before(e.until) {
		epoch = 0
	}
	e.final, e.epoch = epoch, 0
	e.mu.Unlock()
	if epoch == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := e.c.ReleaseLease(rctx, e.name, epoch); err != nil {
		e.log.Debug("lease not released", "name", e.name, "epoch", epoch, "err", err)
		return
	}
	e.log.Info("lease released", "name", e.name, "epoch", epoch)
}

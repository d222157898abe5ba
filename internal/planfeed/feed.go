// Package planfeed follows the store's change log, keeps a planner.Planner
// up to date and serves the plans of switches and hosts: Feed.Switches()
// and Feed.Hosts() are planstream Sources whose Watch, from a revision,
// starts with a snapshot (or a resumed event) and then carries deltas.
// Agents inside the server watch it directly; the agent protocol's plan
// streams (internal/agentapi) serve the same watches over HTTP.
package planfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/store"
)

// Source is what the feed reads from the store (store.Store implements it).
type Source interface {
	Snapshot(ctx context.Context) (store.Snapshot, error)
	Changes(ctx context.Context, after int64, limit int) ([]store.Change, error)
	// Notify returns a channel closed at the next in-process commit.
	Notify() <-chan struct{}
	GetGateway(ctx context.Context, id string) (model.Gateway, error)
	GetConnection(ctx context.Context, id string) (model.Connection, error)
	GetNetwork(ctx context.Context, id string) (model.Network, error)
	GetPort(ctx context.Context, id string) (model.Port, error)
	GetHost(ctx context.Context, id string) (model.Host, error)
	GetSwitch(ctx context.Context, name string) (model.Switch, error)
	ListLocalMACs(ctx context.Context, q store.Query) ([]model.LocalMAC, error)
}

// Config tunes a Feed; the zero value is usable.
type Config struct {
	Planner planner.Config
	// PollInterval bounds how late a commit made by another process is
	// seen (in-process commits wake the feed at once); zero means 1s.
	PollInterval time.Duration
	// FollowInterval is the least time between two reads of the change log
	// while commits keep coming: commits arriving sooner are read together
	// (one read transaction instead of one per commit). The first commit
	// after a quiet spell is read at once. Zero means 5ms; negative means
	// every commit is read at once.
	FollowInterval time.Duration
	// BatchSize is how many changes are read per query; zero means 1000.
	BatchSize int
	// MaxPending is how many deltas a watcher may fall behind before they
	// are replaced by one whole plan; zero means 1024.
	MaxPending int
	Logger     *slog.Logger // nil discards
	// Registerer receives the feed's metrics (metrics.go). Nil: not
	// registered.
	Registerer prometheus.Registerer
}

// ErrClosed is returned by Watch.Next once the feed has stopped.
var ErrClosed = errors.New("plan feed closed")

// Feed keeps the plans current with the store. Create it with New, run it
// with Run; watchers may subscribe before the first snapshot is read.
type Feed struct {
	src Source
	cfg Config
	log *slog.Logger
	id  string // this feed among the processes serving plans (ID)

	mu       sync.Mutex
	p        *planner.Planner // nil until the first snapshot
	rev      int64
	closed   bool
	changed  chan struct{} // closed and replaced when rev advances or the feed closes
	switches watchers[planner.SwitchPlan, planner.SwitchDelta]
	hosts    watchers[planner.HostPlan, planner.HostDelta]
	marks    marks // when plans and objects last changed (resume.go)
	m        *feedMetrics
}

// New returns a Feed reading src. It validates cfg.Planner.
func New(src Source, cfg Config) (*Feed, error) {
	if _, err := planner.New(cfg.Planner, planner.Inventory{}); err != nil {
		return nil, fmt.Errorf("plan feed config: %w", err)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.FollowInterval == 0 {
		cfg.FollowInterval = 5 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1024
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{
		src: src, cfg: cfg, log: log, id: uuid.NewString(),
		changed:  make(chan struct{}),
		switches: watchers[planner.SwitchPlan, planner.SwitchDelta]{},
		hosts:    watchers[planner.HostPlan, planner.HostDelta]{},
		m:        newFeedMetrics(cfg.Registerer),
	}, nil
}

// ID identifies this feed. A watcher's plan at a revision can be resumed
// only on the feed that computed it: another feed (another replica, or this
// process restarted) computed its plans at other moments, and may never have
// held an object that came and went between two of them, which the
// watcher's plan still holds.
func (f *Feed) ID() string { return f.id }

// Revision returns the store revision the plans are computed at (0 before
// the first snapshot).
func (f *Feed) Revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

// WaitRevision blocks until the plans reflect revision rev or later.
func (f *Feed) WaitRevision(ctx context.Context, rev int64) error {
	for {
		f.mu.Lock()
		cur, ch, closed, ready := f.rev, f.changed, f.closed, f.p != nil
		f.mu.Unlock()
		if ready && cur >= rev {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run follows the change log until ctx is done; it returns nil then, or the
// error that stopped it. Watchers are closed (Next returns ErrClosed) when
// Run returns.
func (f *Feed) Run(ctx context.Context) error {
	err := f.run(ctx)
	f.mu.Lock()
	f.closed = true
	close(f.changed)
	f.changed = make(chan struct{})
	for w := range f.switches.all() {
		w.stop()
	}
	for w := range f.hosts.all() {
		w.stop()
	}
	f.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (f *Feed) run(ctx context.Context) error {
	tick := time.NewTicker(f.cfg.PollInterval)
	defer tick.Stop()
	needSnapshot := true
	var lastRead time.Time // when follow last found changes
	// A database outage is waited out: watchers keep the plans they
	// have, and the feed resumes from its revision once the store answers.
	var outage time.Duration
	waitOut := func(err error) bool {
		if !store.IsUnavailable(err) || ctx.Err() != nil {
			return false
		}
		if outage == 0 {
			f.log.Warn("store unavailable; plans stay as they are until it is back", "revision", f.Revision(), "err", err)
		}
		outage = min(max(2*outage, 100*time.Millisecond), 2*time.Second)
		return reconcile.Sleep(ctx, outage)
	}
	for {
		wake := f.src.Notify()
		if needSnapshot {
			if err := f.snapshot(ctx); err != nil {
				if waitOut(err) {
					continue
				}
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			needSnapshot = false
		}
		started := time.Now()
		n, err := f.follow(ctx)
		if n > 0 {
			lastRead = started
		}
		if err == nil && outage > 0 {
			f.log.Info("store available again; following the change log", "revision", f.Revision())
			outage = 0
		}
		switch {
		case errors.Is(err, store.ErrCompacted):
			f.log.Info("change log compacted past the feed, reading a new snapshot", "revision", f.Revision())
			needSnapshot = true
			continue
		case err != nil:
			if waitOut(err) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		case n == f.cfg.BatchSize:
			continue // more to read
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			// Commits are streaming in when the last read found changes
			// only just now: let more of them gather.
			if !reconcile.Sleep(ctx, f.cfg.FollowInterval-time.Since(lastRead)) {
				return nil
			}
		case <-tick.C:
		}
	}
}

// snapshot rebuilds the planner from a whole snapshot; watchers get a whole
// plan next.
func (f *Feed) snapshot(ctx context.Context) error {
	snap, err := f.src.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	p, err := planner.New(f.cfg.Planner, snap.Inventory)
	if err != nil {
		return fmt.Errorf("plan snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p = p
	f.rev = snap.Revision
	f.marks.reset(snap.Revision)
	for w := range f.switches.all() {
		w.reset()
	}
	for w := range f.hosts.all() {
		w.reset()
	}
	f.advanceLocked()
	f.m.snapshots.Inc()
	f.m.revision.Set(float64(snap.Revision))
	f.log.Debug("plans rebuilt from snapshot", "revision", snap.Revision)
	return nil
}

// staged is one change read back from the store, ready to stage.
type staged func(p *planner.Planner)

// follow applies one batch of changes; it returns how many it read.
func (f *Feed) follow(ctx context.Context) (int, error) {
	after := f.Revision()
	chs, err := f.src.Changes(ctx, after, f.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read changes after %d: %w", after, err)
	}
	if len(chs) == 0 {
		return 0, nil
	}
	ops := make([]staged, 0, len(chs))
	for _, c := range chs {
		op, err := f.fetch(ctx, c)
		if err != nil {
			return 0, err
		}
		if op != nil {
			ops = append(ops, op)
		}
	}
	rev := chs[len(chs)-1].Revision
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range ops {
		op(f.p)
	}
	res := f.p.Flush()
	f.rev = rev
	f.marks.note(chs, res, rev)
	for name, d := range res.Switches {
		for w := range f.switches[name] {
			w.push(rev, &d, f.cfg.MaxPending)
		}
	}
	for name, d := range res.Hosts {
		for w := range f.hosts[name] {
			w.push(rev, &d, f.cfg.MaxPending)
		}
	}
	f.advanceLocked()
	f.m.batches.Inc()
	f.m.changes.Add(float64(len(chs)))
	f.m.revision.Set(float64(rev))
	f.log.Debug("plans updated", "revision", rev, "changes", len(chs), "switches", len(res.Switches), "hosts", len(res.Hosts))
	return len(chs), nil
}

func (f *Feed) advanceLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// fetch reads the object a change is about. The object may be newer than
// the change (a later change then re-reads it): plans converge on the
// latest state. A missing object is a delete.
func (f *Feed) fetch(ctx context.Context, c store.Change) (staged, error) {
	gone := func(err error) bool { return c.Op == store.OpDelete || errors.Is(err, model.ErrNotFound) }
	var op staged
	var err error
	switch c.Kind {
	case store.KindGateway:
		var v model.Gateway
		if v, err = f.src.GetGateway(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeleteGateway(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertGateway(v) }
		}
	case store.KindConnection:
		var v model.Connection
		if v, err = f.src.GetConnection(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeleteConnection(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertConnection(v) }
		}
	case store.KindNetwork:
		var v model.Network
		if v, err = f.src.GetNetwork(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeleteNetwork(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertNetwork(v) }
		}
	case store.KindPort:
		var v model.Port
		if v, err = f.src.GetPort(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeletePort(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertPort(v) }
		}
	case store.KindHost:
		var v model.Host
		if v, err = f.src.GetHost(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeleteHost(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertHost(v) }
		}
	case store.KindSwitch:
		var v model.Switch
		if v, err = f.src.GetSwitch(ctx, c.ID); gone(err) {
			op, err = func(p *planner.Planner) { p.DeleteSwitch(c.ID) }, nil
		} else if err == nil {
			op = func(p *planner.Planner) { p.UpsertSwitch(v) }
		}
	case store.KindLocalMAC:
		k, ok := parseLocalMACID(c.ID)
		if !ok {
			f.log.Warn("ignoring malformed local mac change", "id", c.ID, "revision", c.Revision)
			return nil, nil
		}
		var found *model.LocalMAC
		if c.Op != store.OpDelete {
			var ms []model.LocalMAC
			ms, err = f.src.ListLocalMACs(ctx, store.Query{Names: []string{k.Switch}, NetworkIDs: []string{k.NetworkID}})
			for i := range ms {
				if ms[i].MAC == k.MAC {
					found = &ms[i]
				}
			}
		}
		if err == nil {
			if found != nil {
				m := *found
				op = func(p *planner.Planner) { p.UpsertLocalMAC(m) }
			} else {
				op = func(p *planner.Planner) { p.DeleteLocalMAC(k) }
			}
		}
	default:
		f.log.Debug("ignoring change of unknown kind", "kind", c.Kind, "id", c.ID)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", c.Kind, c.ID, err)
	}
	return op, nil
}

// parseLocalMACID splits the store's "switch/network_id/mac" (the switch
// name may itself hold a slash; network ids and MACs do not).
func parseLocalMACID(id string) (planner.LocalMACKey, bool) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return planner.LocalMACKey{}, false
	}
	j := strings.LastIndexByte(id[:i], '/')
	if j < 0 {
		return planner.LocalMACKey{}, false
	}
	return planner.LocalMACKey{Switch: id[:j], NetworkID: id[j+1 : i], MAC: id[i+1:]}, true
}

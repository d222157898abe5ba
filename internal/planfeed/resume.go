package planfeed

import (
	"context"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/store"
)

// marks dates the last change of each switch plan, host plan, connection
// and gateway, as far as this feed knows: what changed before the feed's
// last snapshot is dated at that snapshot's revision (base). The watch
// protocol resumes with it and the API derives connection status from it.
type marks struct {
	base     int64
	switches map[string]int64
	hosts    map[string]int64
	objects  map[store.Kind]map[string]int64 // connections and gateways
}

func (m *marks) reset(base int64) {
	m.base = base
	m.switches = map[string]int64{}
	m.hosts = map[string]int64{}
	m.objects = map[store.Kind]map[string]int64{}
}

// note records one applied batch of changes: chs, which changed the plans
// in res, all reflected at rev.
func (m *marks) note(chs []store.Change, res planner.Result, rev int64) {
	if m.switches == nil {
		m.reset(0)
	}
	for name := range res.Switches {
		m.switches[name] = rev
	}
	for name := range res.Hosts {
		m.hosts[name] = rev
	}
	for _, c := range chs {
		if c.Kind != store.KindConnection && c.Kind != store.KindGateway {
			continue
		}
		byID := m.objects[c.Kind]
		if byID == nil {
			byID = map[string]int64{}
			m.objects[c.Kind] = byID
		}
		if c.Op == store.OpDelete {
			delete(byID, c.ID)
		} else {
			byID[c.ID] = c.Revision
		}
	}
}

func (m *marks) get(byName map[string]int64, name string) int64 {
	if r, ok := byName[name]; ok {
		return r
	}
	return m.base
}

// SwitchChangedAt returns the revision at which the named switch's plan
// last changed, as far as the feed knows (changes older than its last
// snapshot are dated at the snapshot), and false before the first snapshot.
func (f *Feed) SwitchChangedAt(name string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks.get(f.marks.switches, name), f.p != nil
}

// HostChangedAt is SwitchChangedAt for a host's plan.
func (f *Feed) HostChangedAt(name string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks.get(f.marks.hosts, name), f.p != nil
}

// ObjectChangedAt returns the revision at which the connection or gateway
// (kind store.KindConnection or store.KindGateway) with the given id was
// last created or updated, dated like SwitchChangedAt.
func (f *Feed) ObjectChangedAt(kind store.Kind, id string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks.get(f.marks.objects[kind], id), f.p != nil
}

// WatchSwitchFrom is WatchSwitch for a watcher that already holds the
// switch's plan at revision from. When that plan is still current (the
// feed has read its first snapshot, from is not newer than the feed, and
// the plan has not changed since from: SwitchChangedAt(name) <= from), the
// watch skips the whole plan: resumed is the feed's revision, at which the
// watcher's plan is current, and the first event is the next delta.
// Otherwise resumed is 0 and the watch starts with a whole plan, as
// WatchSwitch. It waits for the feed's first snapshot (or ctx).
func (f *Feed) WatchSwitchFrom(ctx context.Context, name string, from int64) (w *Watch[planner.SwitchPlan, planner.SwitchDelta], resumed int64, err error) {
	if err := f.WaitRevision(ctx, 0); err != nil {
		return nil, 0, err
	}
	w, err = f.WatchSwitch(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return w, resume(f, w, func(m *marks) map[string]int64 { return m.switches }, from), nil
}

// WatchHostFrom is WatchSwitchFrom for a host's plan.
func (f *Feed) WatchHostFrom(ctx context.Context, name string, from int64) (w *Watch[planner.HostPlan, planner.HostDelta], resumed int64, err error) {
	if err := f.WaitRevision(ctx, 0); err != nil {
		return nil, 0, err
	}
	w, err = f.WatchHost(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return w, resume(f, w, func(m *marks) map[string]int64 { return m.hosts }, from), nil
}

// resume lets a new watch skip its whole plan when the watcher's plan at
// revision from is current; it returns the feed's revision then, else 0.
// sel picks the marks of the watch's kind.
func resume[P, D any](f *Feed, w *Watch[P, D], sel func(*marks) map[string]int64, from int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p == nil || w.stopped || !w.needPlan || len(w.pending) > 0 || from <= 0 || from > f.rev || f.marks.get(sel(&f.marks), w.name) > from {
		return 0
	}
	w.needPlan = false
	return f.rev
}

// SwitchPlansFunc is SwitchPlans delivering mk(revision, plan) values, so
// that a consumer's own update type needs no forwarding goroutine. mk gets
// a private copy of the plan.
func SwitchPlansFunc[U any](ctx context.Context, f *Feed, name string, mk func(rev int64, p planner.SwitchPlan) U) (<-chan U, error) {
	w, err := f.WatchSwitch(ctx, name)
	if err != nil {
		return nil, err
	}
	return latest(ctx, f, w, func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) },
		func(rev int64, p planner.SwitchPlan) U { return mk(rev, p.Clone()) }), nil
}

// HostPlansFunc is HostPlans delivering mk(revision, plan) values.
func HostPlansFunc[U any](ctx context.Context, f *Feed, name string, mk func(rev int64, p planner.HostPlan) U) (<-chan U, error) {
	w, err := f.WatchHost(ctx, name)
	if err != nil {
		return nil, err
	}
	return latest(ctx, f, w, func(p *planner.HostPlan, d planner.HostDelta) { p.Apply(d) },
		func(rev int64, p planner.HostPlan) U { return mk(rev, p.Clone()) }), nil
}

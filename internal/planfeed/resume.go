package planfeed

import (
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

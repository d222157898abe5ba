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
	// swNets and hostNets date the last change of one network's rows in a
	// switch plan (its logical switch, bindings, remote MACs and flooding)
	// or a host plan, by [switch or host, network id].
	swNets   map[[2]string]int64
	hostNets map[[2]string]int64
}

func (m *marks) reset(base int64) {
	m.base = base
	m.switches = map[string]int64{}
	m.hosts = map[string]int64{}
	m.objects = map[store.Kind]map[string]int64{}
	m.swNets = map[[2]string]int64{}
	m.hostNets = map[[2]string]int64{}
}

// noteSwitchNets dates the networks whose rows d changes on switch sw. A
// logical switch is named after its network id; a deleted binding names
// no logical switch and needs no date (no connection needs it).
func (m *marks) noteSwitchNets(sw string, d planner.SwitchDelta, rev int64) {
	mark := func(ls string) { m.swNets[[2]string{sw, ls}] = rev }
	for _, x := range d.UpsertLogicalSwitches {
		mark(x.Name)
	}
	for _, x := range d.DeleteLogicalSwitches {
		mark(x)
	}
	for _, x := range d.UpsertBindings {
		mark(x.LogicalSwitch)
	}
	for _, x := range d.UpsertRemoteMACs {
		mark(x.LogicalSwitch)
	}
	for _, x := range d.DeleteRemoteMACs {
		mark(x.LogicalSwitch)
	}
	for _, x := range d.UpsertMcastRemotes {
		mark(x.LogicalSwitch)
	}
	for _, x := range d.DeleteMcastRemotes {
		mark(x)
	}
}

// note records one applied batch of changes: chs, which changed the plans
// in res, all reflected at rev.
func (m *marks) note(chs []store.Change, res planner.Result, rev int64) {
	if m.switches == nil {
		m.reset(0)
	}
	for name, d := range res.Switches {
		m.switches[name] = rev
		m.noteSwitchNets(name, d, rev)
	}
	for name, d := range res.Hosts {
		m.hosts[name] = rev
		for _, n := range d.UpsertNetworks {
			m.hostNets[[2]string{name, n.NetworkID}] = rev
		}
		for _, n := range d.DeleteNetworks {
			m.hostNets[[2]string{name, n}] = rev
		}
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

func (m *marks) getPair(byPair map[[2]string]int64, name, network string) int64 {
	if r, ok := byPair[[2]string{name, network}]; ok {
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

// SwitchNetworkChangedAt returns the revision at which the rows of the
// network (its logical switch, named after the network id, with its
// bindings, remote MACs and flooding) last changed in the named switch's
// plan, dated like SwitchChangedAt.
func (f *Feed) SwitchNetworkChangedAt(name, network string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks.getPair(f.marks.swNets, name, network), f.p != nil
}

// HostNetworkChangedAt returns the revision at which the network's entry
// in the named host's plan last changed, dated like SwitchChangedAt.
func (f *Feed) HostNetworkChangedAt(name, network string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks.getPair(f.marks.hostNets, name, network), f.p != nil
}

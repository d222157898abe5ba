package planner

// tracker records, for every plan row a flush touches, the row as it was
// before the first touch; Result compares that with the row at the end, so
// rows changed and changed back produce no delta.
type tracker struct {
	switches map[string]*swTouch
	hosts    map[string]map[string]prev[HostNetwork]
}

type prev[V any] struct {
	v  V
	ok bool
}

type swTouch struct {
	ls       map[string]prev[LogicalSwitch]
	bindings map[BindingKey]prev[string]
	macs     map[MACKey]prev[RemoteMAC]
	mcast    map[string]prev[McastRemote]
}

func newTracker() *tracker {
	return &tracker{switches: map[string]*swTouch{}, hosts: map[string]map[string]prev[HostNetwork]{}}
}

// sw returns the switch's record; when tr is nil, one of nil maps, which
// records nothing.
func (tr *tracker) sw(name string) swTouch {
	if tr == nil {
		return swTouch{}
	}
	t := tr.switches[name]
	if t == nil {
		t = &swTouch{
			ls:       map[string]prev[LogicalSwitch]{},
			bindings: map[BindingKey]prev[string]{},
			macs:     map[MACKey]prev[RemoteMAC]{},
			mcast:    map[string]prev[McastRemote]{},
		}
		tr.switches[name] = t
	}
	return *t
}

// touch records row k of cur in seen unless seen has it already (or is nil:
// no tracker).
func touch[K comparable, V any](seen map[K]prev[V], cur map[K]V, k K) {
	if seen == nil {
		return
	}
	if _, ok := seen[k]; !ok {
		v, ok := cur[k]
		seen[k] = prev[V]{v: v, ok: ok}
	}
}

func (tr *tracker) touchHost(hp *HostPlan, network string) {
	if tr == nil {
		return
	}
	m := tr.hosts[hp.Host]
	if m == nil {
		m = map[string]prev[HostNetwork]{}
		tr.hosts[hp.Host] = m
	}
	touch(m, hp.Networks, network)
}

// result builds the deltas from the recorded rows to the plans' rows now; a
// plan already dropped for being empty reads as empty.
func (tr *tracker) result(p *Planner) Result {
	r := Result{Switches: map[string]SwitchDelta{}, Hosts: map[string]HostDelta{}}
	for name, t := range tr.switches {
		sp := planOr(p.swPlans, name, NewSwitchPlan)
		var d SwitchDelta
		d.UpsertLogicalSwitches, d.DeleteLogicalSwitches = changed(t.ls, sp.LogicalSwitches, equal, value)
		d.UpsertBindings, d.DeleteBindings = changed(t.bindings, sp.Bindings, equal, bindingRow)
		d.UpsertRemoteMACs, d.DeleteRemoteMACs = changed(t.macs, sp.RemoteMACs, equal, value)
		d.UpsertMcastRemotes, d.DeleteMcastRemotes = changed(t.mcast, sp.McastRemotes, mcastEqual,
			func(_ string, v McastRemote) McastRemote { return cloneMcast(v) })
		if !d.Empty() {
			sortSwitchDelta(&d)
			r.Switches[name] = d
		}
	}
	for name, seen := range tr.hosts {
		hp := planOr(p.hostPlans, name, NewHostPlan)
		var d HostDelta
		d.UpsertNetworks, d.DeleteNetworks = changed(seen, hp.Networks,
			hostNetworkEqual, func(_ string, v HostNetwork) HostNetwork { return cloneHostNetwork(v) })
		if !d.Empty() {
			sortHostDelta(&d)
			r.Hosts[name] = d
		}
	}
	return r
}

// planOr returns plans[name], or a new empty plan for a plan already
// dropped for being empty (it is not added to plans).
func planOr[P any](plans map[string]*P, name string, empty func(string) P) *P {
	if p := plans[name]; p != nil {
		return p
	}
	e := empty(name)
	return &e
}

func changed[K comparable, V, R any](seen map[K]prev[V], cur map[K]V, eq func(a, b V) bool, row func(K, V) R) ([]R, []K) {
	var ups []R
	var dels []K
	for k, was := range seen {
		v, ok := cur[k]
		switch {
		case ok && (!was.ok || !eq(was.v, v)):
			ups = append(ups, row(k, v))
		case !ok && was.ok:
			dels = append(dels, k)
		}
	}
	return ups, dels
}

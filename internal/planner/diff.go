package planner

import (
	"cmp"
	"maps"
	"slices"
)

// DiffSwitch returns the delta that turns old into new. Rows equal in both
// are left out; the plans' switch names are not compared.
func DiffSwitch(old, new SwitchPlan) SwitchDelta {
	var d SwitchDelta
	d.UpsertLogicalSwitches, d.DeleteLogicalSwitches = diffMap(old.LogicalSwitches, new.LogicalSwitches, equal, value)
	d.UpsertBindings, d.DeleteBindings = diffMap(old.Bindings, new.Bindings, equal, bindingRow)
	d.UpsertRemoteMACs, d.DeleteRemoteMACs = diffMap(old.RemoteMACs, new.RemoteMACs, equal, value)
	d.UpsertMcastRemotes, d.DeleteMcastRemotes = diffMap(old.McastRemotes, new.McastRemotes, mcastEqual, value)
	sortSwitchDelta(&d)
	return d
}

// equal compares plan rows of comparable types.
func equal[V comparable](a, b V) bool { return a == b }

// value is the row of a table whose values are the rows.
func value[K comparable, V any](_ K, v V) V { return v }

// bindingRow is the row of a binding: its key and its logical switch.
func bindingRow(k BindingKey, ls string) Binding {
	return Binding{Port: k.Port, VLAN: k.VLAN, LogicalSwitch: ls}
}

// DiffHost returns the delta that turns old into new.
func DiffHost(old, new HostPlan) HostDelta {
	var d HostDelta
	d.UpsertNetworks, d.DeleteNetworks = diffMap(old.Networks, new.Networks, hostNetworkEqual, value)
	sortHostDelta(&d)
	return d
}

// diffMap returns the rows of new that are missing or different in old, and
// the keys of old missing from new (both unsorted).
func diffMap[K comparable, V, R any](old, new map[K]V, eq func(a, b V) bool, row func(K, V) R) ([]R, []K) {
	var ups []R
	var dels []K
	for k, nv := range new {
		if ov, ok := old[k]; !ok || !eq(ov, nv) {
			ups = append(ups, row(k, nv))
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			dels = append(dels, k)
		}
	}
	return ups, dels
}

// Apply changes p by d: deletes first, then upserts. Nil maps of p are
// allocated as needed.
func (p *SwitchPlan) Apply(d SwitchDelta) {
	if p.LogicalSwitches == nil {
		p.LogicalSwitches = map[string]LogicalSwitch{}
	}
	if p.Bindings == nil {
		p.Bindings = map[BindingKey]string{}
	}
	if p.RemoteMACs == nil {
		p.RemoteMACs = map[MACKey]RemoteMAC{}
	}
	if p.McastRemotes == nil {
		p.McastRemotes = map[string]McastRemote{}
	}
	for _, k := range d.DeleteLogicalSwitches {
		delete(p.LogicalSwitches, k)
	}
	for _, k := range d.DeleteBindings {
		delete(p.Bindings, k)
	}
	for _, k := range d.DeleteRemoteMACs {
		delete(p.RemoteMACs, k)
	}
	for _, k := range d.DeleteMcastRemotes {
		delete(p.McastRemotes, k)
	}
	for _, v := range d.UpsertLogicalSwitches {
		p.LogicalSwitches[v.Name] = v
	}
	for _, v := range d.UpsertBindings {
		p.Bindings[v.Key()] = v.LogicalSwitch
	}
	for _, v := range d.UpsertRemoteMACs {
		p.RemoteMACs[v.Key()] = v
	}
	for _, v := range d.UpsertMcastRemotes {
		p.McastRemotes[v.LogicalSwitch] = cloneMcast(v)
	}
}

// Apply changes p by d: deletes first, then upserts.
func (p *HostPlan) Apply(d HostDelta) {
	if p.Networks == nil {
		p.Networks = map[string]HostNetwork{}
	}
	for _, k := range d.DeleteNetworks {
		delete(p.Networks, k)
	}
	for _, v := range d.UpsertNetworks {
		p.Networks[v.NetworkID] = cloneHostNetwork(v)
	}
}

// Clone returns a deep copy of p whose maps are never nil.
func (p SwitchPlan) Clone() SwitchPlan {
	c := NewSwitchPlan(p.Switch)
	maps.Copy(c.LogicalSwitches, p.LogicalSwitches)
	maps.Copy(c.Bindings, p.Bindings)
	maps.Copy(c.RemoteMACs, p.RemoteMACs)
	for k, v := range p.McastRemotes {
		c.McastRemotes[k] = cloneMcast(v)
	}
	return c
}

// Clone returns a deep copy of p whose map is never nil, except for the
// peers' MAC lists, which plans share (see Peer).
func (p HostPlan) Clone() HostPlan {
	c := NewHostPlan(p.Host)
	for k, v := range p.Networks {
		c.Networks[k] = cloneHostNetwork(v)
	}
	return c
}

// Empty reports whether the plan holds no row.
func (p SwitchPlan) Empty() bool {
	return len(p.LogicalSwitches) == 0 && len(p.Bindings) == 0 && len(p.RemoteMACs) == 0 && len(p.McastRemotes) == 0
}

// Empty reports whether the plan holds no network.
func (p HostPlan) Empty() bool { return len(p.Networks) == 0 }

func cloneMcast(m McastRemote) McastRemote {
	m.LocatorIPs = slices.Clone(m.LocatorIPs)
	return m
}

func cloneHostNetwork(n HostNetwork) HostNetwork {
	n.Interfaces = slices.Clone(n.Interfaces)
	n.Peers = slices.Clone(n.Peers) // the peers' MAC lists are shared: see Peer
	n.FDB = slices.Clone(n.FDB)
	n.FloodIPs = slices.Clone(n.FloodIPs)
	return n
}

func mcastEqual(a, b McastRemote) bool {
	return a.LogicalSwitch == b.LogicalSwitch && slices.Equal(a.LocatorIPs, b.LocatorIPs)
}

func hostNetworkEqual(a, b HostNetwork) bool {
	return a.NetworkID == b.NetworkID && a.VNI == b.VNI && a.MTU == b.MTU &&
		slices.Equal(a.Interfaces, b.Interfaces) && slices.EqualFunc(a.Peers, b.Peers, peerEqual) &&
		slices.Equal(a.FDB, b.FDB) && slices.Equal(a.FloodIPs, b.FloodIPs)
}

// peerEqual compares two peers; MAC lists that are the same list (the
// usual case: see Peer) compare without reading them.
func peerEqual(a, b Peer) bool {
	if a.VTEPIP != b.VTEPIP || len(a.MACs) != len(b.MACs) {
		return false
	}
	return len(a.MACs) == 0 || &a.MACs[0] == &b.MACs[0] || slices.Equal(a.MACs, b.MACs)
}

func compareBindingKey(a, b BindingKey) int {
	return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.VLAN, b.VLAN))
}

func compareMACKey(a, b MACKey) int {
	return cmp.Or(cmp.Compare(a.LogicalSwitch, b.LogicalSwitch), cmp.Compare(a.MAC, b.MAC))
}

func sortSwitchDelta(d *SwitchDelta) {
	slices.SortFunc(d.UpsertLogicalSwitches, func(a, b LogicalSwitch) int { return cmp.Compare(a.Name, b.Name) })
	slices.Sort(d.DeleteLogicalSwitches)
	slices.SortFunc(d.UpsertBindings, func(a, b Binding) int { return compareBindingKey(a.Key(), b.Key()) })
	slices.SortFunc(d.DeleteBindings, compareBindingKey)
	slices.SortFunc(d.UpsertRemoteMACs, func(a, b RemoteMAC) int { return compareMACKey(a.Key(), b.Key()) })
	slices.SortFunc(d.DeleteRemoteMACs, compareMACKey)
	slices.SortFunc(d.UpsertMcastRemotes, func(a, b McastRemote) int { return cmp.Compare(a.LogicalSwitch, b.LogicalSwitch) })
	slices.Sort(d.DeleteMcastRemotes)
}

func sortHostDelta(d *HostDelta) {
	slices.SortFunc(d.UpsertNetworks, func(a, b HostNetwork) int { return cmp.Compare(a.NetworkID, b.NetworkID) })
	slices.Sort(d.DeleteNetworks)
}

package planner

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
)

// plannable reports whether a network can be bridged: a VXLAN network (an
// empty type is taken as VXLAN) with a valid VNI.
func plannable(n model.Network) bool {
	return (n.NetworkType == "" || strings.EqualFold(n.NetworkType, "vxlan")) && n.VNI > 0 && n.VNI <= model.MaxVNI
}

// recompute replaces what network n contributes to the plans, recording every
// touched row in tr (nil: no recording). full=false keeps the switch side
// and recomputes only the host side (FDB and flood lists).
func (p *Planner) recompute(n string, full bool, tr *tracker) {
	old := p.nets[n]
	var np *netPlan
	switch {
	case full:
		np = p.computeNetwork(n)
	case old != nil:
		c := *old
		np = &c
	default:
		return
	}
	if np != nil {
		p.computeHostSide(n, np)
	}
	if full {
		p.applySwitchSide(n, old, np, tr)
	}
	p.applyHostSide(n, old, np, tr)
	if np == nil {
		delete(p.nets, n)
	} else {
		p.nets[n] = np
	}
}

// computeNetwork computes the logical switch, bindings, remote MACs and
// flood set of network n on every switch of its connected gateways, and the
// network's hosts and their peers; nil when the network is not plannable or,
// with GatewayOnly, reaches no switch.
func (p *Planner) computeNetwork(n string) *netPlan {
	nw, ok := p.networks[n]
	if !ok || !plannable(nw) {
		return nil
	}
	bindings := p.bindingsOf(n)
	if len(bindings) == 0 && p.cfg.GatewayOnly {
		return nil
	}
	np := &netPlan{
		ls: LogicalSwitch{
			Name: n, NetworkID: n, VNI: nw.VNI,
			Description: nw.Name, // ReplicationMode is per switch
		},
		bindings: bindings,
		hostIfs:  map[string][]string{},
	}

	np.ports = make(map[string]portContrib, len(p.portsByNet[n]))
	np.claims = make(map[string][]*claim, len(p.portsByNet[n]))
	np.vtepRefs = map[string]int{}
	np.hostPorts = map[string]int{}
	np.portIfs = map[string]map[string]string{}
	vtepOf := map[string]string{}
	for pid := range p.portsByNet[n] {
		pt := p.ports[pid]
		vtep, ok := vtepOf[pt.host]
		if !ok {
			vtep = p.hostVTEP(pt.host)
			vtepOf[pt.host] = vtep
		}
		np.addPort(pid, contribution(n, pid, pt, vtep), pt.iface, nil)
	}
	np.byVTEP = index{}
	for _, cs := range np.claims {
		row := winner(cs)
		np.byVTEP.add(row.LocatorIP, row.MAC)
	}
	for h := range np.hostPorts {
		np.hostIfs[h] = np.interfaces(h)
	}
	np.mcast = sourceNodeMcast(n, np.vtepRefs)
	if !p.cfg.GatewayOnly {
		np.peers = np.buildPeers(nil)
	}
	return np
}

// bindingsOf returns the VLAN bindings network n's connections ask of
// each switch of their gateways (a switch with none is present, empty).
func (p *Planner) bindingsOf(n string) map[string][]BindingKey {
	bind := map[string]map[BindingKey]struct{}{}
	for cid := range p.connsByNet[n] {
		c := p.conns[cid]
		gw, ok := p.gateways[c.GatewayID]
		if !ok {
			continue
		}
		for _, d := range gw.Devices {
			if d.Name == "" {
				continue
			}
			bs := bind[d.Name]
			if bs == nil {
				bs = map[BindingKey]struct{}{}
				bind[d.Name] = bs
			}
			for _, itf := range d.Interfaces {
				vlans := itf.SegmentationIDs
				if len(vlans) == 0 && c.SegmentationID != nil {
					vlans = []int{*c.SegmentationID}
				}
				for _, v := range vlans {
					if itf.Name != "" && v >= 0 && v <= 4095 {
						bs[BindingKey{Port: itf.Name, VLAN: v}] = struct{}{}
					}
				}
			}
		}
	}
	out := make(map[string][]BindingKey, len(bind))
	for sw, bs := range bind {
		ks := make([]BindingKey, 0, len(bs))
		for k := range bs {
			ks = append(ks, k)
		}
		slices.SortFunc(ks, compareBindingKey)
		out[sw] = ks
	}
	return out
}

// rebind recomputes network n after a change of its connections or of
// their gateways only: its ports' rows, peers and flood set stay what they
// were (a 10,000-port network's connection create rebuilt them all), and
// only the switches that start or stop carrying it, and the host side (the
// gateways' part), change.
func (p *Planner) rebind(n string, tr *tracker) {
	old := p.nets[n]
	bindings := p.bindingsOf(n)
	if old == nil || len(bindings) == 0 && p.cfg.GatewayOnly {
		p.recompute(n, true, tr)
		return
	}
	c := *old
	np := &c
	np.bindings = bindings
	p.computeHostSide(n, np)
	p.applySwitchSide(n, old, np, tr)
	p.applyHostSide(n, old, np, tr)
	p.nets[n] = np
}

// buildPeers returns the network's peers: one per host VTEP (sorted), with
// the VTEP's MACs. The MAC lists of VTEPs not in changed are np.peers' own
// (shared, see Peer); changed == nil rebuilds every list.
func (np *netPlan) buildPeers(changed map[string]struct{}) []Peer {
	if len(np.vtepRefs) == 0 {
		return nil
	}
	out := make([]Peer, 0, len(np.vtepRefs))
	for _, v := range slices.Sorted(maps.Keys(np.vtepRefs)) {
		pr := Peer{VTEPIP: v}
		_, ch := changed[v]
		if i, ok := slices.BinarySearchFunc(np.peers, v, comparePeer); ok && changed != nil && !ch {
			pr.MACs = np.peers[i].MACs
		} else if ms := np.byVTEP[v]; len(ms) > 0 {
			pr.MACs = slices.Sorted(maps.Keys(ms))
		}
		out = append(out, pr)
	}
	return out
}

func comparePeer(p Peer, vtep string) int { return cmp.Compare(p.VTEPIP, vtep) }

// peersOf returns the peers of the host whose VTEP is own: every host VTEP
// of the network but its own. It shares np.peers when there is nothing to
// leave out.
func (np *netPlan) peersOf(own string) []Peer {
	i, ok := slices.BinarySearchFunc(np.peers, own, comparePeer)
	switch {
	case !ok:
		return np.peers
	case len(np.peers) == 1:
		return nil
	}
	return slices.Concat(np.peers[:i], np.peers[i+1:])
}

// peersOf returns the peers of host h in network np.
func (p *Planner) peersOf(np *netPlan, h string) []Peer { return np.peersOf(p.hostVTEP(h)) }

// hostNetwork is network n on host h, which has ports on it, with the
// host's peers.
func (p *Planner) hostNetwork(n string, np *netPlan, h string, peers []Peer) HostNetwork {
	return HostNetwork{
		NetworkID:  n,
		VNI:        np.ls.VNI,
		MTU:        p.networks[n].MTU,
		Interfaces: np.hostIfs[h],
		Peers:      peers,
		FDB:        np.fdb,
		FloodIPs:   np.flood,
	}
}

// computeHostSide fills np.fdb and np.flood, the gateway's part of the
// network on its hosts.
func (p *Planner) computeHostSide(n string, np *netPlan) {
	np.fdb = p.gatewayFDB(n, np)
	flood := map[string]struct{}{}
	for sw := range np.bindings {
		if ip := firstTunnelIP(p.switches[sw]); ip != "" {
			flood[ip] = struct{}{}
		}
	}
	np.flood = nil
	if len(flood) > 0 {
		np.flood = slices.Sorted(maps.Keys(flood))
	}
}

// gatewayFDB returns the bare-metal MACs learned on the network's switches,
// each toward its switch, sorted by MAC. In standalone mode a MAC that is a
// port's in the network is left out: the inventory says where it is, and a
// host's VXLAN FDB entry has one destination.
func (p *Planner) gatewayFDB(n string, np *netPlan) []FDBEntry {
	type pick struct{ sw, dst string }
	best := map[string]pick{}
	for k := range p.localByNet[n] {
		m := p.localMACs[k]
		if _, ok := np.bindings[m.Switch]; !ok {
			continue
		}
		mac := normMAC(m.MAC)
		if _, vm := np.claims[mac]; vm && !p.cfg.GatewayOnly {
			continue
		}
		dst := ipv4(m.LocatorIP)
		if dst == "" {
			dst = firstTunnelIP(p.switches[m.Switch])
		}
		if mac == "" || dst == "" {
			continue
		}
		// A MAC learned on two switches (moving, or looped) goes to the
		// lowest switch name so the choice does not depend on order.
		c := pick{sw: m.Switch, dst: dst}
		if cur, ok := best[mac]; ok && cmp.Or(cmp.Compare(cur.sw, c.sw), cmp.Compare(cur.dst, c.dst)) <= 0 {
			continue
		}
		best[mac] = c
	}
	var fdb []FDBEntry
	for _, mac := range slices.Sorted(maps.Keys(best)) {
		fdb = append(fdb, FDBEntry{MAC: mac, DstIP: best[mac].dst})
	}
	return fdb
}

// hostVTEP returns the VTEP IP of the host with that name (the lowest id
// when several share it), "" when none is known.
func (p *Planner) hostVTEP(name string) string {
	ids := p.hostsByName[name]
	if len(ids) == 0 {
		return ""
	}
	best := ""
	for id := range ids {
		if best == "" || id < best {
			best = id
		}
	}
	return ipv4(p.hosts[best].VTEPIP)
}

// normMAC returns the canonical lower-case form of a 48-bit unicast MAC, ""
// if s is not one. Plans carry unicast MACs only: a Ucast_Macs_Remote row
// or a host FDB entry for a broadcast, multicast or all-zero MAC would
// capture the flooded traffic (the API refuses such port MACs; this keeps
// rows stored before, or learned by a switch, out of every plan).
func normMAC(s string) string {
	mac, _ := model.UnicastMAC(s)
	return mac
}

// hostIP returns the address of an IP or of a single-address prefix
// (allowed_address_pairs may hold CIDRs), "" otherwise: Ucast_Macs_Remote's
// ipaddr is one address.
func hostIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	if pf, err := netip.ParsePrefix(s); err == nil && pf.Bits() == pf.Addr().BitLen() {
		return pf.Addr().String()
	}
	return ""
}

// applySwitchSide turns the switch plans from old's contribution of network n
// into np's.
func (p *Planner) applySwitchSide(n string, old, np *netPlan, tr *tracker) {
	sws := map[string]struct{}{}
	if old != nil {
		for sw := range old.bindings {
			sws[sw] = struct{}{}
		}
	}
	if np != nil {
		for sw := range np.bindings {
			sws[sw] = struct{}{}
		}
	}
	for sw := range sws {
		var oldB, newB []BindingKey
		inOld, inNew := false, false
		if old != nil {
			oldB, inOld = old.bindings[sw]
		}
		if np != nil {
			newB, inNew = np.bindings[sw]
		}
		sp := p.swPlans[sw]
		if sp == nil {
			s := NewSwitchPlan(sw)
			sp = &s
			p.swPlans[sw] = sp
		}
		t := tr.sw(sw)
		if inNew {
			rep := p.replicationOf(sw)
			touch(t.ls, sp.LogicalSwitches, n)
			ls := np.ls
			ls.ReplicationMode = rep.mode
			sp.LogicalSwitches[n] = ls
			touch(t.mcast, sp.McastRemotes, n)
			if m := np.mcastFor(rep); m != nil {
				sp.McastRemotes[n] = *m
			} else {
				delete(sp.McastRemotes, n)
			}
		} else {
			touch(t.ls, sp.LogicalSwitches, n)
			delete(sp.LogicalSwitches, n)
			touch(t.mcast, sp.McastRemotes, n)
			delete(sp.McastRemotes, n)
		}
		var oldC, newC map[string][]*claim // the MACs' claims, whose winners are the rows
		if inOld {
			oldC = old.claims
		}
		if inNew {
			newC = np.claims
		}
		for mac, cs := range newC {
			v := winner(cs)
			if ocs, ok := oldC[mac]; !ok || winner(ocs) != v {
				k := MACKey{LogicalSwitch: n, MAC: mac}
				touch(t.macs, sp.RemoteMACs, k)
				sp.RemoteMACs[k] = v
			}
		}
		for mac := range oldC {
			if _, ok := newC[mac]; !ok {
				k := MACKey{LogicalSwitch: n, MAC: mac}
				touch(t.macs, sp.RemoteMACs, k)
				delete(sp.RemoteMACs, k)
			}
		}
		cl := p.claims[sw]
		if cl == nil {
			cl = map[BindingKey]map[string]struct{}{}
			p.claims[sw] = cl
		}
		for _, k := range oldB {
			if s := cl[k]; s != nil {
				delete(s, n)
				if len(s) == 0 {
					delete(cl, k)
				}
			}
		}
		for _, k := range newB {
			s := cl[k]
			if s == nil {
				s = map[string]struct{}{}
				cl[k] = s
			}
			s[n] = struct{}{}
		}
		for _, ks := range [][]BindingKey{oldB, newB} {
			for _, k := range ks {
				touch(t.bindings, sp.Bindings, k)
				// Two networks on one (port, VLAN) — possible when two
				// gateways share an interface — cannot both be bridged: the
				// lowest network id wins, whatever the order of events.
				if w := minKey(cl[k]); w != "" {
					sp.Bindings[k] = w
				} else {
					delete(sp.Bindings, k)
				}
			}
		}
		if len(cl) == 0 {
			delete(p.claims, sw)
		}
	}
}

// applyHostSide turns the host plans from old's contribution of network n
// into np's.
func (p *Planner) applyHostSide(n string, old, np *netPlan, tr *tracker) {
	hosts := map[string]struct{}{}
	if old != nil {
		for h := range old.hostIfs {
			hosts[h] = struct{}{}
		}
	}
	if np != nil {
		for h := range np.hostIfs {
			hosts[h] = struct{}{}
		}
	}
	// Every host's peers are np.peers but its own VTEP: while np.peers is
	// old's (a recompute of the gateway's part alone), a host keeps its list.
	samePeers := old != nil && np != nil && len(old.peers) == len(np.peers) &&
		(len(np.peers) == 0 || &old.peers[0] == &np.peers[0])
	for h := range hosts {
		hp := p.hostPlan(h)
		tr.touchHost(hp, n)
		ok := false
		if np != nil {
			_, ok = np.hostIfs[h]
		}
		if !ok {
			delete(hp.Networks, n)
			continue
		}
		prev, had := hp.Networks[n]
		peers := prev.Peers
		if !samePeers || !had {
			peers = p.peersOf(np, h)
		}
		hp.Networks[n] = p.hostNetwork(n, np, h, peers)
	}
}

func minKey(s map[string]struct{}) string {
	best := ""
	for k := range s {
		if best == "" || k < best {
			best = k
		}
	}
	return best
}

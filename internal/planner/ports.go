package planner

import (
	"maps"
	"slices"
	"unique"

	"github.com/l2gw/l2gw/internal/model"
)

// claim is a port's claim on a MAC of its network: its own MAC, or an
// allowed address pair's.
type claim struct {
	pair   bool
	portID string
	row    RemoteMAC
}

// less orders claims: a MAC claimed twice in a network (two ports, or a port
// and another port's address pair) goes to a port's own MAC first, then to
// the lowest port id, a rule independent of the order of events.
func (c claim) less(d claim) bool {
	if c.pair != d.pair {
		return !c.pair
	}
	return c.portID < d.portID
}

func winner(cs []*claim) RemoteMAC {
	best := cs[0]
	for _, c := range cs[1:] {
		if c.less(*best) {
			best = c
		}
	}
	return best.row
}

// portContrib is what one port contributes to its network (its bridged
// interface is in netPlan.portIfs).
type portContrib struct {
	host   string // binding host name, "" when unbound
	vtep   string // that host's VTEP IP, "" when unknown
	claims []claim
}

// port is what plans depend on of a model.Port, in the form plans use: the
// planner keeps one per port of the inventory, and a model.Port with every
// string read from the store was most of the server's live heap (issue 12).
type port struct {
	network string // interned: every port of a network shares it
	host    string // binding host name, interned; "" when unbound
	mac     string // the port's MAC in canonical form, "" when not a unicast MAC
	ip      string // the first fixed IP as an address, "" when none
	iface   string // the interface the host bridges, "" when none or admin down
	pairs   []model.AddressPair
}

// newPort keeps of pt what plans depend on. Admin-down ports keep their MAC
// rows (the MAC is still bound there, as in the original) but their
// interface is not bridged.
func newPort(pt model.Port) *port {
	rec := &port{
		network: unique.Make(pt.NetworkID).Value(),
		host:    unique.Make(pt.HostID).Value(),
		mac:     normMAC(pt.MACAddress),
		pairs:   slices.Clip(pt.AllowedAddressPairs),
	}
	if len(pt.FixedIPs) > 0 {
		rec.ip = hostIP(pt.FixedIPs[0].IPAddress)
	}
	if pt.AdminStateUp {
		rec.iface = pt.InterfaceName
	}
	return rec
}

// contribution computes what port pt (id pid, of network n, on a host whose
// VTEP is vtep) contributes.
func contribution(n, pid string, pt *port, vtep string) portContrib {
	c := portContrib{host: pt.host, vtep: vtep}
	if pt.host == "" || vtep == "" {
		return c
	}
	own := pt.mac
	if own != "" {
		c.claims = append(c.claims, claim{portID: pid, row: RemoteMAC{LogicalSwitch: n, MAC: own, IP: pt.ip, LocatorIP: vtep}})
	}
	for _, ap := range pt.pairs {
		mac := own
		if ap.MACAddress != "" {
			mac = normMAC(ap.MACAddress)
		}
		if mac == "" || slices.ContainsFunc(c.claims, func(x claim) bool { return x.row.MAC == mac }) {
			continue // the port's own MAC, or a MAC already given by an earlier pair
		}
		c.claims = append(c.claims, claim{pair: true, portID: pid, row: RemoteMAC{LogicalSwitch: n, MAC: mac, IP: hostIP(ap.IPAddress), LocatorIP: vtep}})
	}
	return c
}

// portTouch collects what a port change touched in a netPlan.
type portTouch struct {
	macs  map[string]macWas // the MACs whose claims changed, with their rows before
	hosts map[string]struct{}
	vteps bool // the set of VTEPs changed
}

// macWas is a MAC's row before a port change (had: it had one).
type macWas struct {
	row RemoteMAC
	had bool
}

// note records the row of mac before its claims change (once per change).
func (t *portTouch) note(np *netPlan, mac string) {
	if _, ok := t.macs[mac]; !ok {
		row, had := np.row(mac)
		t.macs[mac] = macWas{row, had}
	}
}

// row is the network's row of mac: its winning claim's (see claim.less).
// The rows are not kept apart from the claims: a 10,000-port network's
// were 1.6 MB beside the switch plans' copies.
func (np *netPlan) row(mac string) (RemoteMAC, bool) {
	cs, ok := np.claims[mac]
	if !ok {
		return RemoteMAC{}, false
	}
	return winner(cs), true
}

func (np *netPlan) addPort(pid string, c portContrib, iface string, t *portTouch) {
	if c.host == "" {
		return
	}
	np.ports[pid] = c
	np.hostPorts[c.host]++
	if iface != "" {
		ifs := np.portIfs[c.host]
		if ifs == nil {
			ifs = map[string]string{}
			np.portIfs[c.host] = ifs
		}
		ifs[pid] = iface
	}
	for i := range c.claims {
		cl := &c.claims[i] // shared with np.ports[pid], never changed: a claim is kept once
		if t != nil {
			t.note(np, cl.row.MAC)
		}
		np.claims[cl.row.MAC] = append(np.claims[cl.row.MAC], cl)
	}
	if c.vtep != "" {
		np.vtepRefs[c.vtep]++
	}
	if t != nil {
		t.hosts[c.host] = struct{}{}
		if c.vtep != "" && np.vtepRefs[c.vtep] == 1 {
			t.vteps = true
		}
	}
}

func (np *netPlan) removePort(pid string, t *portTouch) {
	c, ok := np.ports[pid]
	if !ok {
		return
	}
	delete(np.ports, pid)
	if np.hostPorts[c.host]--; np.hostPorts[c.host] <= 0 {
		delete(np.hostPorts, c.host)
	}
	if ifs := np.portIfs[c.host]; ifs != nil {
		delete(ifs, pid)
		if len(ifs) == 0 {
			delete(np.portIfs, c.host)
		}
	}
	for _, cl := range c.claims {
		t.note(np, cl.row.MAC)
		cs := slices.DeleteFunc(np.claims[cl.row.MAC], func(x *claim) bool { return x.portID == pid })
		if len(cs) == 0 {
			delete(np.claims, cl.row.MAC)
		} else {
			np.claims[cl.row.MAC] = cs
		}
	}
	if c.vtep != "" {
		np.vtepRefs[c.vtep]--
		if np.vtepRefs[c.vtep] == 0 {
			delete(np.vtepRefs, c.vtep)
			t.vteps = true
		}
	}
	t.hosts[c.host] = struct{}{}
}

// interfaces returns the sorted bridged interfaces of the network's ports on
// host h (nil when none).
func (np *netPlan) interfaces(h string) []string {
	var ifs []string
	for _, itf := range np.portIfs[h] {
		if itf != "" {
			ifs = append(ifs, itf)
		}
	}
	if len(ifs) == 0 {
		return nil
	}
	slices.Sort(ifs)
	return slices.Clip(slices.Compact(ifs))
}

// sourceNodeMcast returns the source-node unknown-dst row of network n: the
// sorted VTEPs of the network's hosts; nil when there is none.
func sourceNodeMcast(n string, vtepRefs map[string]int) *McastRemote {
	if len(vtepRefs) == 0 {
		return nil
	}
	return &McastRemote{LogicalSwitch: n, LocatorIPs: slices.Sorted(maps.Keys(vtepRefs))}
}

// mcastFor returns the network's unknown-dst row on a switch replicating
// with rep: the service nodes, or the source-node row; nil when there is
// none.
func (np *netPlan) mcastFor(rep replication) *McastRemote {
	if rep.mode == ReplicationServiceNode {
		return &McastRemote{LogicalSwitch: np.ls.Name, LocatorIPs: rep.nodes}
	}
	return np.mcast
}

// applyPorts updates the plans for changed ports pids of network n, touching
// only their MAC rows, their hosts and the flood set on switches, and on
// hosts the peers whose MACs or presence changed: O(changed ports) on
// switches, O(changed ports + hosts of the network) on hosts, not O(ports of
// the network).
func (p *Planner) applyPorts(n string, pids map[string]struct{}, tr *tracker) {
	np := p.nets[n]
	if np == nil {
		return // the network is not planned (GatewayOnly: reaches no switch): its ports plan nothing
	}
	t := &portTouch{macs: map[string]macWas{}, hosts: map[string]struct{}{}}
	for pid := range pids {
		np.removePort(pid, t)
		if pt, ok := p.ports[pid]; ok && pt.network == n {
			np.addPort(pid, contribution(n, pid, pt, p.hostVTEP(pt.host)), pt.iface, t)
		}
	}
	moved := map[string]struct{}{} // VTEPs whose MAC set changed
	present := false               // some MAC came or went
	for mac, was := range t.macs {
		k := MACKey{LogicalSwitch: n, MAC: mac}
		old, had := was.row, was.had
		row, has := np.row(mac)
		if had == has && old == row {
			continue
		}
		if had != has || old.LocatorIP != row.LocatorIP {
			if had {
				np.byVTEP.del(old.LocatorIP, mac)
				moved[old.LocatorIP] = struct{}{}
			}
			if has {
				np.byVTEP.add(row.LocatorIP, mac)
				moved[row.LocatorIP] = struct{}{}
			}
		}
		present = present || had != has
		for sw := range np.bindings {
			sp := p.swPlans[sw]
			touch(tr.sw(sw).macs, sp.RemoteMACs, k)
			if has {
				sp.RemoteMACs[k] = row
			} else {
				delete(sp.RemoteMACs, k)
			}
		}
	}
	if t.vteps {
		// Only source-node switches flood to the hosts; service-node
		// switches keep their service nodes.
		np.mcast = sourceNodeMcast(n, np.vtepRefs)
		for sw := range np.bindings {
			if p.replicationOf(sw).mode != ReplicationSourceNode {
				continue
			}
			sp := p.swPlans[sw]
			touch(tr.sw(sw).mcast, sp.McastRemotes, n)
			if np.mcast != nil {
				sp.McastRemotes[n] = *np.mcast
			} else {
				delete(sp.McastRemotes, n)
			}
		}
	}
	// Standalone: a change of the peers (a VTEP came, went or its MACs
	// changed) or of the bare-metal MACs left to the gateway (a port took or
	// released one) reaches every host of the network.
	all := false
	if !p.cfg.GatewayOnly {
		if t.vteps || len(moved) > 0 {
			np.peers = np.buildPeers(moved)
			all = true
		}
		if present && len(p.localByNet[n]) > 0 {
			if fdb := p.gatewayFDB(n, np); !slices.Equal(fdb, np.fdb) {
				np.fdb = fdb
				all = true
			}
		}
	}
	for h := range t.hosts {
		if _, ok := np.hostPorts[h]; !ok {
			delete(np.hostIfs, h)
		} else {
			np.hostIfs[h] = np.interfaces(h)
		}
	}
	hosts := t.hosts
	if all {
		hosts = maps.Clone(t.hosts)
		for h := range np.hostPorts {
			hosts[h] = struct{}{}
		}
	}
	for h := range hosts {
		hp := p.hostPlan(h)
		tr.touchHost(hp, n)
		if _, ok := np.hostPorts[h]; !ok {
			delete(hp.Networks, n)
			continue
		}
		// With np.peers unchanged, a host that has the network keeps its
		// peers (a port change leaves host VTEPs alone).
		prev, had := hp.Networks[n]
		peers := prev.Peers
		if all || !had {
			peers = p.peersOf(np, h)
		}
		hp.Networks[n] = p.hostNetwork(n, np, h, peers)
	}
}

package planner

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/l2gw/l2gw/internal/model"
)

// Config tunes a Planner. The zero value plans source-node replication on
// every switch and the host overlay of standalone mode.
type Config struct {
	// GatewayOnly plans on a host only the networks connected to a gateway,
	// and of those only the gateway's part (HostNetwork without Peers): for
	// an inventory whose hosts are already meshed by someone else. No
	// command sets it (with --inventory neutron, l2pop reaches Neutron's
	// own agents without host plans); the property tests use its plans as
	// the model of the gateway's part of standalone plans. False (the
	// default) is standalone mode, where l2gw owns the inventory: every host
	// gets every network with a port bound to it, with the network's other
	// hosts as peers, connected or not.
	GatewayOnly bool
	// ReplicationMode of the logical switches on a switch without an entry
	// in Switches: ReplicationSourceNode (the default when empty) or
	// ReplicationServiceNode.
	ReplicationMode string
	// ServiceNodes are the IPv4 tunnel IPs of the service nodes of that
	// default. Required with, and only allowed with, ReplicationServiceNode;
	// their sorted set is then the unknown-dst locator set of every logical
	// switch instead of the network's hosts.
	ServiceNodes []string
	// Switches overrides the default per switch (by Physical_Switch name):
	// real switches differ in which replication they support (hardware_vtep
	// schema, Logical_Switch replication_mode).
	Switches map[string]Replication
}

// Replication is how a switch replicates BUM frames of its logical
// switches: the Logical_Switch replication_mode and, for service-node
// replication, the service nodes that receive them.
type Replication struct {
	// Mode is ReplicationSourceNode (the default when empty) or
	// ReplicationServiceNode.
	Mode string
	// ServiceNodes are IPv4 tunnel IPs, required with, and only allowed
	// with, ReplicationServiceNode.
	ServiceNodes []string
}

// replication is a validated Replication: a mode and, for service-node
// replication, its sorted, deduplicated, canonical service nodes.
type replication struct {
	mode  string
	nodes []string
}

func (r Replication) resolve() (replication, error) {
	switch r.Mode {
	case "", ReplicationSourceNode:
		if len(r.ServiceNodes) > 0 {
			return replication{}, fmt.Errorf("service nodes given with replication mode %s: %w", ReplicationSourceNode, model.ErrInvalid)
		}
		return replication{mode: ReplicationSourceNode}, nil
	case ReplicationServiceNode:
		if len(r.ServiceNodes) == 0 {
			return replication{}, fmt.Errorf("replication mode %s needs service nodes: %w", ReplicationServiceNode, model.ErrInvalid)
		}
		nodes := make([]string, 0, len(r.ServiceNodes))
		for _, ip := range r.ServiceNodes {
			v := ipv4(ip)
			if v == "" {
				return replication{}, fmt.Errorf("service node %q is not an IPv4 address: %w", ip, model.ErrInvalid)
			}
			nodes = append(nodes, v)
		}
		slices.Sort(nodes)
		return replication{mode: ReplicationServiceNode, nodes: slices.Clip(slices.Compact(nodes))}, nil
	default:
		return replication{}, fmt.Errorf("unknown replication mode %q: %w", r.Mode, model.ErrInvalid)
	}
}

// Validate reports whether New would accept c: known modes, IPv4 service
// nodes given exactly with service-node replication, and non-empty switch
// names. Errors wrap model.ErrInvalid.
func (c Config) Validate() error {
	_, _, err := c.resolve()
	return err
}

func (c Config) resolve() (replication, map[string]replication, error) {
	def, err := Replication{Mode: c.ReplicationMode, ServiceNodes: c.ServiceNodes}.resolve()
	if err != nil {
		return replication{}, nil, err
	}
	per := make(map[string]replication, len(c.Switches))
	for sw, r := range c.Switches {
		if sw == "" {
			return replication{}, nil, fmt.Errorf("replication override for an empty switch name: %w", model.ErrInvalid)
		}
		rr, err := r.resolve()
		if err != nil {
			return replication{}, nil, fmt.Errorf("switch %s: %w", sw, err)
		}
		per[sw] = rr
	}
	return def, per, nil
}

// Inventory is the whole stored state a plan is computed from.
type Inventory = model.Inventory

// Result is what a Flush changed: a non-empty delta per switch and per host
// whose plan changed. Both maps are non-nil.
type Result struct {
	Switches map[string]SwitchDelta
	Hosts    map[string]HostDelta
}

// Empty reports whether no plan changed.
func (r Result) Empty() bool { return len(r.Switches) == 0 && len(r.Hosts) == 0 }

// Planner holds the stored state indexed by what each plan depends on, and
// the current plan of every switch and host. Updates are staged with the
// Upsert*/Delete* methods and take effect at Flush, which recomputes only the
// networks they affect. A Planner is not safe for concurrent use.
type Planner struct {
	cfg       Config
	defRep    replication            // of switches without an override
	switchRep map[string]replication // per-switch overrides

	gateways    map[string]model.Gateway
	gwBySwitch  index // device (switch) name -> gateway ids
	conns       map[string]model.Connection
	connsByNet  index
	connsByGw   index
	networks    map[string]model.Network
	ports       map[string]*port // by id (pointers: a map's slack costs 8 bytes a slot, not a record)
	portsByNet  index
	hostNets    map[string]map[string]int // binding host name -> network -> its ports there
	hosts       map[string]model.Host
	hostsByName index
	switches    map[string]model.Switch // by name
	localMACs   map[LocalMACKey]model.LocalMAC
	localByNet  map[string]map[LocalMACKey]struct{}

	nets      map[string]*netPlan // networks that contribute to any plan (standalone: every plannable one)
	swPlans   map[string]*SwitchPlan
	hostPlans map[string]*HostPlan
	claims    map[string]map[BindingKey]map[string]struct{} // switch -> binding -> claiming networks

	dirtyFull map[string]struct{} // networks to recompute entirely
	dirtyBind map[string]struct{} // networks whose connections or their gateways changed
	dirtyHost map[string]struct{} // networks whose host side (FDB, flood) to recompute
	dirtyPort index               // network -> ports changed in it
}

// LocalMACKey identifies a stored local MAC: the store's change-log id of a
// local MAC is Switch + "/" + NetworkID + "/" + MAC.
type LocalMACKey struct {
	Switch, NetworkID, MAC string
}

// netPlan is what one network contributes to the plans.
type netPlan struct {
	ls       LogicalSwitch
	bindings map[string][]BindingKey // per switch taking part (key present even without bindings)
	mcast    *McastRemote            // nil: no unknown-dst row
	hostIfs  map[string][]string     // hosts with a port on the network -> sorted up interfaces
	fdb      []FDBEntry              // the gateway's part of every host's network
	flood    []string
	peers    []Peer // standalone: every host VTEP of the network, sorted; never changed in place

	// byVTEP holds the network's MACs (their rows: netPlan.row) by
	// locator: the peers' MAC lists.
	byVTEP index

	// Per-port state, so that a port change updates the rows of that port
	// only (see applyPorts).
	ports     map[string]portContrib       // by port id
	claims    map[string][]*claim          // by MAC: every port claiming it (the claims of ports)
	vtepRefs  map[string]int               // host VTEP -> ports behind it
	hostPorts map[string]int               // host -> its ports on the network
	portIfs   map[string]map[string]string // host -> port id -> bridged interface, of the ports that have one
}

// New validates cfg and returns a Planner holding the plans of inv.
func New(cfg Config, inv Inventory) (*Planner, error) {
	def, per, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	p := &Planner{cfg: cfg, defRep: def, switchRep: per}
	p.reset()
	upsertAll(inv.Gateways, p.UpsertGateway)
	upsertAll(inv.Connections, p.UpsertConnection)
	upsertAll(inv.Networks, p.UpsertNetwork)
	upsertAll(inv.Ports, p.UpsertPort)
	upsertAll(inv.Hosts, p.UpsertHost)
	upsertAll(inv.Switches, p.UpsertSwitch)
	upsertAll(inv.LocalMACs, p.UpsertLocalMAC)
	p.flush(nil)
	return p, nil
}

// upsertAll stages every item with upsert.
func upsertAll[T any](items []T, upsert func(T)) {
	for _, x := range items {
		upsert(x)
	}
}

// hostPlan returns the plan of host h, created empty if it has none.
func (p *Planner) hostPlan(h string) *HostPlan {
	hp := p.hostPlans[h]
	if hp == nil {
		x := NewHostPlan(h)
		hp = &x
		p.hostPlans[h] = hp
	}
	return hp
}

// replicationOf returns the replication of switch sw.
func (p *Planner) replicationOf(sw string) replication {
	if r, ok := p.switchRep[sw]; ok {
		return r
	}
	return p.defRep
}

func (p *Planner) reset() {
	p.gateways = map[string]model.Gateway{}
	p.gwBySwitch = index{}
	p.conns = map[string]model.Connection{}
	p.connsByNet = index{}
	p.connsByGw = index{}
	p.networks = map[string]model.Network{}
	p.ports = map[string]*port{}
	p.portsByNet = index{}
	p.hostNets = map[string]map[string]int{}
	p.hosts = map[string]model.Host{}
	p.hostsByName = index{}
	p.switches = map[string]model.Switch{}
	p.localMACs = map[LocalMACKey]model.LocalMAC{}
	p.localByNet = map[string]map[LocalMACKey]struct{}{}
	p.nets = map[string]*netPlan{}
	p.swPlans = map[string]*SwitchPlan{}
	p.hostPlans = map[string]*HostPlan{}
	p.claims = map[string]map[BindingKey]map[string]struct{}{}
	p.dirtyFull = map[string]struct{}{}
	p.dirtyBind = map[string]struct{}{}
	p.dirtyHost = map[string]struct{}{}
	p.dirtyPort = index{}
}

// SwitchPlan returns a copy of the named switch's plan (empty, never nil
// maps, for a switch nothing is planned on).
func (p *Planner) SwitchPlan(name string) SwitchPlan {
	if sp, ok := p.swPlans[name]; ok {
		return sp.Clone()
	}
	return NewSwitchPlan(name)
}

// HostPlan returns a copy of the named host's plan (empty for a host with
// no planned network).
func (p *Planner) HostPlan(name string) HostPlan {
	if hp, ok := p.hostPlans[name]; ok {
		return hp.Clone()
	}
	return NewHostPlan(name)
}

// Switches returns the sorted names of the switches with a non-empty plan.
func (p *Planner) Switches() []string { return slices.Sorted(maps.Keys(p.swPlans)) }

// Hosts returns the sorted names of the hosts with a non-empty plan.
func (p *Planner) Hosts() []string { return slices.Sorted(maps.Keys(p.hostPlans)) }

// UpsertGateway stages a created or updated gateway.
func (p *Planner) UpsertGateway(g model.Gateway) {
	p.unindexGateway(g.ID)
	p.gateways[g.ID] = g
	for _, d := range g.Devices {
		p.gwBySwitch.add(d.Name, g.ID)
	}
	p.markConnsOf(g.ID)
}

// DeleteGateway stages the deletion of a gateway.
func (p *Planner) DeleteGateway(id string) {
	p.unindexGateway(id)
	p.markConnsOf(id)
}

func (p *Planner) unindexGateway(id string) {
	if old, ok := p.gateways[id]; ok {
		for _, d := range old.Devices {
			p.gwBySwitch.del(d.Name, id)
		}
		delete(p.gateways, id)
	}
}

func (p *Planner) markConnsOf(gwID string) {
	for cid := range p.connsByGw[gwID] {
		p.dirtyBind[p.conns[cid].NetworkID] = struct{}{}
	}
}

// UpsertConnection stages a created connection.
func (p *Planner) UpsertConnection(c model.Connection) {
	p.DeleteConnection(c.ID)
	p.conns[c.ID] = c
	p.connsByNet.add(c.NetworkID, c.ID)
	p.connsByGw.add(c.GatewayID, c.ID)
	p.dirtyBind[c.NetworkID] = struct{}{}
}

// DeleteConnection stages the deletion of a connection.
func (p *Planner) DeleteConnection(id string) {
	old, ok := p.conns[id]
	if !ok {
		return
	}
	delete(p.conns, id)
	p.connsByNet.del(old.NetworkID, id)
	p.connsByGw.del(old.GatewayID, id)
	p.dirtyBind[old.NetworkID] = struct{}{}
}

// UpsertNetwork stages a created or updated network.
func (p *Planner) UpsertNetwork(n model.Network) {
	p.networks[n.ID] = n
	p.dirtyFull[n.ID] = struct{}{}
}

// DeleteNetwork stages the deletion of a network. Its ports and connections
// are deleted by their own changes.
func (p *Planner) DeleteNetwork(id string) {
	delete(p.networks, id)
	p.dirtyFull[id] = struct{}{}
}

// UpsertPort stages a created or updated port.
func (p *Planner) UpsertPort(pt model.Port) {
	p.DeletePort(pt.ID)
	rec := newPort(pt)
	p.ports[pt.ID] = rec
	p.portsByNet.add(rec.network, pt.ID)
	p.hostNetAdd(rec.host, rec.network, 1)
	p.dirtyPort.add(rec.network, pt.ID)
}

// DeletePort stages the deletion of a port.
func (p *Planner) DeletePort(id string) {
	old, ok := p.ports[id]
	if !ok {
		return
	}
	delete(p.ports, id)
	p.portsByNet.del(old.network, id)
	p.hostNetAdd(old.host, old.network, -1)
	p.dirtyPort.add(old.network, id)
}

// hostNetAdd counts d more ports of network n bound to host h.
func (p *Planner) hostNetAdd(h, n string, d int) {
	nets := p.hostNets[h]
	if nets == nil {
		nets = map[string]int{}
		p.hostNets[h] = nets
	}
	nets[n] += d
	if nets[n] <= 0 {
		delete(nets, n)
		if len(nets) == 0 {
			delete(p.hostNets, h)
		}
	}
}

// UpsertHost stages a created or updated host. Only its name and VTEP IP
// matter: a heartbeat recomputes nothing.
func (p *Planner) UpsertHost(h model.Host) {
	old, ok := p.hosts[h.ID]
	if ok && old.Name == h.Name && old.VTEPIP == h.VTEPIP {
		p.hosts[h.ID] = h
		return
	}
	p.DeleteHost(h.ID)
	p.hosts[h.ID] = h
	p.hostsByName.add(h.Name, h.ID)
	p.markPortsOfHost(h.Name)
}

// DeleteHost stages the deletion of a host by id.
func (p *Planner) DeleteHost(id string) {
	old, ok := p.hosts[id]
	if !ok {
		return
	}
	delete(p.hosts, id)
	p.hostsByName.del(old.Name, id)
	p.markPortsOfHost(old.Name)
}

func (p *Planner) markPortsOfHost(name string) {
	for n := range p.hostNets[name] {
		p.dirtyFull[n] = struct{}{}
	}
}

// UpsertSwitch stages a reported switch (by name). Only its tunnel IPs
// matter to plans, and only to host plans.
func (p *Planner) UpsertSwitch(s model.Switch) {
	old, ok := p.switches[s.Name]
	p.switches[s.Name] = s
	if ok && firstTunnelIP(old) == firstTunnelIP(s) {
		return
	}
	p.markHostSideOfSwitch(s.Name)
}

// DeleteSwitch stages the deletion of a switch by name.
func (p *Planner) DeleteSwitch(name string) {
	if _, ok := p.switches[name]; !ok {
		return
	}
	delete(p.switches, name)
	p.markHostSideOfSwitch(name)
}

func (p *Planner) markHostSideOfSwitch(name string) {
	for gid := range p.gwBySwitch[name] {
		for cid := range p.connsByGw[gid] {
			p.dirtyHost[p.conns[cid].NetworkID] = struct{}{}
		}
	}
}

// UpsertLocalMAC stages a MAC learned on a switch.
func (p *Planner) UpsertLocalMAC(m model.LocalMAC) {
	k := LocalMACKey{Switch: m.Switch, NetworkID: m.NetworkID, MAC: m.MAC}
	if old, ok := p.localMACs[k]; ok && old == m {
		return
	}
	p.localMACs[k] = m
	if p.localByNet[m.NetworkID] == nil {
		p.localByNet[m.NetworkID] = map[LocalMACKey]struct{}{}
	}
	p.localByNet[m.NetworkID][k] = struct{}{}
	p.dirtyHost[m.NetworkID] = struct{}{}
}

// DeleteLocalMAC stages the deletion of a local MAC.
func (p *Planner) DeleteLocalMAC(k LocalMACKey) {
	if _, ok := p.localMACs[k]; !ok {
		return
	}
	delete(p.localMACs, k)
	delete(p.localByNet[k.NetworkID], k)
	if len(p.localByNet[k.NetworkID]) == 0 {
		delete(p.localByNet, k.NetworkID)
	}
	p.dirtyHost[k.NetworkID] = struct{}{}
}

// Flush recomputes the networks the staged updates affect and returns the
// resulting change of every switch and host plan.
func (p *Planner) Flush() Result {
	tr := newTracker()
	p.flush(tr)
	return tr.result(p)
}

func (p *Planner) flush(tr *tracker) {
	for n := range p.dirtyFull {
		p.recompute(n, true, tr)
		delete(p.dirtyBind, n)
		delete(p.dirtyHost, n)
		delete(p.dirtyPort, n)
	}
	for n := range p.dirtyBind {
		p.rebind(n, tr)
		delete(p.dirtyHost, n)
	}
	for n, pids := range p.dirtyPort {
		p.applyPorts(n, pids, tr)
	}
	for n := range p.dirtyHost {
		p.recompute(n, false, tr)
	}
	clear(p.dirtyFull)
	clear(p.dirtyBind)
	clear(p.dirtyHost)
	clear(p.dirtyPort)
	if tr == nil {
		p.dropEmpty(maps.Keys(p.swPlans), maps.Keys(p.hostPlans))
		return
	}
	// Only a plan flush touched can have become empty: the others are
	// thousands of hosts a port change leaves alone.
	p.dropEmpty(maps.Keys(tr.switches), maps.Keys(tr.hosts))
}

// dropEmpty drops the named plans that hold nothing.
func (p *Planner) dropEmpty(switches, hosts iter.Seq[string]) {
	for name := range switches {
		if sp := p.swPlans[name]; sp != nil && sp.Empty() {
			delete(p.swPlans, name)
		}
	}
	for name := range hosts {
		if hp := p.hostPlans[name]; hp != nil && hp.Empty() {
			delete(p.hostPlans, name)
		}
	}
}

// index maps a key to a set of ids.
type index map[string]map[string]struct{}

func (x index) add(k, id string) {
	s := x[k]
	if s == nil {
		s = map[string]struct{}{}
		x[k] = s
	}
	s[id] = struct{}{}
}

func (x index) del(k, id string) {
	if s := x[k]; s != nil {
		delete(s, id)
		if len(s) == 0 {
			delete(x, k)
		}
	}
}

// ipv4 returns the canonical form of an IPv4 address, or "" when s is not one
// (hardware_vtep locators are vxlan_over_ipv4).
func ipv4(s string) string {
	v, _ := model.VTEPIPv4(s)
	return v
}

// firstTunnelIP is the switch's tunnel IP hosts send to: the first valid
// IPv4 of its reported tunnel_ips.
func firstTunnelIP(s model.Switch) string {
	for _, ip := range s.TunnelIPs {
		if v := ipv4(ip); v != "" {
			return v
		}
	}
	return ""
}

package planner

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
)

const (
	net1 = "373c9b99-bee0-4af7-aac8-fa69b61c848d"
	net2 = "5d2b6a8e-0000-4000-8000-000000000002"
)

func intp(v int) *int { return &v }

// base is the transcript's workload (transcript.md §2): gw1 = gatewayhost
// port1+port2, net1 (VNI 1000) connected with default VLAN 100, p1 on
// compute1 (127.0.0.11), p2 on compute2 (127.0.0.12).
func base() Inventory {
	return Inventory{
		Gateways: []model.Gateway{{ID: "gw1", Name: "gw1", Devices: []model.Device{{
			Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port1"}, {Name: "port2"}},
		}}}},
		Connections: []model.Connection{{ID: "c1", GatewayID: "gw1", NetworkID: net1, SegmentationID: intp(100)}},
		Networks:    []model.Network{{ID: net1, Name: "net1", NetworkType: "vxlan", VNI: 1000, MTU: 1450}},
		Ports: []model.Port{
			{ID: "p1", NetworkID: net1, MACAddress: "fa:16:3e:18:b5:c1", FixedIPs: []model.FixedIP{{IPAddress: "10.0.0.186"}}, HostID: "compute1", AdminStateUp: true, InterfaceName: "tap1"},
			{ID: "p2", NetworkID: net1, MACAddress: "FA:16:3E:BC:94:CE", FixedIPs: []model.FixedIP{{IPAddress: "10.0.0.37"}, {IPAddress: "10.0.0.38"}}, HostID: "compute2", AdminStateUp: true, InterfaceName: "tap2"},
		},
		Hosts: []model.Host{
			{ID: "h1", Name: "compute1", VTEPIP: "127.0.0.11"},
			{ID: "h2", Name: "compute2", VTEPIP: "127.0.0.12"},
		},
		Switches: []model.Switch{{Name: "gatewayhost", TunnelIPs: []string{"127.0.0.42"}}},
	}
}

func ls1() LogicalSwitch {
	return LogicalSwitch{Name: net1, NetworkID: net1, VNI: 1000, ReplicationMode: ReplicationSourceNode, Description: "net1"}
}

func rmac(ls, mac, ip, loc string) (MACKey, RemoteMAC) {
	return MACKey{LogicalSwitch: ls, MAC: mac}, RemoteMAC{LogicalSwitch: ls, MAC: mac, IP: ip, LocatorIP: loc}
}

func macs(rows ...RemoteMAC) map[MACKey]RemoteMAC {
	m := map[MACKey]RemoteMAC{}
	for _, r := range rows {
		m[r.Key()] = r
	}
	return m
}

func r(ls, mac, ip, loc string) RemoteMAC {
	_, v := rmac(ls, mac, ip, loc)
	return v
}

// baseSwitch is the plan of gatewayhost for base().
func baseSwitch() SwitchPlan {
	return SwitchPlan{
		Switch:          "gatewayhost",
		LogicalSwitches: map[string]LogicalSwitch{net1: ls1()},
		Bindings:        map[BindingKey]string{{"port1", 100}: net1, {"port2", 100}: net1},
		RemoteMACs: macs(
			r(net1, "fa:16:3e:18:b5:c1", "10.0.0.186", "127.0.0.11"),
			r(net1, "fa:16:3e:bc:94:ce", "10.0.0.37", "127.0.0.12"),
		),
		McastRemotes: map[string]McastRemote{net1: {LogicalSwitch: net1, LocatorIPs: []string{"127.0.0.11", "127.0.0.12"}}},
	}
}

func baseHost(name, itf string) HostPlan {
	return HostPlan{Host: name, Networks: map[string]HostNetwork{net1: {
		NetworkID: net1, VNI: 1000, MTU: 1450, Interfaces: []string{itf}, FloodIPs: []string{"127.0.0.42"},
	}}}
}

// plans returns every non-empty plan of p.
func plans(p *Planner) (map[string]SwitchPlan, map[string]HostPlan) {
	sw := map[string]SwitchPlan{}
	for _, n := range p.Switches() {
		sw[n] = p.SwitchPlan(n)
	}
	hs := map[string]HostPlan{}
	for _, n := range p.Hosts() {
		hs[n] = p.HostPlan(n)
	}
	return sw, hs
}

// basePeers are the peers of base()'s hosts in standalone mode: each has
// the other's VM.
func basePeers() map[string][]Peer {
	return map[string][]Peer{
		"compute1": {{VTEPIP: "127.0.0.12", MACs: []string{"fa:16:3e:bc:94:ce"}}},
		"compute2": {{VTEPIP: "127.0.0.11", MACs: []string{"fa:16:3e:18:b5:c1"}}},
	}
}

// withPeers returns hs with the given peers on net1 of each named host.
func withPeers(hs map[string]HostPlan, peers map[string][]Peer) map[string]HostPlan {
	for h, ps := range peers {
		n := hs[h].Networks[net1]
		n.Peers = ps
		hs[h].Networks[net1] = n
	}
	return hs
}

// TestPlan checks every case in both modes: with GatewayOnly the hosts get
// wantHosts, the gateway's part alone; in standalone mode (the default) they
// get wantHosts plus wantPeers on net1 (basePeers when nil), or
// wantStandalone when given.
func TestPlan(t *testing.T) {
	tests := []struct {
		name           string
		cfg            Config
		edit           func(*Inventory)
		wantSw         func() map[string]SwitchPlan
		wantHosts      func() map[string]HostPlan
		wantPeers      func() map[string][]Peer
		wantStandalone func() map[string]HostPlan
	}{
		{
			name: "transcript connection",
			edit: func(*Inventory) {},
			wantSw: func() map[string]SwitchPlan {
				return map[string]SwitchPlan{"gatewayhost": baseSwitch()}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "interface segmentation ids win over the default",
			edit: func(inv *Inventory) {
				inv.Gateways[0].Devices[0].Interfaces[0].SegmentationIDs = []int{200, 201}
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.Bindings = map[BindingKey]string{{"port1", 200}: net1, {"port1", 201}: net1, {"port2", 100}: net1}
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "allowed address pairs",
			edit: func(inv *Inventory) {
				inv.Ports[0].AllowedAddressPairs = []model.AddressPair{
					{IPAddress: "10.0.0.200"},                                     // same MAC: no extra row
					{IPAddress: "10.0.0.201", MACAddress: "fa:16:3e:18:b5:c1"},    // same MAC spelled out
					{IPAddress: "10.0.0.202/32", MACAddress: "00:00:5E:00:01:01"}, // VRRP MAC, host prefix
					{IPAddress: "10.0.0.203", MACAddress: "00:00:5e:00:01:01"},    // same pair MAC again
					{IPAddress: "10.1.0.0/16", MACAddress: "00:00:5e:00:01:02"},   // network prefix: no ipaddr
					{IPAddress: "10.0.0.204", MACAddress: "not-a-mac"},            // ignored
				}
			},
			wantPeers: func() map[string][]Peer {
				return map[string][]Peer{
					"compute1": basePeers()["compute1"],
					"compute2": {{VTEPIP: "127.0.0.11", MACs: []string{"00:00:5e:00:01:01", "00:00:5e:00:01:02", "fa:16:3e:18:b5:c1"}}},
				}
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.RemoteMACs = macs(
					r(net1, "fa:16:3e:18:b5:c1", "10.0.0.186", "127.0.0.11"),
					r(net1, "fa:16:3e:bc:94:ce", "10.0.0.37", "127.0.0.12"),
					r(net1, "00:00:5e:00:01:01", "10.0.0.202", "127.0.0.11"),
					r(net1, "00:00:5e:00:01:02", "", "127.0.0.11"),
				)
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "admin down port keeps its MAC but is not bridged on the host",
			edit: func(inv *Inventory) { inv.Ports[1].AdminStateUp = false },
			wantSw: func() map[string]SwitchPlan {
				return map[string]SwitchPlan{"gatewayhost": baseSwitch()}
			},
			wantHosts: func() map[string]HostPlan {
				h2 := baseHost("compute2", "")
				n := h2.Networks[net1]
				n.Interfaces = nil
				h2.Networks[net1] = n
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": h2}
			},
		},
		{
			name: "host without VTEP, unknown host and unbound port",
			edit: func(inv *Inventory) {
				inv.Hosts[1].VTEPIP = ""
				inv.Ports = append(inv.Ports,
					model.Port{ID: "p3", NetworkID: net1, MACAddress: "fa:16:3e:00:00:03", HostID: "compute9", AdminStateUp: true, InterfaceName: "tap3"},
					model.Port{ID: "p4", NetworkID: net1, MACAddress: "fa:16:3e:00:00:04", AdminStateUp: true})
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.RemoteMACs = macs(r(net1, "fa:16:3e:18:b5:c1", "10.0.0.186", "127.0.0.11"))
				sp.McastRemotes[net1] = McastRemote{LogicalSwitch: net1, LocatorIPs: []string{"127.0.0.11"}}
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{
					"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2"),
					"compute9": baseHost("compute9", "tap3"),
				}
			},
			// compute2 and compute9 have no VTEP: nobody sends to them, they
			// send to compute1.
			wantPeers: func() map[string][]Peer {
				c1 := []Peer{{VTEPIP: "127.0.0.11", MACs: []string{"fa:16:3e:18:b5:c1"}}}
				return map[string][]Peer{"compute1": nil, "compute2": c1, "compute9": c1}
			},
		},
		{
			name: "no VTEP anywhere: no mcast row",
			edit: func(inv *Inventory) { inv.Hosts = nil },
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.RemoteMACs = map[MACKey]RemoteMAC{}
				sp.McastRemotes = map[string]McastRemote{}
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
			wantPeers: func() map[string][]Peer { return nil },
		},
		{
			name: "service node replication",
			cfg:  Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.9", "192.0.2.8", "192.0.2.9"}},
			edit: func(*Inventory) {},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				l := ls1()
				l.ReplicationMode = ReplicationServiceNode
				sp.LogicalSwitches[net1] = l
				sp.McastRemotes[net1] = McastRemote{LogicalSwitch: net1, LocatorIPs: []string{"192.0.2.8", "192.0.2.9"}}
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "per-switch service node override",
			cfg: Config{Switches: map[string]Replication{
				"otherswitch": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.51", "192.0.2.50"}},
				"unused":      {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.99"}},
			}},
			edit: func(inv *Inventory) {
				inv.Gateways[0].Devices = append(inv.Gateways[0].Devices, model.Device{Name: "otherswitch", Interfaces: []model.Interface{{Name: "eth1"}}})
				inv.Switches = append(inv.Switches, model.Switch{Name: "otherswitch", TunnelIPs: []string{"127.0.0.43"}})
			},
			wantSw: func() map[string]SwitchPlan {
				other := baseSwitch()
				other.Switch = "otherswitch"
				other.Bindings = map[BindingKey]string{{"eth1", 100}: net1}
				l := ls1()
				l.ReplicationMode = ReplicationServiceNode
				other.LogicalSwitches[net1] = l
				other.McastRemotes[net1] = McastRemote{LogicalSwitch: net1, LocatorIPs: []string{"192.0.2.50", "192.0.2.51"}}
				return map[string]SwitchPlan{"gatewayhost": baseSwitch(), "otherswitch": other}
			},
			wantHosts: func() map[string]HostPlan {
				// Hosts flood to every switch whatever its replication.
				out := map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
				for _, hp := range out {
					n := hp.Networks[net1]
					n.FloodIPs = []string{"127.0.0.42", "127.0.0.43"}
					hp.Networks[net1] = n
				}
				return out
			},
		},
		{
			name: "per-switch source node override of a service node default",
			cfg: Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.9"}, Switches: map[string]Replication{
				"gatewayhost": {Mode: ReplicationSourceNode},
			}},
			edit: func(*Inventory) {},
			wantSw: func() map[string]SwitchPlan {
				return map[string]SwitchPlan{"gatewayhost": baseSwitch()}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "service node switch without host VTEPs still has its service nodes",
			cfg: Config{Switches: map[string]Replication{
				"gatewayhost": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.50"}},
			}},
			edit: func(inv *Inventory) { inv.Hosts = nil },
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				l := ls1()
				l.ReplicationMode = ReplicationServiceNode
				sp.LogicalSwitches[net1] = l
				sp.RemoteMACs = map[MACKey]RemoteMAC{}
				sp.McastRemotes[net1] = McastRemote{LogicalSwitch: net1, LocatorIPs: []string{"192.0.2.50"}}
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
			wantPeers: func() map[string][]Peer { return nil },
		},
		{
			name: "two gateways and two devices: shared rows once, unreported switch still planned",
			edit: func(inv *Inventory) {
				inv.Gateways = append(inv.Gateways,
					model.Gateway{ID: "gw2", Devices: []model.Device{{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port2"}, {Name: "port3", SegmentationIDs: []int{0}}}}}},
					model.Gateway{ID: "gw3", Devices: []model.Device{
						{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port1"}}},
						{Name: "otherswitch", Interfaces: []model.Interface{{Name: "eth1", SegmentationIDs: []int{7}}}},
					}})
				inv.Connections = append(inv.Connections,
					model.Connection{ID: "c2", GatewayID: "gw2", NetworkID: net1, SegmentationID: intp(100)},
					model.Connection{ID: "c3", GatewayID: "gw3", NetworkID: net1, SegmentationID: intp(100)})
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.Bindings[BindingKey{"port3", 0}] = net1
				other := baseSwitch()
				other.Switch = "otherswitch"
				other.Bindings = map[BindingKey]string{{"eth1", 7}: net1}
				return map[string]SwitchPlan{"gatewayhost": sp, "otherswitch": other}
			},
			wantHosts: func() map[string]HostPlan {
				// otherswitch is not reported: no tunnel IP to flood to yet.
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "local MACs reach the hosts of the network",
			edit: func(inv *Inventory) {
				inv.Switches = append(inv.Switches, model.Switch{Name: "sw9", TunnelIPs: []string{"192.0.2.99"}})
				inv.LocalMACs = []model.LocalMAC{
					{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:02"},
					{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01", LocatorIP: "127.0.0.43"},
					{Switch: "sw9", NetworkID: net1, MAC: "52:54:00:00:00:03"},         // switch not in a connected gateway
					{Switch: "gatewayhost", NetworkID: net2, MAC: "52:54:00:00:00:04"}, // other network
				}
			},
			wantSw: func() map[string]SwitchPlan {
				return map[string]SwitchPlan{"gatewayhost": baseSwitch()}
			},
			wantHosts: func() map[string]HostPlan {
				out := map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
				for _, hp := range out {
					n := hp.Networks[net1]
					n.FDB = []FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "127.0.0.43"}, {MAC: "52:54:00:00:00:02", DstIP: "127.0.0.42"}}
					hp.Networks[net1] = n
				}
				return out
			},
		},
		{
			name: "binding claimed by two networks goes to the lowest network id",
			edit: func(inv *Inventory) {
				inv.Networks = append(inv.Networks, model.Network{ID: "0-first", Name: "n0", VNI: 1001})
				inv.Gateways = append(inv.Gateways, model.Gateway{ID: "gw2", Devices: []model.Device{{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port1"}}}}})
				inv.Connections = append(inv.Connections, model.Connection{ID: "c2", GatewayID: "gw2", NetworkID: "0-first", SegmentationID: intp(100)})
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.LogicalSwitches["0-first"] = LogicalSwitch{Name: "0-first", NetworkID: "0-first", VNI: 1001, ReplicationMode: ReplicationSourceNode, Description: "n0"}
				sp.Bindings[BindingKey{"port1", 100}] = "0-first"
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
		},
		{
			name: "duplicate MAC: own MAC beats a pair, then lowest port id",
			edit: func(inv *Inventory) {
				inv.Ports = append(inv.Ports,
					model.Port{ID: "p0", NetworkID: net1, MACAddress: "fa:16:3e:bc:94:ce", FixedIPs: []model.FixedIP{{IPAddress: "10.0.0.99"}}, HostID: "compute1"},
					model.Port{ID: "p00", NetworkID: net1, MACAddress: "fa:16:3e:00:00:09", HostID: "compute1",
						AllowedAddressPairs: []model.AddressPair{{IPAddress: "10.0.0.98", MACAddress: "fa:16:3e:18:b5:c1"}}})
			},
			wantSw: func() map[string]SwitchPlan {
				sp := baseSwitch()
				sp.RemoteMACs = macs(
					r(net1, "fa:16:3e:18:b5:c1", "10.0.0.186", "127.0.0.11"),
					r(net1, "fa:16:3e:bc:94:ce", "10.0.0.99", "127.0.0.11"),
					r(net1, "fa:16:3e:00:00:09", "", "127.0.0.11"),
				)
				return map[string]SwitchPlan{"gatewayhost": sp}
			},
			wantHosts: func() map[string]HostPlan {
				return map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
			},
			// Every MAC went to compute1's ports; compute2 is still flooded to.
			wantPeers: func() map[string][]Peer {
				return map[string][]Peer{
					"compute1": {{VTEPIP: "127.0.0.12"}},
					"compute2": {{VTEPIP: "127.0.0.11", MACs: []string{"fa:16:3e:00:00:09", "fa:16:3e:18:b5:c1", "fa:16:3e:bc:94:ce"}}},
				}
			},
		},
		{
			name: "network not VXLAN or without VNI: nothing",
			edit: func(inv *Inventory) {
				inv.Networks[0].NetworkType = "vlan"
			},
			wantSw:    func() map[string]SwitchPlan { return map[string]SwitchPlan{} },
			wantHosts: func() map[string]HostPlan { return map[string]HostPlan{} },
			wantPeers: func() map[string][]Peer { return nil },
		},
		{
			name:      "no connection: nothing",
			edit:      func(inv *Inventory) { inv.Connections = nil },
			wantSw:    func() map[string]SwitchPlan { return map[string]SwitchPlan{} },
			wantHosts: func() map[string]HostPlan { return map[string]HostPlan{} },
			// Standalone: the hosts still reach each other, without a gateway's part.
			wantStandalone: func() map[string]HostPlan { return meshOnly() },
		},
		{
			name:      "connection to a missing gateway: nothing",
			edit:      func(inv *Inventory) { inv.Gateways = nil },
			wantSw:    func() map[string]SwitchPlan { return map[string]SwitchPlan{} },
			wantHosts: func() map[string]HostPlan { return map[string]HostPlan{} },
			// Standalone: the hosts still reach each other, without a gateway's part.
			wantStandalone: func() map[string]HostPlan { return meshOnly() },
		},
		{
			name: "local MAC that is a VM's: the gateway's part has it only with GatewayOnly",
			edit: func(inv *Inventory) {
				inv.LocalMACs = []model.LocalMAC{
					{Switch: "gatewayhost", NetworkID: net1, MAC: "FA:16:3E:BC:94:CE"}, // p2's, learnt behind the switch (a loop)
					{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01"},
				}
			},
			wantSw: func() map[string]SwitchPlan {
				return map[string]SwitchPlan{"gatewayhost": baseSwitch()}
			},
			wantHosts: func() map[string]HostPlan {
				out := map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
				for _, hp := range out {
					n := hp.Networks[net1]
					n.FDB = []FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "127.0.0.42"}, {MAC: "fa:16:3e:bc:94:ce", DstIP: "127.0.0.42"}}
					hp.Networks[net1] = n
				}
				return out
			},
			wantStandalone: func() map[string]HostPlan {
				out := map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
				for _, hp := range out {
					n := hp.Networks[net1]
					n.FDB = []FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "127.0.0.42"}}
					hp.Networks[net1] = n
				}
				return withPeers(out, basePeers())
			},
		},
	}
	for _, gatewayOnly := range []bool{true, false} {
		for _, tt := range tests {
			mode := "standalone"
			if gatewayOnly {
				mode = "gateway only"
			}
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				inv := base()
				tt.edit(&inv)
				cfg := tt.cfg
				cfg.GatewayOnly = gatewayOnly
				p, err := New(cfg, inv)
				if err != nil {
					t.Fatalf("New() error = %v", err)
				}
				sw, hs := plans(p)
				if diff := cmp.Diff(tt.wantSw(), sw); diff != "" {
					t.Errorf("switch plans (-want +got):\n%s", diff)
				}
				want := tt.wantHosts()
				switch {
				case gatewayOnly:
				case tt.wantStandalone != nil:
					want = tt.wantStandalone()
				case tt.wantPeers != nil:
					want = withPeers(want, tt.wantPeers())
				default:
					want = withPeers(want, basePeers())
				}
				if diff := cmp.Diff(want, hs); diff != "" {
					t.Errorf("host plans (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// meshOnly is base()'s host plans in standalone mode without a connection:
// each host has net1 with its interface and the other host as its peer,
// and no gateway's part.
func meshOnly() map[string]HostPlan {
	out := map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}
	for _, hp := range out {
		n := hp.Networks[net1]
		n.FloodIPs = nil
		hp.Networks[net1] = n
	}
	return withPeers(out, basePeers())
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero", Config{}, false},
		{"source node", Config{ReplicationMode: ReplicationSourceNode}, false},
		{"service node", Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.1"}}, false},
		{"service node without nodes", Config{ReplicationMode: ReplicationServiceNode}, true},
		{"service node not IPv4", Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"2001:db8::1"}}, true},
		{"nodes with source node", Config{ServiceNodes: []string{"192.0.2.1"}}, true},
		{"unknown mode", Config{ReplicationMode: "flood"}, true},
		{"per-switch service node", Config{Switches: map[string]Replication{"tor1": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.50", "::ffff:192.0.2.51"}}}}, false},
		{"per-switch source node under service default", Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.1"}, Switches: map[string]Replication{"tor2": {}}}, false},
		{"per-switch service node without nodes", Config{Switches: map[string]Replication{"tor1": {Mode: ReplicationServiceNode}}}, true},
		{"per-switch service node not IPv4", Config{Switches: map[string]Replication{"tor1": {Mode: ReplicationServiceNode, ServiceNodes: []string{"tor9"}}}}, true},
		{"per-switch nodes with source node", Config{Switches: map[string]Replication{"tor1": {Mode: ReplicationSourceNode, ServiceNodes: []string{"192.0.2.1"}}}}, true},
		{"per-switch unknown mode", Config{Switches: map[string]Replication{"tor1": {Mode: "flood"}}}, true},
		{"per-switch empty name", Config{Switches: map[string]Replication{"": {}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, Inventory{})
			if (err != nil) != tt.wantErr {
				t.Errorf("New(%+v) error = %v; want error %v", tt.cfg, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, model.ErrInvalid) {
				t.Errorf("New(%+v) error = %v; want model.ErrInvalid", tt.cfg, err)
			}
			if verr := tt.cfg.Validate(); (verr != nil) != tt.wantErr {
				t.Errorf("%+v.Validate() = %v; want error %v", tt.cfg, verr, tt.wantErr)
			}
		})
	}
}

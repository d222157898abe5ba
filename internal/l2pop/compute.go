package l2pop

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// FloodingMAC and FloodingIP make the flooding entry: the agent sends the
// network's broadcast, unknown unicast and multicast traffic to that
// tunnel IP (neutron_lib.constants.FLOODING_ENTRY).
const (
	FloodingMAC = "00:00:00:00:00:00"
	FloodingIP  = "0.0.0.0"
)

// PortActive is Neutron's status of a port its agent has wired.
const PortActive = "ACTIVE"

// Entry is one [MAC, IP] pair of an fdb_entries "ports" list.
type Entry struct {
	MAC string
	IP  string
}

// NetworkEntries is what the hosts need for one connected network: per
// tunnel IP of its switches, the flooding entry and the switches'
// bare-metal MACs (each list sorted).
type NetworkEntries struct {
	VNI   int
	Ports map[string][]Entry
}

// HostNeed is a host that runs ports of connected networks.
type HostNeed struct {
	// Networks are the connected networks the host has ports on, sorted.
	Networks []string
	// Active are the host's ACTIVE ports on connected networks, sorted:
	// a port newly in this list asks for a targeted re-send (the agent
	// installs entries only for networks with a local port).
	Active []ActivePort
	// StartedAt is when the host's L2 agent started; a change is a restart
	// that wiped the agent's tunnel flows, and asks for a re-send.
	StartedAt time.Time
	// AgentType is Neutron's agent_type of the host's L2 agent.
	AgentType string
	// Problem, when set, says why l2pop cannot reach the host.
	Problem string
}

// ActivePort is an ACTIVE port of a host on a connected network.
type ActivePort struct {
	Network, Port string
}

// Desired is what Compute wants sent.
type Desired struct {
	// Networks by network id: only connected VXLAN networks whose
	// switches have reported tunnel IPs.
	Networks map[string]NetworkEntries
	// Hosts by host name.
	Hosts map[string]HostNeed
}

// Compute returns the entries every connected network needs and the hosts
// that run its ports. A network is connected when a connection binds it
// to a gateway; its switches are the gateway devices reported with tunnel
// IPs. Per-MAC entries are the switches' local MACs on the network with a
// valid IPv4 address: agents with arp_responder parse the IP, an empty one
// raises there, and IPv6 has no ARP (openstack.md §2); the flooding entry
// covers the others. A MAC goes behind its locator IP when the switch
// agent reported one, else behind the switch's first tunnel IP.
func Compute(inv model.Inventory) Desired {
	d := Desired{Networks: map[string]NetworkEntries{}, Hosts: map[string]HostNeed{}}
	nets := map[string]model.Network{}
	for _, n := range inv.Networks {
		nets[n.ID] = n
	}
	gws := map[string]model.Gateway{}
	for _, g := range inv.Gateways {
		gws[g.ID] = g
	}
	switches := map[string]model.Switch{}
	for _, s := range inv.Switches {
		switches[s.Name] = s
	}
	// network id -> switch names
	netSwitches := map[string]map[string]bool{}
	for _, c := range inv.Connections {
		n, ok := nets[c.NetworkID]
		if !ok || n.VNI <= 0 || (n.NetworkType != "" && n.NetworkType != "vxlan") {
			continue
		}
		if netSwitches[c.NetworkID] == nil {
			netSwitches[c.NetworkID] = map[string]bool{}
		}
		for _, dev := range gws[c.GatewayID].Devices {
			netSwitches[c.NetworkID][dev.Name] = true
		}
	}
	for netID, names := range netSwitches {
		ports := map[string][]Entry{}
		for name := range names {
			for _, ip := range switches[name].TunnelIPs {
				if validIPv4(ip) {
					ports[ip] = []Entry{{FloodingMAC, FloodingIP}}
				}
			}
		}
		for _, m := range inv.LocalMACs {
			if m.NetworkID != netID || !names[m.Switch] || !validIPv4(m.IPAddress) {
				continue
			}
			loc := m.LocatorIP
			if loc == "" {
				if tips := switches[m.Switch].TunnelIPs; len(tips) > 0 {
					loc = tips[0]
				}
			}
			if !validIPv4(loc) {
				continue
			}
			e := Entry{strings.ToLower(m.MAC), m.IPAddress}
			if !slices.Contains(ports[loc], e) {
				ports[loc] = append(ports[loc], e)
			}
		}
		if len(ports) == 0 {
			continue // no switch has reported a tunnel IP yet
		}
		for ip := range ports {
			slices.SortFunc(ports[ip], compareEntry)
		}
		d.Networks[netID] = NetworkEntries{VNI: nets[netID].VNI, Ports: ports}
	}
	hosts := map[string]model.Host{}
	for _, h := range inv.Hosts {
		hosts[h.Name] = h
	}
	for _, p := range inv.Ports {
		if p.HostID == "" {
			continue
		}
		if _, ok := d.Networks[p.NetworkID]; !ok {
			continue
		}
		need, seen := d.Hosts[p.HostID]
		if !seen {
			h, known := hosts[p.HostID]
			need.Problem = agentProblem(h, known)
			if h.Agent != nil {
				need.StartedAt, need.AgentType = h.Agent.StartedAt, h.Agent.Type
			}
		}
		if !slices.Contains(need.Networks, p.NetworkID) {
			need.Networks = append(need.Networks, p.NetworkID)
		}
		if p.Status == PortActive {
			need.Active = append(need.Active, ActivePort{Network: p.NetworkID, Port: p.ID})
		}
		d.Hosts[p.HostID] = need
	}
	for name, need := range d.Hosts {
		slices.Sort(need.Networks)
		slices.SortFunc(need.Active, func(a, b ActivePort) int { return strings.Compare(a.Port, b.Port) })
		d.Hosts[name] = need
	}
	return d
}

// agentProblem says why l2pop cannot reach host h ("" when it can).
func agentProblem(h model.Host, known bool) string {
	a := h.Agent
	switch {
	case !known:
		return "unknown host: no L2 agent is known there"
	case a == nil:
		return "no Neutron L2 agent (Open vSwitch or Linux bridge) on the host: l2pop cannot reach it (an OVN host?)"
	case !a.L2Population:
		return "the host's " + agentName(a) + " runs with l2_population = false: it does not listen for l2pop"
	case !a.Alive:
		return "the host's " + agentName(a) + " is not alive"
	case !slices.Contains(a.TunnelTypes, "vxlan"):
		return "the host's " + agentName(a) + " has no vxlan in tunnel_types"
	}
	return ""
}

func agentName(a *model.L2Agent) string {
	if a.Type == "" {
		return "L2 agent"
	}
	return a.Type
}

func validIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() && !a.IsUnspecified()
}

func compareEntry(a, b Entry) int {
	// The flooding entry first, as Neutron sends it.
	if a.MAC == FloodingMAC && b.MAC != FloodingMAC {
		return -1
	}
	if b.MAC == FloodingMAC && a.MAC != FloodingMAC {
		return 1
	}
	if c := strings.Compare(a.MAC, b.MAC); c != 0 {
		return c
	}
	return strings.Compare(a.IP, b.IP)
}

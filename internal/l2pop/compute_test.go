package l2pop

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
)

func TestCompute(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	connected := func(inv model.Inventory) model.Inventory {
		inv.Connections = []model.Connection{{ID: "c1", GatewayID: gw1, NetworkID: net1}}
		return inv
	}
	entries := map[string][]Entry{swIP: {{FloodingMAC, FloodingIP}, {bm1, "10.0.0.9"}}}
	tests := []struct {
		name string
		inv  model.Inventory
		want Desired
	}{
		{"not connected: nothing", baseInventory(t0), Desired{Networks: map[string]NetworkEntries{}, Hosts: map[string]HostNeed{}}},
		{"connected: flooding and IPv4 MACs; hosts with their problems", connected(baseInventory(t0)), Desired{
			Networks: map[string]NetworkEntries{net1: {VNI: 1000, Ports: entries}},
			Hosts: map[string]HostNeed{
				"compute1": {Networks: []string{net1}, Active: []ActivePort{{net1, "p1"}}, StartedAt: t0, AgentType: "Open vSwitch agent"},
				"compute2": {Networks: []string{net1}, StartedAt: t0, AgentType: "Open vSwitch agent"},
				"compute3": {Networks: []string{net1}, Active: []ActivePort{{net1, "p3"}}, StartedAt: t0, AgentType: "Open vSwitch agent",
					Problem: "the host's Open vSwitch agent runs with l2_population = false: it does not listen for l2pop"},
			}}},
		{"switch without tunnel IP: nothing yet", func() model.Inventory {
			inv := connected(baseInventory(t0))
			inv.Switches[0].TunnelIPs = nil
			inv.LocalMACs = nil
			return inv
		}(), Desired{Networks: map[string]NetworkEntries{}, Hosts: map[string]HostNeed{}}},
		{"MAC without locator goes behind the switch's first tunnel IP; upper case MAC lowered", func() model.Inventory {
			inv := connected(baseInventory(t0))
			inv.Switches[0].TunnelIPs = []string{swIP, "192.0.2.2"}
			inv.LocalMACs = []model.LocalMAC{{Switch: sw1, NetworkID: net1, MAC: "AA:BB:CC:00:00:01", IPAddress: "10.0.0.9"}}
			inv.Ports, inv.Hosts = nil, nil
			return inv
		}(), Desired{Networks: map[string]NetworkEntries{net1: {VNI: 1000, Ports: map[string][]Entry{
			swIP: {{FloodingMAC, FloodingIP}, {bm1, "10.0.0.9"}}, "192.0.2.2": {{FloodingMAC, FloodingIP}}}}},
			Hosts: map[string]HostNeed{}}},
		{"hosts: no agent, dead agent, no vxlan, unknown host", func() model.Inventory {
			inv := connected(baseInventory(t0))
			inv.Hosts = []model.Host{
				{Name: "compute1"},
				{Name: "compute2", Agent: &model.L2Agent{Type: "Linux bridge agent", L2Population: true, TunnelTypes: []string{"vxlan"}}},
				{Name: "compute3", Agent: &model.L2Agent{L2Population: true, Alive: true, TunnelTypes: []string{"gre"}}},
			}
			inv.Ports = append(inv.Ports, model.Port{ID: "p9", NetworkID: net1, HostID: "compute9"}, model.Port{ID: "p8", NetworkID: "other", HostID: "compute8"})
			return inv
		}(), Desired{Networks: map[string]NetworkEntries{net1: {VNI: 1000, Ports: entries}}, Hosts: map[string]HostNeed{
			"compute1": {Networks: []string{net1}, Active: []ActivePort{{net1, "p1"}},
				Problem: "no Neutron L2 agent (Open vSwitch or Linux bridge) on the host: l2pop cannot reach it (an OVN host?)"},
			"compute2": {Networks: []string{net1}, AgentType: "Linux bridge agent", Problem: "the host's Linux bridge agent is not alive"},
			"compute3": {Networks: []string{net1}, Active: []ActivePort{{net1, "p3"}}, Problem: "the host's L2 agent has no vxlan in tunnel_types"},
			"compute9": {Networks: []string{net1}, Problem: "unknown host: no L2 agent is known there"},
		}}},
		{"non-VXLAN network: nothing", func() model.Inventory {
			inv := connected(baseInventory(t0))
			inv.Networks[0].NetworkType = "vlan"
			return inv
		}(), Desired{Networks: map[string]NetworkEntries{}, Hosts: map[string]HostNeed{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Compute(tc.inv)); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

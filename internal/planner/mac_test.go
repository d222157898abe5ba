package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
)

// TestPlanOnlyUnicastMACs: broadcast, multicast and all-zero MACs (stored
// before the API refused them, or learned by a switch) never reach a
// switch's Ucast_Macs_Remote rows or a host's FDB, whether the plan is
// computed whole or incrementally.
func TestPlanOnlyUnicastMACs(t *testing.T) {
	bad := []string{"ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01", "00:00:00:00:00:00"}
	edit := func(inv *Inventory) {
		for i, mac := range bad {
			inv.Ports = append(inv.Ports, model.Port{ID: "bad" + mac, NetworkID: net1, MACAddress: mac, HostID: "compute1", AdminStateUp: true})
			inv.Ports[0].AllowedAddressPairs = append(inv.Ports[0].AllowedAddressPairs, model.AddressPair{IPAddress: "10.0.0.20" + string(rune('0'+i)), MACAddress: mac})
			inv.LocalMACs = append(inv.LocalMACs, model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: mac})
		}
		inv.LocalMACs = append(inv.LocalMACs, model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01"})
	}
	// Standalone mode: the peers carry only the unicast MACs.
	wantHosts := withPeers(map[string]HostPlan{"compute1": baseHost("compute1", "tap1"), "compute2": baseHost("compute2", "tap2")}, basePeers())
	for _, hp := range wantHosts {
		n := hp.Networks[net1]
		n.FDB = []FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "127.0.0.42"}}
		hp.Networks[net1] = n
	}
	check := func(t *testing.T, p *Planner) {
		t.Helper()
		sw, hs := plans(p)
		if diff := cmp.Diff(map[string]SwitchPlan{"gatewayhost": baseSwitch()}, sw); diff != "" {
			t.Errorf("switch plans (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantHosts, hs); diff != "" {
			t.Errorf("host plans (-want +got):\n%s", diff)
		}
	}
	t.Run("whole", func(t *testing.T) {
		inv := base()
		edit(&inv)
		p, err := New(Config{}, inv)
		if err != nil {
			t.Fatal(err)
		}
		check(t, p)
	})
	t.Run("incremental", func(t *testing.T) {
		p, err := New(Config{}, base())
		if err != nil {
			t.Fatal(err)
		}
		inv := base()
		edit(&inv)
		for _, pt := range inv.Ports {
			p.UpsertPort(pt)
		}
		for _, m := range inv.LocalMACs {
			p.UpsertLocalMAC(m)
		}
		p.Flush()
		check(t, p)
	})
}

package l2pop

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

const (
	net1 = "5a1c7a52-0d0e-4c0e-9d3c-6c1b1f1e0001"
	gw1  = "gw-1"
	sw1  = "sw1"
	swIP = "192.0.2.1"
	bm1  = "aa:bb:cc:00:00:01"
	bm2  = "aa:bb:cc:00:00:02"
)

var flood = [2]string{FloodingMAC, FloodingIP}

func ovsAgent(started time.Time, l2pop bool) *model.L2Agent {
	return &model.L2Agent{Type: "Open vSwitch agent", Alive: true, StartedAt: started, L2Population: l2pop, TunnelTypes: []string{"vxlan"}}
}

// baseInventory: net1 (VNI 1000) and gateway gw1 on switch sw1, not yet
// connected; bare-metal MACs behind sw1 (one with an IPv4, one with IPv6
// only, one without IP: only the first makes a per-MAC entry); compute1
// and compute2 with l2pop agents, compute3 with l2_population = false.
func baseInventory(t0 time.Time) model.Inventory {
	return model.Inventory{
		Networks: []model.Network{{ID: net1, Name: "net1", NetworkType: "vxlan", VNI: 1000}},
		Gateways: []model.Gateway{{ID: gw1, Name: "gw1", Devices: []model.Device{{Name: sw1, Interfaces: []model.Interface{{Name: "port1"}}}}}},
		Switches: []model.Switch{{Name: sw1, TunnelIPs: []string{swIP}, Connected: true}},
		LocalMACs: []model.LocalMAC{
			{Switch: sw1, NetworkID: net1, MAC: bm1, IPAddress: "10.0.0.9", LocatorIP: swIP},
			{Switch: sw1, NetworkID: net1, MAC: "aa:bb:cc:00:00:06", IPAddress: "2001:db8::6", LocatorIP: swIP},
			{Switch: sw1, NetworkID: net1, MAC: "aa:bb:cc:00:00:07", LocatorIP: swIP},
		},
		Hosts: []model.Host{
			{Name: "compute1", VTEPIP: "192.0.2.11", Agent: ovsAgent(t0, true)},
			{Name: "compute2", VTEPIP: "192.0.2.12", Agent: ovsAgent(t0, true)},
			{Name: "compute3", VTEPIP: "192.0.2.13", Agent: ovsAgent(t0, false)},
		},
		Ports: []model.Port{
			{ID: "p1", NetworkID: net1, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1", Status: "ACTIVE"},
			{ID: "p2", NetworkID: net1, MACAddress: "fa:16:3e:00:00:02", HostID: "compute2", Status: "DOWN"},
			{ID: "p3", NetworkID: net1, MACAddress: "fa:16:3e:00:00:03", HostID: "compute3", Status: "ACTIVE"},
		},
	}
}

func fdb(method string, host string, entries ...[2]string) received {
	return received{Host: host, Method: method, FDB: map[string]wireNet{net1: {SegmentID: 1000, NetworkType: "vxlan",
		Ports: map[string][][2]string{swIP: entries}}}}
}

// TestL2PopAgainstRealAgents drives the Runner through a connection's life
// against a real RabbitMQ and real oslo.messaging RPC servers running
// neutron's L2populationRpcCallBackMixin for two fake compute hosts, and
// checks that each host's agent received exactly the expected casts.
func TestL2PopAgainstRealAgents(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	rcv := startReceivers(t, rmq.URL, "compute1", "compute2")
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	src := newMemSource(baseInventory(t0))
	r, err := New(src, Config{TransportURL: rmq.URL, Reassert: -1, Settle: 4 * time.Second, BackoffMax: time.Second,
		Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	want := map[string][]received{}
	expect := func(step string, add map[string][]received) {
		t.Helper()
		for h, rs := range add {
			want[h] = append(want[h], rs...)
		}
		var got map[string][]received
		testenv.Eventually(t, 30*time.Second, step, func() (bool, string) {
			got = rcv.all(t)
			for _, h := range []string{"compute1", "compute2"} {
				if len(got[h]) < len(want[h]) {
					return false, fmt.Sprintf("%s received %d casts, want %d", h, len(got[h]), len(want[h]))
				}
			}
			return true, ""
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: casts received (-want +got):\n%s", step, diff)
		}
	}
	// The Runner has connected; nothing is connected, so nothing is sent.
	testenv.Eventually(t, 30*time.Second, "connected to the broker", func() (bool, string) {
		b := r.SystemStatus().Broker
		return b.Connected, b.Error
	})

	rev := src.Commit(func(inv *model.Inventory) {
		inv.Connections = append(inv.Connections, model.Connection{ID: "c1", GatewayID: gw1, NetworkID: net1})
	})
	both := func(rs ...func(h string) received) map[string][]received {
		out := map[string][]received{}
		for _, h := range []string{"compute1", "compute2"} {
			for _, f := range rs {
				out[h] = append(out[h], f(h))
			}
		}
		return out
	}
	expect("connect", both(func(h string) received { return fdb("add", h, flood, [2]string{bm1, "10.0.0.9"}) }))
	st := r.NetworkStatus(net1)
	wantHosts := []agentwire.L2PopHost{
		{Host: "compute1", State: agentwire.StateInSync, Agent: "Open vSwitch agent", SentRevision: rev},
		{Host: "compute2", State: agentwire.StateInSync, Agent: "Open vSwitch agent", SentRevision: rev},
		{Host: "compute3", State: agentwire.StateError, Agent: "Open vSwitch agent", SentRevision: rev,
			Reason: "the host's Open vSwitch agent runs with l2_population = false: it does not listen for l2pop"},
	}
	if diff := cmp.Diff(wantHosts, st.Hosts, cmpHosts); diff != "" {
		t.Errorf("NetworkStatus(net1).Hosts after connect (-want +got):\n%s", diff)
	}
	if st.State != agentwire.StateError {
		t.Errorf("NetworkStatus(net1).State = %q; want error (compute3)", st.State)
	}

	src.Commit(func(inv *model.Inventory) {
		inv.LocalMACs = append(inv.LocalMACs, model.LocalMAC{Switch: sw1, NetworkID: net1, MAC: bm2, IPAddress: "10.0.0.10", LocatorIP: swIP})
	})
	expect("a bare-metal MAC appears", both(func(h string) received { return fdb("add", h, [2]string{bm2, "10.0.0.10"}) }))
	src.Commit(func(inv *model.Inventory) {
		inv.LocalMACs = slices.DeleteFunc(inv.LocalMACs, func(m model.LocalMAC) bool { return m.MAC == bm2 })
	})
	expect("the MAC disappears", both(func(h string) received { return fdb("remove", h, [2]string{bm2, "10.0.0.10"}) }))

	src.Commit(func(inv *model.Inventory) { inv.Ports[1].Status = "ACTIVE" })
	expect("a port becomes ACTIVE on compute2", map[string][]received{
		"compute2": {fdb("add", "compute2", flood, [2]string{bm1, "10.0.0.9"})}})

	src.Commit(func(inv *model.Inventory) { inv.Hosts[0].Agent.StartedAt = t0.Add(time.Hour) })
	expect("compute1's agent restarts", map[string][]received{
		"compute1": {fdb("add", "compute1", flood, [2]string{bm1, "10.0.0.9"})}})

	// A second port ACTIVE on a host that already had one: the agent
	// holds the network's entries; nothing to send.
	src.Commit(func(inv *model.Inventory) {
		inv.Ports = append(inv.Ports, model.Port{ID: "p4", NetworkID: net1, HostID: "compute1", Status: "DOWN"})
	})

	rmq.Stop(t)
	testenv.Eventually(t, 30*time.Second, "the broker's loss shows", func() (bool, string) {
		st := r.NetworkStatus(net1)
		return !st.Broker.Connected && st.Hosts[0].State == agentwire.StateError, fmt.Sprintf("%+v", st.Broker)
	})
	rmq.Start(t)
	// Reconnected: everything again, once at once and once after Settle
	// (the agents may reconnect after the first); at least one arrives.
	testenv.Eventually(t, 60*time.Second, "re-assert after the broker restart", func() (bool, string) {
		got := rcv.all(t)
		for _, h := range []string{"compute1", "compute2"} {
			if len(got[h]) <= len(want[h]) {
				return false, h + " has not received the re-assert"
			}
			if diff := cmp.Diff(fdb("add", h, flood, [2]string{bm1, "10.0.0.9"}), got[h][len(got[h])-1]); diff != "" {
				return false, h + ": " + diff
			}
		}
		return true, ""
	})
	testenv.Eventually(t, 30*time.Second, "status in sync again", func() (bool, string) {
		st := r.NetworkStatus(net1)
		return st.Broker.Connected && st.Hosts[0].State == agentwire.StateInSync, fmt.Sprintf("%+v", st)
	})
	// Wait out the settle re-assert, then take the record as it is.
	testenv.Eventually(t, 30*time.Second, "the settle re-assert is done", func() (bool, string) {
		return r.SystemStatus().Broker.Connected && !r.settling.Load(), "settle pending"
	})
	want = rcv.all(t)

	src.Commit(func(inv *model.Inventory) { inv.Connections = nil })
	expect("disconnect", both(func(h string) received { return fdb("remove", h, flood, [2]string{bm1, "10.0.0.9"}) }))
	if st := r.NetworkStatus(net1); len(st.Hosts) != 0 || st.State != agentwire.StatePending {
		t.Errorf("NetworkStatus(net1) after disconnect = %+v; want no hosts, pending", st)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var cmpHosts = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".SentAt" }, cmp.Ignore())

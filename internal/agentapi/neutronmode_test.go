package agentapi_test

import (
	"strings"
	"time"

	"encoding/json"
	"net/http"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
)

// TestInventoryFromNeutron: with the inventory mirrored from Neutron, a
// host agent's registration is refused (409, the configured message) and
// the system status carries the mirror's state.
func TestInventoryFromNeutron(t *testing.T) {
	const msg = "The inventory is managed by Neutron."
	inv := &agentwire.InventoryStatus{Source: "neutron", URL: "http://neutron:9696", State: "unreachable", Summary: "neutron: unreachable since …"}
	e := newEnv(t, agentapi.Config{InventoryReadOnly: msg, Inventory: func() *agentwire.InventoryStatus { return inv }})
	code, body := e.do("POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"192.0.2.9"}`)
	var fault neutron.ErrorBody
	if code != http.StatusConflict || json.Unmarshal(body, &fault) != nil || fault.NeutronError.Message != msg {
		t.Errorf("register host = %d %s; want 409 %q", code, body, msg)
	}
	code, body = e.do("GET", agentwire.SystemStatusPath, "")
	var st agentwire.SystemStatus
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
		t.Fatalf("status = %d %s", code, body)
	}
	if st.Server.Inventory == nil || *st.Server.Inventory != *inv {
		t.Errorf("status server.inventory = %+v; want %+v", st.Server.Inventory, inv)
	}
}

// fakeL2Pop is the l2pop sender's status as the handler reads it (the
// real Runner's is tested against real agents in internal/l2pop and
// test/e2e).
type fakeL2Pop struct{ net agentwire.L2PopStatus }

func (f fakeL2Pop) NetworkStatus(string) agentwire.L2PopStatus { return f.net }
func (f fakeL2Pop) SystemStatus() agentwire.L2PopSystem {
	return agentwire.L2PopSystem{Broker: f.net.Broker, Networks: 1, Hosts: f.net.Hosts}
}

// mirrored puts the seed's connection in the store with its hosts as the
// Neutron mirror stores them: compute1's Open vSwitch agent alive,
// compute2's dead; a port of net1 on each; no l2gw host agent anywhere.
func (e *env) mirrored() seed {
	e.t.Helper()
	t0 := time.Now().UTC().Truncate(time.Second)
	agent := func(alive bool) *model.L2Agent {
		return &model.L2Agent{Type: "Open vSwitch agent", Alive: alive, StartedAt: t0, L2Population: true, TunnelTypes: []string{"vxlan"}}
	}
	if _, err := e.st.ApplyMirror(e.ctx, store.Mirror{
		Networks: []store.MirroredNetwork{{Network: model.Network{ID: "n1", Name: "net1", NetworkType: "vxlan", VNI: 1001, AdminStateUp: true, CreatedAt: t0, UpdatedAt: t0}, Revision: 1}},
		Ports: []store.MirroredPort{
			{Port: model.Port{ID: "p1", NetworkID: "n1", MACAddress: "fa:16:3e:00:00:01", HostID: "compute1", DeviceOwner: "compute:nova", Status: "ACTIVE", AdminStateUp: true, CreatedAt: t0, UpdatedAt: t0}, Revision: 1},
			{Port: model.Port{ID: "p2", NetworkID: "n1", MACAddress: "fa:16:3e:00:00:02", HostID: "compute2", DeviceOwner: "compute:nova", Status: "ACTIVE", AdminStateUp: true, CreatedAt: t0, UpdatedAt: t0}, Revision: 1},
		},
		Hosts: []model.Host{
			{ID: "a1", Name: "compute1", VTEPIP: "127.0.0.11", LastHeartbeat: t0, CreatedAt: t0, Agent: agent(true)},
			{ID: "a2", Name: "compute2", VTEPIP: "127.0.0.12", LastHeartbeat: t0.Add(-time.Hour), CreatedAt: t0, Agent: agent(false)},
		},
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.ReportSwitch(e.ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"},
		Ports: []model.SwitchPort{{Name: "p1"}}}}); err != nil {
		e.t.Fatal(err)
	}
	gw, err := e.st.CreateGateway(e.ctx, model.Gateway{Name: "gw1", Devices: []model.Device{{Name: "sw1", Interfaces: []model.Interface{{Name: "p1"}}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	vlan := 100
	c, err := e.st.CreateConnection(e.ctx, model.Connection{GatewayID: gw.ID, NetworkID: "n1", SegmentationID: &vlan})
	if err != nil {
		e.t.Fatal(err)
	}
	e.revision()
	return seed{net: "n1", gw: gw.ID, conn: c.ID}
}

// TestNeutronHostsStatus: with the inventory mirrored from Neutron no l2gw
// host agent runs, so a host's part of the connection and system status
// comes from l2pop and Neutron's agent facts, never "host agent not
// running". Without l2pop the hosts are errors saying that l2gw does not
// program them: the connection must not read in_sync while its hosts
// cannot get the gateway's entries.
func TestNeutronHostsStatus(t *testing.T) {
	broker := agentwire.L2PopBroker{TransportURL: "rabbit://guest:***@127.0.0.1:5672/", Connected: true}
	sentAt := neutron.Time{Time: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	type host struct{ state, reason string }
	tests := []struct {
		name      string
		l2pop     agentapi.L2PopStatus
		wantConn  string
		wantHosts map[string]host // reason: a substring
		wantSent  int64           // compute1's revisions
		wantSys   map[string]host // the system status's hosts, when not wantHosts
	}{
		{
			name:     "l2pop off",
			wantConn: agentwire.StateError,
			wantHosts: map[string]host{
				"compute1": {agentwire.StateError, "l2pop is off (l2gw server has no --transport-url)"},
				"compute2": {agentwire.StateError, "Open vSwitch agent is not alive"},
			},
		},
		{
			name: "l2pop sent to compute1",
			l2pop: fakeL2Pop{agentwire.L2PopStatus{State: agentwire.StateError, Broker: broker, Hosts: []agentwire.L2PopHost{
				{Host: "compute1", State: agentwire.StateInSync, Agent: "Open vSwitch agent", SentRevision: 7, SentAt: sentAt},
				{Host: "compute2", State: agentwire.StateError, Reason: "the host's Open vSwitch agent is not alive", Agent: "Open vSwitch agent"},
			}}},
			wantConn: agentwire.StateError,
			wantHosts: map[string]host{
				"compute1": {agentwire.StateInSync, ""},
				"compute2": {agentwire.StateError, "l2pop: the host's Open vSwitch agent is not alive"},
			},
			wantSent: 7,
		},
		{
			name: "l2pop not sent yet",
			l2pop: fakeL2Pop{agentwire.L2PopStatus{State: agentwire.StatePending, Broker: broker, Hosts: []agentwire.L2PopHost{
				{Host: "compute1", State: agentwire.StatePending, Reason: "not sent yet"},
				{Host: "compute2", State: agentwire.StatePending, Reason: "not sent yet"},
			}}},
			wantConn: agentwire.StatePending,
			wantHosts: map[string]host{
				"compute1": {agentwire.StatePending, "l2pop: not sent yet"},
				"compute2": {agentwire.StatePending, "l2pop: not sent yet"},
			},
		},
		{
			name:     "l2pop has no entries for the network",
			l2pop:    fakeL2Pop{agentwire.L2PopStatus{State: agentwire.StatePending, Reason: "no switch of the connection has reported a tunnel IP yet", Broker: broker, Hosts: []agentwire.L2PopHost{}}},
			wantConn: agentwire.StatePending,
			wantHosts: map[string]host{
				"compute1": {agentwire.StatePending, "l2pop: no switch of the connection has reported a tunnel IP yet"},
				"compute2": {agentwire.StatePending, "l2pop: no switch"},
			},
			// No entries to send to any host: Neutron's agent facts only.
			wantSys: map[string]host{
				"compute1": {agentwire.StateInSync, ""},
				"compute2": {agentwire.StateError, "the host's Open vSwitch agent is not alive"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &agentwire.InventoryStatus{Source: "neutron", State: "ok"}
			e := newEnv(t, agentapi.Config{InventoryReadOnly: "The inventory is managed by Neutron.",
				Inventory: func() *agentwire.InventoryStatus { return inv }, L2Pop: tc.l2pop})
			s := e.mirrored()
			// The switch agent has applied everything: only the hosts decide.
			if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, Revision: e.revision(), LastSync: time.Now()}); err != nil {
				t.Fatal(err)
			}
			st, err := e.h.ConnectionStatus(e.ctx, s.conn)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tc.wantConn || len(st.Status) != 1 || st.Status[0].State != agentwire.StateInSync {
				t.Errorf("ConnectionStatus = %+v; want state %s with switch sw1 in_sync", st, tc.wantConn)
			}
			got := map[string]agentwire.HostSync{}
			for _, hs := range st.Hosts {
				got[hs.Host] = hs
			}
			if len(got) != len(tc.wantHosts) {
				t.Errorf("ConnectionStatus hosts = %+v; want %v", st.Hosts, tc.wantHosts)
			}
			for name, want := range tc.wantHosts {
				hs := got[name]
				if hs.State != want.state || !strings.Contains(hs.Reason, want.reason) || want.reason == "" && hs.Reason != "" || strings.Contains(hs.Reason, "host agent") {
					t.Errorf("host %s = %s %q; want %s %q", name, hs.State, hs.Reason, want.state, want.reason)
				}
			}
			if c1 := got["compute1"]; !c1.Connected || c1.AppliedRevision != tc.wantSent || got["compute2"].Connected {
				t.Errorf("hosts = %+v; want compute1 connected (applied revision %d), compute2 not", st.Hosts, tc.wantSent)
			}

			sys, err := e.h.SystemStatus(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantSys := tc.wantSys
			if wantSys == nil {
				wantSys = tc.wantHosts
			}
			if len(sys.Hosts) != 2 {
				t.Errorf("system status hosts = %+v; want compute1 and compute2", sys.Hosts)
			}
			for _, hs := range sys.Hosts {
				want := wantSys[hs.Name]
				if hs.State != want.state || !strings.Contains(hs.Reason, want.reason) || strings.Contains(hs.Reason, "host agent") {
					t.Errorf("system status host %s = %s %q; want %s %q", hs.Name, hs.State, hs.Reason, want.state, want.reason)
				}
				if hs.AgentRunning != (hs.Name == "compute1") {
					t.Errorf("system status host %s agent_running = %v; want Neutron's alive", hs.Name, hs.AgentRunning)
				}
			}
		})
	}
}

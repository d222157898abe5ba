package agentapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestNonAdminForbidden(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	s := e.seed()
	tests := []struct{ method, path, body string }{
		{"POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1"},"local_macs":[]}`},
		{"PUT", agentwire.SwitchStatusPath("sw1"), `{"connected":true,"revision":1}`},
		{"GET", agentwire.SwitchPlanPath("sw1"), ""},
		{"POST", agentwire.HostRegisterPath("compute9"), `{"vtep_ip":"192.0.2.9"}`},
		{"GET", agentwire.HostPlanPath("compute1"), ""},
		{"GET", agentwire.ConnectionStatusPath(s.conn), ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := e.do(tc.method, tc.path, tc.body, "X-Roles", "member", "X-Project-Id", "p1")
			var eb neutron.ErrorBody
			if code != http.StatusForbidden || json.Unmarshal(body, &eb) != nil || eb.NeutronError.Type == "" {
				t.Errorf("%s %s as a member = %d %s; want 403 NeutronError", tc.method, tc.path, code, body)
			}
		})
	}
	// Nothing was changed by the refused calls.
	if _, err := e.st.GetSwitch(e.ctx, "sw1"); err != nil {
		t.Fatal(err)
	}
	if hs, err := e.st.ListHosts(e.ctx, store.Query{Names: []string{"compute9"}}); err != nil || len(hs) != 0 {
		t.Errorf("hosts named compute9 after a refused registration = %v, %v; want none", hs, err)
	}
}

// apiSwitch reads a switch from the northbound API.
func (e *env) apiSwitch(name string) neutron.Switch {
	e.t.Helper()
	code, body := e.do("GET", neutron.Switches.MemberPath(name), "")
	if code != http.StatusOK {
		e.t.Fatalf("GET switch %s = %d %s", name, code, body)
	}
	var v struct {
		Switch neutron.Switch `json:"switch"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		e.t.Fatal(err)
	}
	return v.Switch
}

func TestReportAndStatusShowInAPI(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	code, body := e.do("POST", agentwire.SwitchReportPath("sw9"), `{"switch":{"name":"sw9","description":"lab","tunnel_ips":["192.0.2.99"],
		"management_ips":["198.51.100.9"],"fault_status":[],"ports":[{"name":"eth1","description":"","fault_status":["down"]}]},"local_macs":[]}`)
	if code != http.StatusNoContent {
		t.Fatalf("report = %d %s; want 204", code, body)
	}
	sw := e.apiSwitch("sw9")
	want := neutron.Switch{ID: sw.ID, SwitchInventory: neutron.SwitchInventory{Name: "sw9", Description: "lab", TunnelIPs: []string{"192.0.2.99"}, ManagementIPs: []string{"198.51.100.9"},
		FaultStatus: []string{}, Ports: []neutron.SwitchPort{{Name: "eth1", FaultStatus: []string{"down"}}}}, LastSeen: sw.LastSeen,
		Connected: true} // a report comes from an agent that reads the switch
	if diff := cmp.Diff(want, sw); diff != "" {
		t.Errorf("reported switch (-want +got):\n%s", diff)
	}

	sync := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	statuses := []struct {
		body          string
		connected     bool
		syncError     string
		wantLastSync  time.Time
		wantRevision  int64
		wantSyncError string
	}{
		{`{"connected":true,"last_sync":"2026-01-02T03:04:05Z","revision":1,"error":""}`, true, "", sync, 1, ""},
		{`{"connected":false,"last_sync":"2026-01-02T03:04:05Z","revision":1,"error":"ovsdb session lost"}`, false, "ovsdb session lost", sync, 1, "ovsdb session lost"},
	}
	for _, st := range statuses {
		if code, body := e.do("PUT", agentwire.SwitchStatusPath("sw9"), st.body); code != http.StatusNoContent {
			t.Fatalf("PUT status %s = %d %s; want 204", st.body, code, body)
		}
		sw := e.apiSwitch("sw9")
		if sw.Connected != st.connected || sw.SyncError != st.wantSyncError || !sw.LastSync.Equal(st.wantLastSync) {
			t.Errorf("after status %s: switch connected=%v sync_error=%q last_sync=%v", st.body, sw.Connected, sw.SyncError, sw.LastSync)
		}
		got, err := e.st.GetSwitch(e.ctx, "sw9")
		if err != nil || got.SyncRevision != st.wantRevision {
			t.Errorf("stored sync revision = %d (%v); want %d", got.SyncRevision, err, st.wantRevision)
		}
	}
}

func TestBadReports(t *testing.T) {
	e := newEnv(t, agentapi.Config{MaxBodyBytes: 1 << 10})
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"name mismatch", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw2"}}`, http.StatusBadRequest},
		{"unknown field", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","colour":"red"}}`, http.StatusBadRequest},
		{"not json", "PUT", agentwire.SwitchStatusPath("sw1"), `connected`, http.StatusBadRequest},
		{"trailing data", "PUT", agentwire.SwitchStatusPath("sw1"), `{"connected":true} {}`, http.StatusBadRequest},
		{"too large", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","description":"` + strings.Repeat("x", 2000) + `"}}`, http.StatusRequestEntityTooLarge},
		{"bad vtep ip", "POST", agentwire.HostRegisterPath("h1"), `{"vtep_ip":"not-an-ip"}`, http.StatusBadRequest},
		{"ipv6 vtep ip", "POST", agentwire.HostRegisterPath("h1"), `{"vtep_ip":"2001:db8::1"}`, http.StatusBadRequest},
		{"wrong method", "DELETE", agentwire.SwitchReportPath("sw1"), ``, http.StatusMethodNotAllowed},
		{"unknown path", "GET", agentwire.Prefix + "/routers", ``, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.do(tc.method, tc.path, tc.body)
			if code != tc.want {
				t.Errorf("%s %s %s = %d %s; want %d", tc.method, tc.path, tc.body, code, body, tc.want)
			}
		})
	}
}

func TestRegisterHost(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	e := newEnv(t, agentapi.Config{Now: func() time.Time { return now }})
	for _, ip := range []string{"192.0.2.9", "192.0.2.9"} { // register, then a heartbeat
		code, body := e.do("POST", agentwire.HostRegisterPath("compute9"), `{"vtep_ip":"`+ip+`"}`)
		if code != http.StatusOK {
			t.Fatalf("register = %d %s; want 200", code, body)
		}
		var reg agentwire.HostResponse
		if err := json.Unmarshal(body, &reg); err != nil {
			t.Fatal(err)
		}
		if reg.Host.Name != "compute9" || reg.Host.VTEPIP != ip || !reg.Host.Alive || !reg.Host.LastHeartbeat.Equal(now) {
			t.Errorf("registered host = %+v; want compute9 at %s, alive, heartbeat %v", reg.Host, ip, now)
		}
		// /v2.0/hosts shows it alive (its clock is the real one).
		code, body = e.do("GET", neutron.PathHosts+"?name=compute9", "")
		var list struct {
			Hosts []neutron.Host `json:"hosts"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Hosts) != 1 {
			t.Fatalf("GET hosts?name=compute9 = %d %s; want one host", code, body)
		}
		if h := list.Hosts[0]; h.VTEPIP != ip || !h.Alive || h.ID != reg.Host.ID {
			t.Errorf("listed host = %+v; want %s alive with id %s", h, ip, reg.Host.ID)
		}
	}
}

func TestConnectionStatus(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	connRev := e.revision()
	status := func() agentwire.SwitchSync {
		t.Helper()
		code, body := e.do("GET", agentwire.ConnectionStatusPath(s.conn), "")
		if code != http.StatusOK {
			t.Fatalf("GET status = %d %s; want 200", code, body)
		}
		var st agentwire.ConnectionStatus
		if err := json.Unmarshal(body, &st); err != nil || len(st.Status) != 1 || st.Status[0].Switch != "sw1" {
			t.Fatalf("status body %s: want one entry for sw1 (%v)", body, err)
		}
		return st.Status[0]
	}
	setStatus := func(connected bool, rev int64, errText string) {
		t.Helper()
		if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: connected, LastSync: time.Now(), Revision: rev, Error: errText}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name      string
		do        func()
		wantState string
		reason    string // substring
	}{
		{"nothing applied yet", func() {}, agentwire.StatePending, fmt.Sprintf("applied revision 0, the connection needs %d", connRev)},
		{"agent behind", func() { setStatus(true, connRev-1, "") }, agentwire.StatePending, fmt.Sprintf("needs %d", connRev)},
		{"agent applied the connection", func() { setStatus(true, connRev, "") }, agentwire.StateInSync, ""},
		{"agent lost the switch without an error", func() { setStatus(false, connRev, "") }, agentwire.StatePending, "not connected"},
		{"agent back", func() { setStatus(true, connRev, "") }, agentwire.StateInSync, ""},
		{"a port on another network", func() { e.otherNetworkPort() }, agentwire.StateInSync, ""},
		{"a port on the connection's network", func() { e.port(s.net, "fa:16:3e:00:00:07", "compute2") }, agentwire.StatePending, "needs"},
		{"agent applied it", func() { setStatus(true, e.revision(), "") }, agentwire.StateInSync, ""},
		{"agent problem about another network", func() {
			if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, LastSync: time.Now(), Revision: e.revision(),
				Error: "logical switch other is foreign", Problems: []model.SyncProblem{{LogicalSwitch: "other", Error: "logical switch other is foreign"}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateInSync, ""},
		{"agent problem about another port", func() {
			if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, LastSync: time.Now(), Revision: e.revision(),
				Error: `port "p9" not found on the switch`, Problems: []model.SyncProblem{{Port: "p9", Error: `port "p9" not found on the switch`}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateInSync, ""},
		{"agent problem about its port", func() {
			if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, LastSync: time.Now(), Revision: e.revision(),
				Error: `port "p2" not found on the switch`, Problems: []model.SyncProblem{{Port: "p2", Error: `port "p2" not found on the switch`}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateError, `port "p2" not found`},
		{"agent problem about its logical switch", func() {
			if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, LastSync: time.Now(), Revision: e.revision(),
				Error: "binding p1/100 is held by a foreign logical switch", Problems: []model.SyncProblem{{LogicalSwitch: s.net, Port: "p1", Error: "binding p1/100 is held by a foreign logical switch"}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateError, "binding p1/100"},
		{"port gone from the switch's report", func() {
			setStatus(true, e.revision(), "")
			if err := e.st.ReportSwitch(e.ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"},
				Ports: []model.SwitchPort{{Name: "p1"}}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateError, "port p2 is not on the switch"},
		{"port back, faulty", func() {
			if err := e.st.ReportSwitch(e.ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"},
				Ports: []model.SwitchPort{{Name: "p1"}, {Name: "p2", FaultStatus: []string{"link_down"}}}}}); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateError, "port p2 is faulty: link_down"},
		{"port healthy", func() {
			if err := e.st.ReportSwitch(e.ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"},
				Ports: []model.SwitchPort{{Name: "p1"}, {Name: "p2"}}}}); err != nil {
				t.Fatal(err)
			}
			setStatus(true, e.revision(), "")
		}, agentwire.StateInSync, ""},
		{"agent error", func() { setStatus(true, connRev, "logical switch conflict") }, agentwire.StateError, "logical switch conflict"},
		{"agent lost the switch", func() { setStatus(false, connRev, "ovsdb session lost") }, agentwire.StateError, "ovsdb session lost"},
	}
	for _, step := range steps {
		step.do()
		got := status()
		if got.State != step.wantState || !strings.Contains(got.Reason, step.reason) {
			t.Errorf("%s: status = %+v; want %s with reason containing %q", step.name, got, step.wantState, step.reason)
		}
	}

	// A gateway rename does not change the switch's plan: no new
	// revision to wait for on it.
	name := "gw1-renamed"
	setStatus(true, e.revision(), "")
	if _, err := e.st.UpdateGateway(e.ctx, s.gw, modelGatewayRename(name)); err != nil {
		t.Fatal(err)
	}
	e.revision()
	if got := status(); got.State != agentwire.StateInSync {
		t.Errorf("after a gateway rename: status = %+v; want in_sync", got)
	}

	if code, body := e.do("GET", agentwire.ConnectionStatusPath("0b4f3c1e-0000-4000-8000-000000000000"), ""); code != http.StatusNotFound {
		t.Errorf("status of an unknown connection = %d %s; want 404", code, body)
	}
}

// otherNetworkPort creates net-other (VNI 1500) with a port on compute2.
func (e *env) otherNetworkPort() {
	e.t.Helper()
	nets, err := e.st.CreateNetworks(e.ctx, []model.Network{{Name: "net-other", NetworkType: "vxlan", VNI: 1500, AdminStateUp: true}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.port(nets[0].ID, "fa:16:3e:00:00:99", "compute2")
}

// TestConnectionStatusHosts: each host running ports of the connection's
// network has an entry: error while its agent is not running (never
// heard of, heartbeat expired, no plan stream open) or failing or an
// interface is absent, pending until the agent applied the revision the
// network's part of its plan last changed at, in_sync then.
func TestConnectionStatusHosts(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, agentapi.Config{Now: clock})
	s := e.seed()
	ps, err := e.st.CreatePorts(e.ctx, []model.Port{{NetworkID: s.net, MACAddress: "fa:16:3e:00:00:05", HostID: "compute1", InterfaceName: "tap5", AdminStateUp: true}})
	if err != nil {
		t.Fatal(err)
	}
	need := e.revision()
	host := func() agentwire.HostSync {
		t.Helper()
		code, body := e.do("GET", agentwire.ConnectionStatusPath(s.conn), "")
		var st agentwire.ConnectionStatus
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Hosts) != 1 || st.Hosts[0].Host != "compute1" {
			t.Fatalf("GET status = %d %s; want one host entry, compute1", code, body)
		}
		return st.Hosts[0]
	}
	put := func(body string) {
		t.Helper()
		if code, b := e.do("PUT", agentwire.HostStatusPath("compute1"), body); code != http.StatusNoContent {
			t.Fatalf("PUT host status = %d %s; want 204", code, b)
		}
	}
	var planStream *stream // the agent's plan stream
	steps := []struct {
		name      string
		do        func()
		wantState string
		reason    string
	}{
		{"never heard of", func() {}, agentwire.StateError, "never sent a heartbeat"},
		{"registered, no status yet", func() {
			if _, err := e.st.RegisterHost(e.ctx, "compute1", "192.0.2.1", now); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StatePending, "first status"},
		{"status without a plan stream: not running", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "", "networks": []}`, need))
		}, agentwire.StateError, agentapi.ErrHostAgentGone},
		{"behind", func() {
			planStream = e.openStream(agentwire.HostPlanPath("compute1"), 0)
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "", "networks": []}`, need-1))
		}, agentwire.StatePending, fmt.Sprintf("needs %d", need)},
		{"applied, interface missing", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "", "networks": [{"network_id": %q, "attached": [], "missing": ["tap5"]}]}`, need, s.net))
		}, agentwire.StateError, "interface tap5 of port " + ps[0].ID + " is absent on the host"},
		{"applied, attached", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "", "networks": [{"network_id": %q, "attached": ["tap5"], "missing": []}]}`, need, s.net))
		}, agentwire.StateInSync, ""},
		// An agent that reports no per-network facts (before issue 9): its
		// error concerns every network.
		{"agent failing", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "netlink: permission denied", "networks": [{"network_id": %q, "attached": ["tap5"], "missing": []}]}`, need, s.net))
		}, agentwire.StateError, "netlink: permission denied"},
		// Per-network facts: another network failing is not this one's
		// problem, though the host's revision waits for it.
		{"another network failing", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "create vxlan l2vx2000: file exists", "networks": [`+
				`{"network_id": %q, "attached": ["tap5"], "missing": [], "revision": %d}, {"network_id": "other", "attached": [], "missing": [], "error": "create vxlan l2vx2000: file exists"}]}`, need-1, s.net, need))
		}, agentwire.StateInSync, ""},
		{"this network failing", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "create vxlan l2vx1000: file exists", "networks": [`+
				`{"network_id": %q, "attached": [], "missing": [], "revision": %d, "error": "create vxlan l2vx1000: file exists"}]}`, need-1, s.net, need-1))
		}, agentwire.StateError, "the host agent failed to realise the network: create vxlan l2vx1000: file exists"},
		{"this network realised before its last change", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "create vxlan l2vx2000: file exists", "networks": [`+
				`{"network_id": %q, "attached": ["tap5"], "missing": [], "revision": %d}, {"network_id": "other", "error": "create vxlan l2vx2000: file exists"}]}`, need-1, s.net, need-1))
		}, agentwire.StatePending, fmt.Sprintf("has applied revision %d, the connection needs %d", need-1, need)},
		{"agent recovered", func() {
			put(fmt.Sprintf(`{"connected": true, "last_sync": null, "revision": %d, "error": "", "networks": [{"network_id": %q, "attached": ["tap5"], "missing": []}]}`, need, s.net))
		}, agentwire.StateInSync, ""},
		{"heartbeat expired", func() { mu.Lock(); now = now.Add(2 * neutron.HostAliveWindow); mu.Unlock() }, agentwire.StateError, "last heartbeat at"},
		{"heartbeat again", func() {
			if _, err := e.st.RegisterHost(e.ctx, "compute1", "192.0.2.1", clock()); err != nil {
				t.Fatal(err)
			}
		}, agentwire.StateInSync, ""},
		{"plan stream ends", func() {
			planStream.close()
			testenv.Eventually(t, 10*time.Second, "host marked gone", func() (bool, string) {
				hs, err := e.st.GetHostStatus(e.ctx, "compute1")
				return err == nil && !hs.Connected, fmt.Sprintf("%+v %v", hs, err)
			})
		}, agentwire.StateError, agentapi.ErrHostAgentGone},
	}
	for _, step := range steps {
		step.do()
		got := host()
		if got.State != step.wantState || !strings.Contains(got.Reason, step.reason) {
			t.Errorf("%s: host status = %+v; want %s with reason containing %q", step.name, got, step.wantState, step.reason)
		}
	}
}

func modelGatewayRename(name string) model.GatewayUpdate { return model.GatewayUpdate{Name: &name} }

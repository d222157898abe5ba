package agentapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/store"
)

// hostPlan is the host's plan as its agent's stream starts it.
func (e *env) hostPlan(name string) planner.HostPlan {
	e.t.Helper()
	e.revision()
	s := e.openStream(agentwire.HostPlanPath(name), 0)
	defer s.close()
	var ev planner.HostEvent
	if line := s.line(); json.Unmarshal([]byte(line), &ev) != nil || ev.Plan == nil {
		e.t.Fatalf("host %s plan stream starts with %s; want a snapshot", name, line)
	}
	return *ev.Plan
}

func report(sw string, tunnels []string, macs ...string) string {
	b, _ := json.Marshal(agentwire.SwitchReport{Switch: agentwire.Switch{Name: sw, TunnelIPs: tunnels, Ports: []neutron.SwitchPort{{Name: "p1"}, {Name: "p2"}}}})
	var rep map[string]any
	_ = json.Unmarshal(b, &rep)
	var lm []any
	for i := 0; i+2 < len(macs)+1; i += 3 {
		lm = append(lm, map[string]string{"network_id": macs[i], "mac_address": macs[i+1], "ip_address": "", "locator_ip": macs[i+2]})
	}
	rep["local_macs"] = lm
	b, _ = json.Marshal(rep)
	return string(b)
}

// TestReportPortMACConflict: a switch claiming a VM port's MAC as a local
// MAC never moves the VM's traffic: behind another IP than its own tunnel
// IPs the report is refused; behind its own, the report is taken without
// that MAC, the hosts' plans keep the VM's MAC toward its host, and the
// conflict shows as the switch's sync error and in the connection status.
func TestReportPortMACConflict(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	e.port(s.net, "fa:16:3e:00:00:02", "compute2")
	const vm, bm = "fa:16:3e:00:00:01", "52:54:00:00:00:09"

	code, body := e.do("POST", agentwire.SwitchReportPath("sw1"), report("sw1", []string{"192.0.2.10"}, s.net, vm, "10.9.9.9"))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "not one of switch sw1's tunnel IPs") {
		t.Errorf("report of a VM MAC behind 10.9.9.9 = %d %s; want 400 naming the tunnel IPs", code, body)
	}
	code, body = e.do("POST", agentwire.SwitchReportPath("sw1"), report("sw1", []string{"192.0.2.10"}, s.net, vm, "192.0.2.10", s.net, bm, "192.0.2.10"))
	if code != http.StatusNoContent {
		t.Fatalf("report of a VM MAC behind the switch = %d %s; want 204", code, body)
	}
	lms, err := e.st.ListLocalMACs(e.ctx, store.Query{Names: []string{"sw1"}})
	if err != nil || len(lms) != 1 || lms[0].MAC != bm {
		t.Errorf("stored local MACs = %+v, %v; want only %s", lms, err, bm)
	}
	hp := e.hostPlan("compute2")
	n := hp.Networks[s.net]
	wantFDB := []planner.FDBEntry{{MAC: bm, DstIP: "192.0.2.10"}}
	if !slices.Equal(n.FDB, wantFDB) {
		t.Errorf("compute2 FDB = %+v; want %+v", n.FDB, wantFDB)
	}
	if len(n.Peers) != 1 || n.Peers[0].VTEPIP != "192.0.2.1" || !slices.Contains(n.Peers[0].MACs, vm) {
		t.Errorf("compute2 peers = %+v; want compute1 (192.0.2.1) with %s", n.Peers, vm)
	}
	sw := e.apiSwitch("sw1")
	if !strings.Contains(sw.SyncError, vm) || !strings.Contains(sw.SyncError, "not used") {
		t.Errorf("sw1 sync_error = %q; want the conflict on %s", sw.SyncError, vm)
	}
	// The agent's own status keeps the conflict shown; the connection is in error.
	rev := e.revision()
	if code, body := e.do("PUT", agentwire.SwitchStatusPath("sw1"), fmt.Sprintf(`{"connected":true,"revision":%d,"error":""}`, rev)); code != http.StatusNoContent {
		t.Fatalf("status = %d %s", code, body)
	}
	if sw := e.apiSwitch("sw1"); !strings.Contains(sw.SyncError, vm) {
		t.Errorf("sw1 sync_error after the agent's status = %q; want the conflict on %s", sw.SyncError, vm)
	}
	e.revision()
	code, body = e.do("GET", agentwire.ConnectionStatusPath(s.conn), "")
	var cs agentwire.ConnectionStatus
	if code != http.StatusOK || json.Unmarshal(body, &cs) != nil || len(cs.Status) != 1 || cs.Status[0].State != agentwire.StateError || !strings.Contains(cs.Status[0].Reason, vm) {
		t.Errorf("connection status = %d %s; want sw1 in error naming %s", code, body, vm)
	}
	// A report without the MAC clears the conflict.
	if code, body := e.do("POST", agentwire.SwitchReportPath("sw1"), report("sw1", []string{"192.0.2.10"}, s.net, bm, "192.0.2.10")); code != http.StatusNoContent {
		t.Fatalf("clean report = %d %s", code, body)
	}
	if sw := e.apiSwitch("sw1"); sw.SyncError != "" {
		t.Errorf("sw1 sync_error after a clean report = %q; want none", sw.SyncError)
	}
}

// TestStatusRevisionBeyondStore: a status claiming a revision the store
// has not reached is refused and the connection does not read in_sync.
func TestStatusRevisionBeyondStore(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	for _, path := range []string{agentwire.SwitchStatusPath("sw1"), agentwire.HostStatusPath("compute1")} {
		for _, rev := range []string{"999999", "-1"} {
			code, body := e.do("PUT", path, `{"connected":true,"revision":`+rev+`,"error":""}`)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "revision") {
				t.Errorf("PUT %s revision %s = %d %s; want 400 about the revision", path, rev, code, body)
			}
		}
	}
	// A network's revision is checked like the host's.
	for _, rev := range []string{"999999", "-1"} {
		code, body := e.do("PUT", agentwire.HostStatusPath("compute1"), `{"connected":true,"revision":0,"error":"x","networks":[{"network_id":"`+s.net+`","revision":`+rev+`}]}`)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "revision") {
			t.Errorf("PUT host status, network revision %s = %d %s; want 400 about the revision", rev, code, body)
		}
	}
	code, body := e.do("GET", agentwire.ConnectionStatusPath(s.conn), "")
	var cs agentwire.ConnectionStatus
	if code != http.StatusOK || json.Unmarshal(body, &cs) != nil || cs.State == agentwire.StateInSync {
		t.Errorf("connection status after refused statuses = %d %s; want not in_sync", code, body)
	}
	for _, st := range cs.Status {
		if st.State == agentwire.StateInSync || st.AppliedRevision != 0 {
			t.Errorf("switch %s = %s applied %d; want not in_sync, nothing applied", st.Switch, st.State, st.AppliedRevision)
		}
	}
	// At the edge: the plans' revision, which needs no store read, is
	// taken, and the one after it is not.
	cur := e.revision()
	for _, tc := range []struct {
		rev  int64
		want int
	}{{cur, http.StatusNoContent}, {cur + 1, http.StatusBadRequest}} {
		if code, body := e.do("PUT", agentwire.SwitchStatusPath("sw1"), fmt.Sprintf(`{"connected":true,"revision":%d,"error":""}`, tc.rev)); code != tc.want {
			t.Errorf("PUT switch status at revision %d (the store's: %d) = %d %s; want %d", tc.rev, cur, code, body, tc.want)
		}
	}
}

// TestAgentInputChecks: addresses, lengths and counts of agent input are
// checked like API input.
func TestAgentInputChecks(t *testing.T) {
	e := newEnv(t, agentapi.Config{MaxBodyBytes: 64 << 20})
	s := e.seed()
	tun := []string{"192.0.2.10"}
	long := strings.Repeat("x", agentapi.MaxNameLen+1)
	many := func(n int, item string) string { return strings.TrimSuffix(strings.Repeat(item+",", n), ",") }
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"bad mac", "POST", agentwire.SwitchReportPath("sw1"), report("sw1", tun, s.net, "zz:00:00:00:00:01", "192.0.2.10"), 400},
		{"multicast mac", "POST", agentwire.SwitchReportPath("sw1"), report("sw1", tun, s.net, "01:00:5e:00:00:01", "192.0.2.10"), 400},
		{"bad locator", "POST", agentwire.SwitchReportPath("sw1"), report("sw1", tun, s.net, "52:54:00:00:00:01", "not-an-ip"), 400},
		{"foreign locator", "POST", agentwire.SwitchReportPath("sw1"), report("sw1", tun, s.net, "52:54:00:00:00:01", "192.0.2.1"), 400},
		{"bad tunnel ip", "POST", agentwire.SwitchReportPath("sw1"), report("sw1", []string{"192.0.2.300"}), 400},
		{"bad mac ip", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","tunnel_ips":["192.0.2.10"]},"local_macs":[{"network_id":"` + s.net + `","mac_address":"52:54:00:00:00:01","ip_address":"10.0.0.999","locator_ip":"192.0.2.10"}]}`, 400},
		{"long port name", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","ports":[{"name":"` + long + `"}]},"local_macs":[]}`, 400},
		{"long switch name", "POST", agentwire.SwitchReportPath(long), `{"switch":{},"local_macs":[]}`, 400},
		{"long host name", "POST", agentwire.HostRegisterPath(long), `{"vtep_ip":"192.0.2.77"}`, 400},
		{"too many ports", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","ports":[` + many(agentapi.MaxSwitchPorts+1, `{"name":"p"}`) + `]},"local_macs":[]}`, 400},
		{"too many local macs", "POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1"},"local_macs":[` + many(agentapi.MaxLocalMACs+1, `{}`) + `]}`, 400},
		{"too many problems", "PUT", agentwire.SwitchStatusPath("sw1"), `{"connected":true,"revision":1,"error":"x","problems":[` + many(agentapi.MaxProblems+1, `{"error":"x"}`) + `]}`, 400},
		{"too many networks", "PUT", agentwire.HostStatusPath("compute1"), `{"connected":true,"revision":1,"error":"","networks":[` + many(agentapi.MaxHostNetworks+1, `{"network_id":"n"}`) + `]}`, 400},
		{"long interface", "PUT", agentwire.HostStatusPath("compute1"), `{"connected":true,"revision":1,"error":"","networks":[{"network_id":"n","attached":["` + long + `"]}]}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.do(tc.method, tc.path, tc.body)
			var eb neutron.ErrorBody
			if code != tc.want || json.Unmarshal(body, &eb) != nil || eb.NeutronError.Message == "" {
				t.Errorf("%s %s = %d %.300s; want %d NeutronError", tc.method, tc.path, code, body, tc.want)
			}
		})
	}
	// Nothing refused was stored; the seed's switch is as it was.
	if sw := e.apiSwitch("sw1"); !slices.Equal(sw.TunnelIPs, tun) || len(sw.Ports) != 2 {
		t.Errorf("sw1 after refused reports = %+v; want the seed's", sw)
	}
	if lms, err := e.st.ListLocalMACs(e.ctx, store.Query{}); err != nil || len(lms) != 0 {
		t.Errorf("local MACs after refused reports = %+v, %v; want none", lms, err)
	}
	// A body over MaxBodyBytes is a 413.
	small := newEnv(t, agentapi.Config{MaxBodyBytes: 1 << 10})
	if code, body := small.do("POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1"},"local_macs":[`+many(400, `{}`)+`]}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize report = %d %s; want 413", code, body)
	}
}

// TestLargeReport: a switch report over the 1 MiB of other bodies (10000
// local MACs) is taken by default.
func TestLargeReport(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	var macs []string
	for i := range 10000 {
		macs = append(macs, s.net, fmt.Sprintf("52:54:00:00:%02x:%02x", i>>8, i&0xff), "192.0.2.10")
	}
	body := report("sw1", []string{"192.0.2.10"}, macs...)
	if len(body) <= 1<<20 {
		t.Fatalf("report of %d bytes; want over 1 MiB", len(body))
	}
	if code, resp := e.do("POST", agentwire.SwitchReportPath("sw1"), body); code != http.StatusNoContent {
		t.Fatalf("report of 10000 MACs = %d %.300s; want 204", code, resp)
	}
	if lms, err := e.st.ListLocalMACs(e.ctx, store.Query{Names: []string{"sw1"}}); err != nil || len(lms) != 10000 {
		t.Errorf("stored local MACs = %d, %v; want 10000", len(lms), err)
	}
}

package switchagent

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/planner"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// planBuilder builds SwitchPlans for tests.
type planBuilder struct{ p planner.SwitchPlan }

func newPlan() *planBuilder { return &planBuilder{planner.NewSwitchPlan("gatewayhost")} }

func (b *planBuilder) ls(name string, vni int) *planBuilder {
	b.p.LogicalSwitches[name] = planner.LogicalSwitch{Name: name, NetworkID: "net-" + name, VNI: vni}
	return b
}

func (b *planBuilder) bind(port string, vlan int, ls string) *planBuilder {
	b.p.Bindings[planner.BindingKey{Port: port, VLAN: vlan}] = ls
	return b
}

func (b *planBuilder) mac(ls, mac, ip, loc string) *planBuilder {
	b.p.RemoteMACs[planner.MACKey{LogicalSwitch: ls, MAC: mac}] = planner.RemoteMAC{LogicalSwitch: ls, MAC: mac, IP: ip, LocatorIP: loc}
	return b
}

func (b *planBuilder) flood(ls string, ips ...string) *planBuilder {
	b.p.McastRemotes[ls] = planner.McastRemote{LogicalSwitch: ls, LocatorIPs: ips}
	return b
}

func (b *planBuilder) build() planner.SwitchPlan { return b.p }

// ourState is the part of the database a plan describes.
func ourState(t testing.TB, lines []string) []string {
	t.Helper()
	return filter(lines, "ls ", "binding ", "Ucast_Macs_Remote ", "Mcast_Macs_Remote ", "locator ", "locator_set ")
}

func TestSeedWorkflow(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	before := rawDump(t, o)
	plans, rec := newFakePlans(), &recorder{}
	const (
		h1, h2, h3 = "192.0.2.11", "192.0.2.12", "192.0.2.13"
		m1, m2, m3 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"
	)
	seed := func() *planBuilder {
		return newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 100, "net1")
	}
	steps := []struct {
		name string
		plan planner.SwitchPlan
		want []string
	}{
		{"seed", seed().mac("net1", m1, "10.0.0.1", h1).mac("net1", m2, "10.0.0.2", h2).flood("net1", h1, h2).build(), []string{
			"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11 192.0.2.12]",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:02 ip=10.0.0.2 -> 192.0.2.12",
			"binding port1/100 net1",
			"binding port2/100 net1",
			"locator vxlan_over_ipv4 192.0.2.11 key=[]",
			"locator vxlan_over_ipv4 192.0.2.12 key=[]",
			"locator_set [192.0.2.11 192.0.2.12]",
			"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		}},
		{"port add", seed().mac("net1", m1, "10.0.0.1", h1).mac("net1", m2, "10.0.0.2", h2).mac("net1", m3, "10.0.0.3", h3).flood("net1", h1, h2, h3).build(), []string{
			"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11 192.0.2.12 192.0.2.13]",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:02 ip=10.0.0.2 -> 192.0.2.12",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:03 ip=10.0.0.3 -> 192.0.2.13",
			"binding port1/100 net1",
			"binding port2/100 net1",
			"locator vxlan_over_ipv4 192.0.2.11 key=[]",
			"locator vxlan_over_ipv4 192.0.2.12 key=[]",
			"locator vxlan_over_ipv4 192.0.2.13 key=[]",
			"locator_set [192.0.2.11 192.0.2.12 192.0.2.13]",
			"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		}},
		{"port delete", seed().mac("net1", m2, "10.0.0.2", h2).mac("net1", m3, "10.0.0.3", h3).flood("net1", h2, h3).build(), []string{
			"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.12 192.0.2.13]",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:02 ip=10.0.0.2 -> 192.0.2.12",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:03 ip=10.0.0.3 -> 192.0.2.13",
			"binding port1/100 net1",
			"binding port2/100 net1",
			"locator vxlan_over_ipv4 192.0.2.12 key=[]",
			"locator vxlan_over_ipv4 192.0.2.13 key=[]",
			"locator_set [192.0.2.12 192.0.2.13]",
			"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		}},
		{"host move", seed().mac("net1", m2, "10.0.0.2", h3).mac("net1", m3, "10.0.0.3", h3).flood("net1", h3).build(), []string{
			"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.13]",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:02 ip=10.0.0.2 -> 192.0.2.13",
			"Ucast_Macs_Remote net1 fa:16:3e:00:00:03 ip=10.0.0.3 -> 192.0.2.13",
			"binding port1/100 net1",
			"binding port2/100 net1",
			"locator vxlan_over_ipv4 192.0.2.13 key=[]",
			"locator_set [192.0.2.13]",
			"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		}},
		{"empty", newPlan().build(), nil},
	}
	reg := prometheus.NewRegistry()
	var stop func()
	for i, st := range steps {
		rev := int64(i + 1)
		plans.Set(rev, st.plan)
		if i == 0 {
			stop = startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", Registerer: reg}, plans, rec)
		}
		rec.waitSynced(t, rev, "")
		if diff := cmp.Diff(st.want, ourState(t, state(t, o))); diff != "" {
			t.Fatalf("%s: state (-want +got):\n%s", st.name, diff)
		}
		// Every step changes the switch: one more run with result ok, each
		// writing one transaction; none failed. The run is counted just
		// after its status is reported.
		eventually(t, 10*time.Second, func() string {
			m := agentCounts(t, reg)
			if m.ok < float64(i+1) || m.ok != m.transactions || m.errors != 0 || m.connected != 1 {
				return fmt.Sprintf("%s: metrics %+v; want ok >= %d, ok == transactions, no errors, connected 1", st.name, m, i+1)
			}
			return ""
		})
	}
	if diff := cmp.Diff(before, rawDump(t, o)); diff != "" {
		t.Errorf("database after the empty plan differs from before (-before +after):\n%s", diff)
	}
	stop()
	if m := agentCounts(t, reg); m.connected != 0 || m.queue != 0 {
		t.Errorf("metrics after stop %+v; want connected 0, queue 0", m)
	}
}

// agentMetricValues are the switch agent's metrics on a registry.
type agentMetricValues struct {
	ok, errors, transactions, connected, queue, released float64
}

func agentCounts(t testing.TB, reg *prometheus.Registry) agentMetricValues {
	t.Helper()
	var v agentMetricValues
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "l2gw_reconcile_runs_total":
				if labels["component"] == "switchagent" && labels["result"] == "ok" {
					v.ok = m.GetCounter().GetValue()
				}
				if labels["component"] == "switchagent" && labels["result"] == "error" {
					v.errors = m.GetCounter().GetValue()
				}
			case "l2gw_reconcile_queue_depth":
				v.queue = m.GetGauge().GetValue()
			case "l2gw_switchagent_ovsdb_connected":
				v.connected = m.GetGauge().GetValue()
			case "l2gw_switchagent_transaction_operations":
				v.transactions = float64(m.GetHistogram().GetSampleCount())
			case "l2gw_switchagent_memory_releases_total":
				v.released = m.GetCounter().GetValue()
			}
		}
	}
	return v
}

// TestCheckResults: checkResults of n operations says what
// ovsdb.CheckOperationResults of n operations says (as apply used it).
func TestCheckResults(t *testing.T) {
	ok, cv := ovsdb.OperationResult{}, ovsdb.OperationResult{Error: "constraint violation", Details: "dup"}
	extra := ovsdb.OperationResult{Error: "aborted", Details: "commit failed"}
	for _, tc := range []struct {
		name string
		res  []ovsdb.OperationResult
		n    int
	}{
		{"all ok", []ovsdb.OperationResult{ok, ok}, 2},
		{"too few", []ovsdb.OperationResult{ok}, 2},
		{"one failed", []ovsdb.OperationResult{ok, cv}, 2},
		{"extra error", []ovsdb.OperationResult{ok, ok, extra}, 2},
		{"failed and extra", []ovsdb.OperationResult{cv, ok, extra}, 2},
	} {
		opErrs, err := ovsdb.CheckOperationResults(tc.res, make([]ovsdb.Operation, tc.n))
		want := ""
		if err != nil {
			want = err.Error()
			if len(opErrs) > 0 {
				want = opErrs[0].Error()
			} else if len(tc.res) > tc.n {
				want = tc.res[tc.n].Error + ": " + tc.res[tc.n].Details
			}
		}
		got, failed := checkResults(tc.res, len(tc.res), tc.n)
		if got != want || failed != (err != nil) {
			t.Errorf("%s: checkResults = %q, %v; want %q, %v", tc.name, got, failed, want, err != nil)
		}
	}
	// Compact results (txnResults without all) are successes: only their
	// number can fail.
	if d, failed := checkResults(nil, 2, 2); failed {
		t.Errorf("checkResults(2 compact results of 2 operations) = %q, failed", d)
	}
	if _, failed := checkResults(nil, 1, 2); !failed {
		t.Error("checkResults(1 compact result of 2 operations) did not fail")
	}
}

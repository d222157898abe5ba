package switchagent

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// remoteRowCounts are l2gw_switchagent_remote_mac_rows_total by kind.
func remoteRowCounts(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "l2gw_switchagent_remote_mac_rows_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// remoteMACRows counts the switch's Ucast_Macs_Remote rows (ovsdb-client).
func remoteMACRows(t testing.TB, o *testenv.OVSDB) int {
	t.Helper()
	n := 0
	for _, l := range state(t, o) {
		if strings.HasPrefix(l, "Ucast_Macs_Remote ") {
			n++
		}
	}
	return n
}

// The agent's own inserts are not sent back to it: after converging a
// network of 1,000 ports the agent's monitor received no Ucast_Macs_Remote
// insert, only the (empty) initial rows, yet it does not write the rows
// again on the next passes.
func TestOwnInsertsNotEchoed(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, bigPlan(1000, 20))
	reg := prometheus.NewRegistry()
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", Registerer: reg, AuditInterval: -1}, plans, rec)
	rec.waitSynced(t, 1, "")
	if n := remoteMACRows(t, o); n != 1000 {
		t.Fatalf("switch has %d remote MAC rows, want 1000", n)
	}
	// A second plan: the agent must find its 1,000 rows in its view (from
	// the reply), not insert them again.
	plans.Set(2, bigPlan(1001, 20))
	rec.waitSynced(t, 2, "")
	if n := remoteMACRows(t, o); n != 1001 {
		t.Fatalf("switch has %d remote MAC rows after one more port, want 1001 (duplicates?)", n)
	}
	got := remoteRowCounts(t, reg)
	if got["insert"] != 0 {
		t.Errorf("the agent's monitor received %v Ucast_Macs_Remote insert rows, want 0 (its own inserts were sent back)", got["insert"])
	}
	if got["initial"] != 0 || got["delete"] != 0 || got["modify"] != 0 {
		t.Errorf("monitor rows received %v; want none: the database started empty and only the agent wrote", got)
	}
	if m := agentCounts(t, reg); m.transactions != 2 {
		t.Errorf("%v transactions, want 2 (one per plan)", m.transactions)
	}
}

// The monitor, on a real ovsdb-server, against another writer: its insert
// is not received, its modify and delete are (so the test above does not
// pass because nothing is monitored at all), and the modify of a row the
// view never saw asks for a rebuild.
func TestRemoteMonitorSelect(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	var got [rowKinds]int
	v := newRemoteView(func(kind, n int) { got[kind] += n })
	var tc *txnConn
	tc = dialTestTxnNotify(t, o.UnixTarget(), func(method string, params json.RawMessage) {
		if method == "update2" {
			if err := v.update(params, func(_, _ *vtep.UcastMacsRemote) {}); err != nil {
				t.Errorf("update: %v", err)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.monitor(ctx, tc); err != nil {
		t.Fatal(err)
	}
	// Another writer's transaction (a second connection): an insert, then a
	// modify and a delete of what it inserted.
	other := dialTestTxn(t, o.UnixTarget())
	ls := ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.LogicalSwitchTable, UUIDName: "ls", Row: ovsdb.Row{"name": "x"}}
	loc := ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorTable, UUIDName: "loc",
		Row: ovsdb.Row{"encapsulation_type": "vxlan_over_ipv4", "dst_ip": "192.0.2.9"}}
	mac := ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.UcastMacsRemoteTable, UUIDName: "mac",
		Row: ovsdb.Row{"MAC": "aa:00:00:00:00:01", "logical_switch": ovsdb.UUID{GoUUID: "ls"}, "locator": ovsdb.UUID{GoUUID: "loc"}}}
	res, err := other.Transact(ctx, ls, loc, mac)
	if err != nil || len(res) != 3 || res[2].Error != "" {
		t.Fatalf("insert: %v %+v", err, res)
	}
	macUUID := res[2].UUID.GoUUID
	if _, err := other.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: vtep.UcastMacsRemoteTable,
		Where: uuidCond(macUUID), Row: ovsdb.Row{"ipaddr": "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable, Where: uuidCond(macUUID)}); err != nil {
		t.Fatal(err)
	}
	// An echo on the monitor's connection comes after every notification
	// of the transactions above (ovsdb-server sends in order).
	if err := tc.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	want := [rowKinds]int{rowsModify: 1, rowsDelete: 1}
	if got != want {
		t.Errorf("rows received by kind (initial, insert, modify, delete) = %v, want %v", got, want)
	}
	if !v.needsRebuild() {
		t.Error("a modify of a row the view never saw did not ask for a rebuild")
	}
}

func dialTestTxnNotify(t testing.TB, target string, notify func(string, json.RawMessage)) *txnConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialTxn(ctx, target, "hardware_vtep", nil, notify)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A remote MAC row deleted by hand is restored at once, and one whose
// locator or IP is changed by hand is repaired, without an audit: deletes
// and modifications still reach the agent.
func TestHandEditsRepaired(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, seedPlanN(5).build())
	reg := prometheus.NewRegistry()
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", Registerer: reg, AuditInterval: -1}, plans, rec)
	rec.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))
	mac := "fa:16:3e:00:00:02"
	// repaired waits until the state is as planned again and the agent's
	// monitor received one more row of kind than before the edit.
	repaired := func(what, kind string, before float64) {
		t.Helper()
		eventually(t, 3*time.Second, func() string {
			if got := remoteRowCounts(t, reg)[kind]; got <= before {
				return fmt.Sprintf("%s: the agent's monitor received no %s row (%v)", what, kind, got)
			}
			if d := cmp.Diff(want, ourState(t, state(t, o))); d != "" {
				return what + " not repaired (-want +got):\n" + d
			}
			return ""
		})
	}

	old := remoteRowUUID(t, o, mac)
	before := remoteRowCounts(t, reg)
	o.VTEPCtl(t, "del-ucast-remote", "net1", mac)
	repaired("deleted row", "delete", before["delete"])
	if u := remoteRowUUID(t, o, mac); u == old {
		t.Fatalf("row %s still there: vtep-ctl del-ucast-remote deleted nothing", u)
	}

	// vtep-ctl add-ucast-remote on an existing MAC points it at another
	// locator.
	before = remoteRowCounts(t, reg)
	o.VTEPCtl(t, "add-ucast-remote", "net1", mac, "203.0.113.7")
	repaired("locator changed by hand", "modify", before["modify"])

	// The IP, with a raw update.
	before = remoteRowCounts(t, reg)
	out, err := exec.Command("ovsdb-client", "transact", o.UnixTarget(),
		fmt.Sprintf(`["hardware_vtep",{"op":"update","table":"Ucast_Macs_Remote","where":[["_uuid","==",["uuid",%q]]],"row":{"ipaddr":"10.9.9.9"}}]`,
			remoteRowUUID(t, o, mac))).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"count":1`) {
		t.Fatalf("ovsdb-client transact: %v: %s", err, out)
	}
	repaired("IP changed by hand", "modify", before["modify"])
}

// remoteRowUUID is the UUID of the switch's one Ucast_Macs_Remote row of mac.
func remoteRowUUID(t testing.TB, o *testenv.OVSDB, mac string) string {
	t.Helper()
	u := o.VTEPCtl(t, "--bare", "--columns=_uuid", "find", "Ucast_Macs_Remote", "MAC=\""+mac+"\"")
	if u == "" || strings.ContainsAny(u, " \n") {
		t.Fatalf("Ucast_Macs_Remote rows of %s: %q, want one", mac, u)
	}
	return u
}

// A row another writer inserts into one of our logical switches is not
// seen at once (inserts are not monitored) but at the next audit, which
// removes it.
func TestForeignInsertSeenAtAudit(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, seedPlanN(3).build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", AuditInterval: 2 * time.Second}, plans, rec)
	rec.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))
	o.VTEPCtl(t, "add-ucast-remote", "net1", "aa:bb:cc:00:00:01", "203.0.113.8")
	eventually(t, 10*time.Second, func() string {
		if d := cmp.Diff(want, ourState(t, state(t, o))); d != "" {
			return "foreign insert not removed by the audit (-want +got):\n" + d
		}
		return ""
	})
}

// After ovsdb-server restarts, with its data or empty, the agent rebuilds
// its view from the new session's initial rows and converges: nothing is
// duplicated, and hand deletes on the new session are repaired.
func TestRestartRebuildsRemoteView(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty=%v", empty), func(t *testing.T) {
			o := newSwitch(t, false, "port1", "port2")
			plans, rec := newFakePlans(), &recorder{}
			plans.Set(1, bigPlan(300, 10))
			reg := prometheus.NewRegistry()
			startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", Registerer: reg, AuditInterval: -1}, plans, rec)
			rec.waitSynced(t, 1, "")
			want := ourState(t, state(t, o))

			o.Restart(t, empty)
			if empty {
				createSwitch(t, o, "port1", "port2")
			}
			eventually(t, 20*time.Second, func() string {
				if d := cmp.Diff(want, ourState(t, state(t, o))); d != "" {
					return "state after restart (-want +got):\n" + d
				}
				return ""
			})
			if !empty {
				// The new session's initial rows are the 300 rows.
				eventually(t, 5*time.Second, func() string {
					if n := remoteRowCounts(t, reg)["initial"]; n < 300 {
						return fmt.Sprintf("%v initial rows received, want the 300 rows kept by the restarted server", n)
					}
					return ""
				})
			}
			old := remoteRowUUID(t, o, macN(7))
			o.VTEPCtl(t, "del-ucast-remote", "net1", macN(7))
			eventually(t, 5*time.Second, func() string {
				if d := cmp.Diff(want, ourState(t, state(t, o))); d != "" {
					return "hand delete after restart not repaired (-want +got):\n" + d
				}
				if remoteRowUUID(t, o, macN(7)) == old {
					return "row not deleted yet"
				}
				return ""
			})
			if got := remoteRowCounts(t, reg)["insert"]; got != 0 {
				t.Errorf("%v insert rows received, want 0", got)
			}
		})
	}
}

// A standby's view does not see the holder's inserts (they are another
// writer's): when it takes the switch over it rebuilds the view before its
// first diff, so it neither duplicates nor misses a row.
func TestTakeoverRebuildsRemoteView(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans := newFakePlans()
	el := &election{}
	recA, recB := &recorder{}, &recorder{}
	const period = time.Second
	stopA := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("a"), LeasePeriod: period, AgentName: "a", AuditInterval: -1}, plans, recA)
	eventually(t, 5*time.Second, func() string {
		if h, _ := el.get(); h != "a" {
			return "a does not hold the lease"
		}
		return ""
	})
	// b connects (its view: no remote MAC) before a writes the plan.
	regB := prometheus.NewRegistry()
	stopB := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("b"), LeasePeriod: period, AgentName: "b", AuditInterval: -1, Registerer: regB}, plans, recB)
	defer stopB()
	eventually(t, 5*time.Second, func() string {
		if agentCounts(t, regB).connected != 1 {
			return "b not connected"
		}
		return ""
	})
	plans.Set(1, bigPlan(50, 5))
	recA.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))

	stopA()
	plans.Set(2, bigPlan(51, 5))
	recB.waitSynced(t, 2, "")
	if h, _ := el.get(); h != "b" {
		t.Fatalf("lease held by %q, want b", h)
	}
	plans.Set(3, bigPlan(50, 5))
	recB.waitSynced(t, 3, "")
	if d := cmp.Diff(want, ourState(t, state(t, o))); d != "" {
		t.Errorf("state after b took over (-a's +b's):\n%s", d)
	}
}

// TestRemoteViewDuplicateKeys: rows sharing a (logical switch, MAC) (a
// duplicate another writer made) are all found by byRowKey, in the order
// they came, while some are dropped or moved to another key.
func TestRemoteViewDuplicateKeys(t *testing.T) {
	v := newRemoteView(nil)
	row := func(u, mac string) *vtep.UcastMacsRemote {
		return &vtep.UcastMacsRemote{UUID: u, LogicalSwitch: "ls", MAC: mac}
	}
	uuids := func(mac string) []string {
		var out []string
		for _, r := range v.byRowKey("ls", mac) {
			out = append(out, r.UUID)
		}
		return out
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		for mac, w := range want {
			if d := cmp.Diff(w, uuids(mac)); d != "" {
				t.Errorf("%s: rows of %s (-want +got):\n%s", step, mac, d)
			}
		}
	}
	v.put(row("u1", "m1"))
	v.put(row("u2", "m1"))
	v.put(row("u3", "m1"))
	v.put(row("u4", "m2"))
	check("three rows of m1", map[string][]string{"m1": {"u1", "u2", "u3"}, "m2": {"u4"}})
	v.drop("u1")
	check("first dropped", map[string][]string{"m1": {"u2", "u3"}})
	v.put(row("u2", "m2")) // moved to another MAC
	check("one moved", map[string][]string{"m1": {"u3"}, "m2": {"u4", "u2"}})
	v.drop("u4")
	v.drop("u3")
	check("dropped", map[string][]string{"m1": nil, "m2": {"u2"}})
	v.drop("u2")
	if len(v.byKey) != 0 || len(v.dups) != 0 || len(v.rows) != 0 {
		t.Errorf("empty view holds byKey %v, dups %v, rows %v", v.byKey, v.dups, v.rows)
	}
}

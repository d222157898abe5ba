package switchagent

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/testenv"
)

// planFor starts a plan of the named switch.
func planFor(name string) *planBuilder { return &planBuilder{planner.NewSwitchPlan(name)} }

// statusOf is the last status reported for the named switch.
func (r *recorder) statusOf(name string) (model.SwitchStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.statuses) - 1; i >= 0; i-- {
		if r.statuses[i].Name == name {
			return r.statuses[i], true
		}
	}
	return model.SwitchStatus{}, false
}

// reportOf is the last report of the named switch.
func (r *recorder) reportOf(name string) (model.SwitchReport, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reports) - 1; i >= 0; i-- {
		if r.reports[i].Switch.Name == name {
			return r.reports[i], true
		}
	}
	return model.SwitchReport{}, false
}

// waitSwitchSynced waits until the named switch's status says revision rev
// applied, connected, with the given error text.
func (r *recorder) waitSwitchSynced(t testing.TB, name string, rev int64, wantErr string) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		s, ok := r.statusOf(name)
		if !ok || !s.Connected || s.Revision != rev || s.Error != wantErr {
			return fmt.Sprintf("status of %s %+v; want connected, revision %d, error %q", name, s, rev, wantErr)
		}
		return ""
	})
}

// waitState waits until the part of the database a plan describes is want.
func waitState(t testing.TB, o *testenv.OVSDB, what string, want []string) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		if diff := cmp.Diff(want, ourState(t, state(t, o))); diff != "" {
			return what + " (-want +got):\n" + diff
		}
		return ""
	})
}

// twoSwitches starts an ovsdb-server holding sw1 (ports port1, port2,
// tunnel IP 192.0.2.1) and sw2 (port1, 192.0.2.2).
func twoSwitches(t testing.TB) *testenv.OVSDB {
	t.Helper()
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "sw1", "--", "set", "Physical_Switch", "sw1", "tunnel_ips=192.0.2.1",
		"--", "add-port", "sw1", "port1", "--", "add-port", "sw1", "port2",
		"--", "add-ps", "sw2", "--", "set", "Physical_Switch", "sw2", "tunnel_ips=192.0.2.2",
		"--", "add-port", "sw2", "port1")
	return o
}

func bindingsOf(t testing.TB, o *testenv.OVSDB, sw, port string) string {
	t.Helper()
	return strings.Join(strings.Fields(o.VTEPCtl(t, "list-bindings", sw, port)), " ")
}

// One agent serves every switch of its database: each gets its own plan,
// report and status; the logical switch of a network two of them are
// connected to is shared and stays until neither needs it.
func TestSeveralSwitchesOneDatabase(t *testing.T) {
	o := twoSwitches(t)
	before := rawDump(t, o)
	const (
		h1, h2     = "192.0.2.11", "192.0.2.12"
		m1, m2, m3 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03"
	)
	net1 := func(b *planBuilder) *planBuilder {
		return b.ls("net1", 1000).mac("net1", m1, "10.0.0.1", h1).mac("net1", m2, "10.0.0.2", h2).flood("net1", h1, h2)
	}
	net2 := func(b *planBuilder) *planBuilder {
		return b.ls("net2", 2000).bind("port2", 0, "net2").mac("net2", m3, "10.1.0.3", h1).flood("net2", h1)
	}
	plans, rec := planstream.NewMemory(planstream.Switch), &recorder{}
	plans.Set("sw1", 1, net2(net1(planFor("sw1")).bind("port1", 100, "net1")).build())
	plans.Set("sw2", 1, net1(planFor("sw2")).bind("port1", 200, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget(), ReportDebounce: 10 * time.Millisecond}, plans, rec)
	rec.waitSwitchSynced(t, "sw1", 1, "")
	rec.waitSwitchSynced(t, "sw2", 1, "")

	both := []string{
		"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11 192.0.2.12]",
		"Mcast_Macs_Remote net2 unknown-dst -> [192.0.2.11]",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:02 ip=10.0.0.2 -> 192.0.2.12",
		"Ucast_Macs_Remote net2 fa:16:3e:00:00:03 ip=10.1.0.3 -> 192.0.2.11",
		"binding port1/100 net1",
		"binding port1/200 net1",
		"binding port2/0 net2",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator vxlan_over_ipv4 192.0.2.12 key=[]",
		"locator_set [192.0.2.11 192.0.2.12]",
		"locator_set [192.0.2.11]",
		"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		"ls net2 key=[2000] other_config=map[l2gw-owner:l2gw]",
	}
	waitState(t, o, "both switches connected", both)
	for _, b := range []struct{ sw, port, want string }{
		{"sw1", "port1", "0100 net1"}, {"sw1", "port2", "0000 net2"}, {"sw2", "port1", "0200 net1"},
	} {
		if got := bindingsOf(t, o, b.sw, b.port); got != b.want {
			t.Errorf("bindings of %s %s = %q; want %q", b.sw, b.port, got, b.want)
		}
	}

	// Each switch reports itself and the MACs it learnt (by locator) in
	// the shared logical switch.
	o.VTEPCtl(t, "add-ucast-local", "net1", "00:aa:00:00:00:01", "192.0.2.1")
	o.VTEPCtl(t, "add-ucast-local", "net1", "00:aa:00:00:00:02", "192.0.2.2")
	for _, sw := range []struct{ name, ip, mac string }{{"sw1", "192.0.2.1", "00:aa:00:00:00:01"}, {"sw2", "192.0.2.2", "00:aa:00:00:00:02"}} {
		eventually(t, 20*time.Second, func() string {
			got, _ := rec.reportOf(sw.name)
			want := []model.LocalMAC{{Switch: sw.name, NetworkID: "net-net1", MAC: sw.mac, LocatorIP: sw.ip}}
			if got.Switch.Name != sw.name || !slices.Equal(got.Switch.TunnelIPs, []string{sw.ip}) {
				return fmt.Sprintf("report of %s: switch %+v", sw.name, got.Switch)
			}
			if diff := cmp.Diff(want, got.LocalMACs); diff != "" {
				return fmt.Sprintf("local macs of %s (-want +got):\n%s", sw.name, diff)
			}
			return ""
		})
	}
	o.VTEPCtl(t, "del-ucast-local", "net1", "00:aa:00:00:00:01")
	o.VTEPCtl(t, "del-ucast-local", "net1", "00:aa:00:00:00:02")

	// sw1 leaves net1: sw2 still needs it, so only sw1's binding goes.
	plans.Set("sw1", 2, net2(planFor("sw1")).build())
	rec.waitSwitchSynced(t, "sw1", 2, "")
	waitState(t, o, "after sw1 left net1", slices.DeleteFunc(slices.Clone(both), func(l string) bool { return l == "binding port1/100 net1" }))

	// sw2 leaves it too: now it goes, with its MACs and flooding.
	plans.Set("sw2", 3, planFor("sw2").build())
	rec.waitSwitchSynced(t, "sw2", 3, "")
	waitState(t, o, "after sw2 left net1", []string{
		"Mcast_Macs_Remote net2 unknown-dst -> [192.0.2.11]",
		"Ucast_Macs_Remote net2 fa:16:3e:00:00:03 ip=10.1.0.3 -> 192.0.2.11",
		"binding port2/0 net2",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator_set [192.0.2.11]",
		"ls net2 key=[2000] other_config=map[l2gw-owner:l2gw]",
	})
	plans.Set("sw1", 4, planFor("sw1").build())
	rec.waitSwitchSynced(t, "sw1", 4, "")
	eventually(t, 20*time.Second, func() string {
		if diff := cmp.Diff(before, rawDump(t, o)); diff != "" {
			return "database after the empty plans differs (-before +after):\n" + diff
		}
		return ""
	})
	for _, name := range []string{"sw1", "sw2"} {
		if s, _ := rec.statusOf(name); s.Error != "" || !s.Connected {
			t.Errorf("status of %s %+v; want connected, no error", name, s)
		}
	}
}

// A network both switches are connected to at once, from scratch, and a
// switch that joins the database later.
func TestSharedNetworkAndLateSwitch(t *testing.T) {
	o := twoSwitches(t)
	plans, rec := planstream.NewMemory(planstream.Switch), &recorder{}
	net1 := func(name string, port string, vlan int) planner.SwitchPlan {
		return planFor(name).ls("net1", 1000).bind(port, vlan, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").flood("net1", "192.0.2.11").build()
	}
	plans.Set("sw1", 1, net1("sw1", "port1", 100))
	plans.Set("sw2", 1, net1("sw2", "port1", 200))
	plans.Set("sw3", 1, net1("sw3", "port9", 300))
	startAgent(t, Config{Target: o.UnixTarget()}, plans, rec)
	rec.waitSwitchSynced(t, "sw1", 1, "")
	rec.waitSwitchSynced(t, "sw2", 1, "")
	want := []string{
		"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11]",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip= -> 192.0.2.11",
		"binding port1/100 net1",
		"binding port1/200 net1",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator_set [192.0.2.11]",
		"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
	}
	waitState(t, o, "shared network", want)
	o.VTEPCtl(t, "add-ps", "sw3", "--", "set", "Physical_Switch", "sw3", "tunnel_ips=192.0.2.3", "--", "add-port", "sw3", "port9")
	rec.waitSwitchSynced(t, "sw3", 1, "")
	waitState(t, o, "after sw3 joined", sortedStrings(append(want, "binding port9/300 net1")))
	if _, ok := rec.statusOf(""); ok {
		t.Errorf("a status without a switch name was reported")
	}
}

// --name pins one switch of several.
func TestPinnedSwitchOfSeveral(t *testing.T) {
	o := twoSwitches(t)
	plans, rec := planstream.NewMemory(planstream.Switch), &recorder{}
	plans.Set("sw1", 1, planFor("sw1").ls("net1", 1000).bind("port1", 100, "net1").build())
	plans.Set("sw2", 1, planFor("sw2").ls("net2", 2000).bind("port1", 200, "net2").build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "sw2"}, plans, rec)
	rec.waitSwitchSynced(t, "sw2", 1, "")
	if got := filter(state(t, o), "binding ", "ls "); !cmp.Equal(got, []string{"binding port1/200 net2", "ls net2 key=[2000] other_config=map[l2gw-owner:l2gw]"}) {
		t.Errorf("state %q; want sw2's plan only", got)
	}
	if s, ok := rec.statusOf("sw1"); ok {
		t.Errorf("status of the unserved sw1: %+v", s)
	}
}

// An empty database (no switch to serve) is logged once, not on every pass.
func TestNoSwitchLoggedOnce(t *testing.T) {
	o := testenv.StartOVSDB(t, false)
	noSwitch := msgCounter{msg: "no switch to serve", n: new(atomic.Int64)}
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().build())
	startAgent(t, Config{Target: o.UnixTarget(), Logger: slog.New(noSwitch)}, plans, rec)
	for i := range 10 {
		o.VTEPCtl(t, "add-ls", fmt.Sprintf("ls%d", i)) // a pass each
	}
	eventually(t, 20*time.Second, func() string {
		if n := noSwitch.n.Load(); n != 1 {
			return fmt.Sprintf("%d %q lines; want 1", n, noSwitch.msg)
		}
		return ""
	})
	createSwitch(t, o, "port1")
	rec.waitSynced(t, 1, "")
	if n := noSwitch.n.Load(); n != 1 {
		t.Errorf("%d %q lines; want 1", n, noSwitch.msg)
	}
}

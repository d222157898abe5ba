package switchagent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
)

func TestPerInterfaceVLANs(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2", "port3")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 200, "net1").bind("port3", 0, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget()}, plans, rec) // switch discovered
	rec.waitSynced(t, 1, "")
	want := []string{"binding port1/100 net1", "binding port2/200 net1", "binding port3/0 net1"}
	if diff := cmp.Diff(want, filter(state(t, o), "binding ")); diff != "" {
		t.Fatalf("bindings (-want +got):\n%s", diff)
	}
	// Move port2 to VLAN 300: the old entry goes, the new one comes.
	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 300, "net1").bind("port3", 0, "net1").build())
	rec.waitSynced(t, 2, "")
	want = []string{"binding port1/100 net1", "binding port2/300 net1", "binding port3/0 net1"}
	if diff := cmp.Diff(want, filter(state(t, o), "binding ")); diff != "" {
		t.Fatalf("bindings after the VLAN change (-want +got):\n%s", diff)
	}
}

func TestTwoNetworks(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	before := rawDump(t, o)
	plans, rec := newFakePlans(), &recorder{}
	two := newPlan().
		ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "10.0.0.1", "192.0.2.11").flood("net1", "192.0.2.11").
		ls("net2", 2000).bind("port1", 200, "net2").bind("port2", 0, "net2").mac("net2", "fa:16:3e:00:00:02", "10.1.0.2", "192.0.2.11").
		mac("net2", "fa:16:3e:00:00:01", "10.1.0.1", "192.0.2.12").flood("net2", "192.0.2.11", "192.0.2.12").build()
	plans.Set(1, two)
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, rec)
	rec.waitSynced(t, 1, "")
	want := []string{
		"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11]",
		"Mcast_Macs_Remote net2 unknown-dst -> [192.0.2.11 192.0.2.12]",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
		"Ucast_Macs_Remote net2 fa:16:3e:00:00:01 ip=10.1.0.1 -> 192.0.2.12",
		"Ucast_Macs_Remote net2 fa:16:3e:00:00:02 ip=10.1.0.2 -> 192.0.2.11",
		"binding port1/100 net1",
		"binding port1/200 net2",
		"binding port2/0 net2",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator vxlan_over_ipv4 192.0.2.12 key=[]",
		"locator_set [192.0.2.11 192.0.2.12]",
		"locator_set [192.0.2.11]",
		"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		"ls net2 key=[2000] other_config=map[l2gw-owner:l2gw]",
	}
	if diff := cmp.Diff(want, ourState(t, state(t, o))); diff != "" {
		t.Fatalf("two networks (-want +got):\n%s", diff)
	}
	// Disconnect net2: exactly its rows go.
	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "10.0.0.1", "192.0.2.11").flood("net1", "192.0.2.11").build())
	rec.waitSynced(t, 2, "")
	want = []string{
		"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11]",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
		"binding port1/100 net1",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator_set [192.0.2.11]",
		"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
	}
	if diff := cmp.Diff(want, ourState(t, state(t, o))); diff != "" {
		t.Fatalf("after removing net2 (-want +got):\n%s", diff)
	}
	plans.Set(3, newPlan().build())
	rec.waitSynced(t, 3, "")
	if diff := cmp.Diff(before, rawDump(t, o)); diff != "" {
		t.Errorf("database after the empty plan differs (-before +after):\n%s", diff)
	}
}

func TestForeignRowsSurvive(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	// Foreign state, as an operator would make it with vtep-ctl: an LS with
	// bindings on our ports (one on the (port, VLAN) our plan wants), remote
	// MACs sharing a locator with ours, and flooding.
	o.VTEPCtl(t, "add-ls", "foreign", "--", "set", "Logical_Switch", "foreign", "tunnel_key=5000")
	o.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "300", "foreign")
	o.VTEPCtl(t, "bind-ls", "gatewayhost", "port2", "100", "foreign")
	o.VTEPCtl(t, "add-ucast-remote", "foreign", "fa:16:3e:99:99:99", "192.0.2.11")
	o.VTEPCtl(t, "add-mcast-remote", "foreign", "unknown-dst", "192.0.2.11")
	o.VTEPCtl(t, "add-ls", "net9") // exists, not ours
	before := rawDump(t, o)

	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 100, "net1").
		mac("net1", "fa:16:3e:00:00:01", "10.0.0.1", "192.0.2.11").flood("net1", "192.0.2.11", "192.0.2.12").
		ls("net9", 9000).bind("port1", 900, "net9").mac("net9", "fa:16:3e:00:00:09", "", "192.0.2.11").build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, rec)
	wantErr := `binding port2/100 is held by logical switch "foreign" not owned by l2gw; logical switch "net9" exists and is not owned by l2gw`
	rec.waitSynced(t, 1, wantErr)
	// Each problem is scoped to what it concerns: the binding to its port
	// and the logical switch that wants it, net9 to its logical switch.
	wantProblems := []model.SyncProblem{
		{LogicalSwitch: "net1", Port: "port2", Error: `binding port2/100 is held by logical switch "foreign" not owned by l2gw`},
		{LogicalSwitch: "net9", Error: `logical switch "net9" exists and is not owned by l2gw`},
	}
	if st, _ := rec.lastStatus(); !cmp.Equal(wantProblems, st.Problems) {
		t.Errorf("status problems (-want +got):\n%s", cmp.Diff(wantProblems, st.Problems))
	}
	want := []string{
		"Mcast_Macs_Remote foreign unknown-dst -> [192.0.2.11]",
		"Mcast_Macs_Remote net1 unknown-dst -> [192.0.2.11 192.0.2.12]",
		"Ucast_Macs_Remote foreign fa:16:3e:99:99:99 ip= -> 192.0.2.11",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.11",
		"binding port1/100 net1",
		"binding port1/300 foreign",
		"binding port2/100 foreign",
		"locator vxlan_over_ipv4 192.0.2.11 key=[]",
		"locator vxlan_over_ipv4 192.0.2.12 key=[]",
		"locator_set [192.0.2.11 192.0.2.12]",
		"locator_set [192.0.2.11]",
		"ls foreign key=[5000] other_config=map[]",
		"ls net1 key=[1000] other_config=map[l2gw-owner:l2gw]",
		"ls net9 key=[] other_config=map[]",
	}
	if diff := cmp.Diff(want, ourState(t, state(t, o))); diff != "" {
		t.Fatalf("state (-want +got):\n%s", diff)
	}
	// A foreign binding added next to ours survives further reconciles.
	o.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "301", "foreign")
	plans.Set(2, newPlan().ls("net1", 1001).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "10.0.0.1", "192.0.2.12").build())
	rec.waitSynced(t, 2, "")
	got := filter(state(t, o), "binding ", "ls ", "Ucast_Macs_Remote ")
	want = []string{
		"Ucast_Macs_Remote foreign fa:16:3e:99:99:99 ip= -> 192.0.2.11",
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip=10.0.0.1 -> 192.0.2.12",
		"binding port1/100 net1",
		"binding port1/300 foreign",
		"binding port1/301 foreign",
		"binding port2/100 foreign",
		"ls foreign key=[5000] other_config=map[]",
		"ls net1 key=[1001] other_config=map[l2gw-owner:l2gw]",
		"ls net9 key=[] other_config=map[]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("state after the second plan (-want +got):\n%s", diff)
	}
	o.VTEPCtl(t, "unbind-ls", "gatewayhost", "port1", "301")
	plans.Set(3, newPlan().build())
	rec.waitSynced(t, 3, "")
	if diff := cmp.Diff(before, rawDump(t, o)); diff != "" {
		t.Errorf("database after the empty plan differs (-before +after):\n%s", diff)
	}
}

func seedPlanN(n int) *planBuilder {
	b := newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 100, "net1")
	var hosts []string
	for h := 0; h < 10; h++ {
		hosts = append(hosts, fmt.Sprintf("192.0.2.%d", 10+h))
	}
	for i := 0; i < n; i++ {
		b.mac("net1", fmt.Sprintf("fa:16:3e:00:%02x:%02x", i>>8, i&0xff), fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff), hosts[i%len(hosts)])
	}
	return b.flood("net1", hosts...)
}

func TestServerRestartEmpty(t *testing.T) {
	o := newSwitch(t, true, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, seedPlanN(50).build())
	startAgent(t, Config{Target: o.TCPTarget(), Switch: "gatewayhost"}, plans, rec)
	rec.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))

	o.Restart(t, true)
	eventually(t, 20*time.Second, func() string {
		if s, _ := rec.lastStatus(); s.Connected && s.Error == `physical switch "gatewayhost" not found` {
			return ""
		}
		return "agent did not report the missing switch"
	})
	if got := ourState(t, state(t, o)); len(got) != 0 {
		t.Fatalf("agent wrote %d rows while the switch was missing", len(got))
	}
	createSwitch(t, o, "port1", "port2")
	rec.waitSynced(t, 1, "")
	eventually(t, 20*time.Second, func() string {
		if diff := cmp.Diff(want, ourState(t, state(t, o))); diff != "" {
			return "restored state (-want +got):\n" + diff
		}
		return ""
	})
}

func TestReconnectSameSocket(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, seedPlanN(5).build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, rec)
	rec.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))
	rec.mu.Lock()
	n := len(rec.statuses)
	rec.mu.Unlock()

	o.Restart(t, false)
	eventually(t, 20*time.Second, func() string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, s := range rec.statuses[n:] {
			if !s.Connected {
				return ""
			}
		}
		return "no disconnected status after the server restart"
	})
	// The new session works: a new plan is applied, nothing is duplicated.
	plans.Set(2, seedPlanN(6).build())
	rec.waitSynced(t, 2, "")
	want = append(want, "Ucast_Macs_Remote net1 fa:16:3e:00:00:05 ip=10.0.0.5 -> 192.0.2.15")
	if diff := cmp.Diff(sortedStrings(want), ourState(t, state(t, o))); diff != "" {
		t.Fatalf("state after reconnect (-want +got):\n%s", diff)
	}
}

func sortedStrings(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

func TestAgentRestartMidWork(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans := newFakePlans()
	plans.Set(1, seedPlanN(3000).build())
	// Cancel agents at different points of their first reconcile: before,
	// during and after the big transaction.
	for _, after := range []time.Duration{0, 3 * time.Millisecond, 15 * time.Millisecond, 60 * time.Millisecond} {
		stop := startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, &recorder{})
		done := make(chan struct{})
		time.AfterFunc(after, func() { stop(); close(done) })
		<-done
	}
	plans.Set(2, seedPlanN(2000).build())
	rec := &recorder{}
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, rec)
	rec.waitSynced(t, 2, "")
	got := ourState(t, state(t, o))
	macs := filter(got, "Ucast_Macs_Remote ")
	if len(macs) != 2000 {
		t.Errorf("%d Ucast_Macs_Remote rows; want 2000", len(macs))
	}
	for i := 1; i < len(macs); i++ {
		if macs[i] == macs[i-1] {
			t.Fatalf("duplicate row %s", macs[i])
		}
	}
	for _, l := range filter(got, "ls ") {
		if !strings.HasPrefix(l, "ls net1 ") {
			t.Errorf("unexpected logical switch: %s", l)
		}
	}
	if n := len(filter(got, "Mcast_Macs_Remote ")); n != 1 {
		t.Errorf("%d Mcast_Macs_Remote rows; want 1", n)
	}
	if n := len(filter(got, "locator ")); n != 10 {
		t.Errorf("%d locators; want 10", n)
	}
}

func TestReportLocalMACs(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	o.VTEPCtl(t, "set", "Physical_Port", "port2", "port_fault_status=[cable]")
	o.VTEPCtl(t, "add-ls", "foreign")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", ReportDebounce: 10 * time.Millisecond}, plans, rec)
	rec.waitSynced(t, 1, "")

	o.VTEPCtl(t, "add-ucast-local", "net1", "00:AA:00:00:00:01", "192.0.2.1")
	uuid := o.VTEPCtl(t, "--bare", "--columns=_uuid", "find", "Ucast_Macs_Local", `MAC="00:AA:00:00:00:01"`)
	o.VTEPCtl(t, "set", "Ucast_Macs_Local", uuid, "ipaddr=203.0.113.12")
	o.VTEPCtl(t, "add-ucast-local", "foreign", "00:aa:00:00:00:02", "192.0.2.1") // not ours: not reported
	want := model.SwitchReport{
		Switch: model.Switch{
			Name: "gatewayhost", TunnelIPs: []string{"192.0.2.1"}, ManagementIPs: []string{"198.51.100.1"},
			Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2", FaultStatus: []string{"cable"}}},
		},
		LocalMACs: []model.LocalMAC{{Switch: "gatewayhost", NetworkID: "net-net1", MAC: "00:aa:00:00:00:01", IPAddress: "203.0.113.12", LocatorIP: "192.0.2.1"}},
	}
	eventually(t, 20*time.Second, func() string {
		got, _ := rec.lastReport()
		if diff := cmp.Diff(want, got); diff != "" {
			return "report (-want +got):\n" + diff
		}
		return ""
	})
	o.VTEPCtl(t, "del-ucast-local", "net1", "00:AA:00:00:00:01")
	want.LocalMACs = nil
	eventually(t, 20*time.Second, func() string {
		got, _ := rec.lastReport()
		if diff := cmp.Diff(want, got); diff != "" {
			return "report after del-ucast-local (-want +got):\n" + diff
		}
		return ""
	})
	// Disconnecting the network deletes the LS with the switch-learnt MACs in it.
	o.VTEPCtl(t, "add-ucast-local", "net1", "00:aa:00:00:00:03", "192.0.2.1")
	plans.Set(2, newPlan().build())
	rec.waitSynced(t, 2, "")
	if got := filter(state(t, o), "ls ", "Ucast_Macs_Local "); !cmp.Equal(got, []string{
		"Ucast_Macs_Local foreign 00:aa:00:00:00:02 ip= -> 192.0.2.1", "ls foreign key=[] other_config=map[]"}) {
		t.Errorf("after the empty plan: %q", got)
	}
}

func TestSwitchSelection(t *testing.T) {
	o := newSwitch(t, false, "port1")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "nope"}, plans, rec)
	eventually(t, 20*time.Second, func() string {
		if s, _ := rec.lastStatus(); s.Name != "nope" || !s.Connected || s.Error != `physical switch "nope" not found` {
			return fmt.Sprintf("status %+v; want the missing switch reported", s)
		}
		return ""
	})
	if got := filter(state(t, o), "ls "); len(got) != 0 {
		t.Errorf("agent wrote %q for a missing switch", got)
	}
	// A missing port is an item error; the rest is applied.
	rec2 := &recorder{}
	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port9", 100, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget()}, plans, rec2)
	rec2.waitSynced(t, 2, `port "port9" not found on the switch`)
	if got := filter(state(t, o), "binding "); !cmp.Equal(got, []string{"binding port1/100 net1"}) {
		t.Errorf("bindings %q", got)
	}
}

func TestEchoProbeDetectsHungServer(t *testing.T) {
	o := newSwitch(t, false, "port1")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").build())
	startAgent(t, Config{Target: o.UnixTarget(), ProbeInterval: 200 * time.Millisecond, ConnectTimeout: 500 * time.Millisecond}, plans, rec)
	rec.waitSynced(t, 1, "")
	b, err := os.ReadFile(filepath.Join(o.Dir, "ovsdb-server.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()
	eventually(t, 20*time.Second, func() string {
		if s, _ := rec.lastStatus(); !s.Connected {
			return ""
		}
		return "hung server not detected"
	})
	resume()
	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 200, "net1").build())
	rec.waitSynced(t, 2, "")
	if got := filter(state(t, o), "binding "); !cmp.Equal(got, []string{"binding port1/200 net1"}) {
		t.Errorf("bindings %q", got)
	}
}

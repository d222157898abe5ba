package main

import (
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestSwitchState reads rows written with vtep-ctl into a real ovsdb-server
// and compares them with the lines of the plan that asks for exactly those
// rows: the two sides of the switch check speak the same language. It also
// shows that a switch restarted empty reads as the plan's rows missing.
func TestSwitchState(t *testing.T) {
	testenv.RequireCommand(t, "ovsdb-server")
	testenv.RequireCommand(t, "vtep-ctl")
	o, err := startOVSDB(t.Context(), t.TempDir(), "sw1", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.stop)
	for _, args := range [][]string{
		{"add-ls", "ls1", "--", "set", "Logical_Switch", "ls1", "tunnel_key=1001"},
		{"bind-ls", "sw1", "p1", "101", "ls1"},
		{"bind-ls", "sw1", "p2", "7", "ls1"},
		{"add-ucast-remote", "ls1", "fa:16:3e:00:00:01", "192.0.2.11"},
		{"add-ucast-remote", "ls1", "fa:16:3e:00:00:02", "192.0.2.12"},
		{"add-mcast-remote", "ls1", "unknown-dst", "192.0.2.12"},
		{"add-mcast-remote", "ls1", "unknown-dst", "192.0.2.11"},
	} {
		if out, err := exec.Command("vtep-ctl", append([]string{"--db=" + o.target()}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("vtep-ctl %v: %v: %s", args, err, out)
		}
	}
	plan := planner.NewSwitchPlan("sw1")
	plan.LogicalSwitches["ls1"] = planner.LogicalSwitch{Name: "ls1", VNI: 1001}
	plan.Bindings[planner.BindingKey{Port: "p1", VLAN: 101}] = "ls1"
	plan.Bindings[planner.BindingKey{Port: "p2", VLAN: 7}] = "ls1"
	for _, m := range []planner.RemoteMAC{
		{LogicalSwitch: "ls1", MAC: "fa:16:3e:00:00:01", LocatorIP: "192.0.2.11"},
		{LogicalSwitch: "ls1", MAC: "fa:16:3e:00:00:02", LocatorIP: "192.0.2.12"},
	} {
		plan.RemoteMACs[m.Key()] = m
	}
	plan.McastRemotes["ls1"] = planner.McastRemote{LogicalSwitch: "ls1", LocatorIPs: []string{"192.0.2.11", "192.0.2.12"}}
	want := switchLines(plan)

	got, err := switchState(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("switchState() (-want +got):\n%s", diff)
	}
	if d := diffLines(want, got); d != nil {
		t.Errorf("diffLines(plan, state) = %q; want none", d)
	}

	if err := o.restartEmpty(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err = switchState(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffLines(want, got); len(d) != len(want) {
		t.Errorf("after a restart empty, diffLines(plan, state) = %q; want every planned line missing", d)
	}
}

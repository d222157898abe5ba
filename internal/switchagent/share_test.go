package switchagent

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// TestSharedDeltaStaysIncremental: two switches of one database connected
// to the same network; a plan delta of one keeps both diffs scoped to the
// keys it touched (no full diff per switch), and the switch that does not
// write the shared rows writes nothing.
func TestSharedDeltaStaysIncremental(t *testing.T) {
	a := baseActual()
	a.switches["S2"] = &vtep.PhysicalSwitch{UUID: "S2", Name: "sw2", Ports: []string{"P2"}}
	a.ports["P2"] = &vtep.PhysicalPort{UUID: "P2", Name: "port1", VLANBindings: map[int]string{}}
	a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C1"}
	plan := func(sw string) planner.SwitchPlan {
		return planFor(sw).ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").build()
	}
	sws := []*served{
		{name: "gatewayhost", pend: planstream.NewPending(planstream.Switch, planstream.Limits{})},
		{name: "sw2", pend: planstream.NewPending(planstream.Switch, planstream.Limits{})},
	}
	uuids := map[string]string{"gatewayhost": "S", "sw2": "S2"}
	for _, sw := range sws {
		p := plan(sw.name)
		sw.pend.Add(planner.SwitchEvent{Type: planner.EventSnapshot, Revision: 1, Plan: &p})
	}
	ag := &Agent{}
	sess := &session{gen: 1}
	sync := func(wantFull bool) []change {
		t.Helper()
		ag.foldPlans(sws)
		var parts []sharedPlan
		for _, sw := range sws {
			parts = append(parts, sharedPlan{name: sw.name, plan: sw.w.plan.Plan, ports: a.switches[uuids[sw.name]].Ports, active: true})
		}
		shares := newSharing(parts, true)
		var out []change
		for _, sw := range sws {
			in := &sw.w.inc
			in.begin(sess)
			sc := in.scope(sw.w.plan, a, nil, false, false, "l2gw")
			ch := diffShared(sw.w.plan.Plan, a, uuids[sw.name], "l2gw", sc, shares[sw.name])
			if ch.full != wantFull {
				t.Errorf("%s: full diff = %v; want %v", sw.name, ch.full, wantFull)
			}
			in.done(sw.w.plan, sc, ch, true, nil)
			out = append(out, ch)
		}
		return out
	}
	for _, ch := range sync(true) {
		if len(ch.ops) != 0 || len(ch.problems) != 0 {
			t.Fatalf("in sync: ops %v, problems %v", summary(ch.ops), ch.problems)
		}
	}
	// The same MAC comes to both plans as a delta.
	for _, sw := range sws {
		d := planner.SwitchDelta{UpsertRemoteMACs: []planner.RemoteMAC{{LogicalSwitch: "ls1", MAC: "aa:00:00:00:00:02", LocatorIP: "192.0.2.2"}}}
		sw.pend.Add(planner.SwitchEvent{Type: planner.EventDelta, Revision: 2, Delta: &d})
	}
	chs := sync(false)
	want := []string{`insert Ucast_Macs_Remote map[MAC:aa:00:00:00:00:02 ipaddr: locator:{C2} logical_switch:{L1}]`}
	if diff := cmp.Diff(want, summary(chs[0].ops)); diff != "" {
		t.Errorf("first switch's ops (-want +got):\n%s", diff)
	}
	if len(chs[1].ops) != 0 {
		t.Errorf("second switch's ops %v; want none (the first one writes the shared rows)", summary(chs[1].ops))
	}
}

// TestSharedRemovals: what another served switch's plan still needs is
// not deleted; orphans go only with the orphan duty; a replication mode
// that differs from the writing switch's is reported.
func TestSharedRemovals(t *testing.T) {
	a := baseActual()
	a.switches["S2"] = &vtep.PhysicalSwitch{UUID: "S2", Name: "sw2", Ports: []string{"P2"}}
	a.ports["P2"] = &vtep.PhysicalPort{UUID: "P2", Name: "port1", VLANBindings: map[int]string{100: "L1"}}
	a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C1"}
	a.ucastRemote["U2"] = &vtep.UcastMacsRemote{UUID: "U2", MAC: "aa:00:00:00:00:02", LogicalSwitch: "L2", Locator: "C1"}
	other := planFor("sw2").ls("ls1", 1000).bind("port1", 100, "ls1").mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").build()
	other.LogicalSwitches["ls1"] = planner.LogicalSwitch{Name: "ls1", NetworkID: "net-ls1", VNI: 1000, ReplicationMode: "service_node"}
	mine := newPlan().ls("ls1", 1000).build() // needs ls1, not its MAC; ls2 is an orphan
	share := func(orphans, lower bool) sharing {
		parts := []sharedPlan{{name: "gatewayhost", plan: &mine, ports: []string{"P1"}, active: true}, {name: "sw2", plan: &other, ports: []string{"P2"}, active: true}}
		if lower {
			parts[0].name, parts[1].name = "z", "a" // sw2 first
			slices.Reverse(parts)
		}
		sh := newSharing(parts, orphans)
		if lower {
			return sh["z"]
		}
		return sh["gatewayhost"]
	}
	for _, tc := range []struct {
		name         string
		share        sharing
		want         []string
		wantProblems []string
	}{
		{"orphan duty", share(true, false), []string{
			"delete Logical_Switch L2",
			"delete Ucast_Macs_Remote L2", // U2, by logical switch
		}, nil},
		{"a plan not arrived yet", share(false, false), nil, nil},
		{"the other switch writes ls1", share(false, true), nil, []string{
			`logical switch "ls1" is shared with switch "sw2" of the same database, whose replication mode "service_node" applies, not ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := diffShared(&mine, a, "S", "l2gw", nil, tc.share)
			if diff := cmp.Diff(tc.want, summary(ch.ops)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantProblems, ch.problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

package switchagent

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// summary renders operations as sorted text lines.
func summary(ops []ovsdb.Operation) []string {
	var out []string
	for _, op := range ops {
		where := ""
		if len(op.Where) == 1 {
			if u, ok := op.Where[0].Value.(ovsdb.UUID); ok {
				where = " " + u.GoUUID
			}
		}
		s := fmt.Sprintf("%s %s%s", op.Op, op.Table, where)
		if len(op.Row) > 0 {
			s += fmt.Sprint(" ", map[string]any(op.Row))
		}
		for _, m := range op.Mutations {
			s += fmt.Sprint(" ", m.Mutator, m.Value)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func baseActual() *actual {
	one := 1000
	return &actual{
		switches: map[string]*vtep.PhysicalSwitch{"S": {UUID: "S", Name: "gatewayhost", Ports: []string{"P1", "Pmissing"}}},
		ports:    map[string]*vtep.PhysicalPort{"P1": {UUID: "P1", Name: "port1", VLANBindings: map[int]string{}}},
		lswitches: map[string]*vtep.LogicalSwitch{
			"L1": {UUID: "L1", Name: "ls1", TunnelKey: &one, OtherConfig: map[string]string{OwnerKey: "l2gw"}},
			"L2": {UUID: "L2", Name: "ls2", OtherConfig: map[string]string{OwnerKey: "l2gw"}},
			"F":  {UUID: "F", Name: "foreign"},
		},
		locators: map[string]*vtep.PhysicalLocator{
			"C1": {UUID: "C1", EncapsulationType: planner.EncapVXLAN, DstIP: "192.0.2.1"},
			"C2": {UUID: "C2", EncapsulationType: planner.EncapVXLAN, DstIP: "192.0.2.2"},
			"C3": {UUID: "C3", EncapsulationType: planner.EncapVXLAN, DstIP: "192.0.2.3", TunnelKey: &one},
		},
		locatorSets: map[string]*vtep.PhysicalLocatorSet{},
		ucastRemote: map[string]*vtep.UcastMacsRemote{},
		mcastRemote: map[string]*vtep.McastMacsRemote{},
		ucastLocal:  map[string]*vtep.UcastMacsLocal{},
		mcastLocal:  map[string]*vtep.McastMacsLocal{},
		routers:     map[string]*vtep.LogicalRouter{},
	}
}

func TestDiffPlan(t *testing.T) {
	tests := []struct {
		name         string
		plan         planner.SwitchPlan
		setup        func(a *actual)
		want         []string
		wantProblems []string
	}{{
		name: "in sync",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").build(),
		setup: func(a *actual) {
			a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C1"}
		},
	}, {
		name: "duplicate MAC rows are collapsed",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").build(),
		setup: func(a *actual) {
			a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "AA:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C2"}
			a.ucastRemote["U2"] = &vtep.UcastMacsRemote{UUID: "U2", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C1"}
		},
		want: []string{"delete Ucast_Macs_Remote U1"},
	}, {
		name: "host move reuses a locator; a keyed locator is not reused",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "10.0.0.1", "192.0.2.2").mac("ls1", "aa:00:00:00:00:02", "", "192.0.2.3").build(),
		setup: func(a *actual) {
			a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "C1"}
		},
		want: []string{
			"insert Physical_Locator map[dst_ip:192.0.2.3 encapsulation_type:vxlan_over_ipv4]",
			"insert Ucast_Macs_Remote map[MAC:aa:00:00:00:00:02 ipaddr: locator:{loc0} logical_switch:{L1}]",
			"update Ucast_Macs_Remote U1 map[ipaddr:10.0.0.1 locator:{C2}]",
		},
	}, {
		name: "binding moves between our logical switches",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).bind("port1", 100, "ls2").build(),
		setup: func(a *actual) {
			a.ports["P1"].VLANBindings = map[int]string{100: "L1", 7: "F"}
		},
		want: []string{"mutate Physical_Port P1 delete{map[100:{L1}]} insert{map[100:{L2}]}"},
	}, {
		name: "foreign binding and foreign logical switch are reported, not touched",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).ls("foreign", 5).bind("port1", 100, "ls1").bind("port1", 200, "foreign").bind("port2", 1, "ls1").build(),
		setup: func(a *actual) {
			a.ports["P1"].VLANBindings = map[int]string{100: "F"}
		},
		wantProblems: []string{
			`binding port1/100 is held by logical switch "foreign" not owned by l2gw`,
			`logical switch "foreign" exists and is not owned by l2gw`,
			`port "port2" not found on the switch`,
		},
	}, {
		name: "removed logical switch goes with its rows and learnt MACs",
		plan: newPlan().ls("ls1", 2000).build(),
		setup: func(a *actual) {
			a.ports["P1"].VLANBindings = map[int]string{100: "L2", 200: "F"}
			a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L2", Locator: "C1"}
			a.ucastRemote["U9"] = &vtep.UcastMacsRemote{UUID: "U9", MAC: "aa:00:00:00:00:09", LogicalSwitch: "F", Locator: "C1"}
			a.ucastLocal["M1"] = &vtep.UcastMacsLocal{UUID: "M1", MAC: "bb:00:00:00:00:01", LogicalSwitch: "L2", Locator: "C1"}
		},
		want: []string{
			"delete Logical_Switch L2",
			"delete Ucast_Macs_Local M1",
			"delete Ucast_Macs_Remote L2", // where logical_switch == L2
			"mutate Physical_Port P1 delete{map[100:{L2}]}",
			"update Logical_Switch L1 map[tunnel_key:{[2000]}]",
		},
	}, {
		name: "logical switch bound to a router is kept",
		plan: newPlan().ls("ls1", 1000).build(),
		setup: func(a *actual) {
			a.routers["R"] = &vtep.LogicalRouter{UUID: "R", Name: "r1", SwitchBinding: map[string]string{"10.0.0.0/24": "L2"}}
		},
		wantProblems: []string{`logical switch "ls2" is still bound to logical router "r1"`},
	}, {
		name: "flooding set created from locators, new and old",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).flood("ls1", "192.0.2.1", "192.0.2.9").build(),
		want: []string{
			"insert Mcast_Macs_Remote map[MAC:unknown-dst locator_set:{set0} logical_switch:{L1}]",
			"insert Physical_Locator map[dst_ip:192.0.2.9 encapsulation_type:vxlan_over_ipv4]",
			"insert Physical_Locator_Set map[locators:{[{C1} {loc0}]}]",
		},
	}, {
		name: "dangling references do not panic",
		plan: newPlan().ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").flood("ls1", "192.0.2.1").build(),
		setup: func(a *actual) {
			a.ucastRemote["U1"] = &vtep.UcastMacsRemote{UUID: "U1", MAC: "aa:00:00:00:00:01", LogicalSwitch: "L1", Locator: "gone"}
			a.ucastRemote["U2"] = &vtep.UcastMacsRemote{UUID: "U2", MAC: "aa:00:00:00:00:02", LogicalSwitch: "gone", Locator: "gone"}
			a.mcastRemote["K1"] = &vtep.McastMacsRemote{UUID: "K1", MAC: "unknown-dst", LogicalSwitch: "L1", LocatorSet: "gone"}
			a.ucastLocal["M1"] = &vtep.UcastMacsLocal{UUID: "M1", LogicalSwitch: "gone", Locator: "gone"}
			a.locatorSets["E"] = &vtep.PhysicalLocatorSet{UUID: "E", Locators: []string{"gone"}}
		},
		want: []string{
			"insert Physical_Locator_Set map[locators:{[{C1}]}]",
			"update Mcast_Macs_Remote K1 map[locator_set:{set0}]",
			"update Ucast_Macs_Remote U1 map[locator:{C1}]",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseActual()
			if tt.setup != nil {
				tt.setup(a)
			}
			ch := diffPlan(&tt.plan, a, "S", "l2gw")
			if diff := cmp.Diff(tt.want, summary(ch.ops)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, ch.problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			// Report building reads the same state: it must not panic either.
			_, _ = buildReport(a, "S", &tt.plan, "l2gw")
		})
	}
}

// TestDiffDeletesRemovedSwitchMACsByCondition: the remote MACs of a logical
// switch that leaves the plan go in one delete by logical switch, and the
// agent still waits for each row to disappear.
func TestDiffDeletesRemovedSwitchMACsByCondition(t *testing.T) {
	a := baseActual()
	for i, ls := range []string{"L2", "L2", "L2", "L1"} {
		u := fmt.Sprintf("U%d", i)
		a.ucastRemote[u] = &vtep.UcastMacsRemote{UUID: u, MAC: fmt.Sprintf("aa:00:00:00:00:%02d", i), LogicalSwitch: ls, Locator: "C1"}
	}
	plan := newPlan().ls("ls1", 1000).mac("ls1", "aa:00:00:00:00:03", "", "192.0.2.1").build()
	ch := diffPlan(&plan, a, "S", "l2gw")
	var macDeletes []ovsdb.Operation
	for _, op := range ch.ops {
		if op.Table == vtep.UcastMacsRemoteTable {
			macDeletes = append(macDeletes, op)
		}
	}
	want := []ovsdb.Operation{{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable,
		Where: []ovsdb.Condition{{Column: "logical_switch", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: "L2"}}}}}
	if diff := cmp.Diff(want, macDeletes); diff != "" {
		t.Errorf("remote MAC operations (-want +got):\n%s", diff)
	}
	var deleted []string
	for _, r := range ch.deleted {
		if r.table == vtep.UcastMacsRemoteTable {
			deleted = append(deleted, r.uuid)
		}
	}
	sort.Strings(deleted)
	if diff := cmp.Diff([]string{"U0", "U1", "U2"}, deleted); diff != "" {
		t.Errorf("rows waited for (-want +got):\n%s", diff)
	}
}

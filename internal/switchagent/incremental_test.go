package switchagent

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/ovsdb"
	"pgregory.net/rapid"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// The pools the property tests draw from: few enough values that keys
// collide (duplicates, case variants, moves between hosts).
var (
	propLS   = []string{"ls1", "ls2", "ls3" /* not in any plan */, "foreign"}
	propMACs = []string{"aa:00:00:00:00:01", "aa:00:00:00:00:02", "AA:00:00:00:00:02", "aa:00:00:00:00:03", "aa:00:00:00:00:04", "Aa:00:00:00:00:05"}
	propIPs  = []string{"", "10.0.0.1", "10.0.0.2"}
	propLocs = []string{"192.0.2.1", "192.0.2.2", "192.0.2.9" /* no locator yet */, "" /* a problem */}
	lsUUID   = map[string]string{"ls1": "L1", "ls2": "L2", "foreign": "F"}
)

// drawPlan draws a plan with logical switches ls1, ls2 (and the foreign
// one, sometimes) and remote MACs from the pools; some plan keys differ in
// spelling from their MAC (irregular keys).
func drawPlan(t *rapid.T, label string) planner.SwitchPlan {
	p := newPlan().ls("ls1", 1000).ls("ls2", 0).build()
	if rapid.Bool().Draw(t, label+" foreign in plan") {
		p.LogicalSwitches["foreign"] = planner.LogicalSwitch{Name: "foreign", VNI: 5}
	}
	n := rapid.IntRange(0, 12).Draw(t, label+" macs")
	for i := 0; i < n; i++ {
		m := planner.RemoteMAC{
			LogicalSwitch: rapid.SampledFrom(propLS).Draw(t, label+" ls"),
			MAC:           rapid.SampledFrom(propMACs).Draw(t, label+" mac"),
			IP:            rapid.SampledFrom(propIPs).Draw(t, label+" ip"),
			LocatorIP:     rapid.SampledFrom(propLocs).Draw(t, label+" loc"),
		}
		k := m.Key()
		if rapid.IntRange(0, 9).Draw(t, label+" irregular") == 0 {
			k.MAC = strings.ToUpper(k.MAC)
		}
		p.RemoteMACs[k] = m
	}
	return p
}

// drawRow draws a Ucast_Macs_Remote row (UUID U<n>).
func drawRow(t *rapid.T, a *actual, n int) *vtep.UcastMacsRemote {
	ls := rapid.SampledFrom([]string{"L1", "L2", "F"}).Draw(t, "row ls")
	return &vtep.UcastMacsRemote{
		UUID: fmt.Sprintf("U%d", n), LogicalSwitch: ls,
		MAC:     rapid.SampledFrom(propMACs).Draw(t, "row mac"),
		Ipaddr:  rapid.SampledFrom(propIPs).Draw(t, "row ip"),
		Locator: rapid.SampledFrom(slices.Sorted(maps.Keys(a.locators))).Draw(t, "row locator"),
	}
}

// applyMACOps applies the Physical_Locator inserts and the
// Ucast_Macs_Remote operations of ops to a (what ovsdb-server would do for
// the remote MAC rows), naming new rows after *next.
func applyMACOps(t *rapid.T, a *actual, ops []ovsdb.Operation, next *int) {
	named := map[string]string{}
	res := func(v any) string {
		u := v.(ovsdb.UUID).GoUUID
		if real, ok := named[u]; ok {
			return real
		}
		return u
	}
	for _, op := range ops {
		switch {
		case op.Table == vtep.PhysicalLocatorTable && op.Op == ovsdb.OperationInsert:
			*next++
			u := fmt.Sprintf("N%d", *next)
			named[op.UUIDName] = u
			a.locators[u] = &vtep.PhysicalLocator{UUID: u, EncapsulationType: planner.EncapVXLAN, DstIP: op.Row["dst_ip"].(string)}
		case op.Table != vtep.UcastMacsRemoteTable:
		case op.Op == ovsdb.OperationInsert:
			*next++
			u := fmt.Sprintf("U%d", *next)
			a.ucastRemote[u] = &vtep.UcastMacsRemote{UUID: u, MAC: op.Row["MAC"].(string), LogicalSwitch: res(op.Row["logical_switch"]),
				Locator: res(op.Row["locator"]), Ipaddr: op.Row["ipaddr"].(string)}
		case op.Op == ovsdb.OperationDelete && op.Where[0].Column == "logical_switch":
			ls := op.Where[0].Value.(ovsdb.UUID).GoUUID
			maps.DeleteFunc(a.ucastRemote, func(_ string, r *vtep.UcastMacsRemote) bool { return r.LogicalSwitch == ls })
		case op.Op == ovsdb.OperationDelete:
			delete(a.ucastRemote, op.Where[0].Value.(ovsdb.UUID).GoUUID)
		case op.Op == ovsdb.OperationUpdate:
			u := op.Where[0].Value.(ovsdb.UUID).GoUUID
			r := *a.ucastRemote[u]
			if v, ok := op.Row["MAC"]; ok {
				r.MAC = v.(string)
			}
			if v, ok := op.Row["ipaddr"]; ok {
				r.Ipaddr = v.(string)
			}
			if v, ok := op.Row["locator"]; ok {
				r.Locator = res(v)
			}
			a.ucastRemote[u] = &r
		default:
			t.Fatalf("unexpected operation %s on %s", op.Op, op.Table)
		}
	}
}

func macOps(ops []ovsdb.Operation) []string {
	var out []ovsdb.Operation
	for _, op := range ops {
		if op.Table == vtep.UcastMacsRemoteTable {
			out = append(out, op)
		}
	}
	return summary(out)
}

// TestIncrementalEqualsFull: after a successful sync of plan p1, random
// plan changes, random writes by other writers (seen as cache events) and
// the echo of the agent's own writes, the incremental diff of the next
// plan p2 equals the full diff: same operations, same deleted rows, same
// problems. Sometimes the switch shares the database with another served
// switch (share.go), whose plan stays the same.
func TestIncrementalEqualsFull(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := baseActual()
		var share sharing
		var q *planner.SwitchPlan
		if rapid.Bool().Draw(t, "shared database") {
			q = new(drawPlan(t, "other switch"))
			share = sharing{others: []*planner.SwitchPlan{q}, noOrphans: rapid.Bool().Draw(t, "no orphans"), otherPorts: map[string]bool{}, print: "q"}
			if rapid.Bool().Draw(t, "other switch first") {
				share.lower = share.others
			}
		}
		next := 100
		for i := rapid.IntRange(0, 8).Draw(t, "initial rows"); i > 0; i-- {
			next++
			r := drawRow(t, a, next)
			a.ucastRemote[r.UUID] = r
		}
		sess := &session{gen: 1}
		var in incState
		in.begin(sess)

		// Sync p1 in full and apply it.
		p1 := &workerPlan{Revision: 1, Plan: new(drawPlan(t, "p1")), Gen: 1}
		sc := in.scope(p1, a, nil, false, false, "l2gw")
		if sc != nil {
			t.Fatalf("first sync scoped")
		}
		ch1 := diffShared(p1.Plan, a, "S", "l2gw", nil, share)
		before := maps.Clone(a.ucastRemote)
		applyMACOps(t, a, ch1.ops, &next)
		written := map[string]bool{}
		var echo []macEvent
		for u, r := range a.ucastRemote {
			if old, ok := before[u]; !ok || *old != *r {
				written[u] = false
				echo = append(echo, macEvent{uuid: u, old: before[u], new: r})
			}
		}
		for u, r := range before {
			if _, ok := a.ucastRemote[u]; !ok {
				written[u] = true
				echo = append(echo, macEvent{uuid: u, old: r})
			}
		}
		in.done(p1, nil, ch1, true, written)
		if again := diffShared(p1.Plan, a, "S", "l2gw", nil, share); len(macOps(again.ops)) > 0 {
			t.Fatalf("full diff not idempotent: %v", macOps(again.ops))
		}

		// Other writers: insert, update, delete rows; each is an event.
		events := slices.Clone(echo)
		for i := rapid.IntRange(0, 4).Draw(t, "foreign writes"); i > 0; i-- {
			ids := slices.Sorted(maps.Keys(a.ucastRemote))
			switch op := rapid.IntRange(0, 2).Draw(t, "foreign op"); {
			case op == 0 || len(ids) == 0:
				next++
				r := drawRow(t, a, next)
				a.ucastRemote[r.UUID] = r
				events = append(events, macEvent{uuid: r.UUID, new: r})
			case op == 1:
				u := rapid.SampledFrom(ids).Draw(t, "updated")
				r := drawRow(t, a, 0)
				r.UUID = u
				old := a.ucastRemote[u]
				a.ucastRemote[u] = r
				events = append(events, macEvent{uuid: u, old: old, new: r})
			default:
				u := rapid.SampledFrom(ids).Draw(t, "deleted")
				events = append(events, macEvent{uuid: u, old: a.ucastRemote[u]})
				delete(a.ucastRemote, u)
			}
		}
		// Events may be seen in any order and the echo twice.
		events = rapid.Permutation(events).Draw(t, "event order")

		p2 := p1
		if rapid.Bool().Draw(t, "plan changes") {
			p2 = &workerPlan{Revision: 2, Plan: new(drawPlan(t, "p2")), Gen: 2}
			if rapid.Bool().Draw(t, "p2 extends p1") {
				p2.Plan.RemoteMACs = maps.Clone(p1.Plan.RemoteMACs)
				maps.Copy(p2.Plan.RemoteMACs, drawPlan(t, "p2 extra").RemoteMACs)
				p2.Plan.LogicalSwitches = p1.Plan.LogicalSwitches
			}
		}
		regular := func(p planner.SwitchPlan) bool {
			for pk, m := range p.RemoteMACs {
				if pk != m.Key() {
					return false
				}
			}
			return true
		}
		// Deltas key MACs by RemoteMAC.Key: only plans without irregular keys.
		if q != nil && rapid.Bool().Draw(t, "other switch's plan changes") {
			// Its remote MACs change by a delta (a new whole plan or other
			// logical switches make the agent diff in full).
			q2 := drawPlan(t, "other switch later")
			q2.LogicalSwitches = q.LogicalSwitches
			if regular(*q) && regular(q2) {
				in.markOthers(planner.DiffSwitch(*q, q2))
				*q = q2
			}
		}
		if p2 != p1 && regular(*p1.Plan) && regular(*p2.Plan) && rapid.Bool().Draw(t, "as a delta") {
			// DeltaPlans: the worker's plan is changed in place.
			in.applyDelta(p1, planner.DiffSwitch(*p1.Plan, *p2.Plan))
			if diff := cmp.Diff(p2.Plan.RemoteMACs, p1.Plan.RemoteMACs); diff != "" {
				t.Fatalf("plan after the delta (-want +got):\n%s", diff)
			}
			p1.Revision = p2.Revision
			p2 = p1
		} else if p2 != p1 && rapid.Bool().Draw(t, "p2 in p1's place") {
			// A new whole plan at the address of the old one: the
			// generation, not the pointer, tells them apart.
			*p1 = *p2
			p2 = p1
		}
		full := diffShared(p2.Plan, a, "S", "l2gw", nil, share)
		scope := in.scope(p2, a, events, false, false, "l2gw")
		got := diffShared(p2.Plan, a, "S", "l2gw", scope, share)
		if diff := cmp.Diff(summary(full.ops), summary(got.ops)); diff != "" {
			t.Fatalf("ops (-full +incremental), scope %v:\n%s", scope != nil, diff)
		}
		if diff := cmp.Diff(full.deleted, got.deleted, cmp.AllowUnexported(rowRef{})); diff != "" {
			t.Fatalf("deleted (-full +incremental):\n%s", diff)
		}
		in.done(p2, scope, got, true, nil)
		if diff := cmp.Diff(full.problems, in.problems(got)); diff != "" {
			t.Fatalf("problems (-full +incremental):\n%s", diff)
		}
	})
}

// TestScopeFallsBackToFull: the cases where the worker must diff in full.
func TestScopeFallsBackToFull(t *testing.T) {
	a := baseActual()
	p := &workerPlan{Revision: 1, Plan: new(newPlan().ls("ls1", 1000).ls("ls2", 0).mac("ls1", "aa:00:00:00:00:01", "", "192.0.2.1").build()), Gen: 1}
	synced := func() *incState {
		in := &incState{}
		in.begin(&session{gen: 1})
		ch := diffPlanScoped(p.Plan, a, "S", "l2gw", in.scope(p, a, nil, false, false, "l2gw"))
		in.done(p, nil, ch, true, nil)
		return in
	}
	tests := []struct {
		name  string
		do    func(in *incState) *macScope
		scope bool
	}{
		{"steady state is scoped", func(in *incState) *macScope { return in.scope(p, a, nil, false, false, "l2gw") }, true},
		{"audit", func(in *incState) *macScope { return in.scope(p, a, nil, false, true, "l2gw") }, false},
		{"session asked for full", func(in *incState) *macScope { return in.scope(p, a, nil, true, false, "l2gw") }, false},
		{"new session", func(in *incState) *macScope {
			in.begin(&session{gen: 2})
			return in.scope(p, a, nil, false, false, "l2gw")
		}, false},
		{"failed sync", func(in *incState) *macScope {
			in.done(p, nil, change{}, false, nil)
			return in.scope(p, a, nil, false, false, "l2gw")
		}, false},
		{"too many changed keys", func(in *incState) *macScope {
			big := &workerPlan{Revision: 2, Plan: new(newPlan().ls("ls1", 1000).ls("ls2", 0).build()), Gen: 2}
			for i := range 300 {
				m := planner.RemoteMAC{LogicalSwitch: "ls1", MAC: fmt.Sprintf("aa:00:00:00:%02x:%02x", i/256, i%256), LocatorIP: "192.0.2.1"}
				big.Plan.RemoteMACs[m.Key()] = m
			}
			return in.scope(big, a, nil, false, false, "l2gw")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(synced()) != nil; got != tt.scope {
				t.Errorf("scoped = %v, want %v", got, tt.scope)
			}
		})
	}

	// A logical switch that resolves differently drops the scope in the diff.
	in := synced()
	sc := in.scope(p, a, nil, false, false, "l2gw")
	b := baseActual()
	b.lswitches["L2"].OtherConfig = nil // ls2 is no longer ours
	if ch := diffPlanScoped(p.Plan, b, "S", "l2gw", sc); !ch.full {
		t.Errorf("diff with changed logical switches stayed scoped")
	}
}

// TestResolveLS: once the transaction inserting a logical switch
// committed, the fingerprint the worker keeps equals the one the next
// sync computes, so a new network costs one full diff, not two.
func TestResolveLS(t *testing.T) {
	a := baseActual()
	plan := newPlan().ls("ls1", 1000).ls("ls2", 0).ls("ls9", 9).build()
	ch := diffPlan(&plan, a, "S", "l2gw")
	var named string
	for _, op := range ch.ops {
		if op.Table == vtep.LogicalSwitchTable && op.Op == ovsdb.OperationInsert {
			named = op.UUIDName
		}
	}
	if named == "" {
		t.Fatal("no logical switch insert")
	}
	ch.resolveLS(named, "L9")
	a.lswitches["L9"] = &vtep.LogicalSwitch{UUID: "L9", Name: "ls9", OtherConfig: map[string]string{OwnerKey: "l2gw"}}
	next := diffPlan(&plan, a, "S", "l2gw")
	if diff := cmp.Diff(next.ls.print(), ch.ls.print()); diff != "" {
		t.Errorf("fingerprint (-next sync +resolved):\n%s", diff)
	}
}

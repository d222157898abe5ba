package switchagent

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/planner"
)

func pendMAC(i int) planner.RemoteMAC {
	return planner.RemoteMAC{LogicalSwitch: "ls1", MAC: fmt.Sprintf("aa:00:00:00:%02x:%02x", i>>8, i&0xff), LocatorIP: "192.0.2.1"}
}

// upserts returns a delta upserting the MACs from..to-1.
func upserts(from, to int) planner.SwitchDelta {
	var d planner.SwitchDelta
	for i := from; i < to; i++ {
		d.UpsertRemoteMACs = append(d.UpsertRemoteMACs, pendMAC(i))
	}
	return d
}

func deletes(is ...int) planner.SwitchDelta {
	var d planner.SwitchDelta
	for _, i := range is {
		d.DeleteRemoteMACs = append(d.DeleteRemoteMACs, pendMAC(i).Key())
	}
	return d
}

func TestPendingPlanBound(t *testing.T) {
	lim := deltaLimits{count: 4, minItems: 10}
	basePlan := func(n int) *planner.SwitchPlan {
		p := newPlan().ls("ls1", 1000).build()
		p.Apply(upserts(0, n))
		return &p
	}
	// ev is a delta event; snap a whole plan.
	ev := func(rev int64, d planner.SwitchDelta) PlanEvent { return PlanEvent{Revision: rev, Delta: d} }
	snap := func(rev int64, p *planner.SwitchPlan) PlanEvent { return PlanEvent{Revision: rev, Plan: p} }
	tests := []struct {
		name          string
		events        []PlanEvent
		wantDeltas    int  // queued at the end
		wantCollapsed int  // addDelta calls that collapsed
		wantNoPlan    bool // deltas without a plan are dropped
	}{
		{name: "under both limits", events: []PlanEvent{snap(1, basePlan(2)), ev(2, upserts(2, 3)), ev(3, deletes(0)), ev(4, upserts(3, 5)), ev(5, deletes(2))},
			wantDeltas: 4},
		{name: "count limit", events: []PlanEvent{snap(1, basePlan(2)), ev(2, upserts(2, 3)), ev(3, deletes(0)), ev(4, upserts(3, 5)), ev(5, deletes(2)), ev(6, upserts(0, 1))},
			wantCollapsed: 1},
		{name: "count limit twice, deltas after", events: []PlanEvent{snap(1, basePlan(1)),
			ev(2, upserts(1, 2)), ev(3, upserts(2, 3)), ev(4, upserts(3, 4)), ev(5, deletes(1)), ev(6, deletes(2)),
			ev(7, upserts(1, 2)), ev(8, upserts(5, 6)), ev(9, deletes(3)), ev(10, deletes(0)), ev(11, upserts(6, 7)),
			ev(12, planner.SwitchDelta{}), ev(13, deletes(6))},
			wantCollapsed: 2, wantDeltas: 2},
		{name: "resumed events (empty deltas) count", events: []PlanEvent{snap(1, basePlan(1)),
			ev(2, planner.SwitchDelta{}), ev(3, planner.SwitchDelta{}), ev(4, planner.SwitchDelta{}), ev(5, planner.SwitchDelta{}), ev(6, planner.SwitchDelta{})},
			wantCollapsed: 1},
		{name: "size limit on a small plan", events: []PlanEvent{snap(1, basePlan(2)), ev(2, upserts(2, 8)), ev(3, upserts(8, 14))},
			wantCollapsed: 1},
		{name: "size up to the plan's own size", events: []PlanEvent{snap(1, basePlan(40)), ev(2, upserts(40, 55)), ev(3, deletes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)), ev(4, upserts(0, 5))},
			wantDeltas: 3},
		{name: "size beyond the plan's own size", events: []PlanEvent{snap(1, basePlan(20)), ev(2, upserts(20, 35)), ev(3, deletes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)), ev(4, upserts(0, 5))},
			wantCollapsed: 1, wantDeltas: 1},
		{name: "a whole plan replaces queued deltas", events: []PlanEvent{snap(1, basePlan(2)), ev(2, upserts(2, 3)), ev(3, deletes(0)), snap(4, basePlan(7)), ev(5, deletes(6))},
			wantDeltas: 1},
		{name: "no plan yet", events: []PlanEvent{ev(2, upserts(2, 3)), ev(3, deletes(0))}, wantNoPlan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// want: every event applied in order, to a plan of our own.
			var want *planner.SwitchPlan
			var wantRev int64
			for _, e := range tt.events {
				if e.Plan != nil {
					c := e.Plan.Clone()
					want = &c
				} else if want != nil {
					want.Apply(e.Delta)
				}
				wantRev = e.Revision
			}

			var p pendingPlan
			collapsed, maxQueued := 0, 0
			var seen []*PlanUpdate // every plan handed out, with a copy of its content then
			var seenCopy []planner.SwitchPlan
			for _, e := range tt.events {
				if e.Plan != nil {
					c := e.Plan.Clone()
					p.setPlan(&PlanUpdate{Revision: e.Revision, Plan: c})
				} else if p.addDelta(e, lim) {
					collapsed++
				}
				maxQueued = max(maxQueued, len(p.deltas))
				if p.plan != nil && (len(seen) == 0 || seen[len(seen)-1] != p.plan) {
					seen = append(seen, p.plan)
					seenCopy = append(seenCopy, p.plan.Plan.Clone())
				}
			}
			if tt.wantNoPlan {
				if p.plan != nil || len(p.deltas) != 0 {
					t.Fatalf("pending = %+v; want no plan and no deltas", p)
				}
				return
			}
			if collapsed != tt.wantCollapsed || len(p.deltas) != tt.wantDeltas {
				t.Errorf("collapsed %d times, %d deltas queued; want %d and %d", collapsed, len(p.deltas), tt.wantCollapsed, tt.wantDeltas)
			}
			if maxQueued > lim.count {
				t.Errorf("%d deltas queued at most; want <= %d", maxQueued, lim.count)
			}
			// A collapse never modifies a plan already handed out (the
			// worker may be reading it).
			for i, u := range seen {
				if diff := cmp.Diff(seenCopy[i], u.Plan); diff != "" {
					t.Errorf("plan %d modified after it was handed out (-then +now):\n%s", i, diff)
				}
			}

			// The worker's fold of what is pending gives the same plan.
			var w workerState
			got := w.foldPlan(p.take())
			if got.Revision != wantRev {
				t.Errorf("folded plan at revision %d; want %d", got.Revision, wantRev)
			}
			if diff := cmp.Diff(*want, got.Plan); diff != "" {
				t.Errorf("folded plan differs from every event applied in order (-want +got):\n%s", diff)
			}
			if len(p.deltas) != 0 || p.items != 0 {
				t.Errorf("after take: %d deltas, %d items pending; want none", len(p.deltas), p.items)
			}
		})
	}
}

func TestDefaultDeltaLimits(t *testing.T) {
	// 10,000 one-port changes while the worker is busy stay bounded.
	p := pendingPlan{}
	pl := newPlan().ls("ls1", 1000).build()
	p.setPlan(&PlanUpdate{Revision: 1, Plan: pl})
	for i := range 10000 {
		p.addDelta(PlanEvent{Revision: int64(i + 2), Delta: upserts(i, i+1)}, defaultDeltaLimits)
		if len(p.deltas) > defaultDeltaLimits.count {
			t.Fatalf("after %d deltas: %d queued; want <= %d", i+1, len(p.deltas), defaultDeltaLimits.count)
		}
	}
	var w workerState
	got := w.foldPlan(p.take())
	if len(got.Plan.RemoteMACs) != 10000 || got.Revision != 10001 {
		t.Errorf("folded plan: %d MACs at revision %d; want 10000 at 10001", len(got.Plan.RemoteMACs), got.Revision)
	}
}

// TestPlanGenerations: every whole plan, received or collapsed from
// deltas, gets a new generation; deltas folded into the worker's plan keep
// it (incState tells plans apart by it).
func TestPlanGenerations(t *testing.T) {
	var p pendingPlan
	var w workerState
	lim := deltaLimits{count: 2, minItems: 1 << 20}
	p.setPlan(&PlanUpdate{Revision: 1, Plan: newPlan().ls("ls1", 1000).build()})
	first := w.foldPlan(p.take())
	if first.gen == 0 {
		t.Fatalf("first plan has generation 0; want a known one")
	}
	p.addDelta(PlanEvent{Revision: 2, Delta: upserts(2, 3)}, lim)
	if got := w.foldPlan(p.take()); got.gen != first.gen {
		t.Errorf("after a delta: generation %d; want %d (same plan)", got.gen, first.gen)
	}
	p.setPlan(&PlanUpdate{Revision: 3, Plan: newPlan().ls("ls1", 1000).build()})
	second := w.foldPlan(p.take())
	if second.gen <= first.gen {
		t.Errorf("new whole plan: generation %d; want > %d", second.gen, first.gen)
	}
	for i := range 3 {
		p.addDelta(PlanEvent{Revision: int64(4 + i), Delta: upserts(3+i, 4+i)}, lim)
	}
	if got := w.foldPlan(p.take()); got.gen <= second.gen || got.Revision != 6 {
		t.Errorf("collapsed deltas: generation %d at revision %d; want > %d at 6", got.gen, got.Revision, second.gen)
	}
	p.setPlan(nil)
	if got := w.foldPlan(p.take()); got != nil {
		t.Errorf("after setPlan(nil): plan %+v; want none", got)
	}
}

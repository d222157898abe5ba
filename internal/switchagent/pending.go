package switchagent

import "github.com/l2gw/l2gw/internal/planner"

// deltaLimits bound the plan deltas queued for the worker: while it waits
// on a slow switch (up to its transaction timeout) DeltaPlans keeps
// delivering, and without a bound the queue would grow with the feed.
type deltaLimits struct {
	// count is the most deltas queued; one more collapses them.
	count int
	// minItems is the least total size (rows upserted or deleted) of the
	// queued deltas that collapses them; the bound is the larger of it and
	// the size of the plan itself, so the queue never holds much more than
	// a copy of the plan would.
	minItems int
}

var defaultDeltaLimits = deltaLimits{count: 1024, minItems: 4096}

// pendingPlan is the plan handed from the plan loop to the worker: the
// latest whole plan and the deltas received after it (DeltaPlans). The
// agent's mu guards it, and the worker folds the deltas into plan under
// mu too (foldPlan), so the plan loop may read plan while holding mu.
type pendingPlan struct {
	plan   *PlanUpdate
	deltas []PlanEvent
	items  int    // total size of deltas
	gen    uint64 // generation of the last plan set
}

// setPlan replaces the plan (nil: none yet) and drops the queued deltas. A
// plan gets the next generation (PlanUpdate.gen), by which the worker
// tells it from the plan it realised before (see incState).
func (p *pendingPlan) setPlan(u *PlanUpdate) {
	if u != nil {
		p.gen++
		u.gen = p.gen
	}
	p.plan, p.deltas, p.items = u, nil, 0
}

// addDelta queues e (dropped while there is no plan to apply it to). Past
// the limits it collapses the queue: the deltas are applied to a copy of
// the plan, which becomes the new whole plan with a new generation (the
// worker then compares it with the plan it realised, as for any whole
// plan), and it reports true.
// The old plan is not modified: the worker may be reading it.
func (p *pendingPlan) addDelta(e PlanEvent, lim deltaLimits) bool {
	if p.plan == nil {
		return false
	}
	p.deltas = append(p.deltas, e)
	p.items += deltaItems(e.Delta)
	if len(p.deltas) <= lim.count && p.items <= max(lim.minItems, planItems(&p.plan.Plan)) {
		return false
	}
	c := p.plan.Plan.Clone()
	for _, d := range p.deltas {
		c.Apply(d.Delta)
	}
	p.setPlan(&PlanUpdate{Revision: e.Revision, Plan: c})
	return true
}

// take returns the plan and the deltas queued after it, and clears the
// deltas.
func (p *pendingPlan) take() (*PlanUpdate, []PlanEvent) {
	ds := p.deltas
	p.deltas, p.items = nil, 0
	return p.plan, ds
}

func deltaItems(d planner.SwitchDelta) int {
	return len(d.UpsertLogicalSwitches) + len(d.DeleteLogicalSwitches) +
		len(d.UpsertBindings) + len(d.DeleteBindings) +
		len(d.UpsertRemoteMACs) + len(d.DeleteRemoteMACs) +
		len(d.UpsertMcastRemotes) + len(d.DeleteMcastRemotes)
}

func planItems(p *planner.SwitchPlan) int {
	return len(p.LogicalSwitches) + len(p.Bindings) + len(p.RemoteMACs) + len(p.McastRemotes)
}

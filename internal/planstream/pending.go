package planstream

import "github.com/l2gw/l2gw/internal/planner"

// Kind is what the generic machinery needs to know of a plan type.
type Kind[P, D any] struct {
	// Apply applies a delta to a plan in place.
	Apply func(*P, *D)
	// Clone returns a deep copy of a plan.
	Clone func(*P) P
	// Size and DeltaSize count the rows of a plan and of a delta.
	Size      func(*P) int
	DeltaSize func(*D) int
}

// Switch is the Kind of switch plans.
var Switch = Kind[planner.SwitchPlan, planner.SwitchDelta]{
	Apply:     func(p *planner.SwitchPlan, d *planner.SwitchDelta) { p.Apply(*d) },
	Clone:     func(p *planner.SwitchPlan) planner.SwitchPlan { return p.Clone() },
	Size:      func(p *planner.SwitchPlan) int { return p.Size() },
	DeltaSize: func(d *planner.SwitchDelta) int { return d.Size() },
}

// Host is the Kind of host plans.
var Host = Kind[planner.HostPlan, planner.HostDelta]{
	Apply:     func(p *planner.HostPlan, d *planner.HostDelta) { p.Apply(*d) },
	Clone:     func(p *planner.HostPlan) planner.HostPlan { return p.Clone() },
	Size:      func(p *planner.HostPlan) int { return p.Size() },
	DeltaSize: func(d *planner.HostDelta) int { return d.Size() },
}

// Base is a whole plan handed to a worker. Gen numbers the whole plans of
// one Pending: a worker that sees a new generation starts over from this
// plan; within a generation it applies the deltas to the plan in place.
type Base[P any] struct {
	Gen      uint64
	Revision int64
	Plan     *P
}

// Limits bound the deltas a Pending queues while its worker is busy (a slow
// switch): past either, the queue collapses into a new whole plan.
type Limits struct {
	// Count is the most deltas queued. Zero means 1024.
	Count int
	// MinRows is the least total size of the queued deltas that collapses
	// them; the bound is the larger of it and the plan's own size, so the
	// queue never holds much more than a copy of the plan would. Zero
	// means 4096.
	MinRows int
}

// Pending is the plan handed from a watch to a worker: the latest whole
// plan and the deltas received after it, in order. It is the one place a
// watch's events are folded. It is not safe for concurrent use: the agent
// guards it, and the worker applies taken deltas to the base under the same
// guard, since Add may copy the base.
type Pending[P, D any] struct {
	kind   Kind[P, D]
	lim    Limits
	base   *Base[P]
	gen    uint64
	deltas []planner.Event[P, D]
	rows   int
}

// NewPending returns an empty Pending of kind k.
func NewPending[P, D any](k Kind[P, D], lim Limits) *Pending[P, D] {
	if lim.Count <= 0 {
		lim.Count = 1024
	}
	if lim.MinRows <= 0 {
		lim.MinRows = 4096
	}
	return &Pending[P, D]{kind: k, lim: lim}
}

// Add takes one event of a watch. A snapshot becomes the new base (a new
// generation) and drops the queued deltas; a delta or a resumed event is
// queued (dropped while there is no base; a resumed event as an empty
// delta at its revision). Past the limits the queue collapses: the deltas
// are applied to a copy of the base, which becomes the new base, and Add
// reports true. The old base is not modified: the worker may be reading it.
func (p *Pending[P, D]) Add(ev planner.Event[P, D]) (collapsed bool) {
	switch ev.Type {
	case planner.EventSnapshot:
		p.setBase(ev.Revision, ev.Plan)
		return false
	case planner.EventResumed:
		ev.Delta = new(D)
	}
	if p.base == nil || ev.Delta == nil {
		return false
	}
	p.deltas = append(p.deltas, ev)
	p.rows += p.kind.DeltaSize(ev.Delta)
	if len(p.deltas) <= p.lim.Count && p.rows <= max(p.lim.MinRows, p.kind.Size(p.base.Plan)) {
		return false
	}
	c := p.kind.Clone(p.base.Plan)
	for _, d := range p.deltas {
		p.kind.Apply(&c, d.Delta)
	}
	p.setBase(ev.Revision, &c)
	return true
}

// Reset forgets the plan (the watch now serves another name).
func (p *Pending[P, D]) Reset() { p.base, p.deltas, p.rows = nil, nil, 0 }

func (p *Pending[P, D]) setBase(rev int64, plan *P) {
	p.gen++
	p.base = &Base[P]{Gen: p.gen, Revision: rev, Plan: plan}
	p.deltas, p.rows = nil, 0
}

// Take returns the base (nil before the first snapshot) and the deltas
// queued since the last Take, and clears the queue.
func (p *Pending[P, D]) Take() (*Base[P], []planner.Event[P, D]) {
	ds := p.deltas
	p.deltas, p.rows = nil, 0
	return p.base, ds
}

// Queued returns how many deltas wait for the worker.
func (p *Pending[P, D]) Queued() int { return len(p.deltas) }

// Fold brings b up to date with deltas (taken from this Pending) in place:
// b.Plan and b.Revision then hold the latest plan, which is what a worker
// that needs only that (not the changes) reads.
func (p *Pending[P, D]) Fold(b *Base[P], deltas []planner.Event[P, D]) {
	for _, d := range deltas {
		p.kind.Apply(b.Plan, d.Delta)
		b.Revision = d.Revision
	}
}

package planner

// EventType says what a plan Event carries.
type EventType string

// The event types of a plan watch, the same in-process and on the wire
// (internal/agentwire).
const (
	// EventSnapshot carries the whole plan: it replaces the watcher's.
	EventSnapshot EventType = "snapshot"
	// EventDelta carries a change to apply to the watcher's plan.
	EventDelta EventType = "delta"
	// EventResumed says the watcher's plan, held from an earlier watch, is
	// current at Revision: nothing to apply.
	EventResumed EventType = "resumed"
)

// Event is one step of a watch on the plan of one switch or host. Plan is
// set on snapshots, Delta on deltas. Revision is the store revision the
// watcher's plan reflects once the event is applied; it never decreases
// within one watch.
//
// Deltas may be shared between watchers: a consumer must not modify them.
// A snapshot's plan belongs to the consumer.
type Event[P, D any] struct {
	Type     EventType `json:"type"`
	Revision int64     `json:"revision,omitempty"`
	Plan     *P        `json:"plan,omitempty"`
	Delta    *D        `json:"delta,omitempty"`
}

// SwitchEvent is an Event of a switch plan.
type SwitchEvent = Event[SwitchPlan, SwitchDelta]

// HostEvent is an Event of a host plan.
type HostEvent = Event[HostPlan, HostDelta]

// Size returns how many rows the delta upserts or deletes.
func (d SwitchDelta) Size() int {
	return len(d.UpsertLogicalSwitches) + len(d.DeleteLogicalSwitches) +
		len(d.UpsertBindings) + len(d.DeleteBindings) +
		len(d.UpsertRemoteMACs) + len(d.DeleteRemoteMACs) +
		len(d.UpsertMcastRemotes) + len(d.DeleteMcastRemotes)
}

// Size returns how many rows the plan holds.
func (p SwitchPlan) Size() int {
	return len(p.LogicalSwitches) + len(p.Bindings) + len(p.RemoteMACs) + len(p.McastRemotes)
}

// Size returns how many networks the delta upserts or deletes.
func (d HostDelta) Size() int { return len(d.UpsertNetworks) + len(d.DeleteNetworks) }

// Size returns how many networks the plan holds.
func (p HostPlan) Size() int { return len(p.Networks) }

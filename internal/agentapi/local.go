package agentapi

import (
	"context"

	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/switchagent"
)

// Local serves plans to agents running inside the server, straight from
// the feed: it implements switchagent.Plans and hostagent.Plans. The store
// itself is their switchagent.Reporter and hostagent.Registrar.
type Local struct {
	Feed *planfeed.Feed
}

var (
	_ switchagent.DeltaPlans = Local{}
	_ hostagent.Plans        = Local{}
)

// WatchSwitch implements switchagent.Plans.
func (l Local) WatchSwitch(ctx context.Context, name string) (<-chan switchagent.PlanUpdate, error) {
	return planfeed.SwitchPlansFunc(ctx, l.Feed, name, func(rev int64, p planner.SwitchPlan) switchagent.PlanUpdate {
		return switchagent.PlanUpdate{Revision: rev, Plan: p}
	})
}

// WatchSwitchDeltas implements switchagent.DeltaPlans: the feed's events
// as they are, so that no whole plan is copied per change.
func (l Local) WatchSwitchDeltas(ctx context.Context, name string) (<-chan switchagent.PlanEvent, error) {
	return planfeed.SwitchEventsFunc(ctx, l.Feed, name, func(ev planfeed.SwitchEvent) switchagent.PlanEvent {
		return switchagent.PlanEvent{Revision: ev.Revision, Plan: ev.Plan, Delta: ev.Delta}
	})
}

// WatchHost implements hostagent.Plans.
func (l Local) WatchHost(ctx context.Context, name string) (<-chan hostagent.PlanUpdate, error) {
	return planfeed.HostPlansFunc(ctx, l.Feed, name, func(rev int64, p planner.HostPlan) hostagent.PlanUpdate {
		return hostagent.PlanUpdate{Revision: rev, Plan: p}
	})
}

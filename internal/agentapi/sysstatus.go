package agentapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/version"
)

// systemStatus answers GET agentwire.SystemStatusPath.
func (h *Handler) systemStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.SystemStatus(r.Context())
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		api.WriteError(w, r, h.log, fmt.Errorf("encode status: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// SystemStatus computes the status of the whole system: the server's
// facts, every reported switch and every known host with the state of
// its agent against its plan (agentwire.SwitchState, agentwire.HostState).
// A store that does not answer shows in Server.DatabaseError, not as a
// failure of the request.
func (h *Handler) SystemStatus(ctx context.Context) (agentwire.SystemStatus, error) {
	now := h.cfg.Now()
	v := version.Get()
	out := agentwire.SystemStatus{
		Server: agentwire.ServerStatus{
			Version: v.Version, VCSRevision: v.Revision, Database: store.Redact(h.cfg.Database),
			StartedAt:     neutron.Time{Time: h.cfg.Started},
			UptimeSeconds: int64(now.Sub(h.cfg.Started).Seconds()),
		},
		Switches: []agentwire.SwitchState{},
		Hosts:    []agentwire.HostState{},
	}
	if h.cfg.L2Pop != nil {
		l := h.cfg.L2Pop.SystemStatus()
		out.L2Pop = &l
	}
	if h.feed != nil {
		out.Server.PlanRevision = h.feed.Revision()
	}
	if h.cfg.Inventory != nil {
		out.Server.Inventory = h.cfg.Inventory()
	}
	rev, err := h.st.Revision(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return agentwire.SystemStatus{}, ctx.Err()
		}
		out.Server.DatabaseError = err.Error()
		return out, nil
	}
	out.Server.StoreRevision = rev
	caughtUp, err := h.caughtUp(ctx)
	if err != nil {
		return agentwire.SystemStatus{}, err
	}
	switches, err := h.st.ListSwitches(ctx, store.Query{})
	if err != nil {
		return agentwire.SystemStatus{}, err
	}
	slices.SortFunc(switches, func(a, b model.Switch) int { return strings.Compare(a.Name, b.Name) })
	holders := h.switchHolders(ctx, now)
	for _, sw := range switches {
		s := h.switchState(sw, caughtUp)
		s.Agent, s.Epoch = holders[sw.Name].Agent, holders[sw.Name].Epoch
		out.Switches = append(out.Switches, s)
	}
	hosts, err := h.st.ListHosts(ctx, store.Query{})
	if err != nil {
		return agentwire.SystemStatus{}, err
	}
	sts, err := h.st.ListHostStatuses(ctx, store.Query{})
	if err != nil {
		return agentwire.SystemStatus{}, err
	}
	stBy := map[string]*model.HostStatus{}
	for i := range sts {
		stBy[sts[i].Name] = &sts[i]
	}
	slices.SortFunc(hosts, func(a, b model.Host) int { return strings.Compare(a.Name, b.Name) })
	sent := map[string]agentwire.L2PopHost{}
	if out.L2Pop != nil {
		for _, x := range out.L2Pop.Hosts {
			sent[x.Host] = x
		}
	}
	for _, host := range hosts {
		if h.neutronHosts() {
			out.Hosts = append(out.Hosts, h.neutronHostState(host, sent))
			continue
		}
		out.Hosts = append(out.Hosts, h.hostState(host, stBy[host.Name], caughtUp, now))
	}
	return out, nil
}

// switchState is a switch's agent against the switch's plan.
func (h *Handler) switchState(sw model.Switch, caughtUp bool) agentwire.SwitchState {
	s := agentwire.SwitchState{Name: sw.Name, Connected: sw.Connected, LastSync: neutron.Time{Time: sw.LastSync},
		AppliedRevision: sw.SyncRevision}
	if caughtUp {
		s.Revision, _ = h.feed.SwitchChangedAt(sw.Name)
	}
	switch {
	case sw.SyncError != "":
		s.State, s.Reason = agentwire.StateError, sw.SyncError
	case !caughtUp:
		s.State, s.Reason = agentwire.StatePending, "the plans are being computed"
	case !sw.Connected:
		s.State, s.Reason = agentwire.StatePending, "the switch agent is not connected to the switch"
	case sw.SyncRevision < s.Revision:
		s.State, s.Reason = agentwire.StatePending, fmt.Sprintf("the switch agent has applied revision %d, the plan is at %d", sw.SyncRevision, s.Revision)
	default:
		s.State = agentwire.StateInSync
	}
	return s
}

// hostState is a host's agent (st: its status, nil when none) against
// the host's plan.
func (h *Handler) hostState(host model.Host, st *model.HostStatus, caughtUp bool, now time.Time) agentwire.HostState {
	s := agentwire.HostState{Name: host.Name, VTEPIP: host.VTEPIP, Alive: neutron.FromHost(host, now).Alive,
		AgentRunning: neutron.HostAgentRunning(host, st, now), LastHeartbeat: neutron.Time{Time: host.LastHeartbeat}}
	if caughtUp {
		s.Revision, _ = h.feed.HostChangedAt(host.Name)
	}
	if st != nil {
		s.AppliedRevision, s.LastSync = st.Revision, neutron.Time{Time: st.LastSync}
	}
	switch p := hostAgentProblem(host, true, st, now); {
	case p != "":
		s.State, s.Reason = agentwire.StateError, p
	case st == nil:
		s.State, s.Reason = agentwire.StatePending, "waiting for the host agent's first status"
	case !caughtUp:
		s.State, s.Reason = agentwire.StatePending, "the plans are being computed"
	case st.Revision < s.Revision:
		s.State, s.Reason = agentwire.StatePending, fmt.Sprintf("the host agent has applied revision %d, the plan is at %d", st.Revision, s.Revision)
	default:
		s.State = agentwire.StateInSync
	}
	return s
}

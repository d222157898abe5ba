package agentapi

import (
	"fmt"
	"strings"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
)

// l2popOff is the reason a compute host of a mirrored inventory carries
// when the server sends no l2pop casts: Neutron's own l2pop never sends
// the switch's tunnel IP, so nothing else gives the host's L2 agent the
// gateway's entries and the host cannot reach the switch.
const l2popOff = "l2gw does not program this host: l2pop is off (l2gw server has no --transport-url), so Neutron's L2 agent gets no entries for the gateway"

// neutronHosts reports whether the hosts are Neutron's L2 agents (l2gw
// server --inventory neutron) rather than l2gw host agents: their part of
// a status then comes from l2pop and Neutron's agent facts, not from host
// agent heartbeats.
func (h *Handler) neutronHosts() bool {
	return h.cfg.Inventory != nil || h.cfg.InventoryReadOnly != ""
}

// neutronAgentProblem says what keeps Neutron's L2 agent on host from
// taking l2pop entries regardless of l2pop ("" when nothing does).
// (With l2pop on, the l2pop part says the same and more: l2_population
// off, no vxlan.)
func neutronAgentProblem(host model.Host, known bool) string {
	a := host.Agent
	switch {
	case !known || a == nil:
		return "no Neutron L2 agent (Open vSwitch or Linux bridge) is known on the host"
	case !a.Alive:
		return fmt.Sprintf("the host's %s is not alive (last heartbeat at %s)", agentType(a), host.LastHeartbeat.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return ""
}

func agentType(a *model.L2Agent) string {
	if a.Type == "" {
		return "L2 agent"
	}
	return a.Type
}

// neutronHostSyncs is the connection's status on the hosts (names, each
// running ports of network) when they are Neutron's: a host holds what the
// connection needs once l2pop has sent it the network's entries (Revision
// and AppliedRevision are then the store revision they were sent at,
// LastSync when); Connected is whether Neutron says its L2 agent is alive.
func (h *Handler) neutronHostSyncs(network string, names []string, hostBy map[string]model.Host) []agentwire.HostSync {
	var l2 agentwire.L2PopStatus
	sent := map[string]agentwire.L2PopHost{}
	if h.cfg.L2Pop != nil {
		l2 = h.cfg.L2Pop.NetworkStatus(network)
		for _, x := range l2.Hosts {
			sent[x.Host] = x
		}
	}
	out := make([]agentwire.HostSync, 0, len(names))
	for _, name := range names {
		host, known := hostBy[name]
		hs := agentwire.HostSync{Host: name, Connected: known && host.Agent != nil && host.Agent.Alive}
		x, ok := sent[name]
		switch {
		case h.cfg.L2Pop == nil:
			errs := []string{l2popOff}
			if p := neutronAgentProblem(host, known); p != "" {
				errs = append([]string{p}, errs...)
			}
			hs.State, hs.Reason = agentwire.StateError, strings.Join(errs, "; ")
		case !ok:
			// l2pop has no entries for the network yet (no switch tunnel
			// IP), or has not computed them since the port came.
			hs.State, hs.Reason = agentwire.StatePending, "l2pop has not computed the host's entries yet"
			if l2.Reason != "" {
				hs.Reason = "l2pop: " + l2.Reason
			}
		default:
			hs.State, hs.Reason = x.State, x.Reason
			if x.Reason != "" {
				hs.Reason = "l2pop: " + x.Reason
			}
			hs.Revision, hs.AppliedRevision, hs.LastSync = x.SentRevision, x.SentRevision, x.SentAt
		}
		out = append(out, hs)
	}
	return out
}

// neutronHostState is a host's state in the system status when it is
// Neutron's: its L2 agent's facts and, with l2pop, the worst l2pop state
// over its connected networks (sent: l2pop's hosts by name).
func (h *Handler) neutronHostState(host model.Host, sent map[string]agentwire.L2PopHost) agentwire.HostState {
	alive := host.Agent != nil && host.Agent.Alive
	s := agentwire.HostState{Name: host.Name, VTEPIP: host.VTEPIP, Alive: alive, AgentRunning: alive,
		LastHeartbeat: neutron.Time{Time: host.LastHeartbeat}}
	x, ok := sent[host.Name]
	switch p := neutronAgentProblem(host, true); {
	case h.cfg.L2Pop == nil:
		s.State, s.Reason = agentwire.StateError, l2popOff
		if p != "" {
			s.Reason = p + "; " + l2popOff
		}
	case ok:
		s.State, s.Reason = x.State, x.Reason
		if x.Reason != "" {
			s.Reason = "l2pop: " + x.Reason
		}
		s.Revision, s.AppliedRevision, s.LastSync = x.SentRevision, x.SentRevision, x.SentAt
	case p != "":
		s.State, s.Reason = agentwire.StateError, p
	default:
		// No port of a connected network here: nothing to send.
		s.State = agentwire.StateInSync
	}
	return s
}

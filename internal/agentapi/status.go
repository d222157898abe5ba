package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// connectionStatus answers whether every switch of the connection's
// gateway and every host running ports of its network holds what the
// connection needs there (see ConnectionStatus).
func (h *Handler) connectionStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := h.ConnectionStatus(ctx, r.PathValue("id"))
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

// ConnectionStatus computes the status of a connection (network N through
// gateway G) on each switch of G and each host running ports of N: exactly
// the rows the connection needs there, not the whole switch or host.
//
// On switch S the connection needs N's logical switch, the bindings of G's
// interfaces on S, and N's remote MACs and flooding; on host H, N's VXLAN
// device and bridge with FDB and flooding, and the interfaces of N's ports
// on H attached to the bridge. Each entry is error when something needed
// is missing or failing (Reason names it: a port gone from the switch or
// faulty, a problem the switch agent reports about N's logical switch or
// one of those ports, a switch agent error concerning the whole switch; a
// host agent not running or failing to realise N, an interface absent on
// the host), else pending until the agent applied the plan as of the last
// change of those rows (Revision: the plan feed dates the changes of each
// network's rows in each plan; what changed before the feed started is
// dated at its first snapshot, so a freshly started server shows pending
// until the agents have applied its plans), else in_sync.
//
// On a host, "applied" and "failing" are the host agent's facts about N:
// the revision at which it last realised N and N's own error, so that
// another network failing on H is not N's problem. An agent that reports
// no per-network facts (before issue 9) has its whole-host revision and
// error apply to every network.
//
// When the hosts are Neutron's (--inventory neutron) no host agent runs: a
// host's part is l2pop's (neutronHostSyncs).
func (h *Handler) ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error) {
	conn, err := h.st.GetConnection(ctx, id)
	if err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	gw, err := h.st.GetGateway(ctx, conn.GatewayID)
	if err != nil {
		return agentwire.ConnectionStatus{}, fmt.Errorf("gateway %s of connection %s: %w", conn.GatewayID, id, err)
	}
	caughtUp, err := h.caughtUp(ctx)
	if err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	out := agentwire.ConnectionStatus{Status: []agentwire.SwitchSync{}, Hosts: []agentwire.HostSync{}}
	seen := map[string]bool{}
	for _, d := range gw.Devices {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		s, err := h.switchSync(ctx, conn, gw, d.Name, caughtUp)
		if err != nil {
			return agentwire.ConnectionStatus{}, err
		}
		out.Status = append(out.Status, s)
	}
	hosts, err := h.hostSyncs(ctx, conn.NetworkID, caughtUp)
	if err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	out.Hosts = hosts
	out.State = agentwire.StateInSync
	states := make([]string, 0, len(out.Status)+len(out.Hosts))
	for _, s := range out.Status {
		states = append(states, s.State)
	}
	for _, s := range out.Hosts {
		states = append(states, s.State)
	}
	states = append(states, h.l2popStatus(conn, &out)...)
	switch {
	case slices.Contains(states, agentwire.StateError):
		out.State = agentwire.StateError
	case slices.Contains(states, agentwire.StatePending):
		out.State = agentwire.StatePending
	}
	return out, nil
}

// caughtUp waits (up to StatusWait) for the plan feed to have seen the
// store as of now, for its dates of changes to hold, and reports whether
// it has.
func (h *Handler) caughtUp(ctx context.Context) (bool, error) {
	if h.feed == nil {
		return false, nil
	}
	rev, err := h.st.Revision(ctx)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, h.cfg.StatusWait)
	err = h.feed.WaitRevision(wctx, rev)
	cancel()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil, nil
}

// boundPorts returns the interfaces of gateway gw on switch sw that the
// connection binds (those with VLANs, or all when it has a default VLAN).
func boundPorts(conn model.Connection, gw model.Gateway, sw string) []string {
	var out []string
	for _, d := range gw.Devices {
		if d.Name != sw {
			continue
		}
		for _, itf := range d.Interfaces {
			if itf.Name != "" && (len(itf.SegmentationIDs) > 0 || conn.SegmentationID != nil) && !slices.Contains(out, itf.Name) {
				out = append(out, itf.Name)
			}
		}
	}
	return out
}

// switchSync is the connection's status on switch name.
func (h *Handler) switchSync(ctx context.Context, conn model.Connection, gw model.Gateway, name string, caughtUp bool) (agentwire.SwitchSync, error) {
	s := agentwire.SwitchSync{Switch: name}
	sw, err := h.st.GetSwitch(ctx, name)
	switch {
	case errors.Is(err, model.ErrNotFound):
		s.State, s.Reason = agentwire.StatePending, "no agent has reported this switch"
		return s, nil
	case err != nil:
		return s, fmt.Errorf("switch %s: %w", name, err)
	}
	s.AppliedRevision, s.Connected, s.LastSync = sw.SyncRevision, sw.Connected, neutron.Time{Time: sw.LastSync}
	if caughtUp {
		s.Revision, _ = h.feed.SwitchNetworkChangedAt(name, conn.NetworkID)
	}
	ports := boundPorts(conn, gw, name)
	var errs []string
	// An agent error without scoped problems concerns the whole switch.
	if sw.SyncError != "" && len(sw.SyncProblems) == 0 {
		errs = append(errs, sw.SyncError)
	}
	for _, p := range sw.SyncProblems {
		if p.LogicalSwitch == "" && p.Port == "" || p.LogicalSwitch == conn.NetworkID || p.LogicalSwitch == "" && slices.Contains(ports, p.Port) {
			errs = append(errs, p.Error)
		}
	}
	if len(errs) == 0 {
		// What the switch reports of its ports (the agent's problems may
		// date from its last pass).
		for _, pn := range ports {
			i := slices.IndexFunc(sw.Ports, func(p model.SwitchPort) bool { return p.Name == pn })
			switch {
			case i < 0:
				errs = append(errs, fmt.Sprintf("port %s is not on the switch", pn))
			case len(sw.Ports[i].FaultStatus) > 0:
				errs = append(errs, fmt.Sprintf("port %s is faulty: %s", pn, strings.Join(sw.Ports[i].FaultStatus, ", ")))
			}
		}
	}
	switch {
	case len(errs) > 0:
		s.State, s.Reason = agentwire.StateError, strings.Join(compact(errs), "; ")
	case !caughtUp:
		s.State, s.Reason = agentwire.StatePending, "the plans are being computed"
	case !sw.Connected:
		s.State, s.Reason = agentwire.StatePending, "the switch agent is not connected to the switch"
	case sw.SyncRevision >= s.Revision:
		s.State = agentwire.StateInSync
	default:
		s.State, s.Reason = agentwire.StatePending, fmt.Sprintf("the switch agent has applied revision %d, the connection needs %d", sw.SyncRevision, s.Revision)
	}
	return s, nil
}

// hostSyncs is the connection's status on every host running ports of
// network (the hosts whose plans the connection changes), by host name.
func (h *Handler) hostSyncs(ctx context.Context, network string, caughtUp bool) ([]agentwire.HostSync, error) {
	ports, err := h.st.ListPorts(ctx, store.Query{NetworkIDs: []string{network}})
	if err != nil {
		return nil, err
	}
	byHost := map[string][]model.Port{}
	for _, p := range ports {
		if p.HostID != "" {
			byHost[p.HostID] = append(byHost[p.HostID], p)
		}
	}
	if len(byHost) == 0 {
		return []agentwire.HostSync{}, nil
	}
	names := slices.Sorted(maps.Keys(byHost))
	hosts, err := h.st.ListHosts(ctx, store.Query{Names: names})
	if err != nil {
		return nil, err
	}
	sts, err := h.st.ListHostStatuses(ctx, store.Query{Names: names})
	if err != nil {
		return nil, err
	}
	hostBy := map[string]model.Host{}
	for _, x := range hosts {
		hostBy[x.Name] = x
	}
	if h.neutronHosts() {
		return h.neutronHostSyncs(network, names, hostBy), nil
	}
	stBy := map[string]*model.HostStatus{}
	for i := range sts {
		stBy[sts[i].Name] = &sts[i]
	}
	now := h.cfg.Now()
	out := make([]agentwire.HostSync, 0, len(names))
	for _, name := range names {
		hs := agentwire.HostSync{Host: name}
		host, known := hostBy[name]
		st := stBy[name]
		if caughtUp {
			hs.Revision, _ = h.feed.HostNetworkChangedAt(name, network)
		}
		// The network's own facts when the agent reports them (a failure
		// of another network on the host is not this connection's), else
		// the host's, which then cover every network.
		n, reported := hostNetwork(st, network)
		scoped := reported && n.Scoped()
		if st != nil {
			hs.AppliedRevision, hs.LastSync = st.Revision, neutron.Time{Time: st.LastSync}
			if scoped {
				hs.AppliedRevision = n.Revision
			}
		}
		hs.Connected = known && neutron.HostAgentRunning(host, st, now)
		var errs []string
		switch p := hostAgentDown(host, known, st, now); {
		case p != "":
			errs = append(errs, p)
		case scoped && n.Error != "":
			errs = append(errs, "the host agent failed to realise the network: "+n.Error)
		case !scoped && st != nil && st.Error != "":
			errs = append(errs, "the host agent failed: "+st.Error)
		}
		pending := ""
		switch {
		case len(errs) > 0:
		case st == nil:
			pending = "waiting for the host agent's first status"
		case !caughtUp:
			pending = "the plans are being computed"
		case hs.AppliedRevision < hs.Revision:
			pending = fmt.Sprintf("the host agent has applied revision %d, the connection needs %d", hs.AppliedRevision, hs.Revision)
		case !reported:
			errs = []string{"the host agent does not realise the network"}
		default:
			errs = interfaceErrors(n, byHost[name])
		}
		switch {
		case len(errs) > 0:
			hs.State, hs.Reason = agentwire.StateError, strings.Join(compact(errs), "; ")
		case pending != "":
			hs.State, hs.Reason = agentwire.StatePending, pending
		default:
			hs.State = agentwire.StateInSync
		}
		out = append(out, hs)
	}
	return out, nil
}

// hostAgentProblem says what is wrong with the agent of host (known: the
// host is registered; st: its agent's status, nil when none): not
// registered, not running, or failing (anywhere on the host); "" when
// nothing is.
func hostAgentProblem(host model.Host, known bool, st *model.HostStatus, now time.Time) string {
	if p := hostAgentDown(host, known, st, now); p != "" {
		return p
	}
	if st != nil && st.Error != "" {
		return "the host agent failed: " + st.Error
	}
	return ""
}

// hostAgentDown says why the agent of host is not there to realise
// anything (see hostAgentProblem); "" when it runs.
func hostAgentDown(host model.Host, known bool, st *model.HostStatus, now time.Time) string {
	switch {
	case !known:
		return "the host is not registered: no host agent has run there"
	case host.LastHeartbeat.IsZero():
		return "the host agent is not running: it never sent a heartbeat"
	case now.Sub(host.LastHeartbeat) > neutron.HostAliveWindow:
		return fmt.Sprintf("the host agent is not running: last heartbeat at %s", host.LastHeartbeat.UTC().Format("2006-01-02T15:04:05Z"))
	case st != nil && !st.Connected:
		why := st.Error
		if why == "" {
			why = "it stopped"
		}
		return "the host agent is not running: " + why
	}
	return ""
}

// hostNetwork returns what the host agent's status (nil: none) says of
// network, and whether it says anything.
func hostNetwork(st *model.HostStatus, network string) (model.HostNetworkStatus, bool) {
	if st == nil {
		return model.HostNetworkStatus{}, false
	}
	for _, x := range st.Networks {
		if x.NetworkID == network {
			return x, true
		}
	}
	return model.HostNetworkStatus{}, false
}

// interfaceErrors names the interfaces of ports (the network's ports on
// the host) that the host agent's status of the network, n, does not show
// attached.
func interfaceErrors(n model.HostNetworkStatus, ports []model.Port) []string {
	var errs []string
	for _, p := range ports {
		ifc := p.InterfaceName
		switch {
		case ifc == "" || slices.Contains(n.Attached, ifc):
		case slices.Contains(n.Missing, ifc):
			errs = append(errs, fmt.Sprintf("interface %s of port %s is absent on the host", ifc, portRef(p)))
		default:
			errs = append(errs, fmt.Sprintf("interface %s of port %s is not attached to the network", ifc, portRef(p)))
		}
	}
	slices.Sort(errs)
	return errs
}

func portRef(p model.Port) string {
	if p.Name != "" {
		return p.Name + " (" + p.ID + ")"
	}
	return p.ID
}

// compact drops repeated reasons, keeping the first occurrence's order.
func compact(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

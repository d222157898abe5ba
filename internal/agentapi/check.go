package agentapi

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// Bounds of agent input, beyond the request body size (Config.MaxBodyBytes).
const (
	// MaxNameLen bounds names, ids and interface names of agent input.
	MaxNameLen = 255
	// MaxSwitchPorts bounds the ports of one switch report.
	MaxSwitchPorts = 4096
	// MaxSwitchIPs bounds a switch's tunnel and management IPs and fault
	// status entries (each list).
	MaxSwitchIPs = 64
	// MaxLocalMACs bounds the local MACs of one switch report.
	MaxLocalMACs = 100000
	// MaxProblems bounds the problems of one switch status.
	MaxProblems = 10000
	// MaxHostNetworks bounds the networks of one host status, and the
	// attached and missing interfaces of each.
	MaxHostNetworks = 4096
	// DefaultMaxReportBytes is the default limit of a switch report's
	// body: room for MaxLocalMACs local MACs (about 150 bytes each).
	DefaultMaxReportBytes = 32 << 20
)

func checkName(field, s string) error {
	if len(s) > MaxNameLen {
		return invalid("Invalid input for %s. Reason: longer than %d bytes.", field, MaxNameLen)
	}
	return nil
}

func checkCount(field string, n, limit int) error {
	if n > limit {
		return invalid("Invalid input for %s. Reason: %d items, more than the %d allowed.", field, n, limit)
	}
	return nil
}

// checkSwitchReport checks a switch report on its own: bounds, addresses,
// and that every local MAC's locator is one of the switch's tunnel IPs (a
// switch only reports MACs behind itself).
func checkSwitchReport(name string, rep agentwire.SwitchReport) error {
	sw := rep.Switch
	if err := checkName("switch name", name); err != nil {
		return err
	}
	for _, c := range []struct {
		field string
		n     int
		limit int
	}{{"tunnel_ips", len(sw.TunnelIPs), MaxSwitchIPs}, {"management_ips", len(sw.ManagementIPs), MaxSwitchIPs},
		{"fault_status", len(sw.FaultStatus), MaxSwitchIPs}, {"ports", len(sw.Ports), MaxSwitchPorts},
		{"local_macs", len(rep.LocalMACs), MaxLocalMACs}} {
		if err := checkCount(c.field, c.n, c.limit); err != nil {
			return err
		}
	}
	tunnels := make(map[string]bool, len(sw.TunnelIPs))
	for _, ip := range sw.TunnelIPs {
		// An IPv6 tunnel IP is reported with a fault (the agent does not
		// program the switch): refusing it would hide the fault.
		if net.ParseIP(ip) == nil {
			return invalid("Invalid input for tunnel_ips. Reason: '%s' is not a valid IP address.", ip)
		}
		if v4, ok := model.VTEPIPv4(ip); ok {
			tunnels[v4] = true
		}
	}
	for _, ip := range sw.ManagementIPs {
		if net.ParseIP(ip) == nil {
			return invalid("Invalid input for management_ips. Reason: '%s' is not a valid IP address.", ip)
		}
	}
	for _, p := range sw.Ports {
		if err := checkName("ports name", p.Name); err != nil {
			return err
		}
		if err := checkCount("ports fault_status", len(p.FaultStatus), MaxSwitchIPs); err != nil {
			return err
		}
	}
	for _, m := range rep.LocalMACs {
		if err := checkName("local_macs network_id", m.NetworkID); err != nil {
			return err
		}
		if _, ok := model.UnicastMAC(m.MACAddress); !ok {
			return invalid("Invalid input for local_macs mac_address. Reason: '%s' is not a valid unicast MAC address.", m.MACAddress)
		}
		if m.IPAddress != "" && net.ParseIP(m.IPAddress) == nil {
			return invalid("Invalid input for local_macs ip_address. Reason: '%s' is not a valid IP address.", m.IPAddress)
		}
		if m.LocatorIP == "" {
			continue // the planner takes the switch's first tunnel IP
		}
		loc, ok := model.VTEPIPv4(m.LocatorIP)
		if !ok {
			return invalid("Invalid input for local_macs locator_ip. Reason: '%s' is not a valid IPv4 address.", m.LocatorIP)
		}
		if !tunnels[loc] {
			return invalid("Invalid input for local_macs locator_ip. Reason: '%s' is not one of switch %s's tunnel IPs %v: a switch only reports MACs behind itself.", m.LocatorIP, name, sw.TunnelIPs)
		}
	}
	return nil
}

// checkSwitchStatus checks a switch status's bounds.
func checkSwitchStatus(st agentwire.SwitchStatus) error {
	if err := checkCount("problems", len(st.Problems), MaxProblems); err != nil {
		return err
	}
	for _, p := range st.Problems {
		if err := checkName("problems logical_switch", p.LogicalSwitch); err != nil {
			return err
		}
		if err := checkName("problems port", p.Port); err != nil {
			return err
		}
	}
	return nil
}

// checkHostStatus checks a host status's bounds.
func checkHostStatus(st agentwire.HostStatus) error {
	if err := checkCount("networks", len(st.Networks), MaxHostNetworks); err != nil {
		return err
	}
	for _, n := range st.Networks {
		if err := checkName("networks network_id", n.NetworkID); err != nil {
			return err
		}
		if n.Revision < 0 {
			return invalid("Invalid input for networks revision. Reason: %d is negative.", n.Revision)
		}
		if err := checkCount("networks attached", len(n.Attached), MaxHostNetworks); err != nil {
			return err
		}
		if err := checkCount("networks missing", len(n.Missing), MaxHostNetworks); err != nil {
			return err
		}
		for _, s := range append(slices.Clip(n.Attached), n.Missing...) {
			if err := checkName("networks interfaces", s); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRevision refuses a revision the store has not reached: an agent
// cannot have applied a plan of the future, and taking its word would
// show its switch or host in sync with changes it never saw.
func (h *Handler) checkRevision(ctx context.Context, rev int64) error {
	if rev < 0 {
		return invalid("Invalid input for revision. Reason: %d is negative.", rev)
	}
	// The plans' revision is one the store has reached, and revisions only
	// grow: a report at or below it needs no read (a thousand host agents
	// report about once a second each; on PostgreSQL each read was a round
	// trip, bench/scale).
	if h.feed != nil && rev <= h.feed.Revision() {
		return nil
	}
	cur, err := h.st.Revision(ctx)
	if err != nil {
		return fmt.Errorf("read store revision: %w", err)
	}
	if rev > cur {
		return invalid("Invalid input for revision. Reason: %d is beyond the store's revision %d.", rev, cur)
	}
	return nil
}

// portMACConflicts splits the report's local MACs into those kept and, per
// network, the problems of those dropped: a MAC that is a port's address in
// its network. The inventory says where a port's MAC is; a switch that
// claims it (a loop, a spoofing bare-metal server, a lying agent) must not
// move the port's traffic.
func (h *Handler) portMACConflicts(ctx context.Context, name string, macs []agentwire.LocalMAC) ([]agentwire.LocalMAC, []model.SyncProblem, error) {
	if len(macs) == 0 {
		return macs, nil, nil
	}
	nets := map[string]bool{}
	for _, m := range macs {
		nets[m.NetworkID] = true
	}
	ids := make([]string, 0, len(nets))
	for n := range nets {
		ids = append(ids, n)
	}
	sort.Strings(ids)
	ports, err := h.st.ListPorts(ctx, store.Query{NetworkIDs: ids})
	if err != nil {
		return nil, nil, fmt.Errorf("list ports of reported networks: %w", err)
	}
	type key struct{ net, mac string }
	owner := make(map[key]string, len(ports))
	for _, p := range ports {
		if mac, ok := model.UnicastMAC(p.MACAddress); ok {
			owner[key{p.NetworkID, mac}] = p.ID
		}
	}
	kept := macs[:0:0]
	var problems []model.SyncProblem
	for _, m := range macs {
		mac, _ := model.UnicastMAC(m.MACAddress) // checked by checkSwitchReport
		if port, ok := owner[key{m.NetworkID, mac}]; ok {
			problems = append(problems, model.SyncProblem{LogicalSwitch: m.NetworkID,
				Error: fmt.Sprintf("switch %s reports MAC %s of port %s in network %s as a local MAC (behind %s): not used, the port's MAC stays where the inventory puts it", name, mac, port, m.NetworkID, m.LocatorIP)})
			continue
		}
		kept = append(kept, m)
	}
	return kept, problems, nil
}

// reportConflicts holds, per switch, the problems of its last report
// (portMACConflicts), merged into every status recorded for the switch so
// that the agent's own status does not hide them.
type reportConflicts struct {
	mu sync.Mutex
	m  map[string][]model.SyncProblem
}

// swap records the switch's report problems and says whether they changed.
func (c *reportConflicts) swap(name string, ps []model.SyncProblem) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]model.SyncProblem{}
	}
	old := c.m[name]
	if len(ps) == 0 {
		delete(c.m, name)
	} else {
		c.m[name] = ps
	}
	return !slices.Equal(old, ps)
}

func (c *reportConflicts) get(name string) []model.SyncProblem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

// isConflict says whether p is a report problem (portMACConflicts) rather
// than the agent's.
func isConflict(p model.SyncProblem) bool {
	return strings.Contains(p.Error, "as a local MAC (behind") && strings.HasSuffix(p.Error, "the port's MAC stays where the inventory puts it")
}

// withConflicts returns the status with the report problems in place of
// any earlier ones; a status without an error gets one naming them.
func withConflicts(st model.SwitchStatus, ps []model.SyncProblem) model.SwitchStatus {
	agent := slices.DeleteFunc(slices.Clone(st.Problems), isConflict)
	errText := st.Error
	if isConflictError(errText) {
		errText = ""
	}
	st.Problems = append(agent, ps...)
	if len(ps) > 0 && errText == "" {
		texts := make([]string, len(ps))
		for i, p := range ps {
			texts[i] = p.Error
		}
		errText = conflictErrorPrefix + strings.Join(texts, "; ")
	}
	st.Error = errText
	if len(st.Problems) == 0 {
		st.Problems = nil
	}
	return st
}

const conflictErrorPrefix = "switch report conflicts with the inventory: "

func isConflictError(s string) bool { return strings.HasPrefix(s, conflictErrorPrefix) }

// showConflicts records the switch's report problems in its stored status
// at once, keeping the agent's own part of it.
func (h *Handler) showConflicts(ctx context.Context, name string, ps []model.SyncProblem) error {
	sw, err := h.st.GetSwitch(ctx, name)
	if err != nil {
		return err
	}
	st := model.SwitchStatus{Name: name, Connected: sw.Connected, LastSync: sw.LastSync, Revision: sw.SyncRevision,
		Error: sw.SyncError, Problems: sw.SyncProblems}
	return h.st.SetSwitchStatus(ctx, withConflicts(st, ps))
}

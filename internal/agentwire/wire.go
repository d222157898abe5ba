// Package agentwire is the wire form of the server <-> agent protocol, shared
// by the server side (internal/agentapi) and the agents' link (internal/agentlink).
//
// All endpoints live under Prefix, take and return JSON, and follow the
// northbound API's authentication and admin-only policy. Errors are
// NeutronError bodies, as on /v2.0.
//
//	POST /l2gw/v1/switches/{name}/report   SwitchReport            -> 204
//	PUT  /l2gw/v1/switches/{name}/status   SwitchStatus            -> 204
//	GET  /l2gw/v1/switches/{name}/plan?revision=N                  -> stream of SwitchEvent
//	POST /l2gw/v1/hosts/{name}/register    HostRegistration        -> 200 {"host": <neutron host>}
//	PUT  /l2gw/v1/hosts/{name}/status      HostStatus              -> 204
//	GET  /l2gw/v1/hosts/{name}/plan?revision=N                     -> stream of HostEvent
//	GET  /v2.0/l2-gateway-connections/{id}/status                  -> 200 ConnectionStatus
//	GET  /l2gw/v1/status                                           -> 200 SystemStatus
//
// # Plan streams
//
// A plan stream is newline-delimited JSON (Content-Type
// application/x-ndjson), one planner.Event per line, flushed as it is
// produced:
//
//	{"type":"snapshot","revision":12,"plan":{...}}   the whole plan at revision 12
//	{"type":"delta","revision":15,"delta":{...}}     apply to the previous plan: now at 15
//	{"type":"resumed","revision":17}                 the client's plan is current at 17
//	{"type":"keepalive"}                             nothing new; the connection is alive
//
// Plans and deltas use the planner's JSON wire form (planner.SwitchPlan,
// planner.SwitchDelta, planner.HostPlan, planner.HostDelta). A snapshot may
// come again at any time (the server re-read its store, or the client fell
// too far behind): it replaces the client's plan.
//
// Resume: a client that holds the plan at revision N (the revision of the
// last snapshot, delta or resumed event it received) reconnects with
// ?revision=N&feed=F, F the FeedHeader of the stream that event came on.
// When F is the serving process's feed and that plan is still current —
// the server has computed plans at least up to N and the named plan has
// not changed after N, as far as the serving process knows (it dates
// changes older than its own start, or its last re-read of the change
// log, at that moment) — the stream starts with a resumed event and then
// carries only newer deltas. Otherwise, and always without ?revision, with
// revision=0 or without the feed, it starts with a snapshot. A plan at N is
// only comparable on the feed that computed it: a replica reads changes in
// batches of its own, so a port or connection created and deleted between
// two of its batches was never in its plans, but may be in the plan at N
// that another replica sent.
// Revisions are the store's global revisions; a plan's revision only ever
// grows on one server's streams.
//
// # Status
//
// Agents send their status after every reconcile that changed it and again
// whenever a plan stream reopens: the server marks an agent whose last plan
// stream ended as gone (a switch "disconnected from the server", a host's
// agent not running), and the next status puts it right. A switch status
// scopes each of its problems to the network's logical switch or the port
// it concerns (an error without problems concerns the whole switch); a
// host status lists, per network of the host's plan, the interfaces
// attached to the network's bridge and those missing from the host. The
// connection status is derived from both, per connection: see
// ConnectionStatus.
//
// Keepalive: the server writes a keepalive line whenever nothing else was
// written for the interval it announces in the KeepaliveHeader response
// header (a Go duration, e.g. "15s"). A client that reads nothing for several intervals
// treats the connection as dead and reconnects with its revision; the
// server drops a stream whose writes stall.
package agentwire

import (
	"net/url"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planner"
)

// Prefix is the path prefix of every agent endpoint.
const Prefix = "/l2gw/v1"

// ContentTypeStream is the media type of plan streams.
const ContentTypeStream = "application/x-ndjson"

// FeedHeader names, on a plan stream's response, the plan feed its events
// come from; FeedParam sends it back on a resume (see Resume).
const (
	FeedHeader = "L2gw-Plan-Feed"
	FeedParam  = "feed"
)

// KeepaliveHeader announces the longest gap between two lines of a plan
// stream, as a Go duration ("15s").
const KeepaliveHeader = "L2gw-Keepalive"

// EventKeepalive is the type of the stream lines that only keep the
// connection alive; every other line is a planner.Event.
const EventKeepalive planner.EventType = "keepalive"

// SwitchReportPath is the path a switch agent reports the named switch to.
func SwitchReportPath(name string) string {
	return Prefix + "/switches/" + url.PathEscape(name) + "/report"
}

// SwitchStatusPath is the path of the named switch's agent status.
func SwitchStatusPath(name string) string {
	return Prefix + "/switches/" + url.PathEscape(name) + "/status"
}

// SwitchPlanPath is the plan stream of the named switch.
func SwitchPlanPath(name string) string {
	return Prefix + "/switches/" + url.PathEscape(name) + "/plan"
}

// HostRegisterPath is the registration (and heartbeat) path of a host.
func HostRegisterPath(name string) string {
	return Prefix + "/hosts/" + url.PathEscape(name) + "/register"
}

// HostStatusPath is the path of the named host's agent status.
func HostStatusPath(name string) string {
	return Prefix + "/hosts/" + url.PathEscape(name) + "/status"
}

// HostPlanPath is the plan stream of the named host.
func HostPlanPath(name string) string {
	return Prefix + "/hosts/" + url.PathEscape(name) + "/plan"
}

// ConnectionStatusPath is the per-switch status of a gateway connection.
func ConnectionStatusPath(id string) string {
	return neutron.Connections.MemberPath(id) + "/status"
}

// SwitchReport is the body of a switch report: the switch as the agent
// reads it from its hardware_vtep database, and the complete set of local
// (bare-metal) MACs it learnt in l2gw's logical switches. The switch name
// may be left empty; it is the path's.
type SwitchReport struct {
	Switch    Switch     `json:"switch"`
	LocalMACs []LocalMAC `json:"local_macs"`
}

// Switch is a Physical_Switch with its ports.
type Switch = neutron.SwitchInventory

// SwitchPort is a Physical_Port.
type SwitchPort = neutron.SwitchPort

// LocalMAC is a Ucast_Macs_Local row of the reported switch, resolved to
// the network of its logical switch.
type LocalMAC struct {
	NetworkID  string `json:"network_id"`
	MACAddress string `json:"mac_address"`
	IPAddress  string `json:"ip_address"`
	LocatorIP  string `json:"locator_ip"`
}

// FromSwitchReport converts a store report to its wire form.
func FromSwitchReport(r model.SwitchReport) SwitchReport {
	out := SwitchReport{Switch: neutron.FromSwitchInventory(r.Switch), LocalMACs: make([]LocalMAC, 0, len(r.LocalMACs))}
	for _, m := range r.LocalMACs {
		out.LocalMACs = append(out.LocalMACs, LocalMAC{NetworkID: m.NetworkID, MACAddress: m.MAC, IPAddress: m.IPAddress, LocatorIP: m.LocatorIP})
	}
	return out
}

// Store converts the report of the named switch back; empty lists become nil.
func (r SwitchReport) Store(name string) model.SwitchReport {
	out := model.SwitchReport{Switch: r.Switch.Model(name)}
	for _, m := range r.LocalMACs {
		out.LocalMACs = append(out.LocalMACs, model.LocalMAC{Switch: name, NetworkID: m.NetworkID, MAC: m.MACAddress, IPAddress: m.IPAddress, LocatorIP: m.LocatorIP})
	}
	return out
}

// SwitchStatus is the body of a switch status update: the agent's OVSDB
// session, its last successful reconcile (RFC 3339, null when never), the
// plan revision it last applied and its current error (empty when in sync).
// Problems scope the items behind the error (model.SwitchStatus.Problems);
// an error without problems concerns the whole switch.
type SwitchStatus struct {
	Connected bool          `json:"connected"`
	LastSync  neutron.Time  `json:"last_sync"`
	Revision  int64         `json:"revision"`
	Error     string        `json:"error"`
	Problems  []SyncProblem `json:"problems,omitempty"`
}

// SyncProblem is one item a switch agent cannot realise and what it
// concerns: a network's logical switch, a physical port, or (both empty)
// the whole switch.
type SyncProblem struct {
	LogicalSwitch string `json:"logical_switch,omitempty"`
	Port          string `json:"port,omitempty"`
	Error         string `json:"error"`
}

// FromSwitchStatus converts a store status to its wire form.
func FromSwitchStatus(s model.SwitchStatus) SwitchStatus {
	out := SwitchStatus{Connected: s.Connected, LastSync: neutron.Time{Time: s.LastSync}, Revision: s.Revision, Error: s.Error}
	for _, p := range s.Problems {
		out.Problems = append(out.Problems, SyncProblem(p))
	}
	return out
}

// Store converts the status of the named switch back.
func (s SwitchStatus) Store(name string) model.SwitchStatus {
	out := model.SwitchStatus{Name: name, Connected: s.Connected, LastSync: s.LastSync.Time, Revision: s.Revision, Error: s.Error}
	for _, p := range s.Problems {
		out.Problems = append(out.Problems, model.SyncProblem(p))
	}
	return out
}

// HostStatus is the body of a host status update: whether the agent runs
// (false in its last words when it stops), its last reconcile without
// error (null when never), the plan revision that reconcile realised, the
// last reconcile's error (empty when it succeeded) and, per network of its
// plan, the interfaces attached to the network's bridge and those missing
// from the host, the revision at which the network was last realised and
// the network's error (both optional: an agent that sends neither has its
// whole-host revision and error apply to every network).
type HostStatus struct {
	Connected bool                `json:"connected"`
	LastSync  neutron.Time        `json:"last_sync"`
	Revision  int64               `json:"revision"`
	Error     string              `json:"error"`
	Networks  []HostNetworkStatus `json:"networks"`
}

// HostNetworkStatus is one network of a host status.
type HostNetworkStatus struct {
	NetworkID string   `json:"network_id"`
	Attached  []string `json:"attached"`
	Missing   []string `json:"missing"`
	Revision  int64    `json:"revision,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// FromHostStatus converts a store status to its wire form.
func FromHostStatus(s model.HostStatus) HostStatus {
	out := HostStatus{Connected: s.Connected, LastSync: neutron.Time{Time: s.LastSync}, Revision: s.Revision, Error: s.Error,
		Networks: make([]HostNetworkStatus, 0, len(s.Networks))}
	for _, n := range s.Networks {
		out.Networks = append(out.Networks, HostNetworkStatus{NetworkID: n.NetworkID, Attached: nonNil(n.Attached), Missing: nonNil(n.Missing),
			Revision: n.Revision, Error: n.Error})
	}
	return out
}

// Store converts the status of the named host back.
func (s HostStatus) Store(name string) model.HostStatus {
	out := model.HostStatus{Name: name, Connected: s.Connected, LastSync: s.LastSync.Time, Revision: s.Revision, Error: s.Error}
	for _, n := range s.Networks {
		out.Networks = append(out.Networks, model.HostNetworkStatus{NetworkID: n.NetworkID, Attached: n.Attached, Missing: n.Missing,
			Revision: n.Revision, Error: n.Error})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// HostRegistration is the body of a host registration. The server records
// its own time as the heartbeat.
type HostRegistration struct {
	VTEPIP string `json:"vtep_ip"`
}

// HostResponse is the answer to a registration: the host as /v2.0/hosts
// shows it.
type HostResponse struct {
	Host neutron.Host `json:"host"`
}

// ToModel converts a host of the API back to the model.
func ToModel(h neutron.Host) model.Host {
	return model.Host{ID: h.ID, Name: h.Name, VTEPIP: h.VTEPIP, Description: h.Description,
		LastHeartbeat: h.LastHeartbeat.Time, CreatedAt: h.CreatedAt.Time}
}

// Sync states of a connection on a switch.
const (
	StateInSync  = "in_sync"
	StatePending = "pending"
	StateError   = "error"
)

// ConnectionStatus is the answer of GET /v2.0/l2-gateway-connections/{id}/status:
// one entry per switch of the connection's gateway, in the gateway's order
// (Status), and one per host running ports of the connected network, by
// name (Hosts). State sums them up: error when any entry is in error,
// else pending when any is pending, else in_sync.
type ConnectionStatus struct {
	State  string       `json:"state"`
	Status []SwitchSync `json:"status"`
	Hosts  []HostSync   `json:"hosts"`
	// L2Pop is the l2pop state per compute host, when the server sends
	// l2pop casts (l2gw server --transport-url); its State counts in State.
	L2Pop *L2PopStatus `json:"l2pop,omitempty"`
}

// SwitchSync is whether one switch holds what a connection needs there:
// its network's logical switch, the bindings of the gateway's interfaces
// on the switch, the network's remote MACs and flooding. State is in_sync
// when the switch's agent applied a plan at least as new as the last
// change of those rows (Revision) with no problem concerning them, error
// when something they need is missing or failing (Reason names it),
// pending otherwise (Reason says what is awaited).
type SwitchSync struct {
	Switch          string       `json:"switch"`
	State           string       `json:"state"`
	Reason          string       `json:"reason"`
	Revision        int64        `json:"revision"`
	AppliedRevision int64        `json:"applied_revision"`
	Connected       bool         `json:"connected"`
	LastSync        neutron.Time `json:"last_sync"`
}

// HostSync is whether one host holds what a connection needs there: the
// network's VXLAN device and bridge with its FDB and flooding, and the
// interfaces of the network's ports on the host attached to the bridge.
// State and Reason as in SwitchSync; Connected is whether the host's agent
// runs (its plan stream is open and its heartbeat recent).
type HostSync struct {
	Host            string       `json:"host"`
	State           string       `json:"state"`
	Reason          string       `json:"reason"`
	Revision        int64        `json:"revision"`
	AppliedRevision int64        `json:"applied_revision"`
	Connected       bool         `json:"connected"`
	LastSync        neutron.Time `json:"last_sync"`
}

// Keepalive returns the interval a KeepaliveHeader value announces (0 when
// absent, malformed or not positive).
func Keepalive(v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// SystemStatusPath is the status of the whole system:
// GET -> 200 SystemStatus.
const SystemStatusPath = Prefix + "/status"

// SystemStatus is the answer of GET SystemStatusPath: the server, every
// switch reported by an agent and every known host, each with the state
// of its agent (StateInSync, StatePending, StateError and the reason).
// The connections' states are their own (ConnectionStatus).
type SystemStatus struct {
	Server   ServerStatus  `json:"server"`
	Switches []SwitchState `json:"switches"`
	Hosts    []HostState   `json:"hosts"`
	// L2Pop is the l2pop broker and hosts, when the server sends l2pop
	// casts (l2gw server --transport-url).
	L2Pop *L2PopSystem `json:"l2pop,omitempty"`
}

// ServerStatus are the facts of the answering server.
type ServerStatus struct {
	Version       string `json:"version"`      // the binary's module version ("(devel)" for a plain build)
	VCSRevision   string `json:"vcs_revision"` // the commit it was built from, "" when unknown
	Database      string `json:"database"`     // the store's DSN without its password
	DatabaseError string `json:"database_error"`
	// StoreRevision is the store's revision; PlanRevision the revision
	// the plans served to agents reflect (behind while the feed catches up).
	StoreRevision int64        `json:"store_revision"`
	PlanRevision  int64        `json:"plan_revision"`
	StartedAt     neutron.Time `json:"started_at"`
	UptimeSeconds int64        `json:"uptime_seconds"`
	// Inventory is where the inventory comes from when it is mirrored
	// (l2gw server --inventory neutron); absent standalone.
	Inventory *InventoryStatus `json:"inventory,omitempty"`
}

// InventoryStatus is the state of the inventory mirrored from Neutron:
// State ok, unreachable (the mirror is kept as it was) or starting;
// Summary is the line `l2gw status` shows.
type InventoryStatus struct {
	Source           string       `json:"source"` // "neutron"
	URL              string       `json:"url"`
	State            string       `json:"state"`
	Error            string       `json:"error,omitempty"`
	UnreachableSince neutron.Time `json:"unreachable_since"`
	LastSync         neutron.Time `json:"last_sync"`
	LastFullSync     neutron.Time `json:"last_full_sync"`
	Networks         int          `json:"networks"`
	Ports            int          `json:"ports"`
	Hosts            int          `json:"hosts"`
	Summary          string       `json:"summary"`
}

// SwitchState is a switch's agent: whether its session to the switch is
// up (Connected), its last pass without error, the plan revision it
// applied and the one its plan is at, and its error. State is error with
// an agent error, pending while the agent is not connected or behind the
// plan, in_sync otherwise.
type SwitchState struct {
	Name            string       `json:"name"`
	State           string       `json:"state"`
	Reason          string       `json:"reason"`
	Connected       bool         `json:"connected"`
	LastSync        neutron.Time `json:"last_sync"`
	AppliedRevision int64        `json:"applied_revision"`
	Revision        int64        `json:"revision"`
	// Agent holds the switch's lease (empty while none does) at Epoch.
	Agent string `json:"agent"`
	Epoch int64  `json:"epoch"`
}

// HostState is a host and its agent: Alive is a recent heartbeat,
// AgentRunning also an open plan stream; State is error when the agent
// does not run or failed, pending while it is behind the plan (or has not
// reported yet), in_sync otherwise.
type HostState struct {
	Name            string       `json:"name"`
	VTEPIP          string       `json:"vtep_ip"`
	State           string       `json:"state"`
	Reason          string       `json:"reason"`
	Alive           bool         `json:"alive"`
	AgentRunning    bool         `json:"agent_running"`
	LastHeartbeat   neutron.Time `json:"last_heartbeat"`
	LastSync        neutron.Time `json:"last_sync"`
	AppliedRevision int64        `json:"applied_revision"`
	Revision        int64        `json:"revision"`
}

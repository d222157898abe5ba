// Package store persists l2gw's state in SQLite (embedded default) or
// PostgreSQL. Every write is one transaction that also bumps the global
// revision and appends to the change log the planner and watchers consume.
package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// Query narrows a list. Empty slices mean "any". Results are ordered by ID;
// Marker (an ID) starts after that item and Limit (0 = no limit) caps the count.
type Query struct {
	IDs        []string
	Names      []string
	TenantIDs  []string
	NetworkIDs []string // ports, connections, local MACs
	GatewayIDs []string // connections
	HostIDs    []string // ports (binding:host_id)
	Marker     string
	Limit      int
}

// Kind names the type of object a Change is about.
type Kind string

// The kinds of object in the change log.
const (
	KindGateway    Kind = "gateway"
	KindConnection Kind = "connection"
	KindNetwork    Kind = "network"
	KindPort       Kind = "port"
	KindHost       Kind = "host"
	KindSwitch     Kind = "switch"   // ID is the switch name
	KindLocalMAC   Kind = "localmac" // ID is "switch/network_id/mac"
)

// Op is what happened to the object.
type Op string

// The operations recorded in the change log.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one entry of the change log. Revisions are global, strictly
// increasing and gap-free in commit order: a reader that has seen revision R
// has seen every change <= R.
type Change struct {
	Revision int64
	Kind     Kind
	ID       string
	Op       Op
}

// Snapshot is the whole state the planner needs, read in one transaction.
type Snapshot struct {
	Revision int64
	model.Inventory
}

// Store is l2gw's persistence. Errors are *model.Fault values (or wrap
// model.Err* sentinels) carrying the Neutron fault type where the API shows it.
//
// Values returned by Get and List methods may share memory with the store's
// cache (gateways and connections on SQLite): treat them as read-only, and
// copy before modifying nested slices.
type Store interface {
	CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error)
	GetGateway(ctx context.Context, id string) (model.Gateway, error)
	ListGateways(ctx context.Context, q Query) ([]model.Gateway, error)
	// UpdateGateway applies a PUT; every listed device must belong to the
	// gateway, its new interfaces must be ports of the reported switch and
	// keep the gateway's VLAN mode (see reference-api.md "Update"), and no
	// connection may be left with an interface it cannot bind (ErrInvalid).
	UpdateGateway(ctx context.Context, id string, u model.GatewayUpdate) (model.Gateway, error)
	// AddGatewayInterfaces and RemoveGatewayInterfaces edit the interface
	// lists of a gateway's devices in one transaction (read, merge, the
	// checks of UpdateGateway, write), so concurrent edits all land;
	// ifRevision, when set, is checked as GatewayUpdate.IfRevision is.
	AddGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error)
	RemoveGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error)
	// DeleteGateway fails with ErrInUse (L2GatewayInUse) while connections exist.
	DeleteGateway(ctx context.Context, id string) error

	// CreateConnection runs the original's checks in its order inside the
	// transaction (reference-api.md "Connection create"); after the default
	// segmentation id check it refuses (ErrInvalid) a connection that would
	// leave interfaces of the gateway without a VLAN binding.
	CreateConnection(ctx context.Context, c model.Connection) (model.Connection, error)
	GetConnection(ctx context.Context, id string) (model.Connection, error)
	ListConnections(ctx context.Context, q Query) ([]model.Connection, error)
	DeleteConnection(ctx context.Context, id string) error

	// CreateNetworks creates all or none; a zero VNI is allocated from the
	// configured range.
	CreateNetworks(ctx context.Context, nets []model.Network) ([]model.Network, error)
	GetNetwork(ctx context.Context, id string) (model.Network, error)
	ListNetworks(ctx context.Context, q Query) ([]model.Network, error)
	UpdateNetwork(ctx context.Context, n model.Network) (model.Network, error)
	// DeleteNetwork also deletes the network's connections; it fails with
	// ErrInUse (NetworkInUse) while ports are on the network.
	DeleteNetwork(ctx context.Context, id string) error

	// CreatePorts creates all or none; an empty MAC is generated.
	CreatePorts(ctx context.Context, ports []model.Port) ([]model.Port, error)
	GetPort(ctx context.Context, id string) (model.Port, error)
	ListPorts(ctx context.Context, q Query) ([]model.Port, error)
	UpdatePort(ctx context.Context, p model.Port) (model.Port, error)
	DeletePort(ctx context.Context, id string) error

	CreateHost(ctx context.Context, h model.Host) (model.Host, error)
	GetHost(ctx context.Context, id string) (model.Host, error)
	ListHosts(ctx context.Context, q Query) ([]model.Host, error)
	UpdateHost(ctx context.Context, h model.Host) (model.Host, error)
	// DeleteHost fails with ErrInUse (HostInUse) while ports are bound to
	// the host (binding:host_id = its name).
	DeleteHost(ctx context.Context, id string) error
	// RegisterHost creates the host by name or records its heartbeat (host
	// agents call it at start and as a heartbeat); a VTEP IP other than the
	// recorded one fails with ErrConflict (HostVTEPIPConflict): only
	// UpdateHost moves a host.
	RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error)
	// SetHostStatus records what the named host's agent realised (by host
	// name; no host row is needed). It appends no change entry.
	SetHostStatus(ctx context.Context, s model.HostStatus) error
	// GetHostStatus returns the last status of the host's agent, ErrNotFound
	// when none was ever recorded.
	GetHostStatus(ctx context.Context, name string) (model.HostStatus, error)
	// ListHostStatuses orders by host name; Query.Names filters.
	ListHostStatuses(ctx context.Context, q Query) ([]model.HostStatus, error)

	// ReportSwitch upserts the switch with its ports and replaces its local
	// MACs; it appends change entries only for what actually changed.
	ReportSwitch(ctx context.Context, r model.SwitchReport) error
	// SetSwitchStatus records the agent's session and sync state; a
	// connected status makes this replica the owner of the switch's
	// presence, which it renews until the agent is gone.
	SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error
	// SwitchGone marks the switch's agent disconnected with reason if this
	// replica owns its presence (the agent has not reconnected elsewhere).
	SwitchGone(ctx context.Context, name, reason string) error
	// HostGone marks the host's agent gone with reason if this replica
	// owns its presence.
	HostGone(ctx context.Context, name, reason string) error
	// ClaimPresence makes this replica the owner of the named agents'
	// presence (those shown connected) and renews it.
	ClaimPresence(ctx context.Context, switches, hosts []string) error
	GetSwitch(ctx context.Context, name string) (model.Switch, error)
	ListSwitches(ctx context.Context, q Query) ([]model.Switch, error)
	ListLocalMACs(ctx context.Context, q Query) ([]model.LocalMAC, error)

	// AcquireLease takes or renews the lease of a switch or host for an
	// agent instance (lease.go); another live holder: ErrConflict
	// (LeaseHeld), with that holder's lease returned.
	AcquireLease(ctx context.Context, kind LeaseKind, name, agent, instance string, ttl time.Duration) (Lease, error)
	// RenewLease extends the instance's lease of epoch; ErrConflict
	// (LeaseLost) once another instance took it or it was released.
	RenewLease(ctx context.Context, kind LeaseKind, name, agent, instance string, epoch int64, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the instance's lease of epoch up.
	ReleaseLease(ctx context.Context, kind LeaseKind, name, agent, instance string, epoch int64) error
	// ListLeases lists the leases of kind by name; Query.Names filters.
	ListLeases(ctx context.Context, kind LeaseKind, q Query) ([]Lease, error)
	// ApplyMirror applies a batch of an inventory mirrored from Neutron in
	// one transaction, keeping Neutron's ids, with change entries only for
	// real changes (see sqlStore.ApplyMirror).
	ApplyMirror(ctx context.Context, m Mirror) (MirrorResult, error)

	// Revision is the newest committed revision.
	Revision(ctx context.Context) (int64, error)
	// Changes returns up to limit changes with Revision > after, oldest first.
	// ErrCompacted (wrapped) means after is older than the log keeps.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	Snapshot(ctx context.Context) (Snapshot, error)
	// Notify returns a channel that is closed when the store learns of a
	// new revision: its own commits, and on PostgreSQL other replicas'
	// (LISTEN/NOTIFY, polling while that is down). Take it before reading
	// Changes so no commit is missed.
	Notify() <-chan struct{}
	// WaitRevision blocks until this process knows of (committed, saw at
	// Open, or heard of from another replica) a revision >= rev, or ctx is
	// done.
	WaitRevision(ctx context.Context, rev int64) error
	// ListGeneration returns a number that changes whenever a commit
	// changes objects of kind, for caching list answers; ok is false for
	// kinds whose commits it cannot follow.
	ListGeneration(kind Kind) (gen uint64, ok bool)
	// Check probes that the database accepts a write, within the store's
	// timeout (for /healthz).
	Check(ctx context.Context) error
	// Unreachable reports whether the database has been out of reach for
	// longer than the store's timeout, and since when (never on SQLite).
	Unreachable() (since time.Time, down bool)

	Close() error
}

// ErrCompacted reports a change-log position older than the log still holds;
// the reader must start again from a Snapshot.
var ErrCompacted = errors.New("change log compacted")

// Config tunes a Store; the zero value is usable.
type Config struct {
	// VNIMin and VNIMax bound the VNIs allocated to networks created without
	// one; zero values mean 1000 and 2000 (Neutron's vni_ranges of the original).
	VNIMin, VNIMax int
	// ChangeLogKeep is how many change-log entries are kept; older ones are
	// compacted away (Changes then reports ErrCompacted) once a tenth more
	// has been written, so the log holds up to 1.1 times as many. Zero
	// means DefaultChangeLogKeep (100,000).
	ChangeLogKeep int
	Logger        *slog.Logger // nil discards
	// Timeout bounds one operation on PostgreSQL: connecting, each read
	// or write on a connection, and a whole transaction, so a frozen or
	// unreachable database fails requests (ErrUnavailable) instead of
	// hanging them. Zero means DefaultTimeout (5s).
	Timeout time.Duration
	// PollInterval is how often a PostgreSQL store reads the revision
	// while its notification connection is down (other replicas' commits
	// then reach it this late). Zero means DefaultPollInterval (250ms).
	PollInterval time.Duration
	// PresenceExpiry is how long an agent's presence (a switch's or host's
	// connected flag) holds without a heartbeat from the replica that
	// serves the agent: a replica that dies cannot mark its agents gone.
	// Zero means DefaultPresenceExpiry (15s).
	PresenceExpiry time.Duration
}

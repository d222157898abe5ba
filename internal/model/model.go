package model

import "time"

// MaxVNI is the largest VXLAN network identifier (24 bits, RFC 7348 section 5).
const MaxVNI = 1<<24 - 1

// Interface is a physical port of a gateway device and the VLANs bridged on it.
// An empty SegmentationIDs means the connection's default segmentation id applies.
type Interface struct {
	Name            string
	SegmentationIDs []int
}

// Device is a switch (by its hardware_vtep Physical_Switch name) taking part in a gateway.
type Device struct {
	ID         string
	Name       string
	Interfaces []Interface
}

// Gateway is a logical L2 gateway: one or more devices and their interfaces.
// RevisionNumber is 1 at creation and grows by one at every update
// (Neutron's revision_number, compared by If-Match).
type Gateway struct {
	ID             string
	Name           string
	TenantID       string
	Devices        []Device
	RevisionNumber int64
}

// HasSegmentationIDs reports whether any interface of the gateway carries a VLAN.
func (g Gateway) HasSegmentationIDs() bool {
	for _, d := range g.Devices {
		for _, i := range d.Interfaces {
			if len(i.SegmentationIDs) > 0 {
				return true
			}
		}
	}
	return false
}

// DeviceUpdate replaces the interface list of an existing device of a gateway.
type DeviceUpdate struct {
	Name       string
	Interfaces []Interface
}

// GatewayUpdate is a PUT on a gateway; nil fields are left unchanged.
// IfRevision, when set, makes the update fail with ErrPrecondition unless
// the gateway's RevisionNumber still equals it (If-Match:
// revision_number=N), so that a read-modify-write loses no change.
type GatewayUpdate struct {
	Name       *string
	Devices    []DeviceUpdate
	IfRevision *int64
}

// Connection binds a gateway to an overlay network.
// SegmentationID is the default VLAN for interfaces that have none; nil when not given.
type Connection struct {
	ID             string
	GatewayID      string
	NetworkID      string
	TenantID       string
	SegmentationID *int
}

// Network is an overlay network. l2gw only programs VXLAN networks.
type Network struct {
	ID           string
	Name         string
	TenantID     string
	AdminStateUp bool
	NetworkType  string // "vxlan"
	VNI          int    // provider:segmentation_id
	MTU          int
	Shared       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// FixedIP is an address of a port.
type FixedIP struct {
	SubnetID  string
	IPAddress string
}

// AddressPair is an extra MAC/IP a port may use (Neutron allowed_address_pairs).
// An empty MAC means the port's own MAC.
type AddressPair struct {
	IPAddress  string
	MACAddress string
}

// Port is a VM (or other endpoint) attachment to a network.
type Port struct {
	ID                  string
	Name                string
	NetworkID           string
	TenantID            string
	MACAddress          string
	FixedIPs            []FixedIP
	HostID              string // binding:host_id
	DeviceOwner         string
	DeviceID            string
	AdminStateUp        bool
	AllowedAddressPairs []AddressPair
	// InterfaceName is binding:profile["interface_name"]: the host-side device
	// (e.g. a tap) that the host agent attaches to the network's bridge.
	InterfaceName string
	// Status is Neutron's port status (ACTIVE, DOWN, BUILD…) when the
	// inventory is mirrored from Neutron; empty standalone, where the API
	// measures it from the host agent instead (neutron.PortStatus).
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Host is a compute host and the VTEP IP its VXLAN tunnels use.
type Host struct {
	ID            string
	Name          string
	VTEPIP        string
	Description   string
	LastHeartbeat time.Time // zero when never heard from
	CreatedAt     time.Time
	// Agent is Neutron's L2 agent on the host when the inventory is
	// mirrored from Neutron; nil standalone (l2gw's own host agent).
	Agent *L2Agent
}

// L2Agent is a Neutron Open vSwitch or Linux bridge agent as GET
// /v2.0/agents shows it: what l2gw needs to reach the host over l2pop.
type L2Agent struct {
	Type         string // agent_type, e.g. "Open vSwitch agent"
	Alive        bool
	StartedAt    time.Time // changes when the agent restarts (its flows are gone)
	L2Population bool      // configurations.l2_population
	TunnelTypes  []string  // configurations.tunnel_types; must contain "vxlan"
}

// SwitchPort is a Physical_Port reported by a switch agent.
type SwitchPort struct {
	Name        string
	Description string
	FaultStatus []string
}

// Switch is a hardware_vtep Physical_Switch as reported by its agent.
type Switch struct {
	ID            string
	Name          string
	Description   string
	TunnelIPs     []string
	ManagementIPs []string
	FaultStatus   []string
	Ports         []SwitchPort
	Connected     bool
	LastSeen      time.Time
	LastSync      time.Time
	SyncError     string
	// SyncRevision is the plan revision the switch's agent last applied
	// (model.SwitchStatus.Revision); connection status compares it.
	SyncRevision int64
	// SyncProblems are the scoped items behind SyncError
	// (model.SwitchStatus.Problems).
	SyncProblems []SyncProblem
}

// LocalMAC is a MAC learned behind a switch port (hardware_vtep Ucast_Macs_Local),
// i.e. a bare-metal host. NetworkID is resolved from the logical switch name.
type LocalMAC struct {
	Switch    string
	NetworkID string
	MAC       string
	IPAddress string
	// LocatorIP is the tunnel IP hosts must send to for this MAC.
	LocatorIP string
}

// SwitchReport is what a switch agent reports: the switch and its ports,
// and the full set of local (bare-metal) MACs it currently learns.
type SwitchReport struct {
	Switch    Switch
	LocalMACs []LocalMAC
}

// SwitchStatus is a switch agent's view of its session and last reconcile.
type SwitchStatus struct {
	Name      string
	Connected bool
	LastSync  time.Time // zero: never synced
	Revision  int64     // plan revision last applied
	Error     string    // empty when in sync
	// Problems are the items of the plan the agent cannot realise, each
	// scoped to what it concerns, so that connection status can tell
	// whose they are. Error holds their text too, plus anything unscoped
	// (a failed transaction, a lost session): an Error with text not in
	// Problems concerns every connection on the switch.
	Problems []SyncProblem
}

// SyncProblem is one item a switch agent cannot realise. LogicalSwitch
// (a network's logical switch, named after the network id) and Port (a
// Physical_Port) say what it concerns; both empty: the whole switch.
type SyncProblem struct {
	LogicalSwitch string
	Port          string
	Error         string
}

// HostStatus is a host agent's report of what it realised (store: the
// host_status table; agent protocol: PUT /l2gw/v1/hosts/{name}/status).
type HostStatus struct {
	Name string
	// Connected is false once the agent is gone: the server marks it so
	// when the agent's last plan stream ends, or the agent says it stops.
	Connected bool
	LastSync  time.Time // last reconcile without error; zero: never
	Revision  int64     // plan revision last realised without error
	Error     string    // the last reconcile's error; empty when it succeeded
	// Networks holds, per network of the agent's plan, the interfaces
	// attached to its bridge and those missing from the host, and (agents
	// since issue 9) the network's own error and revision: a network
	// realised at revision R is realised at R whatever failed beside it.
	Networks []HostNetworkStatus
	// UpdatedAt is when the server recorded the status (set by the store).
	UpdatedAt time.Time
}

// HostNetworkStatus is a host agent's view of one network of its plan.
type HostNetworkStatus struct {
	NetworkID string
	// Attached are the planned interfaces enslaved to the network's bridge.
	Attached []string
	// Missing are the planned interfaces that do not exist on the host.
	Missing []string
	// Revision is the plan revision at which the network was last
	// realised without error (its devices, ports and FDB entries; missing
	// interfaces are no error). Zero: never, or an agent that reports
	// none (then HostStatus.Revision and Error apply to the network).
	Revision int64
	// Error is why the last reconcile did not realise the network: its
	// own failure, or one that concerns every network of the host. An
	// error beside it (another network's) is not in it.
	Error string
}

// Scoped reports whether n carries the network's own revision and error:
// an agent since issue 9 sets one of them on every network it reports
// (realised: Revision; never realised: Error), an older agent neither.
func (n HostNetworkStatus) Scoped() bool { return n.Revision > 0 || n.Error != "" }

// Inventory is the whole stored state plans are computed from: what a store
// snapshot holds and what the planner starts from.
type Inventory struct {
	Gateways    []Gateway
	Connections []Connection
	Networks    []Network
	Ports       []Port
	Hosts       []Host
	Switches    []Switch
	LocalMACs   []LocalMAC
}

package planner

// Locator encapsulation hardware_vtep uses for VXLAN tunnels.
const EncapVXLAN = "vxlan_over_ipv4"

// UnknownDst is the Mcast_Macs_Remote MAC that carries BUM traffic.
const UnknownDst = "unknown-dst"

// Replication modes of a Logical_Switch (hardware_vtep schema 1.6+).
const (
	ReplicationSourceNode  = "source_node"
	ReplicationServiceNode = "service_node"
)

// SwitchPlan is the desired hardware_vtep state l2gw owns on one switch.
// Every map is keyed so plans can be diffed item by item.
type SwitchPlan struct {
	Switch          string                   `json:"switch"`
	LogicalSwitches map[string]LogicalSwitch `json:"logical_switches"` // by LS name
	Bindings        map[BindingKey]string    `json:"-"`                // -> LS name
	RemoteMACs      map[MACKey]RemoteMAC     `json:"-"`
	McastRemotes    map[string]McastRemote   `json:"mcast_remotes"` // by LS name (unknown-dst)
}

// LogicalSwitch is one connected network on a switch.
type LogicalSwitch struct {
	Name            string `json:"name"` // derived from the network id
	NetworkID       string `json:"network_id"`
	VNI             int    `json:"vni"`
	ReplicationMode string `json:"replication_mode,omitempty"`
	Description     string `json:"description,omitempty"`
}

// BindingKey is one (physical port, VLAN) of Physical_Port.vlan_bindings.
type BindingKey struct {
	Port string `json:"port"`
	VLAN int    `json:"vlan"`
}

// MACKey identifies a remote MAC within a logical switch.
type MACKey struct {
	LogicalSwitch string `json:"logical_switch"`
	MAC           string `json:"mac"`
}

// RemoteMAC is a Ucast_Macs_Remote row: a VM MAC behind a host VTEP.
type RemoteMAC struct {
	LogicalSwitch string `json:"logical_switch"`
	MAC           string `json:"mac"`
	IP            string `json:"ip,omitempty"`
	LocatorIP     string `json:"locator_ip"`
}

// McastRemote is the unknown-dst Mcast_Macs_Remote row of a logical switch:
// the locators (sorted) BUM frames are replicated to.
type McastRemote struct {
	LogicalSwitch string   `json:"logical_switch"`
	LocatorIPs    []string `json:"locator_ips"`
}

// HostPlan is the desired data-plane state of one compute host.
type HostPlan struct {
	Host     string                 `json:"host"`
	Networks map[string]HostNetwork `json:"networks"` // by network id
}

// HostNetwork is one network with a port bound to the host. It has two
// parts: the host overlay (Peers: the network's other hosts, in standalone
// mode) and the gateway's part (FDB and FloodIPs: the switches of the
// network's connected gateways and the bare-metal MACs behind them, empty
// while the network is connected to no gateway). The host sends a MAC of
// either part to its VTEP and floods broadcast, unknown unicast and
// multicast to every peer and every flood IP.
type HostNetwork struct {
	NetworkID  string     `json:"network_id"`
	VNI        int        `json:"vni"`
	MTU        int        `json:"mtu,omitempty"`
	Interfaces []string   `json:"interfaces,omitempty"` // sorted host devices of the ports
	Peers      []Peer     `json:"peers,omitempty"`      // sorted by VTEP IP: the network's other hosts
	FDB        []FDBEntry `json:"fdb,omitempty"`        // sorted by MAC: bare-metal MACs
	FloodIPs   []string   `json:"flood_ips,omitempty"`  // sorted switch tunnel IPs
}

// Peer is another host (by VTEP IP) with ports on the network: the host
// floods to it and sends it the MACs of its ports (own MACs and allowed
// address pairs' MACs, as on the switches). A peer may have no MAC (its
// ports' MACs are claimed by ports elsewhere) and is still flooded to.
//
// MACs is sorted and never changed in place once planned: plans, their
// clones and deltas share it, and nobody may modify it.
type Peer struct {
	VTEPIP string   `json:"vtep_ip"`
	MACs   []string `json:"macs,omitempty"`
}

// FDBEntry sends a MAC to a switch's tunnel IP.
type FDBEntry struct {
	MAC   string `json:"mac"`
	DstIP string `json:"dst_ip"`
}

// Binding is one Physical_Port.vlan_bindings entry in list form: the port and
// VLAN of BindingKey and the logical switch (by name) bridged there.
type Binding struct {
	Port          string `json:"port"`
	VLAN          int    `json:"vlan"`
	LogicalSwitch string `json:"logical_switch"`
}

// Key returns the binding's map key.
func (b Binding) Key() BindingKey { return BindingKey{Port: b.Port, VLAN: b.VLAN} }

// Key returns the row's map key.
func (m RemoteMAC) Key() MACKey { return MACKey{LogicalSwitch: m.LogicalSwitch, MAC: m.MAC} }

// NewSwitchPlan returns an empty plan for the named switch (all maps non-nil).
func NewSwitchPlan(name string) SwitchPlan {
	return SwitchPlan{
		Switch:          name,
		LogicalSwitches: map[string]LogicalSwitch{},
		Bindings:        map[BindingKey]string{},
		RemoteMACs:      map[MACKey]RemoteMAC{},
		McastRemotes:    map[string]McastRemote{},
	}
}

// NewHostPlan returns an empty plan for the named host (the map non-nil).
func NewHostPlan(name string) HostPlan {
	return HostPlan{Host: name, Networks: map[string]HostNetwork{}}
}

// SwitchDelta turns one SwitchPlan into another: keyed upserts (the whole
// new row) and deletes (by key). A key is never both upserted and deleted.
// Every list is sorted by key, so equal deltas have equal encodings.
type SwitchDelta struct {
	UpsertLogicalSwitches []LogicalSwitch `json:"upsert_logical_switches,omitempty"`
	DeleteLogicalSwitches []string        `json:"delete_logical_switches,omitempty"`
	UpsertBindings        []Binding       `json:"upsert_bindings,omitempty"`
	DeleteBindings        []BindingKey    `json:"delete_bindings,omitempty"`
	UpsertRemoteMACs      []RemoteMAC     `json:"upsert_remote_macs,omitempty"`
	DeleteRemoteMACs      []MACKey        `json:"delete_remote_macs,omitempty"`
	UpsertMcastRemotes    []McastRemote   `json:"upsert_mcast_remotes,omitempty"`
	DeleteMcastRemotes    []string        `json:"delete_mcast_remotes,omitempty"` // by LS name
}

// Empty reports whether the delta changes nothing.
func (d SwitchDelta) Empty() bool {
	return len(d.UpsertLogicalSwitches) == 0 && len(d.DeleteLogicalSwitches) == 0 &&
		len(d.UpsertBindings) == 0 && len(d.DeleteBindings) == 0 &&
		len(d.UpsertRemoteMACs) == 0 && len(d.DeleteRemoteMACs) == 0 &&
		len(d.UpsertMcastRemotes) == 0 && len(d.DeleteMcastRemotes) == 0
}

// HostDelta turns one HostPlan into another: whole networks upserted or
// deleted by network id, sorted by network id.
type HostDelta struct {
	UpsertNetworks []HostNetwork `json:"upsert_networks,omitempty"`
	DeleteNetworks []string      `json:"delete_networks,omitempty"`
}

// Empty reports whether the delta changes nothing.
func (d HostDelta) Empty() bool { return len(d.UpsertNetworks) == 0 && len(d.DeleteNetworks) == 0 }

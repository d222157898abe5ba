package neutron

import (
	"slices"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// HostAliveWindow is how recent a host's heartbeat must be for the host to
// show as alive (Neutron's default agent_down_time).
const HostAliveWindow = 75 * time.Second

// FromGateway converts a stored gateway. VLAN 0 means "none" and is left out;
// interfaces of one device with the same name are merged, as the original does.
func FromGateway(g model.Gateway) Gateway {
	out := Gateway{ID: g.ID, Name: g.Name, TenantID: g.TenantID, RevisionNumber: g.RevisionNumber, Devices: make([]Device, 0, len(g.Devices))}
	for _, d := range g.Devices {
		dev := Device{DeviceName: d.Name, ID: d.ID, Interfaces: make([]Interface, 0, len(d.Interfaces))}
		index := make(map[string]int, len(d.Interfaces))
		for _, i := range d.Interfaces {
			k, ok := index[i.Name]
			if !ok {
				k = len(dev.Interfaces)
				index[i.Name] = k
				dev.Interfaces = append(dev.Interfaces, Interface{Name: i.Name, SegmentationID: []string{}})
			}
			for _, v := range i.SegmentationIDs {
				if v == 0 {
					continue
				}
				dev.Interfaces[k].SegmentationID = append(dev.Interfaces[k].SegmentationID, strconv.Itoa(v))
			}
		}
		out.Devices = append(out.Devices, dev)
	}
	return out
}

// FromConnection converts a stored connection.
func FromConnection(c model.Connection) Connection {
	out := Connection{ID: c.ID, NetworkID: c.NetworkID, L2GatewayID: c.GatewayID, TenantID: c.TenantID}
	if c.SegmentationID != nil {
		out.SegmentationID = VLAN(*c.SegmentationID)
	}
	return out
}

// FromNetwork converts a stored network.
func FromNetwork(n model.Network) Network {
	typ := n.NetworkType
	if typ == "" {
		typ = "vxlan"
	}
	return Network{
		ID: n.ID, Name: n.Name, TenantID: n.TenantID, ProjectID: n.TenantID,
		AdminStateUp: n.AdminStateUp, Status: "ACTIVE", Subnets: []string{}, Shared: n.Shared,
		MTU: n.MTU, NetworkType: typ, SegmentationID: n.VNI,
		CreatedAt: Time{n.CreatedAt}, UpdatedAt: Time{n.UpdatedAt},
	}
}

// Port statuses (Neutron's port status attribute).
const (
	PortActive = "ACTIVE"
	PortDown   = "DOWN"
)

// HostAgentRunning reports whether the agent of host h runs: it has sent
// a status (hs non-nil) that was not marked gone since (its plan stream
// ended, or it stopped), and its heartbeat is within HostAliveWindow of
// now.
func HostAgentRunning(h model.Host, hs *model.HostStatus, now time.Time) bool {
	return hs != nil && hs.Connected && !h.LastHeartbeat.IsZero() && now.Sub(h.LastHeartbeat) <= HostAliveWindow
}

// PortStatus is Neutron's status of port p: ACTIVE when p is up and the
// running agent of its host (h, nil when no such host is known; hs, its
// agent's status, nil when none) reports the port's interface attached to
// the bridge of the port's network; DOWN otherwise: before that, once the
// agent stops running or the interface goes away, and always for a port
// bound to no host or given no interface.
func PortStatus(p model.Port, h *model.Host, hs *model.HostStatus, now time.Time) string {
	if !p.AdminStateUp || p.HostID == "" || p.InterfaceName == "" || h == nil || !HostAgentRunning(*h, hs, now) {
		return PortDown
	}
	for _, n := range hs.Networks {
		if n.NetworkID == p.NetworkID && slices.Contains(n.Attached, p.InterfaceName) {
			return PortActive
		}
	}
	return PortDown
}

// FromPort converts a stored port with status DOWN; PortStatus measures
// the real one.
func FromPort(p model.Port) Port {
	status := PortDown
	out := Port{
		ID: p.ID, Name: p.Name, NetworkID: p.NetworkID, TenantID: p.TenantID, ProjectID: p.TenantID,
		MACAddress: p.MACAddress, FixedIPs: make([]FixedIP, 0, len(p.FixedIPs)), HostID: p.HostID,
		Profile: BindingProfile{InterfaceName: p.InterfaceName}, DeviceOwner: p.DeviceOwner,
		DeviceID: p.DeviceID, AdminStateUp: p.AdminStateUp, Status: status,
		AllowedAddressPairs: make([]AddressPair, 0, len(p.AllowedAddressPairs)),
		CreatedAt:           Time{p.CreatedAt}, UpdatedAt: Time{p.UpdatedAt},
	}
	for _, f := range p.FixedIPs {
		out.FixedIPs = append(out.FixedIPs, FixedIP{SubnetID: f.SubnetID, IPAddress: f.IPAddress})
	}
	for _, a := range p.AllowedAddressPairs {
		mac := a.MACAddress
		if mac == "" {
			mac = p.MACAddress
		}
		out.AllowedAddressPairs = append(out.AllowedAddressPairs, AddressPair{IPAddress: a.IPAddress, MACAddress: mac})
	}
	return out
}

// FromHost converts a stored host; it is alive when its last heartbeat is
// within HostAliveWindow of now.
func FromHost(h model.Host, now time.Time) Host {
	alive := !h.LastHeartbeat.IsZero() && now.Sub(h.LastHeartbeat) <= HostAliveWindow
	return Host{
		ID: h.ID, Name: h.Name, VTEPIP: h.VTEPIP, Description: h.Description, Alive: alive,
		LastHeartbeat: Time{h.LastHeartbeat}, CreatedAt: Time{h.CreatedAt},
	}
}

// FromSwitch converts a reported switch.
func FromSwitch(s model.Switch) Switch {
	return Switch{
		ID: s.ID, SwitchInventory: FromSwitchInventory(s), Connected: s.Connected,
		LastSeen: Time{s.LastSeen}, LastSync: Time{s.LastSync}, SyncError: s.SyncError,
	}
}

// FromSwitchInventory converts the reported part of a switch; lists are
// never null.
func FromSwitchInventory(s model.Switch) SwitchInventory {
	out := SwitchInventory{
		Name: s.Name, Description: s.Description, TunnelIPs: nonNil(s.TunnelIPs),
		ManagementIPs: nonNil(s.ManagementIPs), FaultStatus: nonNil(s.FaultStatus),
		Ports: make([]SwitchPort, 0, len(s.Ports)),
	}
	for _, p := range s.Ports {
		out.Ports = append(out.Ports, SwitchPort{Name: p.Name, Description: p.Description, FaultStatus: nonNil(p.FaultStatus)})
	}
	return out
}

// Model converts a reported switch back to the model under the given name;
// empty lists become nil.
func (s SwitchInventory) Model(name string) model.Switch {
	out := model.Switch{
		Name: name, Description: s.Description, TunnelIPs: nilEmpty(s.TunnelIPs),
		ManagementIPs: nilEmpty(s.ManagementIPs), FaultStatus: nilEmpty(s.FaultStatus),
	}
	for _, p := range s.Ports {
		out.Ports = append(out.Ports, model.SwitchPort{Name: p.Name, Description: p.Description, FaultStatus: nilEmpty(p.FaultStatus)})
	}
	return out
}

// FromLocalMAC converts a reported local MAC.
func FromLocalMAC(m model.LocalMAC) LocalMAC {
	return LocalMAC{Switch: m.Switch, NetworkID: m.NetworkID, MACAddress: m.MAC, IPAddress: m.IPAddress, LocatorIP: m.LocatorIP}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nilEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

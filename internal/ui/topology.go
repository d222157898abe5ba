package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// Topology is the page's whole data: what GET /ui/api/topology answers and
// what each "snapshot" event carries. Lists are sorted and never null.
type Topology struct {
	Revision    int64        `json:"revision"`
	Networks    []Network    `json:"networks"`
	Gateways    []Gateway    `json:"gateways"`
	Switches    []Switch     `json:"switches"`
	Hosts       []Host       `json:"hosts"`
	Connections []Connection `json:"connections"`
}

// Network is an overlay network.
type Network struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	VNI  int    `json:"vni"`
}

// Gateway is a logical gateway and the switch ports it bridges.
type Gateway struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Devices []Device `json:"devices"`
}

// Device is a switch of a gateway with the gateway's interfaces on it.
type Device struct {
	Switch     string      `json:"switch"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is a switch port of a gateway and its VLANs (none: the
// connection's default VLAN applies).
type Interface struct {
	Port  string `json:"port"`
	VLANs []int  `json:"vlans"`
}

// Switch is a switch as its agent reports it.
type Switch struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	TunnelIPs   []string   `json:"tunnel_ips"`
	Connected   bool       `json:"connected"`
	LastSync    *time.Time `json:"last_sync"` // nil: never
	LastSeen    *time.Time `json:"last_seen"` // nil: never
	Revision    int64      `json:"applied_revision"`
	Error       string     `json:"error"`
	FaultStatus []string   `json:"fault_status"`
	Ports       []Port     `json:"ports"`
}

// Port is a port of a switch.
type Port struct {
	Name        string   `json:"name"`
	FaultStatus []string `json:"fault_status"`
}

// Host is a compute host and whether its agent runs.
type Host struct {
	Name          string     `json:"name"`
	VTEPIP        string     `json:"vtep_ip"`
	Alive         bool       `json:"alive"`
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	LastSync      *time.Time `json:"last_sync"`
	Error         string     `json:"error"`
}

// Connection is a gateway connection and its state on each switch of the
// gateway and each host running ports of its network.
type Connection struct {
	ID          string       `json:"id"`
	NetworkID   string       `json:"network_id"`
	NetworkName string       `json:"network_name"`
	GatewayID   string       `json:"gateway_id"`
	GatewayName string       `json:"gateway_name"`
	State       string       `json:"state"` // in_sync, pending, error
	Reason      string       `json:"reason"`
	Switches    []SwitchSync `json:"switches"`
	Hosts       []HostSync   `json:"hosts"`
}

// SwitchSync is a connection's state on one switch, with the port/VLAN
// bindings it needs there.
type SwitchSync struct {
	Switch    string    `json:"switch"`
	State     string    `json:"state"`
	Reason    string    `json:"reason"`
	Connected bool      `json:"connected"`
	Bindings  []Binding `json:"bindings"`
}

// Binding is a VLAN of a switch port bridged to the connection's network.
type Binding struct {
	Port string `json:"port"`
	VLAN int    `json:"vlan"`
}

// HostSync is a connection's state on one host.
type HostSync struct {
	Host      string `json:"host"`
	State     string `json:"state"`
	Reason    string `json:"reason"`
	Connected bool   `json:"connected"`
}

func (h *Handler) topology(w http.ResponseWriter, r *http.Request) {
	b, err := h.snapshot(r.Context())
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// snapshot reads the topology and encodes it.
func (h *Handler) snapshot(ctx context.Context) ([]byte, error) {
	h.reads.Add(1)
	t, err := h.Topology(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode topology: %w", err)
	}
	return b, nil
}

// Topology reads the page's data from the store and the connections'
// status.
func (h *Handler) Topology(ctx context.Context) (Topology, error) {
	// The revision first: the lists are at least as new as it says.
	rev, err := h.st.Revision(ctx)
	if err != nil {
		return Topology{}, err
	}
	nets, err := h.st.ListNetworks(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	gws, err := h.st.ListGateways(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	sws, err := h.st.ListSwitches(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	hosts, err := h.st.ListHosts(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	hsts, err := h.st.ListHostStatuses(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	conns, err := h.st.ListConnections(ctx, store.Query{})
	if err != nil {
		return Topology{}, err
	}
	t := Topology{Revision: rev, Networks: []Network{}, Gateways: []Gateway{}, Switches: []Switch{}, Hosts: []Host{}, Connections: []Connection{}}
	netBy := map[string]model.Network{}
	for _, n := range nets {
		netBy[n.ID] = n
		t.Networks = append(t.Networks, Network{ID: n.ID, Name: n.Name, VNI: n.VNI})
	}
	gwBy := map[string]model.Gateway{}
	for _, g := range gws {
		gwBy[g.ID] = g
		out := Gateway{ID: g.ID, Name: g.Name, Devices: []Device{}}
		for _, d := range g.Devices {
			dev := Device{Switch: d.Name, Interfaces: []Interface{}}
			for _, itf := range d.Interfaces {
				dev.Interfaces = append(dev.Interfaces, Interface{Port: itf.Name, VLANs: nonNil(slices.Clone(itf.SegmentationIDs))})
			}
			out.Devices = append(out.Devices, dev)
		}
		t.Gateways = append(t.Gateways, out)
	}
	for _, s := range sws {
		out := Switch{Name: s.Name, Description: s.Description, TunnelIPs: nonNil(slices.Clone(s.TunnelIPs)),
			Connected: s.Connected, LastSync: timePtr(s.LastSync), LastSeen: timePtr(s.LastSeen), Revision: s.SyncRevision,
			Error: s.SyncError, FaultStatus: nonNil(slices.Clone(s.FaultStatus)), Ports: []Port{}}
		for _, p := range s.Ports {
			out.Ports = append(out.Ports, Port{Name: p.Name, FaultStatus: nonNil(slices.Clone(p.FaultStatus))})
		}
		t.Switches = append(t.Switches, out)
	}
	stBy := map[string]*model.HostStatus{}
	for i := range hsts {
		stBy[hsts[i].Name] = &hsts[i]
	}
	now := h.cfg.Now()
	for _, x := range hosts {
		st := stBy[x.Name]
		out := Host{Name: x.Name, VTEPIP: x.VTEPIP, Alive: neutron.HostAgentRunning(x, st, now), LastHeartbeat: timePtr(x.LastHeartbeat)}
		if st != nil {
			out.LastSync, out.Error = timePtr(st.LastSync), st.Error
		}
		t.Hosts = append(t.Hosts, out)
	}
	for _, c := range conns {
		cs, err := h.status.ConnectionStatus(ctx, c.ID)
		if err != nil {
			if ctx.Err() != nil {
				return Topology{}, ctx.Err()
			}
			// Deleted since the list (or unreadable): say so, keep the rest.
			cs = agentwire.ConnectionStatus{State: agentwire.StateError, Status: []agentwire.SwitchSync{}, Hosts: []agentwire.HostSync{}}
			t.Connections = append(t.Connections, connection(c, gwBy[c.GatewayID], netBy[c.NetworkID], cs, err.Error()))
			continue
		}
		t.Connections = append(t.Connections, connection(c, gwBy[c.GatewayID], netBy[c.NetworkID], cs, ""))
	}
	return t, nil
}

// connection is the page's form of connection c of gateway gw on network n.
func connection(c model.Connection, gw model.Gateway, n model.Network, cs agentwire.ConnectionStatus, why string) Connection {
	out := Connection{ID: c.ID, NetworkID: c.NetworkID, NetworkName: n.Name, GatewayID: c.GatewayID, GatewayName: gw.Name,
		State: cs.State, Reason: why, Switches: []SwitchSync{}, Hosts: []HostSync{}}
	for _, s := range cs.Status {
		out.Switches = append(out.Switches, SwitchSync{Switch: s.Switch, State: s.State, Reason: s.Reason, Connected: s.Connected, Bindings: bindings(c, gw, s.Switch)})
	}
	for _, s := range cs.Hosts {
		out.Hosts = append(out.Hosts, HostSync{Host: s.Host, State: s.State, Reason: s.Reason, Connected: s.Connected})
	}
	return out
}

// bindings are the port/VLAN pairs connection c binds on switch sw: each
// interface's own VLANs, or the connection's default VLAN for an
// interface without any.
func bindings(c model.Connection, gw model.Gateway, sw string) []Binding {
	out := []Binding{}
	for _, d := range gw.Devices {
		if d.Name != sw {
			continue
		}
		for _, itf := range d.Interfaces {
			switch {
			case len(itf.SegmentationIDs) > 0:
				for _, v := range itf.SegmentationIDs {
					out = append(out, Binding{Port: itf.Name, VLAN: v})
				}
			case c.SegmentationID != nil:
				out = append(out, Binding{Port: itf.Name, VLAN: *c.SegmentationID})
			}
		}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/l2gw/l2gw/internal/neutron"
)

// CreateGateway creates an l2 gateway (POST /v2.0/l2-gateways).
func (c *Client) CreateGateway(ctx context.Context, g neutron.GatewayCreate) (neutron.Gateway, error) {
	return create[neutron.Gateway](ctx, c, neutron.Gateways, g)
}

// UpdateGateway renames a gateway and/or replaces the interface lists of the
// devices it names (PUT /v2.0/l2-gateways/{id}).
func (c *Client) UpdateGateway(ctx context.Context, id string, u neutron.GatewayUpdate) (neutron.Gateway, error) {
	return update[neutron.Gateway](ctx, c, neutron.Gateways, id, u)
}

// UpdateGatewayIf is UpdateGateway on the condition that the gateway is
// still at revision (If-Match: revision_number=N, as Neutron takes it); a
// gateway changed since gets a 412 error (IsPreconditionFailed).
func (c *Client) UpdateGatewayIf(ctx context.Context, id string, revision int64, u neutron.GatewayUpdate) (neutron.Gateway, error) {
	hdr := http.Header{"If-Match": {"revision_number=" + strconv.FormatInt(revision, 10)}}
	return sendHeader[neutron.Gateway](ctx, c, http.MethodPut, neutron.Gateways.MemberPath(url.PathEscape(id)), neutron.Gateways.Member, hdr, u)
}

// AddGatewayInterfaces adds interfaces to devices of a gateway on the
// server, in one transaction (PUT /v2.0/l2-gateways/{id}/add_interfaces):
// a device the gateway lacks is added; an interface already there with the
// same VLANs is left as it is. A revision other than 0 makes the edit
// conditional (If-Match: revision_number=N; 412, IsPreconditionFailed, when
// the gateway changed since). It returns the whole gateway.
func (c *Client) AddGatewayInterfaces(ctx context.Context, id string, revision int64, devs []neutron.DeviceRequest) (neutron.Gateway, error) {
	return c.editGateway(ctx, id, "add_interfaces", revision, devs)
}

// RemoveGatewayInterfaces removes interfaces from devices of a gateway on
// the server (PUT /v2.0/l2-gateways/{id}/remove_interfaces); a device left
// without interfaces is removed. revision is as for AddGatewayInterfaces.
func (c *Client) RemoveGatewayInterfaces(ctx context.Context, id string, revision int64, devs []neutron.DeviceRequest) (neutron.Gateway, error) {
	return c.editGateway(ctx, id, "remove_interfaces", revision, devs)
}

func (c *Client) editGateway(ctx context.Context, id, action string, revision int64, devs []neutron.DeviceRequest) (neutron.Gateway, error) {
	var hdr http.Header
	if revision != 0 {
		hdr = http.Header{"If-Match": {"revision_number=" + strconv.FormatInt(revision, 10)}}
	}
	path := neutron.Gateways.MemberPath(url.PathEscape(id)) + "/" + action
	return sendHeader[neutron.Gateway](ctx, c, http.MethodPut, path, neutron.Gateways.Member, hdr, neutron.GatewayUpdate{Devices: devs})
}

// ListGateways lists gateways.
func (c *Client) ListGateways(ctx context.Context, o ListOptions) ([]neutron.Gateway, error) {
	return listAll[neutron.Gateway](ctx, c, neutron.Gateways, o)
}

// GetGateway shows one gateway; fields, when given, limit the returned keys.
func (c *Client) GetGateway(ctx context.Context, id string, fields ...string) (neutron.Gateway, error) {
	return getOne[neutron.Gateway](ctx, c, neutron.Gateways, id, fields)
}

// DeleteGateway deletes a gateway; it fails (409 L2GatewayInUse) while the
// gateway has connections.
func (c *Client) DeleteGateway(ctx context.Context, id string) error {
	return remove(ctx, c, neutron.Gateways, id)
}

// CreateConnection connects a gateway to a network.
func (c *Client) CreateConnection(ctx context.Context, conn neutron.ConnectionCreate) (neutron.Connection, error) {
	return create[neutron.Connection](ctx, c, neutron.Connections, conn)
}

// ListConnections lists gateway connections.
func (c *Client) ListConnections(ctx context.Context, o ListOptions) ([]neutron.Connection, error) {
	return listAll[neutron.Connection](ctx, c, neutron.Connections, o)
}

// GetConnection shows one connection.
func (c *Client) GetConnection(ctx context.Context, id string, fields ...string) (neutron.Connection, error) {
	return getOne[neutron.Connection](ctx, c, neutron.Connections, id, fields)
}

// DeleteConnection deletes a connection.
func (c *Client) DeleteConnection(ctx context.Context, id string) error {
	return remove(ctx, c, neutron.Connections, id)
}

// CreateNetwork creates a network; a zero provider:segmentation_id lets the
// server allocate a VNI.
func (c *Client) CreateNetwork(ctx context.Context, n neutron.NetworkCreate) (neutron.Network, error) {
	return create[neutron.Network](ctx, c, neutron.Networks, n)
}

// CreateNetworks creates several networks in one request, all or none.
func (c *Client) CreateNetworks(ctx context.Context, ns []neutron.NetworkCreate) ([]neutron.Network, error) {
	return createBulk[neutron.Network](ctx, c, neutron.Networks, ns)
}

// ListNetworks lists networks.
func (c *Client) ListNetworks(ctx context.Context, o ListOptions) ([]neutron.Network, error) {
	return listAll[neutron.Network](ctx, c, neutron.Networks, o)
}

// GetNetwork shows one network.
func (c *Client) GetNetwork(ctx context.Context, id string, fields ...string) (neutron.Network, error) {
	return getOne[neutron.Network](ctx, c, neutron.Networks, id, fields)
}

// UpdateNetwork updates a network.
func (c *Client) UpdateNetwork(ctx context.Context, id string, u neutron.NetworkUpdate) (neutron.Network, error) {
	return update[neutron.Network](ctx, c, neutron.Networks, id, u)
}

// DeleteNetwork deletes a network with its ports and connections.
func (c *Client) DeleteNetwork(ctx context.Context, id string) error {
	return remove(ctx, c, neutron.Networks, id)
}

// CreatePort creates a port.
func (c *Client) CreatePort(ctx context.Context, p neutron.PortCreate) (neutron.Port, error) {
	return create[neutron.Port](ctx, c, neutron.Ports, p)
}

// CreatePorts creates several ports in one request ({"ports": [...]}), all
// or none.
func (c *Client) CreatePorts(ctx context.Context, ps []neutron.PortCreate) ([]neutron.Port, error) {
	return createBulk[neutron.Port](ctx, c, neutron.Ports, ps)
}

// ListPorts lists ports (filter network_id, binding:host_id, ...).
func (c *Client) ListPorts(ctx context.Context, o ListOptions) ([]neutron.Port, error) {
	return listAll[neutron.Port](ctx, c, neutron.Ports, o)
}

// GetPort shows one port.
func (c *Client) GetPort(ctx context.Context, id string, fields ...string) (neutron.Port, error) {
	return getOne[neutron.Port](ctx, c, neutron.Ports, id, fields)
}

// UpdatePort updates a port; nil fields of u are left unchanged.
func (c *Client) UpdatePort(ctx context.Context, id string, u neutron.PortUpdate) (neutron.Port, error) {
	return update[neutron.Port](ctx, c, neutron.Ports, id, u)
}

// DeletePort deletes a port.
func (c *Client) DeletePort(ctx context.Context, id string) error {
	return remove(ctx, c, neutron.Ports, id)
}

// CreateHost registers a compute host and its VTEP IP.
func (c *Client) CreateHost(ctx context.Context, h neutron.HostCreate) (neutron.Host, error) {
	return create[neutron.Host](ctx, c, neutron.Hosts, h)
}

// ListHosts lists compute hosts.
func (c *Client) ListHosts(ctx context.Context, o ListOptions) ([]neutron.Host, error) {
	return listAll[neutron.Host](ctx, c, neutron.Hosts, o)
}

// GetHost shows one host.
func (c *Client) GetHost(ctx context.Context, id string, fields ...string) (neutron.Host, error) {
	return getOne[neutron.Host](ctx, c, neutron.Hosts, id, fields)
}

// UpdateHost updates a host.
func (c *Client) UpdateHost(ctx context.Context, id string, u neutron.HostUpdate) (neutron.Host, error) {
	return update[neutron.Host](ctx, c, neutron.Hosts, id, u)
}

// DeleteHost deletes a host.
func (c *Client) DeleteHost(ctx context.Context, id string) error {
	return remove(ctx, c, neutron.Hosts, id)
}

// ListSwitches lists the switches reported by switch agents.
func (c *Client) ListSwitches(ctx context.Context, o ListOptions) ([]neutron.Switch, error) {
	return listAll[neutron.Switch](ctx, c, neutron.Switches, o)
}

// GetSwitch shows one switch by its name (or id).
func (c *Client) GetSwitch(ctx context.Context, name string, fields ...string) (neutron.Switch, error) {
	return getOne[neutron.Switch](ctx, c, neutron.Switches, name, fields)
}

// ListLocalMACs lists the MACs learned behind switch ports (filters
// network_id, switch).
func (c *Client) ListLocalMACs(ctx context.Context, o ListOptions) ([]neutron.LocalMAC, error) {
	return listAll[neutron.LocalMAC](ctx, c, neutron.LocalMACs, o)
}

package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/l2gw/l2gw/internal/neutron"
)

// AmbiguousError is a name that matches several objects; IDs lists them so
// the user can pick one.
type AmbiguousError struct {
	Resource string // e.g. "l2_gateway"
	Name     string
	IDs      []string
}

// Error names the candidates, like neutronclient's "Multiple ... matches found".
func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("Multiple %s matches found for name '%s', use an ID to be more specific: %s",
		e.Resource, e.Name, strings.Join(e.IDs, ", "))
}

// resolve finds one object by exact id, else by exact name: the id filter
// first (which, unlike a show, never fails on a malformed id), then the
// name filter. One match is returned; none is a 404 *Error; several an
// *AmbiguousError.
func resolve[T any](ctx context.Context, c *Client, r neutron.Resource, nameOrID string, id func(T) string) (T, error) {
	var zero T
	if nameOrID == "" {
		return zero, &Error{Status: http.StatusNotFound, Type: "NotFound",
			Message: fmt.Sprintf("Unable to find %s with an empty name or id", r.Member)}
	}
	byID, err := listAll[T](ctx, c, r, Filter("id", nameOrID))
	if err != nil {
		return zero, err
	}
	if len(byID) == 1 {
		return byID[0], nil
	}
	byName, err := listAll[T](ctx, c, r, Filter("name", nameOrID))
	if err != nil {
		return zero, err
	}
	switch len(byName) {
	case 0:
		return zero, &Error{Status: http.StatusNotFound, Type: "NotFound",
			Message: fmt.Sprintf("Unable to find %s with name or id '%s'", r.Member, nameOrID)}
	case 1:
		return byName[0], nil
	}
	ids := make([]string, len(byName))
	for i, o := range byName {
		ids[i] = id(o)
	}
	return zero, &AmbiguousError{Resource: r.Member, Name: nameOrID, IDs: ids}
}

// ResolveGateway finds a gateway by id or by unique name.
func (c *Client) ResolveGateway(ctx context.Context, nameOrID string) (neutron.Gateway, error) {
	return resolve(ctx, c, neutron.Gateways, nameOrID, func(g neutron.Gateway) string { return g.ID })
}

// ResolveNetwork finds a network by id or by unique name.
func (c *Client) ResolveNetwork(ctx context.Context, nameOrID string) (neutron.Network, error) {
	return resolve(ctx, c, neutron.Networks, nameOrID, func(n neutron.Network) string { return n.ID })
}

// ResolvePort finds a port by id or by unique name.
func (c *Client) ResolvePort(ctx context.Context, nameOrID string) (neutron.Port, error) {
	return resolve(ctx, c, neutron.Ports, nameOrID, func(p neutron.Port) string { return p.ID })
}

// ResolveHost finds a host by id or by unique name.
func (c *Client) ResolveHost(ctx context.Context, nameOrID string) (neutron.Host, error) {
	return resolve(ctx, c, neutron.Hosts, nameOrID, func(h neutron.Host) string { return h.ID })
}

// ResolveConnection finds a connection by id (connections have no name).
func (c *Client) ResolveConnection(ctx context.Context, id string) (neutron.Connection, error) {
	conns, err := c.ListConnections(ctx, Filter("id", id))
	if err != nil {
		return neutron.Connection{}, err
	}
	if len(conns) != 1 {
		return neutron.Connection{}, &Error{Status: http.StatusNotFound, Type: "NotFound",
			Message: fmt.Sprintf("Unable to find %s with id '%s'", neutron.KeyConnection, id)}
	}
	return conns[0], nil
}

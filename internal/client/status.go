package client

import (
	"context"
	"net/http"

	"github.com/l2gw/l2gw/internal/agentwire"
)

// ConnectionStatus returns, per switch of the connection's gateway and per
// host running ports of its network, whether it holds what the connection
// needs there (GET /v2.0/l2-gateway-connections/{id}/status).
func (c *Client) ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error) {
	var st agentwire.ConnectionStatus
	if err := c.do(ctx, http.MethodGet, agentwire.ConnectionStatusPath(id), nil, nil, &st); err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	return st, nil
}

// SystemStatus returns the status of the whole system: the server, the
// switches and the hosts with their agents (GET /l2gw/v1/status).
func (c *Client) SystemStatus(ctx context.Context) (agentwire.SystemStatus, error) {
	var st agentwire.SystemStatus
	if err := c.do(ctx, http.MethodGet, agentwire.SystemStatusPath, nil, nil, &st); err != nil {
		return agentwire.SystemStatus{}, err
	}
	return st, nil
}

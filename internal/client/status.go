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

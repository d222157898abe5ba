package agentapi

import (
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
)

// L2PopStatus is the status source of the l2pop sender
// (l2pop.Runner implements it).
type L2PopStatus interface {
	// NetworkStatus is the l2pop state of the hosts running ports of
	// network id.
	NetworkStatus(id string) agentwire.L2PopStatus
	// SystemStatus is the broker and every host l2pop sends to.
	SystemStatus() agentwire.L2PopSystem
}

// l2popStatus adds the l2pop part to a connection's status, when l2pop
// runs, and returns the states it adds to the connection's sum.
func (h *Handler) l2popStatus(conn model.Connection, out *agentwire.ConnectionStatus) []string {
	if h.cfg.L2Pop == nil {
		return nil
	}
	l := h.cfg.L2Pop.NetworkStatus(conn.NetworkID)
	out.L2Pop = &l
	return []string{l.State}
}

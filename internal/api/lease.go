package api

import (
	"context"
	"fmt"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// withHolders returns the switches' view with the agent holding each one's
// lease (empty when none holds it now) and the lease's epoch.
func (h *handler) withHolders(ctx context.Context, ss []model.Switch) ([]neutron.Switch, error) {
	out := toWire(ss, neutron.FromSwitch)
	if len(ss) == 0 {
		return out, nil
	}
	var q store.Query
	if len(ss) <= 200 {
		for _, s := range ss {
			q.Names = append(q.Names, s.Name)
		}
	}
	leases, err := h.st.ListLeases(ctx, store.LeaseSwitch, q)
	if err != nil {
		return nil, fmt.Errorf("switch holders: %w", err)
	}
	byName := make(map[string]store.Lease, len(leases))
	for _, l := range leases {
		byName[l.Name] = l
	}
	t := h.now()
	for i := range out {
		l, ok := byName[out[i].Name]
		if !ok {
			continue
		}
		out[i].Epoch = l.Epoch
		if l.Live(t) {
			out[i].Agent = l.Agent
		}
	}
	return out, nil
}

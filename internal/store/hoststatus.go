package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

func hostStatusNotFound(name string) error {
	return model.NewFault(model.ErrNotFound, "HostStatusNotFound", "No host agent has reported the status of host %s.", name)
}

// hostNetwork is the stored form of a model.HostNetworkStatus.
type hostNetwork struct {
	NetworkID string   `json:"network_id"`
	Attached  []string `json:"attached,omitempty"`
	Missing   []string `json:"missing,omitempty"`
	Revision  int64    `json:"revision,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// SetHostStatus records a host agent's status, replacing the last one. It
// logs no change: nothing plans are computed from depends on it.
func (s *sqlStore) SetHostStatus(ctx context.Context, st model.HostStatus) error {
	if st.Name == "" {
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: host name is empty.")
	}
	nets := make([]hostNetwork, 0, len(st.Networks))
	for _, n := range st.Networks {
		nets = append(nets, hostNetwork{NetworkID: n.NetworkID, Attached: sortedSet(n.Attached), Missing: sortedSet(n.Missing),
			Revision: n.Revision, Error: n.Error})
	}
	slices.SortFunc(nets, func(a, b hostNetwork) int {
		switch {
		case a.NetworkID < b.NetworkID:
			return -1
		case a.NetworkID > b.NetworkID:
			return 1
		}
		return 0
	})
	b, err := json.Marshal(nets)
	if err != nil {
		return fmt.Errorf("set host status: %w", err)
	}
	lastSync := toMicros(st.LastSync.UTC().Truncate(time.Microsecond))
	t := toMicros(now())
	owner := ""
	if st.Connected {
		owner = s.replica // this replica serves the agent's stream now
	}
	_, err = s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE host_status SET connected = $1, last_sync = $2, revision = $3, error = $4, networks = $5, updated_at = $6, presence_owner = $7, heartbeat = $6 WHERE name = $8`,
			st.Connected, lastSync, st.Revision, st.Error, string(b), t, owner, st.Name)
		if err != nil {
			return fmt.Errorf("set host status: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set host status: %w", err)
		} else if n > 0 {
			return nil
		}
		if _, err := w.exec(ctx, `INSERT INTO host_status (name, connected, last_sync, revision, error, networks, updated_at, presence_owner, heartbeat) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)`,
			st.Name, st.Connected, lastSync, st.Revision, st.Error, string(b), t, owner); err != nil {
			return fmt.Errorf("set host status: %w", err)
		}
		return nil
	})
	return err
}

// GetHostStatus returns the named host's last status (ErrNotFound when its
// agent never sent one).
func (s *sqlStore) GetHostStatus(ctx context.Context, name string) (model.HostStatus, error) {
	out, err := s.ListHostStatuses(ctx, Query{Names: []string{name}})
	if err != nil {
		return model.HostStatus{}, err
	}
	if len(out) == 0 {
		return model.HostStatus{}, hostStatusNotFound(name)
	}
	return out[0], nil
}

// ListHostStatuses orders by host name; Query.Names filters.
func (s *sqlStore) ListHostStatuses(ctx context.Context, q Query) ([]model.HostStatus, error) {
	var wh where
	wh.in("name", q.Names)
	out := []model.HostStatus{}
	err := scanRows(ctx, s.reader(), `SELECT name, connected, last_sync, revision, error, networks, updated_at, heartbeat FROM host_status`+wh.String()+` ORDER BY name`, wh.args,
		func(sc func(...any) error) error {
			var h model.HostStatus
			var synced, updated, beat int64
			var nets string
			var connected bool
			if err := sc(&h.Name, &connected, &synced, &h.Revision, &h.Error, &nets, &updated, &beat); err != nil {
				return err
			}
			h.Connected = s.alive(connected, beat)
			if connected && !h.Connected && h.Error == "" {
				h.Error = PresenceExpired
			}
			h.LastSync, h.UpdatedAt = fromMicros(synced), fromMicros(updated)
			var v []hostNetwork
			if err := json.Unmarshal([]byte(nets), &v); err != nil {
				return fmt.Errorf("stored host networks %q: %w", nets, err)
			}
			for _, n := range v {
				h.Networks = append(h.Networks, model.HostNetworkStatus(n))
			}
			out = append(out, h)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list host statuses: %w", err)
	}
	return out, nil
}

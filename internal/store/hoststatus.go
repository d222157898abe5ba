package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	row := hostStatusRow{name: st.Name, connected: st.Connected, lastSync: toMicros(st.LastSync.UTC().Truncate(time.Microsecond)),
		revision: st.Revision, err: st.Error, networks: string(b), t: toMicros(now())}
	if st.Connected {
		row.owner = s.replica // this replica serves the agent's stream now
	}
	return s.setHostStatuses(ctx, row)
}

// hostStatusRow is a host agent's status as stored.
type hostStatusRow struct {
	name                 string
	connected            bool
	lastSync, revision   int64
	err, networks, owner string
	t                    int64 // updated_at and heartbeat
}

// statusBatch is host agents' statuses waiting to be written together.
type statusBatch struct {
	rows map[string]hostStatusRow // by host name: the latest status wins
	done chan struct{}            // closed once written (or not: err)
	err  error
}

// setHostStatuses writes row with the statuses that arrive while it waits
// for the writer: the first status of a batch queues one write for all of
// them, which runs as one statement in one SAVEPOINT of the group commit.
// A thousand host agents report about once a second each under churn;
// written one by one, their statements and savepoints lengthened every
// group commit, and so every API write's wait (bench/scale). A status
// joins a batch only while its write is queued and not yet running, so it
// is never written before a write queued after it.
func (s *sqlStore) setHostStatuses(ctx context.Context, row hostStatusRow) error {
	s.smu.Lock()
	b := s.hostStatuses
	lead := b == nil
	if lead {
		b = &statusBatch{rows: map[string]hostStatusRow{}, done: make(chan struct{})}
		s.hostStatuses = b
	}
	b.rows[row.name] = row
	s.smu.Unlock()
	if !lead {
		select {
		case <-b.done:
			return b.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	detach := func() {
		s.smu.Lock()
		if s.hostStatuses == b {
			s.hostStatuses = nil
		}
		s.smu.Unlock()
	}
	// The batch carries other agents' statuses: the first one's caller
	// going away must not cancel it (PostgreSQL bounds it by Config.Timeout).
	wctx := context.WithoutCancel(ctx)
	_, b.err = s.write(wctx, func(w *wtx) error {
		detach() // from now on, statuses start the next batch
		return upsertHostStatuses(wctx, w, b.rows)
	})
	detach() // the write may not have run
	close(b.done)
	return b.err
}

// hostStatusChunk is how many statuses one statement upserts.
const hostStatusChunk = 200

// upsertHostStatuses writes rows, in name order (PostgreSQL takes the
// rows' locks in that order).
func upsertHostStatuses(ctx context.Context, w *wtx, rows map[string]hostStatusRow) error {
	names := slices.Sorted(maps.Keys(rows))
	for start := 0; start < len(names); start += hostStatusChunk {
		chunk := names[start:min(start+hostStatusChunk, len(names))]
		var q strings.Builder
		q.WriteString(`INSERT INTO host_status (name, connected, last_sync, revision, error, networks, updated_at, presence_owner, heartbeat) VALUES `)
		args := make([]any, 0, 8*len(chunk))
		for i, name := range chunk {
			r := rows[name]
			if i > 0 {
				q.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+7)
			args = append(args, r.name, r.connected, r.lastSync, r.revision, r.err, r.networks, r.t, r.owner)
		}
		q.WriteString(` ON CONFLICT (name) DO UPDATE SET connected = excluded.connected, last_sync = excluded.last_sync,
			revision = excluded.revision, error = excluded.error, networks = excluded.networks, updated_at = excluded.updated_at,
			presence_owner = excluded.presence_owner, heartbeat = excluded.heartbeat`)
		if _, err := w.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("set host status: %w", err)
		}
	}
	return nil
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

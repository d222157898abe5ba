package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/l2gw/l2gw/internal/model"
)

func hostNotFound(id string) error {
	return model.NewFault(model.ErrNotFound, "HostNotFound", "Host %s could not be found.", id)
}

func hostExists(name string) error {
	return model.NewFault(model.ErrConflict, "HostExists", "Host %s already exists.", name)
}

func (s *sqlStore) CreateHost(ctx context.Context, h model.Host) (model.Host, error) {
	if h.ID == "" {
		h.ID = uuid.NewString()
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = now()
	}
	h.CreatedAt = h.CreatedAt.UTC().Truncate(time.Microsecond)
	if !h.LastHeartbeat.IsZero() {
		h.LastHeartbeat = h.LastHeartbeat.UTC().Truncate(time.Microsecond)
	}
	_, err := s.write(ctx, func(w *wtx) error {
		return insertHost(ctx, w, h)
	})
	if err != nil {
		return model.Host{}, err
	}
	return h, nil
}

func insertHost(ctx context.Context, w *wtx, h model.Host) error {
	var one int
	if err := w.queryRow(ctx, `SELECT 1 FROM hosts WHERE name = $1`, h.Name).Scan(&one); err == nil {
		return hostExists(h.Name)
	} else if !isNoRows(err) {
		return fmt.Errorf("create host: %w", err)
	}
	if _, err := w.exec(ctx, `INSERT INTO hosts (id, name, vtep_ip, description, last_heartbeat, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		h.ID, h.Name, h.VTEPIP, h.Description, toMicros(h.LastHeartbeat), toMicros(h.CreatedAt)); err != nil {
		if isUniqueViolation(err) {
			return hostExists(h.Name)
		}
		return fmt.Errorf("create host: %w", err)
	}
	w.change(KindHost, h.ID, OpCreate)
	return nil
}

func (s *sqlStore) GetHost(ctx context.Context, id string) (model.Host, error) {
	return byID(ctx, id, s.ListHosts, hostNotFound)
}

func (s *sqlStore) ListHosts(ctx context.Context, q Query) ([]model.Host, error) {
	return listHosts(ctx, s.reader(), q)
}

func listHosts(ctx context.Context, d db, q Query) ([]model.Host, error) {
	var wh where
	wh.in("id", q.IDs)
	wh.in("name", q.Names)
	wh.page("id", q)
	out := []model.Host{}
	err := scanRows(ctx, d, `SELECT id, name, vtep_ip, description, last_heartbeat, created_at,
		agent_type, agent_alive, agent_started_at, agent_l2_population, agent_tunnel_types FROM hosts`+wh.String()+wh.tail("id", q), wh.args,
		func(sc func(...any) error) error {
			var h model.Host
			var hb, c int64
			var a model.L2Agent
			var started int64
			var tunnels string
			if err := sc(&h.ID, &h.Name, &h.VTEPIP, &h.Description, &hb, &c,
				&a.Type, &a.Alive, &started, &a.L2Population, &tunnels); err != nil {
				return err
			}
			h.LastHeartbeat, h.CreatedAt = fromMicros(hb), fromMicros(c)
			if a.Type != "" {
				a.StartedAt = fromMicros(started)
				a.TunnelTypes = splitList(tunnels)
				h.Agent = &a
			}
			out = append(out, h)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return out, nil
}

// UpdateHost overwrites name, VTEP IP and description of the stored host h.ID.
func (s *sqlStore) UpdateHost(ctx context.Context, h model.Host) (model.Host, error) {
	var out model.Host
	_, err := s.write(ctx, func(w *wtx) error {
		cur, err := listHosts(ctx, w.db, Query{IDs: []string{h.ID}})
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			return hostNotFound(h.ID)
		}
		o := cur[0]
		if h.Name != o.Name {
			var one int
			if err := w.queryRow(ctx, `SELECT 1 FROM hosts WHERE name = $1`, h.Name).Scan(&one); err == nil {
				return hostExists(h.Name)
			} else if !isNoRows(err) {
				return fmt.Errorf("update host: %w", err)
			}
		}
		o.Name, o.VTEPIP, o.Description = h.Name, h.VTEPIP, h.Description
		if _, err := w.exec(ctx, `UPDATE hosts SET name = $1, vtep_ip = $2, description = $3 WHERE id = $4`, o.Name, o.VTEPIP, o.Description, o.ID); err != nil {
			if isUniqueViolation(err) {
				return hostExists(h.Name)
			}
			return fmt.Errorf("update host: %w", err)
		}
		w.change(KindHost, o.ID, OpUpdate)
		out = o
		return nil
	})
	if err != nil {
		return model.Host{}, err
	}
	return out, nil
}

// DeleteHost deletes a host no port is bound to (ErrInUse, HostInUse
// otherwise).
func (s *sqlStore) DeleteHost(ctx context.Context, id string) error {
	_, err := s.write(ctx, func(w *wtx) error {
		var name string
		if err := w.queryRow(ctx, `SELECT name FROM hosts WHERE id = $1`, id).Scan(&name); err != nil {
			if isNoRows(err) {
				return hostNotFound(id)
			}
			return fmt.Errorf("delete host: %w", err)
		}
		ports, err := portsWhere(ctx, w, "host_id", name)
		if err != nil {
			return err
		}
		if len(ports) > 0 {
			return hostInUse(name, id, ports)
		}
		if err := deleteByID(ctx, w, "hosts", id, hostNotFound(id)); err != nil {
			return err
		}
		w.change(KindHost, id, OpDelete)
		return nil
	})
	return err
}

// vtepIPConflict refuses a registration whose VTEP IP is not the recorded
// one: an agent started with a wrong --vtep-ip must not silently move the
// host (the recorded address is what operators entered or what the first
// registration gave). The message says how to change it for real.
func vtepIPConflict(h model.Host, vtepIP string) error {
	return model.NewFault(model.ErrConflict, "HostVTEPIPConflict",
		"Host %s is recorded with VTEP IP %s, but its agent registers %s. If the host's VTEP IP really changed, change it through the API first: "+
			"l2gw host-update %s --vtep-ip %s (PUT /v2.0/hosts/%s); otherwise start the host agent with --vtep-ip %s.",
		h.Name, h.VTEPIP, vtepIP, h.Name, vtepIP, h.ID, h.VTEPIP)
}

// RegisterHost creates the host or records its heartbeat. A heartbeat alone
// is recorded without a new revision (nothing a planner or watcher acts on
// changed). A VTEP IP other than the recorded one is refused (ErrConflict,
// HostVTEPIPConflict) and changes nothing.
func (s *sqlStore) RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var out model.Host
	_, err := s.write(ctx, func(w *wtx) error {
		cur, err := listHosts(ctx, w.db, Query{Names: []string{name}})
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			out = model.Host{ID: uuid.NewString(), Name: name, VTEPIP: vtepIP, LastHeartbeat: at, CreatedAt: now()}
			return insertHost(ctx, w, out)
		}
		out = cur[0]
		if out.VTEPIP != vtepIP {
			return vtepIPConflict(out, vtepIP)
		}
		out.LastHeartbeat = at
		if _, err := w.exec(ctx, `UPDATE hosts SET last_heartbeat = $1 WHERE id = $2`, toMicros(at), out.ID); err != nil {
			return fmt.Errorf("register host: %w", err)
		}
		return nil
	})
	if err != nil {
		return model.Host{}, err
	}
	return out, nil
}

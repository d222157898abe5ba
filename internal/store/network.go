package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/l2gw/l2gw/internal/model"
)

func networkNotFound(id string) error {
	return model.NewFault(model.ErrNotFound, "NetworkNotFound", "Network %s could not be found.", id)
}

// now is the store's clock, truncated to what the database keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// DefaultMTU is given to VXLAN networks created without an MTU (Neutron's
// 1500 minus the VXLAN overhead).
const DefaultMTU = 1450

func (s *sqlStore) CreateNetworks(ctx context.Context, nets []model.Network) ([]model.Network, error) {
	out := make([]model.Network, len(nets))
	_, err := s.write(ctx, func(w *wtx) error {
		var used map[int]bool // VNIs in the allocation range, loaded on first need
		for i, n := range nets {
			if n.ID == "" {
				n.ID = uuid.NewString()
			}
			if n.NetworkType == "" {
				n.NetworkType = "vxlan"
			}
			if n.MTU == 0 && n.NetworkType == "vxlan" {
				n.MTU = DefaultMTU
			}
			if n.CreatedAt.IsZero() {
				n.CreatedAt = now()
			}
			n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
			n.UpdatedAt = n.CreatedAt
			if n.NetworkType == "vxlan" && n.VNI == 0 {
				if used == nil {
					var err error
					if used, err = usedVNIs(ctx, w, s.cfg.VNIMin, s.cfg.VNIMax); err != nil {
						return err
					}
				}
				for v := s.cfg.VNIMin; v <= s.cfg.VNIMax; v++ {
					if !used[v] {
						n.VNI = v
						break
					}
				}
				if n.VNI == 0 {
					return model.NewFault(model.ErrConflict, "NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
				}
			} else if n.VNI != 0 {
				var one int
				err := w.queryRow(ctx, `SELECT 1 FROM networks WHERE network_type = $1 AND vni = $2`, n.NetworkType, n.VNI).Scan(&one)
				if err == nil {
					return tunnelIDInUse(n.VNI)
				} else if !isNoRows(err) {
					return fmt.Errorf("create network: %w", err)
				}
			}
			if used != nil && n.NetworkType == "vxlan" {
				used[n.VNI] = true
			}
			if _, err := w.exec(ctx, `INSERT INTO networks (id, name, tenant_id, admin_state_up, network_type, vni, mtu, shared, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				n.ID, n.Name, n.TenantID, n.AdminStateUp, n.NetworkType, n.VNI, n.MTU, n.Shared, toMicros(n.CreatedAt), toMicros(n.UpdatedAt)); err != nil {
				if isUniqueViolation(err) {
					return model.NewFault(model.ErrConflict, "NetworkExists", "Network %s already exists.", n.ID)
				}
				return fmt.Errorf("create network: %w", err)
			}
			w.change(KindNetwork, n.ID, OpCreate)
			out[i] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func tunnelIDInUse(vni int) error {
	return model.NewFault(model.ErrConflict, "TunnelIdInUse", "Unable to create the network. The tunnel ID %d is in use.", vni)
}

func usedVNIs(ctx context.Context, w *wtx, lo, hi int) (map[int]bool, error) {
	rows, err := w.query(ctx, `SELECT vni FROM networks WHERE network_type = 'vxlan' AND vni >= $1 AND vni <= $2`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("allocate vni: %w", err)
	}
	defer rows.Close()
	used := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("allocate vni: %w", err)
		}
		used[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("allocate vni: %w", err)
	}
	return used, nil
}

func (s *sqlStore) GetNetwork(ctx context.Context, id string) (model.Network, error) {
	return byID(ctx, id, s.ListNetworks, networkNotFound)
}

func (s *sqlStore) ListNetworks(ctx context.Context, q Query) ([]model.Network, error) {
	return listNetworks(ctx, s.reader(), q)
}

func listNetworks(ctx context.Context, d db, q Query) ([]model.Network, error) {
	var wh where
	wh.in("id", q.IDs)
	wh.in("name", q.Names)
	wh.in("tenant_id", q.TenantIDs)
	wh.page("id", q)
	rows, err := d.query(ctx, `SELECT id, name, tenant_id, admin_state_up, network_type, vni, mtu, shared, created_at, updated_at FROM networks`+
		wh.String()+wh.tail("id", q), wh.args...)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	defer rows.Close()
	out := []model.Network{}
	for rows.Next() {
		var n model.Network
		var c, u int64
		if err := rows.Scan(&n.ID, &n.Name, &n.TenantID, &n.AdminStateUp, &n.NetworkType, &n.VNI, &n.MTU, &n.Shared, &c, &u); err != nil {
			return nil, fmt.Errorf("list networks: %w", err)
		}
		n.CreatedAt, n.UpdatedAt = fromMicros(c), fromMicros(u)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	return out, nil
}

// UpdateNetwork overwrites the mutable fields (name, admin state, MTU,
// shared, and the VNI when non-zero) of the stored network n.ID.
func (s *sqlStore) UpdateNetwork(ctx context.Context, n model.Network) (model.Network, error) {
	var out model.Network
	_, err := s.write(ctx, func(w *wtx) error {
		cur, err := listNetworks(ctx, w.db, Query{IDs: []string{n.ID}})
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			return networkNotFound(n.ID)
		}
		o := cur[0]
		if n.VNI != 0 && n.VNI != o.VNI {
			var one int
			err := w.queryRow(ctx, `SELECT 1 FROM networks WHERE network_type = $1 AND vni = $2`, o.NetworkType, n.VNI).Scan(&one)
			if err == nil {
				return tunnelIDInUse(n.VNI)
			} else if !isNoRows(err) {
				return fmt.Errorf("update network: %w", err)
			}
			o.VNI = n.VNI
		}
		o.Name, o.AdminStateUp, o.Shared = n.Name, n.AdminStateUp, n.Shared
		if n.MTU != 0 {
			o.MTU = n.MTU
		}
		o.UpdatedAt = now()
		if _, err := w.exec(ctx, `UPDATE networks SET name = $1, admin_state_up = $2, vni = $3, mtu = $4, shared = $5, updated_at = $6 WHERE id = $7`,
			o.Name, o.AdminStateUp, o.VNI, o.MTU, o.Shared, toMicros(o.UpdatedAt), o.ID); err != nil {
			if isUniqueViolation(err) {
				return tunnelIDInUse(n.VNI)
			}
			return fmt.Errorf("update network: %w", err)
		}
		w.change(KindNetwork, o.ID, OpUpdate)
		out = o
		return nil
	})
	if err != nil {
		return model.Network{}, err
	}
	return out, nil
}

// DeleteNetwork deletes a network and its connections; a network with
// ports is refused (ErrInUse, NetworkInUse).
func (s *sqlStore) DeleteNetwork(ctx context.Context, id string) error {
	_, err := s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow(ctx, `SELECT 1 FROM networks WHERE id = $1`, id).Scan(&one); err != nil {
			if isNoRows(err) {
				return networkNotFound(id)
			}
			return fmt.Errorf("delete network: %w", err)
		}
		ports, err := portsWhere(ctx, w, "network_id", id)
		if err != nil {
			return err
		}
		if len(ports) > 0 {
			return networkInUse(id, ports)
		}
		conns, err := listConnections(ctx, w.db, Query{NetworkIDs: []string{id}})
		if err != nil {
			return err
		}
		for _, c := range conns {
			if _, err := w.exec(ctx, `DELETE FROM connection_bindings WHERE connection_id = $1`, c.ID); err != nil {
				return fmt.Errorf("delete network connections: %w", err)
			}
			w.change(KindConnection, c.ID, OpDelete)
			w.delConnection(c.ID)
		}
		if _, err := w.exec(ctx, `DELETE FROM connections WHERE network_id = $1`, id); err != nil {
			return fmt.Errorf("delete network connections: %w", err)
		}
		if _, err := w.exec(ctx, `DELETE FROM networks WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete network: %w", err)
		}
		w.change(KindNetwork, id, OpDelete)
		return nil
	})
	return err
}

func queryStrings(ctx context.Context, d db, text string, args ...any) ([]string, error) {
	rows, err := d.query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

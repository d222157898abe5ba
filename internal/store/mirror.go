package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// MirroredNetwork is a network as Neutron shows it, with its revision_number.
type MirroredNetwork struct {
	model.Network
	Revision int64
}

// MirroredPort is a port as Neutron shows it, with its revision_number.
type MirroredPort struct {
	model.Port
	Revision int64
}

// Mirror is a batch of what an inventory mirror (internal/neutronsync) read
// from Neutron: objects to create or update, keeping Neutron's ids, and ids
// to delete. Hosts are keyed by name (binding:host_id names them); a host
// whose name is stored under another id takes the new id.
type Mirror struct {
	Networks       []MirroredNetwork
	Ports          []MirroredPort
	Hosts          []model.Host
	DeleteNetworks []string
	DeletePorts    []string
	DeleteHosts    []string
}

// MirrorResult says what ApplyMirror did.
type MirrorResult struct {
	// Revision is the store's revision after the batch.
	Revision int64
	// Changed counts the objects created, updated or deleted (each one a
	// change-log entry); unchanged and stale items count nothing.
	Changed int
	// Orphans are ports skipped because their network is not mirrored
	// (yet): the caller should list again.
	Orphans []string
}

// ApplyMirror applies m in one transaction. An upsert whose revision is
// older than the stored one is ignored (polls overlap, and a full list may
// race an update), one equal to it changes nothing, and one with the same
// content as stored (timestamps and revision aside) records the new revision
// without a change entry, so the planner only hears of real changes.
// Deleting a network deletes its ports and connections too (Neutron has
// already deleted them). A stale mirrored object holding what Neutron now
// gives another (a VNI, a network's MAC) is corrected: Neutron is the truth.
func (s *sqlStore) ApplyMirror(ctx context.Context, m Mirror) (MirrorResult, error) {
	var res MirrorResult
	rev, err := s.write(ctx, func(w *wtx) error {
		res = MirrorResult{}
		if err := mirrorNetworkDeletes(ctx, w, m.DeleteNetworks); err != nil {
			return err
		}
		if err := mirrorNetworks(ctx, w, m.Networks); err != nil {
			return err
		}
		for _, id := range m.DeletePorts {
			if err := mirrorDeletePort(ctx, w, id); err != nil {
				return err
			}
		}
		orphans, err := mirrorPorts(ctx, w, m.Ports)
		if err != nil {
			return err
		}
		res.Orphans = orphans
		for _, id := range m.DeleteHosts {
			res, err := w.exec(ctx, `DELETE FROM hosts WHERE id = $1`, id)
			if err != nil {
				return fmt.Errorf("mirror: delete host: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				w.change(KindHost, id, OpDelete)
			}
		}
		if err := mirrorHosts(ctx, w, m.Hosts); err != nil {
			return err
		}
		res.Changed = len(w.changes)
		return nil
	})
	if err != nil {
		return MirrorResult{}, err
	}
	res.Revision = rev
	return res, nil
}

// storedRevisions reads the revision_number of table's rows among ids (all
// rows when ids are many: one scan beats a long IN list).
func storedRevisions(ctx context.Context, w *wtx, table string, ids []string) (map[string]int64, error) {
	var wh where
	if len(ids) <= maxParentKeys {
		wh.in("id", ids)
	}
	out := map[string]int64{}
	err := scanRows(ctx, w.db, `SELECT id, revision_number FROM `+table+wh.String(), wh.args, func(sc func(...any) error) error {
		var id string
		var r int64
		if err := sc(&id, &r); err != nil {
			return err
		}
		out[id] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror: read %s revisions: %w", table, err)
	}
	return out, nil
}

func mirrorNetworkDeletes(ctx context.Context, w *wtx, ids []string) error {
	for _, id := range ids {
		ports, err := portsWhere(ctx, w, "network_id", id)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if err := mirrorDeletePort(ctx, w, p); err != nil {
				return err
			}
		}
		conns, err := listConnections(ctx, w.db, Query{NetworkIDs: []string{id}})
		if err != nil {
			return err
		}
		for _, c := range conns {
			if _, err := w.exec(ctx, `DELETE FROM connection_bindings WHERE connection_id = $1`, c.ID); err != nil {
				return fmt.Errorf("mirror: delete network connections: %w", err)
			}
			if _, err := w.exec(ctx, `DELETE FROM connections WHERE id = $1`, c.ID); err != nil {
				return fmt.Errorf("mirror: delete network connections: %w", err)
			}
			w.change(KindConnection, c.ID, OpDelete)
			w.delConnection(c.ID)
		}
		res, err := w.exec(ctx, `DELETE FROM networks WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("mirror: delete network: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			w.change(KindNetwork, id, OpDelete)
		}
	}
	return nil
}

func mirrorDeletePort(ctx context.Context, w *wtx, id string) error {
	res, err := w.exec(ctx, `DELETE FROM ports WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("mirror: delete port: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		w.change(KindPort, id, OpDelete)
	}
	return nil
}

// sameNetwork compares what the planner and the API show of a network.
func sameNetwork(a, b model.Network) bool {
	return a.Name == b.Name && a.TenantID == b.TenantID && a.AdminStateUp == b.AdminStateUp &&
		a.NetworkType == b.NetworkType && a.VNI == b.VNI && a.MTU == b.MTU && a.Shared == b.Shared
}

func mirrorNetworks(ctx context.Context, w *wtx, nets []MirroredNetwork) error {
	if len(nets) == 0 {
		return nil
	}
	ids := make([]string, len(nets))
	for i, n := range nets {
		ids[i] = n.ID
	}
	revs, err := storedRevisions(ctx, w, "networks", ids)
	if err != nil {
		return err
	}
	var cur []model.Network
	if len(ids) <= maxParentKeys {
		cur, err = listNetworks(ctx, w.db, Query{IDs: ids})
	} else {
		cur, err = listNetworks(ctx, w.db, Query{})
	}
	if err != nil {
		return err
	}
	stored := make(map[string]model.Network, len(cur))
	for _, n := range cur {
		stored[n.ID] = n
	}
	for _, n := range nets {
		old, exists := stored[n.ID]
		if exists && n.Revision < revs[n.ID] {
			continue // stale: a newer revision is stored
		}
		n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
		n.UpdatedAt = n.UpdatedAt.UTC().Truncate(time.Microsecond)
		if exists && sameNetwork(old, n.Network) {
			if n.Revision != revs[n.ID] {
				if _, err := w.exec(ctx, `UPDATE networks SET revision_number = $1, updated_at = $2 WHERE id = $3`, n.Revision, toMicros(n.UpdatedAt), n.ID); err != nil {
					return fmt.Errorf("mirror: network revision: %w", err)
				}
			}
			continue
		}
		if n.VNI != 0 {
			// A VNI Neutron gives this network is free in Neutron: a
			// mirrored network still holding it was deleted or moved there.
			held, err := queryStrings(ctx, w.db, `SELECT id FROM networks WHERE network_type = $1 AND vni = $2 AND id <> $3`, n.NetworkType, n.VNI, n.ID)
			if err != nil {
				return fmt.Errorf("mirror: network vni: %w", err)
			}
			for _, id := range held {
				if _, err := w.exec(ctx, `UPDATE networks SET vni = 0 WHERE id = $1`, id); err != nil {
					return fmt.Errorf("mirror: network vni: %w", err)
				}
				w.change(KindNetwork, id, OpUpdate)
			}
		}
		if exists {
			if _, err := w.exec(ctx, `UPDATE networks SET name = $1, tenant_id = $2, admin_state_up = $3, network_type = $4, vni = $5, mtu = $6, shared = $7,
				updated_at = $8, revision_number = $9 WHERE id = $10`,
				n.Name, n.TenantID, n.AdminStateUp, n.NetworkType, n.VNI, n.MTU, n.Shared, toMicros(n.UpdatedAt), n.Revision, n.ID); err != nil {
				return fmt.Errorf("mirror: update network: %w", err)
			}
			w.change(KindNetwork, n.ID, OpUpdate)
			continue
		}
		if _, err := w.exec(ctx, `INSERT INTO networks (id, name, tenant_id, admin_state_up, network_type, vni, mtu, shared, created_at, updated_at, revision_number)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			n.ID, n.Name, n.TenantID, n.AdminStateUp, n.NetworkType, n.VNI, n.MTU, n.Shared, toMicros(n.CreatedAt), toMicros(n.UpdatedAt), n.Revision); err != nil {
			return fmt.Errorf("mirror: create network: %w", err)
		}
		w.change(KindNetwork, n.ID, OpCreate)
	}
	return nil
}

// samePort compares what the planner and the API show of a port.
func samePort(a, b model.Port) bool {
	return a.Name == b.Name && a.NetworkID == b.NetworkID && a.TenantID == b.TenantID && a.MACAddress == b.MACAddress &&
		a.HostID == b.HostID && a.DeviceOwner == b.DeviceOwner && a.DeviceID == b.DeviceID && a.AdminStateUp == b.AdminStateUp &&
		a.InterfaceName == b.InterfaceName && a.Status == b.Status &&
		slices.Equal(a.FixedIPs, b.FixedIPs) && slices.Equal(a.AllowedAddressPairs, b.AllowedAddressPairs)
}

func normPort(p model.Port) model.Port {
	p.MACAddress = strings.ToLower(p.MACAddress)
	if len(p.FixedIPs) == 0 {
		p.FixedIPs = nil
	}
	pairs := p.AllowedAddressPairs
	p.AllowedAddressPairs = nil
	for _, a := range pairs {
		a.MACAddress = strings.ToLower(a.MACAddress)
		p.AllowedAddressPairs = append(p.AllowedAddressPairs, a)
	}
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Microsecond)
	p.UpdatedAt = p.UpdatedAt.UTC().Truncate(time.Microsecond)
	return p
}

func mirrorPorts(ctx context.Context, w *wtx, ports []MirroredPort) ([]string, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ports))
	for i, p := range ports {
		ids[i] = p.ID
	}
	revs, err := storedRevisions(ctx, w, "ports", ids)
	if err != nil {
		return nil, err
	}
	var cur []model.Port
	if len(ids) <= maxParentKeys {
		cur, err = listPorts(ctx, w.db, Query{IDs: ids})
	} else {
		cur, err = listPorts(ctx, w.db, Query{})
	}
	if err != nil {
		return nil, err
	}
	stored := make(map[string]model.Port, len(cur))
	for _, p := range cur {
		stored[p.ID] = normPort(p)
	}
	nets, err := queryStrings(ctx, w.db, `SELECT id FROM networks`)
	if err != nil {
		return nil, fmt.Errorf("mirror: read networks: %w", err)
	}
	known := make(map[string]bool, len(nets))
	for _, id := range nets {
		known[id] = true
	}
	var orphans []string
	for _, mp := range ports {
		p := normPort(mp.Port)
		old, exists := stored[p.ID]
		if exists && mp.Revision < revs[p.ID] {
			continue
		}
		if !known[p.NetworkID] {
			orphans = append(orphans, p.ID)
			continue
		}
		if exists && samePort(old, p) {
			if mp.Revision != revs[p.ID] {
				if _, err := w.exec(ctx, `UPDATE ports SET revision_number = $1, updated_at = $2 WHERE id = $3`, mp.Revision, toMicros(p.UpdatedAt), p.ID); err != nil {
					return nil, fmt.Errorf("mirror: port revision: %w", err)
				}
			}
			continue
		}
		// The MAC is this port's in Neutron: a mirrored port still holding
		// it on the network was deleted there.
		held, err := queryStrings(ctx, w.db, `SELECT id FROM ports WHERE network_id = $1 AND mac_address = $2 AND id <> $3`, p.NetworkID, p.MACAddress, p.ID)
		if err != nil {
			return nil, fmt.Errorf("mirror: port mac: %w", err)
		}
		for _, id := range held {
			if err := mirrorDeletePort(ctx, w, id); err != nil {
				return nil, err
			}
		}
		if exists {
			if _, err := w.exec(ctx, `UPDATE ports SET name = $1, network_id = $2, tenant_id = $3, mac_address = $4, host_id = $5, device_owner = $6, device_id = $7,
				admin_state_up = $8, interface_name = $9, updated_at = $10, status = $11, revision_number = $12 WHERE id = $13`,
				p.Name, p.NetworkID, p.TenantID, p.MACAddress, p.HostID, p.DeviceOwner, p.DeviceID, p.AdminStateUp, p.InterfaceName,
				toMicros(p.UpdatedAt), p.Status, mp.Revision, p.ID); err != nil {
				return nil, fmt.Errorf("mirror: update port: %w", err)
			}
			for _, t := range []string{"port_fixed_ips", "port_address_pairs"} {
				if _, err := w.exec(ctx, `DELETE FROM `+t+` WHERE port_id = $1`, p.ID); err != nil {
					return nil, fmt.Errorf("mirror: update port: %w", err)
				}
			}
			w.change(KindPort, p.ID, OpUpdate)
		} else {
			if _, err := w.exec(ctx, `INSERT INTO ports (id, name, network_id, tenant_id, mac_address, host_id, device_owner, device_id, admin_state_up, interface_name,
				created_at, updated_at, status, revision_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				p.ID, p.Name, p.NetworkID, p.TenantID, p.MACAddress, p.HostID, p.DeviceOwner, p.DeviceID, p.AdminStateUp, p.InterfaceName,
				toMicros(p.CreatedAt), toMicros(p.UpdatedAt), p.Status, mp.Revision); err != nil {
				return nil, fmt.Errorf("mirror: create port: %w", err)
			}
			w.change(KindPort, p.ID, OpCreate)
		}
		if err := insertPortLists(ctx, w, p); err != nil {
			return nil, err
		}
	}
	return orphans, nil
}

// sameHost compares what the planner and the API act on; heartbeats are
// recorded without a change entry.
func sameHost(a, b model.Host) bool {
	if a.ID != b.ID || a.VTEPIP != b.VTEPIP || a.Description != b.Description || (a.Agent == nil) != (b.Agent == nil) {
		return false
	}
	if a.Agent == nil {
		return true
	}
	x, y := *a.Agent, *b.Agent
	return x.Type == y.Type && x.Alive == y.Alive && x.StartedAt.Equal(y.StartedAt) && x.L2Population == y.L2Population &&
		slices.Equal(x.TunnelTypes, y.TunnelTypes)
}

func mirrorHosts(ctx context.Context, w *wtx, hosts []model.Host) error {
	if len(hosts) == 0 {
		return nil
	}
	cur, err := listHosts(ctx, w.db, Query{})
	if err != nil {
		return err
	}
	byName := make(map[string]model.Host, len(cur))
	for _, h := range cur {
		byName[h.Name] = h
	}
	for _, h := range hosts {
		if h.Agent != nil {
			a := *h.Agent
			a.StartedAt = a.StartedAt.UTC().Truncate(time.Microsecond)
			if len(a.TunnelTypes) == 0 {
				a.TunnelTypes = nil
			}
			h.Agent = &a
		}
		h.LastHeartbeat = h.LastHeartbeat.UTC().Truncate(time.Microsecond)
		h.CreatedAt = h.CreatedAt.UTC().Truncate(time.Microsecond)
		old, exists := byName[h.Name]
		var a model.L2Agent
		if h.Agent != nil {
			a = *h.Agent
		}
		if exists && sameHost(old, h) {
			if !old.LastHeartbeat.Equal(h.LastHeartbeat) {
				if _, err := w.exec(ctx, `UPDATE hosts SET last_heartbeat = $1 WHERE id = $2`, toMicros(h.LastHeartbeat), h.ID); err != nil {
					return fmt.Errorf("mirror: host heartbeat: %w", err)
				}
			}
			continue
		}
		if exists && old.ID == h.ID {
			if _, err := w.exec(ctx, `UPDATE hosts SET vtep_ip = $1, description = $2, last_heartbeat = $3, agent_type = $4, agent_alive = $5,
				agent_started_at = $6, agent_l2_population = $7, agent_tunnel_types = $8 WHERE id = $9`,
				h.VTEPIP, h.Description, toMicros(h.LastHeartbeat), a.Type, a.Alive, toMicros(a.StartedAt), a.L2Population,
				strings.Join(a.TunnelTypes, ","), h.ID); err != nil {
				return fmt.Errorf("mirror: update host: %w", err)
			}
			w.change(KindHost, h.ID, OpUpdate)
			continue
		}
		if exists { // the name is stored under another id (another agent, or l2gw's own)
			if _, err := w.exec(ctx, `DELETE FROM hosts WHERE id = $1`, old.ID); err != nil {
				return fmt.Errorf("mirror: replace host: %w", err)
			}
			w.change(KindHost, old.ID, OpDelete)
		}
		// The id may be stored under another name (the agent's host was renamed).
		if res, err := w.exec(ctx, `DELETE FROM hosts WHERE id = $1`, h.ID); err != nil {
			return fmt.Errorf("mirror: replace host: %w", err)
		} else if n, _ := res.RowsAffected(); n > 0 {
			w.change(KindHost, h.ID, OpDelete)
		}
		if _, err := w.exec(ctx, `INSERT INTO hosts (id, name, vtep_ip, description, last_heartbeat, created_at, agent_type, agent_alive, agent_started_at,
			agent_l2_population, agent_tunnel_types) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			h.ID, h.Name, h.VTEPIP, h.Description, toMicros(h.LastHeartbeat), toMicros(h.CreatedAt), a.Type, a.Alive, toMicros(a.StartedAt),
			a.L2Population, strings.Join(a.TunnelTypes, ",")); err != nil {
			return fmt.Errorf("mirror: create host: %w", err)
		}
		w.change(KindHost, h.ID, OpCreate)
	}
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

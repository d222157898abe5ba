package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/l2gw/l2gw/internal/model"
)

// LastSeenInterval is how stale a switch's LastSeen may get before an
// otherwise identical report refreshes it (a write without a revision).
const LastSeenInterval = 30 * time.Second

func switchNotFound(name string) error {
	return model.NewFault(model.ErrNotFound, "SwitchNotFound", "Switch %s could not be found.", name)
}

// swRow is a stored switch with the columns model.Switch does not show.
type swRow struct {
	model.Switch
	reported     bool
	syncRevision int64
	// connected is the stored flag (Switch.Connected also needs a live
	// heartbeat); owner and heartbeat are its presence (presence.go).
	connected bool
	owner     string
	heartbeat int64
}

func jsonList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

func parseList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	return v, nil
}

// sortedSet returns a sorted copy without empty strings and repeats (nil when empty).
func sortedSet(v []string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func getSwitchTx(ctx context.Context, d db, name string) (swRow, bool, error) {
	rows, err := listSwitchRows(ctx, d, Query{Names: []string{name}})
	if err != nil || len(rows) == 0 {
		return swRow{}, false, err
	}
	return rows[0], true, nil
}

func listSwitchRows(ctx context.Context, d db, q Query) ([]swRow, error) {
	var wh where
	wh.in("name", q.Names)
	wh.in("id", q.IDs)
	wh.page("name", q)
	filtered := len(wh.conds) > 0 || q.Limit > 0
	var out []swRow
	idx := map[string]int{}
	err := scanRows(ctx, d, `SELECT name, id, reported, description, tunnel_ips, management_ips, fault_status, connected, last_seen, last_sync, sync_revision, sync_error, sync_problems, presence_owner, heartbeat FROM switches`+
		wh.String()+wh.tail("name", q), wh.args, func(sc func(...any) error) error {
		var r swRow
		var tun, mgmt, fault, problems string
		var seen, synced int64
		if err := sc(&r.Name, &r.ID, &r.reported, &r.Description, &tun, &mgmt, &fault, &r.connected, &seen, &synced, &r.syncRevision, &r.SyncError, &problems, &r.owner, &r.heartbeat); err != nil {
			return err
		}
		r.Connected = d.s.alive(r.connected, r.heartbeat)
		if r.connected && !r.Connected && r.SyncError == "" {
			r.SyncError = PresenceExpired
		}
		var err error
		if r.SyncProblems, err = parseProblems(problems); err != nil {
			return err
		}
		if r.TunnelIPs, err = parseList(tun); err != nil {
			return err
		}
		if r.ManagementIPs, err = parseList(mgmt); err != nil {
			return err
		}
		if r.FaultStatus, err = parseList(fault); err != nil {
			return err
		}
		r.LastSeen, r.LastSync = fromMicros(seen), fromMicros(synced)
		r.SyncRevision = r.syncRevision
		idx[r.Name] = len(out)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list switches: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	sub := childrenOf(filtered, out, "switch_name", func(r swRow) string { return r.Name })
	err = scanRows(ctx, d, `SELECT switch_name, name, description, fault_status FROM switch_ports`+sub.String()+` ORDER BY switch_name, position`, sub.args,
		func(sc func(...any) error) error {
			var sw, fault string
			var p model.SwitchPort
			if err := sc(&sw, &p.Name, &p.Description, &fault); err != nil {
				return err
			}
			var err error
			if p.FaultStatus, err = parseList(fault); err != nil {
				return err
			}
			if i, ok := idx[sw]; ok {
				out[i].Ports = append(out[i].Ports, p)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list switch ports: %w", err)
	}
	return out, nil
}

func (s *sqlStore) GetSwitch(ctx context.Context, name string) (model.Switch, error) {
	r, ok, err := getSwitchTx(ctx, s.reader(), name)
	if err != nil {
		return model.Switch{}, err
	}
	if !ok {
		return model.Switch{}, switchNotFound(name)
	}
	return r.Switch, nil
}

// ListSwitches orders by name; Query.Names and Query.IDs filter, Marker is a name.
func (s *sqlStore) ListSwitches(ctx context.Context, q Query) ([]model.Switch, error) {
	return listSwitches(ctx, s.reader(), q)
}

func listSwitches(ctx context.Context, d db, q Query) ([]model.Switch, error) {
	rows, err := listSwitchRows(ctx, d, q)
	if err != nil {
		return nil, err
	}
	out := make([]model.Switch, len(rows))
	for i, r := range rows {
		out[i] = r.Switch
	}
	return out, nil
}

// normalizeReport sorts the report's sets and ports so that equal reports
// compare equal.
func normalizeReport(sw model.Switch) model.Switch {
	sw.TunnelIPs = sortedSet(sw.TunnelIPs)
	sw.ManagementIPs = sortedSet(sw.ManagementIPs)
	sw.FaultStatus = sortedSet(sw.FaultStatus)
	ports := make([]model.SwitchPort, 0, len(sw.Ports))
	for _, p := range sw.Ports {
		p.FaultStatus = sortedSet(p.FaultStatus)
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b model.SwitchPort) int { return strings.Compare(a.Name, b.Name) })
	ports = slices.CompactFunc(ports, func(a, b model.SwitchPort) bool { return a.Name == b.Name })
	sw.Ports = ports
	return sw
}

func sameInventory(a, b model.Switch) bool {
	return a.Description == b.Description && slices.Equal(a.TunnelIPs, b.TunnelIPs) &&
		slices.Equal(a.ManagementIPs, b.ManagementIPs) && slices.Equal(a.FaultStatus, b.FaultStatus) &&
		slices.EqualFunc(a.Ports, b.Ports, func(x, y model.SwitchPort) bool {
			return x.Name == y.Name && x.Description == y.Description && slices.Equal(x.FaultStatus, y.FaultStatus)
		})
}

// ReportSwitch upserts the switch inventory and replaces its local MACs.
// An identical report writes nothing and logs no change (except refreshing
// LastSeen once per LastSeenInterval, without a revision).
func (s *sqlStore) ReportSwitch(ctx context.Context, r model.SwitchReport) error {
	if r.Switch.Name == "" {
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: switch name is empty.")
	}
	sw := normalizeReport(r.Switch)
	t := now()
	_, err := s.write(ctx, func(w *wtx) error {
		cur, ok, err := getSwitchTx(ctx, w.db, sw.Name)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			if sw.ID == "" {
				sw.ID = uuid.NewString()
			}
			if _, err := w.exec(ctx, `INSERT INTO switches (name, id, reported, description, tunnel_ips, management_ips, fault_status, connected, last_seen, last_sync, sync_revision, sync_error, presence_owner, heartbeat)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, '', $10, $9)`,
				sw.Name, sw.ID, true, sw.Description, jsonList(sw.TunnelIPs), jsonList(sw.ManagementIPs), jsonList(sw.FaultStatus), true, toMicros(t), s.replica); err != nil {
				return fmt.Errorf("report switch: %w", err)
			}
			if err := insertSwitchPorts(ctx, w, sw); err != nil {
				return err
			}
			w.change(KindSwitch, sw.Name, OpCreate)
		case !cur.reported || !sameInventory(cur.Switch, sw):
			id := cur.ID
			if sw.ID != "" {
				id = sw.ID
			}
			if _, err := w.exec(ctx, `UPDATE switches SET id = $1, reported = $2, description = $3, tunnel_ips = $4, management_ips = $5, fault_status = $6, last_seen = $7 WHERE name = $8`,
				id, true, sw.Description, jsonList(sw.TunnelIPs), jsonList(sw.ManagementIPs), jsonList(sw.FaultStatus), toMicros(t), sw.Name); err != nil {
				return fmt.Errorf("report switch: %w", err)
			}
			if _, err := w.exec(ctx, `DELETE FROM switch_ports WHERE switch_name = $1`, sw.Name); err != nil {
				return fmt.Errorf("report switch: %w", err)
			}
			if err := insertSwitchPorts(ctx, w, sw); err != nil {
				return err
			}
			w.change(KindSwitch, sw.Name, OpUpdate)
		case t.Sub(cur.LastSeen) > LastSeenInterval:
			if _, err := w.exec(ctx, `UPDATE switches SET last_seen = $1 WHERE name = $2`, toMicros(t), sw.Name); err != nil {
				return fmt.Errorf("report switch: %w", err)
			}
		}
		return replaceLocalMACs(ctx, w, sw.Name, r.LocalMACs)
	})
	return err
}

func insertSwitchPorts(ctx context.Context, w *wtx, sw model.Switch) error {
	for i, p := range sw.Ports {
		if _, err := w.exec(ctx, `INSERT INTO switch_ports (switch_name, position, name, description, fault_status) VALUES ($1, $2, $3, $4, $5)`,
			sw.Name, i, p.Name, p.Description, jsonList(p.FaultStatus)); err != nil {
			return fmt.Errorf("report switch port %s: %w", p.Name, err)
		}
	}
	return nil
}

func localMACID(m model.LocalMAC) string { return m.Switch + "/" + m.NetworkID + "/" + m.MAC }

func replaceLocalMACs(ctx context.Context, w *wtx, sw string, macs []model.LocalMAC) error {
	cur, err := listLocalMACs(ctx, w.db, Query{Names: []string{sw}})
	if err != nil {
		return err
	}
	type key struct{ net, mac string }
	old := make(map[key]model.LocalMAC, len(cur))
	for _, m := range cur {
		old[key{m.NetworkID, m.MAC}] = m
	}
	seen := make(map[key]bool, len(macs))
	for _, m := range macs {
		m.Switch = sw
		m.MAC = strings.ToLower(m.MAC)
		k := key{m.NetworkID, m.MAC}
		if seen[k] {
			continue
		}
		seen[k] = true
		o, ok := old[k]
		switch {
		case !ok:
			if _, err := w.exec(ctx, `INSERT INTO local_macs (switch_name, network_id, mac, ip_address, locator_ip) VALUES ($1, $2, $3, $4, $5)`,
				sw, m.NetworkID, m.MAC, m.IPAddress, m.LocatorIP); err != nil {
				return fmt.Errorf("report local mac %s: %w", m.MAC, err)
			}
			w.change(KindLocalMAC, localMACID(m), OpCreate)
		case o.IPAddress != m.IPAddress || o.LocatorIP != m.LocatorIP:
			if _, err := w.exec(ctx, `UPDATE local_macs SET ip_address = $1, locator_ip = $2 WHERE switch_name = $3 AND network_id = $4 AND mac = $5`,
				m.IPAddress, m.LocatorIP, sw, m.NetworkID, m.MAC); err != nil {
				return fmt.Errorf("report local mac %s: %w", m.MAC, err)
			}
			w.change(KindLocalMAC, localMACID(m), OpUpdate)
		}
	}
	for k, o := range old {
		if seen[k] {
			continue
		}
		if _, err := w.exec(ctx, `DELETE FROM local_macs WHERE switch_name = $1 AND network_id = $2 AND mac = $3`, sw, k.net, k.mac); err != nil {
			return fmt.Errorf("report local mac %s: %w", k.mac, err)
		}
		w.change(KindLocalMAC, localMACID(o), OpDelete)
	}
	return nil
}

// SetSwitchStatus records the agent's view. A switch not reported yet gets a
// row that is listed but not usable by connections until its first report.
// Only a change of Connected or Error is logged as a change; LastSync and
// Revision are recorded without a new revision (they change at every sync,
// and logging them would wake every watcher for nothing).
func (s *sqlStore) SetSwitchStatus(ctx context.Context, st model.SwitchStatus) error {
	if st.Name == "" {
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: switch name is empty.")
	}
	t := now()
	lastSync := toMicros(st.LastSync.UTC().Truncate(time.Microsecond))
	problems := problemsJSON(st.Problems)
	if st.Connected {
		// The usual report, after each sync of a switch whose agent this
		// replica hears from already: only what is recorded without a
		// revision changes, so it needs no place in the group commit.
		var updated bool
		err := s.writeUnlogged(ctx, func(d db) error {
			res, err := d.exec(ctx, `UPDATE switches SET last_seen = $1, heartbeat = $1, last_sync = $2, sync_revision = $3
				WHERE name = $4 AND connected AND presence_owner = $5 AND heartbeat > $6 AND sync_error = $7 AND sync_problems = $8`,
				toMicros(t), lastSync, st.Revision, st.Name, s.replica, toMicros(t.Add(-s.cfg.PresenceExpiry)), st.Error, problems)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			updated = n > 0
			return err
		})
		if err != nil {
			return fmt.Errorf("set switch status: %w", err)
		}
		if updated {
			return nil
		}
	}
	_, err := s.write(ctx, func(w *wtx) error {
		cur, ok, err := getSwitchTx(ctx, w.db, st.Name)
		if err != nil {
			return err
		}
		if !ok {
			var seen int64
			owner := ""
			if st.Connected {
				seen, owner = toMicros(t), s.replica
			}
			if _, err := w.exec(ctx, `INSERT INTO switches (name, id, reported, description, tunnel_ips, management_ips, fault_status, connected, last_seen, last_sync, sync_revision, sync_error, sync_problems, presence_owner, heartbeat)
				VALUES ($1, $2, $3, '', '[]', '[]', '[]', $4, $5, $6, $7, $8, $9, $10, $5)`,
				st.Name, uuid.NewString(), false, st.Connected, seen, lastSync, st.Revision, st.Error, problems, owner); err != nil {
				return fmt.Errorf("set switch status: %w", err)
			}
			w.change(KindSwitch, st.Name, OpCreate)
			return nil
		}
		sameProblems := problemsJSON(cur.SyncProblems) == problems
		// A connected status also claims the presence for this replica
		// (the agent's stream is here now).
		ownPresence := !st.Connected || cur.owner == s.replica && cur.Connected
		if cur.connected == st.Connected && ownPresence && cur.SyncError == st.Error && sameProblems && toMicros(cur.LastSync) == lastSync && cur.syncRevision == st.Revision {
			return nil
		}
		seen, beat, owner := toMicros(cur.LastSeen), cur.heartbeat, ""
		if st.Connected {
			seen, beat, owner = toMicros(t), toMicros(t), s.replica
		}
		if _, err := w.exec(ctx, `UPDATE switches SET connected = $1, last_seen = $2, last_sync = $3, sync_revision = $4, sync_error = $5, sync_problems = $6, presence_owner = $7, heartbeat = $8 WHERE name = $9`,
			st.Connected, seen, lastSync, st.Revision, st.Error, problems, owner, beat, st.Name); err != nil {
			return fmt.Errorf("set switch status: %w", err)
		}
		if cur.Connected != st.Connected || cur.SyncError != st.Error || !sameProblems {
			w.change(KindSwitch, st.Name, OpUpdate)
		}
		return nil
	})
	return err
}

// syncProblem is the stored form of a model.SyncProblem.
type syncProblem struct {
	LogicalSwitch string `json:"logical_switch,omitempty"`
	Port          string `json:"port,omitempty"`
	Error         string `json:"error"`
}

func problemsJSON(ps []model.SyncProblem) string {
	if len(ps) == 0 {
		return "[]"
	}
	out := make([]syncProblem, len(ps))
	for i, p := range ps {
		out[i] = syncProblem(p)
	}
	b, _ := json.Marshal(out) // strings only: always marshals
	return string(b)
}

func parseProblems(s string) ([]model.SyncProblem, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var v []syncProblem
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored sync problems %q: %w", s, err)
	}
	out := make([]model.SyncProblem, len(v))
	for i, p := range v {
		out[i] = model.SyncProblem(p)
	}
	return out, nil
}

// ListLocalMACs orders by switch, network and MAC. Query.Names filters by
// switch name, Query.NetworkIDs by network; Marker and Limit are not applied.
func (s *sqlStore) ListLocalMACs(ctx context.Context, q Query) ([]model.LocalMAC, error) {
	return listLocalMACs(ctx, s.reader(), q)
}

func listLocalMACs(ctx context.Context, d db, q Query) ([]model.LocalMAC, error) {
	var wh where
	wh.in("switch_name", q.Names)
	wh.in("network_id", q.NetworkIDs)
	out := []model.LocalMAC{}
	err := scanRows(ctx, d, `SELECT switch_name, network_id, mac, ip_address, locator_ip FROM local_macs`+wh.String()+` ORDER BY switch_name, network_id, mac`, wh.args,
		func(sc func(...any) error) error {
			var m model.LocalMAC
			if err := sc(&m.Switch, &m.NetworkID, &m.MAC, &m.IPAddress, &m.LocatorIP); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list local macs: %w", err)
	}
	return out, nil
}

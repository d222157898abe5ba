package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/l2gw/l2gw/internal/model"
)

func gatewayNotFound(id string) error {
	return model.NewFault(model.ErrNotFound, "L2GatewayNotFound", "L2 Gateway %s could not be found", id)
}

func deviceNotFound(name string) error {
	return model.NewFault(model.ErrNotFound, "L2GatewayDeviceNotFound", "L2 Gateway Device %s could not be found.", name)
}

func interfaceNotFound(name string) error {
	return model.NewFault(model.ErrNotFound, "L2GatewayInterfaceNotFound", "L2 Gateway interface '%s' not found.", name)
}

// revisionMismatch is Neutron's RevisionNumberConstraintFailed (a webob
// HTTPPreconditionFailed whose detail is the message).
func revisionMismatch(expected, current int64) error {
	return model.NewFault(model.ErrPrecondition, "RevisionNumberConstraintFailed",
		"Constrained to %d, but current revision is %d", expected, current)
}

// normalizeInterfaces merges interfaces of the same name (first position
// wins, VLANs appended in order without repeats). Every VLAN must be one
// (model.CheckVLAN): 0 is refused, not read as "none".
func normalizeInterfaces(in []model.Interface) ([]model.Interface, error) {
	out := make([]model.Interface, 0, len(in))
	idx := make(map[string]int, len(in))
	for _, it := range in {
		i, ok := idx[it.Name]
		if !ok {
			i = len(out)
			idx[it.Name] = i
			out = append(out, model.Interface{Name: it.Name})
		}
		for _, v := range it.SegmentationIDs {
			if err := model.CheckVLAN(v); err != nil {
				return nil, err
			}
			if !slices.Contains(out[i].SegmentationIDs, v) {
				out[i].SegmentationIDs = append(out[i].SegmentationIDs, v)
			}
		}
	}
	return out, nil
}

func formatVLANs(v []int) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

func parseVLANs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("stored segmentation ids %q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

func (s *sqlStore) CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error) {
	if gw.ID == "" {
		gw.ID = uuid.NewString()
	}
	devs := make([]model.Device, len(gw.Devices))
	for i, d := range gw.Devices {
		ifs, err := normalizeInterfaces(d.Interfaces)
		if err != nil {
			return model.Gateway{}, err
		}
		devs[i] = model.Device{ID: d.ID, Name: d.Name, Interfaces: ifs}
		if devs[i].ID == "" {
			devs[i].ID = uuid.NewString()
		}
	}
	gw.Devices = devs
	gw.RevisionNumber = 1
	// On PostgreSQL the insert is one statement, the write's first: sent
	// with those of the writes next to it.
	var first *statement
	if s.d == dialectPostgres {
		first = gatewayInsert(gw)
	}
	_, err := s.writeFirst(ctx, first, func(w *wtx) error {
		if err := insertGateway(ctx, w, gw, first); err != nil {
			return err
		}
		w.change(KindGateway, gw.ID, OpCreate)
		w.putGateway(gw)
		return nil
	})
	if err != nil {
		return model.Gateway{}, err
	}
	return gw, nil
}

func gatewayExists(id string) error {
	return model.NewFault(model.ErrConflict, "L2GatewayExists", "L2 Gateway %s already exists.", id)
}

func gatewayDeviceExists(id string) error {
	return model.NewFault(model.ErrConflict, "L2GatewayDeviceExists", "L2 Gateway Device %s already exists.", id)
}

const insertGW = `INSERT INTO gateways (id, name, tenant_id, revision_number) VALUES ($1, $2, $3, $4)`

// gatewayInsert is the statement that inserts gw with its devices and
// interfaces on PostgreSQL: one statement (data-modifying WITH; the
// foreign keys are checked at its end), a round trip instead of one per
// row.
func gatewayInsert(gw model.Gateway) *statement {
	var q strings.Builder
	args := []any{gw.ID, gw.Name, gw.TenantID, gw.RevisionNumber}
	q.WriteString(`WITH g AS (` + insertGW + `)`)
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	for i, d := range gw.Devices {
		fmt.Fprintf(&q, `, d%d AS (INSERT INTO gateway_devices (id, gateway_id, position, name) VALUES (%s, $1, %s, %s))`, i, arg(d.ID), arg(i), arg(d.Name))
		if len(d.Interfaces) == 0 {
			continue
		}
		fmt.Fprintf(&q, `, i%d AS (INSERT INTO gateway_interfaces (device_id, position, name, segmentation_ids) VALUES `, i)
		dev := arg(d.ID)
		for j, it := range d.Interfaces {
			if j > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, `(%s, %s, %s, %s)`, dev, arg(j), arg(it.Name), arg(formatVLANs(it.SegmentationIDs)))
		}
		q.WriteString(`)`)
	}
	q.WriteString(` SELECT 1`)
	return &statement{text: q.String(), args: args, scan: func(rows rowScanner) error {
		for rows.Next() {
		}
		return rows.Err()
	}}
}

// insertGateway inserts gw with its devices and interfaces: on PostgreSQL
// by running st, its gatewayInsert; SQLite, which has no data-modifying
// WITH and no round trips, takes a statement per row.
func insertGateway(ctx context.Context, w *wtx, gw model.Gateway, st *statement) error {
	if st != nil {
		err := w.run(ctx, st)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case isUniqueViolation(err) && errors.As(err, &pe) && pe.TableName == "gateway_devices":
			for _, d := range gw.Devices {
				if strings.Contains(pe.Detail, d.ID) {
					return gatewayDeviceExists(d.ID)
				}
			}
			return gatewayDeviceExists(pe.Detail)
		case isUniqueViolation(err):
			return gatewayExists(gw.ID)
		}
		return fmt.Errorf("create gateway: %w", err)
	}
	if _, err := w.exec(ctx, insertGW, gw.ID, gw.Name, gw.TenantID, gw.RevisionNumber); err != nil {
		if isUniqueViolation(err) {
			return gatewayExists(gw.ID)
		}
		return fmt.Errorf("create gateway: %w", err)
	}
	for i, d := range gw.Devices {
		if _, err := w.exec(ctx, `INSERT INTO gateway_devices (id, gateway_id, position, name) VALUES ($1, $2, $3, $4)`, d.ID, gw.ID, i, d.Name); err != nil {
			if isUniqueViolation(err) {
				return gatewayDeviceExists(d.ID)
			}
			return fmt.Errorf("create gateway device: %w", err)
		}
		if err := insertInterfaces(ctx, w, d); err != nil {
			return err
		}
	}
	return nil
}

func insertInterfaces(ctx context.Context, w *wtx, d model.Device) error {
	for j, it := range d.Interfaces {
		if _, err := w.exec(ctx, `INSERT INTO gateway_interfaces (device_id, position, name, segmentation_ids) VALUES ($1, $2, $3, $4)`,
			d.ID, j, it.Name, formatVLANs(it.SegmentationIDs)); err != nil {
			return fmt.Errorf("create gateway interface: %w", err)
		}
	}
	return nil
}

func (s *sqlStore) GetGateway(ctx context.Context, id string) (model.Gateway, error) {
	return byID(ctx, id, s.ListGateways, gatewayNotFound)
}

func (s *sqlStore) ListGateways(ctx context.Context, q Query) ([]model.Gateway, error) {
	if s.cache != nil {
		return s.cache.listGateways(ctx, s, q)
	}
	return listGateways(ctx, s.reader(), q)
}

// getGatewayTx reads one gateway inside a write transaction.
func getGatewayTx(ctx context.Context, w *wtx, id string) (model.Gateway, bool, error) {
	if w.gatewaysCached() {
		gws, err := w.s.cache.listGateways(ctx, w.s, Query{IDs: []string{id}})
		if err != nil {
			return model.Gateway{}, false, err
		}
		if len(gws) == 0 {
			return model.Gateway{}, false, nil
		}
		return gws[0], true, nil
	}
	gws, err := listGateways(ctx, w.db, Query{IDs: []string{id}})
	if err != nil || len(gws) == 0 {
		return model.Gateway{}, false, err
	}
	return gws[0], true, nil
}

func listGateways(ctx context.Context, d db, q Query) ([]model.Gateway, error) {
	var wh where
	wh.in("id", q.IDs)
	wh.in("name", q.Names)
	wh.in("tenant_id", q.TenantIDs)
	wh.page("id", q)
	filtered := len(wh.conds) > 0 || q.Limit > 0
	text := `SELECT id, name, tenant_id, revision_number FROM gateways` + wh.String() + wh.tail("id", q)
	rows, err := d.query(ctx, text, wh.args...)
	if err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	gws := []model.Gateway{}
	idx := map[string]int{}
	for rows.Next() {
		var g model.Gateway
		if err := rows.Scan(&g.ID, &g.Name, &g.TenantID, &g.RevisionNumber); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list gateways: %w", err)
		}
		idx[g.ID] = len(gws)
		gws = append(gws, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	if len(gws) == 0 {
		return gws, nil
	}
	dw := childrenOf(filtered, gws, "d.gateway_id", func(g model.Gateway) string { return g.ID })
	rows, err = d.query(ctx, `SELECT d.gateway_id, d.id, d.name, COALESCE(i.name, ''), COALESCE(i.segmentation_ids, '')
		FROM gateway_devices d LEFT JOIN gateway_interfaces i ON i.device_id = d.id`+dw.String()+
		` ORDER BY d.gateway_id, d.position, i.position`, dw.args...)
	if err != nil {
		return nil, fmt.Errorf("list gateway devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var gid, did, dname, iname, vlans string
		if err := rows.Scan(&gid, &did, &dname, &iname, &vlans); err != nil {
			return nil, fmt.Errorf("list gateway devices: %w", err)
		}
		gi, ok := idx[gid]
		if !ok {
			continue
		}
		g := &gws[gi]
		if n := len(g.Devices); n == 0 || g.Devices[n-1].ID != did {
			g.Devices = append(g.Devices, model.Device{ID: did, Name: dname})
		}
		if iname == "" {
			continue
		}
		v, err := parseVLANs(vlans)
		if err != nil {
			return nil, err
		}
		dev := &g.Devices[len(g.Devices)-1]
		dev.Interfaces = append(dev.Interfaces, model.Interface{Name: iname, SegmentationIDs: v})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list gateway devices: %w", err)
	}
	return gws, nil
}

// deviceEdit finds the device of gw an edit names (404 when it has none
// of that name) and normalizes the interfaces the edit gives it.
func deviceEdit(gw *model.Gateway, du model.DeviceUpdate) (int, []model.Interface, error) {
	di := slices.IndexFunc(gw.Devices, func(d model.Device) bool { return d.Name == du.Name })
	if di < 0 {
		return 0, nil, deviceNotFound(du.Name)
	}
	ifs, err := normalizeInterfaces(du.Interfaces)
	if err != nil {
		return 0, nil, err
	}
	return di, ifs, nil
}

func (s *sqlStore) UpdateGateway(ctx context.Context, id string, u model.GatewayUpdate) (model.Gateway, error) {
	return s.editGateway(ctx, id, u.IfRevision, func(ctx context.Context, w *wtx, gw *model.Gateway) (bool, error) {
		if u.Name != nil {
			gw.Name = *u.Name
		}
		for _, du := range u.Devices {
			di, ifs, err := deviceEdit(gw, du)
			if err != nil {
				return false, err
			}
			dev := gw.Devices[di]
			if err := checkVLANMode(dev, ifs); err != nil {
				return false, err
			}
			var added []model.Interface
			for _, it := range ifs {
				if !slices.ContainsFunc(dev.Interfaces, func(o model.Interface) bool { return o.Name == it.Name }) {
					added = append(added, it)
				}
			}
			if err := checkSwitchPorts(ctx, w, dev.Name, added); err != nil {
				return false, err
			}
			gw.Devices[di].Interfaces = ifs
		}
		// A PUT bumps the revision even when it changes nothing, as it did
		// before the member actions shared this path.
		return u.Name != nil || len(u.Devices) > 0, nil
	})
}

// AddGatewayInterfaces adds interfaces to the devices of gateway id in one
// transaction (PUT /v2.0/l2-gateways/{id}/add_interfaces): a device the
// gateway lacks is added with them; an interface already there with the
// same VLANs is left as it is (so a retried request succeeds), with other
// VLANs it is a 409 L2GatewayInterfaceExists. Added interfaces keep the
// device's VLAN mode and must be ports of its switch when the switch has
// reported. The revision is bumped only when something was added.
func (s *sqlStore) AddGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error) {
	return s.editGateway(ctx, id, ifRevision, func(ctx context.Context, w *wtx, gw *model.Gateway) (bool, error) {
		changed := false
		for _, du := range devs {
			ifs, err := normalizeInterfaces(du.Interfaces)
			if err != nil {
				return false, err
			}
			di := slices.IndexFunc(gw.Devices, func(d model.Device) bool { return d.Name == du.Name })
			if di < 0 {
				if len(ifs) == 0 {
					return false, model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: device '%s' needs at least one interface.", du.Name)
				}
				if err := checkVLANMode(model.Device{Name: du.Name, Interfaces: ifs[:1]}, ifs); err != nil {
					return false, err
				}
				if err := checkSwitchPorts(ctx, w, du.Name, ifs); err != nil {
					return false, err
				}
				gw.Devices = append(gw.Devices, model.Device{Name: du.Name, Interfaces: ifs})
				changed = true
				continue
			}
			dev := gw.Devices[di]
			if err := checkVLANMode(dev, ifs); err != nil {
				return false, err
			}
			var added []model.Interface
			for _, it := range ifs {
				j := slices.IndexFunc(dev.Interfaces, func(o model.Interface) bool { return o.Name == it.Name })
				if j < 0 {
					added = append(added, it)
					continue
				}
				if !sameVLANs(dev.Interfaces[j].SegmentationIDs, it.SegmentationIDs) {
					return false, interfaceExists(dev.Name, dev.Interfaces[j])
				}
			}
			if len(added) == 0 {
				continue
			}
			if err := checkSwitchPorts(ctx, w, dev.Name, added); err != nil {
				return false, err
			}
			// Clip: the list may share its array with the cache.
			gw.Devices[di].Interfaces = append(slices.Clip(dev.Interfaces), added...)
			changed = true
		}
		return changed, nil
	})
}

// RemoveGatewayInterfaces removes interfaces from the devices of gateway
// id in one transaction (PUT /v2.0/l2-gateways/{id}/remove_interfaces). An
// interface the device lacks is a 404 naming it; VLANs, when given, must
// be the interface's (409 otherwise), so that a caller removes what it
// saw. A device left without interfaces is removed; removing every device
// is a 400, as a gateway without devices is refused at create.
func (s *sqlStore) RemoveGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error) {
	return s.editGateway(ctx, id, ifRevision, func(_ context.Context, _ *wtx, gw *model.Gateway) (bool, error) {
		for _, du := range devs {
			di, ifs, err := deviceEdit(gw, du)
			if err != nil {
				return false, err
			}
			dev := gw.Devices[di]
			keep := slices.Clone(dev.Interfaces)
			for _, it := range ifs {
				j := slices.IndexFunc(keep, func(o model.Interface) bool { return o.Name == it.Name })
				if j < 0 {
					return false, interfaceNotInGateway(dev.Name, it.Name)
				}
				if len(it.SegmentationIDs) > 0 && !sameVLANs(keep[j].SegmentationIDs, it.SegmentationIDs) {
					return false, interfaceMismatch(dev.Name, keep[j], it.SegmentationIDs)
				}
				keep = slices.Delete(keep, j, j+1)
			}
			if len(keep) == 0 {
				gw.Devices = slices.Delete(gw.Devices, di, di+1)
				continue
			}
			gw.Devices[di].Interfaces = keep
		}
		if len(gw.Devices) == 0 {
			return false, model.NewFault(model.ErrInvalid, "InvalidInput",
				"Invalid input for operation: removing these interfaces would leave L2 gateway %s with an empty device list; delete the gateway instead.", id)
		}
		return true, nil
	})
}

// editGateway is the read-merge-write of every gateway change, in one
// write transaction: read the gateway, check the revision constraint,
// let edit change a copy (reporting whether there is anything to write),
// then write it (writeGateway). Writes are serialised (SQLite's one
// writer, PostgreSQL's lock on the revision row), so no concurrent edit
// comes between the read and the write.
func (s *sqlStore) editGateway(ctx context.Context, id string, ifRevision *int64,
	edit func(ctx context.Context, w *wtx, gw *model.Gateway) (bool, error)) (model.Gateway, error) {
	var out model.Gateway
	_, err := s.write(ctx, func(w *wtx) error {
		old, ok, err := getGatewayTx(ctx, w, id)
		if err != nil {
			return err
		}
		if !ok {
			return gatewayNotFound(id)
		}
		if ifRevision != nil && *ifRevision != old.RevisionNumber {
			return revisionMismatch(*ifRevision, old.RevisionNumber)
		}
		// Work on a copy: cached values are shared. Edits replace a
		// device's interface list, never write into it.
		gw := old
		gw.Devices = slices.Clone(old.Devices)
		write, err := edit(ctx, w, &gw)
		if err != nil {
			return err
		}
		if !write {
			out = old
			return nil
		}
		if err := writeGateway(ctx, w, old, &gw); err != nil {
			return err
		}
		out = gw
		return nil
	})
	if err != nil {
		return model.Gateway{}, err
	}
	return out, nil
}

// writeGateway writes gw, read as old in this transaction: name, device
// rows added and removed, interface lists that differ; when the devices
// changed, it refuses a change that leaves a connection's interface
// unbridged and recomputes the connections' bindings. It bumps the
// revision and logs the change. New devices get their ids here.
func writeGateway(ctx context.Context, w *wtx, old model.Gateway, gw *model.Gateway) error {
	id := gw.ID
	if gw.Name != old.Name {
		if _, err := w.exec(ctx, `UPDATE gateways SET name = $1 WHERE id = $2`, gw.Name, id); err != nil {
			return fmt.Errorf("update gateway: %w", err)
		}
	}
	devicesChanged := false
	for _, od := range old.Devices {
		if !slices.ContainsFunc(gw.Devices, func(d model.Device) bool { return d.ID == od.ID }) {
			if _, err := w.exec(ctx, `DELETE FROM gateway_devices WHERE id = $1`, od.ID); err != nil {
				return fmt.Errorf("remove gateway device: %w", err)
			}
			devicesChanged = true
		}
	}
	next := -1 // position of the next new device
	for i := range gw.Devices {
		d := &gw.Devices[i]
		if d.ID == "" {
			if next < 0 {
				if err := w.queryRow(ctx, `SELECT COALESCE(MAX(position), -1) + 1 FROM gateway_devices WHERE gateway_id = $1`, id).Scan(&next); err != nil {
					return fmt.Errorf("add gateway device: %w", err)
				}
			}
			d.ID = uuid.NewString()
			if _, err := w.exec(ctx, `INSERT INTO gateway_devices (id, gateway_id, position, name) VALUES ($1, $2, $3, $4)`, d.ID, id, next, d.Name); err != nil {
				return fmt.Errorf("add gateway device: %w", err)
			}
			next++
			if err := insertInterfaces(ctx, w, *d); err != nil {
				return err
			}
			devicesChanged = true
			continue
		}
		oi := slices.IndexFunc(old.Devices, func(o model.Device) bool { return o.ID == d.ID })
		if oi >= 0 && slices.EqualFunc(old.Devices[oi].Interfaces, d.Interfaces, func(a, b model.Interface) bool {
			return a.Name == b.Name && slices.Equal(a.SegmentationIDs, b.SegmentationIDs)
		}) {
			continue
		}
		if _, err := w.exec(ctx, `DELETE FROM gateway_interfaces WHERE device_id = $1`, d.ID); err != nil {
			return fmt.Errorf("update gateway: %w", err)
		}
		if err := insertInterfaces(ctx, w, *d); err != nil {
			return err
		}
		devicesChanged = true
	}
	if devicesChanged {
		conns, err := listConnections(ctx, w.db, Query{GatewayIDs: []string{id}})
		if err != nil {
			return err
		}
		var blind, names []string
		for _, c := range conns {
			if left := unbridged(*gw, c); len(left) > 0 {
				blind, names = append(blind, c.ID), left
			}
		}
		if len(blind) > 0 {
			return unbridgedUpdate(id, blind, names)
		}
		for _, c := range conns {
			if _, err := w.exec(ctx, `DELETE FROM connection_bindings WHERE connection_id = $1`, c.ID); err != nil {
				return fmt.Errorf("update gateway bindings: %w", err)
			}
			if err := insertBindings(ctx, w, *gw, c); err != nil {
				return err
			}
		}
	}
	gw.RevisionNumber = old.RevisionNumber + 1
	if _, err := w.exec(ctx, `UPDATE gateways SET revision_number = $1 WHERE id = $2`, gw.RevisionNumber, id); err != nil {
		return fmt.Errorf("update gateway revision: %w", err)
	}
	w.change(KindGateway, id, OpUpdate)
	w.putGateway(*gw)
	return nil
}

// checkVLANMode is the update rule that a device keeps its VLAN mode:
// interfaces with segmentation ids on a device that has them, none on one
// that has none.
func checkVLANMode(dev model.Device, ifs []model.Interface) error {
	hadVLANs := slices.ContainsFunc(dev.Interfaces, func(i model.Interface) bool { return len(i.SegmentationIDs) > 0 })
	for _, it := range ifs {
		has := len(it.SegmentationIDs) > 0
		if hadVLANs && !has {
			return model.NewFault(model.ErrInvalid, "L2GatewaySegmentationIDExists", "The segmentation id is already specified in existing gateway interfaces.")
		}
		if !hadVLANs && has {
			return model.NewFault(model.ErrInvalid, "L2GatewaySegmentationIDNotExists", "The segmentation id is not specified in existing gateway interfaces.")
		}
	}
	return nil
}

// checkSwitchPorts refuses interfaces new to device that are not ports of
// its switch, once the switch has reported its ports.
func checkSwitchPorts(ctx context.Context, w *wtx, device string, added []model.Interface) error {
	if len(added) == 0 {
		return nil
	}
	sw, known, err := getSwitchTx(ctx, w.db, device)
	if err != nil {
		return err
	}
	if !known || !sw.reported {
		return nil
	}
	for _, it := range added {
		if !slices.ContainsFunc(sw.Ports, func(p model.SwitchPort) bool { return p.Name == it.Name }) {
			return interfaceNotFound(it.Name)
		}
	}
	return nil
}

// sameVLANs reports whether a and b hold the same VLANs, in any order.
func sameVLANs(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

func interfaceExists(device string, it model.Interface) error {
	return model.NewFault(model.ErrConflict, "L2GatewayInterfaceExists",
		"Interface '%s' of device '%s' is already in the gateway with %s; remove it first to change its segmentation ids.",
		it.Name, device, describeVLANs(it.SegmentationIDs))
}

func interfaceMismatch(device string, it model.Interface, asked []int) error {
	return model.NewFault(model.ErrConflict, "L2GatewayInterfaceMismatch",
		"Interface '%s' of device '%s' has %s, not segmentation ids %s; nothing was removed.",
		it.Name, device, describeVLANs(it.SegmentationIDs), formatVLANs(asked))
}

func interfaceNotInGateway(device, name string) error {
	return model.NewFault(model.ErrNotFound, "L2GatewayInterfaceNotFound",
		"L2 Gateway interface '%s' not found on device '%s'.", name, device)
}

func describeVLANs(v []int) string {
	if len(v) == 0 {
		return "no segmentation id"
	}
	return "segmentation ids " + formatVLANs(v)
}

func (s *sqlStore) DeleteGateway(ctx context.Context, id string) error {
	del := s.gatewayDeletion(id)
	_, err := s.writeFirst(ctx, &del.st, func(w *wtx) error {
		if err := del.run(ctx, w); err != nil {
			return err
		}
		w.change(KindGateway, id, OpDelete)
		w.delGateway(id)
		return nil
	})
	return err
}

// gatewayDeletion is the statement that deletes a gateway no connection
// uses, as a write's first statement, and what it found once it ran.
type gatewayDeletion struct {
	id               string
	st               statement
	deleted, existed bool
}

func (s *sqlStore) gatewayDeletion(id string) *gatewayDeletion {
	g := &gatewayDeletion{id: id}
	const del = `DELETE FROM gateways WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM connections WHERE gateway_id = $1)`
	// SQLite: a row when it deleted; why it did not is read after.
	text := del + ` RETURNING 1, 1`
	if s.d == dialectPostgres {
		// Why, in the same statement: the outer SELECT sees the rows as
		// they were before the DELETE. Read after, it could see the first
		// statements of later writes, sent with this one (prefetch).
		text = `WITH d AS (` + del + ` RETURNING 1) SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM gateways WHERE id = $1)`
	}
	g.st = statement{text: text, args: []any{id}, scan: scanFlags(&g.deleted, &g.existed)}
	return g
}

// run deletes the gateway as w's first statement: not found, or in use,
// when it did not.
func (g *gatewayDeletion) run(ctx context.Context, w *wtx) error {
	unnote := w.unnote()
	if err := w.run(ctx, &g.st); err != nil {
		return fmt.Errorf("delete gateway: %w", err)
	}
	if g.deleted {
		return nil
	}
	unnote() // nothing deleted
	if w.s.d != dialectPostgres {
		if err := w.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM gateways WHERE id = $1)`, g.id).Scan(&g.existed); err != nil {
			return fmt.Errorf("delete gateway: %w", err)
		}
	}
	if !g.existed {
		return gatewayNotFound(g.id)
	}
	return model.NewFault(model.ErrInUse, "L2GatewayInUse", "L2 Gateway '%s' still has active mappings with one or more neutron networks.", g.id)
}

// errNoRows is sql.ErrNoRows, for errors.Is in callers of queryRow.
var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }

package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/l2gw/l2gw/internal/model"
)

func connectionNotFound() error {
	// The original's text, double space included (no id).
	return model.NewFault(model.ErrNotFound, "L2GatewayConnectionNotFound", "The connection  not found on the l2 gateway")
}

func connectionExists(c model.Connection) error {
	// The original formats its Python mapping dict.
	m := fmt.Sprintf("{'network_id': '%s', 'l2_gateway_id': '%s'", c.NetworkID, c.GatewayID)
	if c.SegmentationID != nil {
		m += fmt.Sprintf(", 'segmentation_id': '%d'", *c.SegmentationID)
	}
	m += "}"
	return model.NewFault(model.ErrConflict, "L2GatewayConnectionExists", "The specified mapping '%s' exists on network gateway '%s'.", m, c.GatewayID)
}

// portUUID names a physical port in messages: a stable UUID derived from
// switch and port (l2gw does not keep the switch's own OVSDB row UUIDs).
func portUUID(device, iface string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("l2gw-physical-port:"+device+"/"+iface)).String()
}

func duplicateSegmentationID(device, iface string) error {
	return model.NewFault(model.ErrConflict, "L2GatewayDuplicateSegmentationID",
		"Duplicate segmentation ID for the interface name=%s uuid=%s", iface, portUUID(device, iface))
}

// faulty reports whether a hardware_vtep fault status set means "not up".
func faulty(status []string) bool {
	for _, s := range status {
		if s != "" && !strings.EqualFold(s, "UP") {
			return true
		}
	}
	return false
}

func (s *sqlStore) CreateConnection(ctx context.Context, c model.Connection) (model.Connection, error) {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if c.SegmentationID != nil {
		v := *c.SegmentationID
		c.SegmentationID = &v
	}
	rd := connectionChecksStatement(s.d, c)
	_, err := s.writeFirst(ctx, &rd.st, func(w *wtx) error {
		if err := createConnection(ctx, w, c, rd); err != nil {
			return err
		}
		w.change(KindConnection, c.ID, OpCreate)
		w.putConnection(c)
		return nil
	})
	if err != nil {
		return model.Connection{}, err
	}
	return c, nil
}

// createConnection checks connection c in w's transaction, and inserts it.
func createConnection(ctx context.Context, w *wtx, c model.Connection, rd *connectionRead) error {
	// The gateway and what the checks need, in one statement: a round trip
	// each counts on PostgreSQL, where the same statement also inserts the
	// connection when every check passes.
	unnote := w.unnote()
	if err := w.run(ctx, &rd.st); err != nil {
		return fmt.Errorf("create connection: %w", err)
	}
	gw, gwFound, pre := rd.gw, rd.found, rd.pre
	if pre.inserted {
		return pre.boundAll(ctx, w, gw, c)
	}
	unnote() // the statement changed nothing
	// The checks in the original's order:
	// 1. network exists
	if !pre.netType.Valid {
		return networkNotFound(c.NetworkID)
	}
	// 2. default segmentation id against the gateway's VLAN mode
	isVLAN := gwFound && gw.HasSegmentationIDs()
	if isVLAN && c.SegmentationID != nil {
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation.")
	}
	if !isVLAN && c.SegmentationID == nil {
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: Segmentation id must be specified in create l2gateway connections.")
	}
	if c.SegmentationID != nil {
		if err := model.CheckVLAN(*c.SegmentationID); err != nil {
			return err
		}
	}
	// ... and no interface left without a VLAN.
	if names := unbridged(gw, c); len(names) > 0 {
		return unbridgedConnection(gw.ID, names)
	}
	// 3. duplicate gateway + network
	if pre.exists {
		return connectionExists(c)
	}
	// 4. gateway exists
	if !gwFound {
		return gatewayNotFound(c.GatewayID)
	}
	// 5. devices are reported switches, interfaces their ports, all up
	for i, d := range gw.Devices {
		if pre.devicesOK[i] {
			continue
		}
		if err := checkDeviceSlow(ctx, w, d); err != nil {
			return err
		}
	}
	// 6. the network is VXLAN
	if pre.netType.String != "vxlan" {
		return model.NewFault(model.ErrNotFound, "VxlanSegmentationIDNotFound", "vxlan segmentation id not found for the network '%s'", c.NetworkID)
	}
	// 7. no VLAN bound twice on one physical port (a UNIQUE index)
	return insertConnection(ctx, w, gw, c)
}

// connectionChecks is what a connection create reads before it decides.
type connectionChecks struct {
	netType   sql.NullString // the network's type; NULL: no such network
	exists    bool           // a connection of the gateway to the network exists
	devicesOK []bool         // per gateway device: reported, up, every interface an up port
	// On PostgreSQL: the connection was inserted, with bound of its
	// bindings (the rest were bound to other connections already).
	inserted bool
	bound    int
}

// connectionChecksStatement is the statement that reads, for connection
// c, the gateway (found or not) with its devices and interfaces, the
// network's type, whether the gateway is connected to the network already
// and, per device, whether it is a reported switch, up, with every
// interface an up port; a device that is not is looked at again by
// checkDeviceSlow for the exact refusal, with what it reads once it ran.
//
// On PostgreSQL the same statement inserts c and its bindings when every
// check passes on what it reads (one round trip for a connection create,
// in the batch every replica's writes wait for, and sent with the
// statements of the writes next to it: prefetch); when one does not, it
// changes nothing, and createConnection's checks find which.
//
// The gateway is read in the write's transaction, not taken from the cache:
// see wtx.gatewaysCached.
func connectionChecksStatement(d dialect, c model.Connection) *connectionRead {
	const checks = `WITH chk AS (SELECT n.network_type AS net_type,
		EXISTS (SELECT 1 FROM connections WHERE gateway_id = $2 AND network_id = $1) AS dup,
		g.id AS gid, g.name AS gname, g.tenant_id AS gtenant, g.revision_number AS grev,
		d.id AS did, d.name AS dname, i.name AS iname, i.segmentation_ids AS vlans,
		(SELECT s.reported AND s.fault_status = '[]' FROM switches s WHERE s.name = d.name) AS switch_ok,
		EXISTS (SELECT 1 FROM switch_ports p WHERE p.switch_name = d.name AND p.name = i.name AND p.fault_status = '[]') AS port_ok,
		d.position AS dpos, i.position AS ipos
	FROM (SELECT 1 AS one) o
	LEFT JOIN networks n ON n.id = $1
	LEFT JOIN gateways g ON g.id = $2
	LEFT JOIN gateway_devices d ON d.gateway_id = g.id
	LEFT JOIN gateway_interfaces i ON i.device_id = d.id)`
	const columns = `net_type, dup, gid, gname, gtenant, grev, did, dname, iname, vlans, switch_ok, port_ok`
	// Every check passes: the network is VXLAN and the gateway not on it
	// yet, every device a reported switch that is up, with interfaces that
	// are up ports, and the default VLAN ($5) given when no interface has
	// VLANs, not given when every one has; $6: a default VLAN given is in
	// range.
	const insertWhenPassed = `, ok AS (SELECT COALESCE(bool_and(COALESCE(
			net_type = 'vxlan' AND NOT dup AND gid IS NOT NULL AND did IS NOT NULL AND iname IS NOT NULL
			AND switch_ok AND port_ok AND CASE WHEN $5::integer IS NULL THEN vlans <> '' ELSE vlans = '' END,
		false)), false) AND $6::boolean AS ok FROM chk),
	c AS (INSERT INTO connections (id, gateway_id, network_id, tenant_id, segmentation_id)
		SELECT $3, $2, $1, $4, $5::integer FROM ok WHERE ok.ok),
	b AS (INSERT INTO connection_bindings (connection_id, device_name, interface_name, vlan)
		SELECT DISTINCT $3, chk.dname, chk.iname, v.vlan FROM ok, chk,
			unnest(CASE WHEN chk.vlans = '' THEN ARRAY[$5::integer] ELSE string_to_array(chk.vlans, ',')::integer[] END) AS v (vlan)
		WHERE ok.ok
		ON CONFLICT DO NOTHING RETURNING 1)
	SELECT ` + columns + `, (SELECT ok FROM ok), (SELECT count(*) FROM b) FROM chk ORDER BY dpos, ipos`
	rd := &connectionRead{}
	st := &rd.st
	st.scan = rd.scan
	if d == dialectPostgres {
		var seg any
		if c.SegmentationID != nil {
			seg = *c.SegmentationID
		}
		inRange := c.SegmentationID == nil || model.CheckVLAN(*c.SegmentationID) == nil
		st.text, st.args = checks+insertWhenPassed, []any{c.NetworkID, c.GatewayID, c.ID, c.TenantID, seg, inRange}
	} else {
		st.text, st.args = checks+` SELECT `+columns+`, false, 0 FROM chk ORDER BY dpos, ipos`, []any{c.NetworkID, c.GatewayID}
	}
	return rd
}

// connectionRead is the statement of connectionChecksStatement, and what it
// read once it ran.
type connectionRead struct {
	st    statement
	gw    model.Gateway
	found bool // the gateway
	pre   connectionChecks
}

func (rd *connectionRead) scan(rows rowScanner) error {
	rd.gw, rd.found, rd.pre = model.Gateway{}, false, connectionChecks{} // a write may run again
	gw, out := &rd.gw, &rd.pre
	for rows.Next() {
		var (
			gid, gname, tenant, did, dname, iname, vlans sql.NullString
			rev                                          sql.NullInt64
			switchOK                                     sql.NullBool
			portOK                                       bool
		)
		if err := rows.Scan(&out.netType, &out.exists, &gid, &gname, &tenant, &rev, &did, &dname, &iname, &vlans, &switchOK, &portOK, &out.inserted, &out.bound); err != nil {
			return err
		}
		if !gid.Valid {
			continue
		}
		if !rd.found {
			rd.found = true
			*gw = model.Gateway{ID: gid.String, Name: gname.String, TenantID: tenant.String, RevisionNumber: rev.Int64}
		}
		if !did.Valid {
			continue
		}
		if n := len(gw.Devices); n == 0 || gw.Devices[n-1].ID != did.String {
			gw.Devices = append(gw.Devices, model.Device{ID: did.String, Name: dname.String})
			// A device without interfaces is not OK here: checkDeviceSlow
			// says why.
			out.devicesOK = append(out.devicesOK, iname.Valid && switchOK.Valid && switchOK.Bool)
		}
		if !iname.Valid {
			continue
		}
		v, err := parseVLANs(vlans.String)
		if err != nil {
			return err
		}
		di := len(gw.Devices) - 1
		gw.Devices[di].Interfaces = append(gw.Devices[di].Interfaces, model.Interface{Name: iname.String, SegmentationIDs: v})
		out.devicesOK[di] = out.devicesOK[di] && portOK
	}
	return rows.Err()
}

// boundAll checks that the insert of connectionChecksStatement bound every
// VLAN of connection c: a triple bound by another connection is the
// conflict (the first in the gateway's order is named), and c is not
// created.
func (pre connectionChecks) boundAll(ctx context.Context, w *wtx, gw model.Gateway, c model.Connection) error {
	want := bindingsOf(gw, c)
	if pre.bound == len(want) {
		return nil
	}
	for _, b := range want {
		var holder string
		err := w.queryRow(ctx, `SELECT connection_id FROM connection_bindings WHERE device_name = $1 AND interface_name = $2 AND vlan = $3`, b.dev, b.iface, b.vlan).Scan(&holder)
		switch {
		case err == nil && holder != c.ID:
			return duplicateSegmentationID(b.dev, b.iface)
		case err != nil && !isNoRows(err):
			return fmt.Errorf("bind vlans of connection %s: %w", c.ID, err)
		}
	}
	return fmt.Errorf("bind vlans of connection %s: %d of %d bound, and none bound to another connection", c.ID, pre.bound, len(want))
}

// insertConnection inserts connection c of gateway gw with its VLAN
// bindings. On PostgreSQL, when the bindings fit one statement, the
// connection and its bindings go in one (its foreign key is checked at the
// statement's end, when the connection row is there).
func insertConnection(ctx context.Context, w *wtx, gw model.Gateway, c model.Connection) error {
	var seg any
	if c.SegmentationID != nil {
		seg = *c.SegmentationID
	}
	const insert = `INSERT INTO connections (id, gateway_id, network_id, tenant_id, segmentation_id) VALUES ($1, $2, $3, $4, $5)`
	if want := bindingsOf(gw, c); w.s.d == dialectPostgres && len(want) > 0 && len(want) <= bindingBatch {
		err := insertBindingRowsWith(ctx, w, `WITH c AS (`+insert+`) `, []any{c.GatewayID, c.NetworkID, c.TenantID, seg}, c.ID, want)
		if isUniqueViolation(err) {
			return connectionExists(c) // the bindings' conflicts are not errors (ON CONFLICT)
		}
		return err
	}
	if _, err := w.exec(ctx, insert, c.ID, c.GatewayID, c.NetworkID, c.TenantID, seg); err != nil {
		if isUniqueViolation(err) {
			return connectionExists(c)
		}
		return fmt.Errorf("create connection: %w", err)
	}
	return insertBindings(ctx, w, gw, c)
}

// checkDeviceSlow checks that d is a reported switch whose fault status is
// up and that each interface is an up port of it (networking-l2gw's
// _check_port_fault_status_and_switch_fault_status, same exceptions, in
// the same order), with one statement per interface: the statement of
// connectionChecksStatement answers the usual case, where all is well,
// and this finds which check fails.
func checkDeviceSlow(ctx context.Context, w *wtx, d model.Device) error {
	var reported bool
	var fault string
	if err := w.queryRow(ctx, `SELECT reported, fault_status FROM switches WHERE name = $1`, d.Name).Scan(&reported, &fault); err != nil {
		if isNoRows(err) {
			return deviceNotFound(d.Name)
		}
		return fmt.Errorf("check switch %s: %w", d.Name, err)
	}
	if !reported {
		return deviceNotFound(d.Name)
	}
	if fault != "[]" {
		status, err := parseList(fault)
		if err != nil {
			return err
		}
		if faulty(status) {
			return model.NewFault(model.ErrConflict, "L2GatewayPhysicalSwitchFaultStatus",
				"Physical Switch '%s' switch_fault_status is '%s'", d.Name, strings.Join(status, ","))
		}
	}
	for _, it := range d.Interfaces {
		if err := w.queryRow(ctx, `SELECT fault_status FROM switch_ports WHERE switch_name = $1 AND name = $2`, d.Name, it.Name).Scan(&fault); err != nil {
			if isNoRows(err) {
				return interfaceNotFound(it.Name)
			}
			return fmt.Errorf("check switch port %s/%s: %w", d.Name, it.Name, err)
		}
		if fault == "[]" {
			continue
		}
		status, err := parseList(fault)
		if err != nil {
			return err
		}
		if faulty(status) {
			return model.NewFault(model.ErrConflict, "L2GatewayPhysicalPortFaultStatus",
				"Physical Port '%s' in Physical switch '%s' port_fault_status is '%s'", it.Name, d.Name, strings.Join(status, ","))
		}
	}
	return nil
}

// unbridged lists, as "device/interface", the interfaces of gw that
// connection c would leave without a VLAN binding: those with no
// segmentation id when c has no default. The planner binds nothing on them,
// so the switch would show the connection in sync while those ports carry
// nothing; creates and updates that lead there are refused instead.
func unbridged(gw model.Gateway, c model.Connection) []string {
	if c.SegmentationID != nil {
		return nil
	}
	var out []string
	for _, d := range gw.Devices {
		for _, it := range d.Interfaces {
			if len(it.SegmentationIDs) == 0 {
				out = append(out, d.Name+"/"+it.Name)
			}
		}
	}
	return out
}

// unbridgedConnection refuses a connection to a gateway whose interfaces
// mix VLANs and none: no default applies, so names would stay unbound.
func unbridgedConnection(gatewayID string, names []string) error {
	return model.NewFault(model.ErrInvalid, "InvalidInput",
		"Invalid input for operation: interfaces without a segmentation id would stay unbridged: %s. "+
			"L2 gateway %s has segmentation ids on its other interfaces, so no default segmentation_id applies; "+
			"re-create the gateway with segmentation ids on every interface, or on none and give the connection a default segmentation_id.",
		listSome(names, "interface", "interfaces"), gatewayID)
}

// unbridgedUpdate refuses a gateway update after which connections without
// a default segmentation id would leave names unbound. Such connections
// predate the create check; an update keeps each device's VLAN mode, so
// deleting them is the way out.
func unbridgedUpdate(gatewayID string, conns, names []string) error {
	return model.NewFault(model.ErrInvalid, "InvalidInput",
		"Invalid input for operation: after this update, interfaces without a segmentation id would stay unbridged: %s. "+
			"L2 gateway %s has connections without a default segmentation_id (it has segmentation ids on other interfaces): %s; delete them first.",
		listSome(names, "interface", "interfaces"), gatewayID, listSome(conns, "connection", "connections"))
}

// binding is one (device, interface, VLAN) triple a connection binds.
type binding struct {
	dev, iface string
	vlan       int
}

// insertBindings records the (device, interface, VLAN) triples connection c
// binds on gateway gw, in one statement; a triple bound by another
// connection is a L2GatewayDuplicateSegmentationID conflict (the first such
// triple in the gateway's order is named).
func insertBindings(ctx context.Context, w *wtx, gw model.Gateway, c model.Connection) error {
	want := bindingsOf(gw, c)
	for start := 0; start < len(want); start += bindingBatch {
		if err := insertBindingRows(ctx, w, c.ID, want[start:min(start+bindingBatch, len(want))]); err != nil {
			return err
		}
	}
	return nil
}

// bindingsOf lists the (device, interface, VLAN) triples connection c binds
// on gateway gw, in the gateway's order, each once.
func bindingsOf(gw model.Gateway, c model.Connection) []binding {
	var want []binding
	for _, d := range gw.Devices {
		for _, it := range d.Interfaces {
			vlans := it.SegmentationIDs
			if len(vlans) == 0 {
				if c.SegmentationID == nil {
					continue
				}
				vlans = []int{*c.SegmentationID}
			}
			for _, v := range vlans {
				if k := (binding{d.Name, it.Name, v}); !slices.Contains(want, k) {
					want = append(want, k)
				}
			}
		}
	}
	return want
}

// bindingBatch is how many bindings one INSERT carries.
const bindingBatch = 100

func insertBindingRows(ctx context.Context, w *wtx, connID string, rows []binding) error {
	return insertBindingRowsWith(ctx, w, "", nil, connID, rows)
}

// insertBindingRowsWith is insertBindingRows with the statement prefixed
// by with (a PostgreSQL WITH clause), whose parameters are $1 (connID)
// and then withArgs.
func insertBindingRowsWith(ctx context.Context, w *wtx, with string, withArgs []any, connID string, rows []binding) error {
	var q strings.Builder
	q.WriteString(with + `INSERT INTO connection_bindings (connection_id, device_name, interface_name, vlan) VALUES `)
	args := make([]any, 0, 1+len(withArgs)+3*len(rows))
	args = append(args, connID)
	args = append(args, withArgs...)
	for i, b := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&q, "($1, $%d, $%d, $%d)", n+1, n+2, n+3)
		args = append(args, b.dev, b.iface, b.vlan)
	}
	if w.s.d == dialectSQLite {
		// A failing statement is undone alone: on a conflict, look for the
		// first triple already bound.
		_, err := w.exec(ctx, q.String(), args...)
		if err == nil || !isUniqueViolation(err) {
			if err != nil {
				return fmt.Errorf("bind vlans of connection %s: %w", connID, err)
			}
			return nil
		}
		for _, b := range rows {
			var one int
			err := w.queryRow(ctx, `SELECT 1 FROM connection_bindings WHERE device_name = $1 AND interface_name = $2 AND vlan = $3`, b.dev, b.iface, b.vlan).Scan(&one)
			if err == nil {
				return duplicateSegmentationID(b.dev, b.iface)
			}
			if !isNoRows(err) {
				return fmt.Errorf("bind vlans of connection %s: %w", connID, err)
			}
		}
		return fmt.Errorf("bind vlans of connection %s: unique violation on no known binding", connID)
	}
	// A triple already bound is skipped, not an error (which would abort
	// the whole transaction on PostgreSQL): what was not inserted is the
	// conflict.
	q.WriteString(` ON CONFLICT DO NOTHING RETURNING device_name, interface_name, vlan`)
	res, err := w.query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("bind vlans of connection %s: %w", connID, err)
	}
	defer res.Close()
	inserted := make(map[binding]bool, len(rows))
	for res.Next() {
		var b binding
		if err := res.Scan(&b.dev, &b.iface, &b.vlan); err != nil {
			return fmt.Errorf("bind vlans of connection %s: %w", connID, err)
		}
		inserted[b] = true
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("bind vlans of connection %s: %w", connID, err)
	}
	for _, b := range rows {
		if !inserted[b] {
			return duplicateSegmentationID(b.dev, b.iface)
		}
	}
	return nil
}

func (s *sqlStore) GetConnection(ctx context.Context, id string) (model.Connection, error) {
	return byID(ctx, id, s.ListConnections, func(string) error { return connectionNotFound() })
}

func (s *sqlStore) ListConnections(ctx context.Context, q Query) ([]model.Connection, error) {
	if s.cache != nil {
		return s.cache.listConnections(ctx, s, q)
	}
	return listConnections(ctx, s.reader(), q)
}

func listConnections(ctx context.Context, d db, q Query) ([]model.Connection, error) {
	var wh where
	wh.in("id", q.IDs)
	wh.in("tenant_id", q.TenantIDs)
	wh.in("network_id", q.NetworkIDs)
	wh.in("gateway_id", q.GatewayIDs)
	wh.page("id", q)
	rows, err := d.query(ctx, `SELECT id, gateway_id, network_id, tenant_id, segmentation_id FROM connections`+wh.String()+wh.tail("id", q), wh.args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	out := []model.Connection{}
	for rows.Next() {
		var c model.Connection
		var seg sql.NullInt64
		if err := rows.Scan(&c.ID, &c.GatewayID, &c.NetworkID, &c.TenantID, &seg); err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		if seg.Valid {
			v := int(seg.Int64)
			c.SegmentationID = &v
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return out, nil
}

func (s *sqlStore) DeleteConnection(ctx context.Context, id string) error {
	del := deletionByID("connections", id)
	_, err := s.writeFirst(ctx, &del.st, func(w *wtx) error {
		// The bindings go with it (ON DELETE CASCADE; SQLite runs with foreign_keys on).
		if err := del.run(ctx, w, connectionNotFound()); err != nil {
			return err
		}
		w.change(KindConnection, id, OpDelete)
		w.delConnection(id)
		return nil
	})
	return err
}

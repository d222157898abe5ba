package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/l2gw/l2gw/internal/model"
)

func portNotFound(id string) error {
	return model.NewFault(model.ErrNotFound, "PortNotFound", "Port %s could not be found.", id)
}

func macInUse(network, mac string) error {
	return model.NewFault(model.ErrConflict, "MacAddressInUse",
		"Unable to complete operation for network %s. The mac address %s is in use.", network, mac)
}

// randomMAC returns a MAC with OpenStack's fa:16:3e prefix.
func randomMAC() string {
	v := rand.Uint32()
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", byte(v>>16), byte(v>>8), byte(v))
}

func macTaken(ctx context.Context, w *wtx, network, mac string) (bool, error) {
	var one int
	err := w.queryRow(ctx, `SELECT 1 FROM ports WHERE network_id = $1 AND mac_address = $2`, network, mac).Scan(&one)
	if err == nil {
		return true, nil
	}
	if isNoRows(err) {
		return false, nil
	}
	return false, fmt.Errorf("check mac: %w", err)
}

func (s *sqlStore) CreatePorts(ctx context.Context, ports []model.Port) ([]model.Port, error) {
	ports = slices.Clone(ports)
	for i := range ports {
		p := &ports[i]
		if p.ID == "" {
			p.ID = uuid.NewString()
		}
		p.MACAddress = strings.ToLower(p.MACAddress)
		if p.CreatedAt.IsZero() {
			p.CreatedAt = now()
		}
		p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Microsecond)
		p.UpdatedAt = p.CreatedAt
	}
	// On PostgreSQL a port given its MAC is checked and inserted in one
	// statement: a round trip each counts there. A single one is the
	// write's first statement, sent with those of the writes next to it.
	checked := func(p model.Port) bool { return s.d == dialectPostgres && p.MACAddress != "" }
	var only *portInsertion
	var first *statement
	if len(ports) == 1 && checked(ports[0]) {
		only = checkedPortInsert(ports[0])
		first = &only.st
	}
	out := make([]model.Port, len(ports))
	_, err := s.writeFirst(ctx, first, func(w *wtx) error {
		known := map[string]bool{}
		for i, p := range ports {
			if checked(p) {
				pi := only
				if pi == nil {
					pi = checkedPortInsert(p)
				}
				if err := pi.run(ctx, w); err != nil {
					return err
				}
				w.change(KindPort, p.ID, OpCreate)
				out[i] = p
				continue
			}
			if p.MACAddress != "" || !known[p.NetworkID] {
				// The network and the MAC given in one read: a round trip
				// each counts on PostgreSQL.
				var netFound, taken bool
				if err := w.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM networks WHERE id = $1), EXISTS (SELECT 1 FROM ports WHERE network_id = $1 AND mac_address = $2)`,
					p.NetworkID, p.MACAddress).Scan(&netFound, &taken); err != nil {
					return fmt.Errorf("create port: %w", err)
				}
				if !netFound {
					return networkNotFound(p.NetworkID)
				}
				known[p.NetworkID] = true
				if taken && p.MACAddress != "" {
					return macInUse(p.NetworkID, p.MACAddress)
				}
			}
			if p.MACAddress == "" {
				for tries := 0; ; tries++ {
					p.MACAddress = randomMAC()
					taken, err := macTaken(ctx, w, p.NetworkID, p.MACAddress)
					if err != nil {
						return err
					}
					if !taken {
						break
					}
					if tries > 100 {
						return model.NewFault(model.ErrConflict, "MacAddressGenerationFailure", "Unable to generate unique mac on network %s.", p.NetworkID)
					}
				}
			}
			if err := insertPort(ctx, w, p); err != nil {
				return err
			}
			w.change(KindPort, p.ID, OpCreate)
			out[i] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertPort inserts p with its fixed IPs and address pairs: on
// PostgreSQL in one statement (data-modifying WITH; the foreign keys are
// checked at its end), on SQLite a statement per row.
func insertPort(ctx context.Context, w *wtx, p model.Port) error {
	lists := w.s.d == dialectPostgres && len(p.FixedIPs)+len(p.AllowedAddressPairs) > 0
	text, args := portInsert(p, lists, false)
	if _, err := w.exec(ctx, text, args...); err != nil {
		return portInsertFailed(p, err)
	}
	if lists {
		return nil
	}
	return insertPortLists(ctx, w, p)
}

// portInsert is the statement that inserts p, with its lists when lists
// is set (PostgreSQL). With checked (PostgreSQL), it inserts nothing unless
// p's network exists and p's MAC is free in it, and answers both.
func portInsert(p model.Port, lists, checked bool) (string, []any) {
	cols := `id, name, network_id, tenant_id, mac_address, host_id, device_owner, device_id, admin_state_up, interface_name, created_at, updated_at`
	values := `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12`
	args := []any{p.ID, p.Name, p.NetworkID, p.TenantID, p.MACAddress, p.HostID, p.DeviceOwner, p.DeviceID, p.AdminStateUp, p.InterfaceName,
		toMicros(p.CreatedAt), toMicros(p.UpdatedAt)}
	insert := `INSERT INTO ports (` + cols + `) VALUES (` + values + `)`
	text := insert
	if lists || checked {
		var q strings.Builder
		guard := "" // the lists' rows are inserted only with the port
		if checked {
			q.WriteString(`WITH ok AS (SELECT EXISTS (SELECT 1 FROM networks WHERE id = $3) AS net, ` +
				`NOT EXISTS (SELECT 1 FROM ports WHERE network_id = $3 AND mac_address = $5) AS free), ` +
				`p AS (INSERT INTO ports (` + cols + `) SELECT ` + values + ` FROM ok WHERE ok.net AND ok.free)`)
			guard = `, ok WHERE ok.net AND ok.free`
		} else {
			q.WriteString(`WITH p AS (` + insert + `)`)
		}
		// Rows of VALUES in a FROM: typed, as no column types them there.
		arg := func(v any, typ string) string {
			args = append(args, v)
			return "$" + strconv.Itoa(len(args)) + "::" + typ
		}
		list := func(name, table, cols string, n int, row func(i int) string) {
			if n == 0 {
				return
			}
			fmt.Fprintf(&q, `, %s AS (INSERT INTO %s (%s) SELECT v.* FROM (VALUES `, name, table, cols)
			for i := range n {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("($1::text, " + arg(i, "integer") + ", " + row(i) + ")")
			}
			q.WriteString(`) v` + guard + `)`)
		}
		list("f", "port_fixed_ips", "port_id, position, subnet_id, ip_address", len(p.FixedIPs), func(i int) string {
			return arg(p.FixedIPs[i].SubnetID, "text") + ", " + arg(p.FixedIPs[i].IPAddress, "text")
		})
		list("a", "port_address_pairs", "port_id, position, ip_address, mac_address", len(p.AllowedAddressPairs), func(i int) string {
			a := p.AllowedAddressPairs[i]
			return arg(a.IPAddress, "text") + ", " + arg(strings.ToLower(a.MACAddress), "text")
		})
		if checked {
			q.WriteString(` SELECT net, free FROM ok`)
		} else {
			q.WriteString(` SELECT 1`)
		}
		text = q.String()
	}
	return text, args
}

// portInsertFailed is the error of a statement of portInsert.
func portInsertFailed(p model.Port, err error) error {
	var pe *pgconn.PgError
	if isUniqueViolation(err) && (!errors.As(err, &pe) || pe.TableName == "ports") {
		return model.NewFault(model.ErrConflict, "PortExists", "Port %s already exists.", p.ID)
	}
	return fmt.Errorf("create port: %w", err)
}

// portInsertion is the statement of a port given its MAC on PostgreSQL
// (portInsert with its lists, checked), as a write's first statement, and
// what it answered once it ran.
type portInsertion struct {
	p                 model.Port
	st                statement
	netFound, macFree bool
}

func checkedPortInsert(p model.Port) *portInsertion {
	pi := &portInsertion{p: p}
	text, args := portInsert(p, len(p.FixedIPs)+len(p.AllowedAddressPairs) > 0, true)
	pi.st = statement{text: text, args: args, scan: scanFlags(&pi.netFound, &pi.macFree)}
	return pi
}

// run inserts the port as w's first statement.
func (pi *portInsertion) run(ctx context.Context, w *wtx) error {
	unnote := w.unnote()
	if err := w.run(ctx, &pi.st); err != nil {
		return portInsertFailed(pi.p, err)
	}
	if !pi.netFound || !pi.macFree {
		unnote() // nothing was inserted
		if !pi.netFound {
			return networkNotFound(pi.p.NetworkID)
		}
		return macInUse(pi.p.NetworkID, pi.p.MACAddress)
	}
	return nil
}

func insertPortLists(ctx context.Context, w *wtx, p model.Port) error {
	for i, f := range p.FixedIPs {
		if _, err := w.exec(ctx, `INSERT INTO port_fixed_ips (port_id, position, subnet_id, ip_address) VALUES ($1, $2, $3, $4)`,
			p.ID, i, f.SubnetID, f.IPAddress); err != nil {
			return fmt.Errorf("port fixed ip: %w", err)
		}
	}
	for i, a := range p.AllowedAddressPairs {
		if _, err := w.exec(ctx, `INSERT INTO port_address_pairs (port_id, position, ip_address, mac_address) VALUES ($1, $2, $3, $4)`,
			p.ID, i, a.IPAddress, strings.ToLower(a.MACAddress)); err != nil {
			return fmt.Errorf("port address pair: %w", err)
		}
	}
	return nil
}

func (s *sqlStore) GetPort(ctx context.Context, id string) (model.Port, error) {
	return byID(ctx, id, s.ListPorts, portNotFound)
}

func (s *sqlStore) ListPorts(ctx context.Context, q Query) ([]model.Port, error) {
	return listPorts(ctx, s.reader(), q)
}

func listPorts(ctx context.Context, d db, q Query) ([]model.Port, error) {
	var wh where
	wh.in("id", q.IDs)
	wh.in("name", q.Names)
	wh.in("tenant_id", q.TenantIDs)
	wh.in("network_id", q.NetworkIDs)
	wh.in("host_id", q.HostIDs)
	wh.page("id", q)
	filtered := len(wh.conds) > 0 || q.Limit > 0
	if filtered && d.s.d == dialectPostgres {
		return listPortsPostgres(ctx, d, wh, q)
	}
	rows, err := d.query(ctx, `SELECT `+portCols+` FROM ports`+wh.String()+wh.tail("id", q), wh.args...)
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	out := []model.Port{}
	idx := map[string]int{}
	for rows.Next() {
		p, err := scanPort(rows.Scan)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list ports: %w", err)
		}
		idx[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	sub := childrenOf(filtered, out, "port_id", func(p model.Port) string { return p.ID })
	if err := scanRows(ctx, d, `SELECT port_id, subnet_id, ip_address FROM port_fixed_ips`+sub.String()+` ORDER BY port_id, position`, sub.args, func(sc func(...any) error) error {
		var id string
		var f model.FixedIP
		if err := sc(&id, &f.SubnetID, &f.IPAddress); err != nil {
			return err
		}
		if i, ok := idx[id]; ok {
			out[i].FixedIPs = append(out[i].FixedIPs, f)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list port fixed ips: %w", err)
	}
	if err := scanRows(ctx, d, `SELECT port_id, ip_address, mac_address FROM port_address_pairs`+sub.String()+` ORDER BY port_id, position`, sub.args, func(sc func(...any) error) error {
		var id string
		var a model.AddressPair
		if err := sc(&id, &a.IPAddress, &a.MACAddress); err != nil {
			return err
		}
		if i, ok := idx[id]; ok {
			out[i].AllowedAddressPairs = append(out[i].AllowedAddressPairs, a)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list port address pairs: %w", err)
	}
	return out, nil
}

// portCols are the columns of a port's own row, in scanPort's order.
const portCols = `id, name, network_id, tenant_id, mac_address, host_id, device_owner, device_id, admin_state_up, interface_name, created_at, updated_at, status`

func scanPort(scan func(...any) error, extra ...any) (model.Port, error) {
	var p model.Port
	var c, u int64
	err := scan(append([]any{&p.ID, &p.Name, &p.NetworkID, &p.TenantID, &p.MACAddress, &p.HostID, &p.DeviceOwner, &p.DeviceID,
		&p.AdminStateUp, &p.InterfaceName, &c, &u, &p.Status}, extra...)...)
	p.CreatedAt, p.UpdatedAt = fromMicros(c), fromMicros(u)
	return p, err
}

// listPortsPostgres reads the ports a filtered query selects with their
// fixed IPs and address pairs in one statement: on PostgreSQL each
// statement is a round trip, and the plan feed reads the port of every
// port change (GetPort) between a commit and the switches' plans.
func listPortsPostgres(ctx context.Context, d db, wh where, q Query) ([]model.Port, error) {
	out := []model.Port{}
	err := scanRows(ctx, d, `SELECT `+portCols+`,
		(SELECT COALESCE(json_agg(json_build_array(f.subnet_id, f.ip_address) ORDER BY f.position), '[]') FROM port_fixed_ips f WHERE f.port_id = ports.id)::text,
		(SELECT COALESCE(json_agg(json_build_array(a.ip_address, a.mac_address) ORDER BY a.position), '[]') FROM port_address_pairs a WHERE a.port_id = ports.id)::text
		FROM ports`+wh.String()+wh.tail("id", q), wh.args, func(sc func(...any) error) error {
		var ips, pairs string
		p, err := scanPort(sc, &ips, &pairs)
		if err != nil {
			return err
		}
		var fs, as [][2]string
		if err := json.Unmarshal([]byte(ips), &fs); err != nil {
			return fmt.Errorf("fixed ips of port %s: %w", p.ID, err)
		}
		if err := json.Unmarshal([]byte(pairs), &as); err != nil {
			return fmt.Errorf("address pairs of port %s: %w", p.ID, err)
		}
		for _, f := range fs {
			p.FixedIPs = append(p.FixedIPs, model.FixedIP{SubnetID: f[0], IPAddress: f[1]})
		}
		for _, a := range as {
			p.AllowedAddressPairs = append(p.AllowedAddressPairs, model.AddressPair{IPAddress: a[0], MACAddress: a[1]})
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	return out, nil
}

// scanRows runs a query and calls fn with a Scan function for each row.
func scanRows(ctx context.Context, d db, text string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := d.query(ctx, text, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UpdatePort overwrites the mutable fields of the stored port p.ID: name,
// MAC (kept when empty), fixed IPs, binding host, device owner/id, admin
// state, allowed address pairs and interface name. The network stays.
func (s *sqlStore) UpdatePort(ctx context.Context, p model.Port) (model.Port, error) {
	var out model.Port
	_, err := s.write(ctx, func(w *wtx) error {
		cur, err := listPorts(ctx, w.db, Query{IDs: []string{p.ID}})
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			return portNotFound(p.ID)
		}
		o := cur[0]
		if p.MACAddress != "" {
			mac := strings.ToLower(p.MACAddress)
			if mac != o.MACAddress {
				taken, err := macTaken(ctx, w, o.NetworkID, mac)
				if err != nil {
					return err
				}
				if taken {
					return macInUse(o.NetworkID, mac)
				}
				o.MACAddress = mac
			}
		}
		o.Name, o.HostID, o.DeviceOwner, o.DeviceID, o.AdminStateUp, o.InterfaceName = p.Name, p.HostID, p.DeviceOwner, p.DeviceID, p.AdminStateUp, p.InterfaceName
		o.FixedIPs, o.AllowedAddressPairs = p.FixedIPs, nil
		for _, a := range p.AllowedAddressPairs {
			a.MACAddress = strings.ToLower(a.MACAddress)
			o.AllowedAddressPairs = append(o.AllowedAddressPairs, a)
		}
		o.UpdatedAt = now()
		if _, err := w.exec(ctx, `UPDATE ports SET name = $1, mac_address = $2, host_id = $3, device_owner = $4, device_id = $5, admin_state_up = $6, interface_name = $7, updated_at = $8 WHERE id = $9`,
			o.Name, o.MACAddress, o.HostID, o.DeviceOwner, o.DeviceID, o.AdminStateUp, o.InterfaceName, toMicros(o.UpdatedAt), o.ID); err != nil {
			if isUniqueViolation(err) {
				return macInUse(o.NetworkID, o.MACAddress)
			}
			return fmt.Errorf("update port: %w", err)
		}
		for _, t := range []string{"port_fixed_ips", "port_address_pairs"} {
			if _, err := w.exec(ctx, `DELETE FROM `+t+` WHERE port_id = $1`, o.ID); err != nil {
				return fmt.Errorf("update port: %w", err)
			}
		}
		if err := insertPortLists(ctx, w, o); err != nil {
			return err
		}
		w.change(KindPort, o.ID, OpUpdate)
		out = o
		return nil
	})
	if err != nil {
		return model.Port{}, err
	}
	return out, nil
}

func (s *sqlStore) DeletePort(ctx context.Context, id string) error {
	del := deletionByID("ports", id)
	_, err := s.writeFirst(ctx, &del.st, func(w *wtx) error {
		if err := del.run(ctx, w, portNotFound(id)); err != nil {
			return err
		}
		w.change(KindPort, id, OpDelete)
		return nil
	})
	return err
}

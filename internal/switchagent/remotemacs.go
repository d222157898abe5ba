package switchagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// The agent's view of Ucast_Macs_Remote, the one table that grows with
// the network.
//
// libovsdb's monitor sent every row the agent inserted straight back:
// ovsdb-server serialised each of a 10,000-port network's rows a second
// time and the agent decoded them by reflection (300-400 ms of CPU and
// ~12 MB of heap per 10,000 rows) only to learn what it had just written.
// So the table is monitored on the transaction connection instead
// (monitor_cond, with "select" leaving out inserts): the initial rows,
// deletes and modifications arrive, inserts never do. The rows the agent
// inserts are added from the transaction's reply, its updates and deletes
// on commit, both in the connection's reader before any later
// notification (txnConn.TransactThen), so the view follows the server's
// order.
//
// The price: a row another writer inserts is not seen until the view is
// rebuilt from a new monitor's initial rows, at every audit, every new
// session and every takeover of a switch from another agent (whose
// inserts were another writer's). A modification of a row the view does
// not hold (such an insert, then changed) asks for that rebuild at the
// next pass.

// Kinds of rows received from the monitor (remoteView.counts and the
// l2gw_switchagent_remote_mac_rows_total metric).
const (
	rowsInitial = iota
	rowsInsert
	rowsModify
	rowsDelete
	rowKinds
)

var rowKindNames = [rowKinds]string{"initial", "insert", "modify", "delete"}

// remoteColumns are the columns monitored, every column of the table.
var remoteColumns = []string{vtep.UcastMacsRemoteMACColumn, vtep.UcastMacsRemoteIpaddrColumn,
	vtep.UcastMacsRemoteLocatorColumn, vtep.UcastMacsRemoteLogicalSwitchColumn}

// rowKey is a remote MAC row's logical switch UUID and MAC, spelt as in
// the row (remoteByKey's lookup).
type rowKey struct{ ls, mac string }

// remoteView is a session's Ucast_Macs_Remote rows, indexed by UUID and by
// (logical switch, MAC). Rows are never modified once in the view: a
// change replaces the pointer, so readers may keep them.
type remoteView struct {
	mu   sync.RWMutex
	rows map[string]*vtep.UcastMacsRemote
	// byKey holds the first row of each (logical switch, MAC); dups all
	// the rows of the keys with more than one (duplicates another writer
	// made: rare), in the order they came. A slice per key was 0.4 MB of a
	// 10,000-row view.
	byKey map[rowKey]*vtep.UcastMacsRemote
	dups  map[rowKey][]*vtep.UcastMacsRemote
	monID string // the current monitor: other monitors' notifications are ignored
	seq   int    // monitors requested (ids)
	stale bool   // a notification the view could not apply: rebuild it

	counts [rowKinds]atomic.Uint64 // rows received from the monitor, by kind
	// counted, when set, is told the rows received, by kind.
	counted func(kind int, n int)
}

func newRemoteView(counted func(kind, n int)) *remoteView {
	return &remoteView{rows: map[string]*vtep.UcastMacsRemote{}, byKey: map[rowKey]*vtep.UcastMacsRemote{},
		dups: map[rowKey][]*vtep.UcastMacsRemote{}, counted: counted}
}

func (v *remoteView) count(kind, n int) {
	if n == 0 {
		return
	}
	v.counts[kind].Add(uint64(n))
	if v.counted != nil {
		v.counted(kind, n)
	}
}

// received returns the rows received from the monitor, by kind.
func (v *remoteView) received() [rowKinds]uint64 {
	var out [rowKinds]uint64
	for i := range out {
		out[i] = v.counts[i].Load()
	}
	return out
}

// snapshot returns a copy of the rows by UUID.
func (v *remoteView) snapshot() map[string]*vtep.UcastMacsRemote {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]*vtep.UcastMacsRemote, len(v.rows))
	for u, r := range v.rows {
		out[u] = r
	}
	return out
}

// byRowKey returns the rows of logical switch ls with exactly this MAC.
func (v *remoteView) byRowKey(ls, mac string) []*vtep.UcastMacsRemote {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k := rowKey{ls, mac}
	if rs, ok := v.dups[k]; ok {
		return slices.Clone(rs)
	}
	if r := v.byKey[k]; r != nil {
		return []*vtep.UcastMacsRemote{r}
	}
	return nil
}

// has reports whether the view holds row uuid.
func (v *remoteView) has(uuid string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, ok := v.rows[uuid]
	return ok
}

// needsRebuild reports whether a notification could not be applied.
func (v *remoteView) needsRebuild() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.stale
}

// put and drop change the view; under v.mu.
func (v *remoteView) put(r *vtep.UcastMacsRemote) (old *vtep.UcastMacsRemote) {
	old = v.rows[r.UUID]
	if old != nil {
		v.unindex(old)
	}
	v.rows[r.UUID] = r
	k := rowKey{r.LogicalSwitch, r.MAC}
	switch first := v.byKey[k]; {
	case first == nil:
		v.byKey[k] = r
	case v.dups[k] != nil:
		v.dups[k] = append(v.dups[k], r)
	default:
		v.dups[k] = []*vtep.UcastMacsRemote{first, r}
	}
	return old
}

func (v *remoteView) drop(uuid string) (old *vtep.UcastMacsRemote) {
	old = v.rows[uuid]
	if old != nil {
		delete(v.rows, uuid)
		v.unindex(old)
	}
	return old
}

func (v *remoteView) unindex(r *vtep.UcastMacsRemote) {
	k := rowKey{r.LogicalSwitch, r.MAC}
	rs, ok := v.dups[k]
	if !ok {
		if first := v.byKey[k]; first != nil && first.UUID == r.UUID {
			delete(v.byKey, k)
		}
		return
	}
	rs = slices.DeleteFunc(rs, func(x *vtep.UcastMacsRemote) bool { return x.UUID == r.UUID })
	switch len(rs) {
	case 0:
		delete(v.dups, k)
		delete(v.byKey, k)
	case 1:
		delete(v.dups, k)
		v.byKey[k] = rs[0]
	default:
		v.dups[k] = rs
		v.byKey[k] = rs[0]
	}
}

// remoteCols is a Ucast_Macs_Remote row or row diff as the monitor sends
// it (RFC 7047 §5.1 notation); absent columns are nil.
type remoteCols struct {
	MAC           *string  `json:"MAC"`
	Ipaddr        *string  `json:"ipaddr"`
	Locator       []string `json:"locator"`
	LogicalSwitch []string `json:"logical_switch"`
}

// rowUpdate2 is one row's part of an update2 (ovsdb-server's monitor_cond
// extension of RFC 7047): exactly one member; "delete" is null, so a row
// update with none of the others is a delete.
type rowUpdate2 struct {
	Initial *remoteCols `json:"initial"`
	Insert  *remoteCols `json:"insert"`
	Modify  *remoteCols `json:"modify"`
}

func decodeUUID(v []string) (string, error) {
	if len(v) != 2 || v[0] != "uuid" {
		return "", fmt.Errorf("want a UUID, got %q", v)
	}
	return v[1], nil
}

// applyTo sets r's columns that c holds. For this table's columns (each
// one atom) a modify's diff is the new value.
func (c *remoteCols) applyTo(r *vtep.UcastMacsRemote) error {
	if c.MAC != nil {
		r.MAC = *c.MAC
	}
	if c.Ipaddr != nil {
		r.Ipaddr = *c.Ipaddr
	}
	var err error
	if c.Locator != nil {
		if r.Locator, err = decodeUUID(c.Locator); err != nil {
			return fmt.Errorf("locator: %w", err)
		}
	}
	if c.LogicalSwitch != nil {
		if r.LogicalSwitch, err = decodeUUID(c.LogicalSwitch); err != nil {
			return fmt.Errorf("logical_switch: %w", err)
		}
	}
	return nil
}

// decodeUpdates2 decodes the Ucast_Macs_Remote part of a table-updates2.
func decodeUpdates2(raw json.RawMessage) (map[string]rowUpdate2, error) {
	var tus map[string]map[string]rowUpdate2
	if err := json.Unmarshal(raw, &tus); err != nil {
		return nil, fmt.Errorf("table updates: %w", err)
	}
	return tus[vtep.UcastMacsRemoteTable], nil
}

// monitor asks for a new monitor of the table on t and, when its reply
// (the initial rows) comes, rebuilds the view from it, in t's reader: the
// notifications after the reply are the new monitor's changes since.
// The previous monitor, if any, is cancelled then.
func (v *remoteView) monitor(ctx context.Context, t *txnConn) error {
	v.mu.Lock()
	v.seq++
	id := "umr-" + strconv.Itoa(v.seq)
	prev := v.monID
	v.mu.Unlock()
	enc := func(b []byte) ([]byte, error) {
		b = append(b, '[')
		b = appendString(b, t.db)
		b = append(b, ',')
		b = appendString(b, id)
		b = append(b, `,{`...)
		b = appendString(b, vtep.UcastMacsRemoteTable)
		b = append(b, `:[{"columns":[`...)
		for i, c := range remoteColumns {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		// Not "insert": the agent learns its own inserts from the
		// transaction's reply (see the top of this file).
		return append(b, `],"select":{"initial":true,"insert":false,"delete":true,"modify":true}}]}]`...), nil
	}
	hook := func(raw json.RawMessage) (any, error) {
		rus, err := decodeUpdates2(raw)
		if err != nil {
			return nil, err
		}
		rows := make(map[string]*vtep.UcastMacsRemote, len(rus))
		for u, ru := range rus {
			c := ru.Initial
			if c == nil {
				c = ru.Insert
			}
			if c == nil {
				return nil, fmt.Errorf("row %s: no initial value", u)
			}
			r := &vtep.UcastMacsRemote{UUID: u}
			if err := c.applyTo(r); err != nil {
				return nil, fmt.Errorf("row %s: %w", u, err)
			}
			rows[u] = r
		}
		v.mu.Lock()
		v.rows, v.byKey, v.dups, v.monID, v.stale = map[string]*vtep.UcastMacsRemote{}, map[rowKey]*vtep.UcastMacsRemote{},
			map[rowKey][]*vtep.UcastMacsRemote{}, id, false
		for _, r := range rows {
			v.put(r)
		}
		v.mu.Unlock()
		v.count(rowsInitial, len(rows))
		return nil, nil
	}
	if _, _, err := t.call(ctx, "monitor_cond", enc, hook, nil); err != nil {
		return fmt.Errorf("monitor %s: %w", vtep.UcastMacsRemoteTable, err)
	}
	if prev != "" {
		_, _, err := t.call(ctx, "monitor_cancel", func(b []byte) ([]byte, error) {
			return append(appendString(append(b, '['), prev), ']'), nil
		}, nil, nil)
		if err != nil {
			return fmt.Errorf("cancel monitor %s: %w", prev, err)
		}
	}
	return nil
}

// update applies an "update2" notification's params ([monitor id,
// table-updates2]) and calls event with every row change it made
// (old nil: added; new nil: deleted). Notifications of another monitor
// than the current one are ignored.
func (v *remoteView) update(params json.RawMessage, event func(old, new *vtep.UcastMacsRemote)) error {
	var p []json.RawMessage
	if err := json.Unmarshal(params, &p); err != nil || len(p) != 2 {
		return fmt.Errorf("update2: params %.80s: want [id, updates]", params)
	}
	var id string
	if err := json.Unmarshal(p[0], &id); err != nil {
		return fmt.Errorf("update2: monitor id %.40s: %w", p[0], err)
	}
	v.mu.RLock()
	current := id == v.monID
	v.mu.RUnlock()
	if !current {
		return nil
	}
	rus, err := decodeUpdates2(p[1])
	if err != nil {
		return fmt.Errorf("update2: %w", err)
	}
	var n [rowKinds]int
	v.mu.Lock()
	defer func() {
		v.mu.Unlock()
		for k, c := range n {
			v.count(k, c)
		}
	}()
	for u, ru := range rus {
		switch {
		case ru.Insert != nil || ru.Initial != nil:
			// Not asked for; a server that sends them anyway is followed.
			n[rowsInsert]++
			c := ru.Insert
			if c == nil {
				c = ru.Initial
			}
			r := &vtep.UcastMacsRemote{UUID: u}
			if err := c.applyTo(r); err != nil {
				return fmt.Errorf("update2: row %s: %w", u, err)
			}
			event(v.put(r), r)
		case ru.Modify != nil:
			n[rowsModify]++
			old := v.rows[u]
			if old == nil {
				// Inserted by another writer, not yet seen: its columns
				// are unknown until the view is rebuilt.
				v.stale = true
				continue
			}
			r := *old
			if err := ru.Modify.applyTo(&r); err != nil {
				return fmt.Errorf("update2: row %s: %w", u, err)
			}
			v.put(&r)
			event(old, &r)
		default:
			n[rowsDelete]++
			if old := v.drop(u); old != nil {
				event(old, nil)
			}
		}
	}
	return nil
}

// errUnresolved is a transaction's Ucast_Macs_Remote operation the view
// cannot follow (a reference to a row it does not know).
var errUnresolved = errors.New("operation not followed")

// applyTxn applies what a committed transaction of ops with results res
// wrote to the table: the rows inserted (with their new UUIDs, the named
// UUIDs they reference resolved from the results), updated and deleted.
// A transaction that failed (an error in any result) wrote nothing. An
// operation the view cannot follow marks it for a rebuild.
func (v *remoteView) applyTxn(sh txnShape, res txnResults) {
	if res.Len() < sh.n {
		return
	}
	for _, r := range res.all {
		if r.Error != "" {
			return
		}
	}
	named := map[string]string{}
	for _, x := range sh.rest {
		if x.op.Op == ovsdb.OperationInsert && x.op.UUIDName != "" {
			named[x.op.UUIDName] = res.UUID(x.i)
		}
	}
	ref := func(x any) (string, error) {
		u, ok := x.(ovsdb.UUID)
		if !ok {
			return "", fmt.Errorf("%w: reference %T", errUnresolved, x)
		}
		if real, ok := named[u.GoUUID]; ok {
			return real, nil
		}
		if !isUUID(u.GoUUID) {
			return "", fmt.Errorf("%w: named UUID %s", errUnresolved, u.GoUUID)
		}
		return u.GoUUID, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ins, rest := sh.ins, sh.rest
	for i := range sh.n {
		var err error
		switch {
		case len(ins) > 0 && ins[0].op == i:
			r := &vtep.UcastMacsRemote{UUID: res.UUID(i)}
			if err = ins[0].set(r, ref); err == nil {
				v.put(r)
			}
			ins = ins[1:]
		case len(rest) > 0 && rest[0].i == i:
			op := &rest[0].op
			rest = rest[1:]
			if op.Table != vtep.UcastMacsRemoteTable {
				continue
			}
			switch op.Op {
			case ovsdb.OperationInsert:
				r := &vtep.UcastMacsRemote{UUID: res.UUID(i)}
				if err = setRemoteCols(r, op.Row, ref); err == nil {
					v.put(r)
				}
			case ovsdb.OperationUpdate, ovsdb.OperationDelete:
				for _, old := range v.matching(op.Where) {
					if op.Op == ovsdb.OperationDelete {
						v.drop(old.UUID)
						continue
					}
					r := *old
					if err = setRemoteCols(&r, op.Row, ref); err != nil {
						break
					}
					v.put(&r)
				}
				if op.Op == ovsdb.OperationUpdate && !followed(op.Where) {
					err = fmt.Errorf("%w: where %v", errUnresolved, op.Where)
				}
			default:
				err = fmt.Errorf("%w: %s", errUnresolved, op.Op)
			}
		}
		if err != nil {
			v.stale = true
		}
	}
}

// remoteInsert is the row of a transaction's Ucast_Macs_Remote insert (its
// operation's index, its columns), kept for the view while the operations
// themselves, ~600 bytes each with their row maps, are let go once they
// are on the wire (agent.apply).
type remoteInsert struct {
	op        int
	mac, ip   string
	ls, locat ovsdb.UUID
	hasIP     bool
}

// remoteInserts takes the rows of the Ucast_Macs_Remote inserts of ops
// that hold the columns the diff writes and no other (the others keep
// their rows).
func remoteInserts(ops []ovsdb.Operation) []remoteInsert {
	var out []remoteInsert
	for i := range ops {
		op := &ops[i]
		if op.Op != ovsdb.OperationInsert || op.Table != vtep.UcastMacsRemoteTable {
			continue
		}
		r := remoteInsert{op: i}
		mac, ok1 := op.Row[vtep.UcastMacsRemoteMACColumn].(string)
		ls, ok2 := op.Row[vtep.UcastMacsRemoteLogicalSwitchColumn].(ovsdb.UUID)
		loc, ok3 := op.Row[vtep.UcastMacsRemoteLocatorColumn].(ovsdb.UUID)
		ip, hasIP := op.Row[vtep.UcastMacsRemoteIpaddrColumn]
		r.mac, r.ls, r.locat = mac, ls, loc
		if hasIP {
			r.ip, r.hasIP = ip.(string)
		}
		if !ok1 || !ok2 || !ok3 || hasIP != r.hasIP || len(op.Row) != 3+boolInt(hasIP) || op.UUIDName != "" {
			continue
		}
		if out == nil {
			out = make([]remoteInsert, 0, len(ops)-i)
		}
		out = append(out, r)
	}
	return out
}

// txnShape is what the agent needs of a transaction's operations once
// their results are back: how many there were, the rows of its remote MAC
// inserts (compact) and every other operation whole (in a bulk
// transaction: the locators, logical switch, flood row and bindings, a
// hundred or so), by index.
type txnShape struct {
	n    int
	ins  []remoteInsert
	rest []indexedOp
}

type indexedOp struct {
	i  int
	op ovsdb.Operation
}

func shapeOf(ops []ovsdb.Operation) txnShape {
	sh := txnShape{n: len(ops), ins: remoteInserts(ops)}
	j := 0
	for i := range ops {
		if j < len(sh.ins) && sh.ins[j].op == i {
			j++
			continue
		}
		sh.rest = append(sh.rest, indexedOp{i, ops[i]})
	}
	return sh
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// set sets the columns of u the insert wrote (setRemoteCols of its row).
func (r remoteInsert) set(u *vtep.UcastMacsRemote, ref func(any) (string, error)) error {
	var err error
	u.MAC = r.mac
	if r.hasIP {
		u.Ipaddr = r.ip
	}
	if u.LogicalSwitch, err = ref(r.ls); err != nil {
		return err
	}
	u.Locator, err = ref(r.locat)
	return err
}

// followed reports whether where is one the view can match exactly: one
// equality on _uuid or logical_switch (what the diff writes).
func followed(where []ovsdb.Condition) bool {
	if len(where) != 1 || where[0].Function != ovsdb.ConditionEqual {
		return false
	}
	_, ok := where[0].Value.(ovsdb.UUID)
	return ok && (where[0].Column == vtep.UUIDColumn || where[0].Column == vtep.UcastMacsRemoteLogicalSwitchColumn)
}

// matching returns the rows where selects when followed; otherwise none
// (and a delete the view cannot follow leaves rows the server deleted:
// the caller's check of followed marks the view stale). Under v.mu.
func (v *remoteView) matching(where []ovsdb.Condition) []*vtep.UcastMacsRemote {
	if !followed(where) {
		v.stale = true
		return nil
	}
	u := where[0].Value.(ovsdb.UUID).GoUUID
	if where[0].Column == vtep.UUIDColumn {
		if r := v.rows[u]; r != nil {
			return []*vtep.UcastMacsRemote{r}
		}
		return nil
	}
	var out []*vtep.UcastMacsRemote
	for _, r := range v.rows {
		if r.LogicalSwitch == u {
			out = append(out, r)
		}
	}
	return out
}

// setRemoteCols sets r's columns from an operation's row.
func setRemoteCols(r *vtep.UcastMacsRemote, row ovsdb.Row, ref func(any) (string, error)) error {
	for c, x := range row {
		var err error
		switch c {
		case vtep.UcastMacsRemoteMACColumn:
			r.MAC, err = atomString(x)
		case vtep.UcastMacsRemoteIpaddrColumn:
			r.Ipaddr, err = atomString(x)
		case vtep.UcastMacsRemoteLocatorColumn:
			r.Locator, err = ref(x)
		case vtep.UcastMacsRemoteLogicalSwitchColumn:
			r.LogicalSwitch, err = ref(x)
		default:
			err = fmt.Errorf("%w: column %s", errUnresolved, c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func atomString(x any) (string, error) {
	s, ok := x.(string)
	if !ok {
		return "", fmt.Errorf("%w: value %T", errUnresolved, x)
	}
	return s, nil
}

package switchagent

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// OwnerKey is the Logical_Switch other_config key marking l2gw's logical
// switches; its value is the agent's Config.Owner.
const OwnerKey = "l2gw-owner"

// DefaultOwner is the OwnerKey value used when Config.Owner is empty.
const DefaultOwner = "l2gw"

// rowRef names one row of one table.
type rowRef struct {
	table, uuid string
}

// change is the result of diffing a plan against the database: the
// operations of one transaction, the rows it deletes (to wait for), and the
// items that cannot be realised (reported as the sync error).
type change struct {
	ops      []ovsdb.Operation
	deleted  []rowRef
	problems []string

	// full reports whether every remote MAC was diffed (always when no
	// scope was given, or when the scope was dropped because the logical
	// switches changed). ls is the state of the logical switches the MAC
	// diff resolved against (see macScope). baseProblems are the problems
	// of everything but remote MACs; macProblems are those of the remote
	// MAC row keys diffed (problems holds both, sorted).
	full         bool
	ls           lsState
	baseProblems []string
	macProblems  map[macKey][]string
	// scopes are the scopes of the problems that have one, by text (remote
	// MAC problems are scoped by their logical switch: macProblems' keys).
	scopes map[string]model.SyncProblem
	// kept are the row keys diffed whose rows stay only because another
	// served switch's plan needs them, with the MAC spellings of those
	// rows other than the key's: a later scoped diff of the key must look
	// them up too.
	kept map[macKey][]string
}

// macScope restricts the remote MAC diff to some row keys: the caller knows
// that every other key is as the plan wants (it was diffed before against
// the same logical switches and neither the plan nor the database changed
// it since). lsPrint is the fingerprint (lsState.print) of the logical
// switches of that earlier diff: when they no longer resolve the same way,
// the scope is dropped and every key is diffed.
type macScope struct {
	keys map[macKey][]string // row key -> other spellings of the MAC seen in plans and rows
	// irregular lists the plan keys whose row key is not
	// macKey{key.LogicalSwitch, lower(key.MAC)} (plans from the planner have
	// none), by row key.
	irregular map[macKey][]planner.MACKey
	lsPrint   string
}

// rowKeyOf is the row key of a plan MAC.
func rowKeyOf(m planner.RemoteMAC) macKey {
	return macKey{m.LogicalSwitch, strings.ToLower(m.MAC)}
}

// diffPlan computes the minimal transaction that makes the part of the
// database owned by owner equal plan on the switch swUUID (whose ports the
// bindings are on; a switch missing from a has none). It is pure: no I/O.
func diffPlan(plan *planner.SwitchPlan, a *actual, swUUID, owner string) change {
	return diffPlanScoped(plan, a, swUUID, owner, nil)
}

// diffPlanScoped is diffPlan diffing only the remote MACs of scope (all when
// scope is nil or no longer applies; see macScope). With a scope that holds
// every key that is not as the plan wants it returns what diffPlan returns.
func diffPlanScoped(plan *planner.SwitchPlan, a *actual, swUUID, owner string, scope *macScope) change {
	return diffShared(plan, a, swUUID, owner, scope, sharing{})
}

// diffShared is diffPlanScoped for a switch that shares its database with
// other served switches (share.go): it writes and deletes only what share
// leaves to it.
func diffShared(plan *planner.SwitchPlan, a *actual, swUUID, owner string, scope *macScope, share sharing) change {
	d := differ{plan: plan, a: a, owner: owner, share: share, ref: map[string]ovsdb.UUID{}, locNew: map[string]ovsdb.UUID{}, setNew: map[string]ovsdb.UUID{},
		macProblems: map[macKey][]string{}}
	d.index()
	d.logicalSwitches()
	ls := d.lsState()
	if scope != nil && scope.lsPrint == ls.print() {
		d.scope = scope
	}
	d.remoteMACs()
	d.mcastRemotes()
	d.bindings(swUUID)
	d.deleteStaleSwitches()
	ops := make([]ovsdb.Operation, 0, len(d.locOps)+len(d.setOps)+len(d.lsOps)+len(d.rowOps)+len(d.portOps)+len(d.lsDelOps))
	ops = append(ops, d.locOps...)
	ops = append(ops, d.setOps...)
	ops = append(ops, d.lsOps...)
	ops = append(ops, d.rowOps...)
	ops = append(ops, d.portOps...)
	ops = append(ops, d.lsDelOps...)
	baseProblems := sortCompact(slices.Clone(d.problems))
	problems := slices.Clone(baseProblems)
	for _, ps := range d.macProblems {
		problems = append(problems, ps...)
	}
	return change{ops: ops, deleted: d.deleted, problems: sortCompact(problems),
		full: d.scope == nil, ls: ls, baseProblems: baseProblems, macProblems: d.macProblems, scopes: d.scopes, kept: d.kept}
}

// lsState is what the remote MAC diff of a key depends on of the logical
// switches: how the plan's names resolve (d.ref: a UUID or the named UUID
// of an insert), which names the plan holds, and which switches are ours.
type lsState struct {
	refs  map[string]string
	plan  []string
	ours  map[string]bool
	mine  map[string]bool // differ.mine
	share string          // sharing.print
}

func (d *differ) lsState() lsState {
	st := lsState{refs: make(map[string]string, len(d.ref)), plan: slices.Sorted(maps.Keys(d.plan.LogicalSwitches)), ours: maps.Clone(d.ours), mine: maps.Clone(d.mine), share: d.share.print}
	for name, u := range d.ref {
		st.refs[name] = u.GoUUID
	}
	return st
}

// print is the fingerprint macScope.lsPrint compares.
func (st lsState) print() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(st.refs)) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(st.refs[name])
		b.WriteByte(';')
	}
	b.WriteByte('|')
	for _, name := range st.plan {
		b.WriteString(name)
		b.WriteByte(';')
	}
	b.WriteByte('|')
	for _, u := range slices.Sorted(maps.Keys(st.ours)) {
		b.WriteString(u)
		b.WriteByte(';')
	}
	b.WriteByte('|')
	for _, u := range slices.Sorted(maps.Keys(st.mine)) {
		b.WriteString(u)
		b.WriteByte(';')
	}
	b.WriteByte('|')
	b.WriteString(st.share)
	return b.String()
}

// resolveLS records that the logical switch inserted as named has the UUID
// real and is ours, once the transaction committed, so that the next sync
// (which sees the real UUID) can stay incremental.
func (c *change) resolveLS(named, real string) {
	for name, u := range c.ls.refs {
		if u == named {
			c.ls.refs[name] = real
			c.ls.ours[real] = true
			c.ls.mine[real] = true
		}
	}
}

// differ holds one diff's indexes of the database and the operations it
// builds, by kind, in the order diffPlanScoped emits them: locators and
// locator sets first (rows below reference them by named UUID), then
// logical switches, MAC rows, bindings and last the deletes of logical
// switches (after every row that references them).
type differ struct {
	plan  *planner.SwitchPlan
	a     *actual
	owner string
	share sharing

	lsByName map[string]*vtep.LogicalSwitch
	ours     map[string]bool       // our LS UUIDs
	mine     map[string]bool       // our LS UUIDs whose rows this diff may write or delete
	ref      map[string]ovsdb.UUID // plan LS name -> UUID or named UUID, when usable
	locByIP  map[string]string     // vxlan locator without tunnel key, by dst_ip
	setByKey map[string]string     // locator set UUID by sorted dst_ips
	locNew   map[string]ovsdb.UUID
	setNew   map[string]ovsdb.UUID
	keepLS   map[string]bool // our LS UUIDs the plan still wants
	scope    *macScope       // nil: diff every remote MAC

	macProblems map[macKey][]string
	scopes      map[string]model.SyncProblem // problem text -> its scope
	kept        map[macKey][]string          // see change.kept

	locOps, setOps, lsOps, rowOps, portOps, lsDelOps []ovsdb.Operation
	deleted                                          []rowRef
	problems                                         []string
}

func (d *differ) problem(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// scopedProblem is problem about the logical switch ls (a network's) or
// the physical port (either may be empty); connection status tells by it
// whose problem it is.
func (d *differ) scopedProblem(ls, port string, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	d.problems = append(d.problems, text)
	if d.scopes == nil {
		d.scopes = map[string]model.SyncProblem{}
	}
	d.scopes[text] = model.SyncProblem{LogicalSwitch: ls, Port: port, Error: text}
}

// index builds the lookups of the database the diff needs.
func (d *differ) index() {
	d.lsByName = map[string]*vtep.LogicalSwitch{}
	d.ours = map[string]bool{}
	d.mine = map[string]bool{}
	d.keepLS = map[string]bool{}
	for u, ls := range d.a.lswitches {
		d.lsByName[ls.Name] = ls
		if ls.OtherConfig[OwnerKey] == d.owner {
			d.ours[u] = true
			// Ours in the plan, or an orphan this switch cleans up.
			if _, ok := d.plan.LogicalSwitches[ls.Name]; ok || !d.share.noOrphans && !d.share.needsLS(ls.Name) {
				d.mine[u] = true
			}
		}
	}
	// An orphan still bound on another served switch's port stays until
	// that switch has removed the binding (deleting it would break
	// referential integrity and fail the whole transaction).
	for pu := range d.share.otherPorts {
		if p := d.a.ports[pu]; p != nil {
			for _, lu := range p.VLANBindings {
				if _, ok := d.plan.LogicalSwitches[d.lsName(lu)]; !ok {
					delete(d.mine, lu)
				}
			}
		}
	}
	d.locByIP = map[string]string{}
	for u, l := range d.a.locators {
		if l.EncapsulationType == planner.EncapVXLAN && l.TunnelKey == nil {
			d.locByIP[l.DstIP] = u
		}
	}
	// setByKey is built on first use (locatorSet): keying every set sorts
	// its dst_ips, which a sync with no flood change does not need.
}

// setKeyOf is the sorted dst_ips of a locator set whose locators are all
// plain VXLAN ones.
func (d *differ) setKeyOf(s *vtep.PhysicalLocatorSet) (string, bool) {
	ips := make([]string, 0, len(s.Locators))
	for _, lu := range s.Locators {
		l := d.a.locators[lu]
		if l == nil || l.EncapsulationType != planner.EncapVXLAN || l.TunnelKey != nil {
			return "", false
		}
		ips = append(ips, l.DstIP)
	}
	return setKey(ips), len(ips) > 0
}

func setKey(ips []string) string {
	s := slices.Clone(ips)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

func uuidCond(u string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: vtep.UUIDColumn, Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: u}}}
}

// del deletes row u of table (logical switches after everything else) and
// records it for the wait on the cache.
func (d *differ) del(table, u string) {
	op := ovsdb.Operation{Op: ovsdb.OperationDelete, Table: table, Where: uuidCond(u)}
	if table == vtep.LogicalSwitchTable {
		d.lsDelOps = append(d.lsDelOps, op)
	} else {
		d.rowOps = append(d.rowOps, op)
	}
	d.deleted = append(d.deleted, rowRef{table, u})
}

// locator returns the UUID of the plain VXLAN locator for ip, inserting one
// (once per transaction) when none exists. Only call it for a row that will
// reference the locator: an unreferenced insert would be garbage-collected.
func (d *differ) locator(ip string) ovsdb.UUID {
	if u, ok := d.locByIP[ip]; ok {
		return ovsdb.UUID{GoUUID: u}
	}
	if u, ok := d.locNew[ip]; ok {
		return u
	}
	name := fmt.Sprintf("loc%d", len(d.locNew))
	d.locOps = append(d.locOps, ovsdb.Operation{
		Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorTable, UUIDName: name,
		Row: ovsdb.Row{vtep.PhysicalLocatorEncapsulationTypeColumn: planner.EncapVXLAN, vtep.PhysicalLocatorDstIPColumn: ip},
	})
	u := ovsdb.UUID{GoUUID: name}
	d.locNew[ip] = u
	return u
}

// locatorSet returns an existing or new locator set holding exactly ips.
func (d *differ) locatorSet(ips []string) ovsdb.UUID {
	k := setKey(ips)
	if d.setByKey == nil {
		d.setByKey = make(map[string]string, len(d.a.locatorSets))
		for _, u := range slices.Sorted(maps.Keys(d.a.locatorSets)) {
			if sk, ok := d.setKeyOf(d.a.locatorSets[u]); ok {
				if _, dup := d.setByKey[sk]; !dup {
					d.setByKey[sk] = u
				}
			}
		}
	}
	if u, ok := d.setByKey[k]; ok {
		return ovsdb.UUID{GoUUID: u}
	}
	if u, ok := d.setNew[k]; ok {
		return u
	}
	locs := make([]any, 0, len(ips))
	for _, ip := range strings.Split(k, ",") {
		locs = append(locs, d.locator(ip))
	}
	name := fmt.Sprintf("set%d", len(d.setNew))
	d.setOps = append(d.setOps, ovsdb.Operation{
		Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorSetTable, UUIDName: name,
		Row: ovsdb.Row{vtep.PhysicalLocatorSetLocatorsColumn: ovsdb.OvsSet{GoSet: locs}},
	})
	u := ovsdb.UUID{GoUUID: name}
	d.setNew[k] = u
	return u
}

func optInt(v int) ovsdb.OvsSet {
	if v <= 0 {
		return ovsdb.OvsSet{GoSet: []any{}}
	}
	return ovsdb.OvsSet{GoSet: []any{v}}
}

func optString(v string) ovsdb.OvsSet {
	if v == "" {
		return ovsdb.OvsSet{GoSet: []any{}}
	}
	return ovsdb.OvsSet{GoSet: []any{v}}
}

// logicalSwitches inserts the plan's logical switches that do not exist
// (marked ours) and updates ours that differ; a name held by a foreign
// logical switch is a problem.
func (d *differ) logicalSwitches() {
	for i, name := range slices.Sorted(maps.Keys(d.plan.LogicalSwitches)) {
		want := d.plan.LogicalSwitches[name]
		if name == "" {
			d.problem("logical switch with an empty name")
			continue
		}
		cur := d.lsByName[name]
		shared := d.share.lowerHasLS(name) // an earlier switch writes it
		if cur == nil && shared {
			continue
		}
		if cur == nil {
			row := ovsdb.Row{
				vtep.LogicalSwitchNameColumn:        name,
				vtep.LogicalSwitchDescriptionColumn: want.Description,
				vtep.LogicalSwitchTunnelKeyColumn:   optInt(want.VNI),
				vtep.LogicalSwitchOtherConfigColumn: ovsdb.OvsMap{GoMap: map[any]any{OwnerKey: d.owner}},
			}
			if want.ReplicationMode != "" {
				row[vtep.LogicalSwitchReplicationModeColumn] = want.ReplicationMode
			}
			u := fmt.Sprintf("ls%d", i)
			d.lsOps = append(d.lsOps, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.LogicalSwitchTable, UUIDName: u, Row: row})
			d.ref[name] = ovsdb.UUID{GoUUID: u}
			continue
		}
		if !d.ours[cur.UUID] {
			d.scopedProblem(name, "", "logical switch %s exists and is not owned by %s", quote(name), d.owner)
			continue
		}
		d.ref[name] = ovsdb.UUID{GoUUID: cur.UUID}
		d.keepLS[cur.UUID] = true
		if shared {
			if o, mode := d.share.lowerLS(name); mode != want.ReplicationMode {
				d.problem("logical switch %s is shared with switch %s of the same database, whose replication mode %s applies, not %s",
					quote(name), quote(o), quote(mode), quote(want.ReplicationMode))
			}
			continue
		}
		row := ovsdb.Row{}
		if cur.TunnelKey == nil && want.VNI > 0 || cur.TunnelKey != nil && *cur.TunnelKey != want.VNI {
			row[vtep.LogicalSwitchTunnelKeyColumn] = optInt(want.VNI)
		}
		if cur.Description != want.Description {
			row[vtep.LogicalSwitchDescriptionColumn] = want.Description
		}
		curMode := ""
		if cur.ReplicationMode != nil {
			curMode = *cur.ReplicationMode
		}
		if curMode != want.ReplicationMode {
			row[vtep.LogicalSwitchReplicationModeColumn] = optString(want.ReplicationMode)
		}
		if len(row) > 0 {
			d.lsOps = append(d.lsOps, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: vtep.LogicalSwitchTable, Where: uuidCond(cur.UUID), Row: row})
		}
	}
}

// macKey identifies a MAC row by its logical switch name and lower-case MAC.
type macKey struct{ ls, mac string }

func (d *differ) lsName(u string) string {
	if ls := d.a.lswitches[u]; ls != nil {
		return ls.Name
	}
	return ""
}

func (d *differ) macProblem(k macKey, format string, args ...any) {
	d.macProblems[k] = append(d.macProblems[k], fmt.Sprintf(format, args...))
}

// mineLS returns the UUID of our logical switch named name whose rows
// this diff handles, or "".
func (d *differ) mineLS(name string) string {
	if ls := d.lsByName[name]; ls != nil && d.mine[ls.UUID] {
		return ls.UUID
	}
	return ""
}

// macWork is what the remote MAC diff walks: the rows of the row keys it
// diffs and the plan keys it diffs, each sorted so that the operations come
// out in the same order whatever the map order.
type macWork struct {
	rows map[macKey][]*vtep.UcastMacsRemote // rows in our logical switches by row key, sorted by UUID
	plan []planner.MACKey                   // plan keys to diff, sorted
	// owners counts the plan keys of each row key, or is cleanKey for a
	// row key that is exactly as the plan wants (full diff only: nil when
	// scoped).
	owners map[macKey]int
}

// cleanKey marks a row key of macWork.owners that needs no operation.
const cleanKey = -1

// remoteMACs diffs the remote MACs of d.scope (all of them when nil): it
// inserts, updates and deletes Ucast_Macs_Remote rows in our logical
// switches until each row key holds exactly the row the plan wants.
func (d *differ) remoteMACs() {
	var w macWork
	if d.scope == nil {
		w = d.allMACs()
	} else {
		w = d.scopedMACs()
	}
	for _, rows := range w.rows {
		if len(rows) > 1 {
			slices.SortFunc(rows, func(a, b *vtep.UcastMacsRemote) int { return strings.Compare(a.UUID, b.UUID) })
		}
	}
	slices.SortFunc(w.plan, comparePlanMAC)
	w.plan = slices.Compact(w.plan)
	// Mostly an insert each (a new network): no doubling of 10,000
	// operations of ~200 bytes on the way.
	d.rowOps = slices.Grow(d.rowOps, len(w.plan))
	seen := make(map[macKey]bool, len(w.plan))
	for _, pk := range w.plan {
		d.remoteMAC(pk, d.plan.RemoteMACs[pk], w.rows, seen)
	}
	d.deleteStaleMACs(w, seen)
}

// allMACs is the work of a full diff: every row in our logical switches
// and every plan key, except those exactly as wanted.
func (d *differ) allMACs() macWork {
	all := d.a.remoteRows()
	w := macWork{rows: make(map[macKey][]*vtep.UcastMacsRemote, len(all))}
	for _, r := range all {
		if d.mine[r.LogicalSwitch] {
			k := macKey{d.lsName(r.LogicalSwitch), strings.ToLower(r.MAC)}
			w.rows[k] = append(w.rows[k], r)
		}
	}
	// A plan key whose row exists exactly as wanted, alone under its row
	// key, yields no operation and no problem whatever the order, so only
	// the others are walked in sorted order (same operations, same order
	// as walking every key; a full sort of 10,000 keys per sync dominated
	// the agent's CPU).
	w.owners = make(map[macKey]int, len(d.plan.RemoteMACs))
	for pk, want := range d.plan.RemoteMACs {
		if len(d.share.lower) > 0 && d.share.lowerHasMAC(pk) {
			continue
		}
		w.owners[rowKeyOf(want)]++
	}
	for pk, want := range d.plan.RemoteMACs {
		if len(d.share.lower) > 0 && d.share.lowerHasMAC(pk) {
			d.remoteMAC(pk, want, nil, nil) // problems only: an earlier switch writes it
			continue
		}
		if k := rowKeyOf(want); w.owners[k] == 1 && d.asWanted(want, w.rows[k]) {
			w.owners[k] = cleanKey
			continue
		}
		w.plan = append(w.plan, pk)
	}
	return w
}

// asWanted reports whether rows is exactly the one row want asks for in a
// logical switch the diff can write.
func (d *differ) asWanted(want planner.RemoteMAC, rows []*vtep.UcastMacsRemote) bool {
	if len(rows) != 1 || want.MAC == "" || want.LocatorIP == "" {
		return false
	}
	r := rows[0]
	if r.MAC != want.MAC || r.Ipaddr != want.IP || d.locIP(r.Locator) != want.LocatorIP {
		return false
	}
	_, ok := d.ref[want.LogicalSwitch]
	return ok
}

// scopedMACs is the work of a scoped diff: the scope's row keys, their rows
// by indexed lookups and their plan keys by map lookups.
func (d *differ) scopedMACs() macWork {
	w := macWork{rows: make(map[macKey][]*vtep.UcastMacsRemote, len(d.scope.keys))}
	for k, spellings := range d.scope.keys {
		// Rows are looked up by exact MAC: the lower-case one, those the
		// scope saw in events, and those the plan wants.
		macs := append([]string{k.mac}, spellings...)
		for _, pk := range append([]planner.MACKey{{LogicalSwitch: k.ls, MAC: k.mac}}, d.scope.irregular[k]...) {
			if want, ok := d.plan.RemoteMACs[pk]; ok && rowKeyOf(want) == k {
				w.plan = append(w.plan, pk)
				macs = append(macs, want.MAC)
			}
		}
		lsu := d.mineLS(k.ls)
		if lsu == "" {
			continue
		}
		slices.Sort(macs)
		var rows []*vtep.UcastMacsRemote
		for _, mac := range slices.Compact(macs) {
			rows = append(rows, d.a.remoteByKey(lsu, mac)...)
		}
		if len(rows) > 0 {
			w.rows[k] = rows
		}
	}
	return w
}

// remoteMAC makes the row key of want hold exactly want, given its current
// rows (sorted by UUID), unless an earlier plan key with the same row key
// (in seen) already did.
func (d *differ) remoteMAC(pk planner.MACKey, want planner.RemoteMAC, rows map[macKey][]*vtep.UcastMacsRemote, seen map[macKey]bool) {
	k := rowKeyOf(want)
	ls, ok := d.ref[want.LogicalSwitch]
	if !ok {
		if _, inPlan := d.plan.LogicalSwitches[want.LogicalSwitch]; !inPlan {
			d.macProblem(k, "remote mac %s: logical switch %s not in the plan", want.MAC, quote(want.LogicalSwitch))
		}
		return
	}
	if want.MAC == "" || want.LocatorIP == "" {
		d.macProblem(k, "remote mac %s in %s: empty mac or locator", want.MAC, quote(want.LogicalSwitch))
		return
	}
	if len(d.share.lower) > 0 && d.share.lowerHasMAC(pk) {
		return // an earlier switch writes it
	}
	if seen[k] {
		return
	}
	seen[k] = true
	if len(rows[k]) == 0 {
		d.rowOps = append(d.rowOps, ovsdb.Operation{
			Op: ovsdb.OperationInsert, Table: vtep.UcastMacsRemoteTable,
			Row: ovsdb.Row{
				vtep.UcastMacsRemoteMACColumn: want.MAC, vtep.UcastMacsRemoteLogicalSwitchColumn: ls,
				vtep.UcastMacsRemoteLocatorColumn: d.locator(want.LocatorIP), vtep.UcastMacsRemoteIpaddrColumn: want.IP,
			},
		})
		return
	}
	d.updateRemoteMAC(want, rows[k])
}

// updateRemoteMAC keeps the row of rows closest to want, updates what
// differs of it and deletes the others (duplicates).
func (d *differ) updateRemoteMAC(want planner.RemoteMAC, rows []*vtep.UcastMacsRemote) {
	best := 0
	for i, r := range rows {
		if d.locIP(r.Locator) == want.LocatorIP && r.Ipaddr == want.IP {
			best = i
			break
		}
	}
	keep := rows[best]
	row := ovsdb.Row{}
	if d.locIP(keep.Locator) != want.LocatorIP {
		row[vtep.UcastMacsRemoteLocatorColumn] = d.locator(want.LocatorIP)
	}
	if keep.Ipaddr != want.IP {
		row[vtep.UcastMacsRemoteIpaddrColumn] = want.IP
	}
	if keep.MAC != want.MAC {
		row[vtep.UcastMacsRemoteMACColumn] = want.MAC
	}
	if len(row) > 0 {
		d.rowOps = append(d.rowOps, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: vtep.UcastMacsRemoteTable, Where: uuidCond(keep.UUID), Row: row})
	}
	for i, r := range rows {
		if i != best {
			d.del(vtep.UcastMacsRemoteTable, r.UUID)
		}
	}
}

// deleteStaleMACs deletes the rows of w's row keys that no plan key
// claimed (seen) and that are not clean (macWork.owners).
func (d *differ) deleteStaleMACs(w macWork, seen map[macKey]bool) {
	var stale []macKey
	for k, rows := range w.rows {
		if seen[k] || w.owners[k] == cleanKey {
			continue
		}
		if d.neededElsewhere(k, rows) {
			for _, r := range rows {
				if r.MAC != k.mac {
					if d.kept == nil {
						d.kept = map[macKey][]string{}
					}
					d.kept[k] = append(d.kept[k], r.MAC)
				}
			}
			continue
		}
		stale = append(stale, k)
	}
	slices.SortFunc(stale, compareRowMAC)
	// Every row in one of our logical switches the plan no longer holds is
	// stale: one delete by logical switch instead of one per row.
	gone := map[string]bool{}
	for _, k := range stale {
		for _, r := range w.rows[k] {
			if d.keepLS[r.LogicalSwitch] {
				d.del(vtep.UcastMacsRemoteTable, r.UUID)
				continue
			}
			if !gone[r.LogicalSwitch] {
				gone[r.LogicalSwitch] = true
				d.rowOps = append(d.rowOps, ovsdb.Operation{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable,
					Where: []ovsdb.Condition{{Column: vtep.UcastMacsRemoteLogicalSwitchColumn, Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: r.LogicalSwitch}}}})
			}
			d.deleted = append(d.deleted, rowRef{vtep.UcastMacsRemoteTable, r.UUID})
		}
	}
}

// neededElsewhere reports whether another served switch's plan holds the
// remote MAC of row key k (rows are its rows): it stays.
func (d *differ) neededElsewhere(k macKey, rows []*vtep.UcastMacsRemote) bool {
	if len(d.share.others) == 0 {
		return false
	}
	macs := make([]string, 0, len(rows))
	for _, r := range rows {
		macs = append(macs, r.MAC)
	}
	return d.share.needsMAC(k, macs...)
}

func comparePlanMAC(a, b planner.MACKey) int {
	if c := strings.Compare(a.LogicalSwitch, b.LogicalSwitch); c != 0 {
		return c
	}
	return strings.Compare(a.MAC, b.MAC)
}

func compareRowMAC(a, b macKey) int {
	if c := strings.Compare(a.ls, b.ls); c != 0 {
		return c
	}
	return strings.Compare(a.mac, b.mac)
}

// locIP is the dst_ip of locator u when it is a plain VXLAN one (no
// tunnel key), else "".
func (d *differ) locIP(u string) string {
	if l := d.a.locators[u]; l != nil && l.EncapsulationType == planner.EncapVXLAN && l.TunnelKey == nil {
		return l.DstIP
	}
	return ""
}

// mcastRemotes makes each plan logical switch's unknown-dst
// Mcast_Macs_Remote row point at a locator set holding exactly its flood
// locators, and deletes our other Mcast_Macs_Remote rows.
func (d *differ) mcastRemotes() {
	cur := map[macKey][]*vtep.McastMacsRemote{}
	for _, r := range d.a.mcastRemote {
		if d.mine[r.LogicalSwitch] {
			k := macKey{d.lsName(r.LogicalSwitch), strings.ToLower(r.MAC)}
			cur[k] = append(cur[k], r)
		}
	}
	seen := map[macKey]bool{}
	for _, name := range slices.Sorted(maps.Keys(d.plan.McastRemotes)) {
		want := d.plan.McastRemotes[name]
		lsName := want.LogicalSwitch
		if lsName == "" {
			lsName = name
		}
		ls, ok := d.ref[lsName]
		if !ok {
			if _, inPlan := d.plan.LogicalSwitches[lsName]; !inPlan {
				d.scopedProblem(lsName, "", "mcast remote: logical switch %s not in the plan", quote(lsName))
			}
			continue
		}
		var ips []string
		for _, ip := range want.LocatorIPs {
			if ip != "" {
				ips = append(ips, ip)
			}
		}
		if len(ips) == 0 {
			continue // no row: a locator set needs at least one locator
		}
		k := macKey{lsName, planner.UnknownDst}
		seen[k] = true
		if d.share.lowerHasFlood(lsName) {
			continue // an earlier switch writes it
		}
		wantKey := setKey(ips)
		rows := cur[k]
		if len(rows) == 0 {
			d.rowOps = append(d.rowOps, ovsdb.Operation{
				Op: ovsdb.OperationInsert, Table: vtep.McastMacsRemoteTable,
				Row: ovsdb.Row{
					vtep.McastMacsRemoteMACColumn: planner.UnknownDst, vtep.McastMacsRemoteLogicalSwitchColumn: ls,
					vtep.McastMacsRemoteLocatorSetColumn: d.locatorSet(ips),
				},
			})
			continue
		}
		best := 0
		for i, r := range rows {
			if s := d.a.locatorSets[r.LocatorSet]; s != nil {
				if got, ok := d.setKeyOf(s); ok && got == wantKey {
					best = i
					break
				}
			}
		}
		keep := rows[best]
		var got string
		if s := d.a.locatorSets[keep.LocatorSet]; s != nil {
			got, _ = d.setKeyOf(s)
		}
		if got != wantKey {
			d.rowOps = append(d.rowOps, ovsdb.Operation{
				Op: ovsdb.OperationUpdate, Table: vtep.McastMacsRemoteTable, Where: uuidCond(keep.UUID),
				Row: ovsdb.Row{vtep.McastMacsRemoteLocatorSetColumn: d.locatorSet(ips)},
			})
		}
		for i, r := range rows {
			if i != best {
				d.del(vtep.McastMacsRemoteTable, r.UUID)
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(cur), compareRowMAC) {
		if seen[k] || k.mac == planner.UnknownDst && d.share.needsFlood(k.ls) {
			continue
		}
		for _, r := range cur[k] {
			d.del(vtep.McastMacsRemoteTable, r.UUID)
		}
	}
}

// bindings mutates Physical_Port vlan_bindings: on the ports of switch
// swUUID the (vlan, logical switch) pairs the plan wants are inserted, and
// on every port the pairs of our logical switches it does not want are
// deleted; pairs of foreign logical switches are never touched.
func (d *differ) bindings(swUUID string) {
	sw := d.a.switches[swUUID]
	onSwitch := map[string]bool{}
	portByName := map[string]*vtep.PhysicalPort{}
	if sw != nil {
		for _, pu := range sw.Ports {
			if p := d.a.ports[pu]; p != nil {
				onSwitch[pu] = true
				portByName[p.Name] = p
			}
		}
	}
	want := map[string]map[int]string{} // port name -> vlan -> LS name
	for k, ls := range d.plan.Bindings {
		if want[k.Port] == nil {
			want[k.Port] = map[int]string{}
		}
		want[k.Port][k.VLAN] = ls
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if portByName[name] == nil {
			d.scopedProblem("", name, "port %s not found on the switch", quote(name))
		}
	}
	portUUIDs := slices.Sorted(maps.Keys(d.a.ports))
	for _, pu := range portUUIDs {
		if d.share.otherPorts[pu] || d.share.noOrphans && !onSwitch[pu] {
			continue // another served switch's port, or one this switch leaves alone
		}
		p := d.a.ports[pu]
		var w map[int]string
		if onSwitch[pu] {
			w = want[p.Name]
		}
		ins := map[any]any{}
		del := map[any]any{}
		for _, vlan := range slices.Sorted(maps.Keys(w)) {
			lsName := w[vlan]
			if vlan < 0 || vlan > 4095 {
				d.scopedProblem(lsName, p.Name, "port %s: vlan %d out of range", quote(p.Name), vlan)
				continue
			}
			ref, ok := d.ref[lsName]
			if !ok {
				if _, inPlan := d.plan.LogicalSwitches[lsName]; !inPlan {
					d.scopedProblem(lsName, p.Name, "binding %s/%d: logical switch %s not in the plan", p.Name, vlan, quote(lsName))
				}
				continue
			}
			curLS, bound := p.VLANBindings[vlan]
			switch {
			case !bound:
				ins[vlan] = ref
			case curLS == ref.GoUUID:
			case d.ours[curLS]:
				del[vlan] = ovsdb.UUID{GoUUID: curLS}
				ins[vlan] = ref
			default:
				d.scopedProblem(lsName, p.Name, "binding %s/%d is held by logical switch %s not owned by %s", p.Name, vlan, quote(d.lsName(curLS)), d.owner)
			}
		}
		for vlan, curLS := range p.VLANBindings {
			if !d.ours[curLS] {
				continue
			}
			if _, wanted := w[vlan]; wanted {
				if ref, ok := d.ref[w[vlan]]; ok && (ref.GoUUID == curLS || del[vlan] != nil) {
					continue
				}
			}
			del[vlan] = ovsdb.UUID{GoUUID: curLS}
		}
		var muts []ovsdb.Mutation
		if len(del) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: vtep.PhysicalPortVLANBindingsColumn, Mutator: ovsdb.MutateOperationDelete, Value: ovsdb.OvsMap{GoMap: del}})
		}
		if len(ins) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: vtep.PhysicalPortVLANBindingsColumn, Mutator: ovsdb.MutateOperationInsert, Value: ovsdb.OvsMap{GoMap: ins}})
		}
		if len(muts) > 0 {
			d.portOps = append(d.portOps, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: vtep.PhysicalPortTable, Where: uuidCond(pu), Mutations: muts})
		}
	}
}

// deleteStaleSwitches deletes our logical switches the plan no longer
// wants. Their remote MACs and bindings are already deleted (they are not
// in the plan); the switch-learnt local MACs in them go too, or the delete
// would break referential integrity.
func (d *differ) deleteStaleSwitches() {
	routed := map[string]string{}
	for _, r := range d.a.routers {
		for _, ls := range r.SwitchBinding {
			routed[ls] = r.Name
		}
	}
	for _, u := range slices.Sorted(maps.Keys(d.ours)) {
		if d.keepLS[u] || !d.mine[u] {
			continue
		}
		if r, ok := routed[u]; ok {
			d.scopedProblem(d.lsName(u), "", "logical switch %s is still bound to logical router %s", quote(d.lsName(u)), quote(r))
			continue
		}
		for _, lu := range slices.Sorted(maps.Keys(d.a.ucastLocal)) {
			if d.a.ucastLocal[lu].LogicalSwitch == u {
				d.del(vtep.UcastMacsLocalTable, lu)
			}
		}
		for _, mu := range slices.Sorted(maps.Keys(d.a.mcastLocal)) {
			if d.a.mcastLocal[mu].LogicalSwitch == u {
				d.del(vtep.McastMacsLocalTable, mu)
			}
		}
		d.del(vtep.LogicalSwitchTable, u)
	}
}

package switchagent

import (
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// Incremental reconcile.
//
// A full diff walks every remote MAC of the plan and of the database; with
// 10,000 MACs that is tens of milliseconds, paid on every port change. So
// after a successful sync the worker remembers the plan it realised, and
// the next sync diffs only the remote MAC row keys that may differ from it:
// those the plan changed (marked as deltas are applied, or found by a map
// comparison when a new whole plan replaced the realised one, told apart by
// generation) and those whose rows other writers touched (cache events).
// Everything else of the plan (logical switches, bindings, flood rows) is
// small and always diffed whole.
//
// The full diff stays the safety net: it runs on the first sync of a
// session (connect, reconnect, an emptied database), on audit ticks, after
// any failed or skipped sync, when the logical switches resolve differently
// (macScope.lsPrint), after an event it cannot scope (a locator changed,
// the event queue overflowed), and when so many keys are dirty that the
// full diff is cheaper.
//
// Cache events of the agent's own transactions are dropped when they show
// exactly what the plan wants (or the delete the agent made), so its own
// writes do not cause a second diff of the keys they touched.

// maxMACEvents bounds a session's queue of unread Ucast_Macs_Remote events;
// beyond it the queue is dropped and the next sync diffs in full.
const maxMACEvents = 1 << 17

// macEvent is one cache event of a Ucast_Macs_Remote row.
type macEvent struct {
	uuid     string
	old, new *vtep.UcastMacsRemote
}

// addMACEvent queues a Ucast_Macs_Remote event for the worker.
func (s *session) addMACEvent(old, new *vtep.UcastMacsRemote) {
	e := macEvent{old: old, new: new}
	if new != nil {
		e.uuid = new.UUID
	} else if old != nil {
		e.uuid = old.UUID
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evFull {
		return
	}
	if len(s.macEvents) >= maxMACEvents {
		s.macEvents, s.evFull = nil, true
		return
	}
	s.macEvents = append(s.macEvents, e)
}

// markFull makes the next sync diff in full.
func (s *session) markFull() {
	s.evMu.Lock()
	s.macEvents, s.evFull = nil, true
	s.evMu.Unlock()
}

// takeMACEvents returns and clears the queued events, and whether the next
// sync must be full.
func (s *session) takeMACEvents() ([]macEvent, bool) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	evs, full := s.macEvents, s.evFull
	s.macEvents, s.evFull = nil, false
	return evs, full
}

// incState is the worker's memory between syncs (worker goroutine only).
//
// It tells plans and sessions apart by generation, not by pointer: a whole
// plan gets a new generation (workerPlan's Gen) when it replaces the
// pending one (planstream.Pending) and keeps it while deltas are applied
// to it in place (applyDelta marks what they change); every session gets a new
// session.gen when dialled. Generation 0 is unknown: such a plan is
// compared in full with the last one realised, as if it were new.
type incState struct {
	sessGen     uint64                               // session the state describes
	valid       bool                                 // base*, lsPrint and macProblems describe the database
	baseGen     uint64                               // generation of the plan realised by the last successful sync
	baseMACs    map[planner.MACKey]planner.RemoteMAC // its remote MACs (the plan's own map, not a copy)
	lsPrint     string
	macProblems map[macKey][]string
	dirty       map[macKey][]string
	kept        map[macKey][]string // spellings of rows kept for other switches (change.kept)
	written     [2]map[string]bool  // Ucast_Macs_Remote rows of the last two transactions: UUID -> deleted

	irregularGen uint64 // generation of the plan irregular indexes; 0: none
	irregular    map[macKey][]planner.MACKey
}

// samePlan reports whether a plan of generation gen is the one of
// generation known (the same whole plan, deltas applied since or not).
func samePlan(gen, known uint64) bool {
	return gen != 0 && gen == known
}

// invalidate makes the next sync full.
func (in *incState) invalidate() {
	in.valid = false
	in.dirty = nil
}

// begin starts a sync on session s: a new session starts from scratch.
func (in *incState) begin(s *session) {
	if in.sessGen != s.gen {
		*in = incState{sessGen: s.gen}
	}
}

// scope returns what the sync of plan must diff of the remote MACs, nil for
// all of them. evs are the queued cache events (read before act), evFull
// whether the session asked for a full diff.
func (in *incState) scope(plan *workerPlan, act *actual, evs []macEvent, evFull, audit bool, owner string) *macScope {
	if !samePlan(plan.Gen, in.irregularGen) {
		in.irregularGen, in.irregular = plan.Gen, nil
		for pk, want := range plan.Plan.RemoteMACs {
			if k := rowKeyOf(want); k.ls != pk.LogicalSwitch || k.mac != pk.MAC {
				if in.irregular == nil {
					in.irregular = map[macKey][]planner.MACKey{}
				}
				in.irregular[k] = append(in.irregular[k], pk)
			}
		}
	}
	if !in.valid || evFull || audit {
		in.dirty = nil
		return nil
	}
	if in.dirty == nil {
		in.dirty = map[macKey][]string{}
	}
	limit := max(256, len(plan.Plan.RemoteMACs)/4)
	mark := in.mark
	if !samePlan(plan.Gen, in.baseGen) {
		old, cur := in.baseMACs, plan.Plan.RemoteMACs
		for pk, want := range cur {
			if was, ok := old[pk]; !ok || was != want {
				mark(want.LogicalSwitch, want.MAC)
				if ok {
					mark(was.LogicalSwitch, was.MAC)
				}
				if len(in.dirty) > limit {
					in.dirty = nil
					return nil
				}
			}
		}
		for pk, was := range old {
			if _, ok := cur[pk]; !ok {
				mark(was.LogicalSwitch, was.MAC)
				if len(in.dirty) > limit {
					in.dirty = nil
					return nil
				}
			}
		}
	}
	for _, e := range evs {
		if in.ownWrite(e, plan, act, owner) {
			continue
		}
		for _, r := range []*vtep.UcastMacsRemote{e.old, e.new} {
			if r == nil {
				continue
			}
			// Rows of logical switches that are not ours are ignored by the
			// diff; a logical switch that became ours changes lsPrint.
			if ls := act.lswitches[r.LogicalSwitch]; ls != nil && ls.OtherConfig[OwnerKey] == owner {
				mark(ls.Name, r.MAC)
			}
		}
		if len(in.dirty) > limit {
			in.dirty = nil
			return nil
		}
	}
	if len(in.dirty) > limit {
		in.dirty = nil
		return nil
	}
	for k, sp := range in.dirty {
		for _, mac := range in.kept[k] {
			if !slices.Contains(sp, mac) {
				sp = append(sp, mac)
			}
		}
		in.dirty[k] = sp
	}
	return &macScope{keys: in.dirty, irregular: in.irregular, lsPrint: in.lsPrint}
}

// mark makes the remote MAC row key of (ls, mac) dirty.
func (in *incState) mark(ls, mac string) {
	if in.dirty == nil {
		in.dirty = map[macKey][]string{}
	}
	k := macKey{ls, strings.ToLower(mac)}
	sp := in.dirty[k]
	if mac != k.mac && !slices.Contains(sp, mac) {
		sp = append(sp, mac)
	}
	in.dirty[k] = sp
}

// markOthers marks dirty the remote MAC keys that d, a delta of another
// served switch's plan, changes: what this switch writes or keeps of them
// depends on that plan (share.go).
func (in *incState) markOthers(d planner.SwitchDelta) {
	for _, pk := range d.DeleteRemoteMACs {
		in.mark(pk.LogicalSwitch, pk.MAC)
	}
	for _, m := range d.UpsertRemoteMACs {
		in.mark(m.LogicalSwitch, m.MAC)
	}
}

// applyDelta applies d to the worker's plan in place (its generation stays)
// and marks the remote MAC keys it changes dirty, keeping the irregular
// index when it is the plan's.
func (in *incState) applyDelta(plan *workerPlan, d planner.SwitchDelta) {
	p := plan.Plan
	track := samePlan(plan.Gen, in.irregularGen)
	unindex := func(pk planner.MACKey, m planner.RemoteMAC) {
		in.mark(m.LogicalSwitch, m.MAC)
		if k := rowKeyOf(m); track && (k.ls != pk.LogicalSwitch || k.mac != pk.MAC) {
			in.irregular[k] = slices.DeleteFunc(in.irregular[k], func(x planner.MACKey) bool { return x == pk })
			if len(in.irregular[k]) == 0 {
				delete(in.irregular, k)
			}
		}
	}
	for _, pk := range d.DeleteRemoteMACs {
		if old, ok := p.RemoteMACs[pk]; ok {
			unindex(pk, old)
		}
	}
	for _, m := range d.UpsertRemoteMACs {
		pk := m.Key()
		if old, ok := p.RemoteMACs[pk]; ok {
			unindex(pk, old)
		}
		in.mark(m.LogicalSwitch, m.MAC)
		if k := rowKeyOf(m); track && (k.ls != pk.LogicalSwitch || k.mac != pk.MAC) {
			if in.irregular == nil {
				in.irregular = map[macKey][]planner.MACKey{}
			}
			in.irregular[k] = append(in.irregular[k], pk)
		}
	}
	p.Apply(d)
}

// ownWrite reports whether e is the echo of one of the agent's last
// transactions showing what the plan wants: a row it deleted, or a row it
// inserted or updated that now matches the plan exactly. A duplicate
// inserted by another writer has its own UUID and is not dropped.
func (in *incState) ownWrite(e macEvent, plan *workerPlan, act *actual, owner string) bool {
	deleted, ok := in.written[0][e.uuid]
	if !ok {
		if deleted, ok = in.written[1][e.uuid]; !ok {
			return false
		}
	}
	if e.new == nil || deleted {
		return e.new == nil && deleted
	}
	if e.old != nil && (e.old.MAC != e.new.MAC || e.old.LogicalSwitch != e.new.LogicalSwitch) {
		return false // the row left its key: that key needs a look
	}
	ls := act.lswitches[e.new.LogicalSwitch]
	if ls == nil || ls.OtherConfig[OwnerKey] != owner {
		return false
	}
	want, ok := plan.Plan.RemoteMACs[planner.MACKey{LogicalSwitch: ls.Name, MAC: e.new.MAC}]
	if !ok || want.LogicalSwitch != ls.Name || want.MAC != e.new.MAC || want.IP != e.new.Ipaddr {
		return false
	}
	l := act.locators[e.new.Locator]
	return l != nil && l.EncapsulationType == planner.EncapVXLAN && l.TunnelKey == nil && l.DstIP == want.LocatorIP
}

// done records the outcome of a sync of plan that computed ch with scope
// (nil: full) and ran its transaction: ok when it succeeded; written are
// the Ucast_Macs_Remote rows the transaction inserted or updated (false)
// or deleted (true), by UUID.
func (in *incState) done(plan *workerPlan, scope *macScope, ch change, ok bool, written map[string]bool) {
	if written != nil {
		in.written[1], in.written[0] = in.written[0], written
	}
	if !ok {
		in.invalidate()
		return
	}
	if ch.full || in.macProblems == nil {
		in.macProblems, in.kept = ch.macProblems, ch.kept
	} else {
		for k := range scope.keys {
			delete(in.macProblems, k)
			delete(in.kept, k)
		}
		for k, ps := range ch.macProblems {
			in.macProblems[k] = ps
		}
		for k, sp := range ch.kept {
			if in.kept == nil {
				in.kept = map[macKey][]string{}
			}
			in.kept[k] = sp
		}
	}
	in.valid, in.baseGen, in.baseMACs, in.lsPrint, in.dirty = true, plan.Gen, plan.Plan.RemoteMACs, ch.ls.print(), nil
}

// problems returns the sync's problems: ch's own ones and those of every
// remote MAC as far as known.
func (in *incState) problems(ch change) []string {
	if ch.full {
		return ch.problems
	}
	out := append([]string(nil), ch.baseProblems...)
	for _, ps := range in.macProblems {
		out = append(out, ps...)
	}
	return sortCompact(out)
}

func sortCompact(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

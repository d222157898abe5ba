package switchagent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// Fencing. With Config.Leases set, several agents may serve one switch and
// only the holder of the switch's lease (package lease) programs it. The
// lease alone cannot stop a holder that was paused (or cut off from the
// server) past its lease and then resumes with a transaction already
// built, so the switch itself carries the epoch: the new holder's first
// transaction writes it into Physical_Switch other_config:l2gw-epoch (a
// compare-and-set against the other_config it read, so an older holder's
// claim cannot overwrite a newer one), and every later transaction starts
// with a wait operation (RFC 7047 §5.2.6, timeout 0) that the row still
// holds that epoch. A deposed holder's transaction fails on the wait and
// changes nothing; the agent then stands by.
const (
	// EpochKey is the Physical_Switch other_config key holding the epoch of
	// the lease of the agent that programs the switch.
	EpochKey = "l2gw-epoch"
	// AgentKey holds that agent's name, for people reading the switch.
	AgentKey = "l2gw-agent"
)

// ErrFenced is the error of a transaction that failed on its fence: the
// switch carries another agent's epoch.
var ErrFenced = errors.New("transaction fenced: the switch carries a newer lease epoch, another agent programs it")

// errDeposed is a claim that found a newer epoch on the switch.
var errDeposed = errors.New("the switch carries a newer lease epoch")

// fenceOp is the wait that opens every transaction of the holder of epoch
// on the switch row swUUID named name.
func fenceOp(swUUID, name string, epoch int64) ovsdb.Operation {
	timeout := 0
	return ovsdb.Operation{
		Op: ovsdb.OperationWait, Table: vtep.PhysicalSwitchTable, Timeout: &timeout,
		Where: []ovsdb.Condition{
			{Column: vtep.UUIDColumn, Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: swUUID}},
			{Column: vtep.PhysicalSwitchOtherConfigColumn, Function: ovsdb.ConditionIncludes,
				Value: ovsdb.OvsMap{GoMap: map[any]any{EpochKey: strconv.FormatInt(epoch, 10)}}},
		},
		Columns: []string{vtep.PhysicalSwitchNameColumn},
		Until:   string(ovsdb.WaitConditionEqual),
		Rows:    []ovsdb.Row{{vtep.PhysicalSwitchNameColumn: name}},
	}
}

// switchEpoch is the epoch the switch carries (0: none).
func switchEpoch(other map[string]string) int64 {
	v, err := strconv.ParseInt(other[EpochKey], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// claim writes epoch into the switch row swUUID unless it already carries
// it: a compare-and-set of other_config against the value cur read from
// the cache. errDeposed when the switch carries a newer epoch.
func (a *Agent) claim(ctx context.Context, s *session, swUUID string, cur map[string]string, epoch int64) error {
	switch have := switchEpoch(cur); {
	case have == epoch:
		return nil
	case have > epoch:
		return fmt.Errorf("%w (%d, ours %d)", errDeposed, have, epoch)
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]string{}
	}
	next[EpochKey] = strconv.FormatInt(epoch, 10)
	next[AgentKey] = a.cfg.AgentName
	timeout := 0
	ops := []ovsdb.Operation{{
		Op: ovsdb.OperationWait, Table: vtep.PhysicalSwitchTable, Timeout: &timeout,
		Where:   uuidCond(swUUID),
		Columns: []string{vtep.PhysicalSwitchOtherConfigColumn},
		Until:   string(ovsdb.WaitConditionEqual),
		Rows:    []ovsdb.Row{{vtep.PhysicalSwitchOtherConfigColumn: ovsMap(cur)}},
	}, {
		Op: ovsdb.OperationUpdate, Table: vtep.PhysicalSwitchTable, Where: uuidCond(swUUID),
		Row: ovsdb.Row{vtep.PhysicalSwitchOtherConfigColumn: ovsMap(next)},
	}}
	res, err := s.txn.Transact(ctx, ops...)
	if err != nil {
		s.fail("transact: " + err.Error())
		return fmt.Errorf("write the lease epoch into the switch: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		// The row changed since the cache showed it: the next pass reads
		// it again.
		return fmt.Errorf("write the lease epoch into the switch: %w", err)
	}
	return nil
}

func ovsMap(m map[string]string) ovsdb.OvsMap {
	out := ovsdb.OvsMap{GoMap: make(map[any]any, len(m))}
	for k, v := range m {
		out.GoMap[k] = v
	}
	return out
}

// acting reports whether the agent programs sw now, and under which epoch
// (0 without elections). Taking the lease starts a new term: the switch
// is diffed in full and reported and its status sent afresh.
func (a *Agent) acting(sw *served) (int64, bool) {
	if sw.el == nil {
		return 0, true
	}
	w := &sw.w
	epoch, ok := sw.el.Held()
	switch {
	case ok && w.term != epoch:
		a.log.Info("programming the switch", "switch", sw.name, "epoch", epoch)
		w.term, w.claimed = epoch, false
		w.lastReport, w.lastStatus = nil, nil
		sw.reported.Store(false)
		w.inc.invalidate()
	case !ok && w.term != 0:
		a.log.Info("standing by: another agent programs the switch", "switch", sw.name, "epoch", w.term)
		w.term, w.claimed = 0, false
	}
	return epoch, ok
}

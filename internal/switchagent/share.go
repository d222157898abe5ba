package switchagent

import (
	"maps"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/planner"
)

// Several switches in one database.
//
// hardware_vtep keeps bindings per Physical_Port (so per switch) but
// logical switches, their remote MACs and their flood rows per database:
// two switches of one database connected to the same network share the
// network's Logical_Switch row and everything in it. An agent serving
// several switches of a database diffs each against its own plan, in name
// order, with a sharing that tells the diff what the other served
// switches' plans hold:
//
//   - A logical switch, remote MAC or flood row that a switch earlier in
//     the order also plans is written by that switch (the earlier plan
//     wins when two plans disagree, e.g. on the replication mode); the
//     later ones only resolve it.
//   - A row of ours that this switch's plan does not hold is deleted only
//     when no other served switch's plan holds it: the rows a network needs
//     in a database are the union of what each switch's plan needs.
//   - Logical switches no served plan holds (and our bindings on ports of
//     switches the agent does not serve) are cleaned up by one switch
//     only (the first active one), and only once every served switch has
//     its plan: until then a switch whose plan has not arrived could still
//     need them. One still bound on another served switch's port waits
//     until that switch has removed the binding.
//   - A switch whose diff does not run (no IPv4 tunnel IP) writes nothing,
//     but what its plan holds is kept.
//   - Bindings on the ports of the other served switches are theirs.
//
// The zero sharing is that of a switch served alone.
type sharing struct {
	// lower are the plans of the served switches diffed before this one.
	lower []*planner.SwitchPlan
	// others are the plans of every other served switch.
	others []*planner.SwitchPlan
	// noOrphans is set when this switch must not clean up what no served
	// plan holds.
	noOrphans bool
	// otherPorts are the Physical_Port UUIDs of the other served switches.
	otherPorts map[string]bool
	// print fingerprints the sharing for the incremental diff (see
	// lsState): which switches share, and the logical switches and flood
	// rows their plans hold. Changes to their remote MACs are tracked by
	// key instead (the agent marks them dirty).
	print string
}

func (s *sharing) lowerHasLS(name string) bool {
	for _, p := range s.lower {
		if _, ok := p.LogicalSwitches[name]; ok {
			return true
		}
	}
	return false
}

// lowerLS returns the switch that writes the logical switch name (the
// first earlier one planning it) and the replication mode it plans.
func (s *sharing) lowerLS(name string) (sw, mode string) {
	for _, p := range s.lower {
		if ls, ok := p.LogicalSwitches[name]; ok {
			return p.Switch, ls.ReplicationMode
		}
	}
	return "", ""
}

func (s *sharing) needsLS(name string) bool {
	for _, p := range s.others {
		if _, ok := p.LogicalSwitches[name]; ok {
			return true
		}
	}
	return false
}

func (s *sharing) lowerHasMAC(pk planner.MACKey) bool {
	for _, p := range s.lower {
		if _, ok := p.RemoteMACs[pk]; ok {
			return true
		}
	}
	return false
}

// needsMAC reports whether another plan holds a remote MAC of row key k
// under one of the spellings macs.
func (s *sharing) needsMAC(k macKey, macs ...string) bool {
	for _, p := range s.others {
		if _, ok := p.RemoteMACs[planner.MACKey{LogicalSwitch: k.ls, MAC: k.mac}]; ok {
			return true
		}
		for _, m := range macs {
			if _, ok := p.RemoteMACs[planner.MACKey{LogicalSwitch: k.ls, MAC: m}]; ok {
				return true
			}
		}
	}
	return false
}

func hasFlood(p *planner.SwitchPlan, ls string) bool {
	for name, m := range p.McastRemotes {
		l := m.LogicalSwitch
		if l == "" {
			l = name
		}
		if l != ls {
			continue
		}
		for _, ip := range m.LocatorIPs {
			if ip != "" {
				return true
			}
		}
	}
	return false
}

func (s *sharing) lowerHasFlood(ls string) bool {
	for _, p := range s.lower {
		if hasFlood(p, ls) {
			return true
		}
	}
	return false
}

func (s *sharing) needsFlood(ls string) bool {
	for _, p := range s.others {
		if hasFlood(p, ls) {
			return true
		}
	}
	return false
}

// sharedPlan is one served switch's part in newSharing: its name, plan
// (nil: not arrived) and ports, and whether its diff runs this pass.
type sharedPlan struct {
	name   string
	plan   *planner.SwitchPlan
	ports  []string
	active bool
}

// newSharing returns the sharing of each active switch of sws (sorted by
// name, found in the database), by name. allPlanned tells whether every
// served switch found in the database has its plan.
func newSharing(sws []sharedPlan, allPlanned bool) map[string]sharing {
	out := map[string]sharing{}
	first := true
	for i, me := range sws {
		if !me.active || me.plan == nil {
			continue
		}
		sh := sharing{noOrphans: !allPlanned || !first, otherPorts: map[string]bool{}}
		first = false
		var b strings.Builder
		for j, o := range sws {
			if j == i {
				continue
			}
			for _, pu := range o.ports {
				sh.otherPorts[pu] = true
			}
			if o.plan == nil {
				continue
			}
			sh.others = append(sh.others, o.plan)
			b.WriteString(o.name)
			if j < i && o.active {
				sh.lower = append(sh.lower, o.plan)
				b.WriteString("<")
			}
			b.WriteString(":")
			for _, ls := range slices.Sorted(maps.Keys(o.plan.LogicalSwitches)) {
				b.WriteString(ls)
				if hasFlood(o.plan, ls) {
					b.WriteString("+")
				}
				b.WriteString(",")
			}
			b.WriteString(";")
		}
		if sh.noOrphans {
			b.WriteString("!")
		}
		sh.print = b.String()
		out[me.name] = sh
	}
	return out
}

package switchagent

import (
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/model"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// actual is a read-only view of the monitored hardware_vtep tables, keyed by
// row UUID. The pointers come from the libovsdb cache (RowsShallow) and must
// never be modified.
type actual struct {
	switches    map[string]*vtep.PhysicalSwitch
	ports       map[string]*vtep.PhysicalPort
	lswitches   map[string]*vtep.LogicalSwitch
	locators    map[string]*vtep.PhysicalLocator
	locatorSets map[string]*vtep.PhysicalLocatorSet
	ucastRemote map[string]*vtep.UcastMacsRemote
	mcastRemote map[string]*vtep.McastMacsRemote
	ucastLocal  map[string]*vtep.UcastMacsLocal
	mcastLocal  map[string]*vtep.McastMacsLocal
	routers     map[string]*vtep.LogicalRouter

	// remote, when set, is the view ucastRemote is read from on first use
	// (remoteRows); remoteByKey uses its index instead of a copy of the
	// table.
	remote *remoteView
}

// remoteRows returns every Ucast_Macs_Remote row by UUID.
func (a *actual) remoteRows() map[string]*vtep.UcastMacsRemote {
	if a.ucastRemote == nil {
		if a.remote == nil {
			a.ucastRemote = map[string]*vtep.UcastMacsRemote{}
		} else {
			a.ucastRemote = a.remote.snapshot()
		}
	}
	return a.ucastRemote
}

// remoteByKey returns the Ucast_Macs_Remote rows in logical switch ls with
// exactly this MAC spelling.
func (a *actual) remoteByKey(ls, mac string) []*vtep.UcastMacsRemote {
	if a.remote == nil || a.ucastRemote != nil {
		var out []*vtep.UcastMacsRemote
		for _, r := range a.remoteRows() {
			if r.LogicalSwitch == ls && r.MAC == mac {
				out = append(out, r)
			}
		}
		return out
	}
	return a.remote.byRowKey(ls, mac)
}

// monitoredModels are the tables the agent's libovsdb client monitors (all
// columns). Ucast_Macs_Remote is not among them: the session monitors it
// itself (remotemacs.go).
func monitoredModels() []model.Model {
	return []model.Model{
		&vtep.Global{}, &vtep.PhysicalSwitch{}, &vtep.PhysicalPort{}, &vtep.LogicalSwitch{},
		&vtep.PhysicalLocator{}, &vtep.PhysicalLocatorSet{},
		&vtep.McastMacsRemote{}, &vtep.UcastMacsLocal{}, &vtep.McastMacsLocal{}, &vtep.LogicalRouter{},
	}
}

// readActual copies the cache's row maps (not the rows) into an actual;
// Ucast_Macs_Remote is read from remote on first use.
func readActual(tc *cache.TableCache, remote *remoteView) *actual {
	return &actual{
		remote:      remote,
		switches:    rows[*vtep.PhysicalSwitch](tc, vtep.PhysicalSwitchTable),
		ports:       rows[*vtep.PhysicalPort](tc, vtep.PhysicalPortTable),
		lswitches:   rows[*vtep.LogicalSwitch](tc, vtep.LogicalSwitchTable),
		locators:    rows[*vtep.PhysicalLocator](tc, vtep.PhysicalLocatorTable),
		locatorSets: rows[*vtep.PhysicalLocatorSet](tc, vtep.PhysicalLocatorSetTable),
		mcastRemote: rows[*vtep.McastMacsRemote](tc, vtep.McastMacsRemoteTable),
		ucastLocal:  rows[*vtep.UcastMacsLocal](tc, vtep.UcastMacsLocalTable),
		mcastLocal:  rows[*vtep.McastMacsLocal](tc, vtep.McastMacsLocalTable),
		routers:     rows[*vtep.LogicalRouter](tc, vtep.LogicalRouterTable),
	}
}

func rows[T model.Model](tc *cache.TableCache, table string) map[string]T {
	if tc == nil {
		return map[string]T{}
	}
	rc := tc.Table(table)
	if rc == nil {
		return map[string]T{}
	}
	rs := rc.RowsShallow()
	out := make(map[string]T, len(rs))
	for uuid, m := range rs {
		if r, ok := m.(T); ok {
			out[uuid] = r
		}
	}
	return out
}

// findSwitch returns the UUID of the Physical_Switch named name, or "" and
// why not.
func (a *actual) findSwitch(name string) (uuid string, why string) {
	for u, s := range a.switches {
		if s.Name == name {
			return u, ""
		}
	}
	return "", "physical switch " + quote(name) + " not found"
}

func quote(s string) string { return `"` + s + `"` }

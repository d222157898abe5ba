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
}

// monitoredModels are the tables the agent monitors (all columns).
func monitoredModels() []model.Model {
	return []model.Model{
		&vtep.Global{}, &vtep.PhysicalSwitch{}, &vtep.PhysicalPort{}, &vtep.LogicalSwitch{},
		&vtep.PhysicalLocator{}, &vtep.PhysicalLocatorSet{}, &vtep.UcastMacsRemote{},
		&vtep.McastMacsRemote{}, &vtep.UcastMacsLocal{}, &vtep.McastMacsLocal{}, &vtep.LogicalRouter{},
	}
}

// readActual copies the cache's row maps (not the rows) into an actual.
func readActual(tc *cache.TableCache) *actual {
	return &actual{
		switches:    rows[*vtep.PhysicalSwitch](tc, vtep.PhysicalSwitchTable),
		ports:       rows[*vtep.PhysicalPort](tc, vtep.PhysicalPortTable),
		lswitches:   rows[*vtep.LogicalSwitch](tc, vtep.LogicalSwitchTable),
		locators:    rows[*vtep.PhysicalLocator](tc, vtep.PhysicalLocatorTable),
		locatorSets: rows[*vtep.PhysicalLocatorSet](tc, vtep.PhysicalLocatorSetTable),
		ucastRemote: rows[*vtep.UcastMacsRemote](tc, vtep.UcastMacsRemoteTable),
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

// findSwitch picks the Physical_Switch the agent serves: the one named name,
// or, when name is empty, the only one in the database. It returns "" and a
// reason when there is none (or more than one and no name).
func (a *actual) findSwitch(name string) (uuid string, why string) {
	if name != "" {
		for u, s := range a.switches {
			if s.Name == name {
				return u, ""
			}
		}
		return "", "physical switch " + quote(name) + " not found"
	}
	switch len(a.switches) {
	case 0:
		return "", "no physical switch in the database"
	case 1:
		for u := range a.switches {
			return u, ""
		}
	}
	return "", "database holds several physical switches; configure the switch name"
}

func quote(s string) string { return `"` + s + `"` }

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

	// tc, when set, is the cache the view was read from: ucastRemote is
	// then read on first use (remoteRows) and remoteByKey uses the cache's
	// client index instead of a copy of the table.
	tc *cache.TableCache
}

// remoteMACIndex is the client index of Ucast_Macs_Remote rows by logical
// switch and MAC (exact spelling) that remoteByKey looks rows up with.
var remoteMACIndex = model.ClientIndex{Columns: []model.ColumnKey{
	{Column: vtep.UcastMacsRemoteLogicalSwitchColumn}, {Column: vtep.UcastMacsRemoteMACColumn},
}}

// remoteRows returns every Ucast_Macs_Remote row by UUID.
func (a *actual) remoteRows() map[string]*vtep.UcastMacsRemote {
	if a.ucastRemote == nil {
		a.ucastRemote = rows[*vtep.UcastMacsRemote](a.tc, vtep.UcastMacsRemoteTable)
	}
	return a.ucastRemote
}

// remoteByKey returns the Ucast_Macs_Remote rows in logical switch ls with
// exactly this MAC spelling.
func (a *actual) remoteByKey(ls, mac string) []*vtep.UcastMacsRemote {
	if a.tc == nil || a.ucastRemote != nil {
		var out []*vtep.UcastMacsRemote
		for _, r := range a.remoteRows() {
			if r.LogicalSwitch == ls && r.MAC == mac {
				out = append(out, r)
			}
		}
		return out
	}
	rc := a.tc.Table(vtep.UcastMacsRemoteTable)
	if rc == nil {
		return nil
	}
	found, err := rc.RowsByModels([]model.Model{&vtep.UcastMacsRemote{LogicalSwitch: ls, MAC: mac}})
	if err != nil {
		return nil
	}
	out := make([]*vtep.UcastMacsRemote, 0, len(found))
	for _, m := range found {
		if r, ok := m.(*vtep.UcastMacsRemote); ok && r.LogicalSwitch == ls && r.MAC == mac {
			out = append(out, r)
		}
	}
	return out
}

// monitoredModels are the tables the agent monitors (all columns).
func monitoredModels() []model.Model {
	return []model.Model{
		&vtep.Global{}, &vtep.PhysicalSwitch{}, &vtep.PhysicalPort{}, &vtep.LogicalSwitch{},
		&vtep.PhysicalLocator{}, &vtep.PhysicalLocatorSet{}, &vtep.UcastMacsRemote{},
		&vtep.McastMacsRemote{}, &vtep.UcastMacsLocal{}, &vtep.McastMacsLocal{}, &vtep.LogicalRouter{},
	}
}

// readActual copies the cache's row maps (not the rows) into an actual,
// except Ucast_Macs_Remote, which is read on first use.
func readActual(tc *cache.TableCache) *actual {
	return &actual{
		tc:          tc,
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

package softvtep

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// dial connects to the hardware_vtep database, calls onChange on every cache
// change and monitors every table (the initial rows are in the cache when it
// returns).
func dial(ctx context.Context, log *slog.Logger, endpoint string, onChange func()) (client.Client, error) {
	dbModel, err := vtep.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("hardware_vtep model: %w", err)
	}
	// libovsdb's default logger is very verbose; route it through slog at
	// debug level and above only.
	lg := logr.FromSlogHandler(log.With("component", "libovsdb").Handler())
	c, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint), client.WithLogger(&lg))
	if err != nil {
		return nil, fmt.Errorf("ovsdb client: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect %s: %w", endpoint, err)
	}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { onChange() },
		UpdateFunc: func(string, model.Model, model.Model) { onChange() },
		DeleteFunc: func(string, model.Model) { onChange() },
	})
	if _, err := c.MonitorAll(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor %s: %w", endpoint, err)
	}
	return c, nil
}

// readSnapshot copies the tables the soft VTEP needs out of the client cache.
func readSnapshot(ctx context.Context, c client.Client, name string) (*snapshot, error) {
	s := &snapshot{
		logicalSwitches: map[string]vtep.LogicalSwitch{},
		locators:        map[string]vtep.PhysicalLocator{},
		locatorSets:     map[string]vtep.PhysicalLocatorSet{},
	}
	var (
		switches []vtep.PhysicalSwitch
		ports    []vtep.PhysicalPort
		lss      []vtep.LogicalSwitch
		locs     []vtep.PhysicalLocator
		sets     []vtep.PhysicalLocatorSet
	)
	for _, l := range []struct {
		table string
		dst   any
	}{
		{vtep.GlobalTable, &s.globals},
		{vtep.PhysicalSwitchTable, &switches},
		{vtep.PhysicalPortTable, &ports},
		{vtep.LogicalSwitchTable, &lss},
		{vtep.PhysicalLocatorTable, &locs},
		{vtep.PhysicalLocatorSetTable, &sets},
		{vtep.UcastMacsRemoteTable, &s.ucastRemote},
		{vtep.McastMacsRemoteTable, &s.mcastRemote},
		{vtep.UcastMacsLocalTable, &s.ucastLocal},
	} {
		if err := c.List(ctx, l.dst); err != nil {
			return nil, fmt.Errorf("list %s: %w", l.table, err)
		}
	}
	for i := range switches {
		if switches[i].Name == name {
			s.switchRow = &switches[i]
		}
	}
	if s.switchRow != nil {
		for _, p := range ports {
			if slices.Contains(s.switchRow.Ports, p.UUID) {
				s.ports = append(s.ports, p)
			}
		}
	}
	for _, ls := range lss {
		s.logicalSwitches[ls.UUID] = ls
	}
	for _, l := range locs {
		s.locators[l.UUID] = l
	}
	for _, ls := range sets {
		s.locatorSets[ls.UUID] = ls
	}
	return s, nil
}

// opList collects the operations of one transaction.
type opList []ovsdb.Operation

// add appends the operations a libovsdb builder returned, or returns its error.
func (l *opList) add(ops []ovsdb.Operation, err error) error {
	if err != nil {
		return err
	}
	*l = append(*l, ops...)
	return nil
}

// registerOps returns the operations that make the database hold this switch:
// a Global row referencing a Physical_Switch named cfg.Name with tunnel_ips =
// [TunnelIP] and exactly the configured Physical_Ports. Physical_Switch and
// Physical_Port are non-root tables (vtep(5)): they live only while
// referenced, so they are inserted together with the reference.
func registerOps(c client.Client, cfg *Config, s *snapshot) ([]ovsdb.Operation, error) {
	var ops opList
	add := ops.add
	tunnelIPs := []string{cfg.TunnelIP.String()}
	newPorts := func(names []string) ([]string, error) {
		var uuids []string
		for i, n := range names {
			p := &vtep.PhysicalPort{UUID: "row_port" + strconv.Itoa(i), Name: n}
			if err := add(c.Create(p)); err != nil {
				return nil, fmt.Errorf("insert port %s: %w", n, err)
			}
			uuids = append(uuids, p.UUID)
		}
		return uuids, nil
	}
	configured := make([]string, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		configured = append(configured, p.Name)
	}

	if s.switchRow == nil {
		portUUIDs, err := newPorts(configured)
		if err != nil {
			return nil, err
		}
		ps := &vtep.PhysicalSwitch{
			UUID: "row_ps", Name: cfg.Name, TunnelIPs: tunnelIPs, Ports: portUUIDs,
			Description: "l2gw soft-vtep",
		}
		if err := add(c.Create(ps)); err != nil {
			return nil, fmt.Errorf("insert physical switch: %w", err)
		}
		if len(s.globals) == 0 {
			if err := add(c.Create(&vtep.Global{UUID: "row_global", Switches: []string{ps.UUID}})); err != nil {
				return nil, fmt.Errorf("insert global: %w", err)
			}
			return ops, nil
		}
		g := &s.globals[0]
		err = add(c.Where(g).Mutate(g, model.Mutation{
			Field: &g.Switches, Mutator: ovsdb.MutateOperationInsert, Value: []string{ps.UUID},
		}))
		if err != nil {
			return nil, fmt.Errorf("reference physical switch: %w", err)
		}
		return ops, nil
	}

	ps := s.switchRow
	if !slices.Equal(ps.TunnelIPs, tunnelIPs) {
		ps.TunnelIPs = tunnelIPs
		if err := add(c.Where(ps).Update(ps, &ps.TunnelIPs)); err != nil {
			return nil, fmt.Errorf("update tunnel_ips: %w", err)
		}
	}
	have := map[string]bool{}
	var extra []string
	for _, p := range s.ports {
		if slices.Contains(configured, p.Name) && !have[p.Name] {
			have[p.Name] = true
		} else {
			extra = append(extra, p.UUID)
		}
	}
	var missing []string
	for _, n := range configured {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		uuids, err := newPorts(missing)
		if err != nil {
			return nil, err
		}
		err = add(c.Where(ps).Mutate(ps, model.Mutation{Field: &ps.Ports, Mutator: ovsdb.MutateOperationInsert, Value: uuids}))
		if err != nil {
			return nil, fmt.Errorf("reference ports: %w", err)
		}
	}
	if len(extra) > 0 {
		err := add(c.Where(ps).Mutate(ps, model.Mutation{Field: &ps.Ports, Mutator: ovsdb.MutateOperationDelete, Value: extra}))
		if err != nil {
			return nil, fmt.Errorf("drop unconfigured ports: %w", err)
		}
	}
	return ops, nil
}

// localMAC is a MAC learnt behind one of the switch's ports, in a logical
// switch (by UUID).
type localMAC struct {
	MAC    string // canonical
	LSUUID string
}

// reportOps returns the operations that make Ucast_Macs_Local equal learned
// and each port's port_fault_status equal faults. Every Ucast_Macs_Local row
// in the database belongs to this switch (one switch per database). The
// locator is the switch's own tunnel IP, reused when it exists (the
// Physical_Locator index forbids a second row).
func reportOps(c client.Client, tunnelIP netip.Addr, s *snapshot, learned map[localMAC]bool, faults map[string][]string) ([]ovsdb.Operation, error) {
	var ops opList
	add := ops.add
	seen := map[localMAC]bool{}
	for i := range s.ucastLocal {
		r := &s.ucastLocal[i]
		mac, ok := canonicalMAC(r.MAC)
		k := localMAC{MAC: mac, LSUUID: r.LogicalSwitch}
		if ok && learned[k] && !seen[k] && r.Locator != "" && isOwnLocator(s.locators[r.Locator], tunnelIP) {
			seen[k] = true
			continue
		}
		if err := add(c.Where(r).Delete()); err != nil {
			return nil, fmt.Errorf("delete local mac %s: %w", r.MAC, err)
		}
	}
	locUUID := ""
	for _, l := range s.locators {
		if isOwnLocator(l, tunnelIP) {
			locUUID = l.UUID
			break
		}
	}
	keys := make([]localMAC, 0, len(learned))
	for k := range learned {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b localMAC) int {
		if a.LSUUID != b.LSUUID {
			if a.LSUUID < b.LSUUID {
				return -1
			}
			return 1
		}
		switch {
		case a.MAC < b.MAC:
			return -1
		case a.MAC > b.MAC:
			return 1
		}
		return 0
	})
	if len(keys) > 0 && locUUID == "" {
		locUUID = "row_locator"
		l := &vtep.PhysicalLocator{
			UUID: locUUID, DstIP: tunnelIP.String(),
			EncapsulationType: vtep.PhysicalLocatorEncapsulationTypeVxlanOverIpv4,
		}
		if err := add(c.Create(l)); err != nil {
			return nil, fmt.Errorf("insert locator: %w", err)
		}
	}
	for _, k := range keys {
		r := &vtep.UcastMacsLocal{MAC: k.MAC, LogicalSwitch: k.LSUUID, Locator: locUUID}
		if err := add(c.Create(r)); err != nil {
			return nil, fmt.Errorf("insert local mac %s: %w", k.MAC, err)
		}
	}
	for i := range s.ports {
		p := &s.ports[i]
		want, ok := faults[p.Name]
		if !ok {
			continue
		}
		if sortedEqual(p.PortFaultStatus, want) {
			continue
		}
		p.PortFaultStatus = want
		if p.PortFaultStatus == nil {
			p.PortFaultStatus = []string{}
		}
		if err := add(c.Where(p).Update(p, &p.PortFaultStatus)); err != nil {
			return nil, fmt.Errorf("update faults of port %s: %w", p.Name, err)
		}
	}
	return ops, nil
}

func isOwnLocator(l vtep.PhysicalLocator, tunnelIP netip.Addr) bool {
	ip, ok := locatorIP(l)
	return ok && ip == tunnelIP && l.TunnelKey == nil
}

// sortedEqual compares two string sets.
func sortedEqual(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// transact runs ops in one transaction and checks every result.
func transact(ctx context.Context, c client.Client, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	return nil
}

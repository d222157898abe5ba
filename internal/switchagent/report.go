package switchagent

import (
	"slices"
	"sort"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
)

// buildReport describes the switch swUUID and the MACs it learnt in our
// logical switches. A local MAC is reported only when its logical switch is
// ours and in plan (the plan maps it to a network id).
func buildReport(a *actual, swUUID string, plan *planner.SwitchPlan, owner string) model.SwitchReport {
	sw := a.switches[swUUID]
	if sw == nil {
		return model.SwitchReport{}
	}
	r := model.SwitchReport{Switch: model.Switch{
		Name:          sw.Name,
		Description:   sw.Description,
		TunnelIPs:     sortedCopy(sw.TunnelIPs),
		ManagementIPs: sortedCopy(sw.ManagementIPs),
		FaultStatus:   sortedCopy(sw.SwitchFaultStatus),
	}}
	for _, pu := range sw.Ports {
		p := a.ports[pu]
		if p == nil {
			continue
		}
		r.Switch.Ports = append(r.Switch.Ports, model.SwitchPort{Name: p.Name, Description: p.Description, FaultStatus: sortedCopy(p.PortFaultStatus)})
	}
	sort.Slice(r.Switch.Ports, func(i, j int) bool { return r.Switch.Ports[i].Name < r.Switch.Ports[j].Name })
	if plan == nil {
		return r
	}
	seen := map[[2]string]bool{}
	for _, m := range a.ucastLocal {
		ls := a.lswitches[m.LogicalSwitch]
		if ls == nil || ls.OtherConfig[OwnerKey] != owner {
			continue
		}
		pl, ok := plan.LogicalSwitches[ls.Name]
		if !ok || pl.NetworkID == "" {
			continue
		}
		mac := strings.ToLower(m.MAC)
		k := [2]string{pl.NetworkID, mac}
		if seen[k] {
			continue
		}
		seen[k] = true
		var ip string
		if l := a.locators[m.Locator]; l != nil {
			ip = l.DstIP
		}
		r.LocalMACs = append(r.LocalMACs, model.LocalMAC{Switch: sw.Name, NetworkID: pl.NetworkID, MAC: mac, IPAddress: m.Ipaddr, LocatorIP: ip})
	}
	sort.Slice(r.LocalMACs, func(i, j int) bool {
		if r.LocalMACs[i].NetworkID != r.LocalMACs[j].NetworkID {
			return r.LocalMACs[i].NetworkID < r.LocalMACs[j].NetworkID
		}
		return r.LocalMACs[i].MAC < r.LocalMACs[j].MAC
	})
	return r
}

// sortedCopy returns s sorted, nil when empty (so equal reports compare equal).
func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

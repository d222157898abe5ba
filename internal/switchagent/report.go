package switchagent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
)

// ignoredMAC is a Ucast_Macs_Local row buildReport left out, and why.
type ignoredMAC struct {
	ls, mac, why string
}

// buildReport describes the switch swUUID and the MACs it learnt in our
// logical switches. A local MAC is reported only when its logical switch is
// ours and in plan (the plan maps it to a network id), when it is a unicast
// MAC (others are returned as ignored: hosts must never get an FDB entry
// for them) and when its locator is not another switch's tunnel IP
// (logical switches are per database: one holding several switches holds
// the MACs each learnt). The switch's tunnel IPs that are not IPv4 are
// reported as faults (tunnelFaults).
func buildReport(a *actual, swUUID string, plan *planner.SwitchPlan, owner string) (model.SwitchReport, []ignoredMAC) {
	sw := a.switches[swUUID]
	if sw == nil {
		return model.SwitchReport{}, nil
	}
	r := model.SwitchReport{Switch: model.Switch{
		Name:          sw.Name,
		Description:   sw.Description,
		TunnelIPs:     sortedCopy(sw.TunnelIPs),
		ManagementIPs: sortedCopy(sw.ManagementIPs),
		FaultStatus:   sortedCopy(append(slices.Clone(sw.SwitchFaultStatus), tunnelFaults(sw.TunnelIPs)...)),
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
		return r, nil
	}
	// Tunnel IPs of the database's other switches: their MACs are theirs.
	elsewhere := map[string]bool{}
	for u, o := range a.switches {
		if u != swUUID {
			for _, ip := range o.TunnelIPs {
				elsewhere[ip] = true
			}
		}
	}
	own := map[string]bool{}
	for _, ip := range sw.TunnelIPs {
		delete(elsewhere, ip)
		own[ip] = true
	}
	var ignored []ignoredMAC
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
		var ip string
		if l := a.locators[m.Locator]; l != nil {
			ip = l.DstIP
		}
		if elsewhere[ip] {
			continue
		}
		if why := model.NotUnicastMAC(m.MAC); why != "" {
			ignored = append(ignored, ignoredMAC{ls: ls.Name, mac: m.MAC, why: why})
			continue
		}
		// The server takes only MACs behind the switch's own tunnel IPs.
		if ip != "" && !own[ip] {
			ignored = append(ignored, ignoredMAC{ls: ls.Name, mac: m.MAC, why: "locator " + ip + " is not one of the switch's tunnel IPs"})
			continue
		}
		ipaddr := m.Ipaddr
		if net.ParseIP(ipaddr) == nil {
			ipaddr = "" // the server refuses a report with an IP that is not one
		}
		mac := strings.ToLower(m.MAC)
		k := [2]string{pl.NetworkID, mac}
		if seen[k] {
			continue
		}
		seen[k] = true
		r.LocalMACs = append(r.LocalMACs, model.LocalMAC{Switch: sw.Name, NetworkID: pl.NetworkID, MAC: mac, IPAddress: ipaddr, LocatorIP: ip})
	}
	sort.Slice(r.LocalMACs, func(i, j int) bool {
		if r.LocalMACs[i].NetworkID != r.LocalMACs[j].NetworkID {
			return r.LocalMACs[i].NetworkID < r.LocalMACs[j].NetworkID
		}
		return r.LocalMACs[i].MAC < r.LocalMACs[j].MAC
	})
	slices.SortFunc(ignored, func(x, y ignoredMAC) int { return strings.Compare(x.ls+" "+x.mac, y.ls+" "+y.mac) })
	return r, ignored
}

// tunnelFaults describes the tunnel IPs that are not IPv4: hardware_vtep
// locators are vxlan_over_ipv4 (Physical_Locator.encapsulation_type), so
// neither hosts nor the switch can use them.
func tunnelFaults(ips []string) []string {
	var out []string
	for _, ip := range ips {
		if !isIPv4(ip) {
			out = append(out, fmt.Sprintf("tunnel ip %s is not IPv4: hardware_vtep locators are %s", ip, planner.EncapVXLAN))
		}
	}
	slices.Sort(out)
	return out
}

// usableTunnel reports whether a switch with these tunnel IPs can be
// programmed: it has an IPv4 one, or none at all (not yet configured).
func usableTunnel(ips []string) bool {
	for _, ip := range ips {
		if isIPv4(ip) {
			return true
		}
	}
	return len(ips) == 0
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Unmap().Is4()
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

package softvtep

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/l2gw/l2gw/internal/linuxvxlan"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

const (
	maxIfName    = 15 // IFNAMSIZ - 1
	bridgePrefix = "svbr"
	vxlanPrefix  = "svvx"
	// unknownDst is the Mcast_Macs_Remote MAC of the flooding entry (vtep(5)).
	unknownDst = "unknown-dst"
)

// bindingDevice names the Linux device of a binding: the interface itself for
// VLAN 0, else "<interface>.<vlan>".
func bindingDevice(ifname string, vlan int) string {
	if vlan == 0 {
		return ifname
	}
	return ifname + "." + strconv.Itoa(vlan)
}

// snapshot is the part of the hardware_vtep database the soft VTEP reads.
type snapshot struct {
	globals         []vtep.Global
	switchRow       *vtep.PhysicalSwitch // this switch, nil if not registered
	ports           []vtep.PhysicalPort  // this switch's ports
	logicalSwitches map[string]vtep.LogicalSwitch
	locators        map[string]vtep.PhysicalLocator
	locatorSets     map[string]vtep.PhysicalLocatorSet
	ucastRemote     []vtep.UcastMacsRemote
	mcastRemote     []vtep.McastMacsRemote
	ucastLocal      []vtep.UcastMacsLocal
}

// member is a binding device of a logical switch.
type member struct {
	Port   string // Physical_Port name
	VLAN   int
	Dev    string // Linux device
	Parent string // interface to create Dev on when it is missing (VLAN != 0)
}

// lsPlan is the desired Linux state of one logical switch.
type lsPlan struct {
	VNI     int
	LSUUID  string
	LSName  string
	Members []member              // sorted by Dev
	Remote  map[string]netip.Addr // canonical MAC -> remote VTEP (Ucast_Macs_Remote)
	Flood   []netip.Addr          // unknown-dst locators, sorted
}

// plan is the desired Linux state: logical switches by VNI, and binding
// faults by Physical_Port name.
type plan struct {
	switches map[int]*lsPlan
	faults   map[string][]string
}

func (p *plan) fault(port, format string, args ...any) {
	p.faults[port] = append(p.faults[port], fmt.Sprintf(format, args...))
}

// canonicalMAC returns mac in lower-case colon form, or false when it is not
// a 48-bit MAC.
func canonicalMAC(s string) (string, bool) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", false
	}
	return hw.String(), true
}

// locatorIP returns the VXLAN-over-IPv4 address of a locator.
func locatorIP(l vtep.PhysicalLocator) (netip.Addr, bool) {
	if l.EncapsulationType != vtep.PhysicalLocatorEncapsulationTypeVxlanOverIpv4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(l.DstIP)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// computePlan derives the desired Linux state from the database: every
// logical switch bound on this switch's ports gets a bridge and a VXLAN
// device, its bindings as members, its remote MACs and flood list. It is
// pure and tolerates any database content (bad values become faults or are
// skipped).
func computePlan(ports []Port, s *snapshot) plan {
	p := plan{switches: map[int]*lsPlan{}, faults: map[string][]string{}}
	ifByPort := map[string]string{}
	for _, cp := range ports {
		ifByPort[cp.Name] = cp.Interface
		p.faults[cp.Name] = nil
	}
	// VNI owners: when two logical switches share a tunnel_key, the one with
	// the smallest name wins; the other's bindings are faults.
	vniOwner := map[int]vtep.LogicalSwitch{}
	for _, ls := range s.logicalSwitches {
		if ls.TunnelKey == nil {
			continue
		}
		k := *ls.TunnelKey
		if cur, ok := vniOwner[k]; !ok || ls.Name < cur.Name {
			vniOwner[k] = ls
		}
	}
	rows := slices.Clone(s.ports)
	slices.SortFunc(rows, func(a, b vtep.PhysicalPort) int { return cmp.Compare(a.Name, b.Name) })
	for _, pp := range rows {
		ifname, ok := ifByPort[pp.Name]
		if !ok {
			continue
		}
		vlans := make([]int, 0, len(pp.VLANBindings))
		for v := range pp.VLANBindings {
			vlans = append(vlans, v)
		}
		slices.Sort(vlans)
		for _, vlan := range vlans {
			lsUUID := pp.VLANBindings[vlan]
			ls, ok := s.logicalSwitches[lsUUID]
			switch {
			case !ok:
				p.fault(pp.Name, "vlan %d: logical switch %s not found", vlan, lsUUID)
				continue
			case vlan < 0 || vlan > 4095:
				p.fault(pp.Name, "vlan %d: out of range", vlan)
				continue
			case ls.TunnelKey == nil:
				p.fault(pp.Name, "vlan %d: logical switch %s has no tunnel_key", vlan, ls.Name)
				continue
			case !linuxvxlan.ValidVNI(*ls.TunnelKey):
				p.fault(pp.Name, "vlan %d: logical switch %s: tunnel_key %d out of range", vlan, ls.Name, *ls.TunnelKey)
				continue
			case vniOwner[*ls.TunnelKey].UUID != ls.UUID:
				p.fault(pp.Name, "vlan %d: logical switch %s: tunnel_key %d already used by %s",
					vlan, ls.Name, *ls.TunnelKey, vniOwner[*ls.TunnelKey].Name)
				continue
			}
			dev := bindingDevice(ifname, vlan)
			if len(dev) > maxIfName {
				p.fault(pp.Name, "vlan %d: device name %s longer than %d", vlan, dev, maxIfName)
				continue
			}
			vni := *ls.TunnelKey
			lp := p.switches[vni]
			if lp == nil {
				lp = &lsPlan{VNI: vni, LSUUID: ls.UUID, LSName: ls.Name, Remote: map[string]netip.Addr{}}
				p.switches[vni] = lp
			}
			m := member{Port: pp.Name, VLAN: vlan, Dev: dev}
			if vlan != 0 {
				m.Parent = ifname
			}
			lp.Members = append(lp.Members, m)
		}
	}
	byLS := map[string]*lsPlan{}
	for _, lp := range p.switches {
		slices.SortFunc(lp.Members, func(a, b member) int { return cmp.Compare(a.Dev, b.Dev) })
		byLS[lp.LSUUID] = lp
	}
	for _, r := range s.ucastRemote {
		lp := byLS[r.LogicalSwitch]
		if lp == nil {
			continue
		}
		mac, ok := canonicalMAC(r.MAC)
		if !ok {
			continue
		}
		ip, ok := locatorIP(s.locators[r.Locator])
		if !ok {
			continue
		}
		// Duplicate rows for one MAC: the smallest address wins, so the
		// choice does not depend on map order.
		if cur, dup := lp.Remote[mac]; !dup || ip.Less(cur) {
			lp.Remote[mac] = ip
		}
	}
	for _, r := range s.mcastRemote {
		lp := byLS[r.LogicalSwitch]
		if lp == nil || r.MAC != unknownDst {
			continue
		}
		for _, lu := range s.locatorSets[r.LocatorSet].Locators {
			if ip, ok := locatorIP(s.locators[lu]); ok && !slices.Contains(lp.Flood, ip) {
				lp.Flood = append(lp.Flood, ip)
			}
		}
	}
	for _, lp := range p.switches {
		slices.SortFunc(lp.Flood, func(a, b netip.Addr) int { return a.Compare(b) })
	}
	return p
}

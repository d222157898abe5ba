package softvtep

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// OwnerAlias is the interface alias of the VLAN sub-interfaces the soft VTEP
// creates; only those are deleted when their binding goes away.
const OwnerAlias = "l2gw-soft-vtep"

// vxlanPort is the IANA VXLAN UDP port (RFC 7348 section 5).
const vxlanPort = 4789

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// dataplane realises plans with netlink, in one network namespace.
type dataplane struct {
	h     *netlink.Handle
	log   *slog.Logger
	local net.IP
	mtu   int
}

// linkSet is a netlink link dump indexed by name and index.
type linkSet struct {
	byName  map[string]netlink.Link
	byIndex map[int]netlink.Link
}

func (d *dataplane) links() (*linkSet, error) {
	ll, err := d.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	s := &linkSet{byName: map[string]netlink.Link{}, byIndex: map[int]netlink.Link{}}
	for _, l := range ll {
		s.byName[l.Attrs().Name] = l
		s.byIndex[l.Attrs().Index] = l
	}
	return s, nil
}

// owned returns the soft VTEP's bridges and VXLAN devices by VNI.
func (s *linkSet) owned() (bridges, vxlans map[int]netlink.Link) {
	bridges, vxlans = map[int]netlink.Link{}, map[int]netlink.Link{}
	for name, l := range s.byName {
		if vni, ok := ownedVNI(name, bridgePrefix); ok && l.Type() == "bridge" {
			bridges[vni] = l
		}
		if vni, ok := ownedVNI(name, vxlanPrefix); ok && l.Type() == "vxlan" {
			vxlans[vni] = l
		}
	}
	return bridges, vxlans
}

func isOwnedVLAN(l netlink.Link) bool {
	return l.Type() == "vlan" && l.Attrs().Alias == OwnerAlias
}

// apply makes the namespace's owned devices and FDB entries equal p, adding
// binding problems to p.faults, and returns the MACs learnt on the binding
// devices. Errors of one logical switch do not stop the others; they are
// joined in the returned error.
func (d *dataplane) apply(p plan) ([]learnedMAC, error) {
	var errs []error
	ls, err := d.links()
	if err != nil {
		return nil, err
	}
	vnis := make([]int, 0, len(p.switches))
	for vni := range p.switches {
		vnis = append(vnis, vni)
	}
	slices.Sort(vnis)

	// 1. Devices of every wanted logical switch.
	type realised struct {
		lp      *lsPlan
		br, vx  netlink.Link
		members []netlink.Link
	}
	var done []realised
	wantMaster := map[string]int{} // member device -> VNI
	for _, vni := range vnis {
		lp := p.switches[vni]
		for _, m := range lp.Members {
			wantMaster[m.Dev] = vni
		}
		br, err := d.ensureBridge(ls, vni)
		if err != nil {
			errs = append(errs, err)
			for _, m := range lp.Members {
				p.fault(m.Port, "vlan %d: %v", m.VLAN, err)
			}
			continue
		}
		vx, err := d.ensureVxlan(ls, vni, br)
		if err != nil {
			errs = append(errs, err)
			for _, m := range lp.Members {
				p.fault(m.Port, "vlan %d: %v", m.VLAN, err)
			}
			continue
		}
		r := realised{lp: lp, br: br, vx: vx}
		for _, m := range lp.Members {
			l, err := d.ensureMember(ls, m, br)
			if err != nil {
				p.fault(m.Port, "vlan %d: %v", m.VLAN, err)
				continue
			}
			r.members = append(r.members, l)
		}
		done = append(done, r)
	}

	// 2. Release what is no longer wanted, then delete unwanted owned devices.
	if ls, err = d.links(); err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	bridges, vxlans := ls.owned()
	bridgeVNI := map[int]int{} // bridge ifindex -> VNI
	for vni, br := range bridges {
		bridgeVNI[br.Attrs().Index] = vni
	}
	for _, l := range ls.byIndex {
		a := l.Attrs()
		vni, onOurs := bridgeVNI[a.MasterIndex]
		want, wanted := wantMaster[a.Name]
		if isOwnedVLAN(l) && !wanted {
			d.log.Info("delete binding device", "device", a.Name)
			if err := d.h.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", a.Name, err))
			}
			continue
		}
		if !onOurs || (wanted && want == vni) {
			continue
		}
		if _, isVx := vxlans[vni]; isVx && vxlans[vni].Attrs().Index == a.Index {
			continue
		}
		d.log.Info("release binding device", "device", a.Name, "bridge", bridgeName(vni))
		if err := d.h.LinkSetNoMaster(l); err != nil {
			errs = append(errs, fmt.Errorf("release %s: %w", a.Name, err))
		}
	}
	for vni, vx := range vxlans {
		if _, ok := p.switches[vni]; !ok {
			d.log.Info("delete vxlan", "device", vx.Attrs().Name, "vni", vni)
			if err := d.h.LinkDel(vx); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", vx.Attrs().Name, err))
			}
		}
	}
	for vni, br := range bridges {
		if _, ok := p.switches[vni]; !ok {
			d.log.Info("delete bridge", "device", br.Attrs().Name, "vni", vni)
			if err := d.h.LinkDel(br); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", br.Attrs().Name, err))
			}
		}
	}
	if len(done) == 0 {
		return nil, errors.Join(errs...)
	}

	// 3. FDB entries on the VXLAN devices, and the MACs learnt on members.
	neighs, err := d.h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("list fdb: %w", err))...)
	}
	byLink := map[int][]netlink.Neigh{}
	for _, n := range neighs {
		byLink[n.LinkIndex] = append(byLink[n.LinkIndex], n)
	}
	var learned []learnedMAC
	for _, r := range done {
		if err := d.syncFDB(r.lp, r.vx, byLink[r.vx.Attrs().Index]); err != nil {
			errs = append(errs, err)
		}
		for _, m := range r.members {
			for _, n := range byLink[m.Attrs().Index] {
				if n.MasterIndex != r.br.Attrs().Index || n.Flags&unix.NTF_SELF != 0 ||
					n.State&(unix.NUD_PERMANENT|unix.NUD_NOARP) != 0 || len(n.HardwareAddr) != 6 ||
					n.HardwareAddr[0]&1 != 0 {
					continue
				}
				learned = append(learned, learnedMAC{MAC: n.HardwareAddr.String(), VNI: r.lp.VNI})
			}
		}
	}
	return learned, errors.Join(errs...)
}

// learnedMAC is a dynamic bridge FDB entry on a binding device.
type learnedMAC struct {
	MAC string
	VNI int
}

func (d *dataplane) ensureBridge(ls *linkSet, vni int) (netlink.Link, error) {
	name := bridgeName(vni)
	l := ls.byName[name]
	if l != nil && l.Type() != "bridge" {
		return nil, fmt.Errorf("bridge %s: name taken by a %s device", name, l.Type())
	}
	if l == nil {
		d.log.Info("create bridge", "device", name, "vni", vni)
		if err := d.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		var err error
		if l, err = d.h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return l, nil
}

func (d *dataplane) ensureVxlan(ls *linkSet, vni int, br netlink.Link) (netlink.Link, error) {
	name := vxlanName(vni)
	l := ls.byName[name]
	if l != nil {
		vx, ok := l.(*netlink.Vxlan)
		if !ok {
			return nil, fmt.Errorf("vxlan %s: name taken by a %s device", name, l.Type())
		}
		if vx.VxlanId != vni || !vx.SrcAddr.Equal(d.local) || vx.Port != vxlanPort || vx.Learning {
			d.log.Info("recreate vxlan with wrong parameters", "device", name, "vni", vni)
			if err := d.h.LinkDel(l); err != nil {
				return nil, fmt.Errorf("delete %s: %w", name, err)
			}
			l = nil
		}
	}
	if l == nil {
		d.log.Info("create vxlan", "device", name, "vni", vni)
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: d.mtu},
			VxlanId:   vni, SrcAddr: d.local, Port: vxlanPort, Learning: false,
		}
		if err := d.h.LinkAdd(vx); err != nil {
			return nil, fmt.Errorf("create vxlan %s: %w", name, err)
		}
		var err error
		if l, err = d.h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("vxlan %s: %w", name, err)
		}
	}
	if l.Attrs().MTU != d.mtu {
		if err := d.h.LinkSetMTU(l, d.mtu); err != nil {
			return nil, fmt.Errorf("set mtu of %s: %w", name, err)
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := d.h.LinkSetMaster(l, br); err != nil {
			return nil, fmt.Errorf("attach %s to %s: %w", name, br.Attrs().Name, err)
		}
		// Remote MACs come from the database (Ucast_Macs_Remote), never
		// from data-plane learning on the tunnel side.
		if err := d.h.LinkSetLearning(l, false); err != nil {
			return nil, fmt.Errorf("learning off on %s: %w", name, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return l, nil
}

// ensureMember makes the binding device exist, enslaved to br and up. A
// missing device is created as an 802.1Q sub-interface of its parent.
func (d *dataplane) ensureMember(ls *linkSet, m member, br netlink.Link) (netlink.Link, error) {
	l := ls.byName[m.Dev]
	if l == nil {
		if m.Parent == "" {
			return nil, fmt.Errorf("interface %s not found", m.Dev)
		}
		parent := ls.byName[m.Parent]
		if parent == nil {
			return nil, fmt.Errorf("neither %s nor its parent %s exists", m.Dev, m.Parent)
		}
		v := &netlink.Vlan{
			LinkAttrs: netlink.LinkAttrs{Name: m.Dev, ParentIndex: parent.Attrs().Index},
			VlanId:    m.VLAN, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q,
		}
		if err := d.h.LinkAdd(v); err != nil {
			return nil, fmt.Errorf("create vlan sub-interface %s (kernel without 8021q?): %w", m.Dev, err)
		}
		var err error
		if l, err = d.h.LinkByName(m.Dev); err != nil {
			return nil, fmt.Errorf("vlan sub-interface %s: %w", m.Dev, err)
		}
		if err := d.h.LinkSetAlias(l, OwnerAlias); err != nil {
			return nil, fmt.Errorf("mark %s as ours: %w", m.Dev, err)
		}
		d.log.Info("created vlan sub-interface", "device", m.Dev, "vlan", m.VLAN)
	}
	if _, isOurs := ownedVNI(m.Dev, bridgePrefix); isOurs {
		return nil, fmt.Errorf("interface %s: name reserved for soft-vtep bridges", m.Dev)
	}
	if _, isOurs := ownedVNI(m.Dev, vxlanPrefix); isOurs {
		return nil, fmt.Errorf("interface %s: name reserved for soft-vtep vxlan devices", m.Dev)
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		d.log.Info("attach binding device", "device", m.Dev, "bridge", br.Attrs().Name, "vlan", m.VLAN)
		if err := d.h.LinkSetMaster(l, br); err != nil {
			return nil, fmt.Errorf("attach %s to %s: %w", m.Dev, br.Attrs().Name, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %s up: %w", m.Dev, err)
		}
	}
	return l, nil
}

// fdbKey is a VXLAN FDB entry (NTF_SELF): MAC to remote VTEP.
type fdbKey struct {
	mac string
	ip  netip.Addr
}

// syncFDB makes the VXLAN device's FDB equal lp: one "self permanent" entry
// per remote MAC and per flood locator (all-zero MAC), and one static master
// entry per remote MAC so the bridge forwards it to the tunnel port. Entries
// in current are the device's FDB dump.
func (d *dataplane) syncFDB(lp *lsPlan, vx netlink.Link, current []netlink.Neigh) error {
	idx := vx.Attrs().Index
	wantSelf := map[fdbKey]bool{}
	for mac, ip := range lp.Remote {
		wantSelf[fdbKey{mac, ip}] = true
	}
	for _, ip := range lp.Flood {
		wantSelf[fdbKey{zeroMAC.String(), ip}] = true
	}
	haveSelf := map[fdbKey]bool{}
	haveMaster := map[string]bool{}
	var errs []error
	for _, n := range current {
		switch {
		case n.Flags&unix.NTF_SELF != 0 && n.IP != nil:
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			k := fdbKey{n.HardwareAddr.String(), ip.Unmap()}
			if wantSelf[k] {
				haveSelf[k] = true
				continue
			}
			d.log.Debug("delete vxlan fdb entry", "device", vx.Attrs().Name, "mac", k.mac, "dst", k.ip)
			del := netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: unix.NTF_SELF,
				IP: n.IP, HardwareAddr: n.HardwareAddr}
			if err := d.h.NeighDel(&del); err != nil {
				errs = append(errs, fmt.Errorf("delete fdb %s dst %s on %s: %w", k.mac, k.ip, vx.Attrs().Name, err))
			}
		case n.MasterIndex != 0 && n.Flags&unix.NTF_SELF == 0 && n.State&unix.NUD_NOARP != 0 && n.State&unix.NUD_PERMANENT == 0:
			mac := n.HardwareAddr.String()
			if _, ok := lp.Remote[mac]; ok {
				haveMaster[mac] = true
				continue
			}
			d.log.Debug("delete bridge fdb entry", "device", vx.Attrs().Name, "mac", mac)
			del := netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: unix.NTF_MASTER, HardwareAddr: n.HardwareAddr}
			if err := d.h.NeighDel(&del); err != nil {
				errs = append(errs, fmt.Errorf("delete bridge fdb %s on %s: %w", mac, vx.Attrs().Name, err))
			}
		}
	}
	keys := make([]fdbKey, 0, len(wantSelf))
	for k := range wantSelf {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fdbKey) int {
		if a.mac != b.mac {
			if a.mac < b.mac {
				return -1
			}
			return 1
		}
		return a.ip.Compare(b.ip)
	})
	for _, k := range keys {
		if haveSelf[k] {
			continue
		}
		hw, _ := net.ParseMAC(k.mac)
		n := netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: unix.NTF_SELF,
			State: unix.NUD_PERMANENT, IP: net.IP(k.ip.AsSlice()), HardwareAddr: hw}
		d.log.Debug("add vxlan fdb entry", "device", vx.Attrs().Name, "mac", k.mac, "dst", k.ip)
		if err := d.h.NeighAppend(&n); err != nil {
			errs = append(errs, fmt.Errorf("fdb append %s dst %s on %s: %w", k.mac, k.ip, vx.Attrs().Name, err))
		}
	}
	for mac := range lp.Remote {
		if haveMaster[mac] {
			continue
		}
		hw, _ := net.ParseMAC(mac)
		n := netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: unix.NTF_MASTER,
			State: unix.NUD_NOARP, HardwareAddr: hw}
		if err := d.h.NeighSet(&n); err != nil {
			errs = append(errs, fmt.Errorf("bridge fdb add %s on %s: %w", mac, vx.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

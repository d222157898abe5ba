package softvtep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/l2gw/l2gw/internal/linuxvxlan"
)

// OwnerAlias is the interface alias of the VLAN sub-interfaces the soft VTEP
// creates; only those are deleted when their binding goes away.
const OwnerAlias = "l2gw-soft-vtep"

// ownNames is the soft VTEP's device naming convention, the record of the
// bridges and VXLAN devices it owns.
func ownNames() linuxvxlan.Names {
	return linuxvxlan.Names{Bridge: bridgePrefix, VXLAN: vxlanPrefix}
}

// dataplane realises plans in one network namespace: the binding devices
// itself, the logical switches with the shared VXLAN data plane.
type dataplane struct {
	h   *netlink.Handle
	vx  *linuxvxlan.Dataplane
	log *slog.Logger
}

func newDataplane(h *netlink.Handle, log *slog.Logger, local netip.Addr, mtu int) (*dataplane, error) {
	vx, err := linuxvxlan.New(h, linuxvxlan.Config{Names: ownNames(), Local: local, MTU: mtu, Logger: log})
	if err != nil {
		return nil, err
	}
	return &dataplane{h: h, vx: vx, log: log}, nil
}

func isOwnedVLAN(l netlink.Link) bool {
	return l.Type() == "vlan" && l.Attrs().Alias == OwnerAlias
}

// apply makes the namespace's owned devices and FDB entries equal p, adding
// binding problems to p.faults, and returns the MACs learnt on the binding
// devices. Errors of one logical switch do not stop the others; they are
// joined in the returned error.
func (d *dataplane) apply(ctx context.Context, p plan) ([]linuxvxlan.Learned, error) {
	links, err := d.vx.Links()
	if err != nil {
		return nil, err
	}
	byName := map[string]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}

	// Binding devices first, so that the data plane finds them.
	var errs []error
	var nets []linuxvxlan.Network
	members := map[string]member{} // by device
	for _, vni := range slices.Sorted(maps.Keys(p.switches)) {
		lp := p.switches[vni]
		n := linuxvxlan.Network{VNI: vni, Remotes: lp.Remote, Flood: lp.Flood}
		for _, m := range lp.Members {
			members[m.Dev] = m
			if err := d.ensureMember(byName, m); err != nil {
				p.fault(m.Port, "vlan %d: %v", m.VLAN, err)
				continue
			}
			n.Ports = append(n.Ports, m.Dev)
		}
		nets = append(nets, n)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if _, wanted := members[name]; wanted || !isOwnedVLAN(l) {
			continue
		}
		d.log.Info("delete binding device", "device", name)
		if err := d.h.LinkDel(l); err != nil && !linuxvxlan.IsGone(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
		}
	}

	res, err := d.vx.Sync(ctx, nets)
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range nets {
		if err, failed := res.Failed[n.VNI]; failed {
			for _, dev := range n.Ports {
				p.fault(members[dev].Port, "vlan %d: %v", members[dev].VLAN, err)
			}
		}
	}
	for dev, err := range res.PortErrors {
		p.fault(members[dev].Port, "vlan %d: %v", members[dev].VLAN, err)
	}
	for _, dev := range res.Missing {
		p.fault(members[dev].Port, "vlan %d: interface %s not found", members[dev].VLAN, dev)
	}
	return res.Learned, errors.Join(errs...)
}

// ensureMember makes the binding device exist. A missing device is created
// as an 802.1Q sub-interface of its parent; byName is the namespace's links.
func (d *dataplane) ensureMember(byName map[string]netlink.Link, m member) error {
	if byName[m.Dev] != nil {
		return nil
	}
	if m.Parent == "" {
		return fmt.Errorf("interface %s not found", m.Dev)
	}
	parent := byName[m.Parent]
	if parent == nil {
		return fmt.Errorf("neither %s nor its parent %s exists", m.Dev, m.Parent)
	}
	v := &netlink.Vlan{
		LinkAttrs: netlink.LinkAttrs{Name: m.Dev, ParentIndex: parent.Attrs().Index},
		VlanId:    m.VLAN, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q,
	}
	if err := d.h.LinkAdd(v); err != nil {
		return fmt.Errorf("create vlan sub-interface %s (kernel without 8021q?): %w", m.Dev, err)
	}
	l, err := d.h.LinkByName(m.Dev)
	if err != nil {
		return fmt.Errorf("vlan sub-interface %s: %w", m.Dev, err)
	}
	if err := d.h.LinkSetAlias(l, OwnerAlias); err != nil {
		return fmt.Errorf("mark %s as ours: %w", m.Dev, err)
	}
	d.log.Info("created vlan sub-interface", "device", m.Dev, "vlan", m.VLAN)
	return nil
}

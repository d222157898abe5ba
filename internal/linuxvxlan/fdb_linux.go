package linuxvxlan

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// familyBridge is the address family of bridge FDB entries (PF_BRIDGE).
const familyBridge = unix.AF_BRIDGE

// zeroMAC is the VXLAN FDB "default destination": frames with no more
// specific entry (broadcast, unknown unicast, multicast) go to all its
// remotes.
const zeroMAC = "00:00:00:00:00:00"

// fdbKey is one VXLAN FDB remote ("self" entry): a canonical MAC and a VTEP.
type fdbKey struct {
	mac string
	dst netip.Addr
}

func (a fdbKey) compare(b fdbKey) int {
	return cmp.Or(strings.Compare(a.mac, b.mac), a.dst.Compare(b.dst))
}

// syncFDB makes the FDB of the VXLAN device vx equal n; current is the
// device's part of the bridge FDB dump.
func (d *Dataplane) syncFDB(n *network, vx netlink.Link, current []netlink.Neigh, res *Result) error {
	idx, name := vx.Attrs().Index, vx.Attrs().Name
	wantSelf := map[fdbKey]bool{}
	wantMaster := map[string]bool{}
	for mac, dst := range n.remotes {
		wantSelf[fdbKey{mac, dst}] = true
		wantMaster[mac] = true
	}
	for _, dst := range n.flood {
		wantSelf[fdbKey{zeroMAC, dst}] = true
	}
	haveSelf := map[fdbKey]bool{}
	haveMaster := map[string]bool{}
	for _, e := range current {
		switch {
		case e.Flags&netlink.NTF_SELF != 0 && e.IP != nil:
			if dst, ok := netip.AddrFromSlice(e.IP); ok {
				haveSelf[fdbKey{e.HardwareAddr.String(), dst.Unmap()}] = true
			}
		case IsBridgeEntry(e) && e.State&netlink.NUD_NOARP != 0 && e.State&netlink.NUD_PERMANENT == 0:
			haveMaster[e.HardwareAddr.String()] = true
		}
	}
	addSelf, delSelf := diff(wantSelf, haveSelf, fdbKey.compare)
	addMaster, delMaster := diff(wantMaster, haveMaster, strings.Compare)

	var errs []error
	// Additions first. A unicast MAC has one remote, replaced in place when
	// it moves to another VTEP; the all-zero MAC collects one remote per flood
	// VTEP ("bridge fdb append").
	for _, k := range addSelf {
		op, add := "replace", d.nl.NeighSet
		if k.mac == zeroMAC {
			op, add = "append", d.nl.NeighAppend
		}
		if err := add(selfNeigh(idx, k)); err != nil {
			errs = append(errs, fmt.Errorf("fdb %s %s dev %s dst %s: %w", op, k.mac, name, k.dst, err))
			continue
		}
		res.Changes++
		d.log.Info("added fdb entry", "device", name, "vni", n.vni, "mac", k.mac, "dst_ip", k.dst.String())
	}
	for _, mac := range addMaster {
		if err := d.nl.NeighSet(masterNeigh(idx, mac)); err != nil {
			errs = append(errs, fmt.Errorf("fdb add %s dev %s master static: %w", mac, name, err))
			continue
		}
		res.Changes++
		d.log.Info("added bridge fdb entry", "device", name, "vni", n.vni, "mac", mac)
	}
	for _, k := range delSelf {
		if k.mac != zeroMAC && wantMaster[k.mac] {
			continue // replaced by the wanted remote above
		}
		if err := d.nl.NeighDel(selfNeigh(idx, k)); err != nil && !IsGone(err) {
			errs = append(errs, fmt.Errorf("fdb del %s dev %s dst %s: %w", k.mac, name, k.dst, err))
			continue
		}
		res.Changes++
		d.log.Info("removed fdb entry", "device", name, "vni", n.vni, "mac", k.mac, "dst_ip", k.dst.String())
	}
	for _, mac := range delMaster {
		if err := d.nl.NeighDel(masterNeigh(idx, mac)); err != nil && !IsGone(err) {
			errs = append(errs, fmt.Errorf("fdb del %s dev %s master: %w", mac, name, err))
			continue
		}
		res.Changes++
		d.log.Info("removed bridge fdb entry", "device", name, "vni", n.vni, "mac", mac)
	}
	return errors.Join(errs...)
}

// IsBridgeEntry reports whether a dumped bridge-family neighbour is the
// bridge's (master) entry rather than the device's own: the kernel marks
// bridge entries with NDA_MASTER and leaves NTF_MASTER unset in dumps.
func IsBridgeEntry(e netlink.Neigh) bool {
	return e.Flags&netlink.NTF_SELF == 0 && (e.MasterIndex != 0 || e.Flags&netlink.NTF_MASTER != 0)
}

// learned returns the MACs the bridge br learnt on one of its ports, given
// the port's part of the bridge FDB dump.
func learned(vni int, br netlink.Link, fdb []netlink.Neigh) []Learned {
	var out []Learned
	for _, e := range fdb {
		if e.MasterIndex != br.Attrs().Index || e.Flags&netlink.NTF_SELF != 0 ||
			e.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 ||
			len(e.HardwareAddr) != 6 || e.HardwareAddr[0]&1 != 0 {
			continue
		}
		out = append(out, Learned{VNI: vni, MAC: e.HardwareAddr.String()})
	}
	return out
}

func selfNeigh(index int, k fdbKey) *netlink.Neigh {
	mac, _ := net.ParseMAC(k.mac) // canonical: parsed before
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       familyBridge,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		IP:           net.IP(k.dst.AsSlice()),
		HardwareAddr: mac,
	}
}

func masterNeigh(index int, macText string) *netlink.Neigh {
	mac, _ := net.ParseMAC(macText)
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       familyBridge,
		Flags:        netlink.NTF_MASTER,
		State:        netlink.NUD_NOARP, // "static": forwarded, not delivered locally
		HardwareAddr: mac,
	}
}

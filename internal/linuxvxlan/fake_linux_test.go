package linuxvxlan

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeKernel is an in-memory network namespace speaking the Netlink
// interface with the kernel's semantics as far as Dataplane relies on them:
// unique names, enslaving, FDB replace versus append, entries dropped with
// their device or bridge, ENODEV and ENOENT for absent objects, and dumps
// that can be flagged as interrupted. State renders it as text.
type fakeKernel struct {
	links    map[int]netlink.Link
	next     int
	fdb      []netlink.Neigh
	learnOff map[int]bool // bridge-port learning off, by ifindex
	noIPv6   map[int]bool // addr_gen_mode none, by ifindex
	calls    []string     // mutating calls, "Op name [detail]"

	// interrupted is how many of the next dumps report NLM_F_DUMP_INTR.
	interrupted int
	// before runs ahead of every mutating call with its operation and
	// device name, e.g. to make the device vanish; an error it returns is
	// the call's.
	before func(op, name string) error
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{links: map[int]netlink.Link{}, next: 1, learnOff: map[int]bool{}, noIPv6: map[int]bool{}}
}

func cloneLink(l netlink.Link) netlink.Link {
	switch v := l.(type) {
	case *netlink.Bridge:
		c := *v
		return &c
	case *netlink.Vxlan:
		c := *v
		return &c
	case *netlink.Dummy:
		c := *v
		return &c
	case *netlink.Veth:
		c := *v
		return &c
	}
	panic(fmt.Sprintf("fake kernel: link type %T", l))
}

func (k *fakeKernel) byName(name string) netlink.Link {
	for _, l := range k.links {
		if l.Attrs().Name == name {
			return l
		}
	}
	return nil
}

// resolve finds the kernel's copy of l, by index as the real kernel does.
func (k *fakeKernel) resolve(op string, l netlink.Link) (netlink.Link, error) {
	k.calls = append(k.calls, op+" "+l.Attrs().Name)
	if k.before != nil {
		if err := k.before(op, l.Attrs().Name); err != nil {
			return nil, err
		}
	}
	if cur, ok := k.links[l.Attrs().Index]; ok {
		return cur, nil
	}
	return nil, unix.ENODEV
}

// add creates a link as a test's setup; it returns the kernel's copy.
func (k *fakeKernel) add(l netlink.Link) netlink.Link {
	if err := k.LinkAdd(l); err != nil {
		panic(err)
	}
	k.calls = nil
	return k.byName(l.Attrs().Name)
}

func (k *fakeKernel) LinkList() ([]netlink.Link, error) {
	var out []netlink.Link
	for _, i := range k.indices() {
		out = append(out, cloneLink(k.links[i]))
	}
	if k.interrupted > 0 {
		k.interrupted--
		return out[:len(out)/2], netlink.ErrDumpInterrupted
	}
	return out, nil
}

func (k *fakeKernel) indices() []int {
	var is []int
	for i := range k.links {
		is = append(is, i)
	}
	slices.Sort(is)
	return is
}

func (k *fakeKernel) LinkByName(name string) (netlink.Link, error) {
	if l := k.byName(name); l != nil {
		return cloneLink(l), nil
	}
	return nil, netlink.LinkNotFoundError{}
}

func (k *fakeKernel) LinkAdd(l netlink.Link) error {
	k.calls = append(k.calls, "LinkAdd "+l.Attrs().Name)
	if k.before != nil {
		if err := k.before("LinkAdd", l.Attrs().Name); err != nil {
			return err
		}
	}
	if k.byName(l.Attrs().Name) != nil {
		return unix.EEXIST
	}
	c := cloneLink(l)
	a := c.Attrs()
	a.Index, k.next = k.next, k.next+1
	if a.MTU == 0 {
		a.MTU = 1500
	}
	a.Flags &^= net.FlagUp
	a.MasterIndex = 0
	k.links[a.Index] = c
	return nil
}

func (k *fakeKernel) LinkDel(l netlink.Link) error {
	cur, err := k.resolve("LinkDel", l)
	if err != nil {
		return err
	}
	idx := cur.Attrs().Index
	delete(k.links, idx)
	delete(k.learnOff, idx)
	delete(k.noIPv6, idx)
	for _, o := range k.links {
		if o.Attrs().MasterIndex == idx {
			k.unslave(o)
		}
	}
	k.fdb = slices.DeleteFunc(k.fdb, func(n netlink.Neigh) bool { return n.LinkIndex == idx })
	return nil
}

// unslave takes l off its bridge, which drops the bridge's entries on it.
func (k *fakeKernel) unslave(l netlink.Link) {
	a := l.Attrs()
	k.fdb = slices.DeleteFunc(k.fdb, func(n netlink.Neigh) bool { return n.LinkIndex == a.Index && n.MasterIndex != 0 })
	a.MasterIndex = 0
	delete(k.learnOff, a.Index)
}

func (k *fakeKernel) LinkSetMasterByIndex(l netlink.Link, master int) error {
	cur, err := k.resolve("LinkSetMaster", l)
	if err != nil {
		return err
	}
	if _, ok := k.links[master].(*netlink.Bridge); !ok {
		return unix.EINVAL
	}
	if cur.Attrs().MasterIndex != master {
		k.unslave(cur)
		cur.Attrs().MasterIndex = master
	}
	return nil
}

func (k *fakeKernel) LinkSetNoMaster(l netlink.Link) error {
	cur, err := k.resolve("LinkSetNoMaster", l)
	if err != nil {
		return err
	}
	k.unslave(cur)
	return nil
}

func (k *fakeKernel) LinkSetUp(l netlink.Link) error {
	cur, err := k.resolve("LinkSetUp", l)
	if err != nil {
		return err
	}
	cur.Attrs().Flags |= net.FlagUp
	return nil
}

func (k *fakeKernel) LinkSetMTU(l netlink.Link, mtu int) error {
	cur, err := k.resolve("LinkSetMTU", l)
	if err != nil {
		return err
	}
	cur.Attrs().MTU = mtu
	return nil
}

func (k *fakeKernel) LinkSetLearning(l netlink.Link, mode bool) error {
	cur, err := k.resolve("LinkSetLearning", l)
	if err != nil {
		return err
	}
	if cur.Attrs().MasterIndex == 0 {
		return unix.EOPNOTSUPP // not a bridge port
	}
	k.learnOff[cur.Attrs().Index] = !mode
	return nil
}

func (k *fakeKernel) LinkSetIP6AddrGenMode(l netlink.Link, mode int) error {
	cur, err := k.resolve("LinkSetIP6AddrGenMode", l)
	if err != nil {
		return err
	}
	k.noIPv6[cur.Attrs().Index] = mode == in6AddrGenModeNone
	return nil
}

func (k *fakeKernel) NeighList(index, family int) ([]netlink.Neigh, error) {
	if family != unix.AF_BRIDGE {
		return nil, unix.EAFNOSUPPORT
	}
	var out []netlink.Neigh
	for _, n := range k.fdb {
		if index == 0 || n.LinkIndex == index {
			out = append(out, n)
		}
	}
	if k.interrupted > 0 {
		k.interrupted--
		return out[:len(out)/2], netlink.ErrDumpInterrupted
	}
	return out, nil
}

// neighOp checks a request like the kernel's bridge and VXLAN FDB code.
func (k *fakeKernel) neighOp(op string, n *netlink.Neigh) (netlink.Link, error) {
	l, ok := k.links[n.LinkIndex]
	name := fmt.Sprint(n.LinkIndex)
	if ok {
		name = l.Attrs().Name
	}
	k.calls = append(k.calls, fmt.Sprintf("%s %s %s %s", op, name, n.HardwareAddr, neighKind(*n)))
	if k.before != nil {
		if err := k.before(op, name); err != nil {
			return nil, err
		}
	}
	if l, ok = k.links[n.LinkIndex]; !ok {
		return nil, unix.ENODEV
	}
	if n.Family != unix.AF_BRIDGE {
		return nil, unix.EAFNOSUPPORT
	}
	if n.Flags&netlink.NTF_SELF != 0 {
		if _, isVx := l.(*netlink.Vxlan); !isVx || n.IP == nil {
			return nil, unix.EINVAL
		}
	} else if l.Attrs().MasterIndex == 0 {
		return nil, unix.EINVAL
	}
	return l, nil
}

func neighKind(n netlink.Neigh) string {
	if n.Flags&netlink.NTF_SELF != 0 {
		return "dst " + n.IP.String()
	}
	return "master"
}

// same reports whether two entries of one device are one FDB entry: self
// entries by MAC and remote (a MAC can have several remotes), bridge entries
// by MAC.
func same(a, b netlink.Neigh) bool {
	if a.LinkIndex != b.LinkIndex || !bytes.Equal(a.HardwareAddr, b.HardwareAddr) ||
		(a.Flags&netlink.NTF_SELF != 0) != (b.Flags&netlink.NTF_SELF != 0) {
		return false
	}
	return a.Flags&netlink.NTF_SELF == 0 || a.IP.Equal(b.IP)
}

// stored is the entry as a dump returns it.
func stored(l netlink.Link, n *netlink.Neigh) netlink.Neigh {
	s := netlink.Neigh{LinkIndex: n.LinkIndex, Family: unix.AF_BRIDGE, State: n.State,
		HardwareAddr: slices.Clone(n.HardwareAddr)}
	if n.Flags&netlink.NTF_SELF != 0 {
		s.Flags = netlink.NTF_SELF
		s.IP = slices.Clone(n.IP)
	} else {
		s.MasterIndex = l.Attrs().MasterIndex
	}
	return s
}

// NeighAppend adds a remote ("bridge fdb append").
func (k *fakeKernel) NeighAppend(n *netlink.Neigh) error {
	l, err := k.neighOp("NeighAppend", n)
	if err != nil {
		return err
	}
	s := stored(l, n)
	if slices.ContainsFunc(k.fdb, func(o netlink.Neigh) bool { return same(o, s) }) {
		return unix.EEXIST
	}
	k.fdb = append(k.fdb, s)
	return nil
}

// NeighSet adds or replaces ("bridge fdb replace"): a self entry's MAC
// keeps one remote, the new one.
func (k *fakeKernel) NeighSet(n *netlink.Neigh) error {
	l, err := k.neighOp("NeighSet", n)
	if err != nil {
		return err
	}
	s := stored(l, n)
	k.fdb = slices.DeleteFunc(k.fdb, func(o netlink.Neigh) bool {
		return o.LinkIndex == s.LinkIndex && bytes.Equal(o.HardwareAddr, s.HardwareAddr) &&
			(o.Flags&netlink.NTF_SELF != 0) == (s.Flags&netlink.NTF_SELF != 0)
	})
	k.fdb = append(k.fdb, s)
	return nil
}

func (k *fakeKernel) NeighDel(n *netlink.Neigh) error {
	l, err := k.neighOp("NeighDel", n)
	if err != nil {
		return err
	}
	s := stored(l, n)
	i := slices.IndexFunc(k.fdb, func(o netlink.Neigh) bool { return same(o, s) })
	if i < 0 {
		return unix.ENOENT
	}
	k.fdb = slices.Delete(k.fdb, i, i+1)
	return nil
}

// learn adds a dynamic bridge entry, as traffic from mac on port would.
func (k *fakeKernel) learn(port, mac string) {
	l := k.byName(port)
	hw, _ := net.ParseMAC(mac)
	k.fdb = append(k.fdb, netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE,
		State: netlink.NUD_REACHABLE, MasterIndex: l.Attrs().MasterIndex, HardwareAddr: hw})
}

// State renders the namespace, one sorted line per object:
//
//	link NAME TYPE up|down mtu N [master M] [vni V local L port P learning B] [nolearning] [noipv6]
//	fdb DEV MAC dst IP self
//	fdb DEV MAC master static|dynamic
func (k *fakeKernel) State() string {
	var lines []string
	name := func(i int) string { return k.links[i].Attrs().Name }
	for _, i := range k.indices() {
		l := k.links[i]
		a := l.Attrs()
		up := "down"
		if a.Flags&net.FlagUp != 0 {
			up = "up"
		}
		s := fmt.Sprintf("link %s %s %s mtu %d", a.Name, l.Type(), up, a.MTU)
		if a.MasterIndex != 0 {
			s += " master " + name(a.MasterIndex)
		}
		if v, ok := l.(*netlink.Vxlan); ok {
			s += fmt.Sprintf(" vni %d local %s port %d learning %v", v.VxlanId, v.SrcAddr, v.Port, v.Learning)
		}
		if k.learnOff[i] {
			s += " nolearning"
		}
		if k.noIPv6[i] {
			s += " noipv6"
		}
		lines = append(lines, s)
	}
	for _, n := range k.fdb {
		switch {
		case n.Flags&netlink.NTF_SELF != 0:
			lines = append(lines, fmt.Sprintf("fdb %s %s dst %s self", name(n.LinkIndex), n.HardwareAddr, n.IP))
		case n.State == netlink.NUD_NOARP:
			lines = append(lines, fmt.Sprintf("fdb %s %s master static", name(n.LinkIndex), n.HardwareAddr))
		default:
			lines = append(lines, fmt.Sprintf("fdb %s %s master dynamic", name(n.LinkIndex), n.HardwareAddr))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

package linuxvxlan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/testenv"
)

// stateOf renders, through nl, what a Dataplane may affect: every link but
// loopback, and the "self" and static "master" entries of VXLAN devices.
// It reads the in-memory kernel and a real one alike.
func stateOf(t *testing.T, nl Netlink) string {
	t.Helper()
	links, err := nl.LinkList()
	if err != nil {
		t.Fatalf("LinkList() = %v", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var lines []string
	for _, l := range links {
		a := l.Attrs()
		if a.Name == "lo" {
			continue
		}
		s := fmt.Sprintf("link %s %s up=%v mtu %d master=%s", a.Name, l.Type(), a.Flags&net.FlagUp != 0, a.MTU, names[a.MasterIndex])
		v, ok := l.(*netlink.Vxlan)
		if !ok {
			lines = append(lines, s)
			continue
		}
		lines = append(lines, s+fmt.Sprintf(" vni %d local %s port %d learning %v", v.VxlanId, v.SrcAddr, v.Port, v.Learning))
		fdb, err := nl.NeighList(a.Index, unix.AF_BRIDGE)
		if err != nil {
			t.Fatalf("NeighList(%s) = %v", a.Name, err)
		}
		for _, n := range fdb {
			switch {
			case n.Flags&netlink.NTF_SELF != 0 && n.IP != nil:
				lines = append(lines, fmt.Sprintf("fdb %s %s dst %s self", a.Name, n.HardwareAddr, n.IP))
			case IsBridgeEntry(n) && n.State == netlink.NUD_NOARP:
				lines = append(lines, fmt.Sprintf("fdb %s %s master static", a.Name, n.HardwareAddr))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestSyncKernel runs the same Syncs against a real network namespace and
// against the in-memory kernel of the other tests: same changes, same state.
// It also checks, with iproute2, what only the real kernel shows: no IPv6
// link-local address and no bridge learning on the tunnel port.
func TestSyncKernel(t *testing.T) {
	ctx := context.Background()
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("dp")
	h := lab.Handle(ns)
	fake := newFakeKernel()
	addPort := func(name string) { // a veth pair, both ends up (this kernel may lack dummy)
		lab.Veth(ns, name, ns, name+"p")
		for _, n := range []string{name, name + "p"} {
			l := fake.add(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n}})
			must(t, fake.LinkSetUp(l))
		}
	}
	addPort("tap1")
	real := newTestDataplane(t, nil)
	real.nl = h
	mem := newTestDataplane(t, fake)

	steps := []struct {
		name   string
		before func()
		nets   []Network
	}{
		{name: "initial", nets: []Network{
			{VNI: 1000, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw1}, Flood: []netip.Addr{sw1}},
			{VNI: 2000, MTU: 1400, Ports: []string{"tap2"}, Remotes: map[string]netip.Addr{bm2: sw1}, Flood: []netip.Addr{sw1, sw3}},
		}},
		{name: "entries move, port appears", before: func() { addPort("tap2") }, nets: []Network{
			{VNI: 1000, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw3, bm3: sw1}, Flood: []netip.Addr{sw3}},
			{VNI: 2000, MTU: 1400, Ports: []string{"tap2"}, Flood: []netip.Addr{sw1}},
		}},
		{name: "network removed, port moves, mtu changes", nets: []Network{
			{VNI: 2000, Ports: []string{"tap1", "tap2"}, Flood: []netip.Addr{sw1}},
		}},
		{name: "empty"},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		got, err := real.Sync(ctx, st.nets)
		if err != nil {
			t.Fatalf("%s: Sync() = %v", st.name, err)
		}
		want, err := mem.Sync(ctx, st.nets)
		if err != nil {
			t.Fatalf("%s: Sync() on the fake = %v", st.name, err)
		}
		// Learned differs: the veth peers send IPv6 ND and MLD, and the
		// kernel's bridges learn from them.
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Result{}, "Learned")); diff != "" {
			t.Errorf("%s: Sync() result, fake vs kernel (-fake +kernel):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(stateOf(t, fake), stateOf(t, h)); diff != "" {
			t.Fatalf("%s: state, fake vs kernel (-fake +kernel):\n%s", st.name, diff)
		}
		if again, err := real.Sync(ctx, st.nets); err != nil || again.Changes != 0 {
			t.Errorf("%s: second Sync() = %d changes, %v; want 0, nil", st.name, again.Changes, err)
		}
		if st.name != "initial" {
			continue
		}
		for _, dev := range []string{"tbr1000", "tvx1000"} {
			if out := lab.IP(ns, "-d", "link", "show", dev); !strings.Contains(out, "addrgenmode none") {
				t.Errorf("ip -d link show %s = %s; want addrgenmode none", dev, out)
			}
		}
		if out := lab.IP(ns, "-d", "link", "show", "tvx1000"); !strings.Contains(out, " learning off") {
			t.Errorf("ip -d link show tvx1000 = %s; want bridge port learning off", out)
		}
	}
}

// TestSyncKernelForeignVNI: a foreign VXLAN device holding a network's VNI
// (another tool's) makes that network fail, with an error that says so,
// and only that network: the other one is realised.
func TestSyncKernelForeignVNI(t *testing.T) {
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("dp")
	lab.IP(ns, "link", "add", "fvx3000", "type", "vxlan", "id", "3000", "local", local.String(), "dstport", "4789", "nolearning")
	d := newTestDataplane(t, nil)
	d.nl = lab.Handle(ns)
	res, err := d.Sync(context.Background(), []Network{{VNI: 1000, Flood: []netip.Addr{sw1}}, {VNI: 3000, Flood: []netip.Addr{sw1}}})
	if !errors.Is(err, unix.EEXIST) {
		t.Errorf("Sync() = %v; want EEXIST", err)
	}
	e := res.NetworkErrors[3000]
	if e == nil || !strings.Contains(e.Error(), "create vxlan tvx3000: file exists: another VXLAN device holds vni 3000 on udp port 4789") ||
		len(res.NetworkErrors) != 1 || res.GlobalError != nil {
		t.Errorf("Sync().NetworkErrors = %v, GlobalError %v; want vni 3000's, saying a foreign device holds it", res.NetworkErrors, res.GlobalError)
	}
	if out := lab.IP(ns, "-d", "link", "show", "tvx1000"); !strings.Contains(out, "vxlan id 1000") {
		t.Errorf("vni 1000 not realised: %s", out)
	}
}

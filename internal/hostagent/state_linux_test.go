package hostagent

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/testenv"
)

// kernelState dumps, by netlink, the state of a namespace that the host agent
// may affect, one sorted line per object:
//
//	link NAME TYPE up|down mtu N [master M] [vni V local L port P learning B]
//	fdb DEV MAC dst IP self          (VXLAN remotes, on every VXLAN device)
//	fdb DEV MAC master static        (static bridge entries)
//
// Loopback, learned (dynamic) and local (permanent) bridge entries are left
// out: the kernel owns them.
func kernelState(t *testing.T, h *netlink.Handle) string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatalf("LinkList() = %v", err)
	}
	byIndex := map[int]string{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	var lines []string
	for _, l := range links {
		a := l.Attrs()
		if a.Name == "lo" {
			continue
		}
		up := "down"
		if a.Flags&net.FlagUp != 0 {
			up = "up"
		}
		s := fmt.Sprintf("link %s %s %s mtu %d", a.Name, l.Type(), up, a.MTU)
		if a.MasterIndex != 0 {
			s += " master " + byIndex[a.MasterIndex]
		}
		if v, ok := l.(*netlink.Vxlan); ok {
			s += fmt.Sprintf(" vni %d local %s port %d learning %v", v.VxlanId, v.SrcAddr, v.Port, v.Learning)
		}
		lines = append(lines, s)
		if _, ok := l.(*netlink.Vxlan); !ok {
			continue
		}
		neighs, err := h.NeighList(a.Index, unix.AF_BRIDGE)
		if err != nil {
			t.Fatalf("NeighList(%s) = %v", a.Name, err)
		}
		for _, n := range neighs {
			switch {
			case n.Flags&netlink.NTF_SELF != 0:
				lines = append(lines, fmt.Sprintf("fdb %s %s dst %s self", a.Name, n.HardwareAddr, n.IP))
			case isBridgeEntry(n) && n.State == netlink.NUD_NOARP:
				lines = append(lines, fmt.Sprintf("fdb %s %s master static", a.Name, n.HardwareAddr))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// testNS is one namespace of a test with a netlink handle and a netns handle
// in it (for NewRealiser), both closed at cleanup.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func newTestNS(t *testing.T, lab *testenv.NetLab, role string) testNS {
	t.Helper()
	name := lab.AddNS(role)
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("netns.GetFromName(%s) = %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	return testNS{name: name, ns: ns, h: lab.Handle(name)}
}

func newTestRealiser(t *testing.T, ns netns.NsHandle, vtep string) *Realiser {
	t.Helper()
	r, err := NewRealiser(ns, RealiserConfig{VTEPIP: net.ParseIP(vtep)})
	if err != nil {
		t.Fatalf("NewRealiser() = %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

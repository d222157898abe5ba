package hostagent

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
)

const (
	vmMAC = "02:00:00:00:01:11"
	bmMAC = "02:00:00:00:01:12"
	vmIP  = "203.0.113.11"
	bmIP  = "203.0.113.12"
	swIP  = "192.0.2.1"
)

// trafficLab is vtep-lab.md section 4: a hand-made switch (bridge + VXLAN +
// a bare-metal host) and a compute host whose VM is a namespace behind a
// veth; the compute side is left to the code under test.
type trafficLab struct {
	lab                *testenv.NetLab
	compute            testNS
	vm, bm, sw, bridge string
}

func newTrafficLab(t *testing.T) *trafficLab {
	t.Helper()
	lab := testenv.NewNetLab(t)
	testenv.RequireCommand(t, "ping")
	l := &trafficLab{lab: lab, bridge: testenv.RequireCommand(t, "bridge")}
	l.compute = newTestNS(t, lab, "compute")
	l.sw = lab.AddNS("sw")
	l.bm = lab.AddNS("bm")
	l.vm = lab.AddNS("vm")

	lab.Veth(l.sw, "u0", l.compute.name, "u0")
	lab.Addr(l.sw, "u0", swIP+"/24")
	lab.Addr(l.compute.name, "u0", hostVTEP+"/24")

	lab.Veth(l.bm, "eth0", l.sw, "p1")
	lab.IP(l.bm, "link", "set", "eth0", "address", bmMAC, "mtu", "1450")
	lab.Addr(l.bm, "eth0", bmIP+"/24")
	lab.IP(l.sw, "link", "add", "br-ls1000", "type", "bridge")
	lab.IP(l.sw, "link", "add", "vx1000", "type", "vxlan", "id", "1000", "local", swIP, "dstport", "4789", "nolearning")
	lab.IP(l.sw, "link", "set", "p1", "master", "br-ls1000")
	lab.IP(l.sw, "link", "set", "vx1000", "master", "br-ls1000")
	lab.IP(l.sw, "link", "set", "vx1000", "up")
	lab.IP(l.sw, "link", "set", "br-ls1000", "up")
	l.bridgeCmd(t, l.sw, "fdb", "append", "00:00:00:00:00:00", "dev", "vx1000", "dst", hostVTEP, "self", "permanent")
	l.bridgeCmd(t, l.sw, "fdb", "append", vmMAC, "dev", "vx1000", "dst", hostVTEP, "self", "permanent")
	l.bridgeCmd(t, l.sw, "fdb", "add", vmMAC, "dev", "vx1000", "master", "static")

	lab.Veth(l.vm, "eth0", l.compute.name, "tap-vm1")
	lab.IP(l.vm, "link", "set", "eth0", "address", vmMAC, "mtu", "1450")
	lab.Addr(l.vm, "eth0", vmIP+"/24")
	return l
}

func (l *trafficLab) bridgeCmd(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command(l.bridge, append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// plan is the compute host's plan for the lab: VNI 1000, the VM's tap, the
// bare-metal MAC and flooding toward the switch.
func (l *trafficLab) plan() planner.HostPlan {
	return hostPlan(planner.HostNetwork{NetworkID: "net-1", VNI: 1000, MTU: 1450,
		Interfaces: []string{"tap-vm1"},
		FDB:        []planner.FDBEntry{{MAC: bmMAC, DstIP: swIP}},
		FloodIPs:   []string{swIP}})
}

// vxlanCounters returns the tx and rx packet counters of a device.
func vxlanCounters(t *testing.T, h *netlink.Handle, name string) (tx, rx uint64) {
	t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("LinkByName(%s) = %v", name, err)
	}
	s := link.Attrs().Statistics
	return s.TxPackets, s.RxPackets
}

// pingBothWays checks vm -> bm and bm -> vm and that the packets crossed
// the compute host's VXLAN device.
func (l *trafficLab) pingBothWays(t *testing.T) {
	t.Helper()
	tx0, rx0 := vxlanCounters(t, l.compute.h, VXLANName(1000))
	for _, p := range []struct{ from, to string }{{l.vm, bmIP}, {l.bm, vmIP}} {
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("ping %s from %s", p.to, p.from), func() (bool, string) {
			out, err := l.lab.Exec(p.from, "ping", "-c", "1", "-W", "1", p.to)
			if err != nil {
				return false, fmt.Sprintf("%v: %s", err, out)
			}
			return true, ""
		})
	}
	tx1, rx1 := vxlanCounters(t, l.compute.h, VXLANName(1000))
	if tx1 < tx0+2 || rx1 < rx0+2 {
		t.Errorf("%s counters tx %d -> %d, rx %d -> %d; want both to grow by >= 2 (echo request and reply each way)",
			VXLANName(1000), tx0, tx1, rx0, rx1)
	}
}

func TestRealiserTraffic(t *testing.T) {
	l := newTrafficLab(t)
	r := newTestRealiser(t, l.compute.ns, hostVTEP)
	if _, err := r.Realise(context.Background(), l.plan()); err != nil {
		t.Fatalf("Realise() = %v", err)
	}
	l.pingBothWays(t)

	// What the bridge tool reports agrees with the plan.
	out, err := exec.Command(l.bridge, "-n", l.compute.name, "fdb", "show", "dev", VXLANName(1000)).CombinedOutput()
	if err != nil {
		t.Fatalf("bridge fdb show: %v: %s", err, out)
	}
	for _, want := range []string{
		"00:00:00:00:00:00 dst " + swIP + " self permanent",
		bmMAC + " dst " + swIP + " self permanent",
		bmMAC + " master " + BridgeName(1000) + " static",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bridge fdb show dev %s = %s; want a line %q", VXLANName(1000), out, want)
		}
	}

	// Without the plan, the VM is cut off from the bare-metal host.
	if err := r.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}
	if out, err := l.lab.Exec(l.vm, "ping", "-c", "1", "-W", "1", bmIP); err == nil {
		t.Errorf("ping %s after Cleanup succeeded; want failure: %s", bmIP, out)
	}
}

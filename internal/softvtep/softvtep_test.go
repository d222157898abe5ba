package softvtep

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/testenv"
)

const (
	swUnderlay = "192.0.2.1"
	cpUnderlay = "192.0.2.2"
	vmIP       = "203.0.113.11"
	bmIP       = "203.0.113.12"
	vmMAC      = "02:00:00:00:01:11"
	bmMAC      = "02:00:00:00:01:12"
)

// lab is the vtep-lab.md section 4 topology: a switch namespace running the
// soft VTEP, a bare-metal host behind its binding device p1.100, and a
// compute namespace with a hand-made VXLAN 1000 + bridge + veth to a VM.
type lab struct {
	net                *testenv.NetLab
	sw, bm, cp, vm     string
	db                 *testenv.OVSDB
	swh                *netlink.Handle
	foreignBr, foreign string               // devices in sw the soft VTEP must never touch
	metrics            *prometheus.Registry // of the last soft VTEP started
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireCommand(t, "vtep-ctl")
	testenv.RequireCommand(t, "ping")
	testenv.RequireCommand(t, "bridge")
	n := testenv.NewNetLab(t)
	l := &lab{net: n, db: testenv.StartOVSDB(t, false)}
	l.sw, l.bm, l.cp, l.vm = n.AddNS("sw"), n.AddNS("bm1"), n.AddNS("cp1"), n.AddNS("vm1")
	// Bare metal, untagged, on the switch's binding device p1.100.
	n.Veth(l.bm, "eth0", l.sw, "p1.100")
	n.IP(l.bm, "link", "set", "eth0", "address", bmMAC, "mtu", "1450")
	n.Addr(l.bm, "eth0", bmIP+"/24")
	// Underlay.
	n.Veth(l.sw, "u0", l.cp, "u0")
	n.Addr(l.sw, "u0", swUnderlay+"/24")
	n.Addr(l.cp, "u0", cpUnderlay+"/24")
	// Compute host: what the host agent would realise.
	n.IP(l.cp, "link", "add", "vx1000", "type", "vxlan", "id", "1000", "local", cpUnderlay, "dstport", "4789", "nolearning")
	n.IP(l.cp, "link", "add", "br1000", "type", "bridge")
	n.Veth(l.cp, "tap-vm1", l.vm, "eth0")
	n.IP(l.vm, "link", "set", "eth0", "address", vmMAC, "mtu", "1450")
	n.Addr(l.vm, "eth0", vmIP+"/24")
	for _, dev := range []string{"vx1000", "tap-vm1"} {
		n.IP(l.cp, "link", "set", dev, "master", "br1000")
	}
	for _, dev := range []string{"vx1000", "br1000"} {
		n.IP(l.cp, "link", "set", dev, "up")
	}
	bridge(t, l.cp, "fdb", "append", "00:00:00:00:00:00", "dev", "vx1000", "dst", swUnderlay, "self", "permanent")
	// Foreign devices in the switch namespace: a bridge with a port and a
	// VXLAN with an FDB entry.
	l.foreignBr, l.foreign = "brx", "vxf"
	n.IP(l.sw, "link", "add", l.foreignBr, "type", "bridge")
	n.Veth(l.sw, "fx0", l.sw, "fx1")
	n.IP(l.sw, "link", "set", "fx0", "master", l.foreignBr)
	n.IP(l.sw, "link", "add", l.foreign, "type", "vxlan", "id", "77", "local", swUnderlay, "dstport", "4789")
	bridge(t, l.sw, "fdb", "append", "00:00:00:00:00:00", "dev", l.foreign, "dst", "192.0.2.77", "self", "permanent")
	l.swh = n.Handle(l.sw)
	return l
}

func bridge(t *testing.T, ns string, args ...string) {
	t.Helper()
	out, err := execOut("bridge", append([]string{"-n", ns}, args...)...)
	if err != nil {
		t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// foreignState describes the devices the soft VTEP must not touch.
func (l *lab) foreignState(t *testing.T) string {
	t.Helper()
	return l.net.IP(l.sw, "-br", "link", "show", "master", l.foreignBr) + "\n" +
		strings.Join(grepLines(bridgeOut(t, l.sw, "fdb", "show", "dev", l.foreign), "dst"), "\n")
}

func bridgeOut(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := execOut("bridge", append([]string{"-n", ns}, args...)...)
	if err != nil {
		t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func grepLines(s, sub string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// syncBuffer collects the soft VTEP's log, printed when the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startVTEP runs a soft VTEP for the lab and returns a function that stops
// it and waits for Run to return.
func (l *lab) startVTEP(t *testing.T, cleanup bool) (stop func()) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.metrics = prometheus.NewRegistry()
	v, err := New(logger, Config{
		OVSDB: l.db.UnixTarget(), Name: "gatewayhost", TunnelIP: netip.MustParseAddr(swUnderlay),
		Ports: []Port{{Name: "port1", Interface: "p1"}}, NetNS: l.sw,
		Cleanup: cleanup, ResyncInterval: 500 * time.Millisecond,
		Registerer: l.metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- v.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run() = %v; want nil", err)
			}
			if t.Failed() {
				t.Logf("soft-vtep log:\n%s", logs)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// swState renders the soft VTEP's devices and FDB entries in the switch
// namespace as sorted text.
func (l *lab) swState(t *testing.T) []string {
	t.Helper()
	links, err := l.swh.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[int]netlink.Link{}
	for _, k := range links {
		byIndex[k.Attrs().Index] = k
	}
	name := func(i int) string {
		if i == 0 {
			return ""
		}
		if k, ok := byIndex[i]; ok {
			return k.Attrs().Name
		}
		return fmt.Sprint(i)
	}
	var out []string
	for _, k := range links {
		a := k.Attrs()
		switch {
		case strings.HasPrefix(a.Name, "svbr"):
			out = append(out, fmt.Sprintf("bridge %s up=%v", a.Name, a.Flags&1 != 0))
		case strings.HasPrefix(a.Name, "svvx"):
			vx := k.(*netlink.Vxlan)
			out = append(out, fmt.Sprintf("vxlan %s id=%d local=%s port=%d learning=%v mtu=%d master=%s up=%v",
				a.Name, vx.VxlanId, vx.SrcAddr, vx.Port, vx.Learning, a.MTU, name(a.MasterIndex), a.Flags&1 != 0))
		case strings.HasPrefix(a.Name, "p1"):
			out = append(out, fmt.Sprintf("binding %s master=%s up=%v", a.Name, name(a.MasterIndex), a.Flags&1 != 0))
		}
	}
	neighs, err := l.swh.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range neighs {
		dev := name(n.LinkIndex)
		if !strings.HasPrefix(dev, "svvx") {
			continue
		}
		switch {
		case n.IP != nil:
			out = append(out, fmt.Sprintf("fdb %s dev %s dst %s self", n.HardwareAddr, dev, n.IP))
		case n.State == unix.NUD_NOARP && n.MasterIndex != 0:
			out = append(out, fmt.Sprintf("fdb %s dev %s master %s static", n.HardwareAddr, dev, name(n.MasterIndex)))
		}
	}
	slices.Sort(out)
	return out
}

func (l *lab) waitState(t *testing.T, want []string) {
	t.Helper()
	slices.Sort(want)
	testenv.Eventually(t, 10*time.Second, "switch namespace state", func() (bool, string) {
		if d := cmp.Diff(want, l.swState(t)); d != "" {
			return false, "(-want +got)\n" + d
		}
		return true, ""
	})
}

func (l *lab) ping(t *testing.T, from, to string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("ping %s from %s", to, from), func() (bool, string) {
		out, err := l.net.Exec(from, "ping", "-c1", "-W1", to)
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		return true, ""
	})
}

var wantBound = []string{
	"bridge svbr1000 up=true",
	"vxlan svvx1000 id=1000 local=192.0.2.1 port=4789 learning=false mtu=1450 master=svbr1000 up=true",
	"binding p1.100 master=svbr1000 up=true",
	"fdb 00:00:00:00:00:00 dev svvx1000 dst 192.0.2.2 self",
	"fdb " + vmMAC + " dev svvx1000 dst 192.0.2.2 self",
	"fdb " + vmMAC + " dev svvx1000 master svbr1000 static",
}

var wantUnbound = []string{"binding p1.100 master= up=true"}

func TestSoftVTEPLab(t *testing.T) {
	l := newLab(t)
	foreign := l.foreignState(t)
	stop := l.startVTEP(t, false)

	testenv.Eventually(t, 10*time.Second, "switch registered", func() (bool, string) {
		if got := l.vtepctl("list-ports", "gatewayhost"); got != "port1" {
			return false, fmt.Sprintf("list-ports = %q; want port1", got)
		}
		if got := l.vtepctl("get", "Physical_Switch", "gatewayhost", "tunnel_ips"); got != `["192.0.2.1"]` {
			return false, fmt.Sprintf("tunnel_ips = %s", got)
		}
		return true, ""
	})
	l.db.VTEPCtl(t, "add-ls", "ls1", "--", "set", "Logical_Switch", "ls1", "tunnel_key=1000")
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "100", "ls1")
	l.db.VTEPCtl(t, "add-ucast-remote", "ls1", vmMAC, cpUnderlay)
	l.db.VTEPCtl(t, "add-mcast-remote", "ls1", "unknown-dst", cpUnderlay)
	l.waitState(t, slices.Clone(wantBound))

	l.ping(t, l.vm, bmIP)
	l.ping(t, l.bm, vmIP)
	vx, err := l.swh.LinkByName("svvx1000")
	if err != nil {
		t.Fatal(err)
	}
	if s := vx.Attrs().Statistics; s == nil || s.TxPackets == 0 || s.RxPackets == 0 {
		t.Fatalf("svvx1000 statistics = %+v; want packets both ways through the tunnel", s)
	}
	wantLocal := bmMAC + " -> vxlan_over_ipv4/" + swUnderlay
	localMACs := func() (bool, string) {
		got := l.vtepctl("list-local-macs", "ls1")
		if n := strings.Count(got, "->"); n != 1 || !strings.Contains(got, wantLocal) {
			return false, fmt.Sprintf("list-local-macs ls1 = %q; want exactly %q", got, wantLocal)
		}
		return true, ""
	}
	testenv.Eventually(t, 10*time.Second, "bare-metal MAC published", localMACs)

	// Aged-out (here: deleted) learnt entries are withdrawn.
	bridge(t, l.sw, "fdb", "del", bmMAC, "dev", "p1.100", "master")
	testenv.Eventually(t, 10*time.Second, "aged-out MAC withdrawn", func() (bool, string) {
		if got := l.vtepctl("list-local-macs", "ls1"); strings.Contains(got, bmMAC) {
			return false, fmt.Sprintf("list-local-macs ls1 = %q; want no %s", got, bmMAC)
		}
		return true, ""
	})
	l.ping(t, l.bm, vmIP)
	testenv.Eventually(t, 10*time.Second, "MAC learnt again", localMACs)

	// Restart: devices survive the agent, and it converges without duplicates.
	stop()
	if d := cmp.Diff(sorted(wantBound), l.swState(t)); d != "" {
		t.Fatalf("state after stop (-want +got)\n%s", d)
	}
	stop = l.startVTEP(t, false)
	l.ping(t, l.vm, bmIP)
	testenv.Eventually(t, 10*time.Second, "after restart", func() (bool, string) {
		if d := cmp.Diff(sorted(wantBound), l.swState(t)); d != "" {
			return false, "(-want +got)\n" + d
		}
		if ok, msg := localMACs(); !ok {
			return false, msg
		}
		if got := l.vtepctl("--columns=dst_ip", "find", "Physical_Locator", "dst_ip="+swUnderlay); strings.Count(got, "dst_ip") != 1 {
			return false, fmt.Sprintf("own locators = %q; want one", got)
		}
		if got := l.vtepctl("list-ps"); got != "gatewayhost" {
			return false, fmt.Sprintf("list-ps = %q", got)
		}
		return true, ""
	})

	// Removing a remote MAC removes exactly its entries.
	l.db.VTEPCtl(t, "del-ucast-remote", "ls1", vmMAC)
	l.waitState(t, []string{wantBound[0], wantBound[1], wantBound[2], wantBound[3]})
	l.db.VTEPCtl(t, "add-ucast-remote", "ls1", vmMAC, cpUnderlay)
	l.waitState(t, slices.Clone(wantBound))

	// Unbinding removes the logical switch's devices, releases (never
	// deletes) the binding device, and withdraws its local MACs.
	l.db.VTEPCtl(t, "unbind-ls", "gatewayhost", "port1", "100")
	l.waitState(t, slices.Clone(wantUnbound))
	testenv.Eventually(t, 10*time.Second, "local MACs withdrawn", func() (bool, string) {
		if got := l.vtepctl("list-local-macs", "ls1"); strings.Contains(got, "->") {
			return false, fmt.Sprintf("list-local-macs ls1 = %q; want none", got)
		}
		return true, ""
	})

	// A new tunnel_key moves the binding to new devices.
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "100", "ls1")
	l.waitState(t, slices.Clone(wantBound))
	l.db.VTEPCtl(t, "set", "Logical_Switch", "ls1", "tunnel_key=1001")
	var moved []string
	for _, s := range wantBound {
		s = strings.ReplaceAll(s, "svbr1000", "svbr1001")
		moved = append(moved, strings.ReplaceAll(strings.ReplaceAll(s, "svvx1000", "svvx1001"), "id=1000", "id=1001"))
	}
	l.waitState(t, moved)
	l.db.VTEPCtl(t, "set", "Logical_Switch", "ls1", "tunnel_key=1000")
	l.waitState(t, slices.Clone(wantBound))
	l.ping(t, l.vm, bmIP)
	testenv.Eventually(t, 10*time.Second, "bare-metal MAC published", localMACs)

	// Deleting the logical switch (and every row referencing it, in one
	// transaction) removes everything.
	l.db.VTEPCtl(t, "unbind-ls", "gatewayhost", "port1", "100", "--", "clear-remote-macs", "ls1",
		"--", "clear-local-macs", "ls1", "--", "del-ls", "ls1")
	l.waitState(t, slices.Clone(wantUnbound))
	if got := l.vtepctl("list", "Ucast_Macs_Local"); got != "" {
		t.Errorf("Ucast_Macs_Local after del-ls = %q; want empty", got)
	}

	if got := l.foreignState(t); got != foreign {
		t.Errorf("foreign devices changed:\n got %q\nwant %q", got, foreign)
	}
}

// TestSoftVTEPEmptiedDatabase restarts ovsdb-server on an empty database: the
// soft VTEP registers itself again and, the bindings being gone, removes its
// devices. With Cleanup it removes them on exit.
func TestSoftVTEPEmptiedDatabase(t *testing.T) {
	l := newLab(t)
	stop := l.startVTEP(t, true)
	testenv.Eventually(t, 10*time.Second, "switch registered", func() (bool, string) {
		if got := l.vtepctl("list-ports", "gatewayhost"); got != "port1" {
			return false, fmt.Sprintf("list-ports = %q; want port1", got)
		}
		return true, ""
	})
	l.db.VTEPCtl(t, "add-ls", "ls1", "--", "set", "Logical_Switch", "ls1", "tunnel_key=1000")
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "100", "ls1")
	l.db.VTEPCtl(t, "add-ucast-remote", "ls1", vmMAC, cpUnderlay)
	l.db.VTEPCtl(t, "add-mcast-remote", "ls1", "unknown-dst", cpUnderlay)
	l.waitState(t, slices.Clone(wantBound))
	// A run is counted once it returned, just after Linux changed.
	testenv.Eventually(t, 10*time.Second, "reconcile runs counted", func() (bool, string) {
		if ok, failed := l.runs(t, "ok"), l.runs(t, "error"); ok < 1 || failed != 0 {
			return false, fmt.Sprintf("reconcile runs ok=%v error=%v; want ok >= 1, no error", ok, failed)
		}
		return true, ""
	})

	l.db.Restart(t, true)
	testenv.Eventually(t, 10*time.Second, "switch registered again", func() (bool, string) {
		if got := l.vtepctl("list-ports", "gatewayhost"); got != "port1" {
			return false, fmt.Sprintf("list-ports = %q; want port1", got)
		}
		return true, ""
	})
	l.waitState(t, slices.Clone(wantUnbound))

	l.db.VTEPCtl(t, "add-ls", "ls1", "--", "set", "Logical_Switch", "ls1", "tunnel_key=1000")
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "100", "ls1")
	l.db.VTEPCtl(t, "add-mcast-remote", "ls1", "unknown-dst", cpUnderlay)
	l.waitState(t, []string{wantBound[0], wantBound[1], wantBound[2], wantBound[3]})
	stop()
	if d := cmp.Diff(sorted(wantUnbound), l.swState(t)); d != "" {
		t.Errorf("state after stop with Cleanup (-want +got)\n%s", d)
	}
}

// TestSoftVTEPPortFault binds a VLAN whose device does not exist: the soft
// VTEP tries an 802.1Q sub-interface of p1 (absent here, and this kernel has
// no 8021q) and reports the binding in port_fault_status, while the other
// binding keeps working.
func TestSoftVTEPPortFault(t *testing.T) {
	l := newLab(t)
	l.startVTEP(t, false)
	testenv.Eventually(t, 10*time.Second, "switch registered", func() (bool, string) {
		if got := l.vtepctl("list-ports", "gatewayhost"); got != "port1" {
			return false, fmt.Sprintf("list-ports = %q; want port1", got)
		}
		return true, ""
	})
	l.db.VTEPCtl(t, "add-ls", "ls1", "--", "set", "Logical_Switch", "ls1", "tunnel_key=1000")
	l.db.VTEPCtl(t, "add-ls", "ls2", "--", "set", "Logical_Switch", "ls2", "tunnel_key=2000")
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "100", "ls1")
	l.db.VTEPCtl(t, "bind-ls", "gatewayhost", "port1", "200", "ls2")
	testenv.Eventually(t, 10*time.Second, "port fault", func() (bool, string) {
		got := l.vtepctl("get", "Physical_Port", "port1", "port_fault_status")
		if !strings.Contains(got, "vlan 200: neither p1.200 nor its parent p1 exists") {
			return false, fmt.Sprintf("port_fault_status = %s", got)
		}
		return true, ""
	})
	// The faulty binding does not disturb the working one.
	l.waitState(t, []string{
		wantBound[0], wantBound[1], wantBound[2],
		"bridge svbr2000 up=true",
		"vxlan svvx2000 id=2000 local=192.0.2.1 port=4789 learning=false mtu=1450 master=svbr2000 up=true",
	})
	l.db.VTEPCtl(t, "unbind-ls", "gatewayhost", "port1", "200")
	testenv.Eventually(t, 10*time.Second, "fault cleared", func() (bool, string) {
		if got := l.vtepctl("get", "Physical_Port", "port1", "port_fault_status"); got != "[]" {
			return false, fmt.Sprintf("port_fault_status = %s; want []", got)
		}
		return true, ""
	})
}

// vtepctl runs vtep-ctl for a poll: a failure is returned as text, not fatal.
func (l *lab) vtepctl(args ...string) string {
	out, err := execOut("vtep-ctl", append([]string{"--db=" + l.db.UnixTarget()}, args...)...)
	if err != nil {
		return fmt.Sprintf("error: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// runs is l2gw_reconcile_runs_total{component="softvtep",result=result} of
// the last soft VTEP started.
func (l *lab) runs(t *testing.T, result string) float64 {
	t.Helper()
	mfs, err := l.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "l2gw_reconcile_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["component"] == "softvtep" && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestTraffic is issue 5's end-to-end test: the seed's workflow, through the
// API only, makes VMs on two compute hosts and two bare-metal hosts behind a
// VTEP switch on VLAN 100 reach each other over VXLAN VNI 1000; deleting the
// connection stops it and removes exactly the gateway's part of what l2gw
// made (the VMs, meshed in standalone mode, still reach each other);
// re-creating it restores it. It runs once per switch implementation: l2gw's
// soft VTEP and Open vSwitch's ovs-vtep. Nothing is left behind (namespaces,
// processes).
func TestTraffic(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []string{"go", "ip", "bridge", "ping", "ovsdb-server", "ovsdb-tool", "ovsdb-client", "vtep-ctl"} {
		testenv.RequireCommand(t, c)
	}
	if _, err := os.Stat(testenv.VTEPSchema); err != nil {
		testenv.Missing(t, testenv.VTEPSchema+" (openvswitch-vtep)")
	}
	bin := testenv.BuildL2GW(t)
	for _, kind := range []SwitchKind{SoftVTEP, OVSVTEP} {
		var (
			prefix string
			pids   []int
		)
		t.Run(string(kind), func(t *testing.T) {
			if kind == OVSVTEP {
				for _, c := range []string{"ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"} {
					testenv.RequireCommand(t, c)
				}
				if f := OVSVTEPMissing(); f != "" {
					testenv.Missing(t, f+" (openvswitch-switch, openvswitch-vtep, python3-openvswitch)")
				}
			}
			start := time.Now()
			lab := NewLab(t, LabConfig{Bin: bin, Switch: kind})
			prefix = lab.Prefix
			t.Logf("lab %s up in %v", lab.Prefix, time.Since(start).Round(time.Millisecond))
			seedWorkflow(t, lab)
			pids = lab.PIDs()
		})
		if prefix != "" {
			checkNothingLeft(t, prefix, pids)
		}
	}
}

// seedWorkflow runs the seed's workflow on lab and checks the traffic and
// the state at each step.
func seedWorkflow(t *testing.T, lab *Lab) {
	lab.MustCLI("net-create", "net1", "--vni", fmt.Sprint(VNI))
	for _, p := range []struct {
		vm          Endpoint
		host, iface string
	}{{lab.VM1, "compute1", "tap1"}, {lab.VM2, "compute2", "tap2"}} {
		lab.MustCLI("port-create", "net1", "--name", p.vm.Name, "--mac", p.vm.MAC, "--ip", p.vm.IP,
			"--host", p.host, "--interface", p.iface)
	}
	waitHostsAlive(t, lab, "compute1", "compute2")
	lab.MustCLI("l2-gateway-create", "gw1", "--device", "name="+SwitchName+`,interface_names=port1;port2`)

	// Before the connection: the switch is known to the API; the hosts hold
	// net1's host overlay (standalone mode: each host sends to the other's
	// VM and floods to it), and nothing of a gateway is on the hosts or on
	// the switch.
	before := waitSteadyState(t, lab, func() error {
		var sw struct {
			Name      string `json:"name"`
			Connected bool   `json:"connected"`
		}
		if err := lab.CLIJSON(&sw, "switch-show", SwitchName); err != nil {
			return err
		}
		if !sw.Connected {
			return fmt.Errorf("switch %s not connected: %+v", SwitchName, sw)
		}
		return meshRealised(lab)
	})
	checkNoGatewayPart(t, lab, "before the connection", before)
	for _, err := range pingVMs(lab, true) {
		t.Errorf("before the connection: %v", err)
	}
	for _, err := range pingAll(lab, false) {
		t.Errorf("before the connection: %v", err)
	}

	connect := func() string {
		var conn struct {
			ID string `json:"id"`
		}
		if err := lab.CLIJSON(&conn, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", fmt.Sprint(VLAN)); err != nil {
			t.Fatal(err)
		}
		return conn.ID
	}
	connID := connect()
	checkConnected(t, lab)
	// What l2gw made is visible in the state the delete check compares.
	connected, err := lab.State()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"compute1 links": "l2vx1000 vxlan master=l2br1000", "compute2 links": "tap2 veth master=l2br1000",
		"vtep Logical_Switch": ",1000", "vtep Ucast_Macs_Remote": strings.ToLower(lab.VM1.MAC),
	} {
		if !strings.Contains(strings.ToLower(connected[key]), want) {
			t.Errorf("connected state %q has no %q:\n%s", key, want, connected[key])
		}
	}
	if lab.Kind == OVSVTEP {
		// Both directions of the VLAN 100 bindings carried packets.
		flows, err := lab.TaggedFlows()
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) < 4 {
			t.Errorf("ovs-vtep VLAN %d flows with packets = %q; want in and out flows of port1 and port2", VLAN, flows)
		}
	}
	// The pings crossed the tunnels (the devices are new: counters from 0).
	rx, tx := vxlanCounters(t, lab)
	for i, h := range []string{"compute1", "compute2"} {
		if rx[i] == 0 || tx[i] == 0 {
			t.Errorf("%s l2vx1000 rx %d tx %d packets; want both > 0", h, rx[i], tx[i])
		}
	}

	lab.MustCLI("l2-gateway-connection-delete", connID)
	if err := testenv.Poll(context.Background(), 15*time.Second, func() error {
		if lab.Ping(lab.VM1, lab.BM1.IP, time.Second) == nil {
			return fmt.Errorf("vm1 still reaches bm1")
		}
		return nil
	}); err != nil {
		t.Fatalf("after connection delete: %v", err)
	}
	for _, err := range pingAll(lab, false) {
		t.Errorf("after connection delete: %v", err)
	}
	checkGatewayPartGone(t, lab, before)

	connID = connect()
	checkConnected(t, lab)
	checkStatus(t, lab, connID)
}

// checkGatewayPartGone asserts that, after a connection delete, the lab's
// state is back to before (taken before the connection, and free of any
// gateway's part: checkNoGatewayPart): on the hosts the host overlay alone,
// with the same devices and FDB entries, on the switch the same rows. The
// VMs still reach each other.
func checkGatewayPartGone(t *testing.T, lab *Lab, before State) {
	t.Helper()
	var last State
	if err := testenv.Poll(context.Background(), 15*time.Second, func() error {
		s, err := lab.State()
		if err != nil {
			return err
		}
		last = s
		if d := cmp.Diff(before, s); d != "" {
			return fmt.Errorf("state differs (-before +after):\n%s", d)
		}
		return nil
	}); err != nil {
		t.Errorf("after connection delete, the gateway's part of what l2gw made is not all gone: %v", err)
	}
	checkNoGatewayPart(t, lab, "after connection delete", last)
	for _, err := range pingVMs(lab, true) {
		t.Errorf("after connection delete: %v", err)
	}
}

// meshRealised reports whether both compute hosts hold net1's host overlay:
// the other host's VM behind its VTEP, and flooding to it.
func meshRealised(lab *Lab) error {
	for _, c := range []struct {
		ns, peerIP string
		peer       Endpoint
	}{{lab.Compute1, Compute2IP, lab.VM2}, {lab.Compute2, Compute1IP, lab.VM1}} {
		for _, mac := range []string{c.peer.MAC, "00:00:00:00:00:00"} {
			ok, err := lab.FDBHas(c.ns, "l2vx1000", mac, c.peerIP)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s: no FDB entry %s dev l2vx1000 dst %s", c.ns, mac, c.peerIP)
			}
		}
	}
	return nil
}

// checkNoGatewayPart asserts that state s holds nothing of a gateway: on the
// compute hosts no FDB entry toward the switch and none of a bare-metal
// MAC, and on the switch no logical switch and no remote MAC (the lab's
// switch has none of its own).
func checkNoGatewayPart(t *testing.T, lab *Lab, when string, s State) {
	t.Helper()
	for _, host := range []string{"compute1", "compute2"} {
		for _, line := range strings.Split(strings.ToLower(s[host+" fdb"]), "\n") {
			for _, bad := range []string{"dst " + SwitchIP + " ", strings.ToLower(lab.BM1.MAC), strings.ToLower(lab.BM2.MAC)} {
				if strings.Contains(line+" ", bad) {
					t.Errorf("%s: %s FDB has a gateway entry (%q): %s", when, host, bad, line)
				}
			}
		}
	}
	for _, table := range []string{"Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"} {
		if rows := s["vtep "+table]; rows != "" {
			t.Errorf("%s: the switch has %s rows:\n%s", when, table, rows)
		}
	}
}

// pingVMs pings between vm1 and vm2, both ways, and returns one error per
// direction that did not behave as want.
func pingVMs(lab *Lab, want bool) []error {
	return pingPairs(lab, [][2]Endpoint{{lab.VM1, lab.VM2}, {lab.VM2, lab.VM1}}, want)
}

// checkConnected asserts the connected state: pings both ways between every
// VM and bare-metal host, the bare-metal MACs in the API and in both compute
// hosts' FDB toward the switch.
func checkConnected(t *testing.T, lab *Lab) {
	t.Helper()
	start := time.Now()
	if err := lab.PingUntil(lab.VM1, lab.BM1.IP, 30*time.Second); err != nil {
		t.Fatalf("after connection create: %v", err)
	}
	t.Logf("vm1 -> bm1 first reply %v after the connection was created", time.Since(start).Round(time.Millisecond))
	for _, err := range pingAll(lab, true) {
		t.Errorf("connected: %v", err)
	}
	err := testenv.Poll(context.Background(), 15*time.Second, func() error {
		var macs []struct {
			Switch     string `json:"switch"`
			MACAddress string `json:"mac_address"`
		}
		if err := lab.CLIJSON(&macs, "local-mac-list", "--network", "net1"); err != nil {
			return err
		}
		for _, bm := range []Endpoint{lab.BM1, lab.BM2} {
			found := false
			for _, m := range macs {
				found = found || (strings.EqualFold(m.MACAddress, bm.MAC) && m.Switch == SwitchName)
			}
			if !found {
				return fmt.Errorf("local-mac-list has no %s (%s) on %s: %+v", bm.Name, bm.MAC, SwitchName, macs)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("API: %v", err)
	}
	err = testenv.Poll(context.Background(), 15*time.Second, func() error {
		for _, ns := range []string{lab.Compute1, lab.Compute2} {
			for _, bm := range []Endpoint{lab.BM1, lab.BM2} {
				ok, err := lab.FDBHas(ns, "l2vx1000", bm.MAC, SwitchIP)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%s: no FDB entry %s dev l2vx1000 dst %s", ns, bm.MAC, SwitchIP)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("compute FDB: %v", err)
	}
}

// pingAll pings between every VM and every bare-metal host, both ways, in
// parallel, and returns one error per pair that did not behave as want
// (reachable or not).
func pingAll(lab *Lab, want bool) []error {
	var pairs [][2]Endpoint
	for _, vm := range []Endpoint{lab.VM1, lab.VM2} {
		for _, bm := range []Endpoint{lab.BM1, lab.BM2} {
			pairs = append(pairs, [2]Endpoint{vm, bm}, [2]Endpoint{bm, vm})
		}
	}
	return pingPairs(lab, pairs, want)
}

// pingPairs pings from the first endpoint of each pair to the second, in
// parallel, and returns one error per pair that did not behave as want.
func pingPairs(lab *Lab, pairs [][2]Endpoint, want bool) []error {
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		from, to := p[0], p[1]
		wg.Go(func() {
			var err error
			if want {
				err = lab.PingUntil(from, to.IP, 10*time.Second)
			} else if lab.Ping(from, to.IP, time.Second) == nil {
				err = fmt.Errorf("%s -> %s (%s) answered", from.Name, to.Name, to.IP)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// waitHostsAlive polls the API until the named hosts are registered and
// alive (their host agents' heartbeats).
func waitHostsAlive(t *testing.T, lab *Lab, names ...string) {
	t.Helper()
	err := testenv.Poll(context.Background(), 30*time.Second, func() error {
		var hosts []struct {
			Name   string `json:"name"`
			VTEPIP string `json:"vtep_ip"`
			Alive  bool   `json:"alive"`
		}
		if err := lab.CLIJSON(&hosts, "host-list"); err != nil {
			return err
		}
		for _, n := range names {
			ok := false
			for _, h := range hosts {
				ok = ok || (h.Name == n && h.Alive && h.VTEPIP != "")
			}
			if !ok {
				return fmt.Errorf("host %s not registered and alive: %+v", n, hosts)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitSteadyState polls until ready passes and two reads of the lab's state
// in a row are equal, and returns that state.
func waitSteadyState(t *testing.T, lab *Lab, ready func() error) State {
	t.Helper()
	var last State
	err := testenv.Poll(context.Background(), 30*time.Second, func() error {
		if err := ready(); err != nil {
			return err
		}
		s, err := lab.State()
		if err != nil {
			return err
		}
		if last == nil || !cmp.Equal(last, s) {
			last = s
			return fmt.Errorf("state still changing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// vxlanCounters returns the rx and tx packet counters of l2vx1000 on
// compute1 and compute2.
func vxlanCounters(t *testing.T, lab *Lab) (rx, tx [2]uint64) {
	t.Helper()
	for i, ns := range []string{lab.Compute1, lab.Compute2} {
		r, x, err := VXLANPackets(ns, "l2vx1000")
		if err != nil {
			t.Fatal(err)
		}
		rx[i], tx[i] = r, x
	}
	return rx, tx
}

// checkNothingLeft asserts that a finished lab left no namespace and no
// process behind.
func checkNothingLeft(t *testing.T, prefix string, pids []int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), prefix) {
		t.Errorf("namespaces left behind:\n%s", out)
	}
	out, err = exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	if strings.Contains(string(out), prefix) {
		t.Errorf("links left behind:\n%s", out)
	}
	for _, pid := range pids {
		if testenv.Alive(pid) {
			t.Errorf("process %d left running", pid)
		}
	}
}

// checkStatus asserts what the API measures once traffic flows: the
// connection in_sync on the switch and on both compute hosts (their agents
// report the VMs' taps attached), and both VM ports ACTIVE.
func checkStatus(t *testing.T, lab *Lab, connID string) {
	t.Helper()
	err := testenv.Poll(context.Background(), 15*time.Second, func() error {
		var st struct {
			State  string `json:"state"`
			Status []struct {
				Switch, State, Reason string
			} `json:"status"`
			Hosts []struct {
				Host, State, Reason string
			} `json:"hosts"`
		}
		if err := lab.CLIJSON(&st, "l2-gateway-connection-status", connID); err != nil {
			return err
		}
		if st.State != "in_sync" || len(st.Status) != 1 || len(st.Hosts) != 2 || st.Hosts[0].Host != "compute1" || st.Hosts[1].Host != "compute2" {
			return fmt.Errorf("connection status %+v; want in_sync on %s, compute1 and compute2", st, SwitchName)
		}
		var ports []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		}
		if err := lab.CLIJSON(&ports, "port-list", "--network", "net1"); err != nil {
			return err
		}
		for _, p := range ports {
			if p.Status != "ACTIVE" {
				return fmt.Errorf("port %s status %s; want ACTIVE (its tap is attached)", p.Name, p.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("status: %v", err)
	}
}

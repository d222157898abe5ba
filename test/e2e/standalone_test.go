package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestStandalone is issue 9 item 10: with l2gw's own inventory the host
// agents realise a whole network, not just its gateway's part. Two VMs on
// two compute hosts reach each other with no gateway at all; once the
// network is connected they both reach the bare-metal hosts too; after the
// connection is deleted they still reach each other, the bare-metal hosts
// no longer, and the lab is exactly as before the connection. Deleting a
// VM's port then removes its host's devices and the other host's entries
// toward it.
func TestStandalone(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []string{"go", "ip", "bridge", "ping", "ovsdb-server", "ovsdb-tool", "ovsdb-client", "vtep-ctl"} {
		testenv.RequireCommand(t, c)
	}
	if _, err := os.Stat(testenv.VTEPSchema); err != nil {
		testenv.Missing(t, testenv.VTEPSchema+" (openvswitch-vtep)")
	}
	bin := testenv.BuildL2GW(t)
	var (
		prefix string
		pids   []int
	)
	t.Run("soft-vtep", func(t *testing.T) {
		lab := NewLab(t, LabConfig{Bin: bin, Switch: SoftVTEP})
		prefix = lab.Prefix
		standaloneWorkflow(t, lab)
		pids = lab.PIDs()
	})
	if prefix != "" {
		checkNothingLeft(t, prefix, pids)
	}
}

func standaloneWorkflow(t *testing.T, lab *Lab) {
	lab.MustCLI("net-create", "net1", "--vni", fmt.Sprint(VNI))
	var vm2Port struct {
		ID string `json:"id"`
	}
	lab.MustCLI("port-create", "net1", "--name", "vm1", "--mac", lab.VM1.MAC, "--ip", lab.VM1.IP,
		"--host", "compute1", "--interface", "tap1")
	if err := lab.CLIJSON(&vm2Port, "port-create", "net1", "--name", "vm2", "--mac", lab.VM2.MAC, "--ip", lab.VM2.IP,
		"--host", "compute2", "--interface", "tap2"); err != nil {
		t.Fatal(err)
	}
	waitHostsAlive(t, lab, "compute1", "compute2")

	// No gateway at all: the VMs reach each other through the hosts' VXLAN
	// devices, and nothing else.
	start := time.Now()
	if err := lab.PingUntil(lab.VM1, lab.VM2.IP, 30*time.Second); err != nil {
		t.Fatalf("without a gateway: %v", err)
	}
	t.Logf("vm1 -> vm2 first reply %v after the hosts were alive", time.Since(start).Round(time.Millisecond))
	for _, err := range pingVMs(lab, true) {
		t.Errorf("without a gateway: %v", err)
	}
	rx, tx := vxlanCounters(t, lab)
	for i, h := range []string{"compute1", "compute2"} {
		if rx[i] == 0 || tx[i] == 0 {
			t.Errorf("without a gateway: %s l2vx1000 rx %d tx %d packets; want both > 0 (the pings crossed the tunnel)", h, rx[i], tx[i])
		}
	}
	for _, err := range pingAll(lab, false) {
		t.Errorf("without a gateway: %v", err)
	}

	lab.MustCLI("l2-gateway-create", "gw1", "--device", "name="+SwitchName+`,interface_names=port1;port2`)
	before := waitSteadyState(t, lab, func() error { return meshRealised(lab) })
	checkNoGatewayPart(t, lab, "before the connection", before)

	// Connected: both VMs reach the bare-metal hosts, and still each other.
	var conn struct {
		ID string `json:"id"`
	}
	if err := lab.CLIJSON(&conn, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", fmt.Sprint(VLAN)); err != nil {
		t.Fatal(err)
	}
	checkConnected(t, lab)
	for _, err := range pingVMs(lab, true) {
		t.Errorf("connected: %v", err)
	}

	// Disconnected: exactly the gateway's part goes.
	lab.MustCLI("l2-gateway-connection-delete", conn.ID)
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

	// vm2's port goes: compute2 has no port of net1 left, so no device of
	// it, and compute1 neither sends nor floods to compute2 any more.
	lab.MustCLI("port-delete", vm2Port.ID)
	err := testenv.Poll(context.Background(), 15*time.Second, func() error {
		s, err := lab.State()
		if err != nil {
			return err
		}
		if links := s["compute2 links"]; strings.Contains(links, "l2vx") || strings.Contains(links, "l2br") {
			return fmt.Errorf("compute2 still has devices of net1:\n%s", links)
		}
		if !strings.Contains(s["compute1 links"], "l2vx1000 vxlan master=l2br1000") {
			return fmt.Errorf("compute1 lost net1's devices:\n%s", s["compute1 links"])
		}
		if fdb := s["compute1 fdb"]; strings.Contains(fdb, "dst "+Compute2IP+" ") ||
			strings.Contains(strings.ToLower(fdb), strings.ToLower(lab.VM2.MAC)) {
			return fmt.Errorf("compute1 still has entries toward compute2:\n%s", fdb)
		}
		return nil
	})
	if err != nil {
		t.Errorf("after vm2's port delete: %v", err)
	}
	if lab.Ping(lab.VM1, lab.VM2.IP, time.Second) == nil {
		t.Errorf("after vm2's port delete: vm1 still reaches vm2")
	}
}

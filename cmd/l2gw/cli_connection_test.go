package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestCLIConnectionWaitHosts: `l2gw l2-gateway-connection-create … --wait`
// (the binary) exits 0 once the switch and two real host agents, each in
// its network namespace with a port of the network, have realised the
// connection; at that moment the switch binds the VLAN and both hosts
// flood to the switch.
func TestCLIConnectionWaitHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs l2gw host agents in network namespaces")
	}
	lab := testenv.NewNetLab(t)
	url, o := startServerWithSwitch(t)
	bin := testenv.BuildL2GW(t)
	mustCLI(t, url, "net-create", "net1", "--vni", "1000")
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	hosts := map[string]string{"compute1": "192.0.2.2", "compute2": "192.0.2.3"}
	ns := map[string]string{}
	for h, ip := range hosts {
		ns[h] = lab.AddNS(h)
		lab.Addr(ns[h], "lo", ip+"/32")
		lab.Veth(ns[h], "tap-"+h, ns[h], "vm-"+h) // the VM's interface, as nova plugs it
		testenv.StartL2GW(t, "host-agent "+h, bin, "host-agent", "--server", url, "--host", h, "--vtep-ip", ip,
			"--netns", ns[h], "--heartbeat", "500ms")
		mustCLI(t, url, "port-create", "net1", "--name", "vm-"+h, "--host", h, "--interface", "tap-"+h)
	}
	testenv.Eventually(t, 30*time.Second, "both host agents alive", func() (bool, string) {
		out, err := runCLI(t, url, "-f", "value", "-c", "name", "-c", "alive", "host-list")
		return err == nil && strings.Count(out, " true") == 2, out
	})

	start := time.Now()
	cmd := exec.Command(bin, "--url", url, "-f", "value", "-c", "id", "l2-gateway-connection-create", "gw1", "net1",
		"--default-segmentation-id", "100", "--wait", "--wait-timeout", "60s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("l2gw l2-gateway-connection-create … --wait: %v; want exit status 0\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	id := strings.TrimSpace(string(out))
	t.Logf("--wait returned after %s", time.Since(start).Round(time.Millisecond))

	// Returned: everything is realised already, no waiting here.
	if b := o.VTEPCtl(t, "list-bindings", "gatewayhost", "port1"); !strings.HasPrefix(b, "0100 ") {
		t.Errorf("port1 bindings after --wait = %q; want VLAN 100 bound", b)
	}
	for h := range hosts {
		fdb, err := lab.Exec(ns[h], "bridge", "fdb", "show", "dev", "l2vx1000")
		if err != nil || !strings.Contains(fdb, "00:00:00:00:00:00 dst 192.0.2.10") {
			t.Errorf("%s l2vx1000 FDB after --wait = %q, %v; want flooding to the switch 192.0.2.10", h, fdb, err)
		}
	}
	st := cliJSON[agentwire.ConnectionStatus](t, url, "l2-gateway-connection-status", id)
	var got []string
	for _, s := range st.Status {
		got = append(got, fmt.Sprintf("switch %s %s", s.Switch, s.State))
	}
	for _, h := range st.Hosts {
		got = append(got, fmt.Sprintf("host %s %s", h.Host, h.State))
	}
	if want := "switch gatewayhost in_sync, host compute1 in_sync, host compute2 in_sync"; st.State != agentwire.StateInSync || strings.Join(got, ", ") != want {
		t.Errorf("status after --wait = %s: %s; want in_sync: %s", st.State, strings.Join(got, ", "), want)
	}
}

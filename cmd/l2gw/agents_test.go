package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// ovsdbDump is the switch's database (CSV, so that no column width
// depends on another row) without the lease epoch and agent the switch
// agent writes into Physical_Switch other_config (its fence, which stays).
func ovsdbDump(t *testing.T, o *testenv.OVSDB) string {
	t.Helper()
	out, err := exec.Command("ovsdb-client", "dump", "-f", "csv", o.UnixTarget(), "hardware_vtep").CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client dump: %v: %s", err, out)
	}
	// CSV quotes a map with a comma: quotes are dropped, or removing keys
	// would leave them around the rest.
	return dumpMap.ReplaceAllStringFunc(strings.ReplaceAll(string(out), `"`, ""), func(m string) string {
		kvs := strings.Split(strings.Trim(m, "{}"), ", ")
		kvs = slices.DeleteFunc(kvs, func(kv string) bool {
			return strings.HasPrefix(kv, switchagent.EpochKey+"=") || strings.HasPrefix(kv, switchagent.AgentKey+"=")
		})
		return "{" + strings.Join(kvs, ", ") + "}"
	})
}

var dumpMap = regexp.MustCompile(`\{[^{}]*\}`)

// remoteMACs is the switch's only logical switch's remote MACs (vtep-ctl
// list-remote-macs), or why there is none.
func remoteMACs(t *testing.T, o *testenv.OVSDB) (string, bool) {
	ls := o.VTEPCtl(t, "list-ls")
	if ls == "" || strings.Contains(ls, "\n") {
		return "logical switches: " + ls, false
	}
	if b := o.VTEPCtl(t, "list-bindings", "gatewayhost", "port1"); b != "0100 "+ls {
		return "port1 bindings: " + b, false
	}
	return o.VTEPCtl(t, "list-remote-macs", ls), true
}

// TestSwitchAgentProcess runs `l2gw switch-agent` as its own process
// against a real ovsdb-server and an `l2gw server` process that is
// restarted on the same data directory and port: the agent reconnects,
// resumes and keeps converging.
func TestSwitchAgentProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1", "--", "add-port", "gatewayhost", "port2")
	before := ovsdbDump(t, o)
	bin := testenv.BuildL2GW(t)
	dataDir := filepath.Join(t.TempDir(), "state")

	srv := testenv.StartL2GW(t, "server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", dataDir)
	addr := srv.Listening(t)
	agent := testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", "http://"+addr, "--switch", o.UnixTarget(),
		"--probe-interval", "1s", "--log-level", "debug")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := client.New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.1"})
	must(err)
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute2", VTEPIP: "192.0.2.2"})
	must(err)
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	for _, p := range []neutron.PortCreate{
		{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1"},
		{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:02", HostID: "compute2"},
	} {
		_, err = c.CreatePort(ctx, p)
		must(err)
	}
	testenv.Eventually(t, 30*time.Second, "the agent reports gatewayhost", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet"
	})
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port2"}}}}})
	must(err)
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)

	want := `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1
  fa:16:3e:00:00:02 -> vxlan_over_ipv4/192.0.2.2

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.1
  unknown-dst -> vxlan_over_ipv4/192.0.2.2`
	converged := func(what string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, what, func() (bool, string) {
			got, ok := remoteMACs(t, o)
			return ok && got == want, got
		})
		testenv.Eventually(t, 30*time.Second, what+": connection in sync", func() (bool, string) {
			st, err := c.ConnectionStatus(ctx, conn.ID)
			if err != nil || len(st.Status) != 1 {
				return false, "status: " + errString(err)
			}
			return st.Status[0].State == agentwire.StateInSync, st.Status[0].State + " " + st.Status[0].Reason
		})
	}
	converged("seed connection programmed by the agent process")
	out, err := exec.Command(bin, "--url", "http://"+addr, "l2-gateway-connection-status", conn.ID).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gatewayhost") || !strings.Contains(string(out), "in_sync") {
		t.Errorf("l2gw l2-gateway-connection-status = %v\n%s; want gatewayhost in_sync", err, out)
	}
	out, err = exec.Command(bin, "--url", "http://"+addr, "-f", "json", "l2-gateway-connection-status", conn.ID).Output()
	var st agentwire.ConnectionStatus
	if err != nil || json.Unmarshal(out, &st) != nil || len(st.Status) != 1 || st.Status[0].State != agentwire.StateInSync {
		t.Errorf("l2gw -f json l2-gateway-connection-status = %v\n%s; want one in_sync entry", err, out)
	}

	// The server restarts on the same data directory and port; the agent
	// keeps running, reconnects and follows the changes made afterwards.
	srv.Terminate(t)
	srv = testenv.StartL2GW(t, "server (restarted)", bin, "server", "--bind", addr, "--data-dir", dataDir)
	if got := srv.Listening(t); got != addr {
		t.Fatalf("restarted server listens on %s; want %s", got, addr)
	}
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:03", HostID: "compute2"})
	must(err)
	want = strings.Replace(want, "vxlan_over_ipv4/192.0.2.2\n", "vxlan_over_ipv4/192.0.2.2\n  fa:16:3e:00:00:03 -> vxlan_over_ipv4/192.0.2.2\n", 1)
	converged("a port created after the server restart")
	if !agent.Running() {
		t.Fatal("the switch agent exited while the server restarted")
	}

	// An agent killed with -9 says nothing; the server shows its switch
	// disconnected once the agent's plan stream is gone, and connected
	// again when a new agent takes over.
	agent.Kill(t)
	testenv.Eventually(t, 30*time.Second, "the killed agent's switch shows as disconnected", func() (bool, string) {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil && !sw.Connected && sw.SyncError == agentapi.ErrAgentGone, fmt.Sprintf("%+v %v", sw, err)
	})
	agent = testenv.StartL2GW(t, "switch-agent (new)", bin, "switch-agent", "--server", "http://"+addr, "--switch", o.UnixTarget(),
		"--probe-interval", "1s")
	testenv.Eventually(t, 30*time.Second, "the new agent's switch shows as connected", func() (bool, string) {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil && sw.Connected && sw.SyncError == "", fmt.Sprintf("%+v %v", sw, err)
	})

	// Deleting the connection leaves the switch exactly as it was.
	must(c.DeleteConnection(ctx, conn.ID))
	testenv.Eventually(t, 30*time.Second, "switch back to its state before the connection", func() (bool, string) {
		got := ovsdbDump(t, o)
		return got == before, got
	})
	agent.Terminate(t)
	testenv.Eventually(t, 30*time.Second, "the stopped agent shows as disconnected", func() (bool, string) {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil && !sw.Connected, "still connected"
	})
	srv.Terminate(t)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestHostAgentProcess runs `l2gw host-agent` as its own process in a
// network namespace against an `l2gw server` process: it registers and
// heartbeats (alive in /v2.0/hosts), and realises its plan stream.
func TestHostAgentProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute9")
	lab.Addr(ns, "lo", "192.0.2.9/32")
	bin := testenv.BuildL2GW(t)
	srv, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	agent := testenv.StartL2GW(t, "host-agent", bin, "host-agent", "--server", base, "--host", "compute9", "--vtep-ip", "192.0.2.9",
		"--netns", ns, "--heartbeat", "200ms", "--log-level", "debug")

	var first neutron.Host
	testenv.Eventually(t, 30*time.Second, "compute9 registered and alive", func() (bool, string) {
		hs, err := c.ListHosts(ctx, client.Filter("name", "compute9"))
		if err != nil || len(hs) != 1 {
			return false, "hosts: " + errString(err)
		}
		first = hs[0]
		return hs[0].Alive && hs[0].VTEPIP == "192.0.2.9", "not alive"
	})
	testenv.Eventually(t, 30*time.Second, "heartbeats advance", func() (bool, string) {
		h, err := c.GetHost(ctx, first.ID)
		return err == nil && h.Alive && h.LastHeartbeat.After(first.LastHeartbeat.Time), "heartbeat " + h.LastHeartbeat.String()
	})

	// A switch (reported over the agent protocol), a network with a port on
	// compute9, and a connection: the host's plan has the network.
	link := agentlink.New(c, agentlink.Config{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(link.ReportSwitch(ctx, storeSwitchReport("sw1", "192.0.2.10", "p1")))
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	port, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:09", HostID: "compute9"})
	must(err)
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "sw1",
		Interfaces: []neutron.InterfaceRequest{{Name: "p1"}}}}})
	must(err)
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "l2vx1000 flooding to the switch", func() (bool, string) {
		link := lab.IP(ns, "-d", "link", "show")
		if !strings.Contains(link, "l2vx1000") || !strings.Contains(link, "vxlan id 1000") {
			return false, link
		}
		fdb, err := lab.Exec(ns, "bridge", "fdb", "show", "dev", "l2vx1000")
		return err == nil && strings.Contains(fdb, "00:00:00:00:00:00 dst 192.0.2.10"), fdb
	})

	// The connection goes: only the gateway's part leaves the host (the
	// network keeps its device while compute9 has a port on it).
	must(c.DeleteConnection(ctx, conn.ID))
	testenv.Eventually(t, 30*time.Second, "no flooding to the switch", func() (bool, string) {
		fdb, err := lab.Exec(ns, "bridge", "fdb", "show", "dev", "l2vx1000")
		return err == nil && !strings.Contains(fdb, "dst 192.0.2.10"), fdb
	})
	// The port goes: so does the network's device.
	must(c.DeletePort(ctx, port.ID))
	testenv.Eventually(t, 30*time.Second, "l2vx1000 removed", func() (bool, string) {
		link := lab.IP(ns, "link", "show")
		return !strings.Contains(link, "l2vx1000") && !strings.Contains(link, "l2br1000"), link
	})
	agent.Terminate(t)
	srv.Terminate(t)
}

func storeSwitchReport(name, tunnelIP string, ports ...string) model.SwitchReport {
	sw := model.Switch{Name: name, TunnelIPs: []string{tunnelIP}}
	for _, p := range ports {
		sw.Ports = append(sw.Ports, model.SwitchPort{Name: p})
	}
	return model.SwitchReport{Switch: sw}
}

func TestSwitchAgentFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring; empty: valid
		targets int
	}{
		{"one target", []string{"--server", "http://x", "--switch", "tcp:192.0.2.1:6640"}, nil, "", 1},
		{"two targets", []string{"--server", "http://x", "--switch", "unix:/a.sock", "--switch", "tcp:h:6640"}, nil, "", 2},
		{"env fallback", nil, map[string]string{"L2GW_SWITCH_AGENT_SERVER": "http://x", "L2GW_SWITCH_AGENT_SWITCH": "unix:/a.sock,unix:/b.sock"}, "", 2},
		{"pinned name", []string{"--server", "http://x", "--switch", "unix:/a.sock", "--name", "gatewayhost"}, nil, "", 1},
		{"no server", []string{"--switch", "unix:/a.sock"}, nil, "--server", 0},
		{"no switch", []string{"--server", "http://x"}, nil, "--switch is required", 0},
		{"bad target", []string{"--server", "http://x", "--switch", "http://sw:6640"}, nil, "want tcp:", 0},
		{"duplicate", []string{"--server", "http://x", "--switch", "unix:/a", "--switch", "unix:/a"}, nil, "twice", 0},
		{"name with two targets", []string{"--server", "http://x", "--switch", "unix:/a", "--switch", "unix:/b", "--name", "n"}, nil, "single", 0},
		{"ssl without certs", []string{"--server", "http://x", "--switch", "ssl:sw:6640"}, nil, "--ssl-cert", 0},
		{"partial certs", []string{"--server", "http://x", "--switch", "ssl:sw:6640", "--ssl-cert", "c.pem"}, nil, "go together", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cmd := newSwitchAgentCmd()
			var got []string
			cmd.RunE = func(cmd *cobra.Command, _ []string) error { return nil } // parse only
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if err := envFlags(cmd, "L2GW_SWITCH_AGENT_"); err != nil {
				t.Fatal(err)
			}
			o := &switchAgentOptions{}
			o.server, _ = cmd.Flags().GetString("server")
			o.targets, _ = cmd.Flags().GetStringArray("switch")
			o.name, _ = cmd.Flags().GetString("name")
			o.sslCert, _ = cmd.Flags().GetString("ssl-cert")
			cfgs, err := o.configs(nil)
			for _, c := range cfgs {
				got = append(got, c.Target)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("configs() error = %v; want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("configs() error = %v; want one containing %q", err, tc.wantErr)
			case len(got) != tc.targets:
				t.Errorf("targets = %v; want %d", got, tc.targets)
			}
		})
	}
}

func TestServerSwitchFlag(t *testing.T) {
	for _, tc := range []struct {
		targets []string
		ok      bool
	}{
		{[]string{"unix:/run/vtep.sock", "tcp:127.0.0.1:6640"}, true},
		{[]string{"ssl:sw:6640"}, false},
		{[]string{"unix:/a", "unix:/a"}, false},
		{[]string{"/run/vtep.sock"}, false},
	} {
		cfgs, err := embeddedSwitches(tc.targets)
		if (err == nil) != tc.ok || (tc.ok && len(cfgs) != len(tc.targets)) {
			t.Errorf("embeddedSwitches(%q) = %v, %v; want ok=%v", tc.targets, cfgs, err, tc.ok)
		}
	}
}

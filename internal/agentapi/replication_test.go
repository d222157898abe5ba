package agentapi_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestPerSwitchReplication runs the embedded server wiring (as `l2gw server
// --switch unix:… --switch unix:… --switch-replication
// tor1=service_node:192.0.2.50,192.0.2.51`) with two real ovsdb-servers:
// gatewayhost keeps the source_node default and floods unknown-dst to the
// network's host VTEPs, tor1 has replication_mode=service_node and floods to
// the service nodes only, also after the network's hosts change.
func TestPerSwitchReplication(t *testing.T) {
	gh := newGatewayHost(t)
	tor := testenv.StartOVSDB(t, false)
	tor.VTEPCtl(t, "add-ps", "tor1", "--", "set", "Physical_Switch", "tor1", "tunnel_ips=192.0.2.20",
		"--", "add-port", "tor1", "eth1")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	agent := func(target string) switchagent.Config {
		return switchagent.Config{Target: target, ProbeInterval: time.Second, BackoffMax: 500 * time.Millisecond}
	}
	go func() {
		done <- server.Run(runCtx, server.Config{
			Bind:     "127.0.0.1:0",
			Database: "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches: []switchagent.Config{agent(gh.UnixTarget()), agent(tor.UnixTarget())},
			Feed: planfeed.Config{Planner: planner.Config{Switches: map[string]planner.Replication{
				"tor1": {Mode: planner.ReplicationServiceNode, ServiceNodes: []string{"192.0.2.51", "192.0.2.50"}},
			}}},
			Listening: func(a net.Addr) { addrc <- a },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("server.Run: %v", err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server.Run = %v", err)
		}
	}()
	c, err := client.New("http://" + addr.String())
	if err != nil {
		t.Fatal(err)
	}

	conn := seedWorkflow(t, ctx, c) // gw1 = gatewayhost port1;port2
	testenv.Eventually(t, 30*time.Second, "tor1 reported", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "tor1"))
		return err == nil && len(sws) == 1 && len(sws[0].Ports) == 1, "not yet"
	})
	gw2, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw2", Devices: []neutron.DeviceRequest{{DeviceName: "tor1",
		Interfaces: []neutron.InterfaceRequest{{Name: "eth1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw2.ID, NetworkID: conn.NetworkID, SegmentationID: "100"}); err != nil {
		t.Fatal(err)
	}

	wantSeedOnSwitch(t, gh) // unknown-dst -> the host VTEPs 192.0.2.1, 192.0.2.2
	wantReplication(t, gh, "gatewayhost", planner.ReplicationSourceNode, "192.0.2.1", "192.0.2.2")
	wantReplication(t, tor, "tor1", planner.ReplicationServiceNode, "192.0.2.50", "192.0.2.51")

	// A third host joins the network: source-node switches add its VTEP,
	// service-node switches keep flooding to the service nodes.
	if _, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute3", VTEPIP: "192.0.2.3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: conn.NetworkID, Name: "vm3", MACAddress: "fa:16:3e:00:00:03", HostID: "compute3"}); err != nil {
		t.Fatal(err)
	}
	wantReplication(t, gh, "gatewayhost", planner.ReplicationSourceNode, "192.0.2.1", "192.0.2.2", "192.0.2.3")
	testenv.Eventually(t, 30*time.Second, "vm3 on tor1", func() (bool, string) {
		macs := tor.VTEPCtl(t, "list-remote-macs", conn.NetworkID)
		return strings.Contains(macs, "fa:16:3e:00:00:03 -> vxlan_over_ipv4/192.0.2.3"), macs
	})
	wantReplication(t, tor, "tor1", planner.ReplicationServiceNode, "192.0.2.50", "192.0.2.51")
}

// wantReplication waits until the switch's only logical switch has the
// replication mode and its unknown-dst row exactly the locators.
func wantReplication(t *testing.T, o *testenv.OVSDB, sw, mode string, locators ...string) {
	t.Helper()
	var want []string
	for _, ip := range locators {
		want = append(want, "  unknown-dst -> vxlan_over_ipv4/"+ip)
	}
	testenv.Eventually(t, 30*time.Second, sw+" replication "+mode, func() (bool, string) {
		ls := o.VTEPCtl(t, "list-ls")
		if ls == "" || strings.Contains(ls, "\n") {
			return false, "logical switches: " + ls
		}
		if got := o.VTEPCtl(t, "get", "Logical_Switch", ls, "replication_mode"); got != mode {
			return false, "replication_mode " + got
		}
		macs := o.VTEPCtl(t, "list-remote-macs", ls)
		_, mcast, _ := strings.Cut(macs, "mcast-mac-remote\n")
		if mcast != strings.Join(want, "\n") {
			return false, "remote macs:\n" + macs
		}
		return true, ""
	})
}

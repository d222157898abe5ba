package agentapi_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// newGatewayHost starts a real ovsdb-server holding the seed's switch:
// gatewayhost with port1 and port2, tunnel IP 192.0.2.10.
func newGatewayHost(t *testing.T) *testenv.OVSDB {
	t.Helper()
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1", "--", "add-port", "gatewayhost", "port2")
	return o
}

// dump is ovsdb-client's text dump of the whole hardware_vtep database.
func dump(t *testing.T, o *testenv.OVSDB) string {
	t.Helper()
	out, err := exec.Command("ovsdb-client", "dump", o.UnixTarget(), "hardware_vtep").CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client dump: %v: %s", err, out)
	}
	return string(out)
}

// seedWorkflow drives the seed workflow through the API: hosts compute1
// and compute2, net1 (VNI 1000) with a port on each, gw1 = gatewayhost
// port1;port2, and its connection to net1 with VLAN 100. It returns the
// connection.
func seedWorkflow(t *testing.T, ctx context.Context, c *client.Client) neutron.Connection {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.1"})
	must(err)
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute2", VTEPIP: "192.0.2.2"})
	must(err)
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, Name: "vm1", MACAddress: "fa:16:3e:00:00:01", HostID: "compute1",
		FixedIPs: []neutron.FixedIP{{IPAddress: "10.0.0.1"}}})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, Name: "vm2", MACAddress: "fa:16:3e:00:00:02", HostID: "compute2",
		FixedIPs: []neutron.FixedIP{{IPAddress: "10.0.0.2"}}})
	must(err)
	// The switch agent reports the switch; connections need it known.
	testenv.Eventually(t, 30*time.Second, "gatewayhost reported", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
		return err == nil && len(sws) == 1 && len(sws[0].Ports) == 2, "not yet"
	})
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port2"}}}}})
	must(err)
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)
	return conn
}

// wantSeedOnSwitch waits until the switch holds the seed connection: one
// logical switch with tunnel key 1000, port1 and port2 bound on VLAN 100,
// both VM MACs behind their hosts' VTEPs, unknown-dst flooding to both.
func wantSeedOnSwitch(t *testing.T, o *testenv.OVSDB) {
	t.Helper()
	const wantMACs = `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1
  fa:16:3e:00:00:02 -> vxlan_over_ipv4/192.0.2.2

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.1
  unknown-dst -> vxlan_over_ipv4/192.0.2.2`
	testenv.Eventually(t, 30*time.Second, "seed connection on the switch", func() (bool, string) {
		ls := o.VTEPCtl(t, "list-ls")
		if ls == "" || strings.Contains(ls, "\n") {
			return false, "logical switches: " + ls
		}
		if key := o.VTEPCtl(t, "get", "Logical_Switch", ls, "tunnel_key"); key != "1000" {
			return false, "tunnel_key " + key
		}
		for _, p := range []string{"port1", "port2"} {
			if b := o.VTEPCtl(t, "list-bindings", "gatewayhost", p); b != "0100 "+ls {
				return false, p + " bindings: " + b
			}
		}
		if macs := o.VTEPCtl(t, "list-remote-macs", ls); macs != wantMACs {
			return false, "remote macs:\n" + macs
		}
		return true, ""
	})
}

// connectionState waits until every switch of the connection reports state.
func connectionState(t *testing.T, ctx context.Context, c *client.Client, id, state string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "connection "+state, func() (bool, string) {
		st, err := c.ConnectionStatus(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range st.Status {
			if s.State != state {
				return false, s.Switch + ": " + s.State + " " + s.Reason
			}
		}
		return len(st.Status) == 1, "no switch"
	})
}

// TestSeedWorkflowEmbeddedAgent runs the server as `l2gw server --switch
// unix:…` does (server.Run: store, plan feed, API, agent protocol, switch
// agent in-process) against a real ovsdb-server.
func TestSeedWorkflowEmbeddedAgent(t *testing.T) {
	o := newGatewayHost(t)
	before := dump(t, o)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(runCtx, server.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches:  []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: time.Second, BackoffMax: 500 * time.Millisecond}},
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

	conn := seedWorkflow(t, ctx, c)
	wantSeedOnSwitch(t, o)
	connectionState(t, ctx, c, conn.ID, agentwire.StateInSync)
	sw, err := c.GetSwitch(ctx, "gatewayhost")
	if err != nil {
		t.Fatal(err)
	}
	if !sw.Connected || sw.LastSync.IsZero() || sw.SyncError != "" || !slicesEqual(sw.TunnelIPs, []string{"192.0.2.10"}) {
		t.Errorf("switch in the API = %+v; want connected, synced, no error, tunnel IP 192.0.2.10", sw)
	}

	// A bare-metal MAC the switch learns behind a port reaches the API.
	o.VTEPCtl(t, "add-ucast-local", conn.NetworkID, "00:aa:bb:cc:dd:01", "192.0.2.10")
	testenv.Eventually(t, 30*time.Second, "learned MAC in /v2.0/local-macs", func() (bool, string) {
		macs, err := c.ListLocalMACs(ctx, client.Filter("network_id", conn.NetworkID))
		if err != nil {
			return false, err.Error()
		}
		want := neutron.LocalMAC{Switch: "gatewayhost", NetworkID: conn.NetworkID, MACAddress: "00:aa:bb:cc:dd:01", LocatorIP: "192.0.2.10"}
		return len(macs) == 1 && macs[0] == want, fmt.Sprintf("%+v", macs)
	})

	if err := c.DeleteConnection(ctx, conn.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "switch back to its state before the connection", func() (bool, string) {
		got := dump(t, o)
		return got == before, got
	})
	if _, err := c.ConnectionStatus(ctx, conn.ID); !client.IsNotFound(err) {
		t.Errorf("status of the deleted connection = %v; want not found", err)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestSwitchAgentProcessSSL runs `l2gw switch-agent --switch ssl:...
// --ssl-cert --ssl-key --ssl-ca` as its own process against an ovsdb-server
// that only accepts clients with a certificate of its CA, and an `l2gw
// server` process: the connection is programmed and shows in_sync.
func TestSwitchAgentProcessSSL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	o, files := testenv.StartOVSDBTLS(t)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1")
	bin := testenv.BuildL2GW(t)
	_, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir())
	agent := testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", base, "--switch", o.SSLTarget(),
		"--ssl-cert", files.ClientCert, "--ssl-key", files.ClientKey, "--ssl-ca", files.CACert,
		"--probe-interval", "1s", "--log-level", "debug")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.New(base)
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
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "the agent reports gatewayhost over ssl", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet"
	})
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}}}}})
	must(err)
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)

	testenv.Eventually(t, 30*time.Second, "connection in sync", func() (bool, string) {
		st, err := c.ConnectionStatus(ctx, conn.ID)
		if err != nil || len(st.Status) != 1 {
			return false, "status: " + errString(err)
		}
		return st.Status[0].State == agentwire.StateInSync, st.Status[0].State + " " + st.Status[0].Reason
	})
	want := `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.1`
	if got, ok := remoteMACs(t, o); !ok || got != want {
		t.Errorf("switch remote MACs =\n%s\nwant\n%s", got, want)
	}
	if logs := agent.Logs(); !strings.Contains(logs, `"tls":true`) {
		t.Errorf("the agent's config log line does not say tls: true:\n%s", logs)
	}
	agent.Terminate(t)
}

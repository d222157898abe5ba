package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestSwitchAgentSeveralSwitches: one `l2gw switch-agent` process, one
// --switch target whose database holds two switches. Both show in
// switch-list, each gateway's connection gets in sync on its own switch,
// and the network's logical switch they share stays until the last
// connection goes.
func TestSwitchAgentSeveralSwitches(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "sw1", "--", "set", "Physical_Switch", "sw1", "tunnel_ips=192.0.2.10", "--", "add-port", "sw1", "port1",
		"--", "add-ps", "sw2", "--", "set", "Physical_Switch", "sw2", "tunnel_ips=192.0.2.20", "--", "add-port", "sw2", "port1")
	before := ovsdbDump(t, o)
	bin := testenv.BuildL2GW(t)
	srv := testenv.StartL2GW(t, "server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "state"))
	addr := srv.Listening(t)
	testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", "http://"+addr, "--switch", o.UnixTarget(), "--probe-interval", "1s")

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
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "the agent reports both switches", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.ListOptions{})
		var got []string
		for _, s := range sws {
			got = append(got, fmt.Sprintf("%s connected=%v tunnel_ips=%v", s.Name, s.Connected, s.TunnelIPs))
		}
		return err == nil && strings.Join(got, "; ") == "sw1 connected=true tunnel_ips=[192.0.2.10]; sw2 connected=true tunnel_ips=[192.0.2.20]",
			strings.Join(got, "; ") + errString(err)
	})

	var conns []string
	for i, sw := range []string{"sw1", "sw2"} {
		gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw-" + sw, Devices: []neutron.DeviceRequest{{DeviceName: sw,
			Interfaces: []neutron.InterfaceRequest{{Name: "port1"}}}}})
		must(err)
		conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: fmt.Sprint(100 * (i + 1))})
		must(err)
		conns = append(conns, conn.ID)
	}
	inSync := func(conn, sw string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, "connection on "+sw+" in sync", func() (bool, string) {
			st, err := c.ConnectionStatus(ctx, conn)
			if err != nil || len(st.Status) != 1 {
				return false, "status: " + errString(err)
			}
			return st.Status[0].Switch == sw && st.Status[0].State == agentwire.StateInSync, st.Status[0].State + " " + st.Status[0].Reason
		})
	}
	inSync(conns[0], "sw1")
	inSync(conns[1], "sw2")
	ls := strings.TrimSpace(o.VTEPCtl(t, "list-ls"))
	if strings.Contains(ls, "\n") || ls == "" {
		t.Fatalf("logical switches %q; want one, shared", ls)
	}
	for _, b := range []struct{ sw, want string }{{"sw1", "0100 " + ls}, {"sw2", "0200 " + ls}} {
		if got := o.VTEPCtl(t, "list-bindings", b.sw, "port1"); got != b.want {
			t.Errorf("bindings of %s port1 = %q; want %q", b.sw, got, b.want)
		}
	}

	// sw1's connection goes; sw2 still has the network.
	must(c.DeleteConnection(ctx, conns[0]))
	inSync(conns[1], "sw2")
	testenv.Eventually(t, 30*time.Second, "sw1 unbound, the logical switch kept for sw2", func() (bool, string) {
		b1, b2 := o.VTEPCtl(t, "list-bindings", "sw1", "port1"), o.VTEPCtl(t, "list-bindings", "sw2", "port1")
		macs := o.VTEPCtl(t, "list-remote-macs", ls)
		return b1 == "" && b2 == "0200 "+ls && strings.Contains(macs, "fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1"),
			fmt.Sprintf("sw1 %q, sw2 %q, macs %q", b1, b2, macs)
	})
	must(c.DeleteConnection(ctx, conns[1]))
	testenv.Eventually(t, 30*time.Second, "the database as before the connections", func() (bool, string) {
		got := ovsdbDump(t, o)
		return got == before, got
	})
	sws, err := c.ListSwitches(ctx, client.ListOptions{})
	must(err)
	for _, s := range sws {
		if !s.Connected || s.SyncError != "" {
			t.Errorf("switch %s connected=%v sync_error=%q; want connected, no error", s.Name, s.Connected, s.SyncError)
		}
	}
}

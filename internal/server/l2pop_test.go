package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/l2pop"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestL2PopStatus runs the server with l2pop on a real RabbitMQ and an
// embedded switch agent on a real OVSDB: the system status shows the
// broker (its password hidden), and a connection's status shows the l2pop
// state of the host running a port of the network, here an error since a
// standalone host has no Neutron L2 agent to reach.
func TestL2PopStatus(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "tor1", "--", "set", "Physical_Switch", "tor1", "tunnel_ips=192.0.2.10", "--", "add-port", "tor1", "port1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := runServer(t, Config{
		Database: "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
		Switches: []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: -1}},
		L2Pop:    &l2pop.Config{TransportURL: rmq.URL},
	})
	c, err := client.New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the l2pop broker in the system status", func() (bool, string) {
		st, err := c.SystemStatus(ctx)
		if err != nil || st.L2Pop == nil {
			return false, "no l2pop part"
		}
		return st.L2Pop.Broker.Connected, st.L2Pop.Broker.Error
	})
	st, _ := c.SystemStatus(ctx)
	if u := st.L2Pop.Broker.TransportURL; strings.Contains(u, "guest:guest") || !strings.Contains(u, "guest:xxxxx@") {
		t.Errorf("system status transport_url = %q; want the password hidden", u)
	}
	testenv.Eventually(t, 30*time.Second, "tor1 reported", func() (bool, string) {
		_, err := c.GetSwitch(ctx, "tor1")
		return err == nil, "not yet"
	})
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.11"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, HostID: "compute1"}); err != nil {
		t.Fatal(err)
	}
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "tor1",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	if err != nil {
		t.Fatal(err)
	}
	var cs agentwire.ConnectionStatus
	testenv.Eventually(t, 30*time.Second, "the l2pop host in the connection status", func() (bool, string) {
		cs, err = c.ConnectionStatus(ctx, conn.ID)
		// The network's fanout is published a moment after the host shows.
		return err == nil && cs.L2Pop != nil && len(cs.L2Pop.Hosts) == 1 && cs.L2Pop.Hosts[0].SentRevision > 0, "no l2pop host sent to"
	})
	h := cs.L2Pop.Hosts[0]
	if h.Host != "compute1" || h.State != agentwire.StateError || !strings.Contains(h.Reason, "no Neutron L2 agent") || h.SentRevision == 0 {
		t.Errorf("connection status l2pop host = %+v; want compute1 in error (no Neutron L2 agent), the network sent", h)
	}
	if cs.State != agentwire.StateError {
		t.Errorf("connection state = %q; want error (the l2pop host counts)", cs.State)
	}
	body := get(t, &http.Client{}, "http://"+addr+"/metrics")
	for _, w := range []string{"l2gw_l2pop_broker_connected 1", `l2gw_l2pop_casts_total{method="add_fdb_entries",target="fanout"} 1`,
		`l2gw_reconcile_runs_total{component="l2pop",result="ok"}`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /metrics lacks %s", w)
		}
	}
}

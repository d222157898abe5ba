package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestCLIStatus runs `l2gw status` against a real server with an embedded
// switch agent on a real ovsdb-server, one host whose agent (speaking the
// agent protocol) runs and is in sync and one that never ran: the server,
// switch, host and connection lines show their states and reasons, the
// server its uptime, and -f json is the same as one object. Then the
// switch's ovsdb-server stops: the switch shows disconnected, and why.
func TestCLIStatus(t *testing.T) {
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches:  []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: -1}},
			Listening: func(a net.Addr) { addrc <- a.String() },
		})
	}()
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("server.Run = %v before listening", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not listening within 30s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run = %v; want nil after cancel", err)
		}
	}()

	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// compute1's agent registers and reports every network attached;
	// compute2 is entered by hand and no agent ever runs there.
	link := agentlink.New(c, agentlink.Config{})
	_, err = link.RegisterHost(ctx, "compute1", "192.0.2.2", time.Now())
	must(err)
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute2", VTEPIP: "192.0.2.3"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "gatewayhost reported", func() (bool, string) {
		_, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil, errString(err)
	})
	mustCLI(t, url, "net-create", "net1", "--vni", "1000")
	mustCLI(t, url, "port-create", "net1", "--name", "vm1", "--host", "compute1", "--interface", "tap1")
	mustCLI(t, url, "port-create", "net1", "--name", "vm2", "--host", "compute2")
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	mustCLI(t, url, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "100")
	nets, err := c.ListNetworks(ctx, client.Filter("name", "net1"))
	must(err)
	// The agent's plan stream is open, as a running agent's is.
	stream, err := link.Hosts().Watch(ctx, "compute1", 0)
	must(err)
	defer stream.Close()
	// The agent applies every event it receives, as a running agent does: a
	// change after the snapshot (the switch reporting its locator) moves the
	// plan on, and the agent must follow it to be in sync.
	applied := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.Next(ctx)
			if err != nil {
				applied <- err
				return
			}
			if err := link.SetHostStatus(ctx, model.HostStatus{Name: "compute1", Connected: true, LastSync: time.Now(), Revision: ev.Revision,
				Networks: []model.HostNetworkStatus{{NetworkID: nets[0].ID, Attached: []string{"tap1"}}}}); err != nil {
				applied <- err
				return
			}
		}
	}()
	defer func() {
		cancel()
		if err := <-applied; err != nil && ctx.Err() == nil {
			t.Errorf("fake host agent: %v", err)
		}
	}()

	want := []string{
		"Server " + url + ": version ",
		"database sqlite://",
		"| gatewayhost | yes       |",
		"in_sync",
		"| compute1 | 192.0.2.2 | yes   | yes   |",
		"| compute2 | 192.0.2.3 | no    | no    | never ",
		"| error   | the host agent is not running: it never sent a heartbeat |",
		"net1 ↔ gw1: gatewayhost/port1 VLAN 100",
		"| error | host compute2 error: the host agent is not running: it never sent a heartbeat |",
	}
	var out string
	testenv.Eventually(t, 30*time.Second, "l2gw status shows everything", func() (bool, string) {
		out = mustCLI(t, url, "status")
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false, "lacks " + w + ":\n" + out
			}
		}
		// gatewayhost and compute1 are in sync once the agent applied the plan.
		for _, l := range strings.Split(out, "\n") {
			if (strings.Contains(l, "| gatewayhost |") || strings.Contains(l, "| compute1 |")) && !strings.Contains(l, "in_sync") {
				return false, "not in sync: " + l + "\n" + out
			}
		}
		return true, ""
	})
	t.Logf("l2gw status:\n%s", out)
	if !regexp.MustCompile(`\n?Server [^ ]+: version [^,]+, database [^,]+, up [0-9hms]+ \(since 20[0-9-]+T[0-9:]+Z\), revision [0-9]+`).MatchString(out) {
		t.Errorf("l2gw status server line lacks the uptime (up … since …):\n%s", out)
	}

	var v systemView
	if err := json.Unmarshal([]byte(mustCLI(t, url, "-f", "json", "status")), &v); err != nil {
		t.Fatalf("l2gw -f json status: %v", err)
	}
	if v.Server.Version == "" || !strings.HasPrefix(v.Server.Database, "sqlite://") || v.Server.StoreRevision == 0 ||
		v.Server.StartedAt.IsZero() || time.Since(v.Server.StartedAt.Time) < time.Duration(v.Server.UptimeSeconds)*time.Second {
		t.Errorf("server = %+v; want a version, the sqlite database, a revision, its start and uptime", v.Server)
	}
	if len(v.Switches) != 1 || v.Switches[0].Name != "gatewayhost" || !v.Switches[0].Connected || v.Switches[0].State != agentwire.StateInSync {
		t.Errorf("switches = %+v; want gatewayhost connected in_sync", v.Switches)
	}
	if len(v.Hosts) != 2 || v.Hosts[0].State != agentwire.StateInSync || v.Hosts[1].State != agentwire.StateError {
		t.Errorf("hosts = %+v; want compute1 in_sync, compute2 error", v.Hosts)
	}
	if len(v.Connections) != 1 {
		t.Fatalf("connections = %+v; want 1", v.Connections)
	}
	cv := v.Connections[0]
	wantB := []bindingView{{Switch: "gatewayhost", Port: "port1", VLANs: []string{"100"}}}
	if cv.Network != "net1" || cv.Gateway != "gw1" || cv.State != agentwire.StateError || len(cv.Bindings) != 1 ||
		cv.Bindings[0].Switch != wantB[0].Switch || cv.Bindings[0].Port != wantB[0].Port || strings.Join(cv.Bindings[0].VLANs, ",") != "100" ||
		len(cv.Status) != 1 || cv.Status[0].State != agentwire.StateInSync || len(cv.Hosts) != 2 {
		t.Errorf("connection = %+v; want net1 ↔ gw1 gatewayhost/port1 VLAN 100 in error (compute2), the switch in sync", cv)
	}

	// The switch goes away: its agent loses it, and status says so.
	o.Stop()
	testenv.Eventually(t, 30*time.Second, "l2gw status shows gatewayhost disconnected", func() (bool, string) {
		var v systemView
		if err := json.Unmarshal([]byte(mustCLI(t, url, "-f", "json", "status")), &v); err != nil {
			return false, err.Error()
		}
		if len(v.Switches) != 1 || v.Switches[0].Connected || v.Switches[0].Reason == "" || v.Switches[0].State == agentwire.StateInSync {
			return false, fmt.Sprintf("switches %+v", v.Switches)
		}
		out = mustCLI(t, url, "status")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "| gatewayhost | no ") && strings.Contains(l, v.Switches[0].Reason) {
				return true, ""
			}
		}
		return false, "no line | gatewayhost | no … " + v.Switches[0].Reason + ":\n" + out
	})
	t.Logf("l2gw status, switch gone:\n%s", out)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// presenceExpiry is the replicas' --presence-expiry in these tests.
const presenceExpiry = 3 * time.Second

// startReplica runs `l2gw server` on the PostgreSQL database dsn.
func startReplica(t *testing.T, bin, dsn string, args ...string) (*testenv.L2GW, *client.Client) {
	t.Helper()
	p, url := testenv.StartServer(t, bin, append([]string{"--database", dsn, "--db-timeout", "1s",
		"--presence-expiry", presenceExpiry.String(), "--data-dir", t.TempDir()}, args...)...)
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func switchConnected(ctx context.Context, c *client.Client, name string) (bool, error) {
	sws, err := c.ListSwitches(ctx, client.Filter("name", name))
	if err != nil {
		return false, err
	}
	if len(sws) != 1 {
		return false, fmt.Errorf("%d switches named %s", len(sws), name)
	}
	return sws[0].Connected, nil
}

// TestReplicas: two (then three) `l2gw server` replicas on one PostgreSQL
// database and a real switch (ovsdb-server) programmed by a switch agent
// given several servers. A write on one replica shows in the other's API
// and plan streams; the agent's presence shows the same on every replica
// and ends on all when the agent dies, or when the replica serving it dies
// with it; killing (-9) the replica an agent streams from fails it over to
// the next, and a port created there reaches the switch.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	bin := testenv.BuildL2GW(t)
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "sw1", "--", "set", "Physical_Switch", "sw1", "tunnel_ips=192.0.2.10", "--", "add-port", "sw1", "port1")
	a, ca := startReplica(t, bin, dsn)
	_, cb := startReplica(t, bin, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// A write on A shows in B's API.
	n, err := ca.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	testenv.Eventually(t, 5*time.Second, "A's network in B's API", func() (bool, string) {
		got, err := cb.GetNetwork(ctx, n.ID)
		return err == nil && got.Name == "net1", errString(err)
	})

	// Presence: an agent streaming from A shows connected on B, and
	// disconnected on both once killed.
	agent := testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", ca.BaseURL(), "--switch", o.UnixTarget(), "--probe-interval", "1s")
	for _, c := range []*client.Client{ca, cb} {
		testenv.Eventually(t, 30*time.Second, "sw1 connected on "+c.BaseURL(), func() (bool, string) {
			ok, err := switchConnected(ctx, c, "sw1")
			return ok, errString(err)
		})
	}
	// Held past the expiry by A's renewals.
	time.Sleep(presenceExpiry + time.Second) //nolint:forbidigo // the point: presence outlives its expiry while renewed
	if ok, err := switchConnected(ctx, cb, "sw1"); !ok || err != nil {
		t.Fatalf("sw1 on B after %v: connected %v, %v; want connected (A renews it)", presenceExpiry+time.Second, ok, err)
	}
	agent.Kill(t)
	for _, c := range []*client.Client{ca, cb} {
		testenv.Eventually(t, presenceExpiry, "sw1 disconnected on "+c.BaseURL(), func() (bool, string) {
			ok, err := switchConnected(ctx, c, "sw1")
			return err == nil && !ok, errString(err)
		})
	}

	// A replica that dies with its agent: its presence expires on B.
	agent = testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", ca.BaseURL(), "--switch", o.UnixTarget(), "--probe-interval", "1s")
	testenv.Eventually(t, 30*time.Second, "sw1 connected on B", func() (bool, string) {
		ok, err := switchConnected(ctx, cb, "sw1")
		return ok, errString(err)
	})
	a.Kill(t)
	agent.Kill(t)
	killed := time.Now()
	testenv.Eventually(t, 2*presenceExpiry, "sw1 disconnected on B after A and its agent died", func() (bool, string) {
		ok, err := switchConnected(ctx, cb, "sw1")
		return err == nil && !ok, errString(err)
	})
	t.Logf("presence expired on B %v after A was killed (expiry %v)", time.Since(killed).Round(time.Millisecond), presenceExpiry)

	// Failover: an agent given C,B streams from C; C killed -> B.
	c3, cc := startReplica(t, bin, dsn)
	testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", cc.BaseURL()+","+cb.BaseURL(), "--switch", o.UnixTarget(), "--probe-interval", "1s")
	_, err = cc.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.1"})
	must(err)
	_, err = cc.CreateHost(ctx, neutron.HostCreate{Name: "compute2", VTEPIP: "192.0.2.2"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "sw1 connected on B again", func() (bool, string) {
		ok, err := switchConnected(ctx, cb, "sw1")
		return ok, errString(err)
	})
	gw, err := cc.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "sw1",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}}}}})
	must(err)
	conn, err := cb.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)
	_, err = cb.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1"})
	must(err)
	remoteMACs := func() string {
		ls := strings.TrimSpace(o.VTEPCtl(t, "list-ls"))
		if ls == "" {
			return ""
		}
		return o.VTEPCtl(t, "list-remote-macs", ls)
	}
	testenv.Eventually(t, 30*time.Second, "the port on the switch", func() (bool, string) {
		m := remoteMACs()
		return strings.Contains(m, "fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1"), m
	})
	c3.Kill(t)
	failed := time.Now()
	_, err = cb.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:02", HostID: "compute2"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "the port created through B on the switch after C died", func() (bool, string) {
		m := remoteMACs()
		return strings.Contains(m, "fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1") &&
			strings.Contains(m, "fa:16:3e:00:00:02 -> vxlan_over_ipv4/192.0.2.2"), m
	})
	t.Logf("port created through B programmed %v after C was killed", time.Since(failed).Round(time.Millisecond))
	testenv.Eventually(t, 30*time.Second, "connection in sync, seen from B", func() (bool, string) {
		st, err := cb.ConnectionStatus(ctx, conn.ID)
		if err != nil || len(st.Status) != 1 {
			return false, "status: " + errString(err)
		}
		return st.Status[0].State == agentwire.StateInSync, st.Status[0].State + " " + st.Status[0].Reason
	})
	if ok, err := switchConnected(ctx, cb, "sw1"); !ok || err != nil {
		t.Errorf("sw1 on B after failover: connected %v, %v; want connected", ok, err)
	}
}

// TestReplicaPlanStream: a plan stream opened on replica B sees a port
// created through replica A.
func TestReplicaPlanStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	bin := testenv.BuildL2GW(t)
	_, ca := startReplica(t, bin, dsn)
	_, cb := startReplica(t, bin, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := ca.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2"} {
		if _, err := ca.CreateHost(ctx, neutron.HostCreate{Name: h, VTEPIP: map[string]string{"h1": "192.0.2.1", "h2": "192.0.2.2"}[h]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ca.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "h1"}); err != nil {
		t.Fatal(err)
	}
	link := agentlink.New(cb, agentlink.Config{})
	st, err := link.Hosts().Watch(ctx, "h1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(ctx); err != nil { // the snapshot
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := ca.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:02", HostID: "h2"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := st.Next(ctx)
		if err != nil {
			t.Fatalf("plan stream on B: %v", err)
		}
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), "fa:16:3e:00:00:02") {
			t.Logf("A's port reached B's plan stream in %v", time.Since(start))
			return
		}
	}
}

// TestDatabaseOutage: PostgreSQL stopped, then frozen, under a running
// server: requests answer 503 with a NeutronError within the bound, /healthz
// fails and never hangs, the server stays up, and once the database is back
// writes work and the plan stream carries them (the server ends it when
// the outage outlasts --db-timeout, so that agents try another replica: it
// is then opened again, as an agent does).
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	bin := testenv.BuildL2GW(t)
	srv, c := startReplica(t, bin, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []neutron.HostCreate{{Name: "h1", VTEPIP: "192.0.2.1"}, {Name: "h2", VTEPIP: "192.0.2.2"}} {
		if _, err := c.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	// h1's port puts h1 on the network; h2's ports (below) then reach h1's plan.
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:10", HostID: "h1"}); err != nil {
		t.Fatal(err)
	}
	link := agentlink.New(c, agentlink.Config{})
	st, err := link.Hosts().Watch(ctx, "h1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	if _, err := st.Next(ctx); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	const bound = 4 * time.Second // --db-timeout 1s: a few statements' worth
	outage := func(name string, down, up func() error, mac string) {
		t.Helper()
		if err := down(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:99", HostID: "h2"})
		took := time.Since(start)
		createTook := took
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Type != "HTTPServiceUnavailable" || !strings.Contains(e.Message, "database is unavailable") {
			t.Errorf("%s: port create = %v; want a 503 HTTPServiceUnavailable NeutronError about the database", name, err)
		}
		if took > bound {
			t.Errorf("%s: port create answered in %v; want < %v", name, took, bound)
		}
		start = time.Now()
		resp, err := hc.Get(c.BaseURL() + "/healthz")
		took = time.Since(start)
		if err != nil {
			t.Errorf("%s: /healthz: %v", name, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("%s: /healthz = %d; want 503", name, resp.StatusCode)
			}
		}
		if took > bound+time.Second {
			t.Errorf("%s: /healthz answered in %v; want < %v", name, took, bound+time.Second)
		}
		t.Logf("%s: port create 503 in %v, /healthz 503 in %v", name, createTook, took)
		if !srv.Running() {
			t.Fatalf("%s: the server exited: %s", name, srv.Logs())
		}
		if err := up(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		err = testenv.Poll(ctx, 30*time.Second, func() error {
			_, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: mac, HostID: "h2"})
			return err
		})
		if err != nil {
			t.Fatalf("%s: port create after the database came back: %v", name, err)
		}
		t.Logf("%s: writes work %v after the database is back", name, time.Since(back).Round(time.Millisecond))
		for {
			ev, err := st.Next(ctx)
			if err != nil {
				t.Logf("%s: plan stream ended (%v); opening it again", name, err)
				st.Close()
				err = testenv.Poll(ctx, 30*time.Second, func() error {
					st, err = link.Hosts().Watch(ctx, "h1", 0)
					return err
				})
				if err != nil {
					t.Fatalf("%s: plan stream after the outage: %v", name, err)
				}
				continue
			}
			if b, _ := json.Marshal(ev); strings.Contains(string(b), mac) {
				break
			}
		}
		resp, err = hc.Get(c.BaseURL() + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /healthz after the outage: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}
	outage("stopped", pg.Stop, pg.Start, "fa:16:3e:00:00:01")
	outage("frozen", pg.Freeze, pg.Thaw, "fa:16:3e:00:00:02")
}

// TestServerWaitsForDatabase: a server started while PostgreSQL is down
// waits, logging, and serves once the database is there.
func TestServerWaitsForDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	bin := testenv.BuildL2GW(t)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartL2GW(t, "l2gw server", bin, "server", "--bind", "127.0.0.1:0", "--database", dsn, "--data-dir", t.TempDir())
	testenv.Eventually(t, 20*time.Second, "the server logs that it waits for the database", func() (bool, string) {
		return strings.Contains(p.Logs(), "database unavailable at start; retrying"), p.Logs()
	})
	if !p.Running() {
		t.Fatalf("the server exited while the database was down: %s", p.Logs())
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + p.Listening(t)
	hc := &http.Client{Timeout: time.Second}
	if err := testenv.WaitHealthy(t.Context(), hc, url, p.Proc); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNetwork(t.Context(), neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000}); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlySQLiteHealth: a server on an SQLite file it cannot write
// answers /healthz with 503 (its probe writes), where reads still work.
func TestReadOnlySQLiteHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		testenv.Missing(t, "chattr (package e2fsprogs)")
	}
	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	p, url := testenv.StartServer(t, bin, "--data-dir", dir)
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNetwork(t.Context(), neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000}); err != nil {
		t.Fatal(err)
	}
	p.Terminate(t)
	db := filepath.Join(dir, "l2gw.db")
	if out, err := exec.Command(chattr, "+i", db).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s (file system without immutable files)", err, out)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", db).Run() })
	p = testenv.StartL2GW(t, "l2gw server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", dir)
	url = "http://" + p.Listening(t)
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz on a read-only database = %d; want 503", resp.StatusCode)
	}
	if c, err = client.New(url); err != nil {
		t.Fatal(err)
	}
	if nets, err := c.ListNetworks(t.Context(), client.ListOptions{}); err != nil || len(nets) != 1 {
		t.Errorf("ListNetworks on a read-only database = %d networks, %v; want 1", len(nets), err)
	}
	_, err = c.CreateNetwork(t.Context(), neutron.NetworkCreate{Name: "net2", NetworkType: "vxlan", SegmentationID: 1001})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Errorf("CreateNetwork on a read-only database = %v; want a 503", err)
	}
}

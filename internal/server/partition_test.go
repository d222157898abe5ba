package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// startReplica runs a server on the PostgreSQL database dsn until the
// test ends and returns its URL.
func startReplica(t *testing.T, dsn string, timeout time.Duration) string {
	t.Helper()
	return "http://" + runServer(t, Config{
		Database: dsn,
		Store:    store.Config{Timeout: timeout, PollInterval: 50 * time.Millisecond},
	})
}

// hostFollower is a host agent's plan side: it follows a host's plan over
// the agent protocol, failing over between servers, and folds the events.
type hostFollower struct {
	mu     sync.Mutex
	plan   *planner.HostPlan
	opened int
}

func (f *hostFollower) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f.plan)
	return strings.Contains(string(b), s)
}

func (f *hostFollower) handle(ev planner.HostEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.Type {
	case planner.EventSnapshot:
		p := ev.Plan.Clone()
		f.plan = &p
	case planner.EventDelta:
		f.plan.Apply(*ev.Delta)
	}
}

// TestPartitionedReplica: two replicas on one PostgreSQL, B's link to it
// through a proxy that a test cuts as a partition does (packets held,
// nothing reset). A host agent given B,A streams from B; once B's database
// has been unreachable for longer than --db-timeout, B ends its plan
// stream, the agent moves to A and gets a port created through A during
// the partition; B refuses new plan streams with 503 meanwhile, and serves
// them again once the link heals. A cut shorter than the timeout ends
// nothing.
func TestPartitionedReplica(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	dsnB, proxy := testenv.ProxiedPostgres(t, dsn)
	const timeout = time.Second
	urlA := startReplica(t, dsn, timeout)
	urlB := startReplica(t, dsnB, timeout)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	newClient := func(u string) *client.Client {
		c, err := client.New(u, client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := newClient(urlA), newClient(urlB)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := ca.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	for _, h := range []neutron.HostCreate{{Name: "h1", VTEPIP: "192.0.2.1"}, {Name: "h2", VTEPIP: "192.0.2.2"}} {
		_, err := ca.CreateHost(ctx, h)
		must(err)
	}
	_, err = ca.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "h1"})
	must(err)

	// h1's agent, B first.
	f := &hostFollower{}
	link := agentlink.New(newClient(urlB+","+urlA), agentlink.Config{})
	fctx, fcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		planstream.Follow(fctx, link.Hosts(), "h1", planstream.FollowConfig{BackoffMax: time.Second,
			Opened: func() { f.mu.Lock(); f.opened++; f.mu.Unlock() }}, f.handle)
	})
	defer wg.Wait()
	defer fcancel()
	port := func(c *client.Client, mac string) {
		t.Helper()
		_, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: mac, HostID: "h2"})
		must(err)
	}
	port(ca, "fa:16:3e:00:00:02")
	testenv.Eventually(t, 10*time.Second, "h1's plan through B", func() (bool, string) { return f.has("fa:16:3e:00:00:02"), "" })
	opened := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.opened }
	if got := opened(); got != 1 {
		t.Fatalf("plan streams opened = %d; want 1", got)
	}

	// A hiccup: the stream stays.
	proxy.Cut()
	time.Sleep(timeout / 2) //nolint:forbidigo // the point: a cut shorter than the timeout
	proxy.Heal()
	port(ca, "fa:16:3e:00:00:03")
	testenv.Eventually(t, 10*time.Second, "a port after the hiccup", func() (bool, string) { return f.has("fa:16:3e:00:00:03"), "" })
	if got := opened(); got != 1 {
		t.Errorf("plan streams opened after a %v cut = %d; want 1 (the stream kept)", timeout/2, got)
	}

	// The partition: a port created through A reaches h1's agent within
	// the bound, during the partition.
	proxy.Cut()
	cut := time.Now()
	port(ca, "fa:16:3e:00:00:04")
	const bound = 2*timeout + 3*time.Second // the listener's silence check (1s), the timeout, failover
	testenv.Eventually(t, bound, "A's port at h1's agent during B's partition", func() (bool, string) {
		return f.has("fa:16:3e:00:00:04"), ""
	})
	t.Logf("A's port reached the agent %v after B was cut off (--db-timeout %v)", time.Since(cut).Round(time.Millisecond), timeout)
	if got := opened(); got < 2 {
		t.Errorf("plan streams opened = %d; want a new one on A", got)
	}
	// B refuses plan streams while it is cut off.
	_, err = agentlink.New(cb, agentlink.Config{}).Hosts().Watch(ctx, "h1", 0)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || !strings.Contains(e.Message, "cannot reach the database") {
		t.Errorf("plan stream on B during the partition: %v; want 503 about the database", err)
	}

	// Healed: B serves plan streams again, and they carry new writes.
	proxy.Heal()
	healed := time.Now()
	var st planstream.Stream[planner.HostPlan, planner.HostDelta]
	must(testenv.Poll(ctx, 15*time.Second, func() error {
		st, err = agentlink.New(cb, agentlink.Config{}).Hosts().Watch(ctx, "h1", 0)
		return err
	}))
	defer st.Close()
	t.Logf("B serves plan streams again %v after the heal", time.Since(healed).Round(time.Millisecond))
	if _, err := st.Next(ctx); err != nil {
		t.Fatal(err)
	}
	port(ca, "fa:16:3e:00:00:05")
	for {
		ev, err := st.Next(ctx)
		must(err)
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "fa:16:3e:00:00:05") {
			break
		}
	}
}

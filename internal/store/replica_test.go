package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// openReplicas opens n stores on one new PostgreSQL database, as n l2gw
// server replicas would.
func openReplicas(t *testing.T, dsn string, n int, cfg store.Config) []store.Store {
	t.Helper()
	var out []store.Store
	for range n {
		s, err := store.Open(t.Context(), dsn, cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func newGateway(t *testing.T, s store.Store, name string) model.Gateway {
	t.Helper()
	return mustGateway(t, s, name, model.Device{Name: "sw1", Interfaces: []model.Interface{{Name: "p1"}}})
}

// TestReplicasFollowEachOther: a commit on one replica wakes the other's
// Notify and WaitRevision, and its cached gateway list and list generation
// follow, both while listening and (listen connection killed) by polling.
func TestReplicasFollowEachOther(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	rs := openReplicas(t, dsn, 2, store.Config{PollInterval: 50 * time.Millisecond})
	a, b := rs[0], rs[1]
	ctx := t.Context()

	if gws, err := b.ListGateways(ctx, store.Query{}); err != nil || len(gws) != 0 {
		t.Fatalf("B.ListGateways() = %v, %v; want none", gws, err)
	}
	gen0, ok := b.ListGeneration(store.KindGateway)
	if !ok {
		t.Fatal("B.ListGeneration(gateway) not ok on PostgreSQL")
	}
	// caughtUp waits until B has taken in A's revision, and returns it.
	caughtUp := func() int64 {
		t.Helper()
		rev, err := a.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := b.WaitRevision(wctx, rev); err != nil {
			t.Fatalf("B.WaitRevision(%d) after A's commit: %v", rev, err)
		}
		return rev
	}
	check := func(name string) {
		t.Helper()
		wake := b.Notify()
		gw := newGateway(t, a, name)
		rev := caughtUp()
		select {
		case <-wake:
		default:
			t.Fatal("B.Notify() channel not closed after A's commit")
		}
		got, err := b.GetGateway(ctx, gw.ID)
		if err != nil || got.Name != name {
			t.Fatalf("B.GetGateway(%s) = %+v, %v; want %s", gw.ID, got, err, name)
		}
		chs, err := b.Changes(ctx, rev-1, 10)
		if err != nil || len(chs) != 1 || chs[0].ID != gw.ID {
			t.Fatalf("B.Changes(%d) = %v, %v; want the gateway's create", rev-1, chs, err)
		}
		gen, _ := b.ListGeneration(store.KindGateway)
		if gen == gen0 {
			t.Fatalf("B.ListGeneration(gateway) = %d after A's gateway create; want a new one", gen)
		}
		gen0 = gen
	}
	check("gw1")

	// A connection create (no gateway change) moves B's connection list
	// generation, and a network create neither.
	connGen, _ := b.ListGeneration(store.KindConnection)
	net := mustNetwork(t, a, model.Network{Name: "n1", VNI: 5001})
	caughtUp()
	if g, _ := b.ListGeneration(store.KindConnection); g != connGen {
		t.Fatalf("B's connection list generation moved (%d -> %d) at a network create", connGen, g)
	}
	mustReport(t, a, "sw1", "p1")
	gw, err := b.ListGateways(ctx, store.Query{Names: []string{"gw1"}})
	if err != nil || len(gw) != 1 {
		t.Fatalf("B.ListGateways(gw1) = %v, %v", gw, err)
	}
	if _, err := a.CreateConnection(ctx, model.Connection{GatewayID: gw[0].ID, NetworkID: net.ID, SegmentationID: intp(300)}); err != nil {
		t.Fatal(err)
	}
	caughtUp()
	if g, _ := b.ListGeneration(store.KindConnection); g == connGen {
		t.Fatalf("B's connection list generation is %d after A's connection create; want a new one", g)
	}
	if cs, err := b.ListConnections(ctx, store.Query{}); err != nil || len(cs) != 1 {
		t.Fatalf("B.ListConnections() = %v, %v; want A's connection", cs, err)
	}

	// Kill B's (and A's) LISTEN connections: B must still follow, by polling.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// By name: a listener's last query may be its ping, not LISTEN.
	res, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, store.ListenerApplicationName)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("terminated %d listening connections; want 2", n)
	}
	check("gw2")
	check("gw3")
}

// TestPresenceAcrossReplicas: an agent's status sent through replica A shows
// on B; A's "gone" mark does not undo a status sent later through B; a
// replica that stops renewing lets its presences expire on every replica.
func TestPresenceAcrossReplicas(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	cfg := store.Config{PresenceExpiry: 900 * time.Millisecond}
	rs := openReplicas(t, dsn, 2, cfg)
	a, b := rs[0], rs[1]
	ctx := t.Context()

	if err := a.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetHostStatus(ctx, model.HostStatus{Name: "h1", Connected: true}); err != nil {
		t.Fatal(err)
	}
	connected := func(s store.Store) (bool, bool) {
		t.Helper()
		sw, err := s.GetSwitch(ctx, "sw1")
		if err != nil {
			t.Fatal(err)
		}
		hs, err := s.GetHostStatus(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		return sw.Connected, hs.Connected
	}
	// Held for several expiry periods by A's renewals.
	for range 4 {
		if sw, h := connected(b); !sw || !h {
			t.Fatalf("on B: switch connected %v, host connected %v; want both (A renews them)", sw, h)
		}
		time.Sleep(400 * time.Millisecond) //nolint:forbidigo // letting time pass is the point: presences must outlive their expiry while renewed
	}

	// The agents move to B; A learns of their old streams' end afterwards.
	if err := b.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetHostStatus(ctx, model.HostStatus{Name: "h1", Connected: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.SwitchGone(ctx, "sw1", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := a.HostGone(ctx, "h1", "gone"); err != nil {
		t.Fatal(err)
	}
	if sw, h := connected(a); !sw || !h {
		t.Fatalf("on A after A's late gone marks: switch %v, host %v; want both still connected (B owns them)", sw, h)
	}

	// B dies: nobody renews; both replicas show them disconnected within the expiry.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	err := testenv.Poll(ctx, 5*time.Second, func() error {
		if sw, h := connected(a); sw || h {
			return errors.New("still connected")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("presence after B died: %v", err)
	}
	sw, _ := a.GetSwitch(ctx, "sw1")
	if sw.SyncError != store.PresenceExpired {
		t.Errorf("switch sync error = %q; want %q", sw.SyncError, store.PresenceExpired)
	}
}

// TestDatabaseOutage: a stopped or frozen PostgreSQL fails operations with
// ErrUnavailable within the timeout (never hangs them), and the store works
// again, and follows commits, once the server is back.
func TestDatabaseOutage(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	const timeout = time.Second
	rs := openReplicas(t, dsn, 2, store.Config{Timeout: timeout, PollInterval: 50 * time.Millisecond})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	newGateway(t, a, "before")

	bounded := func(what string, fn func(context.Context) error) {
		t.Helper()
		start := time.Now()
		err := fn(ctx)
		took := time.Since(start)
		if !store.IsUnavailable(err) {
			t.Errorf("%s during the outage = %v; want an ErrUnavailable", what, err)
		}
		if took > 3*timeout {
			t.Errorf("%s took %v during the outage; want < %v", what, took, 3*timeout)
		}
	}
	outage := func(name string, down, up func() error) {
		if err := down(); err != nil {
			t.Fatal(err)
		}
		bounded(name+": Check", a.Check)
		bounded(name+": CreateGateway", func(ctx context.Context) error {
			_, err := a.CreateGateway(ctx, model.Gateway{Name: "during", TenantID: "t"})
			return err
		})
		bounded(name+": ListNetworks", func(ctx context.Context) error {
			_, err := a.ListNetworks(ctx, store.Query{})
			return err
		})
		if err := up(); err != nil {
			t.Fatal(err)
		}
		var gw model.Gateway
		err := testenv.Poll(ctx, 20*time.Second, func() error {
			var err error
			gw, err = a.CreateGateway(ctx, model.Gateway{Name: "after-" + name, TenantID: "t"})
			return err
		})
		if err != nil {
			t.Fatalf("%s: write after the outage: %v", name, err)
		}
		rev, _ := a.Revision(ctx)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := b.WaitRevision(wctx, rev); err != nil {
			t.Fatalf("%s: B.WaitRevision(%d) after the outage: %v", name, rev, err)
		}
		if _, err := b.GetGateway(ctx, gw.ID); err != nil {
			t.Fatalf("%s: B.GetGateway after the outage: %v", name, err)
		}
		if err := a.Check(ctx); err != nil {
			t.Fatalf("%s: Check after the outage: %v", name, err)
		}
	}
	outage("stopped", pg.Stop, pg.Start)
	outage("frozen", pg.Freeze, pg.Thaw)
}

// TestReadOnlySQLite: Check fails (ErrUnavailable) once the SQLite files
// cannot be written (made immutable: as root, file modes do not stop
// writes), where reads still work.
func TestReadOnlySQLite(t *testing.T) {
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		testenv.Missing(t, "chattr (package e2fsprogs)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "l2gw.db")
	s, err := store.Open(t.Context(), "sqlite://"+path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	newGateway(t, s, "gw1")
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check() on a writable file = %v; want nil", err)
	}
	s.Close()
	if out, err := exec.Command(chattr, "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s (file system without immutable files)", err, out)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", path).Run() })
	s, err = store.Open(t.Context(), "sqlite://"+path, store.Config{})
	if err != nil {
		t.Skipf("Open on a read-only file: %v (nothing to probe)", err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Check(t.Context())
	if !store.IsUnavailable(err) {
		t.Fatalf("Check() on a read-only file = %v; want an ErrUnavailable", err)
	}
	if _, err := s.ListGateways(t.Context(), store.Query{}); err != nil {
		t.Errorf("ListGateways on a read-only file: %v", err)
	}
}

package server

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the test's own connection to PostgreSQL

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestWriteCutByBatchTimeout: on PostgreSQL, a write still running when
// its group commit's batch outlasts --db-timeout (here: blocked on a lock
// another session holds on the ports table) is answered 503 within about
// the timeout, writes nothing, and the next write after the lock is gone
// succeeds. (internal/store's TestWriteOutlastsBatchTimeout cuts a write
// between two statements instead.)
func TestWriteCutByBatchTimeout(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	const timeout = time.Second
	c, err := client.New(startReplica(t, dsn, timeout))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locker, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback() //nolint:errcheck // released below, or at the end
	if _, err := locker.ExecContext(ctx, `LOCK TABLE ports IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "h1"})
	took := time.Since(start)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("port create blocked past the batch's timeout: %v; want 503", err)
	}
	t.Logf("503 after %v (--db-timeout %v): %s", took.Round(time.Millisecond), timeout, e.Message)
	if took > 3*timeout {
		t.Errorf("answered after %v; want within about the timeout (%v)", took, timeout)
	}

	if err := locker.Rollback(); err != nil {
		t.Fatal(err)
	}
	ports, err := c.ListPorts(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 0 {
		t.Errorf("ports after the 503: %d; want none (nothing half-written)", len(ports))
	}
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "h1"}); err != nil {
		t.Errorf("port create once the lock is gone: %v", err)
	}
}

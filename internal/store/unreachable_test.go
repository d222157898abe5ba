package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestUnreachable: a store cut off from PostgreSQL (packets held, nothing
// reset) reports the database unreachable once it has had no answer for
// longer than its timeout, not during a shorter cut, and reachable again
// soon after the link heals.
func TestUnreachable(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn, proxy := testenv.ProxiedPostgres(t, testenv.PostgresDatabase(t, pg.DSN))
	const timeout = time.Second
	s, err := store.Open(t.Context(), dsn, store.Config{Timeout: timeout, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	down := func() bool { _, d := s.Unreachable(); return d }
	if down() {
		t.Fatal("Unreachable() = true right after Open")
	}

	// A cut shorter than the timeout is a hiccup.
	proxy.Cut()
	for end := time.Now().Add(timeout / 2); time.Now().Before(end); time.Sleep(10 * time.Millisecond) { //nolint:forbidigo // sampling a state over a span
		if down() {
			t.Fatal("Unreachable() = true during a cut shorter than the timeout")
		}
	}
	proxy.Heal()
	for end := time.Now().Add(2 * timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) { //nolint:forbidigo // sampling a state over a span
		if down() {
			t.Fatal("Unreachable() = true after a short cut healed")
		}
	}

	// A cut longer than the timeout: down within the listener's silence
	// check (1s) plus the timeout, dated from the last answer.
	proxy.Cut()
	cut := time.Now()
	testenv.Eventually(t, 3*timeout+2*time.Second, "database unreachable", func() (bool, string) { return down(), "" })
	since, _ := s.Unreachable()
	took := time.Since(cut)
	// An answer already through the proxy when it cut is read after: it
	// may be dated a little after the cut (37 µs in one CI run).
	const inFlight = 100 * time.Millisecond
	if since.After(cut.Add(inFlight)) || cut.Sub(since) > 2*time.Second {
		t.Errorf("Unreachable() since %v; want the last answer before the cut at %v", since, cut)
	}
	t.Logf("unreachable reported %v after the cut (timeout %v)", took.Round(time.Millisecond), timeout)

	proxy.Heal()
	healed := time.Now()
	testenv.Eventually(t, 10*time.Second, "database reachable again", func() (bool, string) { return !down(), "" })
	t.Logf("reachable again %v after the heal", time.Since(healed).Round(time.Millisecond))
	if _, err := s.Revision(t.Context()); err != nil {
		t.Errorf("Revision after the heal: %v", err)
	}
}

// TestPartitionReleasesLocks: a replica cut off from PostgreSQL in the
// middle of a write (its transaction open, the revision row locked,
// nothing reset) does not stop the other replica's writes for longer than
// about the timeout: PostgreSQL ends the idle transaction.
func TestPartitionReleasesLocks(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	dsn := testenv.PostgresDatabase(t, pg.DSN)
	dsnB, proxy := testenv.ProxiedPostgres(t, dsn)
	const timeout = time.Second
	cfg := store.Config{Timeout: timeout, PollInterval: 50 * time.Millisecond}
	a, err := store.Open(t.Context(), dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(t.Context(), dsnB, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	idleInTx := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// B writes without pause; the link is cut until a cut catches one of
	// its transactions open.
	for try := 0; ; try++ {
		if try == 20 {
			t.Skip("no cut caught B in a transaction in 20 tries")
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; wctx.Err() == nil; i++ {
				_, _ = b.CreateNetworks(wctx, []model.Network{{Name: fmt.Sprintf("b%d-%d", try, i), NetworkType: "vxlan"}})
			}
		}()
		time.Sleep(time.Duration(50+try*7) * time.Millisecond) //nolint:forbidigo // a cut at a varying moment of B's writes
		proxy.Cut()
		time.Sleep(50 * time.Millisecond) //nolint:forbidigo // let the server settle into waiting
		caught := idleInTx() > 0
		if caught {
			start := time.Now()
			wctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := testenv.Poll(wctx2, 0, func() error {
				_, err := a.CreateNetworks(wctx2, []model.Network{{Name: fmt.Sprintf("a%d", try), NetworkType: "vxlan"}})
				return err
			})
			cancel()
			took := time.Since(start)
			stop()
			proxy.Heal()
			<-done
			if err != nil {
				t.Fatalf("A's write while B is cut off in a transaction: %v", err)
			}
			if took > timeout+3*time.Second {
				t.Errorf("A's write took %v while B was cut off in a transaction; want < %v", took, timeout+3*time.Second)
			}
			t.Logf("A wrote %v after B was cut off in a transaction (try %d)", took.Round(time.Millisecond), try+1)
			return
		}
		stop()
		proxy.Heal()
		<-done
	}
}

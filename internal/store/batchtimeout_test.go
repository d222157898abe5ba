package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestWriteOutlastsBatchTimeout: on PostgreSQL, a write whose function is
// still running when its batch's Config.Timeout passes (between two
// statements; database/sql rolls the transaction back at that moment)
// fails as unavailable (503), not as an internal error (500: "transaction
// has already been committed or rolled back", as it was when statements
// ran under the request's context), and the store writes again at once.
func TestWriteOutlastsBatchTimeout(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	const timeout = 300 * time.Millisecond
	st, err := Open(t.Context(), testenv.PostgresDatabase(t, pg.DSN), Config{Timeout: timeout, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	ctx := context.Background()
	slow := func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`); err != nil {
			return err
		}
		time.Sleep(3 * timeout) //nolint:forbidigo // the write outlasts its batch's bound between two statements
		_, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`)
		return err
	}
	_, err = s.write(ctx, slow)
	if err == nil || !IsUnavailable(err) {
		t.Fatalf("write outlasting the batch's timeout = %v; want an unavailable error (503)", err)
	}
	t.Logf("error: %v", err)
	if _, err := s.Revision(ctx); err != nil {
		t.Errorf("Revision after the cut batch: %v", err)
	}
	if _, err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`)
		return err
	}); err != nil {
		t.Errorf("next write: %v", err)
	}
}

// TestBatchWithoutSavepoints: on PostgreSQL a batch first runs its writes
// without savepoints. Writes that fail on what they read fail alone; a
// write that fails after changing rows, or after a failed statement
// aborted the transaction, makes the batch run again with savepoints. In
// every case the failed write leaves nothing and the others commit, each
// once.
func TestBatchWithoutSavepoints(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	st, err := Open(t.Context(), testenv.PostgresDatabase(t, pg.DSN), Config{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	ctx := context.Background()
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(k string) func(w *wtx) error {
		return func(w *wtx) error {
			_, err := w.exec(ctx, `INSERT INTO t (k) VALUES ($1)`, k)
			return err
		}
	}
	failed := errors.New("refused")
	for _, tc := range []struct {
		name     string
		wantRuns int // of the first write: 2 when the batch ran again with savepoints
		bad      func(w *wtx) error
	}{
		{"fails on a read", 1, func(w *wtx) error {
			var n int
			if err := w.queryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
				return err
			}
			return failed
		}},
		{"fails after a change", 2, func(w *wtx) error {
			if err := insert("bad")(w); err != nil {
				return err
			}
			return failed
		}},
		// Their one statement would have inserted the connection (the
		// port) had every check passed; as none did, it changed nothing.
		{"a connection create refused by its checks", 1, func(w *wtx) error {
			vlan := 5
			return createConnection(ctx, w, model.Connection{ID: "c", GatewayID: "no-such-gateway", NetworkID: "no-such-network", SegmentationID: &vlan})
		}},
		{"a port create refused by its checks", 1, func(w *wtx) error {
			return insertPortChecked(ctx, w, model.Port{ID: "p", NetworkID: "no-such-network", MACAddress: "fa:16:3e:00:00:01"})
		}},
		{"a failed statement", 2, func(w *wtx) error {
			_, err := w.exec(ctx, `SELECT 1/0`)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.w.ExecContext(ctx, `DELETE FROM t`); err != nil {
				t.Fatal(err)
			}
			runs := 0
			counted := func(fn func(w *wtx) error) func(w *wtx) error {
				return func(w *wtx) error { runs++; return fn(w) }
			}
			batch := []*wreq{
				{ctx: ctx, fn: counted(insert("a")), done: make(chan struct{})},
				{ctx: ctx, fn: tc.bad, done: make(chan struct{})},
				{ctx: ctx, fn: insert("b"), done: make(chan struct{})},
			}
			s.wsem <- struct{}{}
			s.runBatchPostgres(batch)
			<-s.wsem
			for i, r := range batch {
				<-r.done
				if (i == 1) != (r.err != nil) {
					t.Errorf("write %d: err %v", i, r.err)
				}
			}
			var keys []string
			rows, err := s.w.QueryContext(ctx, `SELECT k FROM t ORDER BY k`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			rows.Close()
			if strings.Join(keys, ",") != "a,b" {
				t.Errorf("rows after the batch: %v; want [a b]", keys)
			}
			if runs != tc.wantRuns {
				t.Errorf("the first write ran %d times; want %d", runs, tc.wantRuns)
			}
		})
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// testPostgresStore opens a store on a PostgreSQL server of the test's own.
func testPostgresStore(t *testing.T, cfg Config) *sqlStore {
	t.Helper()
	pg := testenv.StartPostgresServer(t)
	cfg.PollInterval = 50 * time.Millisecond
	st, err := Open(t.Context(), testenv.PostgresDatabase(t, pg.DSN), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

// TestWriteOutlastsBatchTimeout: on PostgreSQL, a write whose function is
// still running when its batch's Config.Timeout passes (between two
// statements; database/sql rolls the transaction back at that moment)
// fails as unavailable (503), not as an internal error (500: "transaction
// has already been committed or rolled back", as it was when statements
// ran under the request's context), and the store writes again at once.
func TestWriteOutlastsBatchTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := testPostgresStore(t, Config{Timeout: timeout})
	ctx := context.Background()
	slow := func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`); err != nil {
			return err
		}
		time.Sleep(3 * timeout) //nolint:forbidigo // the write outlasts its batch's bound between two statements
		_, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`)
		return err
	}
	_, err := s.write(ctx, slow)
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
	s := testPostgresStore(t, Config{})
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
			c := model.Connection{ID: "c", GatewayID: "no-such-gateway", NetworkID: "no-such-network", SegmentationID: &vlan}
			return createConnection(ctx, w, c, connectionChecksStatement(s.d, c))
		}},
		{"a port create refused by its checks", 1, func(w *wtx) error {
			p := model.Port{ID: "p", NetworkID: "no-such-network", MACAddress: "fa:16:3e:00:00:01"}
			return checkedPortInsert(p).run(ctx, w)
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

// TestBatchPrefetch: on PostgreSQL, the first statements of the writes
// that have one are sent together, and each write still succeeds or fails
// alone: one whose checks refuse it changes nothing, one whose statement
// fails (the transaction with it) fails alone once the batch ran again
// with savepoints, and one given up on before its batch is not run.
func TestBatchPrefetch(t *testing.T) {
	s := testPostgresStore(t, Config{})
	ctx := context.Background()
	nets, err := s.CreateNetworks(ctx, []model.Network{{Name: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	netID := nets[0].ID
	if _, err := s.CreatePorts(ctx, []model.Port{{ID: "taken", NetworkID: netID, MACAddress: "fa:16:3e:00:00:ff"}}); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	mac := 0
	for _, tc := range []struct {
		name     string
		middle   model.Port
		ctx      context.Context
		wantErr  string // of the middle write (its fault's type), "" for none
		wantRuns int    // of the first write: 2 if a write's fn ran before the batch ran again
	}{
		{"all pass", model.Port{NetworkID: netID}, ctx, "", 1},
		{"refused by its checks", model.Port{NetworkID: "no-such-network"}, ctx, "NetworkNotFound", 1},
		// It fails in the pipeline, before any write's fn ran.
		{"its statement fails", model.Port{ID: "taken", NetworkID: netID}, ctx, "PortExists", 1},
		{"given up on", model.Port{NetworkID: netID}, gone, context.Canceled.Error(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			write := func(ctx context.Context, p model.Port) *wreq {
				mac++
				if p.ID == "" {
					p.ID = fmt.Sprintf("p%d", mac)
				}
				p.MACAddress = fmt.Sprintf("fa:16:3e:00:01:%02x", mac)
				p.CreatedAt = now()
				p.UpdatedAt = p.CreatedAt
				pi := checkedPortInsert(p)
				fn := func(w *wtx) error {
					if err := pi.run(ctx, w); err != nil {
						return err
					}
					w.change(KindPort, p.ID, OpCreate)
					return nil
				}
				return &wreq{ctx: ctx, first: &pi.st, fn: fn, done: make(chan struct{})}
			}
			batch := []*wreq{write(ctx, model.Port{NetworkID: netID}), write(tc.ctx, tc.middle), write(ctx, model.Port{NetworkID: netID})}
			counted := batch[0].fn
			batch[0].fn = func(w *wtx) error { runs++; return counted(w) }
			s.wsem <- struct{}{}
			s.runBatchPostgres(batch)
			<-s.wsem
			for i, r := range batch {
				<-r.done
				got := ""
				if f, ok := errors.AsType[*model.Fault](r.err); ok {
					got = f.Type
				} else if r.err != nil {
					got = r.err.Error()
				}
				if want := map[bool]string{true: tc.wantErr}[i == 1]; got != want {
					t.Errorf("write %d: err %v; want %q", i, r.err, want)
				}
			}
			for i, r := range batch {
				id := r.first.args[0].(string)
				_, err := s.GetPort(ctx, id)
				if stored := err == nil; stored != (i != 1 || tc.wantErr == "") && id != "taken" {
					t.Errorf("write %d: port %s stored %v", i, id, stored)
				}
			}
			if runs != tc.wantRuns {
				t.Errorf("the first write ran %d times; want %d", runs, tc.wantRuns)
			}
		})
	}
}

// TestGatewayWritesInOneBatch: gateway creates and deletes that share a
// batch (on PostgreSQL, their statements sent together: prefetch) each
// see the writes before them, and fail alone when refused or when their
// statement fails.
func TestGatewayWritesInOneBatch(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var s *sqlStore
			if engine == "postgres" {
				s = testPostgresStore(t, Config{})
			} else {
				st, err := Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), Config{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				s = st.(*sqlStore)
			}
			testGatewayWritesInOneBatch(t, s)
		})
	}
}

func testGatewayWritesInOneBatch(t *testing.T, s *sqlStore) {
	ctx := t.Context()
	gw := func(id string) model.Gateway {
		return model.Gateway{ID: id, Name: id, Devices: []model.Device{{Name: "sw-" + id, Interfaces: []model.Interface{{Name: "p1"}}}}}
	}
	for _, id := range []string{"free", "used", "dup"} {
		if _, err := s.CreateGateway(ctx, gw(id)); err != nil {
			t.Fatal(err)
		}
	}
	nets, err := s.CreateNetworks(ctx, []model.Network{{Name: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "sw-used", Ports: []model.SwitchPort{{Name: "p1"}}}}); err != nil {
		t.Fatal(err)
	}
	vlan := 100
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: "used", NetworkID: nets[0].ID, SegmentationID: &vlan}); err != nil {
		t.Fatal(err)
	}
	create := func(id string) func() error {
		return func() error { _, err := s.CreateGateway(ctx, gw(id)); return err }
	}
	del := func(id string) func() error { return func() error { return s.DeleteGateway(ctx, id) } }
	// On PostgreSQL the first batch runs without savepoints, every
	// statement sent at once; the second has a statement that fails, so
	// it runs again with a savepoint per write.
	batchOfWrites(t, s, []batchWrite{
		{"create new", create("new"), ""},
		{"delete free", del("free"), ""},
		{"delete used", del("used"), "L2GatewayInUse"},
		{"delete none", del("none"), "L2GatewayNotFound"},
		{"create free again", create("free"), ""},
		{"delete new", del("new"), ""},
		// Refused for what it found, not for what a write after it did.
		{"delete later", del("later"), "L2GatewayNotFound"},
		{"create later", create("later"), ""},
	})
	batchOfWrites(t, s, []batchWrite{
		{"create other", create("other"), ""},
		{"create dup", create("dup"), "L2GatewayExists"},
		{"delete later", del("later"), ""},
	})
	gws, err := s.ListGateways(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range gws {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	if want := []string{"dup", "free", "other", "used"}; !slices.Equal(ids, want) {
		t.Errorf("gateways %v; want %v", ids, want)
	}
}

// batchWrite is a write of batchOfWrites.
type batchWrite struct {
	name    string
	do      func() error
	wantErr string // the type of its fault, "" for none
}

// batchOfWrites runs writes as one batch of s, in their order: queued one
// after the other while the writer's slot is held, then let go.
func batchOfWrites(t *testing.T, s *sqlStore, writes []batchWrite) {
	t.Helper()
	s.wsem <- struct{}{}
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = w.do() })
		testenv.Eventually(t, 5*time.Second, "the write queued", func() (bool, string) {
			s.qmu.Lock()
			defer s.qmu.Unlock()
			return len(s.queue) == i+1, fmt.Sprintf("%d writes queued; want %d", len(s.queue), i+1)
		})
	}
	<-s.wsem
	wg.Wait()
	for i, w := range writes {
		got := ""
		if f, ok := errors.AsType[*model.Fault](errs[i]); ok {
			got = f.Type
		} else if errs[i] != nil {
			got = errs[i].Error()
		}
		if got != w.wantErr {
			t.Errorf("%s: err %v; want %q", w.name, errs[i], w.wantErr)
		}
	}
}

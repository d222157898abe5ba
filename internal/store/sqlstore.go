package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// sqlStore is the Store on database/sql, shared by SQLite and PostgreSQL.
type sqlStore struct {
	w, r *sql.DB // writer and readers (the same pool on PostgreSQL)
	d    dialect
	cfg  Config
	log  *slog.Logger

	// wmu guards the SQLite writer connection (its statements, Close);
	// the writer holds it under wsem, so it keeps cache updates in commit
	// order too.
	wmu          sync.Mutex
	sinceCompact int           // change rows written since the last compaction; guarded by wmu or wsem
	compactKick  chan struct{} // 1-buffered: compactLoop compacts the change log

	stmts sync.Map  // stmtKey -> *sql.Stmt on the reader pool (SQLite only)
	wconn *sql.Conn // SQLite: the writer connection; nil on PostgreSQL
	qmu   sync.Mutex
	queue []*wreq // writes waiting for the next group commit; guarded by qmu
	// batchGateways is set while a group commit holds uncommitted gateway
	// changes, when the cache must not stand in for the database. Guarded
	// by wmu (SQLite) or wsem (PostgreSQL).
	batchGateways bool
	wstmts        map[string]*sql.Stmt // statements prepared on wconn; guarded by wmu

	// smu guards hostStatuses, the host agents' statuses waiting for
	// their write (hoststatus.go).
	smu          sync.Mutex
	hostStatuses *statusBatch

	mu     sync.Mutex
	rev    int64         // newest revision known to this process (see replica.go on PostgreSQL)
	notify chan struct{} // closed and replaced at each new revision

	cache *objCache // gateways and connections

	// wsem is the group commit's leader slot: it serialises this
	// process's writers as a mutex a waiter can leave (a writer whose
	// request a leader ran, or on PostgreSQL whose context ended: a frozen
	// database must not queue writers for ever). listen is PostgreSQL's
	// revision listener (replica.go).
	wsem   chan struct{}
	listen *listener

	// replica identifies this process among the replicas sharing the
	// database (presence.go); stopBg ends the presence loop and the
	// compactor, bgDone closes when they have.
	replica string
	stopBg  context.CancelFunc
	bgDone  chan struct{}
}

func newSQLStore(ctx context.Context, w, r *sql.DB, d dialect, cfg Config) (*sqlStore, error) {
	s := &sqlStore{w: w, r: r, d: d, cfg: cfg, log: cfg.Logger, notify: make(chan struct{}), cache: &objCache{}}
	s.wsem = make(chan struct{}, 1)
	if d == dialectSQLite {
		c, err := w.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("open store: writer connection: %w", err)
		}
		s.wconn, s.wstmts = c, map[string]*sql.Stmt{}
	}
	if err := r.QueryRowContext(ctx, `SELECT rev FROM revision WHERE id = 1`).Scan(&s.rev); err != nil {
		return nil, fmt.Errorf("open store: read revision: %w", err)
	}
	s.cache.processed = s.rev
	s.replica = uuid.NewString()
	bg, cancel := context.WithCancel(context.Background())
	s.stopBg, s.bgDone = cancel, make(chan struct{})
	s.compactKick = make(chan struct{}, 1)
	go func() {
		defer close(s.bgDone)
		var wg sync.WaitGroup
		wg.Go(func() { s.presenceLoop(bg) })
		wg.Go(func() { s.compactLoop(bg) })
		wg.Wait()
	}()
	return s, nil
}

func (s *sqlStore) Close() error {
	var errs []error
	if s.listen != nil {
		s.listen.stop()
	}
	s.stopBg()
	<-s.bgDone
	s.stmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	s.wmu.Lock()
	for _, st := range s.wstmts {
		errs = append(errs, st.Close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	s.wmu.Unlock()
	errs = append(errs, s.w.Close())
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(errs...)
}

// maxCachedStmts bounds the prepared statements kept per pool.
const maxCachedStmts = 512

type stmtKey struct {
	db   *sql.DB
	text string
}

// stmt returns a statement prepared on the reader pool for text, or nil when
// statements are not cached (PostgreSQL: pgx caches them itself). With
// prepare false it only looks up: a caller holding a pooled connection must
// not wait for a second one.
func (s *sqlStore) stmt(ctx context.Context, db *sql.DB, text string, prepare bool) *sql.Stmt {
	if s.d != dialectSQLite {
		return nil
	}
	k := stmtKey{db, text}
	if v, ok := s.stmts.Load(k); ok {
		return v.(*sql.Stmt)
	}
	if !prepare {
		return nil
	}
	n := 0
	s.stmts.Range(func(_, _ any) bool { n++; return n < maxCachedStmts })
	if n >= maxCachedStmts {
		return nil
	}
	st, err := db.PrepareContext(ctx, text)
	if err != nil {
		return nil // the caller runs the query unprepared and sees the error
	}
	if v, loaded := s.stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	return st
}

// wstmt returns a statement prepared on the SQLite writer connection, or nil
// when too many are cached. Callers hold wmu.
func (s *sqlStore) wstmt(ctx context.Context, text string) *sql.Stmt {
	if st, ok := s.wstmts[text]; ok {
		return st
	}
	if len(s.wstmts) >= maxCachedStmts {
		return nil
	}
	st, err := s.wconn.PrepareContext(ctx, text)
	if err != nil {
		return nil
	}
	s.wstmts[text] = st
	return st
}

// db runs statements on a pool, inside a transaction, or on the SQLite
// writer connection, through cached prepared statements where possible.
type db struct {
	s    *sqlStore
	pool *sql.DB
	tx   *sql.Tx   // a transaction on pool, or nil
	conn *sql.Conn // the SQLite writer connection (transaction by BEGIN/COMMIT), or nil
	// batch, in a group commit, is the context every statement runs
	// under instead of its request's: the transaction is shared, and a
	// request given up on mid-statement must not break it for the others
	// (pgx closes the connection of a cancelled query: every write of the
	// batch failed with "driver: bad connection", bench/scale).
	batch context.Context
	// wrote, when set, records that a statement that may change rows ran
	// (see runBatchPostgres: a write without a savepoint).
	wrote *bool
}

// note records, for a write run without a savepoint, that a statement
// other than a plain SELECT ran: its failure could not be undone alone.
func (d db) note(text string) {
	if d.wrote == nil || *d.wrote {
		return
	}
	t := strings.TrimLeft(text, " \t\n(")
	if len(t) < 6 || !strings.EqualFold(t[:6], "SELECT") {
		*d.wrote = true
	}
}

// unnote returns a function that forgets what note records from now on:
// for a statement that may change rows (note cannot tell) and changed none.
func (d db) unnote() func() {
	if d.wrote == nil {
		return func() {}
	}
	was := *d.wrote
	return func() { *d.wrote = was }
}

// ctx is the context a statement of d runs under.
func (d db) ctx(ctx context.Context) context.Context {
	if d.batch != nil {
		return d.batch
	}
	return ctx
}

func (s *sqlStore) reader() db { return db{s: s, pool: s.r} }

// prepared picks the statement for text, or nil to run it unprepared.
func (d db) prepared(ctx context.Context, text string) *sql.Stmt {
	switch {
	case d.conn != nil && d.s.d == dialectSQLite:
		return d.s.wstmt(ctx, text)
	case d.conn != nil:
		return nil // PostgreSQL: pgx caches prepared statements itself
	case d.tx != nil:
		if st := d.s.stmt(ctx, d.pool, text, false); st != nil {
			return d.tx.StmtContext(ctx, st)
		}
		return nil
	default:
		return d.s.stmt(ctx, d.pool, text, true)
	}
}

// unprepared is what the pool, a transaction and the writer connection
// have in common: running a statement from its text.
type unprepared interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// unprepared is where d runs statements that are not prepared.
func (d db) unprepared() unprepared {
	switch {
	case d.conn != nil:
		return d.conn
	case d.tx != nil:
		return d.tx
	}
	return d.pool
}

func (d db) query(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	d.note(text)
	ctx = d.ctx(ctx)
	if st := d.prepared(ctx, text); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.unprepared().QueryContext(ctx, text, args...)
}

func (d db) queryRow(ctx context.Context, text string, args ...any) *sql.Row {
	d.note(text)
	ctx = d.ctx(ctx)
	if st := d.prepared(ctx, text); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.unprepared().QueryRowContext(ctx, text, args...)
}

func (d db) exec(ctx context.Context, text string, args ...any) (sql.Result, error) {
	d.note(text)
	ctx = d.ctx(ctx)
	if st := d.prepared(ctx, text); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return d.unprepared().ExecContext(ctx, text, args...)
}

// readTx runs fn in one read transaction (a consistent snapshot).
func (s *sqlStore) readTx(ctx context.Context, fn func(db) error) error {
	return s.readTxWithin(ctx, s.cfg.Timeout, fn)
}

// snapshotTimeouts is how many Config.Timeouts a whole snapshot may take
// on PostgreSQL. Each read on the connection is still bounded by one
// Timeout (a frozen database fails as fast), but reading 100,000 ports on
// a loaded machine takes longer than 5 s, and a bound of one Timeout made
// every replica's plan feed fail at start (bench/scale).
const snapshotTimeouts = 24

// readTxWithin is readTx bounded by limit instead of Config.Timeout (on
// PostgreSQL; SQLite reads are not bounded). A read cut by the bound is
// ErrUnavailable, whatever database/sql says of it ("sql: Rows are
// closed"), so that callers wait and retry.
func (s *sqlStore) readTxWithin(ctx context.Context, limit time.Duration, fn func(db) error) error {
	if s.d == dialectPostgres {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	var opts *sql.TxOptions
	if s.d == dialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	err = fn(db{s: s, pool: s.r, tx: tx})
	if err == nil {
		err = tx.Commit()
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !IsUnavailable(err) {
		err = unavailable(fmt.Errorf("%w (read cut after %s)", err, limit))
	}
	return err
}

// wtx is a write transaction. Writers record their changes with change();
// the commit bumps the revision once when there is any.
type wtx struct {
	db
	req       *wreq // in a PostgreSQL batch
	ctx       context.Context
	rev       int64 // revision before this transaction
	compacted int64
	changes   []Change
	delta     cacheDelta
}

// gatewaysCached reports whether the gateway cache may stand in for the
// database inside this write: on SQLite while the group commit holds no
// uncommitted gateway change. On PostgreSQL never: a read-modify-write of
// a gateway through two replicas lost updates (about one run in twelve of
// TestGatewayEdit/postgres/Concurrent) when the cache stood in after it
// had taken in the revision the batch locked; the cause was not found, and
// a gateway read in the transaction is one round trip.
func (w *wtx) gatewaysCached() bool {
	return w.s.wconn != nil && !w.s.batchGateways
}

func (w *wtx) change(k Kind, id string, op Op) {
	w.changes = append(w.changes, Change{Kind: k, ID: id, Op: op})
}

// write runs fn in one write transaction and returns the revision after it.
// Concurrent writes are group-committed (writeSQLite, writePostgres).
func (s *sqlStore) write(ctx context.Context, fn func(w *wtx) error) (int64, error) {
	return s.writeFirst(ctx, nil, fn)
}

// writeUnlogged runs fn, a write that logs no change and needs no order
// with other writes beyond the lock of the row it changes: switch
// statuses and lease renewals, hundreds a second under churn. On
// PostgreSQL it runs outside the group commit, without the revision lock
// that every replica's batches wait for, each statement committing on its
// own within Config.Timeout; on SQLite it is a write like any other (one
// writer anyway).
//
// Each statement must change one row at most. A statement that locks
// several rows outside the group commit may lock them in another order
// than a batch does, and PostgreSQL breaks such a deadlock only after
// deadlock_timeout (1 s) while every replica's writes wait on the batch.
// Host statuses (up to a thousand rows a statement) written this way made
// the API's p99 730 ms in bench/scale, against about 30 ms in the batch.
func (s *sqlStore) writeUnlogged(ctx context.Context, fn func(d db) error) error {
	if s.wconn != nil {
		_, err := s.write(ctx, func(w *wtx) error { return fn(w.db) })
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return fn(db{s: s, pool: s.w})
}

// writeFirst is write for a write whose fn begins with statement first
// (run by w.run), or with none when first is nil.
func (s *sqlStore) writeFirst(ctx context.Context, first *statement, fn func(w *wtx) error) (int64, error) {
	if s.wconn != nil {
		return s.writeSQLite(ctx, fn)
	}
	return s.writePostgres(ctx, &wreq{ctx: ctx, fn: fn, first: first, done: make(chan struct{})})
}

// writePostgres group-commits as writeSQLite does: concurrent writers of
// this process share one transaction (each in its own SAVEPOINT), so the
// revision row's lock, the notification and the commit are paid once per
// batch. The revision row is locked FOR UPDATE, which serialises batches
// across replicas, so revisions stay gap-free in commit order. Waiting for
// the writer and the batch itself are bounded by Config.Timeout.
func (s *sqlStore) writePostgres(ctx context.Context, req *wreq) (int64, error) {
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	s.qmu.Unlock()
	wctx, cancel := s.opContext(ctx)
	defer cancel()
	select {
	case s.wsem <- struct{}{}:
	case <-req.done:
		return req.rev, req.err
	case <-wctx.Done():
		if s.dequeue(req) {
			return 0, fmt.Errorf("wait for the writer: %w", unavailable(wctx.Err()))
		}
		<-req.done // a leader has it: its batch is bounded too
		return req.rev, req.err
	}
	defer func() { <-s.wsem }()
	select {
	case <-req.done: // a previous leader ran it
		return req.rev, req.err
	default:
	}
	s.qmu.Lock()
	batch := s.queue
	s.queue = nil
	s.qmu.Unlock()
	s.runBatchPostgres(batch)
	return req.rev, req.err
}

// dequeue removes req from the queue, reporting whether it was there.
func (s *sqlStore) dequeue(req *wreq) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	for i, r := range s.queue {
		if r == req {
			s.queue = slices.Delete(s.queue, i, i+1)
			return true
		}
	}
	return false
}

// runBatchPostgres runs and commits a group of writes; callers hold wsem.
//
// Each write used to run in its own SAVEPOINT, a round trip per write on
// top of its statements (a third of a connection create's). Most writes
// succeed, and most that fail do so on what they read, before they change
// anything: so the batch first runs without savepoints. A write that fails
// after a statement that may have changed rows, or that left the
// transaction aborted (PostgreSQL aborts it on any failed statement), is
// one whose failure cannot be undone alone: the batch is rolled back and
// run again, every write in its own savepoint. Writes' functions may thus
// run twice; they change nothing but the database and their wtx.
func (s *sqlStore) runBatchPostgres(batch []*wreq) {
	// Transaction control must survive a cancelled request, and must not
	// outlive the store's bound on a frozen database.
	bctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if !s.tryBatchPostgres(bctx, batch, false) {
		s.tryBatchPostgres(bctx, batch, true)
	}
}

// tryBatchPostgres runs batch in one transaction, each write in its own
// savepoint or none. Without savepoints it gives up (rolled back, false)
// when a failed write may have left changes or an aborted transaction;
// otherwise it ends every write of the batch (true).
func (s *sqlStore) tryBatchPostgres(bctx context.Context, batch []*wreq, savepoints bool) bool {
	for _, r := range batch {
		r.err, r.rev, r.w, r.prefetched = nil, 0, nil, false
	}
	finish := func(err error) bool {
		for _, r := range batch {
			if r.err == nil && err != nil {
				r.err, r.rev = err, 0
			}
			close(r.done)
		}
		return true
	}
	// The batch runs on one connection as a transaction of its own BEGIN
	// and COMMIT, not a sql.Tx: so that BEGIN goes with the revision lock,
	// and the change log with COMMIT, in one round trip each (pipeline). A
	// batch holds the lock that every replica's writes wait for from the
	// first round trip to the last.
	start := time.Now()
	conn, err := s.w.Conn(bctx)
	if err != nil {
		return finish(fmt.Errorf("begin: %w", err))
	}
	defer conn.Close()
	committedAll := false
	defer func() {
		if !committedAll {
			rollback(conn)
		}
	}()
	// The first statements of the writes at the head of the batch go
	// with the lock (see prefetch).
	var rev, compacted int64
	var heads []*wreq
	if !savepoints {
		heads = prefetchable(batch)
	}
	locked := false
	if err := pipeline(bctx, conn, func(b *pgx.Batch) {
		b.Queue(`BEGIN`)
		b.Queue(`SELECT rev, compacted FROM revision WHERE id = 1 FOR UPDATE`).QueryRow(func(r pgx.Row) error {
			if err := r.Scan(&rev, &compacted); err != nil {
				return err
			}
			locked = true
			return nil
		})
		queueFirsts(b, heads)
	}); err != nil {
		if locked {
			return false // a write's first statement failed, and the transaction with it
		}
		return finish(fmt.Errorf("begin and lock revision: %w", err))
	}
	for _, r := range heads {
		r.prefetched = true
	}
	firstRoundTrip := time.Now()
	d := db{s: s, pool: s.w, conn: conn, batch: bctx}
	s.batchGateways = false
	defer func() { s.batchGateways = false }()
	var committed []*wreq
	for i, r := range batch {
		if !savepoints && r.first != nil && !r.prefetched {
			if !s.prefetch(bctx, conn, batch[i:]) {
				return false // the transaction is aborted
			}
		}
		if err := r.ctx.Err(); err != nil && !r.prefetched {
			r.err = err
			continue
		}
		wd := d
		if savepoints {
			if _, err := d.exec(bctx, `SAVEPOINT w`); err != nil {
				return finish(fmt.Errorf("savepoint: %w", err))
			}
		} else {
			wd.wrote = new(bool)
		}
		w := &wtx{ctx: r.ctx, db: wd, rev: rev, compacted: compacted, req: r}
		// The changes are logged at the end, for the whole batch at once
		// (commitBatchPostgres).
		err := r.fn(w)
		switch {
		case err == nil:
			rev = s.written(r, w, rev)
			committed = append(committed, r)
		case !savepoints:
			// Changed nothing, and the transaction still works (a round
			// trip on this rarer path): the write failed alone.
			if *wd.wrote {
				return false
			}
			if _, perr := d.exec(bctx, `SELECT 1`); perr != nil {
				if bctx.Err() != nil {
					return finish(fmt.Errorf("write aborted: %w", unavailable(bctx.Err())))
				}
				return false
			}
			r.err = err
		default:
			if _, rerr := d.exec(bctx, `ROLLBACK TO w`); rerr != nil {
				r.err = err
				if bctx.Err() != nil {
					// The batch outlasted Config.Timeout while this write
					// ran: it failed for that (503), not for what it did
					// ("sql: transaction has already been committed or
					// rolled back", a 500).
					r.err = fmt.Errorf("write aborted: %w", rerr)
				}
				return finish(fmt.Errorf("write aborted: %w", rerr))
			}
			r.err = err
		}
		// No RELEASE: the next SAVEPOINT w shadows this one (ROLLBACK TO
		// names the newest), and a round trip per write is saved.
	}
	changed := slices.ContainsFunc(committed, func(r *wreq) bool { return len(r.w.changes) > 0 })
	if changed {
		s.committing(rev, false)
	}
	if err := s.commitBatchPostgres(bctx, d, committed, rev); err != nil {
		s.committing(0, changed)
		return finish(err)
	}
	committedAll = true
	if d := time.Since(start); d > slowBatch {
		s.log.Debug("slow write batch", "writes", len(batch), "revision", rev,
			"first_round_trip", firstRoundTrip.Sub(start), "duration", d)
	}
	for _, r := range committed {
		if len(r.w.changes) > 0 {
			s.committedPostgres(r.rev, &r.w.delta)
		}
	}
	s.committing(0, false)
	return finish(nil)
}

// slowBatch is how long a PostgreSQL batch may take before it is logged
// (at debug level: to find what holds the revision lock in a burst).
const slowBatch = 20 * time.Millisecond

// wreq is one write waiting for a group commit (writeSQLite, writePostgres).
type wreq struct {
	ctx context.Context
	fn  func(w *wtx) error
	// first, when set, is the statement fn begins with (wtx.run): in a
	// PostgreSQL batch, the first statements of writes next to each other
	// are sent together (prefetch), and prefetched says this one ran.
	first      *statement
	prefetched bool
	w          *wtx
	rev        int64
	err        error
	done       chan struct{}
}

// statement is one statement of a write, with what reads its rows.
type statement struct {
	text string
	args []any
	scan func(rows rowScanner) error
}

// scanFlags reads the two booleans of a statement's one row into a and b;
// without a row both are false. They are set anew at each run (a write may
// run again).
func scanFlags(a, b *bool) func(rows rowScanner) error {
	return func(rows rowScanner) error {
		*a, *b = false, false
		for rows.Next() {
			if err := rows.Scan(a, b); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// rowScanner is what *sql.Rows and pgx.Rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// run runs st, the write's first statement, and reads its rows; in a
// PostgreSQL batch that sent it already (prefetch), it only counts it.
func (w *wtx) run(ctx context.Context, st *statement) error {
	if w.req != nil && w.req.first == st && w.req.prefetched {
		w.note(st.text)
		return nil
	}
	rows, err := w.query(ctx, st.text, st.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := st.scan(rows); err != nil {
		return err
	}
	return rows.Err()
}

// prefetch sends the first statements of the writes at the head of batch
// that have one, in one round trip, and has each read its rows. Writes
// run in batch order, so these statements run as they would one by one;
// what the writes do after their first statement runs after them all.
// False: a statement failed, and the transaction with it.
func (s *sqlStore) prefetch(ctx context.Context, conn *sql.Conn, batch []*wreq) bool {
	run := prefetchable(batch)
	if len(run) == 0 {
		return true
	}
	if err := pipeline(ctx, conn, func(b *pgx.Batch) { queueFirsts(b, run) }); err != nil {
		return false
	}
	for _, r := range run {
		r.prefetched = true
	}
	return true
}

// prefetchable is the writes at the head of batch that have a first
// statement not sent yet, but those given up on, which are not run at all.
func prefetchable(batch []*wreq) []*wreq {
	var run []*wreq
	for _, r := range batch {
		if r.first == nil {
			break
		}
		if !r.prefetched && r.ctx.Err() == nil {
			run = append(run, r)
		}
	}
	return run
}

// queueFirsts adds the first statements of run to b, each read by its
// write's scan.
func queueFirsts(b *pgx.Batch, run []*wreq) {
	for _, r := range run {
		b.Queue(r.first.text, r.first.args...).Query(func(rows pgx.Rows) error { return r.first.scan(rows) })
	}
}

// writeSQLite group-commits: a writer queues its request, and whoever
// takes the leader's slot (wsem) runs every queued request in one
// transaction, each inside its own SAVEPOINT (a failing one is rolled back
// alone, and gets its own revision when it succeeds), then commits once.
// With synchronous=FULL the fsync is the cost of a commit, so concurrent
// writers share it.
//
// Followers wait on their request's done channel or the slot, whichever
// comes first, never on a mutex: with a mutex, every follower a batch
// already served had to take the lock in turn just to see that it was
// done, and under load (1,000 agents' status reports a second beside the
// API's writes) that convoy of wake-ups, one goroutine scheduled after the
// other, was most of a port create's latency (bench/scale).
func (s *sqlStore) writeSQLite(ctx context.Context, fn func(w *wtx) error) (int64, error) {
	req := &wreq{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	s.qmu.Unlock()
	select {
	case s.wsem <- struct{}{}:
	case <-req.done: // a leader ran it
		return req.rev, req.err
	}
	defer func() { <-s.wsem }()
	select {
	case <-req.done: // the leader before ran it
		return req.rev, req.err
	default:
	}
	s.qmu.Lock()
	batch := s.queue
	s.queue = nil
	s.qmu.Unlock()
	s.wmu.Lock()
	s.runBatch(batch)
	s.wmu.Unlock()
	return req.rev, req.err
}

// runBatch runs and commits a group of writes; callers hold wmu.
func (s *sqlStore) runBatch(batch []*wreq) {
	bg := context.Background() // transaction control must survive a cancelled request
	finish := func(err error) {
		for _, r := range batch {
			if r.err == nil && err != nil {
				r.err, r.rev = err, 0
			}
			close(r.done)
		}
	}
	if _, err := s.wconn.ExecContext(bg, `BEGIN IMMEDIATE`); err != nil {
		finish(fmt.Errorf("begin: %w", err))
		return
	}
	d := db{s: s, pool: s.w, conn: s.wconn, batch: bg}
	var rev, compacted int64
	if err := d.queryRow(bg, `SELECT rev, compacted FROM revision WHERE id = 1`).Scan(&rev, &compacted); err != nil {
		s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // best effort
		finish(fmt.Errorf("read revision: %w", err))
		return
	}
	s.batchGateways = false
	startRev := rev
	var committed []*wreq
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if _, err := d.exec(bg, `SAVEPOINT w`); err != nil {
			s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // best effort
			finish(fmt.Errorf("savepoint: %w", err))
			return
		}
		w := &wtx{ctx: r.ctx, db: d, rev: rev, compacted: compacted}
		err := r.fn(w)
		if err == nil && len(w.changes) > 0 {
			err = s.logChanges(r.ctx, w, rev+1, false)
		}
		if err != nil {
			if _, rerr := d.exec(bg, `ROLLBACK TO w`); rerr != nil {
				// SQLite rolled the whole transaction back (I/O error, full disk).
				s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // may be gone already
				r.err = err
				finish(fmt.Errorf("write aborted: %w", rerr))
				return
			}
			r.err = err
		} else {
			rev = s.written(r, w, rev)
			committed = append(committed, r)
		}
		if _, err := d.exec(bg, `RELEASE w`); err != nil {
			s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // best effort
			finish(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if len(committed) > 0 && rev > startRev {
		if _, err := d.exec(bg, `UPDATE revision SET rev = $1 WHERE id = 1`, rev); err != nil {
			s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // best effort
			finish(fmt.Errorf("bump revision: %w", err))
			return
		}
	}
	// The cache is held across the commit when the batch changes what it
	// caches: a reader (the plan feed, woken by an earlier commit) that
	// sees this batch's changes in the log must find its gateways and
	// connections in the cache too, or it would take them for deleted.
	hold := false
	for _, r := range committed {
		hold = hold || len(r.w.changes) > 0 && !r.w.delta.empty()
	}
	if hold {
		s.cache.mu.Lock()
	}
	if _, err := s.wconn.ExecContext(bg, `COMMIT`); err != nil {
		if hold {
			s.cache.mu.Unlock()
		}
		s.wconn.ExecContext(bg, `ROLLBACK`) //nolint:errcheck // best effort
		finish(fmt.Errorf("commit: %w", err))
		return
	}
	s.batchGateways = false
	if !hold {
		s.cache.mu.Lock()
	}
	for _, r := range committed {
		if len(r.w.changes) > 0 {
			s.cache.applyLocked(&r.w.delta)
		}
	}
	s.cache.mu.Unlock()
	// Only a new revision wakes Notify's waiters, as on PostgreSQL: agents'
	// status writes (a thousand a second from a thousand hosts) log no
	// change, and waking the plan feed for each made it read an empty
	// change log as often.
	if rev > startRev {
		s.committed(rev)
	}
	finish(nil)
}

// changeBatch is how many change rows one INSERT carries.
const changeBatch = 100

// logChanges appends w's changes to the log at revision rev; with bump it
// also records rev as the newest revision (the SQLite group commit does so
// once per batch instead).
func (s *sqlStore) logChanges(ctx context.Context, w *wtx, rev int64, bump bool) error {
	if bump {
		if _, err := w.exec(ctx, `UPDATE revision SET rev = $1 WHERE id = 1`, rev); err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
	}
	for start := 0; start < len(w.changes); start += changeBatch {
		batch := w.changes[start:min(start+changeBatch, len(w.changes))]
		var b strings.Builder
		b.WriteString(`INSERT INTO changes (rev, seq, kind, obj_id, op) VALUES `)
		args := make([]any, 0, 5*len(batch))
		for i, c := range batch {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, rev, start+i, string(c.Kind), c.ID, string(c.Op))
		}
		if _, err := w.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("log changes: %w", err)
		}
	}
	s.logged(len(w.changes))
	return nil
}

// logged counts n more change-log rows written and, every tenth of
// Config.ChangeLogKeep, asks the compactor (compactLoop) to cut the log
// down to ChangeLogKeep entries. Finding the cut costs a scan of that many
// entries whatever is cut: every 1,000 changes, it was a burst of slow
// writes every ~10 s under bench/scale churn. Callers hold the writer (wmu
// or wsem).
func (s *sqlStore) logged(n int) {
	s.sinceCompact += n
	if s.sinceCompact < max(1, s.cfg.ChangeLogKeep/10) {
		return
	}
	s.sinceCompact = 0
	select {
	case s.compactKick <- struct{}{}:
	default: // a compaction is due already
	}
}

// compactLoop compacts the change log when logged asks, until ctx is done.
func (s *sqlStore) compactLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.compactKick:
		}
		start := time.Now()
		switch err := s.compact(ctx); {
		case err == nil:
			s.log.Debug("change log compacted", "duration", time.Since(start))
		case ctx.Err() == nil:
			s.log.Warn("cannot compact the change log", "err", err)
		}
	}
}

// compact deletes the change-log entries before the newest
// Config.ChangeLogKeep (whole revisions: the entries of the cut's revision
// go too) and records the cut as compacted, in one transaction. Finding
// the cut scans a hundred thousand index entries, which took 15-20 ms on
// PostgreSQL under bench/scale's churn: it is read outside any write, and
// on PostgreSQL the deletion runs outside the group commit, taking the
// revision row's lock only for its last statement.
func (s *sqlStore) compact(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var cut int64
	err := s.reader().queryRow(ctx, `SELECT rev FROM changes ORDER BY rev DESC, seq DESC LIMIT 1 OFFSET $1`, s.cfg.ChangeLogKeep).Scan(&cut)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("compact changes: %w", err)
	}
	del := func(d db) error {
		if _, err := d.exec(ctx, `DELETE FROM changes WHERE rev <= $1`, cut); err != nil {
			return fmt.Errorf("compact changes: %w", err)
		}
		// Another replica may have cut further already.
		if _, err := d.exec(ctx, `UPDATE revision SET compacted = $1 WHERE id = 1 AND compacted < $1`, cut); err != nil {
			return fmt.Errorf("compact changes: %w", err)
		}
		return nil
	}
	if s.wconn != nil {
		_, err := s.write(ctx, func(w *wtx) error { return del(w.db) })
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("compact changes: %w", err)
	}
	defer tx.Rollback()
	if err := del(db{s: s, pool: s.w, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("compact changes: %w", err)
	}
	return nil
}

// commitBatchPostgres ends a PostgreSQL batch: when it changed something,
// it appends the changes of every write (each at its revision) to the
// change log, moves the revision row to rev and notifies the other
// replicas (replica.go) in one statement (data-modifying WITH clauses run
// to completion whether or not the query reads them), pipelined with the
// COMMIT: a round trip per batch for what was three more per write.
func (s *sqlStore) commitBatchPostgres(ctx context.Context, d db, writes []*wreq, rev int64) error {
	// One statement text whatever the batch's size (arrays, not a VALUES
	// row per change), so that it stays one prepared statement.
	var revs []int64
	var seqs []int32
	var kinds, ids, ops []string
	note := commitNote{rev: rev, prev: -1}
	for _, r := range writes {
		for i, c := range r.w.changes {
			revs, seqs = append(revs, r.rev), append(seqs, int32(i))
			kinds, ids, ops = append(kinds, string(c.Kind)), append(ids, c.ID), append(ops, string(c.Op))
			note.gw = note.gw || c.Kind == KindGateway
			note.conn = note.conn || c.Kind == KindConnection
		}
	}
	changed := len(revs) > 0
	if changed {
		note.prev = revs[0] - 1
		s.logged(len(revs))
	}
	err := pipeline(ctx, d.conn, func(b *pgx.Batch) {
		if changed {
			const q = `WITH c AS (INSERT INTO changes (rev, seq, kind, obj_id, op) ` +
				`SELECT * FROM unnest($3::bigint[], $4::integer[], $5::text[], $6::text[], $7::text[])), ` +
				`r AS (UPDATE revision SET rev = $1 WHERE id = 1) SELECT pg_notify('l2gw_revision', $2)`
			b.Queue(q, rev, note.String(), revs, seqs, kinds, ids, ops)
		}
		b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
			// COMMIT of a transaction that failed answers ROLLBACK, not an
			// error.
			if ct.String() != "COMMIT" {
				return errRolledBack
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("log changes, bump revision, notify and commit: %w", err)
	}
	return nil
}

// errRolledBack is a COMMIT that PostgreSQL answered with ROLLBACK.
var errRolledBack = errors.New("the transaction was rolled back")

// pipeline sends the statements queue adds to b on conn, a PostgreSQL
// connection, in one round trip. The first that fails ends it, and the
// rest are not run.
func pipeline(ctx context.Context, conn *sql.Conn, queue func(b *pgx.Batch)) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline on a %T, not a pgx connection", dc)
		}
		var b pgx.Batch
		queue(&b)
		return c.Conn().SendBatch(ctx, &b).Close()
	})
}

// rollback ends conn's transaction, or has the pool discard conn when it
// cannot (a cut connection, a frozen database): a connection is never
// handed out again inside a transaction.
func rollback(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it is the discard
	}
}

// committed publishes a new revision to in-process waiters.
func (s *sqlStore) committed(rev int64) {
	s.mu.Lock()
	if rev > s.rev {
		s.rev = rev
	}
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// Notify returns a channel closed at the next commit made through this
// Store (in this process). Typical use:
//
//	for {
//		ch := s.Notify()
//		... read Changes(after, n) ...
//		select { case <-ch: case <-ctx.Done(): return }
//	}
//
// Taking the channel before reading guarantees no commit is missed.
// On PostgreSQL, other replicas' commits close it too, once this process
// has taken them in (replica.go).
func (s *sqlStore) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// WaitRevision blocks until this process knows of (committed, saw at open,
// or took in from another replica) a revision >= rev, or ctx is done.
func (s *sqlStore) WaitRevision(ctx context.Context, rev int64) error {
	for {
		s.mu.Lock()
		cur, ch := s.rev, s.notify
		s.mu.Unlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *sqlStore) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.reader().queryRow(ctx, `SELECT rev FROM revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
}

// Changes never splits a revision: when limit cuts into one, the rest of
// that revision is returned too, so "after = last Revision" resumes safely.
func (s *sqlStore) Changes(ctx context.Context, after int64, limit int) ([]Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	if s.d == dialectPostgres {
		// The usual case, fewer than limit changes, in one statement; a
		// full page is read again below, with the rest of its last revision.
		out, err := s.changesPostgres(ctx, after, limit)
		if err != nil || len(out) < limit {
			return out, err
		}
	}
	var out []Change
	err := s.readTx(ctx, func(d db) error {
		var compacted int64
		if err := d.queryRow(ctx, `SELECT compacted FROM revision WHERE id = 1`).Scan(&compacted); err != nil {
			return fmt.Errorf("read changes: %w", err)
		}
		if after < compacted {
			return fmt.Errorf("changes after %d (log starts after %d): %w", after, compacted, ErrCompacted)
		}
		var err error
		if s.d == dialectPostgres {
			// Only revisions this process has taken in (its caches follow
			// them) are read: see replica.go.
			s.mu.Lock()
			known := s.rev
			s.mu.Unlock()
			out, err = scanChanges(ctx, d, `SELECT rev, seq, kind, obj_id, op FROM changes WHERE rev > $1 AND rev <= $3 ORDER BY rev, seq LIMIT $2`, after, limit, known)
		} else {
			out, err = scanChanges(ctx, d, `SELECT rev, seq, kind, obj_id, op FROM changes WHERE rev > $1 ORDER BY rev, seq LIMIT $2`, after, limit)
		}
		if err != nil || len(out) < limit {
			return err
		}
		// Count the entries of the last revision already read to find its next seq.
		lastSeq := 0
		for _, c := range out {
			if c.Revision == out[len(out)-1].Revision {
				lastSeq++
			}
		}
		last := out[len(out)-1]
		rest, err := scanChanges(ctx, d, `SELECT rev, seq, kind, obj_id, op FROM changes WHERE rev = $1 AND seq >= $2 ORDER BY seq`, last.Revision, lastSeq)
		out = append(out, rest...)
		return err
	})
	return out, err
}

// changesPostgres reads up to limit changes after after, and checks them
// against the log's start, in one statement (one consistent snapshot
// without a transaction's three more round trips): the plan feed reads the
// log after every commit.
func (s *sqlStore) changesPostgres(ctx context.Context, after int64, limit int) ([]Change, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	// Only revisions this process has taken in (its caches follow them)
	// are read: see replica.go.
	s.mu.Lock()
	known := s.rev
	s.mu.Unlock()
	rows, err := s.reader().query(ctx, `SELECT r.compacted, c.rev, c.kind, c.obj_id, c.op FROM revision r LEFT JOIN LATERAL (`+
		`SELECT rev, seq, kind, obj_id, op FROM changes WHERE rev > $1 AND rev <= $3 ORDER BY rev, seq LIMIT $2) c ON true `+
		`WHERE r.id = 1 ORDER BY c.rev, c.seq`, after, limit, known)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	var compacted int64
	for rows.Next() {
		var rev sql.NullInt64
		var kind, id, op sql.NullString
		if err := rows.Scan(&compacted, &rev, &kind, &id, &op); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		if rev.Valid {
			out = append(out, Change{Revision: rev.Int64, Kind: Kind(kind.String), ID: id.String, Op: Op(op.String)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	if after < compacted {
		return nil, fmt.Errorf("changes after %d (log starts after %d): %w", after, compacted, ErrCompacted)
	}
	return out, nil
}

func scanChanges(ctx context.Context, d db, q string, args ...any) ([]Change, error) {
	rows, err := d.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var kind, op string
		var seq int
		if err := rows.Scan(&c.Revision, &seq, &kind, &c.ID, &op); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		c.Kind, c.Op = Kind(kind), Op(op)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

func (s *sqlStore) Snapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := s.readTxWithin(ctx, snapshotTimeouts*s.cfg.Timeout, func(d db) error {
		var err error
		if err = d.queryRow(ctx, `SELECT rev FROM revision WHERE id = 1`).Scan(&snap.Revision); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if snap.Gateways, err = listGateways(ctx, d, Query{}); err != nil {
			return err
		}
		if snap.Connections, err = listConnections(ctx, d, Query{}); err != nil {
			return err
		}
		if snap.Networks, err = listNetworks(ctx, d, Query{}); err != nil {
			return err
		}
		if snap.Ports, err = listPorts(ctx, d, Query{}); err != nil {
			return err
		}
		if snap.Hosts, err = listHosts(ctx, d, Query{}); err != nil {
			return err
		}
		if snap.Switches, err = listSwitches(ctx, d, Query{}); err != nil {
			return err
		}
		snap.LocalMACs, err = listLocalMACs(ctx, d, Query{})
		return err
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return snap, nil
}

// isUniqueViolation reports a UNIQUE/PRIMARY KEY constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		return se.Code() == 2067 || se.Code() == 1555
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// where builds a WHERE clause with $N placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	if len(vals) == 1 {
		w.conds = append(w.conds, col+" = "+w.arg(vals[0]))
		return
	}
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = w.arg(v)
	}
	w.conds = append(w.conds, col+" IN ("+strings.Join(ph, ", ")+")")
}

// maxParentKeys bounds the parents a query of their children names: past
// it, reading every child costs less than a long IN list.
const maxParentKeys = 200

// childrenOf is the WHERE clause of a query of parents' children (ports'
// fixed IPs, gateways' devices): col IN the parents' keys when the parents
// were filtered and are few; when they are many, the range of their keys
// (parents come ordered by key, and a chunk of a streamed list of 100,000
// ports must not read every port's children); else no condition (all
// children). Children of other parents in the range are the caller's to
// skip, as it skips any child whose parent it did not list.
func childrenOf[T any](filtered bool, parents []T, col string, key func(T) string) where {
	var w where
	switch {
	case !filtered:
	case len(parents) <= maxParentKeys:
		keys := make([]string, len(parents))
		for i, p := range parents {
			keys[i] = key(p)
		}
		w.in(col, keys)
	default:
		w.cond(col+" >= ?", key(parents[0]))
		w.cond(col+" <= ?", key(parents[len(parents)-1]))
	}
	return w
}

func (w *where) cond(c string, v any) {
	w.conds = append(w.conds, strings.Replace(c, "?", w.arg(v), 1))
}

// page adds the marker condition on col; suffix returns ORDER BY and LIMIT.
func (w *where) page(col string, q Query) {
	if q.Marker != "" {
		w.cond(col+" > ?", q.Marker)
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (w *where) tail(col string, q Query) string {
	s := " ORDER BY " + col
	if q.Limit > 0 {
		s += " LIMIT " + w.arg(q.Limit)
	}
	return s
}

var _ Store = (*sqlStore)(nil)

// byID returns the one item list finds for a query by id, or notFound(id).
func byID[T any](ctx context.Context, id string, list func(context.Context, Query) ([]T, error), notFound func(string) error) (T, error) {
	items, err := list(ctx, Query{IDs: []string{id}})
	if err != nil {
		var zero T
		return zero, err
	}
	if len(items) == 0 {
		var zero T
		return zero, notFound(id)
	}
	return items[0], nil
}

// deleteByID deletes the row id of table (its dependants go by ON DELETE
// CASCADE), failing with notFound when there is none.
func deleteByID(ctx context.Context, w *wtx, table, id string, notFound error) error {
	return deletionByID(table, id).run(ctx, w, notFound)
}

// rowDelete is the statement that deletes a row by its id, as a write's
// first statement, and whether it found the row once it ran.
type rowDelete struct {
	table string
	st    statement
	found bool
}

func deletionByID(table, id string) *rowDelete {
	d := &rowDelete{table: table}
	d.st = statement{text: `DELETE FROM ` + table + ` WHERE id = $1 RETURNING id`, args: []any{id}, scan: func(rows rowScanner) error {
		d.found = false // a write may run again
		for rows.Next() {
			d.found = true
		}
		return rows.Err()
	}}
	return d
}

// run runs the delete as w's first statement: notFound when there was no
// row.
func (d *rowDelete) run(ctx context.Context, w *wtx, notFound error) error {
	unnote := w.unnote()
	if err := w.run(ctx, &d.st); err != nil {
		return fmt.Errorf("delete from %s: %w", d.table, err)
	}
	if !d.found {
		unnote() // nothing deleted
		return notFound
	}
	return nil
}

// written records a write that succeeded inside its batch, whose last
// revision is rev: a write that changed something takes the next one.
func (s *sqlStore) written(r *wreq, w *wtx, rev int64) int64 {
	if len(w.changes) > 0 {
		rev++
		if len(w.delta.gwPut)+len(w.delta.gwDel) > 0 {
			s.batchGateways = true // later requests must not read gateways from the cache
		}
	}
	r.w, r.rev = w, rev
	return rev
}

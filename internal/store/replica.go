package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Several `l2gw server` replicas may share one PostgreSQL database. Each
// commit sends pg_notify('l2gw_revision', note) inside its transaction (a
// commitNote: the revision, the one before, the kinds that changed); every
// replica LISTENs on that channel (listener below) and takes the revision in
// (takeInNote, takeIn): the gateway and connection caches drop what another
// replica changed, and the revision is published to Notify and
// WaitRevision, which wake the plan feed. When the listening connection is lost, the listener
// polls the revision row until it is back, so a lost notification delays
// a replica by at most the poll interval, never for good.
//
// The revision a replica has taken in (sqlStore.rev) may lag the database's
// by the time a notification takes: Changes never returns revisions past it,
// so a reader of the change log always finds the caches as new as the
// changes it reads.

// DefaultTimeout bounds one store operation on PostgreSQL when
// Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultPollInterval is how often a PostgreSQL store reads the revision
// when it cannot listen for notifications (and, more slowly, even when it
// can) if Config.PollInterval is zero.
const DefaultPollInterval = 250 * time.Millisecond

// ErrUnavailable reports that the database could not be reached or did not
// answer in time. The API answers it with 503.
var ErrUnavailable = errors.New("database unavailable")

// IsUnavailable reports whether err means the database is unreachable,
// frozen, shutting down or read-only, rather than that the request was
// wrong: what a client may retry later, elsewhere or after failover.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // shutdown, crash, cannot connect now
			return true
		case pe.Code == "25006": // read-only transaction (a standby behind the address)
			return true
		case pe.Code == "57014": // statement timeout
			return true
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY:
			return true
		}
	}
	return pgconn.Timeout(err) || errors.Is(err, io.EOF) && !errors.Is(err, sql.ErrNoRows)
}

// unavailable marks err as ErrUnavailable.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// opContext bounds one store operation on PostgreSQL, so that a frozen
// database fails requests instead of hanging them.
func (s *sqlStore) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.d != dialectPostgres {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// Check probes the database with a write that changes nothing (a read-only
// database, a full disk or an unreachable server fail it), within
// Config.Timeout. /healthz answers with it.
func (s *sqlStore) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err := s.write(ctx, func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`); err != nil {
			return fmt.Errorf("probe write: %w", err)
		}
		return nil
	})
	return err
}

// committing marks rev as the revision of this process's batch being
// committed (0: none any more): its notification, or a poll that reads
// it, is the batch's to take in (takeInNote, takeIn). A batch whose COMMIT
// failed may still have committed (the answer lost): clearing it then asks
// the listener to read the revision.
func (s *sqlStore) committing(rev int64, failed bool) {
	s.cache.mu.Lock()
	s.cache.inFlight = rev
	s.cache.mu.Unlock()
	if failed {
		s.listen.poke()
	}
}

// committedPostgres takes in a revision this process committed; d is what
// it did to gateways and connections. When every revision before it is
// taken in already, the caches apply d and the revision is published at
// once; otherwise another replica committed in between, and the caches are
// dropped and the listener publishes the revision once it took in the gap:
// the batch's revision is no longer left to the batch (committing), or the
// listener would wait for its next poll to take it in.
func (s *sqlStore) committedPostgres(rev int64, d *cacheDelta) {
	c := s.cache
	c.mu.Lock()
	if c.processed == rev-1 {
		c.applyLocked(d)
		c.processed = rev
		c.mu.Unlock()
		s.committed(rev)
		return
	}
	if !d.empty() {
		c.bumpLocked(len(d.gwPut)+len(d.gwDel) > 0, len(d.connPut)+len(d.connDel) > 0)
	}
	c.loaded = false
	c.inFlight = 0
	c.mu.Unlock()
	s.listen.poke()
}

// bumpLocked records a change of gateways and/or connections the cache
// cannot apply: the generations move and the cache reloads at next use.
func (c *objCache) bumpLocked(gw, conn bool) {
	if gw {
		c.gwGen++
	}
	if conn {
		c.connGen++
	}
	if gw || conn {
		c.loaded = false
	}
}

// takeIn takes in every revision up to rev (committed by any replica): the
// caches drop what changed meanwhile, then rev is published.
func (s *sqlStore) takeIn(ctx context.Context, rev int64) error {
	c := s.cache
	for {
		c.mu.RLock()
		from, inFlight := c.processed, c.inFlight
		c.mu.RUnlock()
		if rev <= from || rev == inFlight { // the batch of rev takes it in (committing)
			return nil
		}
		gw, conn, err := s.kindsChanged(ctx, from, rev)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.processed != from {
			c.mu.Unlock()
			continue // a local commit moved it: read again from there
		}
		c.bumpLocked(gw, conn)
		c.processed = rev
		c.mu.Unlock()
		s.committed(rev)
		return nil
	}
}

// commitNote is the payload of a commit's notification: the revision the
// commit moved the database to, the one before it, and whether it changed
// gateways or connections. A replica that has taken in prev takes in the
// commit from the note alone (takeInNote), without reading the change
// log: four round trips between a commit and the other replicas' plans.
type commitNote struct {
	rev, prev int64 // prev is -1 when unknown
	gw, conn  bool
}

// String is the payload: "rev prev kinds", kinds "g", "c", "gc" or "-".
func (n commitNote) String() string {
	kinds := ""
	if n.gw {
		kinds += "g"
	}
	if n.conn {
		kinds += "c"
	}
	if kinds == "" {
		kinds = "-"
	}
	return strconv.FormatInt(n.rev, 10) + " " + strconv.FormatInt(n.prev, 10) + " " + kinds
}

// parseCommitNote reads a payload; a bare revision (an older replica's
// payload) gives a note whose prev is unknown.
func parseCommitNote(payload string) (commitNote, bool) {
	f := strings.Fields(payload)
	if len(f) != 1 && len(f) != 3 {
		return commitNote{}, false
	}
	rev, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return commitNote{}, false
	}
	n := commitNote{rev: rev, prev: -1}
	if len(f) == 1 {
		return n, true
	}
	if n.prev, err = strconv.ParseInt(f[1], 10, 64); err != nil || n.prev >= rev {
		return commitNote{}, false
	}
	n.gw, n.conn = strings.Contains(f[2], "g"), strings.Contains(f[2], "c")
	return n, true
}

// takeInNote takes in a commit from its notification: from the note when
// every revision up to its prev is taken in, otherwise by reading the gap
// (takeIn).
//
// The notification of this process's own batch often comes back before the
// batch has taken its writes in (committedPostgres): taken in from the
// note, it would drop the caches, and have them read everything again, for
// changes the batch is about to apply to them. It is left to the batch.
func (s *sqlStore) takeInNote(ctx context.Context, n commitNote) error {
	c := s.cache
	c.mu.Lock()
	if n.rev == c.inFlight {
		c.mu.Unlock()
		return nil
	}
	if n.prev >= 0 && c.processed == n.prev {
		c.bumpLocked(n.gw, n.conn)
		c.processed = n.rev
		c.mu.Unlock()
		s.committed(n.rev)
		return nil
	}
	c.mu.Unlock()
	return s.takeIn(ctx, n.rev)
}

// kindsChanged reports whether revisions in (from, to] changed gateways or
// connections; when the log no longer reaches back to from, both count as
// changed.
func (s *sqlStore) kindsChanged(ctx context.Context, from, to int64) (gw, conn bool, err error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err = s.readTx(ctx, func(d db) error {
		var compacted int64
		if err := d.queryRow(ctx, `SELECT compacted FROM revision WHERE id = 1`).Scan(&compacted); err != nil {
			return err
		}
		if from < compacted {
			gw, conn = true, true
			return nil
		}
		rows, err := d.query(ctx, `SELECT DISTINCT kind FROM changes WHERE rev > $1 AND rev <= $2 AND kind IN ('gateway', 'connection')`, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			gw = gw || Kind(k) == KindGateway
			conn = conn || Kind(k) == KindConnection
		}
		return rows.Err()
	})
	if err != nil {
		return false, false, fmt.Errorf("read changed kinds: %w", err)
	}
	return gw, conn, nil
}

// listener follows other replicas' commits for a PostgreSQL store.
type listener struct {
	s      *sqlStore
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // 1-buffered: read the revision now

	// What the listener last learned of the database (Unreachable).
	mu      sync.Mutex
	lastOK  time.Time // its last answer: LISTEN, a notification, a ping, a poll
	failing bool      // the listener's last attempt since lastOK failed
}

func startListener(s *sqlStore, cfg *pgx.ConnConfig) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{s: s, cfg: cfg, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
		lastOK: time.Now()}
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
	return l
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

// answered records an answer of the database; failed, an attempt that got
// none (or an error).
func (l *listener) answered() {
	l.mu.Lock()
	l.lastOK, l.failing = time.Now(), false
	l.mu.Unlock()
}

func (l *listener) failed() {
	l.mu.Lock()
	l.failing = true
	l.mu.Unlock()
}

// Unreachable reports whether the database has been out of this process's
// reach for longer than Config.Timeout, and since when (its last answer):
// the notification connection is down or silent and the listener's latest
// probe failed, with no answer for longer than the timeout. A hiccup
// shorter than that (a restart, a dropped connection re-established at
// once) does not count. Always false on SQLite. The agent protocol ends its
// plan streams on it, so that agents move to a replica that still reaches
// the database.
func (s *sqlStore) Unreachable() (since time.Time, down bool) {
	l := s.listen
	if l == nil {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing && time.Since(l.lastOK) > s.cfg.Timeout {
		return l.lastOK, true
	}
	return time.Time{}, false
}

// poke asks the listener to read the revision now.
func (l *listener) poke() {
	if l == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run listens until ctx is done, reconnecting with a capped backoff and
// polling the revision while it cannot listen.
func (l *listener) run(ctx context.Context) {
	log := l.s.log.With("component", "store-listener")
	backoff := l.s.cfg.PollInterval
	lost := false
	for ctx.Err() == nil {
		err := l.listen(ctx, func() {
			if lost {
				log.Info("listening for other replicas' commits again")
				lost = false
			}
			backoff = l.s.cfg.PollInterval
		})
		if ctx.Err() != nil {
			return
		}
		if !lost {
			log.Warn("lost the notification connection; polling the revision until it is back", "err", err)
			lost = true
		}
		// Poll while the connection is down, retrying it after backoff.
		deadline := time.Now().Add(backoff)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			l.poll(ctx)
			select {
			case <-ctx.Done():
			case <-l.kick:
			case <-time.After(l.s.cfg.PollInterval):
			}
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// poll takes in the database's revision, if it can be read.
func (l *listener) poll(ctx context.Context) {
	rev, err := l.s.Revision(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.failed()
		}
		return // the next poll retries
	}
	l.answered()
	_ = l.s.takeIn(ctx, rev) // likewise
}

// listen holds one LISTEN connection until it fails. up is called once it
// listens.
func (l *listener) listen(ctx context.Context, up func()) error {
	cctx, cancel := context.WithTimeout(ctx, l.s.cfg.Timeout)
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	cancel()
	if err != nil {
		l.failed()
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	cctx, cancel = context.WithTimeout(ctx, l.s.cfg.Timeout)
	_, err = conn.Exec(cctx, `LISTEN l2gw_revision`)
	cancel()
	if err != nil {
		l.failed()
		return err
	}
	l.answered()
	up()
	l.poll(ctx) // commits made before LISTEN took effect
	// Even while listening the revision is read now and then: a
	// notification is lost when its sender dies between commit and
	// delivery, and the caches must not wait for the next commit.
	idle := max(4*l.s.cfg.PollInterval, time.Second)
	for {
		wctx, cancel := context.WithTimeout(ctx, idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			l.answered()
			if note, ok := parseCommitNote(n.Payload); ok {
				_ = l.s.takeInNote(ctx, note) // a failure is retried by the next poll
			}
		case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
			// Silence: check that the server still answers, then poll.
			pctx, cancel := context.WithTimeout(ctx, l.s.cfg.Timeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				l.failed()
				return fmt.Errorf("ping: %w", err)
			}
			l.answered()
			l.poll(ctx)
		default:
			l.failed()
			return err
		}
		select {
		case <-l.kick:
			l.poll(ctx)
		default:
		}
	}
}

// deadlineConn bounds every read and write on a database connection by
// timeout, on top of the deadlines pgx sets itself: a frozen server (a
// SIGSTOPped process, a black-holed network) fails the statement instead of
// hanging it.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu       sync.Mutex
	rd, wd   time.Time // pgx's own deadlines
	lastRead time.Time // last effective read deadline set
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd, c.wd = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wd = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func earliest(own, bound time.Time) time.Time {
	if own.IsZero() || bound.Before(own) {
		return bound
	}
	return own
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.Conn.SetReadDeadline(earliest(c.rd, time.Now().Add(c.timeout)))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	err := c.Conn.SetWriteDeadline(earliest(c.wd, time.Now().Add(c.timeout)))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

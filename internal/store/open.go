package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultChangeLogKeep is how many change-log entries a store keeps when
// Config.ChangeLogKeep is zero.
const DefaultChangeLogKeep = 100_000

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// Open connects to the database named by dsn, applies the embedded
// migrations and returns a Store.
//
// dsn is one of:
//   - sqlite:///abs/path/l2gw.db, sqlite://relative/path.db, or a bare file
//     path: SQLite (pure Go driver) in WAL mode with synchronous=FULL, so
//     every commit is durable; one writer connection and a pool of readers.
//   - postgres://… or postgresql://… (password in the user info or a
//     password= parameter), or a libpq key/value string
//     "host=… user=… password=… dbname=…": PostgreSQL through pgx. A bare
//     SQLite path that starts like "name=" must be written sqlite://….
//
// Errors and log lines show dsn only through Redact.
func Open(ctx context.Context, dsn string, cfg Config) (Store, error) {
	cfg = cfg.withDefaults()
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn, cfg)
	}
	path, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, path, cfg)
}

// IsPostgres reports whether dsn names a PostgreSQL database (as Open
// decides): a server that may be unreachable for a while, where SQLite's
// file is there or not.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || isKeyValue(dsn)
}

func (c Config) withDefaults() Config {
	if c.VNIMin == 0 {
		c.VNIMin = 1000
	}
	if c.VNIMax == 0 {
		c.VNIMax = 2000
	}
	if c.ChangeLogKeep <= 0 {
		c.ChangeLogKeep = DefaultChangeLogKeep
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PresenceExpiry <= 0 {
		c.PresenceExpiry = DefaultPresenceExpiry
	}
	return c
}

// sqlitePath extracts the file path of a sqlite DSN.
func sqlitePath(dsn string) (string, error) {
	p := dsn
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		p = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		p = strings.TrimPrefix(dsn, "sqlite:")
	case strings.Contains(dsn, "://"):
		return "", fmt.Errorf("open store: unsupported database url %q (want sqlite://, postgres:// or host=… key/value)", Redact(dsn))
	}
	if p == "" {
		return "", errors.New("open store: empty sqlite path")
	}
	if strings.ContainsAny(p, "?#") {
		return "", fmt.Errorf("open store: sqlite path %q must not contain '?' or '#'", Redact(dsn))
	}
	return filepath.Clean(p), nil
}

func openSQLite(ctx context.Context, path string, cfg Config) (Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	params := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&"+params)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// SQLite has one writer: one connection serialises writes in process.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, w, goose.DialectSQLite3, nil); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", path+"?"+params+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s, err := newSQLStore(ctx, w, r, dialectSQLite, cfg)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	cfg.Logger.Info("store opened", "backend", "sqlite", "path", path)
	return s, nil
}

// ListenerApplicationName is the application_name of a replica's
// connection that LISTENs for the other replicas' commits.
const ListenerApplicationName = "l2gw listener"

func openPostgres(ctx context.Context, dsn string, cfg Config) (Store, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	if pc.ConnectTimeout <= 0 || pc.ConnectTimeout > cfg.Timeout {
		pc.ConnectTimeout = cfg.Timeout
	}
	// The listener's connection waits for notifications for as long as
	// there are none: only the pool's reads and writes are bounded.
	lc := pc.Copy()
	// Named, so that an operator (and a test) tells it from the pool's in
	// pg_stat_activity.
	lc.RuntimeParams["application_name"] = ListenerApplicationName
	dial := pc.DialFunc
	pc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: c, timeout: cfg.Timeout}, nil
	}
	// A replica cut off from the database in the middle of a transaction
	// (a partition: nothing is reset) would hold its locks, the revision
	// row's among them, for as long as PostgreSQL takes to notice, and
	// stop every other replica's writes. Every transaction of the pool is
	// bounded by Timeout anyway: the server ends one idle for longer.
	if _, set := pc.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		pc.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(max(1, cfg.Timeout.Milliseconds()), 10)
	}
	db := stdlib.OpenDB(*pc)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	err = db.PingContext(pctx)
	cancel()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), unavailable(err))
	}
	// Several replicas may start at once: a session advisory lock keeps
	// migrations to one of them.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := migrate(ctx, db, goose.DialectPostgres, locker); err != nil {
		db.Close()
		return nil, err
	}
	s, err := newSQLStore(ctx, db, db, dialectPostgres, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.listen = startListener(s, lc)
	cfg.Logger.Info("store opened", "backend", "postgres", "dsn", Redact(dsn))
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, d goose.Dialect, locker lock.SessionLocker) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

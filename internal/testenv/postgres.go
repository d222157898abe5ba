package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresBin is where Debian's PostgreSQL 15 server binaries live.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// StartPostgres runs a throw-away PostgreSQL 15 server for the test: a new
// cluster (initdb) in a temp folder, listening only on a unix socket in that
// folder, with fsync off. It returns the DSN of its "postgres" database
// (user postgres, trust auth). The server is stopped by PID at cleanup.
// PostgreSQL refuses to run as root, so as root it runs as the "postgres" user.
func StartPostgres(t testing.TB) string {
	t.Helper()
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(PostgresBin, b)); err != nil {
			Missing(t, filepath.Join(PostgresBin, b)+" (package postgresql-15)")
		}
	}
	// Unix socket paths must stay under 108 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "l2gw-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Missing(t, "user postgres (package postgresql-common)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	p, err := StartProc(ProcConfig{
		Log:        filepath.Join(dir, "postgres.log"),
		Credential: cred,
		StopSignal: syscall.SIGINT, // PostgreSQL's "fast shutdown"
		Grace:      20 * time.Second,
		// A killed test binary does not leave the server behind.
		ParentDeathSignal: syscall.SIGQUIT,
	}, filepath.Join(PostgresBin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop() // the exit status of a stopped server is not interesting
		if t.Failed() {
			t.Logf("postgres.log:\n%s", p.Logs())
		}
	})
	dsn := "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable"
	waitPostgres(t, dsn, p)
	return dsn
}

func waitPostgres(t testing.TB, dsn string, p *Proc) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server reports readiness only by accepting connections.
	err = Poll(t.Context(), 30*time.Second, func() error {
		if !p.Running() {
			return StopPolling(fmt.Errorf("postgres exited at start: %s", p.Logs()))
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		return db.PingContext(ctx)
	})
	if err != nil {
		t.Fatalf("postgres not ready: %v", err)
	}
}

var pgDBSeq atomic.Int64

// PostgresDatabase creates a new empty database on the server of serverDSN
// (as returned by StartPostgres) and returns its DSN, so that tests can
// share one server and still start from scratch.
func PostgresDatabase(t testing.TB, serverDSN string) string {
	t.Helper()
	u, err := url.Parse(serverDSN)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), pgDBSeq.Add(1))
	db, err := sql.Open("pgx", serverDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u.Path = "/" + name
	return u.String()
}

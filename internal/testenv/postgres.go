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
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(PostgresBin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: a killed test binary does not leave the server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // the exit status of a stopped server is not interesting
		logf.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		// SIGINT is PostgreSQL's "fast shutdown".
		cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // it may have exited
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // last resort
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "postgres.log")); err == nil {
				t.Logf("postgres.log:\n%s", b)
			}
		}
	})
	dsn := "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable"
	waitPostgres(t, dsn, exited, dir)
	return dsn
}

func waitPostgres(t testing.TB, dsn string, exited <-chan struct{}, dir string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server reports readiness only by accepting connections.
	err = Poll(t.Context(), 30*time.Second, func() error {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return StopPolling(fmt.Errorf("postgres exited at start: %s", b))
		default:
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

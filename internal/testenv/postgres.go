package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	return StartPostgresServer(t).DSN
}

// Postgres is a PostgreSQL server started by StartPostgresServer, which a
// test may stop, start again, freeze and thaw (database outages) while its
// data directory and socket (its address) stay the same.
type Postgres struct {
	// DSN is the server's "postgres" database.
	DSN string

	// TCPDSN is the server's "postgres" database over TCP, set by
	// RunPostgresTCP.
	TCPDSN string

	dir   string
	cred  *syscall.Credential
	extra []string // more postgres -c settings (RunPostgresTCP)

	mu sync.Mutex
	p  *Proc
}

// StartPostgresServer is StartPostgres returning the server's handle.
func StartPostgresServer(t testing.TB) *Postgres {
	t.Helper()
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(PostgresBin, b)); err != nil {
			Missing(t, filepath.Join(PostgresBin, b)+" (package postgresql-15)")
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			Missing(t, "user postgres (package postgresql-common)")
		}
	}
	pg, err := RunPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			pg.mu.Lock()
			if pg.p != nil {
				t.Logf("postgres.log:\n%s", pg.p.Logs())
			}
			pg.mu.Unlock()
		}
		pg.Close()
	})
	return pg
}

// RunPostgres starts a throw-away PostgreSQL server as StartPostgres does,
// outside a test (bench programs); Close stops it and removes its files.
func RunPostgres() (*Postgres, error) { return runPostgres("", 0) }

// RunPostgresTCP is RunPostgres with the server also listening on TCP at
// addr:port (an address that must already be configured, e.g. a veth's, so
// that a client in another network namespace can reach it), trusting every
// client there; the unix socket stays and DSN keeps using it.
func RunPostgresTCP(addr string, port int) (*Postgres, error) {
	if addr == "" || port <= 0 {
		return nil, errors.New("postgres over TCP needs an address and a port")
	}
	return runPostgres(addr, port)
}

func runPostgres(tcpAddr string, port int) (*Postgres, error) {
	// Unix socket paths must stay under 108 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "l2gw-pg-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres runs as the user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	pg := &Postgres{
		DSN: "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable",
		dir: dir, cred: cred,
	}
	if tcpAddr != "" {
		hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, err = fmt.Fprintf(hba, "host all all 0.0.0.0/0 trust\n")
			if cerr := hba.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_hba.conf: %w", err)
		}
		p := strconv.Itoa(port)
		pg.extra = []string{"-c", "listen_addresses=" + tcpAddr, "-c", "port=" + p}
		// The unix socket's name carries the port too.
		pg.DSN += "&port=" + p
		pg.TCPDSN = "postgres://postgres@" + net.JoinHostPort(tcpAddr, p) + "/postgres?sslmode=disable"
	}
	if err := pg.Start(); err != nil {
		pg.Close()
		return nil, err
	}
	return pg, nil
}

// Close stops the server (thawing it first) and removes its files.
func (pg *Postgres) Close() {
	pg.mu.Lock()
	p := pg.p
	pg.mu.Unlock()
	if p != nil {
		_ = p.Signal(syscall.SIGCONT) // a frozen server cannot stop
		_ = p.Stop()                  // the exit status of a stopped server is not interesting
	}
	os.RemoveAll(pg.dir)
}

// Start starts the server (again) on the same data directory and socket
// and waits until it accepts connections.
func (pg *Postgres) Start() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.p != nil && pg.p.Running() {
		return errors.New("postgres is running")
	}
	data := filepath.Join(pg.dir, "data")
	p, err := StartProc(ProcConfig{
		Log:        filepath.Join(pg.dir, "postgres.log"),
		Credential: pg.cred,
		StopSignal: syscall.SIGINT, // PostgreSQL's "fast shutdown"
		Grace:      20 * time.Second,
		// A killed test binary does not leave the server behind.
		ParentDeathSignal: syscall.SIGQUIT,
	}, filepath.Join(PostgresBin, "postgres"), append([]string{"-D", data, "-k", pg.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"}, pg.extra...)...)
	if err != nil {
		return err
	}
	pg.p = p
	return waitPostgres(pg.DSN, p)
}

// Stop stops the server (fast shutdown: clients are disconnected).
func (pg *Postgres) Stop() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.p == nil {
		return nil
	}
	_ = pg.p.Stop() // a stopped server's exit status is not interesting
	return nil
}

// Freeze stops every process of the server with SIGSTOP: connections stay
// open and connects are accepted by the kernel, but nothing answers, as
// with a hung database host.
func (pg *Postgres) Freeze() error { return pg.signalAll(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (pg *Postgres) Thaw() error { return pg.signalAll(syscall.SIGCONT) }

// signalAll signals the postmaster and its children (backends, writers).
func (pg *Postgres) signalAll(sig syscall.Signal) error {
	pg.mu.Lock()
	p := pg.p
	pg.mu.Unlock()
	if p == nil {
		return errors.New("postgres not started")
	}
	pids := []int{p.Pid()}
	for i := 0; i < len(pids); i++ { // the tree, breadth first
		pids = append(pids, children(pids[i])...)
	}
	if sig == syscall.SIGCONT {
		slices.Reverse(pids) // children first, so none waits on a frozen parent
	}
	var errs []error
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// children lists the pids whose parent is pid (from /proc).
func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func waitPostgres(dsn string, p *Proc) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	// The server reports readiness only by accepting connections.
	err = Poll(context.Background(), 30*time.Second, func() error {
		if !p.Running() {
			return StopPolling(fmt.Errorf("postgres exited at start: %s", p.Logs()))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return db.PingContext(ctx)
	})
	if err != nil {
		return fmt.Errorf("postgres not ready: %w", err)
	}
	return nil
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

package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestStartPostgres(t *testing.T) {
	dsn := PostgresDatabase(t, StartPostgres(t))
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), "SHOW server_version").Scan(&v); err != nil {
		t.Fatalf("query: %v", err)
	}
	if v[:3] != "15." {
		t.Errorf("server_version = %q; want 15.x", v)
	}
}

// TestRunPostgresTCP reaches the server both over TCP and over its unix
// socket (whose name carries the non-default port), also after a restart.
func TestRunPostgresTCP(t *testing.T) {
	StartPostgresServer(t).Close() // skips or fails when PostgreSQL is missing
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pg, err := RunPostgresTCP("127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if want := fmt.Sprintf("127.0.0.1:%d", port); !strings.Contains(pg.TCPDSN, want) {
		t.Errorf("TCPDSN = %q; want it to name %s", pg.TCPDSN, want)
	}
	check := func() {
		t.Helper()
		for _, dsn := range []string{pg.TCPDSN, pg.DSN} {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			var addr sql.NullString
			err = db.QueryRowContext(t.Context(), "SELECT inet_server_addr()::text").Scan(&addr)
			db.Close()
			if err != nil {
				t.Fatalf("query over %s: %v", dsn, err)
			}
			// inet_server_addr is NULL over a unix socket.
			if tcp := dsn == pg.TCPDSN; addr.Valid != tcp {
				t.Errorf("over %s: inet_server_addr() = %v; want an address: %v", dsn, addr, tcp)
			}
		}
	}
	check()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	check()
}

package testenv

import (
	"context"
	"database/sql"
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

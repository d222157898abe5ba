package store

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestOpenKeyValueIsPostgres: a libpq key/value string goes to PostgreSQL,
// not to a SQLite file of that name, and its error hides the password.
func TestOpenKeyValueIsPostgres(t *testing.T) {
	const pw = "PwMarker51aa"
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"host=" + dir + "/nosocket user=l2gw password=" + pw + " dbname=l2gw connect_timeout=2",
		"host=" + dir + "/nosocket password='" + pw + " x' sslpassword=" + pw,
		"postgres://l2gw:" + pw + "@/l2gw?host=" + dir + "/nosocket&password=" + pw,
	} {
		st, err := Open(ctx, dsn, Config{})
		if err == nil {
			st.Close()
			t.Fatalf("Open(%q) succeeded; want a connection error", Redact(dsn))
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open(%q) = %v; shows the password", Redact(dsn), err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("Open created %v in the working directory; want nothing", ents)
	}
}

package lease

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// databaseDrivers are the import path prefixes of the database drivers and
// the migration tool: only the server (internal/store) may link them.
var databaseDrivers = []string{
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/lib/pq",
	"github.com/mattn/go-sqlite3",
	"github.com/pressly/goose",
	"github.com/l2gw/l2gw/internal/store",
}

// drivers returns the database drivers among the dependencies of pkg.
func drivers(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	var found []string
	for dep := range strings.FieldsSeq(string(out)) {
		if slices.ContainsFunc(databaseDrivers, func(d string) bool { return dep == d || strings.HasPrefix(dep, d+"/") }) {
			found = append(found, dep)
		}
	}
	return found
}

// TestAgentsLinkNoDatabaseDriver keeps the agents' binaries' packages free
// of the store and its drivers (issue 8): an agent talks to the server over
// the agent protocol, never to the database.
func TestAgentsLinkNoDatabaseDriver(t *testing.T) {
	for _, pkg := range []string{"switchagent", "hostagent", "softvtep", "agentlink", "client", "agentwire", "lease", "linuxvxlan", "reconcile", "planstream"} {
		t.Run(pkg, func(t *testing.T) {
			if got := drivers(t, "github.com/l2gw/l2gw/internal/"+pkg); len(got) > 0 {
				t.Errorf("go list -deps internal/%s lists database packages %v; want none", pkg, got)
			}
		})
	}
	// The check itself: the store does link them.
	if got := drivers(t, "github.com/l2gw/l2gw/internal/store"); !slices.Contains(got, "modernc.org/sqlite") {
		t.Errorf("database packages of internal/store = %v; want modernc.org/sqlite among them", got)
	}
}

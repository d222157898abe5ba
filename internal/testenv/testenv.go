package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireCommand skips (or, under CI, fails) the test when name is not on PATH,
// and returns its path.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not installed")
	}
	return p
}

// Missing skips the test for a missing prerequisite, or fails it under CI.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv("L2GW_REQUIRE_OVSDB") == "1" {
		t.Fatalf("prerequisite missing: %s", why)
	}
	t.Skipf("prerequisite missing: %s", why)
}

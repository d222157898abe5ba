package version

import "testing"

func TestGet(t *testing.T) {
	// A test binary has build info; its main module version is empty,
	// shown as "(devel)".
	if got := Get(); got.Version == "" || got.Version == "unknown" {
		t.Errorf("Get() = %+v; want a version", got)
	}
}

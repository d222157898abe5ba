package version

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want Info
		str  string
	}{
		{
			name: "release",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}},
			want: Info{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"},
			str:  "v1.2.3 (revision abc123, go1.26.8)",
		},
		{
			name: "dirty tree",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			want: Info{Version: "(devel)", Revision: "abc123-dirty", GoVersion: "go1.26.8"},
			str:  "(devel) (revision abc123-dirty, go1.26.8)",
		},
		{
			name: "no vcs",
			bi:   debug.BuildInfo{GoVersion: "go1.26.8"},
			want: Info{Version: "(devel)", GoVersion: "go1.26.8"},
			str:  "(devel) (revision unknown, go1.26.8)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(&tt.bi)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fromBuildInfo() (-want +got):\n%s", diff)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q; want %q", s, tt.str)
			}
		})
	}
}

// TestStamped checks a packaged build's stamped version wins over the
// source tree's (devel).
func TestStamped(t *testing.T) {
	old := stamped
	stamped = "v1.2.3"
	t.Cleanup(func() { stamped = old })
	bi := debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got, want := fromBuildInfo(&bi).String(), "v1.2.3 (revision unknown, go1.26.8)"; got != want {
		t.Errorf("fromBuildInfo() = %q; want %q", got, want)
	}
}

func TestGet(t *testing.T) {
	if got := Get().GoVersion; got != runtime.Version() {
		t.Errorf("Get().GoVersion = %q; want %q", got, runtime.Version())
	}
}

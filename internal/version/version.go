// Package version reports what the running l2gw binary was built from: the
// module version, the VCS revision and the Go version, as recorded by the Go
// toolchain (runtime/debug.ReadBuildInfo).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info describes the build of the running binary. Fields the toolchain did
// not record are empty ("(devel)" is the module version of a build from a
// source tree rather than of `go install module@version`).
// stamped is the version a packaged build sets (packaging/deb):
//
//	go build -ldflags "-X github.com/l2gw/l2gw/internal/version.stamped=v1.2.3"
//
// A build of the source tree has no module version ((devel)), so the
// package's version is stamped instead; empty means the module's.
var stamped string

type Info struct {
	Version   string // module version, e.g. v1.2.3 or (devel)
	Revision  string // VCS revision (vcs.revision), with "-dirty" when the tree had changes
	GoVersion string // Go toolchain, e.g. go1.26.8
}

// Get returns the build information of the running binary.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(unknown)", GoVersion: runtime.Version()}
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo extracts Info from bi.
func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if stamped != "" {
		info.Version = stamped
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Revision != "" {
		info.Revision += "-dirty"
	}
	return info
}

// String is the one-line form printed by `l2gw --version`, e.g.
// "v1.2.3 (revision 0123abcd, go1.26.8)".
func (i Info) String() string {
	rev := i.Revision
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("%s (revision %s, %s)", i.Version, rev, i.GoVersion)
}

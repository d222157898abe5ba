// Package version reads what the running binary was built from, for
// `l2gw --version` and the server's status.
package version

import "runtime/debug"

// Info is what the binary was built from.
type Info struct {
	Version  string `json:"version"`  // the main module's version, "(devel)" for a plain go build
	Revision string `json:"revision"` // vcs.revision, "" when unknown
	Modified bool   `json:"modified"` // vcs.modified: built from a changed tree
}

// Get returns the build's Info (Version "unknown" without build info).
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	i := Info{Version: bi.Main.Version}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	if i.Version == "" {
		i.Version = "(devel)"
	}
	return i
}

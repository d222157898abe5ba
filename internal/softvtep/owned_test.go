package softvtep

import "github.com/l2gw/l2gw/internal/linuxvxlan"

// ownedVNI returns the VNI of an owned device name (svbrN, svvxN) for the
// given prefix, as the data plane parses it.
func ownedVNI(name, prefix string) (int, bool) { return linuxvxlan.ParseVNI(name, prefix) }

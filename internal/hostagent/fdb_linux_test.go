package hostagent

import (
	"github.com/vishvananda/netlink"

	"github.com/l2gw/l2gw/internal/linuxvxlan"
)

// isBridgeEntry is linuxvxlan.IsBridgeEntry, for the kernel state dumps of
// the tests.
func isBridgeEntry(e netlink.Neigh) bool { return linuxvxlan.IsBridgeEntry(e) }

package hostagent

import (
	"log/slog"
	"net"

	"github.com/l2gw/l2gw/internal/linuxvxlan"
)

// DefaultMTU is the overlay MTU of a network whose plan gives none: 1500
// minus the 50 bytes of outer Ethernet, IPv4, UDP and VXLAN headers.
const DefaultMTU = linuxvxlan.DefaultMTU

// RealiserConfig configures a Realiser. The zero value realises nothing but
// can clean up.
type RealiserConfig struct {
	// VTEPIP is the host's VXLAN source address. Required to realise a plan
	// that has networks; not needed by Cleanup.
	VTEPIP net.IP
	// DefaultMTU is the MTU of a network whose plan has none; 0 means DefaultMTU.
	DefaultMTU int
	// Logger receives one Info record per kernel change; nil discards.
	Logger *slog.Logger
}

// Result says what a Realise call did.
type Result struct {
	// Changes counts kernel objects created, modified or removed.
	Changes int
	// MissingInterfaces lists (sorted) plan interfaces that do not exist
	// yet; they are enslaved by a later Realise once they appear.
	MissingInterfaces []string
	// Attached lists, by network id of the plan, the plan's interfaces that
	// are enslaved to the network's bridge after the call (read back from
	// the kernel, whatever the call's error).
	Attached map[string][]string
}

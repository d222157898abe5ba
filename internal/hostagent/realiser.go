package hostagent

import (
	"log/slog"
	"net"
)

// VXLANPort is the IANA VXLAN UDP port (RFC 7348 section 5) our devices use.
const VXLANPort = 4789

// DefaultMTU is the overlay MTU of a network whose plan gives none: 1500
// minus the 50 bytes of outer Ethernet, IPv4, UDP and VXLAN headers.
const DefaultMTU = 1450

// zeroMAC is the VXLAN FDB "default destination" MAC: frames with no more
// specific entry (broadcast, unknown unicast, multicast) go to all its
// remotes (head-end replication).
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h): no IPv6
// link-local address, so the host itself does not speak ND/MLD into overlays.
const in6AddrGenModeNone = 1

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
}

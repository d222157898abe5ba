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
	// NetworkErrors holds, by network id of the plan, why the network was
	// not realised as planned: its bridge, VXLAN device, ports or FDB
	// entries failed, or the plan gives it what the kernel cannot take (an
	// invalid VNI or interface name, a VNI or an interface of another
	// network). A network of the plan not in it was realised, unless
	// HostError is set.
	NetworkErrors map[string]error
	// HostError holds the errors that concern every network of the plan
	// (the kernel's state could not be read, no VTEP IP): none of them can
	// be taken as realised. Errors that concern no network of the plan
	// (devices of a network no longer planned that could not be removed)
	// are neither here nor in NetworkErrors, only in Realise's error.
	HostError error
}

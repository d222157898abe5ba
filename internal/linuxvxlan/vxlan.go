package linuxvxlan

import "github.com/l2gw/l2gw/internal/model"

// Port is the IANA VXLAN UDP port (RFC 7348 section 5) of our VXLAN devices.
const Port = 4789

// MaxVNI is the largest VXLAN network identifier.
const MaxVNI = model.MaxVNI

// ValidVNI reports whether vni can identify a VXLAN device: 1 to MaxVNI
// (VNI 0 is legal on the wire but reserved by our naming).
func ValidVNI(vni int) bool { return vni >= 1 && vni <= MaxVNI }

// DefaultMTU is the MTU of a network that gives none: 1500 minus the 50
// bytes of outer Ethernet, IPv4, UDP and VXLAN headers.
const DefaultMTU = 1450

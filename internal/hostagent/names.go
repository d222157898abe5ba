package hostagent

import "github.com/l2gw/l2gw/internal/linuxvxlan"

// Device name prefixes of the devices the host agent owns. Names are
// prefix + decimal VNI: at most 4+8 characters, within IFNAMSIZ (15).
const (
	VXLANPrefix  = "l2vx"
	BridgePrefix = "l2br"
)

// MaxVNI is the largest 24-bit VXLAN network identifier.
const MaxVNI = linuxvxlan.MaxVNI

// ownNames is the host agent's naming convention, the whole record of what
// it owns.
func ownNames() linuxvxlan.Names {
	return linuxvxlan.Names{Bridge: BridgePrefix, VXLAN: VXLANPrefix}
}

// VXLANName is the VXLAN device of a VNI.
func VXLANName(vni int) string { return ownNames().VXLANName(vni) }

// BridgeName is the bridge of a VNI.
func BridgeName(vni int) string { return ownNames().BridgeName(vni) }

// parseOwned reports whether name is one of our device names, which kind
// (VXLANPrefix or BridgePrefix) and its VNI.
func parseOwned(name string) (prefix string, vni int, ok bool) {
	switch kind, vni := ownNames().Parse(name); kind {
	case linuxvxlan.KindVXLAN:
		return VXLANPrefix, vni, true
	case linuxvxlan.KindBridge:
		return BridgePrefix, vni, true
	}
	return "", 0, false
}

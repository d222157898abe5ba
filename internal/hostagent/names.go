package hostagent

import (
	"strconv"
	"strings"
)

// Device name prefixes of the devices the host agent owns. Names are
// prefix + decimal VNI: at most 4+8 characters, within IFNAMSIZ (15).
const (
	VXLANPrefix  = "l2vx"
	BridgePrefix = "l2br"
)

// MaxVNI is the largest 24-bit VXLAN network identifier.
const MaxVNI = 1<<24 - 1

// VXLANName is the VXLAN device of a VNI.
func VXLANName(vni int) string { return VXLANPrefix + strconv.Itoa(vni) }

// BridgeName is the bridge of a VNI.
func BridgeName(vni int) string { return BridgePrefix + strconv.Itoa(vni) }

// parseOwned reports whether name is one of our device names, which kind
// (VXLANPrefix or BridgePrefix) and its VNI.
func parseOwned(name string) (prefix string, vni int, ok bool) {
	for _, p := range []string{VXLANPrefix, BridgePrefix} {
		rest, found := strings.CutPrefix(name, p)
		if !found || rest == "" || len(rest) > 8 {
			continue
		}
		// Canonical decimal only ("l2vx01" is not ours: VXLANName never makes it).
		if rest[0] == '0' && rest != "0" {
			return "", 0, false
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > MaxVNI || strconv.Itoa(n) != rest {
			return "", 0, false
		}
		return p, n, true
	}
	return "", 0, false
}

// validVNI reports whether vni can be used for a VXLAN device.
func validVNI(vni int) bool { return vni >= 1 && vni <= MaxVNI }

package linuxvxlan

import (
	"fmt"
	"strconv"
	"strings"
)

// maxVNIDigits is the length of MaxVNI in decimal.
const maxVNIDigits = 8

// maxIfName is the longest Linux interface name (IFNAMSIZ - 1).
const maxIfName = 15

// Names is a device naming convention: the bridge of VNI n is named
// Bridge+n and its VXLAN device VXLAN+n, n in canonical decimal. The names
// are the whole record of ownership (see the package comment), so each user
// of the package has its own prefixes.
type Names struct {
	Bridge string
	VXLAN  string
}

// Kind says which device of a network an owned name denotes.
type Kind int

// Kinds of device names.
const (
	NotOwned Kind = iota
	KindBridge
	KindVXLAN
)

// validate checks that every name fits IFNAMSIZ and that no name of one
// prefix can parse as the other.
func (n Names) validate() error {
	for _, p := range []string{n.Bridge, n.VXLAN} {
		if p == "" || len(p)+maxVNIDigits > maxIfName {
			return fmt.Errorf("device name prefix %q: want 1 to %d characters", p, maxIfName-maxVNIDigits)
		}
	}
	if strings.HasPrefix(n.Bridge, n.VXLAN) || strings.HasPrefix(n.VXLAN, n.Bridge) {
		return fmt.Errorf("device name prefixes %q and %q overlap", n.Bridge, n.VXLAN)
	}
	return nil
}

// BridgeName is the bridge of a VNI.
func (n Names) BridgeName(vni int) string { return n.Bridge + strconv.Itoa(vni) }

// VXLANName is the VXLAN device of a VNI.
func (n Names) VXLANName(vni int) string { return n.VXLAN + strconv.Itoa(vni) }

// Parse returns which of our devices name is and its VNI, or NotOwned.
func (n Names) Parse(name string) (Kind, int) {
	if vni, ok := ParseVNI(name, n.Bridge); ok {
		return KindBridge, vni
	}
	if vni, ok := ParseVNI(name, n.VXLAN); ok {
		return KindVXLAN, vni
	}
	return NotOwned, 0
}

// ParseVNI returns the VNI of a device name made of prefix and a VNI in
// canonical decimal. Other spellings ("l2vx01", "l2vx+1") are not names we
// make, so they are not ours either.
func ParseVNI(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || len(rest) > maxVNIDigits || rest[0] == '0' {
		return 0, false
	}
	vni := 0
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return 0, false
		}
		vni = vni*10 + int(c-'0')
	}
	if !ValidVNI(vni) {
		return 0, false
	}
	return vni, true
}

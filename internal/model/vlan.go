package model

// VLAN ids a gateway interface or a connection's default segmentation id may
// carry. 0 is not one of them: IEEE 802.1Q reserves VID 0 (a priority tag,
// no VLAN) and 4095. networking-l2gw read 0 as "no VLAN" on an interface but
// bound VLAN 0 as a connection's default; l2gw refuses it in both places.
const (
	MinVLAN = 1
	MaxVLAN = 4094
)

// CheckVLAN returns nil for a VLAN id in MinVLAN..MaxVLAN, else the
// InvalidInput fault clients see: the original's "out of range" text, and
// for 0 a message saying that it is not a VLAN.
func CheckVLAN(v int) error {
	switch {
	case v == 0:
		return NewFault(ErrInvalid, "InvalidInput", "Invalid input for operation: Segmentation id 0 is not a valid VLAN; valid VLANs are %d-%d.", MinVLAN, MaxVLAN)
	case v < MinVLAN || v > MaxVLAN:
		return NewFault(ErrInvalid, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.")
	}
	return nil
}

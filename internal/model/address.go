package model

import "net"

// UnicastMAC returns the canonical lower-case form of s when s is a 48-bit
// unicast MAC address: not all zeros and without the group bit (IEEE 802
// section 8.2: the least significant bit of the first octet), so neither
// broadcast nor multicast. Only such a MAC can be a port's address, a
// hardware_vtep Ucast_Macs_Remote row or a unicast FDB entry.
func UnicastMAC(s string) (string, bool) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 || hw[0]&1 != 0 {
		return "", false
	}
	for _, b := range hw {
		if b != 0 {
			return hw.String(), true
		}
	}
	return "", false
}

// VTEPIPv4 returns the dotted form of s when s is an IPv4 address (an
// IPv4-mapped IPv6 form included). A VTEP IP must be one: hardware_vtep
// switches only have vxlan_over_ipv4 locators (Physical_Locator
// encapsulation_type), so a host behind an IPv6 VTEP could never be reached.
func VTEPIPv4(s string) (string, bool) {
	ip := net.ParseIP(s).To4()
	if ip == nil {
		return "", false
	}
	return ip.String(), true
}

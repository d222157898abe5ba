package model

import (
	"net"
	"net/netip"
)

// UnicastMAC returns the canonical lower-case form of s when s is a 48-bit
// unicast MAC address: not all zeros and without the group bit (IEEE 802
// section 8.2: the least significant bit of the first octet), so neither
// broadcast nor multicast. Only such a MAC can be a port's address, a
// hardware_vtep Ucast_Macs_Remote row or a unicast FDB entry.
func UnicastMAC(s string) (string, bool) {
	hw, why := parseUnicastMAC(s)
	if why != "" {
		return "", false
	}
	return hw.String(), true
}

// NotUnicastMAC says why s is not a unicast MAC address as UnicastMAC
// defines it ("" when it is one), for reports that name the reason.
func NotUnicastMAC(s string) (why string) {
	_, why = parseUnicastMAC(s)
	return why
}

func parseUnicastMAC(s string) (net.HardwareAddr, string) {
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6:
		return nil, "not a 48-bit mac"
	case hw[0]&1 != 0 && string(hw) == "\xff\xff\xff\xff\xff\xff":
		return nil, "broadcast"
	case hw[0]&1 != 0:
		return nil, "multicast"
	case string(hw) == "\x00\x00\x00\x00\x00\x00":
		return nil, "all-zero"
	}
	return hw, ""
}

// VTEPIPv4 returns the dotted form of s when s is an IPv4 address (an
// IPv4-mapped IPv6 form included). A VTEP IP must be one: hardware_vtep
// switches only have vxlan_over_ipv4 locators (Physical_Locator
// encapsulation_type), so a host behind an IPv6 VTEP could never be reached.
func VTEPIPv4(s string) (string, bool) {
	ip, ok := IPv4(s)
	if !ok {
		return "", false
	}
	return ip.String(), true
}

// IPv4 parses s as VTEPIPv4 does, into a netip.Addr (never an
// IPv4-mapped IPv6 one).
func IPv4(s string) (netip.Addr, bool) {
	ip := net.ParseIP(s).To4()
	if ip == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(ip)), true
}

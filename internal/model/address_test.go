package model

import "testing"

func TestUnicastMAC(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"fa:16:3e:00:00:01", "fa:16:3e:00:00:01", true},
		{"FA-16-3E-00-00-01", "fa:16:3e:00:00:01", true},
		{"02:00:00:00:00:00", "02:00:00:00:00:00", true}, // locally administered unicast
		{"00:00:5e:00:01:01", "00:00:5e:00:01:01", true}, // VRRP
		{"00:00:00:00:00:00", "", false},
		{"ff:ff:ff:ff:ff:ff", "", false},
		{"01:00:5e:00:00:01", "", false}, // IPv4 multicast
		{"33:33:00:00:00:01", "", false}, // IPv6 multicast
		{"01:80:c2:00:00:00", "", false}, // STP
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "", false},
		{"zz", "", false},
		{"", "", false},
	} {
		if got, ok := UnicastMAC(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("UnicastMAC(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVTEPIPv4(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"192.0.2.5", "192.0.2.5", true},
		{"::ffff:192.0.2.5", "192.0.2.5", true},
		{"2001:db8::5", "", false},
		{"::1", "", false},
		{"192.0.2.300", "", false},
		{"", "", false},
	} {
		if got, ok := VTEPIPv4(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("VTEPIPv4(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNotUnicastMAC(t *testing.T) {
	for in, want := range map[string]string{
		"fa:16:3e:00:00:01": "",
		"FF:FF:FF:FF:FF:FF": "broadcast",
		"01:00:5e:00:00:01": "multicast",
		"00:00:00:00:00:00": "all-zero",
		"fa:16:3e:00:01":    "not a 48-bit mac",
		"":                  "not a 48-bit mac",
	} {
		if got := NotUnicastMAC(in); got != want {
			t.Errorf("NotUnicastMAC(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.5":        "192.0.2.5",
		"::ffff:192.0.2.5": "192.0.2.5", // unmapped
		"2001:db8::5":      "",
		"nope":             "",
	} {
		got, ok := IPv4(in)
		if ok != (want != "") || (ok && (got.String() != want || !got.Is4())) {
			t.Errorf("IPv4(%q) = %v, %v; want %q", in, got, ok, want)
		}
	}
}

package hostagent

import "testing"

func TestParseOwned(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		vni    int
		ok     bool
	}{
		{"l2vx1000", VXLANPrefix, 1000, true},
		{"l2br1", BridgePrefix, 1, true},
		{"l2vx16777215", VXLANPrefix, MaxVNI, true},
		{"l2vx16777216", "", 0, false},
		{"l2vx0", "", 0, false},
		{"l2vx01", "", 0, false},
		{"l2vx", "", 0, false},
		{"l2vx-1", "", 0, false},
		{"l2vx+1", "", 0, false},
		{"l2brother", "", 0, false},
		{"vx1000", "", 0, false},
		{"tap1", "", 0, false},
		{"l2vx123456789", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, vni, ok := parseOwned(tc.name)
			if p != tc.prefix || vni != tc.vni || ok != tc.ok {
				t.Errorf("parseOwned(%q) = %q, %d, %v; want %q, %d, %v", tc.name, p, vni, ok, tc.prefix, tc.vni, tc.ok)
			}
		})
	}
	for _, vni := range []int{1, 4096, MaxVNI} {
		for _, name := range []string{VXLANName(vni), BridgeName(vni)} {
			if len(name) > 15 {
				t.Errorf("%s is longer than IFNAMSIZ-1", name)
			}
			if _, got, ok := parseOwned(name); !ok || got != vni {
				t.Errorf("parseOwned(%q) = %d, %v; want %d, true", name, got, ok, vni)
			}
		}
	}
}

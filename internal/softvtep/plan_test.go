package softvtep

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

func intp(i int) *int { return &i }

func TestComputePlan(t *testing.T) {
	ports := []Port{{Name: "port1", Interface: "p1"}, {Name: "port2", Interface: "eth-long-name"}}
	loc := func(uuid, ip string) vtep.PhysicalLocator {
		return vtep.PhysicalLocator{UUID: uuid, DstIP: ip, EncapsulationType: vtep.PhysicalLocatorEncapsulationTypeVxlanOverIpv4}
	}
	base := func() *snapshot {
		return &snapshot{
			logicalSwitches: map[string]vtep.LogicalSwitch{
				"ls-a": {UUID: "ls-a", Name: "a", TunnelKey: intp(1000)},
				"ls-b": {UUID: "ls-b", Name: "b", TunnelKey: intp(2000)},
			},
			locators: map[string]vtep.PhysicalLocator{
				"l2": loc("l2", "192.0.2.2"), "l3": loc("l3", "192.0.2.3"), "bad": loc("bad", "not-an-ip"),
			},
			locatorSets: map[string]vtep.PhysicalLocatorSet{"set": {UUID: "set", Locators: []string{"l3", "l2", "bad"}}},
		}
	}
	tests := []struct {
		name   string
		edit   func(s *snapshot)
		want   map[int]*lsPlan
		faults map[string][]string
	}{{
		name:   "no bindings",
		edit:   func(s *snapshot) {},
		want:   map[int]*lsPlan{},
		faults: map[string][]string{"port1": nil, "port2": nil},
	}, {
		name: "tagged and untagged bindings with remote macs and flooding",
		edit: func(s *snapshot) {
			s.ports = []vtep.PhysicalPort{
				{UUID: "pp1", Name: "port1", VLANBindings: map[int]string{100: "ls-a", 0: "ls-b"}},
				{UUID: "other", Name: "not-ours", VLANBindings: map[int]string{5: "ls-a"}},
			}
			s.ucastRemote = []vtep.UcastMacsRemote{
				{MAC: "02:00:00:00:00:0A", LogicalSwitch: "ls-a", Locator: "l2"},
				{MAC: "02:00:00:00:00:0b", LogicalSwitch: "ls-a", Locator: "l3"},
				{MAC: "02:00:00:00:00:0b", LogicalSwitch: "ls-a", Locator: "l2"}, // duplicate: smallest IP wins
				{MAC: "garbage", LogicalSwitch: "ls-a", Locator: "l2"},
				{MAC: "02:00:00:00:00:0c", LogicalSwitch: "ls-a", Locator: "bad"},
				{MAC: "02:00:00:00:00:0d", LogicalSwitch: "unbound", Locator: "l2"},
			}
			s.mcastRemote = []vtep.McastMacsRemote{
				{MAC: "unknown-dst", LogicalSwitch: "ls-a", LocatorSet: "set"},
				{MAC: "01:00:5e:00:00:01", LogicalSwitch: "ls-b", LocatorSet: "set"},
			}
		},
		want: map[int]*lsPlan{
			1000: {VNI: 1000, LSUUID: "ls-a", LSName: "a",
				Members: []member{{Port: "port1", VLAN: 100, Dev: "p1.100", Parent: "p1"}},
				Remote: map[string]netip.Addr{
					"02:00:00:00:00:0a": netip.MustParseAddr("192.0.2.2"),
					"02:00:00:00:00:0b": netip.MustParseAddr("192.0.2.2"),
				},
				Flood: []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
			},
			2000: {VNI: 2000, LSUUID: "ls-b", LSName: "b",
				Members: []member{{Port: "port1", VLAN: 0, Dev: "p1"}},
				Remote:  map[string]netip.Addr{},
			},
		},
		faults: map[string][]string{"port1": nil, "port2": nil},
	}, {
		name: "bad bindings become faults",
		edit: func(s *snapshot) {
			s.logicalSwitches["ls-nokey"] = vtep.LogicalSwitch{UUID: "ls-nokey", Name: "nokey"}
			s.logicalSwitches["ls-dup"] = vtep.LogicalSwitch{UUID: "ls-dup", Name: "z-dup", TunnelKey: intp(1000)}
			s.logicalSwitches["ls-big"] = vtep.LogicalSwitch{UUID: "ls-big", Name: "big", TunnelKey: intp(1 << 24)}
			s.ports = []vtep.PhysicalPort{
				{UUID: "pp1", Name: "port1", VLANBindings: map[int]string{1: "ls-nokey", 2: "ls-dup", 3: "ls-big", 4: "gone", 5: "ls-a"}},
				{UUID: "pp2", Name: "port2", VLANBindings: map[int]string{4000: "ls-b"}},
			}
		},
		want: map[int]*lsPlan{
			1000: {VNI: 1000, LSUUID: "ls-a", LSName: "a",
				Members: []member{{Port: "port1", VLAN: 5, Dev: "p1.5", Parent: "p1"}},
				Remote:  map[string]netip.Addr{}},
		},
		faults: map[string][]string{
			"port1": {
				"vlan 1: logical switch nokey has no tunnel_key",
				"vlan 2: logical switch z-dup: tunnel_key 1000 already used by a",
				"vlan 3: logical switch big: tunnel_key 16777216 out of range",
				"vlan 4: logical switch gone not found",
			},
			"port2": {"vlan 4000: device name eth-long-name.4000 longer than 15"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.edit(s)
			got := computePlan(ports, s)
			if d := cmp.Diff(tt.want, got.switches, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("computePlan() switches (-want +got)\n%s", d)
			}
			if d := cmp.Diff(tt.faults, got.faults); d != "" {
				t.Errorf("computePlan() faults (-want +got)\n%s", d)
			}
		})
	}
}

func TestOwnedVNI(t *testing.T) {
	tests := []struct {
		name   string
		want   int
		wantOK bool
	}{
		{"svbr1000", 1000, true},
		{"svbr16777215", 16777215, true},
		{"svbr16777216", 0, false},
		{"svbr0", 0, false},
		{"svbr01", 0, false},
		{"svbr", 0, false},
		{"svbr1x", 0, false},
		{"svvx1000", 0, false},
		{"br-ls1000", 0, false},
	}
	for _, tt := range tests {
		got, ok := ownedVNI(tt.name, bridgePrefix)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ownedVNI(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestConfig(t *testing.T) {
	ok := Config{OVSDB: "unix:/x", Name: "sw", TunnelIP: netip.MustParseAddr("192.0.2.1"),
		Ports: []Port{{Name: "port1", Interface: "p1"}}}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr bool
	}{
		{"valid", func(c *Config) {}, false},
		{"no ovsdb", func(c *Config) { c.OVSDB = "" }, true},
		{"no name", func(c *Config) { c.Name = "" }, true},
		{"ipv6 tunnel", func(c *Config) { c.TunnelIP = netip.MustParseAddr("2001:db8::1") }, true},
		{"no ports", func(c *Config) { c.Ports = nil }, true},
		{"duplicate port", func(c *Config) { c.Ports = append(c.Ports, Port{Name: "port1", Interface: "p2"}) }, true},
		{"duplicate interface", func(c *Config) { c.Ports = append(c.Ports, Port{Name: "port2", Interface: "p1"}) }, true},
		{"long interface", func(c *Config) { c.Ports[0].Interface = "a-very-long-ifname" }, true},
		{"bad mtu", func(c *Config) { c.MTU = 10 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			c.Ports = append([]Port(nil), ok.Ports...)
			tt.edit(&c)
			if err := c.validate(); (err != nil) != tt.wantErr {
				t.Errorf("validate() = %v; want error %v", err, tt.wantErr)
			}
		})
	}
	for _, tt := range []struct {
		in      string
		want    Port
		wantErr bool
	}{
		{"port1=p1", Port{Name: "port1", Interface: "p1"}, false},
		{"port1", Port{}, true},
		{"=p1", Port{}, true},
		{"port1=", Port{}, true},
	} {
		got, err := ParsePort(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

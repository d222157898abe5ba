package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDevice(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    deviceArg
		wantErr string
	}{
		{
			name: "seed example",
			in:   `name=gatewayhost,interface_names=port1;port2:100,101`,
			want: deviceArg{Name: "gatewayhost", Interfaces: []interfaceArg{
				{Name: "port1"}, {Name: "port2", SegIDs: []string{"100", "101"}},
			}},
		},
		{
			name: "seg ids on every interface",
			in:   `name=sw,interface_names=p1:10;p2:20,21,22`,
			want: deviceArg{Name: "sw", Interfaces: []interfaceArg{
				{Name: "p1", SegIDs: []string{"10"}}, {Name: "p2", SegIDs: []string{"20", "21", "22"}},
			}},
		},
		{
			name: "openstack client syntax",
			in:   `name=gatewayhost,interface_names=port1;port2|100#101`,
			want: deviceArg{Name: "gatewayhost", Interfaces: []interfaceArg{
				{Name: "port1"}, {Name: "port2", SegIDs: []string{"100", "101"}},
			}},
		},
		{
			name: "keys in any order",
			in:   `interface_names=eth1:5,name=tor1`,
			want: deviceArg{Name: "tor1", Interfaces: []interfaceArg{{Name: "eth1", SegIDs: []string{"5"}}}},
		},
		{
			name: "name only (update with --add-interface)",
			in:   `name=gatewayhost`,
			want: deviceArg{Name: "gatewayhost"},
		},
		{
			name: "trailing semicolon tolerated",
			in:   `name=sw,interface_names=p1;`,
			want: deviceArg{Name: "sw", Interfaces: []interfaceArg{{Name: "p1"}}},
		},
		{name: "empty", in: "", wantErr: "empty value"},
		{name: "no key", in: "gatewayhost", wantErr: `missing value for key "gatewayhost"`},
		{name: "no name", in: "interface_names=p1", wantErr: "name= is required"},
		{name: "empty name", in: "name=,interface_names=p1", wantErr: "name= is required"},
		{name: "unknown key", in: "name=sw,color=red", wantErr: `unknown key "color"`},
		{name: "duplicate key", in: "name=sw,name=sw2", wantErr: `key "name" given twice`},
		{name: "empty interface list", in: "name=sw,interface_names=", wantErr: "lists no interface"},
		{name: "empty interface name", in: "name=sw,interface_names=:100", wantErr: "empty interface name"},
		{name: "empty seg id", in: "name=sw,interface_names=p1:100,", wantErr: "empty segmentation id"},
		{name: "empty seg list", in: "name=sw,interface_names=p1:", wantErr: "empty segmentation id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDevice(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseDevice(%q) error = %v; want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDevice(%q) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseDevice(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestApplyInterfaceChanges(t *testing.T) {
	cur := []interfaceArg{{Name: "port1", SegIDs: []string{"100"}}, {Name: "port2", SegIDs: []string{"101"}}}
	tests := []struct {
		name    string
		add     []interfaceArg
		remove  []string
		want    []interfaceArg
		wantErr string
	}{
		{name: "add", add: []interfaceArg{{Name: "port3", SegIDs: []string{"200"}}},
			want: []interfaceArg{cur[0], cur[1], {Name: "port3", SegIDs: []string{"200"}}}},
		{name: "remove", remove: []string{"port2"}, want: []interfaceArg{cur[0]}},
		{name: "add and remove", add: []interfaceArg{{Name: "port3", SegIDs: []string{"200"}}}, remove: []string{"port1"},
			want: []interfaceArg{cur[1], {Name: "port3", SegIDs: []string{"200"}}}},
		{name: "re-add replaces vlans", add: []interfaceArg{{Name: "port1", SegIDs: []string{"7"}}},
			want: []interfaceArg{{Name: "port1", SegIDs: []string{"7"}}, cur[1]}},
		{name: "remove unknown", remove: []string{"port9"}, wantErr: `--remove-interface "port9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyInterfaceChanges(cur, tt.add, tt.remove)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("applyInterfaceChanges() error = %v; want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("applyInterfaceChanges() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("applyInterfaceChanges() (-want +got):\n%s", diff)
			}
		})
	}
}

// formatDeviceArg writes d back in the seed's syntax.
func formatDeviceArg(d deviceArg) string {
	s := "name=" + d.Name
	if d.Interfaces == nil {
		return s
	}
	parts := make([]string, len(d.Interfaces))
	for i, ifc := range d.Interfaces {
		parts[i] = ifc.Name
		if len(ifc.SegIDs) > 0 {
			parts[i] += ":" + strings.Join(ifc.SegIDs, ",")
		}
	}
	return s + ",interface_names=" + strings.Join(parts, ";")
}

// plain reports whether s survives a format/parse round trip unchanged.
func plain(s string) bool {
	return s == strings.TrimSpace(s) && !strings.ContainsAny(s, ",;:|=#")
}

func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{
		`name=gatewayhost,interface_names=port1;port2:100,101`,
		`name=gatewayhost,interface_names=port1;port2|100#101`,
		`name=sw`, `interface_names=a:1,name=b`, `name=,`, `a,b=c`, `name=x,interface_names=;;`,
		`name=x,interface_names=p:1,,2`, `name=a=b,interface_names=p|`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDevice(s)
		if err != nil {
			return
		}
		if d.Name == "" {
			t.Fatalf("parseDevice(%q) accepted an empty device name", s)
		}
		if d.Interfaces != nil && len(d.Interfaces) == 0 {
			t.Fatalf("parseDevice(%q) accepted an empty interface list", s)
		}
		roundTrips := plain(d.Name)
		for _, ifc := range d.Interfaces {
			if ifc.Name == "" {
				t.Fatalf("parseDevice(%q) accepted an empty interface name", s)
			}
			roundTrips = roundTrips && plain(ifc.Name)
			for _, seg := range ifc.SegIDs {
				if seg == "" {
					t.Fatalf("parseDevice(%q) accepted an empty segmentation id", s)
				}
				roundTrips = roundTrips && plain(seg)
			}
		}
		if !roundTrips {
			return
		}
		again, err := parseDevice(formatDeviceArg(d))
		if err != nil {
			t.Fatalf("parseDevice(formatDeviceArg(%+v)) error = %v", d, err)
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", s, diff)
		}
	})
}

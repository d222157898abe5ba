package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/neutron"
)

func TestGatewayUpdateBody(t *testing.T) {
	gw := neutron.Gateway{ID: "g1", Name: "gw1", Devices: []neutron.Device{
		{DeviceName: "gatewayhost", Interfaces: []neutron.Interface{
			{Name: "port1", SegmentationID: []string{}}, {Name: "port2", SegmentationID: []string{}},
		}},
		{DeviceName: "tor2", Interfaces: []neutron.Interface{{Name: "eth1", SegmentationID: []string{"5"}}}},
	}}
	single := neutron.Gateway{ID: "g2", Name: "gw2", Devices: gw.Devices[:1]}
	newName := "gw1b"
	dev := func(s string) []deviceArg {
		d, err := parseDevice(s)
		if err != nil {
			t.Fatalf("parseDevice(%q): %v", s, err)
		}
		return []deviceArg{d}
	}
	ifc := func(s string) []interfaceArg {
		i, err := parseInterface(s)
		if err != nil {
			t.Fatalf("parseInterface(%q): %v", s, err)
		}
		return []interfaceArg{i}
	}
	tests := []struct {
		name    string
		gw      neutron.Gateway
		setName bool
		devs    []deviceArg
		adds    []interfaceArg
		removes []string
		want    neutron.GatewayUpdate
		wantErr string
	}{
		{
			name: "name only", gw: gw, setName: true,
			want: neutron.GatewayUpdate{Name: &newName},
		},
		{
			name: "seed: add and remove on a named device", gw: gw,
			devs: dev("name=gatewayhost"), adds: ifc("port3"), removes: []string{"port2"},
			want: neutron.GatewayUpdate{Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
				Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port3"}}}}},
		},
		{
			name: "add with seg ids keeps the other device untouched", gw: gw,
			devs: dev("name=tor2"), adds: ifc("eth2:6,7"),
			want: neutron.GatewayUpdate{Devices: []neutron.DeviceRequest{{DeviceName: "tor2",
				Interfaces: []neutron.InterfaceRequest{
					{Name: "eth1", SegmentationID: []string{"5"}}, {Name: "eth2", SegmentationID: []string{"6", "7"}},
				}}}},
		},
		{
			name: "single device inferred", gw: single, adds: ifc("port4"),
			want: neutron.GatewayUpdate{Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
				Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port2"}, {Name: "port4"}}}}},
		},
		{
			name: "replace with interface_names (openstack style)", gw: gw, setName: true,
			devs: dev("name=gatewayhost,interface_names=port1;port4"),
			want: neutron.GatewayUpdate{Name: &newName, Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
				Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port4"}}}}},
		},
		{name: "ambiguous device", gw: gw, adds: ifc("p9"), wantErr: "has 2 devices"},
		{name: "unknown device", gw: gw, devs: dev("name=nosuch"), adds: ifc("p9"), wantErr: `no device "nosuch"`},
		{name: "remove unknown interface", gw: gw, devs: dev("name=gatewayhost"), removes: []string{"port9"}, wantErr: "port9"},
		{name: "device without interfaces or edits", gw: gw, devs: dev("name=gatewayhost"), wantErr: "give interface_names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gatewayUpdateBody(tt.gw, tt.setName, newName, tt.devs, tt.adds, tt.removes)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("gatewayUpdateBody() error = %v; want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("gatewayUpdateBody() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("gatewayUpdateBody() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := writeTable(&b, []string{"id", "devices"}, [][]string{
		{"a", "sw1: p1;p2:100\nsw2: eth1"},
		{"bb", ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `+----+----------------+
| id | devices        |
+----+----------------+
| a  | sw1: p1;p2:100 |
|    | sw2: eth1      |
| bb |                |
+----+----------------+
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable() (-want +got):\n%s", diff)
	}
}

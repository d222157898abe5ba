package api

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
)

// checkRejection fails unless err is a client error with a Neutron type.
func checkRejection(t *testing.T, body []byte, err error) {
	t.Helper()
	var f *model.Fault
	if !errors.As(err, &f) || f.Type == "" || f.Message == "" {
		t.Fatalf("body %q: error %v is not a NeutronError fault", body, err)
	}
	if s := statusOf(err); s < 400 || s >= 500 {
		t.Fatalf("body %q: status %d for %v; want 4xx", body, s, err)
	}
}

func parse(t *testing.T, body []byte) (any, bool) {
	v, err := parseJSON(body)
	if err != nil {
		checkRejection(t, body, err)
		return nil, false
	}
	return v, true
}

func seedGateways(f *testing.F) {
	for _, s := range []string{
		`{"l2_gateway":{"name":"gw","devices":[{"device_name":"s","interfaces":[{"name":"p1","segmentation_id":[100,"101"]},{"name":"p2","segmentation_id":["0"]}]}]}}`,
		`{"l2_gateway":{"devices":[{"device_name":"s","interfaces":[{"name":"p"}]},{"device_name":"t","interfaces":[{"name":"q","x":1}]}],"project_id":"p"}}`,
		`{"l2_gateway":{"devices":"abc"}}`, `{"l2_gateway":{"devices":[{"device_name":"s","interfaces":[{"name":"p","segmentation_id":[null]}]}]}}`,
		`{}`, `[]`, `{"l2_gateway":{"name":"x",`, `{"l2_gateway":{"id":1}}`, `{"l2_gateway":{"devices":[1e400]}}`,
	} {
		f.Add([]byte(s))
	}
}

// gatewayBody encodes a gateway as a create request.
func gatewayBody(gw model.Gateway) []byte {
	req := neutron.GatewayCreate{Name: gw.Name, TenantID: gw.TenantID}
	for _, d := range gw.Devices {
		dr := neutron.DeviceRequest{DeviceName: d.Name}
		for _, i := range d.Interfaces {
			ir := neutron.InterfaceRequest{Name: i.Name}
			for _, v := range i.SegmentationIDs {
				ir.SegmentationID = append(ir.SegmentationID, strconv.Itoa(v))
			}
			dr.Interfaces = append(dr.Interfaces, ir)
		}
		req.Devices = append(req.Devices, dr)
	}
	b, _ := json.Marshal(map[string]any{neutron.KeyGateway: req})
	return b
}

func FuzzGatewayCreate(f *testing.F) {
	seedGateways(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, ok := parse(t, body)
		if !ok {
			return
		}
		gw, err := decodeGatewayCreate(v, "proj")
		if err != nil {
			checkRejection(t, body, err)
			return
		}
		if gw.TenantID == "" {
			gw.TenantID = "proj"
		}
		again, _ := parseJSON(gatewayBody(gw))
		gw2, err := decodeGatewayCreate(again, "proj")
		if err != nil {
			t.Fatalf("accepted %q, but not its re-encoding %s: %v", body, gatewayBody(gw), err)
		}
		if diff := cmp.Diff(gw, gw2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
		}
	})
}

func FuzzGatewayUpdate(f *testing.F) {
	seedGateways(f)
	f.Add([]byte(`{"l2_gateway":{}}`))
	f.Add([]byte(`{"l2_gateway":{"name":"n","tenant_id":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, ok := parse(t, body)
		if !ok {
			return
		}
		u, devs, err := decodeGatewayUpdate(v)
		if err != nil {
			checkRejection(t, body, err)
			return
		}
		if err := checkConsistent(devs); err != nil {
			checkRejection(t, body, err)
		}
		req := map[string]any{}
		if u.Name != nil {
			req["name"] = *u.Name
		}
		if len(u.Devices) > 0 {
			gw := model.Gateway{}
			for _, d := range u.Devices {
				gw.Devices = append(gw.Devices, model.Device{Name: d.Name, Interfaces: d.Interfaces})
			}
			var m map[string]map[string]any
			_ = json.Unmarshal(gatewayBody(gw), &m)
			req["devices"] = m[neutron.KeyGateway]["devices"]
		}
		b, _ := json.Marshal(map[string]any{neutron.KeyGateway: req})
		again, _ := parseJSON(b)
		u2, _, err := decodeGatewayUpdate(again)
		if err != nil {
			t.Fatalf("accepted %q, but not its re-encoding %s: %v", body, b, err)
		}
		if diff := cmp.Diff(u, u2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
		}
	})
}

func FuzzConnectionCreate(f *testing.F) {
	for _, s := range []string{
		`{"l2_gateway_connection":{"l2_gateway_id":"g","network_id":"n","segmentation_id":"0100"}}`,
		`{"l2_gateway_connection":{"network_id":"n","segmentation_id":303}}`,
		`{"l2_gateway_connection":{"network_id":"n","segmentation_id":" +12 "}}`,
		`{"l2_gateway_connection":{"l2_gateway_id":"g"}}`, `{"l2_gateway_connection":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, ok := parse(t, body)
		if !ok {
			return
		}
		in, err := decodeConnectionCreate(v, "proj")
		if err != nil {
			checkRejection(t, body, err)
			return
		}
		if in.segErr != nil {
			checkRejection(t, body, in.segErr)
			return
		}
		req := neutron.ConnectionCreate{L2GatewayID: in.conn.GatewayID, NetworkID: in.conn.NetworkID, TenantID: in.conn.TenantID}
		if in.conn.SegmentationID != nil {
			req.SegmentationID = strconv.Itoa(*in.conn.SegmentationID)
		}
		b, _ := json.Marshal(map[string]any{neutron.KeyConnection: req})
		again, _ := parseJSON(b)
		in2, err := decodeConnectionCreate(again, "proj")
		if err != nil || in2.segErr != nil {
			t.Fatalf("accepted %q, but not its re-encoding %s: %v %v", body, b, err, in2.segErr)
		}
		if diff := cmp.Diff(in.conn, in2.conn); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
		}
	})
}

func FuzzPortCreate(f *testing.F) {
	for _, s := range []string{
		`{"port":{"network_id":"n","mac_address":"FA:16:3E:00:00:01","fixed_ips":[{"ip_address":"10.0.0.5","subnet_id":"s"}],"binding:host_id":"h","binding:profile":{"interface_name":"tap1"},"allowed_address_pairs":[{"ip_address":"10.0.0.0/24"}],"admin_state_up":"false"}}`,
		`{"ports":[{"network_id":"n"},{"port":{"network_id":"m","device_owner":"compute:nova"}}]}`,
		`{"port":{"network_id":"n","fixed_ips":[{"subnet_id":"s"}]}}`, `{"port":{"mac_address":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, ok := parse(t, body)
		if !ok {
			return
		}
		items, _, err := envelope(v, neutron.KeyPort, neutron.KeyPorts, true)
		if err != nil {
			checkRejection(t, body, err)
			return
		}
		for _, res := range items {
			p, err := decodePortCreate(res, "proj")
			if err != nil {
				checkRejection(t, body, err)
				return
			}
			w := neutron.FromPort(p)
			up := w.AdminStateUp
			req := neutron.PortCreate{
				NetworkID: p.NetworkID, Name: p.Name, TenantID: p.TenantID, MACAddress: p.MACAddress,
				FixedIPs: w.FixedIPs, HostID: p.HostID, Profile: &w.Profile, DeviceOwner: p.DeviceOwner,
				DeviceID: p.DeviceID, AdminStateUp: &up,
			}
			for _, a := range p.AllowedAddressPairs {
				req.AllowedAddressPairs = append(req.AllowedAddressPairs, neutron.AddressPair(a))
			}
			b, _ := json.Marshal(map[string]any{neutron.KeyPort: req})
			again, _ := parseJSON(b)
			items2, _, err := envelope(again, neutron.KeyPort, neutron.KeyPorts, true)
			if err != nil {
				t.Fatalf("re-encoding %s: %v", b, err)
			}
			p2, err := decodePortCreate(items2[0], "proj")
			if err != nil {
				t.Fatalf("accepted %q, but not its re-encoding %s: %v", body, b, err)
			}
			if diff := cmp.Diff(p, p2, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
			}
		}
	})
}

func FuzzNetworkCreate(f *testing.F) {
	for _, s := range []string{
		`{"network":{"name":"n","provider:network_type":"vxlan","provider:segmentation_id":1500}}`,
		`{"networks":[{"name":"a"},{"network":{"name":"b","admin_state_up":true,"mtu":"1400"}}]}`,
		`{"network":{"provider:network_type":"vlan"}}`, `{"network":{"provider:segmentation_id":"16777216"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, ok := parse(t, body)
		if !ok {
			return
		}
		items, _, err := envelope(v, neutron.KeyNetwork, neutron.KeyNetworks, true)
		if err != nil {
			checkRejection(t, body, err)
			return
		}
		for _, res := range items {
			n, err := decodeNetworkCreate(res, "proj")
			if err != nil {
				checkRejection(t, body, err)
				return
			}
			up, shared := n.AdminStateUp, n.Shared
			req := neutron.NetworkCreate{Name: n.Name, TenantID: n.TenantID, AdminStateUp: &up, Shared: &shared,
				MTU: n.MTU, NetworkType: n.NetworkType, SegmentationID: n.VNI}
			b, _ := json.Marshal(map[string]any{neutron.KeyNetwork: req})
			again, _ := parseJSON(b)
			items2, _, _ := envelope(again, neutron.KeyNetwork, neutron.KeyNetworks, true)
			n2, err := decodeNetworkCreate(items2[0], "proj")
			if err != nil {
				t.Fatalf("accepted %q, but not its re-encoding %s: %v", body, b, err)
			}
			if diff := cmp.Diff(n, n2); diff != "" {
				t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
			}
		}
	})
}

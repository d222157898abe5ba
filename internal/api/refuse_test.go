package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

// refusal is one request the API must refuse (or, with want, accept), with
// the exact status, NeutronError type and message.
type refusal struct {
	name, method, path, body string
	status                   int
	typ, msg                 string
	want                     string // JSON body, when not an error
}

func (e *env) check(t *testing.T, tests []refusal, expand func(string) string) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, expand(tc.path), expand(tc.body))
			if r.status != tc.status {
				t.Fatalf("%s %s %s = %d %s; want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			}
			switch {
			case tc.typ != "":
				typ, msg := neutronError(t, r)
				if typ != tc.typ || msg != expand(tc.msg) {
					t.Errorf("error = %s %q;\nwant  %s %q", typ, msg, tc.typ, expand(tc.msg))
				}
			case tc.want != "":
				matchJSON(t, expand(tc.want), r.body)
			case len(r.body) != 0:
				t.Errorf("body = %q; want none", r.body)
			}
		})
	}
}

func expander(ids map[string]string) func(string) string {
	return func(s string) string {
		for k, v := range ids {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
}

// TestUnbridgedInterfaces: a connection must bind every interface of its
// gateway. Gateway gwm = gatewayhost port3 (no VLAN) + tor2 eth1:10 takes
// no default segmentation id (it has VLANs), so port3 would stay unbound
// while the status said in_sync: refused, naming port3.
func TestUnbridgedInterfaces(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port3", "port4")
	e.reportSwitch("tor2", "eth1", "eth2")
	ids := map[string]string{
		"net1": e.create("/v2.0/networks", "network", `{"network":{"name":"net1"}}`),
		"gwm": e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"gwm","devices":[`+
			`{"device_name":"gatewayhost","interfaces":[{"name":"port3"},{"name":"port4"}]},`+
			`{"device_name":"tor2","interfaces":[{"name":"eth1","segmentation_id":[10]}]}]}}`),
		"gwv": e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"gwv","devices":[`+
			`{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":[20]}]},`+
			`{"device_name":"tor2","interfaces":[{"name":"eth1","segmentation_id":[10]}]}]}}`),
	}
	const connPath = "/v2.0/l2-gateway-connections"
	e.check(t, []refusal{
		{name: "mixed gateway, no default", method: "POST", path: connPath,
			body:   `{"l2_gateway_connection":{"l2_gateway_id":"{gwm}","network_id":"{net1}"}}`,
			status: 400, typ: "InvalidInput",
			msg: "Invalid input for operation: interfaces without a segmentation id would stay unbridged: 2 interfaces: gatewayhost/port3, gatewayhost/port4. " +
				"L2 gateway {gwm} has segmentation ids on its other interfaces, so no default segmentation_id applies; " +
				"re-create the gateway with segmentation ids on every interface, or on none and give the connection a default segmentation_id."},
		{name: "mixed gateway, default", method: "POST", path: connPath,
			body:   `{"l2_gateway_connection":{"l2_gateway_id":"{gwm}","network_id":"{net1}","segmentation_id":"100"}}`,
			status: 400, typ: "InvalidInput",
			msg: "Invalid input for operation: default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation."},
		{name: "nothing created", method: "GET", path: connPath, status: 200, want: `{"l2_gateway_connections":[]}`},
		{name: "every interface has VLANs", method: "POST", path: connPath + "?fields=l2_gateway_id&fields=segmentation_id",
			body:   `{"l2_gateway_connection":{"l2_gateway_id":"{gwv}","network_id":"{net1}"}}`,
			status: 201, want: `{"l2_gateway_connection":{"l2_gateway_id":"{gwv}","segmentation_id":""}}`},
	}, expander(ids))
}

// TestDeleteInUse: a host that ports are bound to, or a network with ports,
// is not deleted along with them (the ports showed bound and ACTIVE while
// their MACs left the switch): 409 naming up to five ports and the count.
func TestDeleteInUse(t *testing.T) {
	e := newEnv(t, api.Config{})
	ids := map[string]string{
		"net1":  e.create("/v2.0/networks", "network", `{"network":{"name":"net1"}}`),
		"net2":  e.create("/v2.0/networks", "network", `{"network":{"name":"net2"}}`),
		"host1": e.create("/v2.0/hosts", "host", `{"host":{"name":"compute1","vtep_ip":"192.0.2.2"}}`),
		"host2": e.create("/v2.0/hosts", "host", `{"host":{"name":"compute2","vtep_ip":"192.0.2.3"}}`),
	}
	var net1Ports []string
	for i := range 7 {
		id := e.create("/v2.0/ports", "port", fmt.Sprintf(`{"port":{"network_id":%q,"binding:host_id":"compute1","mac_address":"fa:16:3e:00:00:%02x"}}`, ids["net1"], i+1))
		net1Ports = append(net1Ports, id)
	}
	ids["p2"] = e.create("/v2.0/ports", "port", fmt.Sprintf(`{"port":{"network_id":%q,"binding:host_id":"compute2"}}`, ids["net2"]))
	slices.Sort(net1Ports)
	first5 := strings.Join(net1Ports[:5], ", ")
	e.check(t, []refusal{
		{name: "host with ports", method: "DELETE", path: "/v2.0/hosts/{host1}", status: 409, typ: "HostInUse",
			msg: "Unable to delete host compute1 ({host1}): ports are bound to it (binding:host_id): 7 ports: " + first5 +
				" and 2 more. Delete the ports or bind them to another host first."},
		{name: "host with one port", method: "DELETE", path: "/v2.0/hosts/{host2}", status: 409, typ: "HostInUse",
			msg: "Unable to delete host compute2 ({host2}): ports are bound to it (binding:host_id): 1 port: {p2}. Delete the ports or bind them to another host first."},
		{name: "network with ports", method: "DELETE", path: "/v2.0/networks/{net1}", status: 409, typ: "NetworkInUse",
			msg: "Unable to complete operation on network {net1}. There are one or more ports still in use on the network: 7 ports: " + first5 +
				" and 2 more. Delete the ports first."},
		// DOWN: no host agent runs in this test (port status is measured).
		{name: "port still bound", method: "GET", path: "/v2.0/ports/{p2}?fields=binding:host_id&fields=status", status: 200,
			want: `{"port":{"binding:host_id":"compute2","status":"DOWN"}}`},
		{name: "host still there", method: "GET", path: "/v2.0/hosts/{host1}?fields=name", status: 200, want: `{"host":{"name":"compute1"}}`},
		{name: "unbind the port", method: "PUT", path: "/v2.0/ports/{p2}?fields=binding:host_id", body: `{"port":{"binding:host_id":""}}`, status: 200,
			want: `{"port":{"binding:host_id":""}}`},
		{name: "host without ports", method: "DELETE", path: "/v2.0/hosts/{host2}", status: 204},
		{name: "network with an unbound port", method: "DELETE", path: "/v2.0/networks/{net2}", status: 409, typ: "NetworkInUse",
			msg: "Unable to complete operation on network {net2}. There are one or more ports still in use on the network: 1 port: {p2}. Delete the ports first."},
		{name: "delete the port", method: "DELETE", path: "/v2.0/ports/{p2}", status: 204},
		{name: "network without ports", method: "DELETE", path: "/v2.0/networks/{net2}", status: 204},
	}, expander(ids))
}

// TestNothingIgnored: unknown keys at every level are refused (the seed's
// "segmentation-id" used to be dropped with its VLANs), a gateway names each
// device once, VLAN 0 is refused everywhere, and a connection's
// segmentation_id may be a JSON integer.
func TestNothingIgnored(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port1", "port2", "port3")
	ids := map[string]string{
		"net1": e.create("/v2.0/networks", "network", `{"network":{"name":"net1"}}`),
		"gw":   e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"gw","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]}}`),
		"gwv":  e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"gwv","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":[20]}]}]}}`),
		"gw3":  e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"gw3","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port3"}]}]}}`),
	}
	ids["port"] = e.create("/v2.0/ports", "port", `{"port":{"network_id":"`+ids["net1"]+`"}}`)
	gw := func(devices string) string { return `{"l2_gateway":{"name":"x","devices":` + devices + `}}` }
	const gwPath, connPath = "/v2.0/l2-gateways", "/v2.0/l2-gateway-connections"
	vlan0 := "Invalid input for operation: Segmentation id 0 is not a valid VLAN; valid VLANs are 1-4094."
	e.check(t, []refusal{
		// Unknown keys.
		{name: "gateway", method: "POST", path: gwPath, body: `{"l2_gateway":{"name":"x","colour":"red","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port3"}]}]}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'colour'"},
		{name: "device", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","vlan":5,"interfaces":[{"name":"port3"}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'vlan' in devices[0]"},
		{name: "seed's segmentation-id", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation-id":[300]}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'segmentation-id' in devices[0].interfaces[0] (did you mean 'segmentation_id'?)"},
		{name: "second interface", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3"},{"name":"port1","b":1,"a":2}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'a, b' in devices[0].interfaces[1]"},
		{name: "update interface", method: "PUT", path: gwPath + "/{gw}", body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation-id":[300]}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'segmentation-id' in devices[0].interfaces[0] (did you mean 'segmentation_id'?)"},
		{name: "update device", method: "PUT", path: gwPath + "/{gw}", body: `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","id":"x","interfaces":[{"name":"port3"}]}]}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'id' in devices[0]"},
		{name: "connection", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation-id":"100"}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'segmentation-id'"},
		{name: "network", method: "POST", path: "/v2.0/networks", body: `{"network":{"name":"n","vni":5}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'vni'"},
		{name: "port", method: "POST", path: "/v2.0/ports", body: `{"port":{"network_id":"{net1}","host":"compute1"}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'host'"},
		{name: "port binding:profile", method: "POST", path: "/v2.0/ports", body: `{"port":{"network_id":"{net1}","binding:profile":{"interface_name":"tap1","interface-name":"tap2"}}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'interface-name' in binding:profile (did you mean 'interface_name'?)"},
		{name: "port allowed_address_pairs", method: "PUT", path: "/v2.0/ports/{port}", body: `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.9","mac":"fa:16:3e:00:00:09"}]}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'mac' in allowed_address_pairs[0]"},
		{name: "host", method: "POST", path: "/v2.0/hosts", body: `{"host":{"name":"c9","vtep_ip":"192.0.2.9","vtep-ip":"192.0.2.9"}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'vtep-ip'"},
		{name: "host update", method: "PUT", path: "/v2.0/hosts/x", body: `{"host":{"vtepip":"192.0.2.9"}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'vtepip'"},
		// A device twice.
		{name: "device twice", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":[30]}]},{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Invalid input for devices. Reason: device 'gatewayhost' is listed twice; list each device once with all its interfaces."},
		{name: "update device twice", method: "PUT", path: gwPath + "/{gw}", body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3"}]},{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]`),
			status: 400, typ: "HTTPBadRequest", msg: "Invalid input for devices. Reason: device 'gatewayhost' is listed twice; list each device once with all its interfaces."},
		// VLAN 0.
		{name: "interface vlan 0", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":[0]}]}]`),
			status: 400, typ: "InvalidInput", msg: vlan0},
		{name: "interface vlan \"0\" among others", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":["100","0"]}]}]`),
			status: 400, typ: "InvalidInput", msg: vlan0},
		{name: "update interface vlan 0", method: "PUT", path: gwPath + "/{gwv}", body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":[0]}]}]`),
			status: 400, typ: "InvalidInput", msg: vlan0},
		{name: "connection default \"0\"", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":"0"}}`,
			status: 400, typ: "InvalidInput", msg: vlan0},
		{name: "connection default 0", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":0}}`,
			status: 400, typ: "InvalidInput", msg: vlan0},
		{name: "interface vlan 4095", method: "POST", path: gwPath, body: gw(`[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":[4095]}]}]`),
			status: 400, typ: "InvalidInput", msg: "Invalid input for operation: Segmentation id is out of range."},
		// segmentation_id as a JSON number.
		{name: "connection default 4095", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":4095}}`,
			status: 400, typ: "InvalidInput", msg: "Invalid input for operation: Segmentation id is out of range."},
		{name: "connection default 1.5", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":1.5}}`,
			status: 400, typ: "InvalidInput", msg: "Invalid input for operation: Segmentation id must be a valid integer."},
		{name: "connection default true", method: "POST", path: connPath, body: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":true}}`,
			status: 400, typ: "HTTPBadRequest", msg: "Invalid input for segmentation_id. Reason: 'True' is not a valid string."},
		{name: "connection default 300", method: "POST", path: connPath + "?fields=l2_gateway_id&fields=network_id&fields=segmentation_id",
			body:   `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":300}}`,
			status: 201, want: `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{net1}","segmentation_id":"300"}}`},
		{name: "connection default \"300\" answers alike", method: "POST", path: connPath + "?fields=l2_gateway_id&fields=network_id&fields=segmentation_id",
			body:   `{"l2_gateway_connection":{"l2_gateway_id":"{gw3}","network_id":"{net1}","segmentation_id":"300"}}`,
			status: 201, want: `{"l2_gateway_connection":{"l2_gateway_id":"{gw3}","network_id":"{net1}","segmentation_id":"300"}}`},
		{name: "connection shows the integer", method: "GET", path: connPath + "?fields=segmentation_id&network_id={net1}&l2_gateway_id={gw3}", status: 200,
			want: `{"l2_gateway_connections":[{"segmentation_id":300}]}`},
		// Nothing of the refused requests was created or changed.
		{name: "gateways unchanged", method: "GET", path: gwPath + "?fields=name&fields=devices", status: 200,
			want: `{"l2_gateways":"*3"}`},
		{name: "gateway gw unchanged", method: "GET", path: gwPath + "/{gw}?fields=devices", status: 200,
			want: `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port1","segmentation_id":[]}]}]}}`},
		{name: "gateway gwv unchanged", method: "GET", path: gwPath + "/{gwv}?fields=devices", status: 200,
			want: `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port2","segmentation_id":["20"]}]}]}}`},
	}, expander(ids))
}

// TestInvalidUTF8: names that are not Unicode text (raw invalid UTF-8, or an
// escaped lone surrogate) are refused with 400 naming where, instead of
// being stored with U+FFFD in their place.
func TestInvalidUTF8(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port1")
	net1 := e.create("/v2.0/networks", "network", `{"network":{"name":"net1"}}`)
	reason := func(where, why string) string {
		return "Invalid input for " + where + ". Reason: " + why + "; JSON strings must be Unicode text (RFC 8259 section 8)."
	}
	tests := []refusal{
		{name: "gateway name", method: "POST", path: "/v2.0/l2-gateways",
			body:   "{\"l2_gateway\":{\"name\":\"gw\xff\",\"devices\":[{\"device_name\":\"gatewayhost\",\"interfaces\":[{\"name\":\"port1\"}]}]}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("l2_gateway.name", "not valid UTF-8 (byte 0xff at byte 25)")},
		{name: "device name", method: "POST", path: "/v2.0/l2-gateways",
			body:   "{\"l2_gateway\":{\"name\":\"gw\",\"devices\":[{\"device_name\":\"gate\xc3(\",\"interfaces\":[{\"name\":\"port1\"}]}]}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("l2_gateway.devices[0].device_name", "not valid UTF-8 (byte 0xc3 at byte 58)")},
		{name: "interface name", method: "POST", path: "/v2.0/l2-gateways",
			body:   "{\"l2_gateway\":{\"devices\":[{\"device_name\":\"gatewayhost\",\"interfaces\":[{\"name\":\"port1\"},{\"name\":\"p\xed\xa0\x80\"}]}]}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("l2_gateway.devices[0].interfaces[1].name", "not valid UTF-8 (byte 0xed at byte 96)")},
		{name: "interface name, lone surrogate escape", method: "POST", path: "/v2.0/l2-gateways",
			body:   `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port\udc801"}]}]}}`,
			status: 400, typ: "HTTPBadRequest", msg: reason("l2_gateway.devices[0].interfaces[0].name", `unpaired surrogate escape \udc80 at byte 82`)},
		{name: "gateway name, high surrogate alone", method: "POST", path: "/v2.0/l2-gateways",
			body:   `{"l2_gateway":{"name":"\uD83Dx","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]}}`,
			status: 400, typ: "HTTPBadRequest", msg: reason("l2_gateway.name", `unpaired surrogate escape \ud83d at byte 23`)},
		{name: "host name", method: "POST", path: "/v2.0/hosts", body: "{\"host\":{\"name\":\"compute\xff1\",\"vtep_ip\":\"192.0.2.2\"}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("host.name", "not valid UTF-8 (byte 0xff at byte 24)")},
		{name: "network name", method: "POST", path: "/v2.0/networks", body: "{\"networks\":[{\"name\":\"a\"},{\"name\":\"\x80\"}]}",
			status: 400, typ: "HTTPBadRequest", msg: reason("networks[1].name", "not valid UTF-8 (byte 0x80 at byte 35)")},
		{name: "port name", method: "PUT", path: "/v2.0/ports/x", body: "{\"port\":{\"name\":\"vm\xfe\"}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("port.name", "not valid UTF-8 (byte 0xfe at byte 19)")},
		{name: "attribute name", method: "POST", path: "/v2.0/hosts", body: "{\"host\":{\"na\xffme\":\"c\",\"vtep_ip\":\"192.0.2.2\"}}",
			status: 400, typ: "HTTPBadRequest", msg: reason("an attribute name in host", "not valid UTF-8 (byte 0xff at byte 12)")},
		// Valid text passes: a surrogate pair, U+FFFD itself, multi-byte UTF-8.
		{name: "valid names", method: "POST", path: "/v2.0/l2-gateways?fields=name&fields=devices",
			body:   `{"l2_gateway":{"name":"gw \ud83d\ude00 \ufffd ü €","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]}}`,
			status: 201, want: `{"l2_gateway":{"name":"gw 😀 ` + "\ufffd" + ` ü €","devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port1","segmentation_id":[]}]}]}}`},
		{name: "only the valid gateway", method: "GET", path: "/v2.0/l2-gateways?fields=name", status: 200, want: `{"l2_gateways":"*1"}`},
		{name: "no host", method: "GET", path: "/v2.0/hosts", status: 200, want: `{"hosts":[]}`},
		{name: "only net1", method: "GET", path: "/v2.0/networks?fields=id", status: 200, want: `{"networks":[{"id":"` + net1 + `"}]}`},
	}
	e.check(t, tests, func(s string) string { return s })
}

package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

// TestReference replays reference-api.md and the original's transcript:
// each row is one request with the exact status, NeutronError type and
// message, or a JSON body.
func TestReference(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port1", "port2", "port3", "port4")
	ids := map[string]string{
		"netA":  e.create("/v2.0/networks", "network", `{"network":{"name":"tA"}}`),
		"netB":  e.create("/v2.0/networks", "network", `{"network":{"name":"tB","provider:network_type":"vxlan","provider:segmentation_id":1500}}`),
		"gw":    e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"tc","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port4"}]}]}}`),
		"gwSeg": e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"t2","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port3","segmentation_id":[101,"102"]}]}]}}`),
		"gw2":   e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"t3","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]},{"device_name":"otherswitch","interfaces":[{"name":"eth1"}]}]}}`),
	}
	ids["conn"] = e.create("/v2.0/l2-gateway-connections", "l2_gateway_connection",
		fmt.Sprintf(`{"l2_gateway_connection":{"l2_gateway_id":%q,"network_id":%q,"segmentation_id":"0300"}}`, ids["gw"], ids["netA"]))
	expand := func(s string) string {
		for k, v := range ids {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	long := strings.Repeat("n", 256)
	const gwPath, connPath = "/v2.0/l2-gateways", "/v2.0/l2-gateway-connections"
	dev := func(ifaces string) string {
		return `{"l2_gateway":{"name":"x","devices":[{"device_name":"gatewayhost","interfaces":` + ifaces + `}]}}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		typ, msg                 string
		want                     string // JSON body, when not an error
	}{
		// Gateway create validation.
		{"malformed json", "POST", gwPath, `{"l2_gateway": {"name": "x",`, 400, "MalformedRequestBody", "Malformed request body: Cannot understand JSON.", ""},
		{"trailing garbage", "POST", gwPath, `{"l2_gateway": {}} x`, 400, "MalformedRequestBody", "Malformed request body: Cannot understand JSON.", ""},
		{"empty object", "POST", gwPath, `{}`, 400, "HTTPBadRequest", "Resource body required", ""},
		{"no body", "POST", gwPath, ``, 400, "HTTPBadRequest", "Resource body required", ""},
		{"list body", "POST", gwPath, `[1]`, 400, "HTTPBadRequest", "Body contains invalid data", ""},
		{"wrong key", "POST", gwPath, `{"gateway":{"name":"x"}}`, 400, "HTTPBadRequest", "Unable to find 'l2_gateway' in request body", ""},
		{"member not object", "POST", gwPath, `{"l2_gateway":"x"}`, 400, "HTTPBadRequest", "Object 'l2_gateway' contains invalid data", ""},
		{"bulk refused", "POST", gwPath, `{"l2_gateways":[{}]}`, 400, "HTTPBadRequest", "Bulk operation not supported", ""},
		{"missing devices", "POST", gwPath, `{"l2_gateway":{"name":"x"}}`, 400, "HTTPBadRequest", "Failed to parse request. Required attribute 'devices' not specified", ""},
		{"id in post", "POST", gwPath, `{"l2_gateway":{"id":"x","devices":[]}}`, 400, "HTTPBadRequest", "Attribute 'id' not allowed in POST", ""},
		{"unknown attr", "POST", gwPath, `{"l2_gateway":{"name":"x","color":"red","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port4"}]}]}}`, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'color'", ""},
		{"two unknown attrs", "POST", gwPath, `{"l2_gateway":{"b":1,"a":2,"devices":[]}}`, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'a, b'", ""},
		{"tenant project mismatch", "POST", gwPath, `{"l2_gateway":{"tenant_id":"a","project_id":"b","devices":[]}}`, 400, "HTTPBadRequest", "'project_id' and 'tenant_id' do not match", ""},
		{"name not string", "POST", gwPath, `{"l2_gateway":{"name":1,"devices":[]}}`, 400, "HTTPBadRequest", "Invalid input for name. Reason: '1' is not a valid string.", ""},
		{"name too long", "POST", gwPath, `{"l2_gateway":{"name":"` + long + `","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port4"}]}]}}`, 400, "HTTPBadRequest", "Invalid input for name. Reason: '" + long + "' exceeds maximum length of 255.", ""},
		{"empty devices", "POST", gwPath, `{"l2_gateway":{"name":"x","devices":[]}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: Cannot create a gateway with an empty device list.", ""},
		{"devices string", "POST", gwPath, `{"l2_gateway":{"devices":"abc"}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: devices format is not a type list of dicts.", ""},
		{"devices object", "POST", gwPath, `{"l2_gateway":{"devices":{"device_name":"x"}}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: devices format is not a type list of dicts.", ""},
		{"devices number", "POST", gwPath, `{"l2_gateway":{"devices":5}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: validate_gwdevice_list: provided data are not iterable.", ""},
		{"device not object", "POST", gwPath, `{"l2_gateway":{"devices":["x"]}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: devices format is not a type list of dicts.", ""},
		{"empty device name", "POST", gwPath, `{"l2_gateway":{"devices":[{"device_name":"","interfaces":[{"name":"p"}]}]}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: Cannot create a gateway with an empty device_name.", ""},
		{"no interfaces", "POST", gwPath, `{"l2_gateway":{"name":"x","devices":[{"device_name":"gatewayhost"}]}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: Cannot create a gateway with an empty interfaces.", ""},
		{"interfaces not list", "POST", gwPath, dev(`{"name":"p"}`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: interfaces format is not a type list of dicts.", ""},
		{"interface not dict", "POST", gwPath, dev(`["p"]`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: interfaces format is not a type dict.", ""},
		{"empty interface name", "POST", gwPath, dev(`[{"name":""}]`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: Cannot create a gateway with an empty interface name.", ""},
		{"seg not list", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":100}]`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: segmentation_id type should be of list type .", ""},
		{"seg empty list", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":[]}]`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: segmentation_id_list should not be empty.", ""},
		{"seg null element", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":[null]}]`), 400, "HTTPBadRequest", "Invalid input for devices. Reason: validate_gwdevice_list: provided data are not iterable.", ""},
		{"seg 4095", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":[4095]}]`), 400, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.", ""},
		{"seg -1", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":["-1"]}]`), 400, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.", ""},
		{"seg huge", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":[99999999999999999999999]}]`), 400, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.", ""},
		{"seg abc", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":["abc"]}]`), 400, "InvalidInput", "Invalid input for operation: Segmentation id must be a valid integer.", ""},
		{"seg 1.5", "POST", gwPath, dev(`[{"name":"port4","segmentation_id":[1.5]}]`), 400, "InvalidInput", "Invalid input for operation: Segmentation id must be a valid integer.", ""},
		{"seg mixed", "POST", gwPath, dev(`[{"name":"port3","segmentation_id":[101]},{"name":"port4"}]`), 409, "L2GatewaySegmentationRequired", "L2 gateway segmentation id must be consistent for all the interfaces", ""},
		// Gateway read/update/delete.
		{"show", "GET", gwPath + "/{gwSeg}", ``, 200, "", "", `{"l2_gateway":{"id":"{gwSeg}","name":"t2","devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port3","segmentation_id":["101","102"]}]}],"tenant_id":"fake_project_id","revision_number":1}}`},
		{"show fields", "GET", gwPath + "/{gw}?fields=name&fields=tenant_id", ``, 200, "", "", `{"l2_gateway":{"name":"tc","tenant_id":"fake_project_id"}}`},
		{"list by name", "GET", gwPath + "?name=t2&fields=id", ``, 200, "", "", `{"l2_gateways":[{"id":"{gwSeg}"}]}`},
		{"list by id", "GET", gwPath + "?id={gwSeg}&fields=name", ``, 200, "", "", `{"l2_gateways":[{"name":"t2"}]}`},
		{"list names OR", "GET", gwPath + "?name=t2&name=tc&fields=name&foo=bar", ``, 200, "", "", `{"l2_gateways":"*2"}`},
		{"list project_id filter", "GET", gwPath + "?project_id=nobody", ``, 200, "", "", `{"l2_gateways":[]}`},
		{"list no match", "GET", gwPath + "?name=nope", ``, 200, "", "", `{"l2_gateways":[]}`},
		{"sort refused", "GET", gwPath + "?sort_key=name", ``, 400, "HTTPBadRequest", "['name'] is invalid attribute for sort_keys", ""},
		{"bad limit", "GET", gwPath + "?limit=x", ``, 400, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater and not 'x'.", ""},
		{"show unknown", "GET", gwPath + "/00000000-0000-0000-0000-000000000000", ``, 404, "L2GatewayNotFound", "L2 Gateway 00000000-0000-0000-0000-000000000000 could not be found", ""},
		{"show non-uuid", "GET", gwPath + "/not-a-uuid", ``, 404, "L2GatewayNotFound", "L2 Gateway not-a-uuid could not be found", ""},
		{"update unknown", "PUT", gwPath + "/00000000-0000-0000-0000-000000000000", `{"l2_gateway":{"name":"y"}}`, 404, "L2GatewayNotFound", "L2 Gateway 00000000-0000-0000-0000-000000000000 could not be found", ""},
		{"delete unknown", "DELETE", gwPath + "/00000000-0000-0000-0000-000000000000", ``, 404, "L2GatewayNotFound", "L2 Gateway 00000000-0000-0000-0000-000000000000 could not be found", ""},
		{"update id", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"id":"x"}}`, 400, "HTTPBadRequest", "Cannot update read-only attribute id", ""},
		{"update tenant", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"tenant_id":"x"}}`, 400, "HTTPBadRequest", "Cannot update read-only attribute tenant_id", ""},
		{"update unknown device", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"devices":[{"device_name":"nosuch","interfaces":[{"name":"x"}]}]}}`, 404, "L2GatewayDeviceNotFound", "L2 Gateway Device nosuch could not be found.", ""},
		{"update devices string", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"devices":"x"}}`, 400, "HTTPBadRequest", "Invalid input for devices. Reason: devices format is not a type list of dicts.", ""},
		{"update adds VLANs", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":["200"]}]}]}}`, 400, "L2GatewaySegmentationIDNotExists", "The segmentation id is not specified in existing gateway interfaces.", ""},
		{"update drops VLANs", "PUT", gwPath + "/{gwSeg}", `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port2"}]}]}}`, 400, "L2GatewaySegmentationIDExists", "The segmentation id is already specified in existing gateway interfaces.", ""},
		{"update unknown port", "PUT", gwPath + "/{gw}", `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port9"}]}]}}`, 404, "L2GatewayInterfaceNotFound", "L2 Gateway interface 'port9' not found.", ""},
		{"update empty keeps name", "PUT", gwPath + "/{gw}?fields=name", `{"l2_gateway":{}}`, 200, "", "", `{"l2_gateway":{"name":"tc"}}`},
		{"update name with connection", "PUT", gwPath + "/{gw}?fields=name", `{"l2_gateway":{"name":"tc2"}}`, 200, "", "", `{"l2_gateway":{"name":"tc2"}}`},
		{"update devices with connection", "PUT", gwPath + "/{gw}?fields=devices", `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port2"},{"name":"port4"}]}]}}`, 200, "", "",
			`{"l2_gateway":{"devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port2","segmentation_id":[]},{"name":"port4","segmentation_id":[]}]}]}}`},
		{"delete in use", "DELETE", gwPath + "/{gw}", ``, 409, "L2GatewayInUse", "L2 Gateway '{gw}' still has active mappings with one or more neutron networks.", ""},
		{"PUT on collection", "PUT", gwPath, `{}`, 405, "HTTPMethodNotAllowed", "The method PUT is not allowed for this resource.", ""},
		{"DELETE on collection", "DELETE", gwPath, ``, 405, "HTTPMethodNotAllowed", "The method DELETE is not allowed for this resource.", ""},
		{"PATCH on member", "PATCH", gwPath + "/{gw}", `{}`, 405, "HTTPMethodNotAllowed", "The method PATCH is not allowed for this resource.", ""},
		{"unknown path", "GET", "/v2.0/nothing", ``, 404, "HTTPNotFound", "The resource could not be found.", ""},
		// Connections.
		{"conn missing network", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}"}}`, 400, "HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified", ""},
		{"conn malformed", "POST", connPath, `{"l2_gateway_connection":`, 400, "MalformedRequestBody", "Malformed request body: Cannot understand JSON.", ""},
		{"conn seg number", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{netB}","segmentation_id":5000}}`, 400, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.", ""},
		{"conn seg abc", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{netB}","segmentation_id":"abc"}}`, 400, "InvalidInput", "Invalid input for operation: Segmentation id must be a valid integer.", ""},
		{"conn seg 4095", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{netB}","segmentation_id":"4095"}}`, 400, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.", ""},
		{"conn seg abc unknown network", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"00000000-0000-0000-0000-000000000000","segmentation_id":"abc"}}`, 404, "NetworkNotFound", "Network 00000000-0000-0000-0000-000000000000 could not be found.", ""},
		{"conn seg abc vlan gateway", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gwSeg}","network_id":"{netB}","segmentation_id":"abc"}}`, 400, "InvalidInput", "Invalid input for operation: default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation.", ""},
		{"conn no seg", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{netB}"}}`, 400, "InvalidInput", "Invalid input for operation: Segmentation id must be specified in create l2gateway connections.", ""},
		{"conn seg on vlan gateway", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gwSeg}","network_id":"{netB}","segmentation_id":"301"}}`, 400, "InvalidInput", "Invalid input for operation: default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation.", ""},
		{"conn duplicate", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"{netA}","segmentation_id":"302"}}`, 409, "L2GatewayConnectionExists", "", ""},
		{"conn unknown gateway", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"00000000-0000-0000-0000-000000000000","network_id":"{netB}","segmentation_id":"300"}}`, 404, "L2GatewayNotFound", "L2 Gateway 00000000-0000-0000-0000-000000000000 could not be found", ""},
		{"conn unknown network", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw}","network_id":"00000000-0000-0000-0000-000000000000","segmentation_id":"300"}}`, 404, "NetworkNotFound", "Network 00000000-0000-0000-0000-000000000000 could not be found.", ""},
		{"conn unknown device", "POST", connPath, `{"l2_gateway_connection":{"l2_gateway_id":"{gw2}","network_id":"{netB}","segmentation_id":"300"}}`, 404, "L2GatewayDeviceNotFound", "L2 Gateway Device otherswitch could not be found.", ""},
		{"conn show", "GET", connPath + "/{conn}", ``, 200, "", "", `{"l2_gateway_connection":{"id":"{conn}","network_id":"{netA}","l2_gateway_id":"{gw}","tenant_id":"fake_project_id","segmentation_id":300}}`},
		{"conn list fields", "GET", connPath + "?fields=id&fields=segmentation_id&l2_gateway_id={gw}", ``, 200, "", "", `{"l2_gateway_connections":[{"id":"{conn}","segmentation_id":300}]}`},
		{"conn list network filter", "GET", connPath + "?network_id={netB}", ``, 200, "", "", `{"l2_gateway_connections":[]}`},
		{"conn put", "PUT", connPath + "/{conn}", `{"l2_gateway_connection":{"segmentation_id":"305"}}`, 400, "HTTPBadRequest", "Cannot update read-only attribute segmentation_id", ""},
		{"conn show unknown", "GET", connPath + "/00000000-0000-0000-0000-000000000000", ``, 404, "L2GatewayConnectionNotFound", "The connection  not found on the l2 gateway", ""},
		{"conn delete unknown", "DELETE", connPath + "/nope", ``, 404, "L2GatewayConnectionNotFound", "The connection  not found on the l2 gateway", ""},
		// Extensions and versions.
		{"extension", "GET", "/v2.0/extensions/l2-gateway", ``, 200, "", "", `{"extension":{"name":"L2 Gateway","alias":"l2-gateway","description":"Connects Neutron networks with external networks at layer 2.","updated":"2015-01-01T00:00:00-00:00","links":[]}}`},
		{"extension unknown", "GET", "/v2.0/extensions/nope", ``, 404, "HTTPNotFound", "Extension with alias nope does not exist", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, expand(tc.path), expand(tc.body))
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s; want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
			if tc.typ != "" {
				typ, msg := neutronError(t, r)
				if typ != tc.typ || (tc.msg != "" && msg != expand(tc.msg)) {
					t.Errorf("error = %s %q; want %s %q", typ, msg, tc.typ, expand(tc.msg))
				}
				return
			}
			matchJSON(t, expand(tc.want), r.body)
		})
	}
	// Deleting the connection frees the gateway.
	if r := e.do("DELETE", connPath+"/"+ids["conn"], ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("DELETE connection = %d %q; want 204 and no body", r.status, r.body)
	}
	if r := e.do("DELETE", gwPath+"/"+ids["gw"], ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE gateway = %d %s; want 204", r.status, r.body)
	}
}

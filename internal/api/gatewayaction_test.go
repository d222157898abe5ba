package api_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

// TestGatewayInterfaceActions: PUT .../add_interfaces and
// .../remove_interfaces edit a gateway on the server, answer the whole
// gateway with its revision_number, honour If-Match and validate their
// body as create and update do.
func TestGatewayInterfaceActions(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port1", "port2", "port3", "port4")
	gw := e.create("/v2.0/l2-gateways", "l2_gateway",
		`{"l2_gateway":{"name":"gw1","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]}}`)
	gwv := e.create("/v2.0/l2-gateways", "l2_gateway",
		`{"l2_gateway":{"name":"gwv","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":[100,"101"]}]}]}}`)
	add := "/v2.0/l2-gateways/" + gw + "/add_interfaces"
	remove := "/v2.0/l2-gateways/" + gw + "/remove_interfaces"
	body := func(dev, ifaces string) string {
		return `{"l2_gateway":{"devices":[{"device_name":"` + dev + `","interfaces":` + ifaces + `}]}}`
	}

	// The steps run in order: each sees the state the ones before left.
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
		status           int
		want             string // matchJSON pattern of the answer
		typ, msg         string // of an error
	}{
		{name: "add", path: add, body: body("gatewayhost", `[{"name":"port2"}]`), hdr: []string{"If-Match", "revision_number=1"}, status: 200,
			want: `{"l2_gateway":{"id":"` + gw + `","name":"gw1","tenant_id":"*","revision_number":2,"devices":[{"id":"*","device_name":"gatewayhost",` +
				`"interfaces":[{"name":"port1","segmentation_id":[]},{"name":"port2","segmentation_id":[]}]}]}}`},
		{name: "add again is a no-op", path: add, body: body("gatewayhost", `[{"name":"port2"}]`), status: 200,
			want: `{"l2_gateway":{"id":"*","name":"gw1","tenant_id":"*","revision_number":2,"devices":"*1"}}`},
		{name: "add a device", path: add + "?fields=revision_number&fields=devices", body: body("tor2", `[{"name":"eth1"},{"name":"eth2"}]`), status: 200,
			want: `{"l2_gateway":{"revision_number":3,"devices":[{"id":"*","device_name":"gatewayhost","interfaces":"*2"},` +
				`{"id":"*","device_name":"tor2","interfaces":[{"name":"eth1","segmentation_id":[]},{"name":"eth2","segmentation_id":[]}]}]}}`},
		{name: "stale revision", path: add, body: body("gatewayhost", `[{"name":"port3"}]`), hdr: []string{"If-Match", "revision_number=2"}, status: 412,
			typ: "RevisionNumberConstraintFailed", msg: "Constrained to 2, but current revision is 3"},
		{name: "bad If-Match", path: add, body: body("gatewayhost", `[{"name":"port3"}]`), hdr: []string{"If-Match", "revision_number=x"}, status: 400,
			typ: "BadRequest", msg: "Bad if-match request: Revision number etag must be in the format of revision_number=<int>."},
		{name: "not a port of the switch", path: add, body: body("gatewayhost", `[{"name":"port9"}]`), status: 404,
			typ: "L2GatewayInterfaceNotFound", msg: "L2 Gateway interface 'port9' not found."},
		{name: "VLAN on a VLAN-less device", path: add, body: body("gatewayhost", `[{"name":"port3","segmentation_id":[5]}]`), status: 400,
			typ: "L2GatewaySegmentationIDNotExists"},
		{name: "present with other VLANs", path: "/v2.0/l2-gateways/" + gwv + "/add_interfaces", body: body("gatewayhost", `[{"name":"port2","segmentation_id":[100]}]`), status: 409,
			typ: "L2GatewayInterfaceExists", msg: "Interface 'port2' of device 'gatewayhost' is already in the gateway with segmentation ids 100,101; remove it first to change its segmentation ids."},
		{name: "mixed VLANs in one device", path: add, body: body("tor3", `[{"name":"a","segmentation_id":[5]},{"name":"b"}]`), status: 409,
			typ: "L2GatewaySegmentationRequired"},
		{name: "VLAN out of range", path: add, body: body("tor3", `[{"name":"a","segmentation_id":[4095]}]`), status: 400},
		{name: "VLAN not a number", path: add, body: body("tor3", `[{"name":"a","segmentation_id":["x"]}]`), status: 400,
			typ: "InvalidInput", msg: "Invalid input for operation: Segmentation id must be a valid integer."},
		{name: "unknown interface key", path: add, body: body("tor3", `[{"name":"a","segmentation-id":[5]}]`), status: 400},
		{name: "unknown attribute", path: add, body: `{"l2_gateway":{"name":"x","devices":[{"device_name":"d","interfaces":[{"name":"a"}]}]}}`, status: 400,
			typ: "HTTPBadRequest", msg: "Unrecognized attribute(s) 'name'"},
		{name: "no devices", path: add, body: `{"l2_gateway":{}}`, status: 400,
			typ: "HTTPBadRequest", msg: "Failed to parse request. Required attribute 'devices' not specified"},
		{name: "empty device list", path: add, body: `{"l2_gateway":{"devices":[]}}`, status: 400},
		{name: "empty interfaces", path: add, body: body("tor3", `[]`), status: 400},
		{name: "no body", path: add, status: 400},
		{name: "not UTF-8", path: add, body: body("tor\xff", `[{"name":"a"}]`), status: 400},
		{name: "unknown gateway", path: "/v2.0/l2-gateways/nope/add_interfaces", body: body("d", `[{"name":"a"}]`), status: 404,
			typ: "L2GatewayNotFound", msg: "L2 Gateway nope could not be found"},
		{name: "remove an absent interface", path: remove, body: body("gatewayhost", `[{"name":"port4"}]`), status: 404,
			typ: "L2GatewayInterfaceNotFound", msg: "L2 Gateway interface 'port4' not found on device 'gatewayhost'."},
		{name: "remove from an absent device", path: remove, body: body("tor9", `[{"name":"port1"}]`), status: 404,
			typ: "L2GatewayDeviceNotFound", msg: "L2 Gateway Device tor9 could not be found."},
		{name: "remove every device", path: remove,
			body:   `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"},{"name":"port2"}]},{"device_name":"tor2","interfaces":[{"name":"eth1"},{"name":"eth2"}]}]}}`,
			status: 400, typ: "InvalidInput"},
		{name: "remove", path: remove + "?fields=devices&fields=revision_number", body: body("gatewayhost", `[{"name":"port1"}]`), hdr: []string{"If-Match", "revision_number=3"}, status: 200,
			want: `{"l2_gateway":{"revision_number":4,"devices":[{"id":"*","device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":[]}]},{"id":"*","device_name":"tor2","interfaces":"*2"}]}}`},
		{name: "remove a device's last interfaces", path: remove + "?fields=devices&fields=revision_number", body: body("tor2", `[{"name":"eth2"},{"name":"eth1"}]`), status: 200,
			want: `{"l2_gateway":{"revision_number":5,"devices":[{"id":"*","device_name":"gatewayhost","interfaces":"*1"}]}}`},
		{name: "remove with other VLANs", path: "/v2.0/l2-gateways/" + gwv + "/remove_interfaces", body: body("gatewayhost", `[{"name":"port2","segmentation_id":[100]}]`), status: 409,
			typ: "L2GatewayInterfaceMismatch"},
		{name: "remove with VLANs given for some only", path: "/v2.0/l2-gateways/" + gwv + "/remove_interfaces",
			body: body("gatewayhost", `[{"name":"port2","segmentation_id":[101,100]},{"name":"port9"}]`), status: 404,
			typ: "L2GatewayInterfaceNotFound", msg: "L2 Gateway interface 'port9' not found on device 'gatewayhost'."},
		{name: "member", path: add, body: body("gatewayhost", `[{"name":"port3"}]`), hdr: []string{"X-Roles", "member", "X-Project-Id", "p1"}, status: 403,
			typ: "AdminRequired", msg: "User does not have admin privileges: Cannot GET resource for non admin tenant."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPut, tc.path, tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("PUT %s %s = %d %s; want %d", tc.path, tc.body, r.status, r.body, tc.status)
			}
			if tc.want != "" {
				matchJSON(t, tc.want, r.body)
			}
			if tc.status >= 400 {
				typ, msg := neutronError(t, r)
				if (tc.typ != "" && typ != tc.typ) || (tc.msg != "" && msg != tc.msg) {
					t.Errorf("error = %s %q; want %s %q", typ, msg, tc.typ, tc.msg)
				}
			}
		})
	}
	// Only PUT is served.
	r := e.do(http.MethodPost, add, body("gatewayhost", `[{"name":"port3"}]`))
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "PUT" {
		t.Errorf("POST %s = %d Allow %q; want 405 Allow PUT", add, r.status, r.header.Get("Allow"))
	}
	// The failed requests changed nothing.
	matchJSON(t, `{"l2_gateway":{"revision_number":5,"devices":[{"id":"*","device_name":"gatewayhost","interfaces":[{"name":"port2","segmentation_id":[]}]}]}}`,
		e.do(http.MethodGet, "/v2.0/l2-gateways/"+gw+"?fields=devices&fields=revision_number", "").body)
}

// TestGatewayConcurrentAddInterfaces: concurrent add_interfaces requests
// on one gateway all land, one revision each.
func TestGatewayConcurrentAddInterfaces(t *testing.T) {
	const n = 16
	e := newEnv(t, api.Config{})
	gw := e.create("/v2.0/l2-gateways", "l2_gateway",
		`{"l2_gateway":{"devices":[{"device_name":"tor1","interfaces":[{"name":"p0"}]}]}}`)
	var wg sync.WaitGroup
	status := make([]int, n)
	for i := range n {
		wg.Go(func() {
			b := `{"l2_gateway":{"devices":[{"device_name":"tor1","interfaces":[{"name":"p` + string(rune('a'+i)) + `"}]}]}}`
			status[i], _, _ = e.send(http.MethodPut, "/v2.0/l2-gateways/"+gw+"/add_interfaces", b)
		})
	}
	wg.Wait()
	for i, s := range status {
		if s != http.StatusOK {
			t.Errorf("add_interfaces p%c = %d; want 200", 'a'+i, s)
		}
	}
	matchJSON(t, `{"l2_gateway":{"revision_number":17,"devices":[{"id":"*","device_name":"tor1","interfaces":"*17"}]}}`,
		e.do(http.MethodGet, "/v2.0/l2-gateways/"+gw+"?fields=devices&fields=revision_number", "").body)
}

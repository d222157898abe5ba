package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
)

func TestInventory(t *testing.T) {
	e := newEnv(t, api.Config{})
	net1 := e.create("/v2.0/networks", "network", `{"network":{"name":"net1","provider:network_type":"vxlan","provider:segmentation_id":"1000"}}`)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		typ, msg, want           string
	}{
		{"network show", "GET", "/v2.0/networks/{net1}", ``, 200, "", "", `{"network":{"id":"{net1}","name":"net1","tenant_id":"fake_project_id","project_id":"fake_project_id","admin_state_up":true,"status":"ACTIVE","subnets":[],"shared":false,"mtu":1450,"provider:network_type":"vxlan","provider:physical_network":null,"provider:segmentation_id":1000,"created_at":"*","updated_at":"*"}}`},
		{"network vlan refused", "POST", "/v2.0/networks", `{"network":{"provider:network_type":"vlan"}}`, 400, "InvalidInput", "Invalid input for operation: network_type value 'vlan' not supported.", ""},
		{"network vni range", "POST", "/v2.0/networks", `{"network":{"provider:segmentation_id":16777216}}`, 400, "InvalidInput", "Invalid input for operation: 16777216 is not a valid VXLAN VNI, valid range is 1-16777215.", ""},
		{"network bad bool", "POST", "/v2.0/networks", `{"network":{"admin_state_up":"maybe"}}`, 400, "HTTPBadRequest", "Invalid input for admin_state_up. Reason: 'maybe' cannot be converted to boolean.", ""},
		{"network update", "PUT", "/v2.0/networks/{net1}?fields=name&fields=admin_state_up", `{"network":{"name":"n1","admin_state_up":false}}`, 200, "", "", `{"network":{"name":"n1","admin_state_up":false}}`},
		{"network update vni", "PUT", "/v2.0/networks/{net1}", `{"network":{"provider:segmentation_id":5}}`, 400, "HTTPBadRequest", "Cannot update read-only attribute provider:segmentation_id", ""},
		{"network unknown", "GET", "/v2.0/networks/nope", ``, 404, "NetworkNotFound", "Network nope could not be found.", ""},
		{"port create", "POST", "/v2.0/ports?fields=mac_address&fields=fixed_ips&fields=binding:profile&fields=allowed_address_pairs&fields=status", `{"port":{"network_id":"{net1}","mac_address":"FA:16:3E:00:00:01","fixed_ips":[{"ip_address":"10.0.0.5"}],"binding:host_id":"compute1","binding:profile":{"interface_name":"tap1"},"allowed_address_pairs":[{"ip_address":"10.0.1.0/24"}]}}`, 201, "", "",
			`{"port":{"mac_address":"fa:16:3e:00:00:01","fixed_ips":[{"subnet_id":"","ip_address":"10.0.0.5"}],"binding:profile":{"interface_name":"tap1"},"allowed_address_pairs":[{"ip_address":"10.0.1.0/24","mac_address":"fa:16:3e:00:00:01"}],"status":"DOWN"}}`},
		{"port no network", "POST", "/v2.0/ports", `{"port":{"name":"x"}}`, 400, "HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified", ""},
		{"port bad mac", "POST", "/v2.0/ports", `{"port":{"network_id":"{net1}","mac_address":"zz"}}`, 400, "HTTPBadRequest", "Invalid input for mac_address. Reason: 'zz' is not a valid MAC address.", ""},
		{"port bad ip", "POST", "/v2.0/ports", `{"port":{"network_id":"{net1}","fixed_ips":[{"ip_address":"10.0.0.300"}]}}`, 400, "HTTPBadRequest", "Invalid input for fixed_ips. Reason: '10.0.0.300' is not a valid IP address.", ""},
		{"port unknown network", "POST", "/v2.0/ports", `{"port":{"network_id":"nope"}}`, 404, "NetworkNotFound", "Network nope could not be found.", ""},
		{"port list by host", "GET", "/v2.0/ports?binding:host_id=compute1&fields=binding:host_id", ``, 200, "", "", `{"ports":[{"binding:host_id":"compute1"}]}`},
		{"port list by mac", "GET", "/v2.0/ports?mac_address=fa:16:3e:00:00:02&fields=id", ``, 200, "", "", `{"ports":[]}`},
		{"host create", "POST", "/v2.0/hosts?fields=name&fields=vtep_ip&fields=alive", `{"host":{"name":"compute1","vtep_ip":"192.0.2.11"}}`, 201, "", "", `{"host":{"name":"compute1","vtep_ip":"192.0.2.11","alive":false}}`},
		{"host bad ip", "POST", "/v2.0/hosts", `{"host":{"name":"c2","vtep_ip":"x"}}`, 400, "HTTPBadRequest", "Invalid input for vtep_ip. Reason: 'x' is not a valid IP address.", ""},
		{"host no ip", "POST", "/v2.0/hosts", `{"host":{"name":"c2"}}`, 400, "HTTPBadRequest", "Failed to parse request. Required attribute 'vtep_ip' not specified", ""},
		{"host rename", "PUT", "/v2.0/hosts/x", `{"host":{"name":"c2"}}`, 400, "HTTPBadRequest", "Cannot update read-only attribute name", ""},
		{"switch unknown", "GET", "/v2.0/switches/nope", ``, 404, "SwitchNotFound", "", ""},
		{"switch post", "POST", "/v2.0/switches", `{}`, 405, "HTTPMethodNotAllowed", "", ""},
		{"local macs", "GET", "/v2.0/local-macs?network_id={net1}", ``, 200, "", "", `{"local_macs":[]}`},
		{"too large", "POST", "/v2.0/networks", `{"network":{"name":"` + strings.Repeat("x", 2<<20) + `"}}`, 413, "HTTPRequestEntityTooLarge", "Request is too large.", ""},
		{"versions", "GET", "/", ``, 200, "", "", `{"versions":[{"id":"v2.0","status":"CURRENT","links":[{"href":"*","rel":"self"}]}]}`},
		{"version resources", "GET", "/v2.0", ``, 200, "", "", `{"resources":"*7"}`},
		{"extensions", "GET", "/v2.0/extensions", ``, 200, "", "", `{"extensions":"*7"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expand := func(s string) string { return strings.ReplaceAll(s, "{net1}", net1) }
			r := e.do(tc.method, expand(tc.path), expand(tc.body))
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %.300s; want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
			if tc.typ != "" {
				typ, msg := neutronError(t, r)
				if typ != tc.typ || (tc.msg != "" && msg != tc.msg) {
					t.Errorf("error = %s %q; want %s %q", typ, msg, tc.typ, tc.msg)
				}
				return
			}
			matchJSON(t, expand(tc.want), r.body)
		})
	}
	// Ports keep their network: deleted first, then the network goes.
	if r := e.do("DELETE", "/v2.0/networks/"+net1, ""); r.status != http.StatusConflict {
		t.Fatalf("DELETE network with ports = %d %s; want 409", r.status, r.body)
	}
	var ports struct{ Ports []struct{ ID string } }
	if err := jsonUnmarshal(e.do("GET", "/v2.0/ports?fields=id", "").body, &ports); err != nil || len(ports.Ports) == 0 {
		t.Fatalf("ports after a refused network delete = %+v, %v; want them kept", ports, err)
	}
	for _, p := range ports.Ports {
		if r := e.do("DELETE", "/v2.0/ports/"+p.ID, ""); r.status != http.StatusNoContent {
			t.Fatalf("DELETE port = %d %s", r.status, r.body)
		}
	}
	if r := e.do("DELETE", "/v2.0/networks/"+net1, ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE network = %d %s", r.status, r.body)
	}
}

// TestBulkAllOrNothing: a bulk create with one bad row creates nothing,
// whether the API or the store rejects it.
func TestBulkAllOrNothing(t *testing.T) {
	e := newEnv(t, api.Config{})
	net1 := e.create("/v2.0/networks", "network", `{"network":{"name":"n"}}`)
	for _, body := range []string{
		fmt.Sprintf(`{"ports":[{"network_id":%q,"name":"a"},{"network_id":%q,"mac_address":"bad"}]}`, net1, net1),
		fmt.Sprintf(`{"ports":[{"network_id":%q,"name":"a"},{"network_id":"nope"}]}`, net1),
		fmt.Sprintf(`{"ports":[{"network_id":%q,"mac_address":"fa:16:3e:00:00:09"},{"network_id":%q,"mac_address":"fa:16:3e:00:00:09"}]}`, net1, net1),
	} {
		r := e.do("POST", "/v2.0/ports", body)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("POST %s = %d %s; want 4xx", body, r.status, r.body)
		}
		if r := e.do("GET", "/v2.0/ports", ""); string(r.body) != `{"ports":[]}` {
			t.Errorf("after rejected %s: ports = %s; want none", body, r.body)
		}
	}
	r := e.do("POST", "/v2.0/networks", `{"networks":[{"name":"a","provider:segmentation_id":2000},{"network":{"name":"b","provider:segmentation_id":2001}}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("bulk networks = %d %s", r.status, r.body)
	}
	matchJSON(t, `{"networks":"*2"}`, r.body)
	r = e.do("POST", "/v2.0/networks", `{"networks":[{"name":"c","provider:segmentation_id":2002},{"name":"d","provider:segmentation_id":2000}]}`)
	if r.status != http.StatusConflict {
		t.Errorf("bulk with a taken VNI = %d %s; want 409", r.status, r.body)
	}
	if r := e.do("GET", "/v2.0/networks?name=c", ""); string(r.body) != `{"networks":[]}` {
		t.Errorf("after rejected bulk: %s; want no network c", r.body)
	}
}

// TestPaging pages through every item forwards and backwards by the
// next/previous links, on a collection the store orders by id (hosts) and
// on one it orders by another key (switches: by name, with ids in another
// order).
func TestPaging(t *testing.T) {
	e := newEnv(t, api.Config{})
	var hosts, switches []string
	for i := range 5 {
		hosts = append(hosts, e.create("/v2.0/hosts", "host", fmt.Sprintf(`{"host":{"name":"h%d","vtep_ip":"192.0.2.%d"}}`, i, i+1)))
		// Names sort s0 < s1 < …, ids the other way round.
		sw := model.Switch{ID: fmt.Sprintf("id-%d", 9-i), Name: fmt.Sprintf("s%d", i), TunnelIPs: []string{"127.0.0.42"}}
		if err := e.st.ReportSwitch(t.Context(), model.SwitchReport{Switch: sw}); err != nil {
			t.Fatalf("ReportSwitch: %v", err)
		}
		switches = append(switches, sw.ID)
	}
	for _, tc := range []struct {
		collection string
		want       []string // ids in list order
	}{
		{"hosts", slices.Sorted(slices.Values(hosts))},
		{"switches", switches},
	} {
		t.Run(tc.collection, func(t *testing.T) {
			r := e.do("GET", "/v2.0/"+tc.collection+"?fields=id", "")
			if got := pageIDs(t, r, tc.collection); !slices.Equal(got, tc.want) {
				t.Fatalf("whole list = %v; want %v", got, tc.want)
			}
			var seen []string
			path := "/v2.0/" + tc.collection + "?limit=2&fields=id"
			for range len(tc.want) + 1 {
				r := e.do("GET", path, "")
				seen = append(seen, pageIDs(t, r, tc.collection)...)
				next := pageLink(t, r, tc.collection, "next")
				if next == "" {
					break
				}
				path = strings.TrimPrefix(next, e.srv.URL)
			}
			if !slices.Equal(seen, tc.want) {
				t.Fatalf("paged forwards: %v; want %v", seen, tc.want)
			}
			// Backwards from the last item.
			last := tc.want[len(tc.want)-1]
			seen = []string{last}
			path = "/v2.0/" + tc.collection + "?limit=2&fields=id&page_reverse=True&marker=" + last
			for range len(tc.want) + 1 {
				r := e.do("GET", path, "")
				seen = append(pageIDs(t, r, tc.collection), seen...)
				prev := pageLink(t, r, tc.collection, "previous")
				if prev == "" || len(pageIDs(t, r, tc.collection)) < 2 {
					break
				}
				path = strings.TrimPrefix(prev, e.srv.URL)
			}
			if !slices.Equal(seen, tc.want) {
				t.Fatalf("paged backwards: %v; want %v", seen, tc.want)
			}
		})
	}
}

// pageIDs returns the ids of a list answer's items, in order.
func pageIDs(t *testing.T, r resp, collection string) []string {
	t.Helper()
	var page map[string]json.RawMessage
	var items []struct{ ID string }
	if r.status != 200 || jsonUnmarshal(r.body, &page) != nil || json.Unmarshal(page[collection], &items) != nil {
		t.Fatalf("list %s = %d %s", collection, r.status, r.body)
	}
	ids := []string{}
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

// pageLink returns the href of a list answer's link rel, "" if none.
func pageLink(t *testing.T, r resp, collection, rel string) string {
	t.Helper()
	var page map[string]json.RawMessage
	var links []struct{ Href, Rel string }
	if jsonUnmarshal(r.body, &page) != nil {
		t.Fatalf("list %s = %d %s", collection, r.status, r.body)
	}
	if raw, ok := page[collection+"_links"]; ok {
		if err := json.Unmarshal(raw, &links); err != nil {
			t.Fatalf("%s_links: %v", collection, err)
		}
	}
	for _, l := range links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func TestPolicy(t *testing.T) {
	e := newEnv(t, api.Config{})
	gw := e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"devices":[{"device_name":"s","interfaces":[{"name":"p"}]}]}}`)
	member := []string{"X-Roles", "member", "X-Project-Id", "p1"}
	admin := "User does not have admin privileges: Cannot GET resource for non admin tenant."
	for _, tc := range []struct{ method, path, body, typ, msg string }{
		{"POST", "/v2.0/l2-gateways", `{"l2_gateway":{}}`, "PolicyNotAuthorized", "rule:create_l2_gateway is disallowed by policy"},
		{"GET", "/v2.0/l2-gateways", ``, "AdminRequired", admin},
		{"GET", "/v2.0/l2-gateways/" + gw, ``, "AdminRequired", admin},
		{"PUT", "/v2.0/l2-gateways/" + gw, `{"l2_gateway":{"name":"x"}}`, "AdminRequired", admin},
		{"DELETE", "/v2.0/l2-gateways/" + gw, ``, "AdminRequired", admin},
		{"POST", "/v2.0/l2-gateway-connections", `{}`, "PolicyNotAuthorized", "rule:create_l2_gateway_connection is disallowed by policy"},
		{"GET", "/v2.0/l2-gateway-connections", ``, "AdminRequired", admin},
		{"POST", "/v2.0/networks", `{"network":{}}`, "PolicyNotAuthorized", "rule:create_network is disallowed by policy"},
		{"GET", "/v2.0/ports", ``, "AdminRequired", admin},
		{"GET", "/v2.0/hosts", ``, "AdminRequired", admin},
		{"GET", "/v2.0/switches", ``, "AdminRequired", admin},
		{"GET", "/v2.0/local-macs", ``, "AdminRequired", admin},
	} {
		r := e.do(tc.method, tc.path, tc.body, member...)
		if r.status != http.StatusForbidden {
			t.Errorf("%s %s as member = %d %s; want 403", tc.method, tc.path, r.status, r.body)
			continue
		}
		if typ, msg := neutronError(t, r); typ != tc.typ || msg != tc.msg {
			t.Errorf("%s %s as member: %s %q; want %s %q", tc.method, tc.path, typ, msg, tc.typ, tc.msg)
		}
	}
	// An admin of another project creates in its own project by default.
	r := e.do("POST", "/v2.0/l2-gateways?fields=tenant_id", `{"l2_gateway":{"devices":[{"device_name":"s","interfaces":[{"name":"p"}]}]}}`, "X-Roles", "admin", "X-Project-Id", "p2")
	matchJSON(t, `{"l2_gateway":{"tenant_id":"p2"}}`, r.body)
	r = e.do("POST", "/v2.0/l2-gateways?fields=tenant_id", `{"l2_gateway":{"project_id":"p3","devices":[{"device_name":"s","interfaces":[{"name":"p"}]}]}}`)
	matchJSON(t, `{"l2_gateway":{"tenant_id":"p3"}}`, r.body)
}

// denyAll is an Authenticator that refuses everyone.
type denyAll struct{}

func (denyAll) Authenticate(*http.Request) (api.Credentials, error) {
	return api.Credentials{}, fmt.Errorf("no token")
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, api.Config{Authenticator: denyAll{}})
	r := e.do("GET", "/v2.0/l2-gateways", "")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("GET without credentials = %d %s; want 401", r.status, r.body)
	}
	if r := e.do("GET", "/healthz", ""); r.status != http.StatusOK {
		t.Errorf("/healthz = %d; want 200 without credentials", r.status)
	}
	r = e.do("GET", "/metrics", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `l2gw_api_requests_total{code="401",method="GET",route="/v2.0/l2-gateways"} 1`) {
		t.Errorf("/metrics = %d; want the 401 counted:\n%s", r.status, r.body)
	}
}

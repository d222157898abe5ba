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
		{name: "port still bound and active", method: "GET", path: "/v2.0/ports/{p2}?fields=binding:host_id&fields=status", status: 200,
			want: `{"port":{"binding:host_id":"compute2","status":"ACTIVE"}}`},
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

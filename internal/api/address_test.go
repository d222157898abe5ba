package api_test

import (
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

// TestNonUnicastMACRefused: a port's MAC and its allowed-address-pair MACs
// become switch Ucast_Macs_Remote rows, so broadcast, multicast and
// all-zero MACs are refused on create (single and bulk) and update, and
// nothing is stored.
func TestNonUnicastMACRefused(t *testing.T) {
	e := newEnv(t, api.Config{})
	net1 := e.create("/v2.0/networks", "network", `{"network":{"name":"net1"}}`)
	port := e.create("/v2.0/ports", "port", `{"port":{"network_id":"`+net1+`","mac_address":"fa:16:3e:00:00:01"}}`)
	expand := func(s string) string {
		return strings.NewReplacer("{net1}", net1, "{port}", port).Replace(s)
	}
	for _, mac := range []string{"ff:ff:ff:ff:ff:ff", "FF:FF:FF:FF:FF:FF", "00:00:00:00:00:00", "01:00:5e:00:00:01", "33:33:00:00:00:01", "03:00:00:00:00:00"} {
		bad := "Invalid input for mac_address. Reason: '" + mac + "' is not a valid MAC address."
		badPair := "Invalid input for allowed_address_pairs. Reason: '" + mac + "' is not a valid MAC address."
		for _, tc := range []struct {
			name, method, path, body, msg string
		}{
			{"create", "POST", "/v2.0/ports", `{"port":{"network_id":"{net1}","mac_address":"` + mac + `"}}`, bad},
			{"bulk create", "POST", "/v2.0/ports", `{"ports":[{"network_id":"{net1}","mac_address":"fa:16:3e:00:00:02"},{"network_id":"{net1}","mac_address":"` + mac + `"}]}`, bad},
			{"create pair", "POST", "/v2.0/ports", `{"port":{"network_id":"{net1}","allowed_address_pairs":[{"ip_address":"10.0.0.9","mac_address":"` + mac + `"}]}}`, badPair},
			{"bulk create pair", "POST", "/v2.0/ports", `{"ports":[{"network_id":"{net1}"},{"network_id":"{net1}","allowed_address_pairs":[{"ip_address":"10.0.0.9","mac_address":"` + mac + `"}]}]}`, badPair},
			{"update pair", "PUT", "/v2.0/ports/{port}", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.9","mac_address":"` + mac + `"}]}}`, badPair},
		} {
			t.Run(mac+"/"+tc.name, func(t *testing.T) {
				r := e.do(tc.method, expand(tc.path), expand(tc.body))
				if r.status != 400 {
					t.Fatalf("%s %s %s = %d %s; want 400", tc.method, tc.path, tc.body, r.status, r.body)
				}
				if typ, msg := neutronError(t, r); typ != "HTTPBadRequest" || msg != tc.msg {
					t.Errorf("error = %s %q; want HTTPBadRequest %q", typ, msg, tc.msg)
				}
			})
		}
	}
	// Nothing was stored: the port keeps no pairs, and it is the only one.
	r := e.do("GET", "/v2.0/ports?fields=id&fields=allowed_address_pairs", "")
	matchJSON(t, `{"ports":[{"id":"`+port+`","allowed_address_pairs":[]}]}`, r.body)
	// A unicast MAC with the locally administered bit is fine.
	e.create("/v2.0/ports", "port", `{"port":{"network_id":"`+net1+`","mac_address":"02:00:00:00:00:01"}}`)
}

// TestVTEPIPv4Only: hardware_vtep switches reach hosts over vxlan_over_ipv4
// locators only, so a host's VTEP IP must be IPv4 on create and update.
func TestVTEPIPv4Only(t *testing.T) {
	e := newEnv(t, api.Config{})
	host := e.create("/v2.0/hosts", "host", `{"host":{"name":"c1","vtep_ip":"192.0.2.5"}}`)
	for _, tc := range []struct {
		name, method, path, body, msg string
	}{
		{"create", "POST", "/v2.0/hosts", `{"host":{"name":"c6","vtep_ip":"2001:db8::5"}}`,
			"Invalid input for vtep_ip. Reason: '2001:db8::5' is not a valid IPv4 address: hardware_vtep switches reach VTEPs over vxlan_over_ipv4 only."},
		{"update", "PUT", "/v2.0/hosts/" + host, `{"host":{"vtep_ip":"2001:db8::5"}}`,
			"Invalid input for vtep_ip. Reason: '2001:db8::5' is not a valid IPv4 address: hardware_vtep switches reach VTEPs over vxlan_over_ipv4 only."},
		{"update loopback v6", "PUT", "/v2.0/hosts/" + host, `{"host":{"vtep_ip":"::1"}}`,
			"Invalid input for vtep_ip. Reason: '::1' is not a valid IPv4 address: hardware_vtep switches reach VTEPs over vxlan_over_ipv4 only."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body)
			if r.status != 400 {
				t.Fatalf("%s %s %s = %d %s; want 400", tc.method, tc.path, tc.body, r.status, r.body)
			}
			if typ, msg := neutronError(t, r); typ != "HTTPBadRequest" || msg != tc.msg {
				t.Errorf("error = %s %q; want HTTPBadRequest %q", typ, msg, tc.msg)
			}
		})
	}
	r := e.do("GET", "/v2.0/hosts?fields=name&fields=vtep_ip", "")
	matchJSON(t, `{"hosts":[{"name":"c1","vtep_ip":"192.0.2.5"}]}`, r.body)
	// The IPv4-mapped form is IPv4, stored in dotted form.
	r = e.do("PUT", "/v2.0/hosts/"+host+"?fields=vtep_ip", `{"host":{"vtep_ip":"::ffff:192.0.2.6"}}`)
	matchJSON(t, `{"host":{"vtep_ip":"192.0.2.6"}}`, r.body)
}

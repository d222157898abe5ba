package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/neutron"
)

const readOnlyMsg = "The inventory is managed by Neutron."

// TestInventoryReadOnly: with the inventory mirrored from Neutron, every
// write of networks, ports and hosts answers 409 with the configured
// message, and reads still work.
func TestInventoryReadOnly(t *testing.T) {
	e := newEnv(t, api.Config{InventoryReadOnly: readOnlyMsg})
	var tests []refusal
	for _, w := range []struct{ method, path, body string }{
		{"POST", "/v2.0/networks", `{"network":{"name":"n"}}`},
		{"PUT", "/v2.0/networks/x", `{"network":{"name":"n"}}`},
		{"DELETE", "/v2.0/networks/x", ""},
		{"POST", "/v2.0/ports", `{"port":{"network_id":"x"}}`},
		{"PUT", "/v2.0/ports/x", `{"port":{"name":"p"}}`},
		{"DELETE", "/v2.0/ports/x", ""},
		{"POST", "/v2.0/hosts", `{"host":{"name":"h","vtep_ip":"192.0.2.1"}}`},
		{"PUT", "/v2.0/hosts/x", `{"host":{"name":"h"}}`},
		{"DELETE", "/v2.0/hosts/x", ""},
	} {
		tests = append(tests, refusal{name: w.method + " " + w.path, method: w.method, path: w.path, body: w.body,
			status: http.StatusConflict, typ: "InventoryReadOnly", msg: readOnlyMsg})
	}
	tests = append(tests, refusal{name: "list networks", method: "GET", path: "/v2.0/networks", status: http.StatusOK, want: `{"networks":[]}`})
	e.check(t, tests, func(s string) string { return s })
}

// upstream is a Neutron stand-in: it records what reaches it.
type upstream struct {
	paths []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.paths = append(u.paths, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"from":"neutron"}`))
}

func (u *upstream) Extensions(*http.Request) ([]neutron.Extension, error) {
	return []neutron.Extension{{Alias: "binding", Name: "Port Binding", Links: []neutron.Link{}},
		{Alias: neutron.ExtensionGateway, Name: "stale l2gw", Links: []neutron.Link{}}}, nil
}

// TestUpstream: in front of Neutron, networks, ports and anything unknown
// go to Neutron; gateways, hosts and the extension list stay l2gw's, the
// list merging Neutron's with l2gw's two.
func TestUpstream(t *testing.T) {
	up := &upstream{}
	e := newEnv(t, api.Config{Upstream: up, InventoryReadOnly: readOnlyMsg})
	for _, p := range []string{"/v2.0/networks", "/v2.0/ports/x", "/v2.0/subnets", "/", "/v2.0/extensions/binding"} {
		if r := e.do("GET", p, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "neutron") {
			t.Errorf("GET %s = %d %s; want Neutron's answer", p, r.status, r.body)
		}
	}
	if r := e.do("GET", "/v2.0/l2-gateways", ""); r.status != http.StatusOK || strings.Contains(string(r.body), "neutron") {
		t.Errorf("GET /v2.0/l2-gateways = %d %s; want l2gw's", r.status, r.body)
	}
	r := e.do("GET", "/v2.0/extensions", "")
	var body struct {
		Extensions []neutron.Extension `json:"extensions"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range body.Extensions {
		got = append(got, x.Alias+"="+x.Name)
	}
	want := "binding=Port Binding l2-gateway=L2 Gateway l2-gateway-connection=L2 Gateway connection"
	if strings.Join(got, " ") != want {
		t.Errorf("GET /v2.0/extensions = %v; want %s", got, want)
	}
	if r := e.do("GET", "/v2.0/extensions/l2-gateway", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "Connects Neutron networks") {
		t.Errorf("GET /v2.0/extensions/l2-gateway = %d %s; want l2gw's descriptor", r.status, r.body)
	}
	wantPaths := "GET /v2.0/networks GET /v2.0/ports/x GET /v2.0/subnets GET / GET /v2.0/extensions/binding"
	if got := strings.Join(up.paths, " "); got != wantPaths {
		t.Errorf("requests reaching Neutron = %s; want %s", got, wantPaths)
	}
}

package api_test

import (
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

// TestGatewayRevisionNumber: gateways carry revision_number (1 at creation,
// +1 per update) and a PUT with If-Match: revision_number=N is refused with
// 412 unless the gateway is still at N, so no client silently overwrites
// another's change.
func TestGatewayRevisionNumber(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("gatewayhost", "port1", "port2", "port3")
	r := e.do("POST", "/v2.0/l2-gateways", `{"l2_gateway":{"name":"gw1","devices":[{"device_name":"gatewayhost","interfaces":[{"name":"port1"}]}]}}`)
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	matchJSON(t, `{"l2_gateway":{"id":"*","name":"gw1","devices":"*1","tenant_id":"fake_project_id","revision_number":1}}`, r.body)
	gw := r.json(t)["l2_gateway"].(map[string]any)["id"].(string)
	path := "/v2.0/l2-gateways/" + gw
	put := func(body string, ifMatch ...string) resp {
		t.Helper()
		var hdr []string
		for _, v := range ifMatch {
			hdr = append(hdr, "If-Match", v)
		}
		return e.do("PUT", path+"?fields=name&fields=revision_number", body, hdr...)
	}
	devs := func(ifs ...string) string {
		return `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","interfaces":[{"name":"` + strings.Join(ifs, `"},{"name":"`) + `"}]}]}}`
	}

	// Unconditional update: as before, revision 1 -> 2.
	if r := put(`{"l2_gateway":{"name":"gw2"}}`); r.status != 200 {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	} else {
		matchJSON(t, `{"l2_gateway":{"name":"gw2","revision_number":2}}`, r.body)
	}
	// Two clients read revision 2 and both add an interface: the first
	// wins, the second gets 412 and nothing of its change is stored.
	if r := put(devs("port1", "port2"), "revision_number=2"); r.status != 200 {
		t.Fatalf("PUT If-Match 2 = %d %s", r.status, r.body)
	} else {
		matchJSON(t, `{"l2_gateway":{"name":"gw2","revision_number":3}}`, r.body)
	}
	r = put(devs("port1", "port3"), "revision_number=2")
	if r.status != 412 {
		t.Fatalf("PUT with stale If-Match = %d %s; want 412", r.status, r.body)
	}
	if typ, msg := neutronError(t, r); typ != "RevisionNumberConstraintFailed" || msg != "Constrained to 2, but current revision is 3" {
		t.Errorf("stale If-Match error = %s %q; want RevisionNumberConstraintFailed %q", typ, msg, "Constrained to 2, but current revision is 3")
	}
	r = e.do("GET", path+"?fields=devices&fields=revision_number", "")
	matchJSON(t, `{"l2_gateway":{"devices":[{"device_name":"gatewayhost","id":"*","interfaces":[{"name":"port1","segmentation_id":[]},{"name":"port2","segmentation_id":[]}]}],"revision_number":3}}`, r.body)
	// Quoted and listed tags are understood; other tags are ignored.
	if r := put(`{"l2_gateway":{"name":"gw3"}}`, `"abc", "revision_number=3"`); r.status != 200 {
		t.Fatalf("PUT If-Match quoted 3 = %d %s", r.status, r.body)
	}
	// A failed update bumps nothing; filters and lists show the revision.
	r = e.do("GET", "/v2.0/l2-gateways?revision_number=4&fields=name&fields=revision_number", "")
	matchJSON(t, `{"l2_gateways":[{"name":"gw3","revision_number":4}]}`, r.body)

	for _, tc := range []struct {
		name, method, path, body, ifMatch string
		status                            int
		typ, msg                          string
	}{
		{"malformed", "PUT", path, `{"l2_gateway":{"name":"x"}}`, "revision_number=abc", 400, "BadRequest",
			"Bad if-match request: Revision number etag must be in the format of revision_number=<int>."},
		{"two revisions", "PUT", path, `{"l2_gateway":{"name":"x"}}`, "revision_number=4, revision_number=5", 400, "BadRequest",
			"Bad if-match request: Multiple revision_number etags are not supported."},
		{"unknown gateway", "PUT", "/v2.0/l2-gateways/nope", `{"l2_gateway":{"name":"x"}}`, "revision_number=1", 404, "L2GatewayNotFound", ""},
		// Resources without revision numbers refuse a constraint instead of
		// ignoring it.
		{"host", "PUT", "/v2.0/hosts/x", `{"host":{"description":"x"}}`, "revision_number=1", 400, "BadRequest",
			"Bad if-match request: Revision matching not supported for this resource."},
		{"port", "PUT", "/v2.0/ports/x", `{"port":{"name":"x"}}`, "revision_number=1", 400, "BadRequest",
			"Bad if-match request: Revision matching not supported for this resource."},
		// Deletes are unconditional and say so.
		{"delete", "DELETE", path, ``, "revision_number=4", 400, "BadRequest",
			"Bad if-match request: Revision matching not supported for this operation."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, "If-Match", tc.ifMatch)
			if r.status != tc.status {
				t.Fatalf("%s %s If-Match %s = %d %s; want %d", tc.method, tc.path, tc.ifMatch, r.status, r.body, tc.status)
			}
			if typ, msg := neutronError(t, r); typ != tc.typ || (tc.msg != "" && msg != tc.msg) {
				t.Errorf("error = %s %q; want %s %q", typ, msg, tc.typ, tc.msg)
			}
		})
	}
	r = e.do("GET", path+"?fields=name&fields=revision_number", "")
	matchJSON(t, `{"l2_gateway":{"name":"gw3","revision_number":4}}`, r.body)
}

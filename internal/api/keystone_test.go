package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/keystone"
)

// fakeKeystone answers the two calls the validator makes: the service
// login and token validation, for the tokens in roles.
func fakeKeystone(t *testing.T, down *atomic.Bool) *httptest.Server {
	t.Helper()
	roles := map[string][]string{
		"admin-tok":  {"admin", "member"},
		"member-tok": {"member"},
		"aproj-tok":  {"member"}, // is_admin_project, no admin role
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if r.Method == http.MethodPost {
			w.Header().Set("X-Subject-Token", "svc")
			w.WriteHeader(http.StatusCreated)
			return
		}
		rs, ok := roles[r.Header.Get("X-Subject-Token")]
		if r.Header.Get("X-Auth-Token") != "svc" || !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var list []map[string]string
		for _, n := range rs {
			list = append(list, map[string]string{"name": n})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "is_admin_project": true,
			"user": map[string]string{"id": "u"}, "project": map[string]string{"id": "proj-" + r.Header.Get("X-Subject-Token")},
			"roles": list,
		}})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestKeystoneAnswers(t *testing.T) {
	var down atomic.Bool
	ks := fakeKeystone(t, &down)
	v, err := keystone.New(keystone.Config{URL: ks.URL, Username: "l2gw", Password: "pw", Project: "service", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, api.Config{Authenticator: api.Keystone{V: v}})
	typ := func(r resp) string {
		var b struct{ NeutronError struct{ Type string } }
		_ = json.Unmarshal(r.body, &b)
		return b.NeutronError.Type
	}
	create := `{"l2_gateway":{"name":"gw1","devices":[{"device_name":"sw1","interfaces":[{"name":"p1"}]}]}}`

	for _, tok := range []string{"", "nope"} {
		r := e.do("GET", "/v2.0/l2-gateways", "", "X-Auth-Token", tok)
		if want := `Keystone uri="` + ks.URL + `/v3"`; r.status != 401 || typ(r) != "HTTPUnauthorized" || r.header.Get("WWW-Authenticate") != want {
			t.Errorf("token %q: %d %s WWW-Authenticate %q; want 401 HTTPUnauthorized %s", tok, r.status, typ(r), r.header.Get("WWW-Authenticate"), want)
		}
	}
	r := e.do("POST", "/v2.0/l2-gateways", create, "X-Auth-Token", "admin-tok")
	if r.status != 201 || !strings.Contains(string(r.body), `"tenant_id":"proj-admin-tok"`) {
		t.Fatalf("admin create = %d %s; want 201 in the token's project", r.status, r.body)
	}
	for _, tok := range []string{"member-tok", "aproj-tok"} {
		if r := e.do("POST", "/v2.0/l2-gateways", create, "X-Auth-Token", tok); r.status != 403 || typ(r) != "PolicyNotAuthorized" {
			t.Errorf("%s create = %d %s; want 403 PolicyNotAuthorized", tok, r.status, typ(r))
		}
		if r := e.do("GET", "/v2.0/l2-gateways", "", "X-Auth-Token", tok); r.status != 403 || typ(r) != "AdminRequired" {
			t.Errorf("%s list = %d %s; want 403 AdminRequired", tok, r.status, typ(r))
		}
	}
	down.Store(true)
	if r := e.do("GET", "/v2.0/l2-gateways", "", "X-Auth-Token", "admin-tok"); r.status != 200 {
		t.Errorf("cached admin token with Keystone down = %d; want 200", r.status)
	}
	r = e.do("GET", "/v2.0/l2-gateways", "", "X-Auth-Token", "never-seen")
	if r.status != 503 || typ(r) != "HTTPServiceUnavailable" {
		t.Errorf("new token with Keystone down = %d %s; want 503 HTTPServiceUnavailable", r.status, typ(r))
	}
}

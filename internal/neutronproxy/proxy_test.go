package neutronproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestForward: a request reaches Neutron unchanged (method, path, query,
// body, token), with the client's Host and X-Forwarded-* added; an
// unreachable Neutron is a 503 NeutronError.
func TestForward(t *testing.T) {
	var got *http.Request
	var body string
	neutron := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("X-Openstack-Request-Id", "req-1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"port":{}}`)
	}))
	defer neutron.Close()
	p, err := New(neutron.URL, Config{})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/v2.0/ports?fields=id", strings.NewReader(`{"port":{"network_id":"n"}}`))
	req.Host = "cloud.example:9696"
	req.Header.Set("X-Auth-Token", "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || string(b) != `{"port":{}}` || resp.Header.Get("X-Openstack-Request-Id") != "req-1" {
		t.Errorf("answer = %d %s %v; want Neutron's 201 as it was", resp.StatusCode, b, resp.Header)
	}
	for what, pair := range map[string][2]string{
		"method":            {got.Method, http.MethodPost},
		"path":              {got.URL.RequestURI(), "/v2.0/ports?fields=id"},
		"body":              {body, `{"port":{"network_id":"n"}}`},
		"Host":              {got.Host, "cloud.example:9696"},
		"X-Auth-Token":      {got.Header.Get("X-Auth-Token"), "tok"},
		"X-Forwarded-Host":  {got.Header.Get("X-Forwarded-Host"), "cloud.example:9696"},
		"X-Forwarded-Proto": {got.Header.Get("X-Forwarded-Proto"), "http"},
		"X-Forwarded-For":   {got.Header.Get("X-Forwarded-For"), "127.0.0.1"},
	} {
		if pair[0] != pair[1] {
			t.Errorf("Neutron saw %s %q; want %q", what, pair[0], pair[1])
		}
	}

	neutron.Close()
	resp, err = http.Get(front.URL + "/v2.0/networks")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "ServiceUnavailable") {
		t.Errorf("Neutron down: %d %s; want 503 ServiceUnavailable", resp.StatusCode, b)
	}
}

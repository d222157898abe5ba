package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is an API server on a real SQLite store.
type env struct {
	t   *testing.T
	st  store.Store
	srv *httptest.Server
}

func newEnv(t *testing.T, cfg api.Config) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	srv := httptest.NewServer(api.New(st, cfg))
	t.Cleanup(func() {
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return &env{t: t, st: st, srv: srv}
}

// reportSwitch makes the switch "gatewayhost" with ports port1..port4 known,
// as the switch agent would.
func (e *env) reportSwitch(name string, ports ...string) {
	e.t.Helper()
	sw := model.Switch{ID: "sw-" + name, Name: name, TunnelIPs: []string{"127.0.0.42"}}
	for _, p := range ports {
		sw.Ports = append(sw.Ports, model.SwitchPort{Name: p})
	}
	if err := e.st.ReportSwitch(context.Background(), model.SwitchReport{Switch: sw}); err != nil {
		e.t.Fatalf("ReportSwitch: %v", err)
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
	return m
}

func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// create POSTs and returns the new object's id.
func (e *env) create(path, key, body string) string {
	e.t.Helper()
	r := e.do("POST", path, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("POST %s %s = %d %s; want 201", path, body, r.status, r.body)
	}
	obj, _ := r.json(e.t)[key].(map[string]any)
	id, _ := obj["id"].(string)
	if id == "" {
		e.t.Fatalf("POST %s: no id in %s", path, r.body)
	}
	return id
}

// neutronError decodes a NeutronError body.
func neutronError(t *testing.T, r resp) (typ, msg string) {
	t.Helper()
	var b struct {
		NeutronError struct {
			Type, Message string
			Detail        *string
		}
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.NeutronError.Detail == nil {
		t.Fatalf("not a NeutronError body (%d): %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	return b.NeutronError.Type, b.NeutronError.Message
}

// matchJSON compares got with want, where the string "*" in want matches any
// value and "*N" matches a list of N elements.
func matchJSON(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("bad JSON %q: %v", got, err)
	}
	if diff := cmp.Diff(w, mask(w, g)); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

// mask replaces the parts of g that want's wildcards accept by the wildcards.
func mask(w, g any) any {
	if s, ok := w.(string); ok && strings.HasPrefix(s, "*") {
		if l, isList := g.([]any); s == "*" || (isList && fmt.Sprint(len(l)) == s[1:]) {
			return w
		}
		return g
	}
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return g
		}
		out := make(map[string]any, len(gv))
		for k, v := range gv {
			out[k] = mask(wv[k], v)
		}
		return out
	case []any:
		gv, ok := g.([]any)
		if !ok {
			return g
		}
		out := make([]any, len(gv))
		for i, v := range gv {
			if i < len(wv) {
				v = mask(wv[i], v)
			}
			out[i] = v
		}
		return out
	}
	return g
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestSharedRegistry runs two handlers on one registry: both count their
// requests in the same metrics (a second handler used to export nothing).
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newEnv(t, api.Config{Registry: reg})
	b := newEnv(t, api.Config{Registry: reg})
	a.do("GET", "/v2.0/l2-gateways", "")
	b.do("GET", "/v2.0/l2-gateways", "")
	b.do("GET", "/v2.0/networks", "")
	for _, e := range []*env{a, b} {
		r := e.do("GET", "/metrics", "")
		for _, want := range []string{
			`l2gw_api_requests_total{code="200",method="GET",route="/v2.0/l2-gateways"} 2`,
			`l2gw_api_requests_total{code="200",method="GET",route="/v2.0/networks"} 1`,
		} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("/metrics = %d; want %s in:\n%s", r.status, want, r.body)
			}
		}
	}
}

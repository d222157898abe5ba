package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/l2gw/l2gw/internal/api"
)

// listNames GETs a gateway list and returns the gateways' names in order.
func (e *env) listNames(path string, hdr ...string) []string {
	e.t.Helper()
	r := e.do("GET", path, "", hdr...)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s = %d %s", path, r.status, r.body)
	}
	var b struct {
		Gateways []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"l2_gateways"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	names := []string{}
	for _, g := range b.Gateways {
		names = append(names, g.Name)
	}
	return names
}

// TestListFollowsCommits checks that list bodies (kept between commits)
// show every write as soon as the write is answered, for each shape of
// list request.
func TestListFollowsCommits(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("sw", "p1", "p2")
	gw := func(name string) string {
		return e.create("/v2.0/l2-gateways", "l2_gateway",
			`{"l2_gateway":{"name":"`+name+`","devices":[{"device_name":"sw","interfaces":[{"name":"p1"}]}]}}`)
	}
	a := gw("a")
	queries := []string{"", "?fields=name", "?fields=name&fields=id", "?name=a", "?name=b", "?id=" + a, "?limit=1", "?tenant_id=x"}
	want := func(q string, names ...string) {
		t.Helper()
		got := e.listNames("/v2.0/l2-gateways" + q)
		// Lists are ordered by id (random): compare as sets.
		if diff := cmp.Diff(names, got, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", q, diff)
		}
	}
	for _, q := range queries {
		e.listNames("/v2.0/l2-gateways" + q) // fill the cache
	}
	want("", "a")
	b := gw("b")
	want("", "a", "b")
	want("?fields=name", "a", "b")
	want("?name=b", "b")
	want("?name=a", "a")
	if r := e.do("PUT", "/v2.0/l2-gateways/"+a, `{"l2_gateway":{"name":"c"}}`); r.status != http.StatusOK {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	want("?name=a")
	want("?id="+a, "c")
	want("?fields=name&fields=id", "c", "b")
	if r := e.do("DELETE", "/v2.0/l2-gateways/"+b, ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	want("", "c")
	want("?name=b")
	want("?tenant_id=x")

	// fields= keeps only the asked keys, from a kept body as from a new one.
	for range 2 {
		r := e.do("GET", "/v2.0/l2-gateways?fields=name", "")
		matchJSON(t, `{"l2_gateways":[{"name":"c"}]}`, r.body)
	}

	// Paging links name the request's own host, which is part of the key.
	gw("d")
	for _, host := range []string{"one.example", "two.example", "one.example"} {
		req, err := http.NewRequest("GET", e.srv.URL+"/v2.0/l2-gateways?limit=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Links []struct{ Href string } `json:"l2_gateways_links"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || len(body.Links) == 0 {
			t.Fatalf("GET ?limit=1 with Host %s: links %v, %v", host, body.Links, err)
		}
		for _, l := range body.Links {
			if want := "http://" + host + "/"; len(l.Href) < len(want) || l.Href[:len(want)] != want {
				t.Errorf("Host %s: link %q; want prefix %q", host, l.Href, want)
			}
		}
	}
}

// TestListConnectionsFollowsCascade checks that a network delete, which
// deletes the network's connections, shows in the connection list.
func TestListConnectionsFollowsCascade(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("sw", "p1")
	gw := e.create("/v2.0/l2-gateways", "l2_gateway", `{"l2_gateway":{"name":"g","devices":[{"device_name":"sw","interfaces":[{"name":"p1"}]}]}}`)
	net := e.create("/v2.0/networks", "network", `{"network":{"name":"n"}}`)
	count := func() int {
		t.Helper()
		r := e.do("GET", "/v2.0/l2-gateway-connections", "")
		var b map[string][]any
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("list connections %d %s: %v", r.status, r.body, err)
		}
		return len(b["l2_gateway_connections"])
	}
	if n := count(); n != 0 {
		t.Fatalf("connections = %d; want 0", n)
	}
	e.create("/v2.0/l2-gateway-connections", "l2_gateway_connection",
		fmt.Sprintf(`{"l2_gateway_connection":{"l2_gateway_id":%q,"network_id":%q,"segmentation_id":"7"}}`, gw, net))
	if n := count(); n != 1 {
		t.Fatalf("connections after create = %d; want 1", n)
	}
	if r := e.do("DELETE", "/v2.0/networks/"+net, ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE network = %d %s", r.status, r.body)
	}
	if n := count(); n != 0 {
		t.Fatalf("connections after network delete = %d; want 0", n)
	}
}

// listHas reports whether the gateway list holds name; it does not stop
// the test, so other goroutines may call it.
func (e *env) listHas(name string) (bool, error) {
	res, err := e.srv.Client().Get(e.srv.URL + "/v2.0/l2-gateways")
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	var b struct {
		Gateways []struct{ Name string } `json:"l2_gateways"`
	}
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
		return false, fmt.Errorf("list: %d: %w", res.StatusCode, err)
	}
	return slices.ContainsFunc(b.Gateways, func(g struct{ Name string }) bool { return g.Name == name }), nil
}

// send sends a request without stopping the test and returns the status
// and the created object's id, if any.
func (e *env) send(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var b map[string]struct{ ID string }
	_ = json.NewDecoder(res.Body).Decode(&b)
	for _, v := range b {
		return res.StatusCode, v.ID, nil
	}
	return res.StatusCode, "", nil
}

// TestListReadsOwnWrites runs writers and readers at once: every writer
// must see its gateway in the list once the create is answered, and not
// after the delete is.
func TestListReadsOwnWrites(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.reportSwitch("sw", "p1")
	var readers sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.listHas(""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := range 10 {
				name := fmt.Sprintf("w%d-%d", w, i)
				code, id, err := e.send("POST", "/v2.0/l2-gateways",
					`{"l2_gateway":{"name":"`+name+`","devices":[{"device_name":"sw","interfaces":[{"name":"p1"}]}]}}`)
				if err != nil || code != http.StatusCreated {
					t.Errorf("POST %s = %d, %v", name, code, err)
					return
				}
				if ok, err := e.listHas(name); err != nil || !ok {
					t.Errorf("%s listed after its create = %v, %v; want true", name, ok, err)
				}
				if code, _, err := e.send("DELETE", "/v2.0/l2-gateways/"+id, ""); err != nil || code != http.StatusNoContent {
					t.Errorf("DELETE %s = %d, %v", name, code, err)
					return
				}
				if ok, err := e.listHas(name); err != nil || ok {
					t.Errorf("%s listed after its delete = %v, %v; want false", name, ok, err)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
}

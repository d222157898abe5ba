package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/ui"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open() error = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fixedStatus answers every connection with the same status, as text the
// test chooses; the real computation is agentapi's (and the browser test's).
type fixedStatus struct {
	mu sync.Mutex
	cs agentwire.ConnectionStatus
}

func (f *fixedStatus) ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cs, nil
}

func (f *fixedStatus) set(cs agentwire.ConnectionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cs = cs
}

func serve(t *testing.T, h *ui.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
		srv.Close()
	})
	return srv
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestAssets checks the page's files are served from the binary, and that
// they fetch nothing from elsewhere (the page must work offline).
func TestAssets(t *testing.T) {
	srv := serve(t, ui.New(openStore(t), &fixedStatus{}, ui.Config{}))
	for _, tc := range []struct {
		path, status, ctype, body string
	}{
		{"/ui/", "200 OK", "text/html", `src="app.js"`},
		{"/ui/app.js", "200 OK", "text/javascript", "EventSource"},
		{"/ui/style.css", "200 OK", "text/css", "grid-template-columns"},
		{"/ui/index.html", "404 Not Found", "application/json", "HTTPNotFound"}, // one name per file: /ui/
		{"/ui/nope", "404 Not Found", "application/json", "HTTPNotFound"},
		{"/ui", "301 Moved Permanently", "", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path, nil)
			if resp.Status != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(body, tc.body) {
				t.Errorf("GET %s = %s %q %.80q; want %s %s containing %q", tc.path, resp.Status, resp.Header.Get("Content-Type"), body, tc.status, tc.ctype, tc.body)
			}
		})
	}
	err := fs.WalkDir(ui.Assets(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Assets(), path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("asset %s contains %q; the page must fetch nothing from elsewhere", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tokenAuth accepts one token, as Keystone would.
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (api.Credentials, error) {
	if r.Header.Get("X-Auth-Token") != "s3cret/+=" {
		return api.Credentials{}, errors.New("bad token")
	}
	return api.Credentials{UserID: "u", IsAdmin: true}, nil
}

// TestAuth checks the data endpoints answer only admins, with the token
// in the X-Auth-Token header or (for EventSource) the page's cookie, while
// the page itself holds no data and needs none.
func TestAuth(t *testing.T) {
	t.Run("noauth", func(t *testing.T) {
		srv := serve(t, ui.New(openStore(t), &fixedStatus{}, ui.Config{}))
		for _, path := range []string{"/ui/api/topology", "/ui/api/events"} {
			if resp, body := get(t, srv.URL+path, map[string]string{"X-Roles": "member"}); resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s as member = %s %s; want 403", path, resp.Status, body)
			}
		}
		if resp, body := get(t, srv.URL+"/ui/api/topology", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /ui/api/topology as admin = %s %s; want 200", resp.Status, body)
		}
	})
	t.Run("token", func(t *testing.T) {
		srv := serve(t, ui.New(openStore(t), &fixedStatus{}, ui.Config{Authenticator: tokenAuth{}}))
		for _, tc := range []struct {
			name string
			hdr  map[string]string
			want int
		}{
			{"none", nil, http.StatusUnauthorized},
			{"wrong", map[string]string{"X-Auth-Token": "nope"}, http.StatusUnauthorized},
			{"header", map[string]string{"X-Auth-Token": "s3cret/+="}, http.StatusOK},
			{"cookie", map[string]string{"Cookie": ui.TokenCookie + "=s3cret%2F%2B%3D"}, http.StatusOK},
			{"header wins", map[string]string{"X-Auth-Token": "nope", "Cookie": ui.TokenCookie + "=s3cret%2F%2B%3D"}, http.StatusUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if resp, body := get(t, srv.URL+"/ui/api/topology", tc.hdr); resp.StatusCode != tc.want {
					t.Errorf("GET /ui/api/topology = %s %s; want %d", resp.Status, body, tc.want)
				}
			})
		}
		if resp, _ := get(t, srv.URL+"/ui/", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /ui/ without a token = %s; want 200 (the page asks for one)", resp.Status)
		}
	})
}

// seed stores the seed's objects: net1, gw1 (gatewayhost port1 with
// VLANs 10 and 11, port2 with 20), their connection, the switch's report
// and a host; port2 then reports a fault.
func seed(t *testing.T, st store.Store) (model.Network, model.Gateway, model.Connection) {
	t.Helper()
	ctx := t.Context()
	nets, err := st.CreateNetworks(ctx, []model.Network{{Name: "net1", NetworkType: "vxlan", VNI: 1000, AdminStateUp: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.1"},
		Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSwitchStatus(ctx, model.SwitchStatus{Name: "gatewayhost", Connected: true, Revision: 3}); err != nil {
		t.Fatal(err)
	}
	gw, err := st.CreateGateway(ctx, model.Gateway{Name: "gw1", Devices: []model.Device{{Name: "gatewayhost",
		Interfaces: []model.Interface{{Name: "port1", SegmentationIDs: []int{10, 11}}, {Name: "port2", SegmentationIDs: []int{20}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateHost(ctx, model.Host{Name: "compute1", VTEPIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	// The link goes down once the gateway uses the port (a faulty port is
	// refused at creation).
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.1"},
		Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2", FaultStatus: []string{"link_down"}}}}}); err != nil {
		t.Fatal(err)
	}
	return nets[0], gw, conn
}

func TestTopology(t *testing.T) {
	st := openStore(t)
	n, gw, conn := seed(t, st)
	status := &fixedStatus{cs: agentwire.ConnectionStatus{State: agentwire.StateError,
		Status: []agentwire.SwitchSync{{Switch: "gatewayhost", State: agentwire.StateError, Reason: "port port2 is faulty: link_down", Connected: true}},
		Hosts:  []agentwire.HostSync{{Host: "compute1", State: agentwire.StatePending, Reason: "waiting for the host agent's first status"}}}}
	srv := serve(t, ui.New(st, status, ui.Config{}))
	resp, body := get(t, srv.URL+"/ui/api/topology", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /ui/api/topology = %s %v %s", resp.Status, resp.Header, body)
	}
	var got ui.Topology
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	rev, err := st.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := ui.Topology{
		Revision: rev,
		Networks: []ui.Network{{ID: n.ID, Name: "net1", VNI: 1000}},
		Gateways: []ui.Gateway{{ID: gw.ID, Name: "gw1", Devices: []ui.Device{{Switch: "gatewayhost",
			Interfaces: []ui.Interface{{Port: "port1", VLANs: []int{10, 11}}, {Port: "port2", VLANs: []int{20}}}}}}},
		Switches: []ui.Switch{{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.1"}, Connected: true, Revision: 3, FaultStatus: []string{},
			Ports: []ui.Port{{Name: "port1", FaultStatus: []string{}}, {Name: "port2", FaultStatus: []string{"link_down"}}}}},
		Hosts: []ui.Host{{Name: "compute1", VTEPIP: "192.0.2.2"}},
		Connections: []ui.Connection{{ID: conn.ID, NetworkID: n.ID, NetworkName: "net1", GatewayID: gw.ID, GatewayName: "gw1", State: agentwire.StateError,
			Switches: []ui.SwitchSync{{Switch: "gatewayhost", State: agentwire.StateError, Reason: "port port2 is faulty: link_down", Connected: true,
				Bindings: []ui.Binding{{Port: "port1", VLAN: 10}, {Port: "port1", VLAN: 11}, {Port: "port2", VLAN: 20}}}},
			Hosts: []ui.HostSync{{Host: "compute1", State: agentwire.StatePending, Reason: "waiting for the host agent's first status"}}}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ui.Switch{}, "LastSeen", "LastSync")); diff != "" {
		t.Errorf("topology (-want +got):\n%s", diff)
	}
}

// stream reads the "snapshot" events of an event stream.
type stream struct {
	resp   *http.Response
	events chan ui.Topology
	done   chan struct{}
}

func openStream(t *testing.T, ctx context.Context, url string) *stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/ui/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /ui/api/events = %s %v", resp.Status, resp.Header)
	}
	s := &stream{resp: resp, events: make(chan ui.Topology, 100), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "snapshot":
				var top ui.Topology
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &top); err != nil {
					t.Errorf("snapshot event: %v", err)
					return
				}
				s.events <- top
			case line == "":
				event = ""
			}
		}
	}()
	return s
}

// next waits up to timeout for a snapshot satisfying ok.
func (s *stream) next(t *testing.T, timeout time.Duration, what string, ok func(ui.Topology) bool) ui.Topology {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case top := <-s.events:
			if ok(top) {
				return top
			}
		case <-s.done:
			t.Fatalf("%s: the stream ended", what)
		case <-deadline:
			t.Fatalf("%s: no such snapshot within %v", what, timeout)
		}
	}
}

// TestEvents checks the event stream: a snapshot at once, a new one soon
// after a commit and after a status change that makes no revision (pushed
// by WatchStatus: the safety re-read is an hour away), none when nothing
// changed, few for a burst of commits, and the stream's goroutine ends
// with the client and at Close.
func TestEvents(t *testing.T) {
	st := openStore(t)
	status := &fixedStatus{cs: agentwire.ConnectionStatus{State: agentwire.StateInSync}}
	reg := prometheus.NewRegistry()
	h := ui.New(st, status, ui.Config{Interval: time.Hour, MinGap: 100 * time.Millisecond, Keepalive: 50 * time.Millisecond, Registerer: reg})
	agents := ui.WatchStatus(st, h.Changed) // as the server gives the agent protocol
	srv := serve(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	s := openStream(t, ctx, srv.URL)
	first := s.next(t, 5*time.Second, "first snapshot", func(ui.Topology) bool { return true })
	if len(first.Networks) != 0 {
		t.Errorf("first snapshot networks = %v; want none", first.Networks)
	}

	// A commit.
	start := time.Now()
	_, gw, conn := seed(t, st)
	s.next(t, time.Second, "snapshot with the seed", func(top ui.Topology) bool {
		return len(top.Connections) == 1 && top.Connections[0].ID == conn.ID && len(top.Gateways) == 1 && top.Gateways[0].ID == gw.ID
	})
	t.Logf("seed shown after %v", time.Since(start))

	// A change recorded without a revision: the switch's sync progress,
	// and a connection's status computed from it.
	rev, _ := st.Revision(t.Context())
	status.set(agentwire.ConnectionStatus{State: agentwire.StatePending})
	if err := agents.SetSwitchStatus(t.Context(), model.SwitchStatus{Name: "gatewayhost", Connected: true, Revision: 42}); err != nil {
		t.Fatal(err)
	}
	if now, _ := st.Revision(t.Context()); now != rev {
		t.Fatalf("store revision %d -> %d after a status write; the test wants a write that makes none", rev, now)
	}
	s.next(t, time.Second, "snapshot with the switch's new revision", func(top ui.Topology) bool {
		return len(top.Switches) == 1 && top.Switches[0].Revision == 42 && top.Connections[0].State == agentwire.StatePending
	})

	// Nothing changes: nothing is sent (keepalive comments only).
	select {
	case top := <-s.events:
		t.Errorf("snapshot sent with nothing changed: %+v", top)
	case <-time.After(500 * time.Millisecond):
	}

	// A burst of 40 commits: a few snapshots, the last one complete.
	start = time.Now()
	for i := range 40 {
		if _, err := st.CreateNetworks(t.Context(), []model.Network{{Name: "burst", NetworkType: "vxlan", VNI: 1100 + i, AdminStateUp: true}}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	s.next(t, 2*time.Second, "snapshot with the burst", func(top ui.Topology) bool { n++; return len(top.Networks) == 41 })
	if max := int(time.Since(start)/(100*time.Millisecond)) + 2; n > max {
		t.Errorf("%d snapshots for a burst of 40 commits over %v; want at most %d (one per MinGap)", n, time.Since(start), max)
	}

	// The client goes: its stream ends (goleak checks the goroutine).
	// With no stream open nothing is read; the next stream's first
	// snapshot is read fresh, not a stale one kept from before.
	cancel()
	<-s.done
	testenv.Eventually(t, 5*time.Second, "the event stream to close", func() (bool, string) {
		n := gauge(t, reg, "l2gw_ui_event_streams")
		return n == 0, fmt.Sprintf("%v open", n)
	})
	reads := h.Reads()
	if _, err := st.CreateNetworks(t.Context(), []model.Network{{Name: "unseen", NetworkType: "vxlan", VNI: 1200, AdminStateUp: true}}); err != nil {
		t.Fatal(err)
	}
	if err := agents.SetHostStatus(t.Context(), model.HostStatus{Name: "compute1"}); err != nil {
		t.Fatal(err)
	}
	s = openStream(t, t.Context(), srv.URL)
	s.next(t, 5*time.Second, "a fresh first snapshot", func(top ui.Topology) bool { return len(top.Networks) == 42 })
	if got := h.Reads() - reads; got != 1 {
		t.Errorf("reads from the last stream's close to the next one's first snapshot = %d; want 1 (none without a stream)", got)
	}
	if got := gauge(t, reg, "l2gw_ui_topology_reads_total"); got != float64(h.Reads()) {
		t.Errorf("l2gw_ui_topology_reads_total = %v; want Reads() = %d", got, h.Reads())
	}

	// Close ends the open streams.
	h.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5s after Close")
	}
}

// gauge returns the value of the unlabelled metric name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

package agentapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is the northbound API and the agent protocol on a real SQLite store
// and a running plan feed, as `l2gw server` mounts them.
type env struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	st   store.Store
	feed *planfeed.Feed
	h    *agentapi.Handler
	srv  *httptest.Server

	mu    sync.Mutex
	plans []string // request URIs of plan streams, in order
}

// planRequests returns the request URIs of the plan streams opened so far.
func (e *env) planRequests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.plans)
}

func newEnv(t *testing.T, cfg agentapi.Config) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), cfg)
}

// newEnvAt opens (or reopens) the store in dir.
func newEnvAt(t *testing.T, dir string, cfg agentapi.Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	feed, err := planfeed.New(st, planfeed.Config{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- feed.Run(runCtx) }()
	mux := http.NewServeMux()
	mux.Handle("/", api.New(st, api.Config{}))
	h := agentapi.New(st, feed, cfg)
	h.Mount(mux)
	e := &env{t: t, ctx: ctx, dir: dir, st: st, feed: feed, h: h}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/plan") {
			e.mu.Lock()
			e.plans = append(e.plans, r.URL.RequestURI())
			e.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	srv := e.srv
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		stop()
		if err := <-done; err != nil {
			t.Errorf("feed.Run: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return e
}

// seed is the seed workflow in the store: switch sw1 (ports p1, p2, tunnel
// IP 192.0.2.10), hosts compute1/compute2, net1 VNI 1000 with a port on
// compute1, gateway gw1 = sw1 p1;p2, connected with VLAN 100.
type seed struct {
	net, gw, conn string
}

func (e *env) seed() seed {
	e.t.Helper()
	ctx := e.ctx
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	must(e.st.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"},
		Ports: []model.SwitchPort{{Name: "p1"}, {Name: "p2"}}}}))
	_, err := e.st.CreateHost(ctx, model.Host{Name: "compute1", VTEPIP: "192.0.2.1"})
	must(err)
	_, err = e.st.CreateHost(ctx, model.Host{Name: "compute2", VTEPIP: "192.0.2.2"})
	must(err)
	nets, err := e.st.CreateNetworks(ctx, []model.Network{{Name: "net1", NetworkType: "vxlan", VNI: 1000, AdminStateUp: true, MTU: 1450}})
	must(err)
	e.port(nets[0].ID, "fa:16:3e:00:00:01", "compute1")
	gw, err := e.st.CreateGateway(ctx, model.Gateway{Name: "gw1", Devices: []model.Device{{Name: "sw1",
		Interfaces: []model.Interface{{Name: "p1"}, {Name: "p2"}}}}})
	must(err)
	vlan := 100
	c, err := e.st.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[0].ID, SegmentationID: &vlan})
	must(err)
	e.revision() // plans reflect the whole seed before any stream opens
	return seed{net: nets[0].ID, gw: gw.ID, conn: c.ID}
}

func (e *env) port(network, mac, host string) model.Port {
	e.t.Helper()
	ps, err := e.st.CreatePorts(e.ctx, []model.Port{{NetworkID: network, MACAddress: mac, HostID: host, AdminStateUp: true}})
	if err != nil {
		e.t.Fatal(err)
	}
	return ps[0]
}

// revision is the store's current revision, once the feed has caught up.
func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.st.Revision(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.feed.WaitRevision(e.ctx, rev); err != nil {
		e.t.Fatal(err)
	}
	return rev
}

// stream is an open plan stream read line by line.
type stream struct {
	t      *testing.T
	resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

// openStream GETs path (with ?revision=rev when rev > 0) and checks the
// stream headers.
func (e *env) openStream(path string, rev int64, hdr ...string) *stream {
	e.t.Helper()
	return e.openStreamOf(path, rev, e.feed.ID(), hdr...)
}

// resumeQuery is the query of a link's plan stream resuming from rev of
// e's feed.
func (e *env) resumeQuery(rev int64) string {
	return "?" + url.Values{"revision": {strconv.FormatInt(rev, 10)}, agentwire.FeedParam: {e.feed.ID()}}.Encode()
}

// openStreamOf is openStream resuming a plan of the given feed.
func (e *env) openStreamOf(path string, rev int64, feed string, hdr ...string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	u := e.srv.URL + path
	if rev > 0 {
		u += "?revision=" + strconv.FormatInt(rev, 10) + "&" + agentwire.FeedParam + "=" + url.QueryEscape(feed)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("GET %s: %v", path, err)
	}
	s := &stream{t: e.t, resp: resp, lines: make(chan string, 100), cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			select {
			case s.lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	e.t.Cleanup(func() { s.close(); <-done })
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next line that is not a keepalive.
func (s *stream) next() planner.SwitchEvent {
	s.t.Helper()
	for {
		line := s.line()
		var ev planner.SwitchEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			s.t.Fatalf("stream line %q: %v", line, err)
		}
		if ev.Type != agentwire.EventKeepalive {
			return ev
		}
	}
}

// line returns the next raw line (failing after 10s).
func (s *stream) line() string {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			s.t.Fatal("plan stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		s.t.Fatal("no line on the plan stream within 10s")
	}
	return ""
}

// do sends a request and returns the status and body.
func (e *env) do(method, path, body string, hdr ...string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
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
	return res.StatusCode, b
}

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/logging"
	"github.com/l2gw/l2gw/internal/testenv"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// startServer runs the server with a JSON log into buf until the test
// ends, and returns its base URL.
func startServer(t *testing.T, buf *syncBuffer, accessLog bool) string {
	t.Helper()
	log, err := logging.New(buf, logging.Options{Format: logging.FormatJSON, Level: slog.LevelInfo})
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + runServer(t, Config{
		Database:  "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
		Logger:    log,
		AccessLog: accessLog,
	})
}

var requestIDForm = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestRequestIDAndAccessLog: every answer of the API and the agent
// protocol (successes, errors, 404, 405, a plan stream) carries an
// X-Openstack-Request-Id of Neutron's form, a new one per request, and the
// access log line of that request names it with the method, path, status
// and a readable duration.
func TestRequestIDAndAccessLog(t *testing.T) {
	var buf syncBuffer
	base := startServer(t, &buf, true)
	c := &http.Client{}
	type call struct{ method, path, body string }
	calls := []struct {
		call
		status int
	}{
		{call{"GET", "/v2.0/l2-gateways", ""}, 200},
		{call{"POST", "/v2.0/networks", `{"network": {"name": "n1"}}`}, 201},
		{call{"POST", "/v2.0/l2-gateways", `{"l2_gateway": {"bogus": 1}}`}, 400},
		{call{"GET", "/v2.0/l2-gateways/nope", ""}, 404},
		{call{"GET", "/no/such/path", ""}, 404},
		{call{"PATCH", "/v2.0/l2-gateways", ""}, 405},
		{call{"GET", "/healthz", ""}, 200},
		{call{"POST", "/l2gw/v1/hosts/compute1/register", `{"vtep_ip": "192.0.2.2"}`}, 200},
		{call{"POST", "/l2gw/v1/hosts/compute1/register", `{"vtep_ip": "2001:db8::1"}`}, 400},
		{call{"DELETE", "/l2gw/v1/hosts/compute1/register", ""}, 405},
		{call{"GET", "/l2gw/v1/nothing", ""}, 404},
		{call{"GET", "/v2.0/l2-gateway-connections/nope/status", ""}, 404},
	}
	ids := map[string]call{}
	for _, tc := range calls {
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d; want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		id := resp.Header.Get("X-Openstack-Request-Id")
		if !requestIDForm.MatchString(id) {
			t.Errorf("%s %s: X-Openstack-Request-Id = %q; want req-<uuid>", tc.method, tc.path, id)
		}
		if _, dup := ids[id]; dup {
			t.Errorf("%s %s: request id %s used twice", tc.method, tc.path, id)
		}
		ids[id] = tc.call
	}

	// A plan stream: the header comes with the stream, its line when it ends.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/l2gw/v1/switches/tor1/plan", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("plan stream: %v", err)
	}
	streamID := resp.Header.Get("X-Openstack-Request-Id")
	if !requestIDForm.MatchString(streamID) {
		t.Errorf("plan stream: X-Openstack-Request-Id = %q; want req-<uuid>", streamID)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatalf("plan stream first line: %v", err)
	}
	ids[streamID] = call{"GET", "/l2gw/v1/switches/tor1/plan", ""}
	cancel()
	resp.Body.Close()

	testenv.Eventually(t, 10*time.Second, "an access log line per request", func() (bool, string) {
		byID := map[string]map[string]any{}
		for _, l := range buf.lines(t) {
			if l["msg"] == "request" {
				byID[l["request_id"].(string)] = l
			}
		}
		for id, c := range ids {
			l, ok := byID[id]
			if !ok {
				return false, "no access log line for " + c.method + " " + c.path + " " + id
			}
			if l["method"] != c.method || l["path"] != c.path || l["level"] != "INFO" {
				t.Fatalf("access log line %v; want %s %s at INFO", l, c.method, c.path)
			}
			if _, err := time.ParseDuration(l["duration"].(string)); err != nil {
				t.Fatalf("access log line %v: duration: %v", l, err)
			}
			if _, ok := l["status"].(float64); !ok {
				t.Fatalf("access log line %v: no status", l)
			}
		}
		return true, ""
	})
	// The errors' lines name their status.
	for _, l := range buf.lines(t) {
		if l["msg"] == "request" && l["path"] == "/no/such/path" && l["status"] != float64(404) {
			t.Errorf("access log line %v; want status 404", l)
		}
	}
}

// TestAccessLogOff: without AccessLog no request is logged, and answers
// still carry their request id.
func TestAccessLogOff(t *testing.T) {
	var buf syncBuffer
	base := startServer(t, &buf, false)
	resp, err := http.Get(base + "/v2.0/l2-gateways")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Openstack-Request-Id"); !requestIDForm.MatchString(id) {
		t.Errorf("X-Openstack-Request-Id = %q; want req-<uuid>", id)
	}
	for _, l := range buf.lines(t) {
		if l["msg"] == "request" {
			t.Errorf("access log line %v with AccessLog off", l)
		}
	}
}

package logging_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/logging"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestHandlerLogRequestID runs a real `l2gw server` and takes and releases
// a switch lease through the agent protocol: the handler's own lines
// ("lease taken", "lease released"), not only the access log's, carry the
// request id the answer's X-Openstack-Request-Id names.
func TestHandlerLogRequestID(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an l2gw server")
	}
	bin := testenv.BuildL2GW(t)
	srv, base := testenv.StartServer(t, bin, "--data-dir", filepath.Join(t.TempDir(), "state"), "--log-format", "json")
	call := func(method, path, body string, want int) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %s; want %d", method, path, resp.Status, want)
		}
		id := resp.Header.Get(logging.RequestIDHeader)
		if !strings.HasPrefix(id, "req-") {
			t.Fatalf("%s %s: %s = %q; want req-<uuid>", method, path, logging.RequestIDHeader, id)
		}
		return id
	}
	taken := call(http.MethodPost, "/l2gw/v1/switches/sw1/lease", `{"agent":"agent1","instance":"i1","duration_ms":10000}`, http.StatusOK)
	released := call(http.MethodDelete, "/l2gw/v1/switches/sw1/lease?agent=agent1&instance=i1&epoch=1", "", http.StatusNoContent)
	for msg, id := range map[string]string{"lease taken": taken, "lease released": released} {
		testenv.Eventually(t, 10*time.Second, "the server's "+msg+" line", func() (bool, string) {
			for line := range strings.Lines(srv.Logs()) {
				var rec struct {
					Msg       string `json:"msg"`
					RequestID string `json:"request_id"`
				}
				if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != msg {
					continue
				}
				if rec.RequestID != id {
					return false, "line " + strings.TrimSpace(line) + " lacks request_id " + id
				}
				return true, ""
			}
			return false, "no " + msg + " line"
		})
	}
}

package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestAgentMetricsBind runs `l2gw switch-agent --metrics-bind 127.0.0.1:0`
// (its server and switch unreachable: the agent keeps retrying) and reads
// /metrics and /healthz at the address it logs as "listening"; the metrics
// server stops with the agent.
func TestAgentMetricsBind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	agent := testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", "http://127.0.0.1:1",
		"--switch", "unix:"+filepath.Join(t.TempDir(), "missing.sock"), "--metrics-bind", "127.0.0.1:0")
	addr := agent.Listening(t)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := []string{
		"l2gw_switchagent_ovsdb_connected 0",
		`l2gw_reconcile_runs_total{component="switchagent",result="ok"} 0`,
		`l2gw_reconcile_queue_depth{component="switchagent"} 0`,
		"go_goroutines",
	}
	code, body := get("/metrics")
	for _, w := range want {
		if code != http.StatusOK || !strings.Contains(body, w) {
			t.Errorf("GET /metrics = %d, lacking %q:\n%s", code, w, body)
		}
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q; want 200 \"ok\\n\"", code, body)
	}
	agent.Terminate(t)
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("GET /metrics after the agent stopped succeeded; want the listener closed")
	}
}

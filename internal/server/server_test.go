package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runServer runs the server with cfg (on a free loopback port unless
// cfg.Bind says otherwise) until the test ends, then checks that Run
// returned nil; it returns the address it listens on.
func runServer(t *testing.T, cfg Config) string {
	t.Helper()
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	cfg.Listening = func(a net.Addr) { addrc <- a.String() }
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil after cancel", err)
		}
	})
	select {
	case addr := <-addrc:
		return addr
	case err := <-done:
		t.Fatalf("Run = %v before listening", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not listening within 30s")
	}
	return ""
}

// TestMetricsEmbeddedAgents runs the server with two embedded switch
// agents: its /metrics serves the API's, the plan feed's, the agent
// protocol's and both agents' metrics from one registry.
func TestMetricsEmbeddedAgents(t *testing.T) {
	var targets []switchagent.Config
	for _, name := range []string{"tor1", "tor2"} {
		o := testenv.StartOVSDB(t, false)
		o.VTEPCtl(t, "add-ps", name, "--", "set", "Physical_Switch", name, "tunnel_ips=192.0.2.10", "--", "add-port", name, "port1")
		targets = append(targets, switchagent.Config{Target: o.UnixTarget(), ProbeInterval: -1})
	}
	addr := runServer(t, Config{
		Database: "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
		Switches: targets,
	})

	want := []string{
		"l2gw_switchagent_ovsdb_connected 2",
		`l2gw_reconcile_runs_total{component="switchagent",result="noop"}`,
		"l2gw_switchagent_transaction_operations_count",
		"l2gw_planfeed_revision",
		"l2gw_planfeed_snapshots_total 1",
		`l2gw_agentapi_plan_streams{kind="switch"} 0`,
		"l2gw_api_requests_total",
		"go_goroutines",
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	testenv.Eventually(t, 30*time.Second, "GET /metrics has every metric", func() (bool, string) {
		body := get(t, client, "http://"+addr+"/metrics")
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0, fmt.Sprintf("lacks %q:\n%s", missing, body)
	})
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestStatusPage checks the server serves the status page and its event
// stream, and that an open stream does not hold up the shutdown.
func TestStatusPage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Bind:            "127.0.0.1:0",
			Database:        "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			ShutdownTimeout: time.Minute,
			Listening:       func(a net.Addr) { addrc <- a.String() },
		})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run = %v before listening", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not listening within 30s")
	}
	resp, err := http.Get("http://" + addr + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "l2gw status") {
		t.Errorf("GET /ui/ = %s %.100q; want the status page", resp.Status, page)
	}
	resp, err = http.Get("http://" + addr + "/ui/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "event: snapshot") {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("event stream: %v after %q", err, got.String())
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %v with a status page open; want it not to wait for the stream", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30s after cancel with a status page open")
	}
}

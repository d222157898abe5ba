package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestLimitFlags: --read-timeout, --write-timeout, --max-connections and
// --max-report-bytes fall back to their L2GW_* variables and reach the
// server's configuration (0: no limit, as the server's negative).
func TestLimitFlags(t *testing.T) {
	type limits struct {
		read, write time.Duration
		conns       int
		report      int64
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want limits
	}{
		{"defaults", nil, nil, limits{server.DefaultReadTimeout, server.DefaultWriteTimeout, server.DefaultMaxConnections, agentapi.DefaultMaxReportBytes}},
		{"env", map[string]string{"L2GW_READ_TIMEOUT": "7s", "L2GW_WRITE_TIMEOUT": "2m", "L2GW_MAX_CONNECTIONS": "100", "L2GW_MAX_REPORT_BYTES": "1048576"}, nil,
			limits{7 * time.Second, 2 * time.Minute, 100, 1 << 20}},
		{"flags before env", map[string]string{"L2GW_READ_TIMEOUT": "7s", "L2GW_MAX_CONNECTIONS": "100"},
			[]string{"--read-timeout", "3s", "--max-connections", "0"}, limits{3 * time.Second, server.DefaultWriteTimeout, -1, agentapi.DefaultMaxReportBytes}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cmd := newServerCmd()
			cmd.RunE = func(*cobra.Command, []string) error { return nil }
			cmd.SetArgs(append([]string{"--data-dir", t.TempDir(), "--log-level", "error"}, tc.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			fl := cmd.Flags()
			f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", logFormat: "json", dataDir: t.TempDir()}
			f.replication.mode = "source_node"
			f.readTimeout, _ = fl.GetDuration("read-timeout")
			f.writeTimeout, _ = fl.GetDuration("write-timeout")
			f.maxConns, _ = fl.GetInt("max-connections")
			f.maxReportBytes, _ = fl.GetInt64("max-report-bytes")
			f.agentRole, _ = fl.GetString("agent-role")
			cfg, _, err := f.config()
			if err != nil {
				t.Fatal(err)
			}
			got := limits{cfg.ReadTimeout, cfg.WriteTimeout, cfg.MaxConnections, cfg.Agents.MaxReportBytes}
			if got != tc.want {
				t.Errorf("limits = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// TestConnectionCap opens 200 idle connections to a server with
// --max-connections 20: it holds at most 20 sockets for them (the rest
// wait in the listen backlog, each accepted one is dropped at the 10 s
// header deadline), and once the flood goes a client is answered at once.
func TestConnectionCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	const limit = 20
	p, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--access-log=false", "--max-connections", "20")
	before := openFDs(t, p.PID)
	start := time.Now()
	var flood []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		flood = append(flood, c)
	}
	// Give the server time to accept what it will.
	var peak int
	for time.Since(start) < 2*time.Second {
		peak = max(peak, openFDs(t, p.PID))
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("server sockets: %d before, %d with 200 idle connections and --max-connections %d", before, peak, limit)
	if peak > before+limit {
		t.Errorf("server holds %d sockets; want at most %d (%d before + %d)", peak, before+limit, before, limit)
	}
	for _, c := range flood {
		c.Close()
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	asked := time.Now()
	res, err := hc.Get(base + "/v2.0/networks")
	if err != nil {
		t.Fatalf("GET behind 200 idle connections: %v", err)
	}
	res.Body.Close()
	t.Logf("a client after them was answered %d after %v", res.StatusCode, time.Since(asked).Round(100*time.Millisecond))
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET = %d; want 200", res.StatusCode)
	}
}

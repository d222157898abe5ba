package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestServerNeverLogsSecrets starts the real server on a real PostgreSQL
// with a database password in each accepted form, and with bad ones, sends
// requests carrying a token, and checks that no log line, error answer or
// status view shows the password or the token.
func TestServerNeverLogsSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with PostgreSQL")
	}
	bin := testenv.BuildL2GW(t)
	pg := testenv.StartPostgres(t)
	const pw, token = "PwMarker7f3e", "TokMarker9c1d"

	// host is the socket directory of the throw-away server.
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Query().Get("host")
	db := func() string {
		d, err := url.Parse(testenv.PostgresDatabase(t, pg))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(d.Path, "/")
	}
	q := "host=" + url.QueryEscape(host) + "&sslmode=disable"

	good := map[string]string{
		"userinfo":     "postgres://postgres:" + pw + "@/" + db() + "?" + q,
		"query":        "postgresql://postgres@/" + db() + "?" + q + "&password=" + pw + "&sslpassword=" + pw,
		"key/value":    "host=" + host + " user=postgres dbname=" + db() + " sslmode=disable password=" + pw,
		"quoted value": "host='" + host + "' user=postgres dbname=" + db() + " password='" + pw + " \\' x' sslmode=disable",
	}
	for name, dsn := range good {
		t.Run(name, func(t *testing.T) {
			p, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--database", dsn)
			for _, path := range []string{"/v2.0/l2-gateways", "/v2.0/l2-gateways/nope", "/l2gw/v1/nope?token=" + token} {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Auth-Token", token)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				_, _ = bufio.NewReader(res.Body).WriteTo(&b)
				res.Body.Close()
				if strings.Contains(b.String(), pw) || strings.Contains(b.String(), token) {
					t.Errorf("GET %s answers a secret: %s", path, b.String())
				}
			}
			code, body := httpDo(t, "GET", base+agentwire.SystemStatusPath, "")
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", agentwire.SystemStatusPath, code, body)
			}
			var st agentwire.SystemStatus
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(body, pw) || !strings.Contains(st.Server.Database, "xxxxx") {
				t.Errorf("status database = %q; want the password as xxxxx", st.Server.Database)
			}
			p.Terminate(t)
			logs := p.Logs()
			if !strings.Contains(logs, `"backend":"postgres"`) {
				t.Errorf("server did not open PostgreSQL:\n%s", logs)
			}
			if !strings.Contains(logs, `"msg":"request"`) {
				t.Errorf("no access log lines:\n%s", logs)
			}
			noSecret(t, logs, pw, token)
		})
	}

	bad := map[string]string{
		"wrong database":    "postgres://postgres:" + pw + "@/nodb_here?" + q,
		"unparsable url":    "postgres://postgres:" + pw + "@host:port/x",
		"unterminated":      "host=" + host + " user=postgres password='" + pw,
		"unknown scheme":    "mysql://root:" + pw + "@db/l2gw",
		"sqlite with query": t.TempDir() + "/x.db?password=" + pw,
	}
	for name, dsn := range bad {
		t.Run(name, func(t *testing.T) {
			p := testenv.StartL2GW(t, "l2gw server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", dsn)
			if err := p.Wait(30 * time.Second); err == nil {
				t.Fatalf("server with --database %s exited 0; want a failure", name)
			}
			logs := p.Logs()
			if !strings.Contains(logs, "open store") {
				t.Errorf("log does not say the store failed:\n%s", logs)
			}
			noSecret(t, logs, pw, token)
		})
	}
}

func noSecret(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log shows secret %q:\n%s", s, logs)
		}
	}
}

// TestServerExposure starts the server as a lab would (noauth on a
// non-loopback address) with /metrics on a separate bind: it warns what
// that exposes, and /metrics answers only on the metrics bind.
func TestServerExposure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	p := testenv.StartL2GW(t, "l2gw server", bin, "server", "--bind", "0.0.0.0:0", "--insecure-noauth-remote",
		"--metrics-bind", "127.0.0.1:0", "--data-dir", t.TempDir())
	_, port, err := net.SplitHostPort(p.Listening(t))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + port
	var metricsAddr string
	testenv.Eventually(t, 10*time.Second, "metrics listening", func() (bool, string) {
		for line := range strings.Lines(p.Logs()) {
			var rec struct{ Msg, Addr, Serves string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Serves == "metrics" {
				metricsAddr = rec.Addr
				return true, ""
			}
		}
		return false, "no metrics listening line"
	})
	if code, _ := httpDo(t, "GET", base+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("GET /metrics on --bind = %d; want 404 with --metrics-bind", code)
	}
	if code, body := httpDo(t, "GET", "http://"+metricsAddr+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "l2gw_") {
		t.Errorf("GET /metrics on --metrics-bind = %d; want 200 with l2gw metrics:\n%s", code, body)
	}
	p.Terminate(t)
	var warned bool
	for line := range strings.Lines(p.Logs()) {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "WARN" && strings.HasPrefix(rec.Msg, "INSECURE") {
			warned = true
			for _, want := range []string{"everyone who can reach it is admin", "agents included", "register hosts", "report switches", "steer traffic"} {
				if !strings.Contains(rec.Msg, want) {
					t.Errorf("warning %q does not say %q", rec.Msg, want)
				}
			}
		}
	}
	if !warned {
		t.Errorf("no INSECURE warning in:\n%s", p.Logs())
	}
}

func TestServerMetricsFlags(t *testing.T) {
	f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", dataDir: t.TempDir(), metricsBind: "nope"}
	if _, _, err := f.config(); err == nil {
		t.Error("config() with --metrics-bind nope succeeded; want an error")
	}
	f.metricsBind, f.metricsAuth = "127.0.0.1:0", true
	if _, _, err := f.config(); err == nil {
		t.Error("config() with --metrics-bind and --metrics-auth succeeded; want an error")
	}
	f.metricsBind = ""
	cfg, _, err := f.config()
	if err != nil || !cfg.API.MetricsAuth {
		t.Errorf("config() with --metrics-auth = API.MetricsAuth %v, %v; want true", cfg.API.MetricsAuth, err)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestServerPprof runs `l2gw server --pprof-addr 127.0.0.1:0`: the
// profiles answer on that address only, and the block and mutex profiles
// are switched on.
func TestServerPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	p := testenv.StartL2GW(t, "l2gw server", bin, "server", "--bind", "127.0.0.1:0",
		"--pprof-addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := "http://" + p.Listening(t)
	var pprofAddr string
	testenv.Eventually(t, 10*time.Second, "pprof listening", func() (bool, string) {
		for line := range strings.Lines(p.Logs()) {
			var rec struct{ Msg, Addr, Serves string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Serves == "pprof" {
				pprofAddr = rec.Addr
				return true, ""
			}
		}
		return false, "no pprof listening line"
	})
	for _, tc := range []struct{ path, want string }{
		{"/debug/pprof/", "mutex"},
		{"/debug/pprof/goroutine?debug=1", "internal/server.Run"},
		// The flag sets the mutex profile's fraction (0 when off).
		{"/debug/pprof/mutex?debug=1", "sampling period=10"},
		{"/debug/pprof/cmdline", "--pprof-addr"},
	} {
		if code, body := httpDo(t, "GET", "http://"+pprofAddr+tc.path, ""); code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s on --pprof-addr = %d; want 200 with %q:\n%.2000s", tc.path, code, tc.want, body)
		}
	}
	if code, _ := httpDo(t, "GET", base+"/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on --bind = %d; want 404", code)
	}
	p.Terminate(t)
}

func TestServerPprofFlag(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true},
		{"127.0.0.1:6060", true},
		{"[::1]:0", true},
		{"localhost:6060", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"192.0.2.1:6060", false},
		{"nope", false},
	} {
		f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", dataDir: t.TempDir(), pprofAddr: tc.addr}
		cfg, _, err := f.config()
		if (err == nil) != tc.ok {
			t.Errorf("config() with --pprof-addr %q = %v; want ok %v", tc.addr, err, tc.ok)
			continue
		}
		if err == nil && cfg.PprofBind != tc.addr {
			t.Errorf("config() with --pprof-addr %q: PprofBind = %q", tc.addr, cfg.PprofBind)
		}
	}
}

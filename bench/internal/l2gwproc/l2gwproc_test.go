package l2gwproc

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartStop(t *testing.T) {
	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	log := filepath.Join(dir, "server.log")
	for run := range 2 { // the second start appends to the same log
		s, err := Start(context.Background(), bin, hc, Config{Args: []string{"--data-dir", dir}, Log: log})
		if err != nil {
			t.Fatalf("run %d: Start: %v", run, err)
		}
		if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.PID <= 0 || s.Started <= 0 {
			t.Errorf("run %d: Start = URL %q PID %d Started %v; want a loopback URL, a PID and a start time", run, s.URL, s.PID, s.Started)
		}
		if rss, peak, err := Memory(s.PID); err != nil || rss <= 0 || peak < rss {
			t.Errorf("Memory(%d) = %d, %d, %v; want 0 < rss <= peak", s.PID, rss, peak, err)
		}
		s.Stop()
		s.Stop() // a second Stop only waits
		if healthy(context.Background(), hc, s.URL) {
			t.Errorf("run %d: /healthz answers after Stop", run)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"msg":"listening"`); n != 2 {
		t.Errorf("log has %d listening lines; want 2:\n%s", n, b)
	}
}

func TestStartExits(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	// true exits at once without logging a listen address.
	_, err := Start(context.Background(), "/bin/true", http.DefaultClient, Config{Log: log})
	if err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Errorf("Start(/bin/true) error = %v; want exited before listening", err)
	}
}

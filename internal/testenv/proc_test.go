package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := BuildL2GW(t)
	dir := t.TempDir()
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	log := filepath.Join(dir, "server.log")
	for run := range 2 { // the second start appends to the same log
		s, err := RunServer(t.Context(), bin, hc, ProcConfig{Log: log, ParentDeathSignal: syscall.SIGKILL}, "--data-dir", dir)
		if err != nil {
			t.Fatalf("run %d: RunServer: %v", run, err)
		}
		if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.PID <= 0 || s.Started <= 0 {
			t.Errorf("run %d: RunServer = URL %q PID %d Started %v; want a loopback URL, a PID and a start time", run, s.URL, s.PID, s.Started)
		}
		if rss, peak, err := Memory(s.PID); err != nil || rss <= 0 || peak < rss {
			t.Errorf("Memory() = %d, %d, %v; want 0 < rss <= peak", rss, peak, err)
		}
		if err := s.Stop(); err != nil {
			t.Errorf("run %d: Stop() = %v; want a clean exit", run, err)
		}
		if err := s.Stop(); err != nil { // a second Stop only waits
			t.Errorf("run %d: second Stop() = %v; want a clean exit", run, err)
		}
		if err := WaitHealthy(t.Context(), hc, s.URL, s.Proc); err == nil {
			t.Errorf("run %d: WaitHealthy after Stop = nil; want an error", run)
		}
		if !strings.Contains(s.Logs(), `"msg":"listening"`) {
			t.Errorf("run %d: Logs() has no listening line:\n%s", run, s.Logs())
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"msg":"listening"`); n != 2 {
		t.Errorf("log has %d listening lines; want 2:\n%s", n, b)
	}
	if n := strings.Count(string(b), "# "+bin+" server --bind 127.0.0.1:0"); n != 2 {
		t.Errorf("log has %d command lines; want 2:\n%s", n, b)
	}
}

func TestProcExitsBeforeListening(t *testing.T) {
	// true exits at once without logging a listen address.
	_, err := RunServer(t.Context(), "/bin/true", http.DefaultClient, ProcConfig{})
	if err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Errorf("RunServer(/bin/true) error = %v; want exited before listening", err)
	}
}

func TestProcStop(t *testing.T) {
	// sh ignores SIGTERM here, so Stop has to SIGKILL it after the grace.
	p, err := StartProc(ProcConfig{Grace: 50 * time.Millisecond, Env: []string{"L2GW_X=1"}, DropEnv: "L2GW_"},
		"/bin/sh", "-c", `trap "" TERM; echo "x=$L2GW_X"; while :; do sleep 0.01; done`)
	if err != nil {
		t.Fatal(err)
	}
	if err := Poll(t.Context(), 10*time.Second, func() error {
		if !strings.Contains(p.Logs(), "x=1") {
			return errors.New("no output yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("output of sh: %v; logs %q", err, p.Logs())
	}
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop() = %v; want killed", err)
	}
	if p.Running() {
		t.Error("Running() = true after Stop")
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if err := Poll(t.Context(), 5*time.Second, func() error {
		n++
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("Poll = %v after %d calls; want nil after 3", err, n)
	}

	stop := errors.New("gone")
	n = 0
	if err := Poll(t.Context(), 5*time.Second, func() error { n++; return StopPolling(stop) }); err != stop || n != 1 {
		t.Errorf("Poll(StopPolling) = %v after %d calls; want %v after 1", err, n, stop)
	}

	err := Poll(t.Context(), 20*time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "after 20ms: never") {
		t.Errorf("Poll timing out = %v; want after 20ms: never", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Poll(ctx, 0, func() error { return errors.New("never") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Poll(cancelled) = %v; want context.Canceled", err)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, "third call", func() (bool, string) {
		n++
		return n == 3, "not yet"
	})
	if n != 3 {
		t.Fatalf("cond called %d times; want 3", n)
	}
}

func TestStopPidfile(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "sleep.pid")
	// A daemon in miniature: sh writes the PID of a background sleep and exits.
	if out, err := exec.Command("/bin/sh", "-c", `sleep 60 >/dev/null 2>&1 & echo $! > "$1"`, "sh", pidfile).CombinedOutput(); err != nil {
		t.Fatalf("sh: %v: %s", err, out)
	}
	pid, err := ReadPidfile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	StopPidfile(pidfile, 5*time.Second)
	if Alive(pid) {
		t.Errorf("pid %d alive after StopPidfile", pid)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile after StopPidfile: %v; want removed", err)
	}
}

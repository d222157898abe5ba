package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildL2GWInto compiles ./cmd/l2gw of this source tree into dir and returns
// the binary's path. It needs no *testing.T, for the bench programs, which
// build the binary outside a test.
func BuildL2GWInto(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "l2gw")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/l2gw")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/l2gw: %w\n%s", err, out)
	}
	return bin, nil
}

// built caches the binary of BuildL2GW for the rest of the test binary's
// run; the mutex also makes parallel tests wait for one build.
var built struct {
	sync.Mutex
	bin string
}

// buildDirPrefix names the per-process build directories in os.TempDir().
const buildDirPrefix = "l2gw-testbin-"

// BuildL2GW compiles the l2gw binary once per test binary run and returns
// its path; later calls return the same binary. It lives in
// os.TempDir()/l2gw-testbin-<pid>, which outlives the test binary (no test
// owns it) and is removed by the first BuildL2GW of a later run once that
// process is gone.
func BuildL2GW(t testing.TB) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.bin != "" {
		if _, err := os.Stat(built.bin); err == nil {
			return built.bin
		}
	}
	removeStaleBuilds()
	dir := filepath.Join(os.TempDir(), buildDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("build dir: %v", err)
	}
	bin, err := BuildL2GWInto(dir)
	if err != nil {
		t.Fatal(err)
	}
	built.bin = bin
	return bin
}

// removeStaleBuilds deletes the build directories of test binaries that
// have exited.
func removeStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), buildDirPrefix))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// ListenAddr returns the address in an l2gw JSON log line whose msg is
// "listening" (internal/server logs it once the socket is bound).
func ListenAddr(line []byte) (string, bool) {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal(line, &rec) != nil || rec.Msg != "listening" || rec.Addr == "" {
		return "", false
	}
	return rec.Addr, true
}

// L2GW is a running l2gw process started by StartL2GW. Its output (the
// JSON log) is kept and printed when the test fails.
type L2GW struct {
	*Proc
}

// StartL2GW runs bin with args (an l2gw sub-command and its flags) as the
// process name, with every L2GW_* variable removed from its environment so
// only the flags configure it. At cleanup a process still running is
// stopped (SIGTERM, SIGKILL after 10 s); its log is printed if the test
// failed.
func StartL2GW(t testing.TB, name, bin string, args ...string) *L2GW {
	t.Helper()
	p, err := StartProc(ProcConfig{Name: name, DropEnv: "L2GW_"}, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.Logs())
		}
	})
	return &L2GW{p}
}

// Listening waits up to 30 s for the address of the process's "listening"
// log line and fails the test if the process exits first.
func (p *L2GW) Listening(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a, err := p.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Terminate sends SIGTERM and fails the test unless the process exits with
// status 0 within 20 s.
func (p *L2GW) Terminate(t testing.TB) {
	t.Helper()
	p.signalWait(t, syscall.SIGTERM, true)
}

// Kill sends SIGKILL, as a crash would, and waits until the process is gone.
func (p *L2GW) Kill(t testing.TB) {
	t.Helper()
	p.signalWait(t, syscall.SIGKILL, false)
}

// signalWait sends sig and waits up to 20 s for the process to exit, with
// status 0 when clean.
func (p *L2GW) signalWait(t testing.TB, sig syscall.Signal, clean bool) {
	t.Helper()
	if err := p.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := p.Wait(20 * time.Second)
	if p.Running() {
		t.Fatalf("%s after %v: %v", p.Name, sig, err)
	}
	if clean && err != nil {
		t.Fatalf("%s exit after %v: %v; want status 0", p.Name, sig, err)
	}
}

// StartServer runs `l2gw server --bind 127.0.0.1:0` with args added, waits
// for its "listening" line and for /healthz to answer 200 (10 s), and
// returns the process and its base URL ("http://127.0.0.1:PORT").
func StartServer(t testing.TB, bin string, args ...string) (*L2GW, string) {
	t.Helper()
	p := StartL2GW(t, "l2gw server", bin, append([]string{"server", "--bind", "127.0.0.1:0"}, args...)...)
	url := "http://" + p.Listening(t)
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := WaitHealthy(ctx, hc, url, p.Proc); err != nil {
		t.Fatal(err)
	}
	return p, url
}

package testenv

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// the binary's path. It needs no *testing.T, for tools that build the binary
// outside a test (bench/traffic via test/e2e).
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

// ListenAddr returns the address in an `l2gw server` JSON log line whose
// msg is "listening" (internal/server logs it once the socket is bound).
func ListenAddr(line []byte) (string, bool) {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal(line, &rec) != nil || rec.Msg != "listening" || rec.Addr == "" {
		return "", false
	}
	return rec.Addr, true
}

// maxLogDump bounds the log tail printed for a failed test.
const maxLogDump = 256 << 10

// L2GW is a running l2gw process started by StartL2GW. Its stderr (the JSON
// log) is kept and printed when the test fails.
type L2GW struct {
	Name string
	cmd  *exec.Cmd
	done chan error  // the exit status; whoever reads it puts it back
	addr chan string // the first "listening" address

	mu   sync.Mutex
	logs strings.Builder
}

// StartL2GW runs bin with args (an l2gw sub-command and its flags) as the
// process name, with every L2GW_* variable removed from its environment so
// only the flags configure it. At cleanup a process still running gets
// SIGTERM and, after 10 s, SIGKILL (by its PID); its log is printed if the
// test failed.
func StartL2GW(t testing.TB, name, bin string, args ...string) *L2GW {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "L2GW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &L2GW{Name: name, cmd: cmd, done: make(chan error, 1), addr: make(chan string, 1)}
	logsDone := make(chan struct{})
	go func() { // owned by p: ends when the process closes stderr
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.Write(sc.Bytes())
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			if a, ok := ListenAddr(sc.Bytes()); ok {
				select {
				case p.addr <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // a line over 1 MiB: keep the pipe drained
	}()
	go func() { // owned by p: ends when the process does
		<-logsDone
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.Running() {
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			select {
			case err := <-p.done:
				p.done <- err
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			}
		}
		err := <-p.done
		p.done <- err
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.Logs())
		}
	})
	return p
}

// Logs returns what the process has logged so far (the last 256 KiB).
func (p *L2GW) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.logs.String()
	if len(s) > maxLogDump {
		s = "...\n" + s[len(s)-maxLogDump:]
	}
	return s
}

// Listening waits up to 30 s for the address of the process's "listening"
// log line and fails the test if the process exits first.
func (p *L2GW) Listening(t testing.TB) string {
	t.Helper()
	select {
	case a := <-p.addr:
		return a
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s exited before listening: %v", p.Name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log its listen address within 30s", p.Name)
	}
	return ""
}

// Terminate sends SIGTERM and fails the test unless the process exits with
// status 0 within 20 s.
func (p *L2GW) Terminate(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s exit after SIGTERM: %v; want status 0", p.Name, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop within 20s of SIGTERM", p.Name)
	}
}

// Kill sends SIGKILL, as a crash would, and waits until the process is gone.
func (p *L2GW) Kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not die within 20s of SIGKILL", p.Name)
	}
}

// Running reports whether the process has not exited yet.
func (p *L2GW) Running() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// StartServer runs `l2gw server --bind 127.0.0.1:0` with args added, waits
// for its "listening" line and for /healthz to answer 200, and returns the
// process and its base URL ("http://127.0.0.1:PORT").
func StartServer(t testing.TB, bin string, args ...string) (*L2GW, string) {
	t.Helper()
	p := StartL2GW(t, "l2gw server", bin, append([]string{"server", "--bind", "127.0.0.1:0"}, args...)...)
	url := "http://" + p.Listening(t)
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := hc.Get(url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, url
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if !p.Running() {
			t.Fatalf("%s exited before /healthz answered", p.Name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /healthz not ok within 10s: %v", p.Name, err)
		}
		<-tick.C
	}
}

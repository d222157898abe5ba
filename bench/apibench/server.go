package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildBinary builds ./cmd/l2gw of the module holding the working directory.
func buildBinary(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "l2gw")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/l2gw")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build l2gw: %w", err)
	}
	return bin, nil
}

// server is a running API server: an `l2gw server` process, or the API
// served inside this process (-inprocess).
type server struct {
	url     string        // http://127.0.0.1:port
	pid     int           // whose memory is measured
	started time.Duration // process start to first successful /healthz
	halt    func()        // stops the server and waits for it
	once    sync.Once
	// setProfiling starts (true) and stops CPU profiling; nil: no profile.
	setProfiling func(on bool)
}

// stop stops the server once.
func (s *server) stop() { s.once.Do(s.halt) }

func (s *server) profile(on bool) {
	if s.setProfiling != nil {
		s.setProfiling(on)
	}
}

// listenRE finds the bound address in the server's "listening" log line
// (internal/server), text or JSON.
var listenRE = regexp.MustCompile(`listening.*?(127\.0\.0\.1:[1-9][0-9]*)`)

// startServer starts bin on a random loopback port and waits for its first
// successful /healthz answer.
func startServer(ctx context.Context, bin, dataDir string, hc *http.Client) (*server, error) {
	logPath := filepath.Join(dataDir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "--bind", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	addr := make(chan string, 1)
	go func() { // owned by the process: ends when pw is closed after Wait
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if m := listenRE.FindSubmatch(line); m != nil {
				select {
				case addr <- string(m[1]):
				default:
				}
			}
			_, _ = logf.Write(append(bytes.Clone(line), '\n'))
		}
		_, _ = io.Copy(io.Discard, pr)
	}()

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(done)
	}()
	// SIGTERM lets the server drain and close its database; SIGKILL if it
	// has not exited 5 s later.
	s := &server{pid: cmd.Process.Pid, halt: func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}}

	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-done:
		return nil, fmt.Errorf("server exited before listening (log %s)", logPath)
	case <-deadline.C:
		s.stop()
		return nil, fmt.Errorf("no listen address logged in 10s (log %s)", logPath)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	for {
		if healthy(ctx, hc, s.url) {
			s.started = time.Since(t0)
			return s, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("server exited before answering (log %s)", logPath)
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("no /healthz answer in 10s (log %s)", logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, hc *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// memory reads the resident set size (VmRSS) and its peak (VmHWM) in bytes.
func (s *server) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s %q: %w", k, v, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// Package l2gwproc builds the l2gw binary and runs `l2gw server` as a child
// process for the bench programs: log to a file, listen address from the
// "listening" log line, ready at the first 200 from /healthz, stopped by PID.
package l2gwproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// Build compiles ./cmd/l2gw of this source tree into dir and returns the
// binary's path.
func Build(dir string) (string, error) {
	return testenv.BuildL2GWInto(dir)
}

// Config says how Start runs the server. Zero durations take the defaults
// named on each field.
type Config struct {
	// Args are added after `server --bind 127.0.0.1:0`.
	Args []string
	// Log is the file the process's stdout and stderr are appended to,
	// created if needed.
	Log string
	// Timeout bounds the wait for both the "listening" line and a healthy
	// /healthz, from the start (default 10 s).
	Timeout time.Duration
	// Poll is the wait between /healthz attempts (default 1 ms).
	Poll time.Duration
	// Grace is how long Stop waits after SIGTERM before SIGKILL (default 5 s).
	Grace time.Duration
}

// Server is a running `l2gw server` process.
type Server struct {
	URL     string        // http://127.0.0.1:PORT
	PID     int           // the process
	Log     string        // Config.Log
	Started time.Duration // process start to the first successful /healthz

	proc  *os.Process
	grace time.Duration
	done  chan struct{} // closed once the process has exited and its log is closed
	once  sync.Once
}

// Start runs bin as `l2gw server --bind 127.0.0.1:0` with cfg.Args and waits
// until it answers /healthz through hc. The process gets SIGKILL if this
// process dies. ctx bounds only the wait; on any error the process is
// stopped.
func Start(ctx context.Context, bin string, hc *http.Client, cfg Config) (*Server, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Millisecond
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	logf, err := os.OpenFile(cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"server", "--bind", "127.0.0.1:0"}, cfg.Args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	addr := make(chan string, 1)
	logged := make(chan struct{})
	go func() { // owned by the process: ends when pw is closed after Wait
		defer close(logged)
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if a, ok := testenv.ListenAddr(line); ok {
				select {
				case addr <- a:
				default:
				}
			}
			_, _ = logf.Write(append(bytes.Clone(line), '\n'))
		}
		_, _ = io.Copy(io.Discard, pr) // a line over 1 MiB: keep the pipe drained
	}()

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		<-logged
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{PID: cmd.Process.Pid, proc: cmd.Process, Log: cfg.Log, grace: cfg.Grace, done: make(chan struct{})}
	go func() { // owned by the process: ends when it has exited
		_ = cmd.Wait()
		pw.Close()
		<-logged
		close(s.done)
	}()

	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-s.done:
		return nil, fmt.Errorf("server exited before listening (log %s)", cfg.Log)
	case <-deadline.C:
		s.Stop()
		return nil, fmt.Errorf("no listen address logged in %v (log %s)", cfg.Timeout, cfg.Log)
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	for {
		if healthy(ctx, hc, s.URL) {
			s.Started = time.Since(t0)
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited before answering (log %s)", cfg.Log)
		case <-deadline.C:
			s.Stop()
			return nil, fmt.Errorf("no /healthz answer in %v (log %s)", cfg.Timeout, cfg.Log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(cfg.Poll):
		}
	}
}

// Stop sends SIGTERM, which lets the server drain and close its database,
// then SIGKILL if it has not exited within the grace period, and returns
// once the process has exited and its log file is closed. Later calls only
// wait.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.proc.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(s.grace):
			_ = s.proc.Kill()
		}
	})
	<-s.done
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

// Memory reads the resident set size (VmRSS) and its peak (VmHWM) of
// process pid, in bytes.
func Memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	found := false
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
			rss, found = kb<<10, true
		} else {
			peak = kb << 10
		}
	}
	if !found {
		return 0, 0, errors.New("no VmRSS")
	}
	return rss, peak, nil
}

package main

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

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

// startServer starts bin on a random loopback port and waits for its first
// successful /healthz answer. SIGTERM lets the server drain and close its
// database; SIGKILL if it has not exited 5 s later. It may take 10 s to
// answer.
func startServer(ctx context.Context, bin, dataDir string, hc *http.Client, args ...string) (*server, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := testenv.RunServer(ctx, bin, hc, testenv.ProcConfig{
		Log:               filepath.Join(dataDir, "server.log"),
		Grace:             5 * time.Second,
		ParentDeathSignal: syscall.SIGKILL,
	}, append([]string{"--data-dir", dataDir}, args...)...)
	if err != nil {
		return nil, err
	}
	return &server{url: p.URL, pid: p.PID, started: p.Started, halt: func() { _ = p.Stop() }}, nil
}

// memory reads the resident set size (VmRSS) and its peak (VmHWM) in bytes.
func (s *server) memory() (rss, peak int64, err error) { return testenv.Memory(s.pid) }

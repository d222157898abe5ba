package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	l2gwserver "github.com/l2gw/l2gw/internal/server"
)

// startInProcess runs server.Run (what `l2gw server` runs) inside this
// process on a loopback port, so a CPU profile of the load phase shows where
// the server's time goes. The profile also holds the bench client: read it
// with `go tool pprof -focus`.
func startInProcess(ctx context.Context, dataDir, cpuprofile string) (*server, error) {
	t0 := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { // owned by s.halt, which cancels and waits
		done <- l2gwserver.Run(ctx, l2gwserver.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(dataDir, "l2gw.db"),
			API:       api.Config{Authenticator: api.NoAuth{}},
			Listening: func(a net.Addr) { addr <- a },
		})
	}()
	var s *server
	select {
	case a := <-addr:
		s = &server{url: "http://" + a.String(), pid: os.Getpid(), started: time.Since(t0)}
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("in-process server: %w", err)
	}
	s.halt = func() {
		cancel()
		if err := <-done; err != nil {
			logf("in-process server: %v", err)
		}
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			s.stop()
			return nil, err
		}
		halt := s.halt
		s.halt = func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				logf("cpu profile: %v", err)
			}
			halt()
		}
		s.setProfiling = func(on bool) {
			if !on {
				pprof.StopCPUProfile()
			} else if err := pprof.StartCPUProfile(f); err != nil {
				logf("cpu profile: %v", err)
			}
		}
	}
	return s, nil
}

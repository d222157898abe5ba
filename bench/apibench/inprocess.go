package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/store"
)

// startInProcess serves the API from this process on a loopback port, the
// way `l2gw server` wires it (store.Open + api.New), so a CPU profile of the
// load phase shows where the server's time goes. The profile also holds
// the bench client; filter with `go tool pprof -focus`.
func startInProcess(ctx context.Context, dsn, cpuprofile string) (*server, error) {
	t0 := time.Now()
	st, err := store.Open(ctx, dsn, store.Config{})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, err
	}
	hs := &http.Server{Handler: api.New(st, api.Config{}), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { // owned by s.halt
		defer close(served)
		_ = hs.Serve(ln)
	}()
	s := &server{url: "http://" + ln.Addr().String(), pid: os.Getpid(), started: time.Since(t0)}
	s.halt = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-served
		_ = st.Close()
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

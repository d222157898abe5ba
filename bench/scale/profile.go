package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// freeLoopbackAddr is a loopback host:port free now, for a replica's
// --pprof-addr (the bench must know it before the replica logs it).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profile takes, from every replica's --pprof-addr, a CPU, a mutex and a
// block profile over d (the phase) and a heap profile after it, into
// dir/PHASE-server-R.KIND.pprof. It returns when they are written; errors
// are logged, a missing profile does not fail the run.
func (l *lab) profile(ctx context.Context, phase string, d time.Duration, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logln("profile: %v", err)
		return
	}
	secs := max(1, int(d.Seconds()))
	var wg sync.WaitGroup
	for r, addr := range l.pprofAddrs {
		for _, kind := range []string{"profile", "mutex", "block"} {
			wg.Go(func() {
				name := map[string]string{"profile": "cpu"}[kind]
				if name == "" {
					name = kind
				}
				file := filepath.Join(dir, fmt.Sprintf("%s-server-%d.%s.pprof", phase, r, name))
				if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, kind, secs), file); err != nil {
					logln("profile: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for r, addr := range l.pprofAddrs {
		file := filepath.Join(dir, fmt.Sprintf("%s-server-%d.heap.pprof", phase, r))
		if err := fetch(ctx, "http://"+addr+"/debug/pprof/heap?gc=1", file); err != nil {
			logln("profile: %v", err)
		}
	}
	logln("%s profiles in %s", phase, dir)
}

func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return f.Close()
}

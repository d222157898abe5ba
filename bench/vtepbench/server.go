package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// l2gwServer is a running `l2gw server --switch …`: a child process, or
// server.Run inside this process (-inprocess, for profiling).
type l2gwServer struct {
	url  string
	pid  int // whose memory is reported
	log  string
	halt func()
	once sync.Once
}

func (s *l2gwServer) stop() { s.once.Do(s.halt) }

// startProcess runs bin as `l2gw server` on a random loopback port with an
// SQLite store in dataDir and one embedded switch agent on target; stop
// sends SIGTERM, then SIGKILL 10 s later. It may take 30 s to answer.
func startProcess(ctx context.Context, bin, dataDir, target string, hc *http.Client) (*l2gwServer, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := testenv.RunServer(ctx, bin, hc, testenv.ProcConfig{
		Log:               filepath.Join(dataDir, "server.log"),
		Grace:             10 * time.Second,
		ParentDeathSignal: syscall.SIGKILL,
	}, "--data-dir", dataDir, "--database", "sqlite://"+filepath.Join(dataDir, "l2gw.db"), "--switch", target, "--log-level", "info")
	if err != nil {
		return nil, err
	}
	return &l2gwServer{url: p.URL, pid: p.PID, log: p.Log, halt: func() { _ = p.Stop() }}, nil
}

// startInProcess runs server.Run in this process (the wiring `l2gw server
// --switch` uses) and, with cpuprofile, profiles the whole bench: API,
// store, plan feed, switch agent and the bench's own client together
// (filter with go tool pprof -focus).
func startInProcess(ctx context.Context, dataDir, target, cpuprofile string) (*l2gwServer, error) {
	logPath := filepath.Join(dataDir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	var prof *os.File
	if cpuprofile != "" {
		if prof, err = os.Create(cpuprofile); err != nil {
			logf.Close()
			return nil, err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			logf.Close()
			prof.Close()
			return nil, err
		}
	}
	log := slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { // owned by s.halt
		done <- server.Run(rctx, server.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(dataDir, "l2gw.db"),
			Logger:    log,
			Switches:  []switchagent.Config{{Target: target}},
			Listening: func(a net.Addr) { addr <- a.String() },
		})
	}()
	var once sync.Once
	s := &l2gwServer{pid: os.Getpid(), log: logPath}
	var runErr error
	s.halt = func() {
		once.Do(func() {
			cancel()
			runErr = <-done
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
			}
			logf.Close()
			if runErr != nil {
				logln("in-process server: %v", runErr)
			}
		})
	}
	select {
	case a := <-addr:
		s.url = "http://" + a
		return s, nil
	case err := <-done:
		done <- err
		s.stop()
		return nil, fmt.Errorf("in-process server: %w", err)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

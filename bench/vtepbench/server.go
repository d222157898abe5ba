package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
)

// buildBinary builds ./cmd/l2gw of the module holding the working directory.
func buildBinary(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run vtepbench inside the l2gw module (or pass -binary)")
	}
	bin := filepath.Join(dir, "l2gw")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/l2gw")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build l2gw: %w", err)
	}
	return bin, nil
}

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

// listenRE finds the bound address in the server's "listening" log line.
var listenRE = regexp.MustCompile(`"listening".*?(127\.0\.0\.1:[1-9][0-9]*)`)

// startProcess runs bin as `l2gw server` on a random loopback port with an
// SQLite store in dataDir and one embedded switch agent on target.
func startProcess(ctx context.Context, bin, dataDir, target string, hc *http.Client) (*l2gwServer, error) {
	logPath := filepath.Join(dataDir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "--bind", "127.0.0.1:0", "--data-dir", dataDir,
		"--database", "sqlite://"+filepath.Join(dataDir, "l2gw.db"), "--switch", target, "--log-level", "info")
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
	s := &l2gwServer{pid: cmd.Process.Pid, log: logPath, halt: func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-done:
		return nil, fmt.Errorf("server exited before listening (log %s)", logPath)
	case <-deadline.C:
		s.stop()
		return nil, fmt.Errorf("no listen address logged in 30s (log %s)", logPath)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	for !healthy(ctx, hc, s.url) {
		select {
		case <-done:
			return nil, fmt.Errorf("server exited before answering (log %s)", logPath)
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("no /healthz answer in 30s (log %s)", logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return s, nil
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

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

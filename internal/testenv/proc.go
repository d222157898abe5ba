package testenv

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
)

// ProcConfig says how StartProc runs a process. Every field is optional.
type ProcConfig struct {
	// Name names the process in errors; empty means the binary's base name.
	Name string
	// Env is added to the environment (KEY=VALUE, later entries win).
	Env []string
	// DropEnv removes the inherited variables with this prefix, e.g.
	// "L2GW_", so that only the flags configure an l2gw process. Empty
	// removes nothing.
	DropEnv string
	// Log is a file the process's stdout and stderr are appended to, after
	// a "# command args" line; created if needed. Empty: the output is only
	// kept in memory (Logs).
	Log string
	// Grace is how long Stop waits after SIGTERM before SIGKILL; zero means
	// 10 s.
	Grace time.Duration
	// StopSignal is what Stop sends first; zero means SIGTERM.
	StopSignal syscall.Signal
	// ParentDeathSignal is sent to the process by the kernel when this one
	// dies, so that it does not outlive a crash (SIGKILL; SIGQUIT for
	// PostgreSQL). Zero sends nothing.
	ParentDeathSignal syscall.Signal
	// Credential runs the process as another user (PostgreSQL refuses to
	// run as root); nil runs it as this one.
	Credential *syscall.Credential
}

// maxLogTail bounds the output a Proc keeps in memory.
const maxLogTail = 256 << 10

// Proc is a child process started by StartProc. Its output (stdout and
// stderr) is scanned for l2gw's "listening" log line and kept in memory.
type Proc struct {
	Name string
	PID  int
	Log  string // ProcConfig.Log

	cmd       *exec.Cmd
	stop      syscall.Signal
	grace     time.Duration
	addr      string // the first "listening" address, set before listening is closed
	listening chan struct{}
	done      chan struct{} // closed when the process has exited and its output is read
	err       error         // the exit status, set before done is closed
	once      sync.Once

	mu   sync.Mutex
	logs []byte // the last maxLogTail bytes of output
}

// StartProc starts bin with args as cfg says. The process runs until it
// exits or Stop is called: the caller owns it and must Stop it.
func StartProc(cfg ProcConfig, bin string, args ...string) (*Proc, error) {
	if cfg.Name == "" {
		cfg.Name = filepath.Base(bin)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if cfg.DropEnv == "" || !strings.HasPrefix(kv, cfg.DropEnv) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, cfg.Env...)
	if cfg.StopSignal == 0 {
		cfg.StopSignal = syscall.SIGTERM
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: cfg.ParentDeathSignal, Credential: cfg.Credential}
	var logf *os.File
	if cfg.Log != "" {
		f, err := os.OpenFile(cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log of %s: %w", cfg.Name, err)
		}
		fmt.Fprintf(f, "# %s %s\n", bin, strings.Join(args, " "))
		logf = f
	}
	closeLog := func() {
		if logf != nil {
			logf.Close()
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		closeLog()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		closeLog()
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	pw.Close() // the child holds its own copy
	p := &Proc{
		Name: cfg.Name, PID: cmd.Process.Pid, Log: cfg.Log, cmd: cmd, stop: cfg.StopSignal, grace: cfg.Grace,
		listening: make(chan struct{}), done: make(chan struct{}),
	}
	read := make(chan struct{})
	go func() { // owned by p: ends when the output is closed (at exit) or pr is
		defer close(read)
		p.read(pr, logf)
	}()
	go func() { // owned by p: ends when the process has exited
		p.err = cmd.Wait()
		select {
		case <-read:
		case <-time.After(time.Second): // a grandchild holds the output open
		}
		pr.Close()
		<-read
		closeLog()
		close(p.done)
	}()
	return p, nil
}

// read copies the output to logf and the in-memory tail, line by line, and
// hands on the first listen address.
func (p *Proc) read(r io.Reader, logf *os.File) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := append(bytes.Clone(sc.Bytes()), '\n')
		if logf != nil {
			_, _ = logf.Write(line)
		}
		p.mu.Lock()
		p.logs = append(p.logs, line...)
		if len(p.logs) > 2*maxLogTail {
			p.logs = append(p.logs[:0], p.logs[len(p.logs)-maxLogTail:]...)
		}
		p.mu.Unlock()
		if a, ok := ListenAddr(line); ok && p.addr == "" {
			p.addr = a
			close(p.listening)
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep the pipe drained
}

// Addr waits for the address of the first "listening" line the process
// logs. It fails when the process exits first or ctx is done.
func (p *Proc) Addr(ctx context.Context) (string, error) {
	select {
	case <-p.listening:
		return p.addr, nil
	case <-p.done:
		select {
		case <-p.listening:
			return p.addr, nil
		default:
		}
		return "", fmt.Errorf("%s exited before listening: %v", p.Name, p.err)
	case <-ctx.Done():
		return "", fmt.Errorf("%s: no listen address logged: %w", p.Name, ctx.Err())
	}
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and, if so, its exit
// status as exec.Cmd.Wait returns it.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	exited, _ := p.Exited()
	return !exited
}

// Signal sends sig to the process (by PID) unless it has exited.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the process to exit and returns its exit
// status, or an error when it is still running.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
}

// Stop sends the stop signal (SIGTERM), then SIGKILL if the process has
// not exited within the grace period, and returns its exit status once it has exited (and its
// log file is closed). Later calls only wait.
func (p *Proc) Stop() error {
	p.once.Do(func() {
		_ = p.Signal(p.stop)
		select {
		case <-p.done:
		case <-time.After(p.grace):
			_ = p.Signal(syscall.SIGKILL)
		}
	})
	<-p.done
	return p.err
}

// Logs returns the output so far (the last 256 KiB).
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.logs
	if len(s) > maxLogTail {
		return "...\n" + string(s[len(s)-maxLogTail:])
	}
	return string(s)
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

// WaitHealthy polls GET url/healthz through hc until it answers 200. It
// fails when p exits first, or with the last failure when ctx is done.
func WaitHealthy(ctx context.Context, hc *http.Client, url string, p *Proc) error {
	return Poll(ctx, 0, func() error {
		if !p.Running() {
			return StopPolling(fmt.Errorf("%s exited before /healthz answered", p.Name))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if err != nil {
			return StopPolling(err)
		}
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: status %d", res.StatusCode)
		}
		return nil
	})
}

// Server is an `l2gw server` started by RunServer.
type Server struct {
	*Proc
	URL     string        // http://127.0.0.1:PORT
	Started time.Duration // from the start to the first 200 from /healthz
}

// RunServer runs bin as `l2gw server --bind 127.0.0.1:0` with args added
// and waits until it logs its address and answers /healthz through hc.
// ctx bounds only the wait; on any error the process is stopped. The caller
// stops the server with Stop.
func RunServer(ctx context.Context, bin string, hc *http.Client, cfg ProcConfig, args ...string) (*Server, error) {
	if cfg.Name == "" {
		cfg.Name = "l2gw server"
	}
	t0 := time.Now()
	p, err := StartProc(cfg, bin, append([]string{"server", "--bind", "127.0.0.1:0"}, args...)...)
	if err != nil {
		return nil, err
	}
	addr, err := p.Addr(ctx)
	if err == nil {
		err = WaitHealthy(ctx, hc, "http://"+addr, p)
	}
	if err != nil {
		_ = p.Stop()
		if cfg.Log != "" {
			err = fmt.Errorf("%w (log %s)", err, cfg.Log)
		}
		return nil, err
	}
	return &Server{Proc: p, URL: "http://" + addr, Started: time.Since(t0)}, nil
}

// Alive reports whether pid is a live (not zombie) process.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

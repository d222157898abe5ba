package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildL2GW compiles this command into a temporary directory.
func buildL2GW(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "l2gw")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProc is a running `l2gw server`.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startServer runs `l2gw server` on a free loopback port and waits until
// /healthz answers.
func startServer(t *testing.T, bin, dataDir string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, "server", "--bind", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "L2GW_DATABASE=", "L2GW_BIND=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	p := &serverProc{cmd: cmd, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	var logs strings.Builder
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				addrc <- rec.Addr
			}
		}
	}()
	go func() {
		<-logsDone
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not log its listen address within 30s")
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ok within 10s: %v", err)
		}
		<-tick.C
	}
}

// stop sends SIGTERM and checks a clean exit.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v; want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop within 20s of SIGTERM")
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildL2GW(t)
	dataDir := filepath.Join(t.TempDir(), "state")

	p := startServer(t, bin, dataDir)
	base := "http://" + p.addr
	code, body := httpDo(t, "POST", base+"/v2.0/l2-gateways",
		`{"l2_gateway":{"name":"gw1","devices":[{"device_name":"sw1","interfaces":[{"name":"p1","segmentation_id":["100"]}]}]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create gateway = %d %s; want 201", code, body)
	}
	code, body = httpDo(t, "GET", base+"/v2.0/l2-gateways?fields=name", "")
	if code != http.StatusOK || body != `{"l2_gateways":[{"name":"gw1"}]}` {
		t.Fatalf("list = %d %s", code, body)
	}
	p.stop(t)
	if _, err := os.Stat(filepath.Join(dataDir, "l2gw.db")); err != nil {
		t.Fatalf("database not in the data dir: %v", err)
	}

	p = startServer(t, bin, dataDir)
	code, body = httpDo(t, "GET", "http://"+p.addr+"/v2.0/l2-gateways?fields=name&fields=devices", "")
	if code != http.StatusOK || !strings.Contains(body, `"name":"gw1"`) || !strings.Contains(body, `"segmentation_id":["100"]`) {
		t.Fatalf("list after restart = %d %s; want gw1 with VLAN 100", code, body)
	}
	p.stop(t)
}

func TestServerRefusesRemoteNoauth(t *testing.T) {
	f := serverFlags{bind: "0.0.0.0:9696", auth: "noauth", logLevel: "error", dataDir: t.TempDir()}
	if _, _, err := f.config(); err == nil {
		t.Fatal("config() with noauth on 0.0.0.0 succeeded; want refusal")
	}
	f.insecureNoauthRemote = true
	if _, _, err := f.config(); err != nil {
		t.Fatalf("config() with --insecure-noauth-remote: %v", err)
	}
	for bind, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, ":1": false, "10.0.0.1:1": false} {
		if got := isLoopback(bind); got != want {
			t.Errorf("isLoopback(%q) = %v; want %v", bind, got, want)
		}
	}
}

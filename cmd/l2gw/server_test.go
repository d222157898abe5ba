package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

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
	bin := testenv.BuildL2GW(t)
	dataDir := filepath.Join(t.TempDir(), "state")

	p, base := testenv.StartServer(t, bin, "--data-dir", dataDir)
	code, body := httpDo(t, "POST", base+"/v2.0/l2-gateways",
		`{"l2_gateway":{"name":"gw1","devices":[{"device_name":"sw1","interfaces":[{"name":"p1","segmentation_id":["100"]}]}]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create gateway = %d %s; want 201", code, body)
	}
	code, body = httpDo(t, "GET", base+"/v2.0/l2-gateways?fields=name", "")
	if code != http.StatusOK || body != `{"l2_gateways":[{"name":"gw1"}]}` {
		t.Fatalf("list = %d %s", code, body)
	}
	p.Terminate(t)
	if _, err := os.Stat(filepath.Join(dataDir, "l2gw.db")); err != nil {
		t.Fatalf("database not in the data dir: %v", err)
	}

	p, base = testenv.StartServer(t, bin, "--data-dir", dataDir)
	code, body = httpDo(t, "GET", base+"/v2.0/l2-gateways?fields=name&fields=devices", "")
	if code != http.StatusOK || !strings.Contains(body, `"name":"gw1"`) || !strings.Contains(body, `"segmentation_id":["100"]`) {
		t.Fatalf("list after restart = %d %s; want gw1 with VLAN 100", code, body)
	}
	p.Terminate(t)
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

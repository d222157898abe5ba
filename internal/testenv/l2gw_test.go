package testenv

import (
	"net/http"
	"path/filepath"
	"testing"
)

func TestListenAddr(t *testing.T) {
	tests := []struct {
		line   string
		want   string
		wantOK bool
	}{
		{`{"time":"t","level":"INFO","msg":"listening","addr":"127.0.0.1:40123"}`, "127.0.0.1:40123", true},
		{`{"msg":"listening","addr":"[::1]:9696"}`, "[::1]:9696", true},
		{`{"msg":"listening"}`, "", false},
		{`{"msg":"starting","addr":"127.0.0.1:1"}`, "", false},
		{`time=t level=INFO msg=listening addr=127.0.0.1:1`, "", false},
		{``, "", false},
	}
	for _, tc := range tests {
		got, ok := ListenAddr([]byte(tc.line))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestStartServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := BuildL2GW(t)
	if again := BuildL2GW(t); again != bin {
		t.Errorf("second BuildL2GW = %q; want the cached %q", again, bin)
	}
	p, url := StartServer(t, bin, "--data-dir", filepath.Join(t.TempDir(), "state"))
	res, err := http.Get(url + "/v2.0/l2-gateways")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /v2.0/l2-gateways = %d; want 200", res.StatusCode)
	}
	if !p.Running() {
		t.Fatal("server not running after it answered")
	}
	p.Terminate(t)
	if p.Running() {
		t.Error("Running() = true after Terminate")
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/api"
)

func TestServerConfigKeystone(t *testing.T) {
	t.Setenv("L2GW_SERVICE_PASSWORD", "")
	good := keystoneFlags{url: "http://127.0.0.1:5000", user: "l2gw", password: "pw", project: "service",
		adminRole: "admin", cacheTTL: time.Minute, timeout: time.Second}
	badCA := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(badCA, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		edit    func(*keystoneFlags)
		env     string // L2GW_SERVICE_PASSWORD
		wantErr string
	}{
		{name: "ok", edit: func(*keystoneFlags) {}},
		{name: "password from env", edit: func(k *keystoneFlags) { k.password = "" }, env: "pw"},
		{name: "no password", edit: func(k *keystoneFlags) { k.password = "" }, wantErr: "L2GW_SERVICE_PASSWORD"},
		{name: "no url", edit: func(k *keystoneFlags) { k.url = "" }, wantErr: "--keystone-url"},
		{name: "bad url", edit: func(k *keystoneFlags) { k.url = "keystone:5000" }, wantErr: "--keystone-url"},
		{name: "zero ttl", edit: func(k *keystoneFlags) { k.cacheTTL = 0 }, wantErr: "--token-cache-ttl"},
		{name: "bad cafile", edit: func(k *keystoneFlags) { k.cafile = badCA }, wantErr: "no PEM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("L2GW_SERVICE_PASSWORD", c.env)
			k := good
			c.edit(&k)
			f := serverFlags{bind: "0.0.0.0:0", auth: "keystone", logLevel: "error", logFormat: "json", dataDir: t.TempDir(), keystone: k}
			cfg, _, err := f.config()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("config() error = %v; want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("config() error = %v", err)
			}
			ks, ok := cfg.API.Authenticator.(api.Keystone)
			if !ok {
				t.Fatalf("Authenticator = %T; want api.Keystone", cfg.API.Authenticator)
			}
			if got, want := ks.Challenge(), `Keystone uri="http://127.0.0.1:5000/v3"`; got != want {
				t.Errorf("Challenge() = %s; want %s", got, want)
			}
		})
	}
}

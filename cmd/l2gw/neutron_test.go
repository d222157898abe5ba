package main

import (
	"strings"
	"testing"
	"time"
)

func TestServerConfigNeutron(t *testing.T) {
	good := neutronFlags{inventory: "neutron", url: "http://127.0.0.1:9696", poll: 2 * time.Second, resync: 10 * time.Minute, proxy: true}
	for _, c := range []struct {
		name    string
		edit    func(*neutronFlags)
		keyst   bool
		wantErr string
	}{
		{name: "ok", edit: func(*neutronFlags) {}},
		{name: "with keystone", edit: func(*neutronFlags) {}, keyst: true},
		{name: "standalone", edit: func(n *neutronFlags) { n.inventory, n.proxy = "standalone", false }},
		{name: "proxy standalone", edit: func(n *neutronFlags) { n.inventory = "standalone" }, wantErr: "need --inventory neutron"},
		{name: "notifications standalone", edit: func(n *neutronFlags) { n.inventory, n.proxy, n.notify = "standalone", false, true }, wantErr: "need --inventory neutron"},
		{name: "notifications without transport", edit: func(n *neutronFlags) { n.notify = true }, wantErr: "--neutron-notifications needs --transport-url"},
		{name: "unknown inventory", edit: func(n *neutronFlags) { n.inventory = "nova" }, wantErr: "want standalone or neutron"},
		{name: "no url", edit: func(n *neutronFlags) { n.url = "" }, wantErr: "--neutron-url"},
		{name: "bad url", edit: func(n *neutronFlags) { n.url = "neutron:9696" }, wantErr: "--neutron-url"},
		{name: "zero poll", edit: func(n *neutronFlags) { n.poll = 0 }, wantErr: "--neutron-poll-interval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := good
			c.edit(&n)
			f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", logFormat: "json", dataDir: t.TempDir(), neutron: n}
			if c.keyst {
				t.Setenv("L2GW_SERVICE_PASSWORD", "")
				f.bind, f.auth = "0.0.0.0:0", "keystone"
				f.keystone = keystoneFlags{url: "http://127.0.0.1:5000", user: "l2gw", password: "pw", project: "service",
					adminRole: "admin", cacheTTL: time.Minute, timeout: time.Second}
			}
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
			if n.inventory == "standalone" {
				if cfg.Neutron != nil {
					t.Errorf("standalone: Neutron = %+v; want nil", cfg.Neutron)
				}
				return
			}
			if cfg.Neutron == nil || cfg.Neutron.Sync.URL != n.url || cfg.Neutron.Sync.PollInterval != n.poll || !cfg.Neutron.Proxy {
				t.Fatalf("Neutron = %+v; want the flags' URL, poll interval and proxy", cfg.Neutron)
			}
			// With keystone, Neutron is read with the service token; noauth sends none.
			if got := cfg.Neutron.Sync.Token != nil; got != c.keyst {
				t.Errorf("Sync.Token set = %v; want %v", got, c.keyst)
			}
		})
	}
}

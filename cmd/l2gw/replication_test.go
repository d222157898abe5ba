package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/planner"
)

func TestServerReplicationFlags(t *testing.T) {
	const sn, src = planner.ReplicationServiceNode, planner.ReplicationSourceNode
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    planner.Config
		wantLog []string
		wantErr string // substring; empty: valid
	}{
		{
			name: "default", want: planner.Config{ReplicationMode: src},
			wantLog: []string{"default=source_node"},
		},
		{
			name:    "service node default",
			args:    []string{"--replication-mode", "service_node", "--service-node", "192.0.2.9", "--service-node", "192.0.2.8"},
			want:    planner.Config{ReplicationMode: sn, ServiceNodes: []string{"192.0.2.9", "192.0.2.8"}},
			wantLog: []string{"default=service_node:192.0.2.9,192.0.2.8"},
		},
		{
			name: "per-switch overrides",
			args: []string{"--switch-replication", "tor1=service_node:192.0.2.50,192.0.2.51", "--switch-replication", "tor2=source_node"},
			want: planner.Config{ReplicationMode: src, Switches: map[string]planner.Replication{
				"tor1": {Mode: sn, ServiceNodes: []string{"192.0.2.50", "192.0.2.51"}},
				"tor2": {Mode: src},
			}},
			wantLog: []string{"default=source_node", "tor1=service_node:192.0.2.50,192.0.2.51", "tor2=source_node"},
		},
		{
			name:    "source node override of a service node default",
			args:    []string{"--replication-mode", "service_node", "--service-node", "192.0.2.9", "--switch-replication", "tor2=source_node:"},
			want:    planner.Config{ReplicationMode: sn, ServiceNodes: []string{"192.0.2.9"}, Switches: map[string]planner.Replication{"tor2": {Mode: src}}},
			wantLog: []string{"default=service_node:192.0.2.9", "tor2=source_node"},
		},
		{
			name: "env fallbacks",
			env: map[string]string{
				"L2GW_REPLICATION_MODE":   "service_node",
				"L2GW_SERVICE_NODES":      "192.0.2.1, 192.0.2.2",
				"L2GW_SWITCH_REPLICATION": "tor1=service_node:192.0.2.50,192.0.2.51; tor2=source_node",
			},
			want: planner.Config{ReplicationMode: sn, ServiceNodes: []string{"192.0.2.1", "192.0.2.2"}, Switches: map[string]planner.Replication{
				"tor1": {Mode: sn, ServiceNodes: []string{"192.0.2.50", "192.0.2.51"}},
				"tor2": {Mode: src},
			}},
			wantLog: []string{"default=service_node:192.0.2.1,192.0.2.2", "tor1=service_node:192.0.2.50,192.0.2.51", "tor2=source_node"},
		},
		{
			name: "flags win over env",
			env:  map[string]string{"L2GW_REPLICATION_MODE": "service_node"},
			args: []string{"--replication-mode", "source_node"},
			want: planner.Config{ReplicationMode: src}, wantLog: []string{"default=source_node"},
		},
		{name: "unknown mode", args: []string{"--replication-mode", "flood"}, wantErr: `unknown replication mode "flood"`},
		{name: "service node default without nodes", args: []string{"--replication-mode", "service_node"}, wantErr: "needs service nodes"},
		{name: "service nodes with source node", args: []string{"--service-node", "192.0.2.1"}, wantErr: "service nodes given with replication mode source_node"},
		{name: "service node not IPv4", args: []string{"--replication-mode", "service_node", "--service-node", "2001:db8::1"}, wantErr: "not an IPv4 address"},
		{name: "override without name", args: []string{"--switch-replication", "=source_node"}, wantErr: "want NAME=MODE"},
		{name: "override without =", args: []string{"--switch-replication", "tor1"}, wantErr: "want NAME=MODE"},
		{name: "override without mode", args: []string{"--switch-replication", "tor1=:192.0.2.1"}, wantErr: "no mode"},
		{name: "override unknown mode", args: []string{"--switch-replication", "tor1=flood"}, wantErr: `unknown replication mode "flood"`},
		{name: "override service node without nodes", args: []string{"--switch-replication", "tor1=service_node"}, wantErr: "needs service nodes"},
		{name: "override bad IP", args: []string{"--switch-replication", "tor1=service_node:192.0.2.1,tor9"}, wantErr: `"tor9" is not an IPv4`},
		{name: "override source node with nodes", args: []string{"--switch-replication", "tor1=source_node:192.0.2.1"}, wantErr: "service nodes given"},
		{name: "override twice", args: []string{"--switch-replication", "tor1=source_node", "--switch-replication", "tor1=service_node:192.0.2.1"}, wantErr: "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"L2GW_REPLICATION_MODE", "L2GW_SERVICE_NODES", "L2GW_SWITCH_REPLICATION"} {
				t.Setenv(k, tc.env[k])
			}
			cmd := newServerCmd()
			cmd.RunE = func(*cobra.Command, []string) error { return nil } // parse only
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			var f replicationFlags
			f.mode, _ = cmd.Flags().GetString("replication-mode")
			f.serviceNodes, _ = cmd.Flags().GetStringArray("service-node")
			f.switches, _ = cmd.Flags().GetStringArray("switch-replication")
			got, err := f.planner()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("planner() error = %v; want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("planner() error = %v; want one containing %q", err, tc.wantErr)
			case tc.wantErr != "":
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("planner() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLog, replicationLog(got)); diff != "" {
				t.Errorf("replicationLog() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerConfigReplication checks that the server's config carries the
// replication to the plan feed and refuses a bad one before touching the
// data directory.
func TestServerConfigReplication(t *testing.T) {
	f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", dataDir: t.TempDir(),
		replication: replicationFlags{switches: []string{"tor1=service_node:192.0.2.50"}}}
	cfg, _, err := f.config()
	if err != nil {
		t.Fatalf("config() error = %v", err)
	}
	want := planner.Config{ReplicationMode: planner.ReplicationSourceNode, Switches: map[string]planner.Replication{
		"tor1": {Mode: planner.ReplicationServiceNode, ServiceNodes: []string{"192.0.2.50"}},
	}}
	if diff := cmp.Diff(want, cfg.Feed.Planner); diff != "" {
		t.Errorf("config().Feed.Planner (-want +got):\n%s", diff)
	}
	f.dataDir = t.TempDir() + "/never"
	f.replication.switches = []string{"tor1=service_node"}
	if _, _, err := f.config(); err == nil {
		t.Fatal("config() with tor1=service_node and no service nodes succeeded; want error")
	}
	if _, err := os.Stat(f.dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data dir after a refused config: stat error = %v; want not exist", err)
	}
}

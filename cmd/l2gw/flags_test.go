package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestNewLoggerFormat: --log-format text and json select the handler; with
// none, a terminal gets text and anything else (a file) JSON.
func TestNewLoggerFormat(t *testing.T) {
	file := func() *os.File {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	line := func(f *os.File, format string) string {
		t.Helper()
		l, err := newLoggerTo(f, "info", format)
		if err != nil {
			t.Fatalf("newLoggerTo(%q): %v", format, err)
		}
		l.Info("hello", "took", 1500000)
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct{ format, want string }{
		{"text", "level=INFO msg=hello"},
		{"json", `"level":"INFO","msg":"hello"`},
		{"", `"level":"INFO","msg":"hello"`}, // a file is no terminal
	} {
		if got := line(file(), tc.format); !strings.Contains(got, tc.want) {
			t.Errorf("--log-format %q wrote %q; want it to contain %q", tc.format, got, tc.want)
		}
	}
	if _, err := newLoggerTo(file(), "info", "xml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("--log-format xml: error = %v; want one naming --log-format", err)
	}
	if _, err := newLoggerTo(file(), "loud", "text"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: error = %v; want one naming --log-level", err)
	}
}

// TestLogFlags: every long-running command takes --log-level and
// --log-format; the server also --access-log (on by default, env
// L2GW_ACCESS_LOG), which sets server.Config.AccessLog.
func TestLogFlags(t *testing.T) {
	for _, cmd := range []*cobra.Command{newServerCmd(), newSwitchAgentCmd(), newHostAgentCmd(), newSoftVTEPCmd()} {
		for _, name := range []string{"log-level", "log-format"} {
			if cmd.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", cmd.Name(), name)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", true},
		{[]string{"--access-log=false"}, "", false},
		{nil, "false", false},
		{[]string{"--access-log"}, "false", true},
	} {
		if tc.env != "" {
			t.Setenv("L2GW_ACCESS_LOG", tc.env)
		}
		cmd := newServerCmd()
		cmd.RunE = func(*cobra.Command, []string) error { return nil }
		cmd.SetArgs(tc.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got, _ := cmd.Flags().GetBool("access-log"); got != tc.want {
			t.Errorf("server %q with L2GW_ACCESS_LOG=%q: --access-log = %v; want %v", tc.args, tc.env, got, tc.want)
		}
		os.Unsetenv("L2GW_ACCESS_LOG")
	}
	f := serverFlags{bind: "127.0.0.1:0", auth: "noauth", logLevel: "error", logFormat: "json", dataDir: t.TempDir()}
	f.replication.mode = "source_node"
	for _, on := range []bool{true, false} {
		f.accessLog = on
		cfg, _, err := f.config()
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		if cfg.AccessLog != on {
			t.Errorf("config() with --access-log=%v: AccessLog = %v", on, cfg.AccessLog)
		}
	}
}

// TestAgentServerFromURLEnv checks the precedence of an agent's --server:
// the flag, then the agent's own variable, then L2GW_URL (which the client
// commands read too), else none (the agent then says --server is required).
func TestAgentServerFromURLEnv(t *testing.T) {
	agents := []struct {
		name   string
		cmd    func() *cobra.Command
		prefix string
	}{
		{"switch-agent", newSwitchAgentCmd, "L2GW_SWITCH_AGENT_"},
		{"host-agent", newHostAgentCmd, "L2GW_HOST_AGENT_"},
	}
	tests := []struct {
		name          string
		args          []string
		agentEnv, url string // L2GW_<AGENT>_SERVER, L2GW_URL; empty: unset
		want          string
	}{
		{"flag wins", []string{"--server", "http://flag:9696"}, "http://agent:9696", "http://url:9696", "http://flag:9696"},
		{"agent variable before L2GW_URL", nil, "http://agent:9696", "http://url:9696", "http://agent:9696"},
		{"L2GW_URL", nil, "", "http://url:9696", "http://url:9696"},
		{"none", nil, "", "", ""},
	}
	for _, a := range agents {
		for _, tc := range tests {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				t.Setenv(a.prefix+"SERVER", tc.agentEnv)
				t.Setenv("L2GW_URL", tc.url)
				if tc.agentEnv == "" {
					unsetenv(t, a.prefix+"SERVER")
				}
				if tc.url == "" {
					unsetenv(t, "L2GW_URL")
				}
				cmd := a.cmd()
				var got string
				cmd.RunE = func(cmd *cobra.Command, _ []string) error {
					if _, err := agentStart(cmd, a.prefix); err != nil {
						return err
					}
					got, _ = cmd.Flags().GetString("server")
					return nil
				}
				cmd.SetArgs(tc.args)
				if err := cmd.Execute(); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("%s --server = %q; want %q", a.name, got, tc.want)
				}
			})
		}
	}
}

// unsetenv removes key from the environment for the rest of the test
// (t.Setenv first, so that it is restored afterwards).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

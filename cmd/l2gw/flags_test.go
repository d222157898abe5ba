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

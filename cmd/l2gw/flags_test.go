package main

import (
	"os"
	"testing"

	"github.com/spf13/cobra"
)

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

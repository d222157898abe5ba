package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestAgentIdentityProcesses runs `l2gw server --auth keystone --tls-cert
// --tls-key --tls-client-ca --agent-switches` against the real Keystone,
// with real `l2gw switch-agent` and `l2gw host-agent` processes presenting
// agent certificates of a private CA: each works for its own switch or
// host; one whose certificate does not serve the switch or host it tries,
// or that holds an API admin's token, is refused and changes nothing; an
// agent that logs in as a service user with the agent role may act for any
// switch.
func TestAgentIdentityProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ks := testenv.StartKeystone(t, 0)
	pki := testenv.NewTLSFiles(t, t.TempDir())
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute9")
	lab.Addr(ns, "lo", "192.0.2.9/32")
	tor1 := testenv.StartOVSDB(t, false)
	tor1.VTEPCtl(t, "add-ps", "tor1", "--", "set", "Physical_Switch", "tor1", "tunnel_ips=192.0.2.10", "--", "add-port", "tor1", "port1")
	tor2 := testenv.StartOVSDB(t, false)
	tor2.VTEPCtl(t, "add-ps", "tor2", "--", "set", "Physical_Switch", "tor2", "tunnel_ips=192.0.2.20", "--", "add-port", "tor2", "port1")

	bin := testenv.BuildL2GW(t)
	srv := testenv.StartL2GW(t, "server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "state"),
		"--auth", "keystone", "--keystone-url", ks.URL, "--service-user", "l2gw", "--service-password", "l2gwpass", "--service-project", "service",
		"--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--tls-client-ca", pki.CACert,
		"--agent-switches", "tor-agent-1=tor1")
	base := "https://" + srv.Listening(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conf := pki.ClientConfig(t)
	conf.Certificates = nil // the operator: a token, no certificate
	tr := &http.Transport{TLSClientConfig: conf}
	defer tr.CloseIdleConnections()
	admin, err := client.New(base, client.WithToken(ks.Env["ADMIN_TOKEN"]), client.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the server answers an admin token over HTTPS", func() (bool, string) {
		_, err := admin.ListSwitches(ctx, client.ListOptions{})
		return err == nil, errString(err)
	})

	agentArgs := func(name string, cn string, ou string, dns ...string) []string {
		cert, key := pki.IssueClientCert(t, name, ou, cn, dns...)
		return []string{"--server", base, "--cacert", pki.CACert, "--cert", cert, "--key", key}
	}
	// tor-agent-1 serves tor1 (--agent-switches); tor-agent-2 serves
	// nothing, and an admin's token is no agent's.
	testenv.StartL2GW(t, "switch-agent tor-agent-1", bin, append([]string{"switch-agent", "--switch", tor1.UnixTarget(), "--probe-interval", "1s"},
		agentArgs("tor-agent-1", "tor-agent-1", agentapi.SwitchAgentOU)...)...)
	stranger := testenv.StartL2GW(t, "switch-agent tor-agent-2", bin, append([]string{"switch-agent", "--switch", tor2.UnixTarget(), "--probe-interval", "1s"},
		agentArgs("tor-agent-2", "tor-agent-2", agentapi.SwitchAgentOU)...)...)
	adminAgent := testenv.StartL2GW(t, "switch-agent with an admin token", bin, "switch-agent", "--switch", tor2.UnixTarget(),
		"--server", base, "--cacert", pki.CACert, "--token", ks.Env["ADMIN_TOKEN"])
	// compute9's certificate, once for compute9 and once for compute8.
	hostArgs := agentArgs("compute9", "compute9", agentapi.HostAgentOU)
	testenv.StartL2GW(t, "host-agent compute9", bin, append([]string{"host-agent", "--host", "compute9", "--vtep-ip", "192.0.2.9",
		"--netns", ns, "--heartbeat", "200ms"}, hostArgs...)...)
	impostor := testenv.StartL2GW(t, "host-agent compute8", bin, append([]string{"host-agent", "--host", "compute8", "--vtep-ip", "192.0.2.9",
		"--netns", ns, "--heartbeat", "200ms"}, hostArgs...)...)

	testenv.Eventually(t, 30*time.Second, "tor1 reported and connected", func() (bool, string) {
		sws, err := admin.ListSwitches(ctx, client.Filter("name", "tor1"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet " + errString(err)
	})
	testenv.Eventually(t, 30*time.Second, "compute9 registered and alive", func() (bool, string) {
		hs, err := admin.ListHosts(ctx, client.Filter("name", "compute9"))
		return err == nil && len(hs) == 1 && hs[0].Alive, "not yet " + errString(err)
	})
	for _, tc := range []struct {
		agent *testenv.L2GW
		want  string
	}{
		{stranger, `does not serve switch \"tor2\"`},
		{adminAgent, "The agent protocol takes an agent's credential"},
		{impostor, `does not serve host \"compute8\"`},
	} {
		testenv.Eventually(t, 30*time.Second, tc.agent.Name+" refused", func() (bool, string) {
			return strings.Contains(tc.agent.Logs(), tc.want), tc.agent.Logs()
		})
	}
	// A host agent asks for its host's lease before anything else: the
	// impostor is refused there and never gets to register.
	if logs := srv.Logs(); !strings.Contains(logs, `"msg":"agent request refused","component":"agentapi","action":"acquire_host_lease","name":"compute8"`) {
		t.Errorf("server log lacks the refusal of compute8's lease:\n%s", logs)
	}
	if sws, err := admin.ListSwitches(ctx, client.Filter("name", "tor2")); err != nil || len(sws) != 0 {
		t.Errorf("switches named tor2 = %+v, %v; want none: no agent may report it", sws, err)
	}
	if hs, err := admin.ListHosts(ctx, client.Filter("name", "compute8")); err != nil || len(hs) != 0 {
		t.Errorf("hosts named compute8 = %+v, %v; want none: compute9's certificate cannot register it", hs, err)
	}

	// A service user with the agent role (the lab's neutron user: role
	// service), logged in by the agent itself, may act for any switch.
	stranger.Terminate(t)
	t.Setenv("OS_PASSWORD", "neutronpass")
	testenv.StartL2GW(t, "switch-agent as a service user", bin, "switch-agent", "--switch", tor2.UnixTarget(), "--probe-interval", "1s",
		"--server", base, "--cacert", pki.CACert, "--os-auth-url", ks.URL, "--os-username", "neutron", "--os-project-name", "service")
	testenv.Eventually(t, 30*time.Second, "tor2 reported by the service user's agent", func() (bool, string) {
		sws, err := admin.ListSwitches(ctx, client.Filter("name", "tor2"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet " + errString(err)
	})
}

func TestParseAgentSwitches(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string][]string
		wantErr bool
	}{
		{nil, nil, false},
		{[]string{"tor-agent-1=tor1,tor2", "tor-agent-2=tor3", "tor-agent-1=tor4"},
			map[string][]string{"tor-agent-1": {"tor1", "tor2", "tor4"}, "tor-agent-2": {"tor3"}}, false},
		{[]string{" a = s1 , s2 "}, map[string][]string{"a": {"s1", "s2"}}, false},
		{[]string{"tor1"}, nil, true},
		{[]string{"=tor1"}, nil, true},
		{[]string{"a="}, nil, true},
		{[]string{"a=,"}, nil, true},
	}
	for _, tc := range tests {
		got, err := parseAgentSwitches(tc.in)
		if (err != nil) != tc.wantErr || !cmp.Equal(got, tc.want) {
			t.Errorf("parseAgentSwitches(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestHostAgentProcessVTEPConflict: a host agent started with a VTEP IP
// other than the one recorded for its host is refused by the server and
// exits non-zero, saying which IP is recorded and how to change it; the
// host keeps its address.
func TestHostAgentProcessVTEPConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute1")
	bin := testenv.BuildL2GW(t)
	_, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	agent := testenv.StartL2GW(t, "host-agent", bin, "host-agent", "--server", base, "--host", "compute1",
		"--vtep-ip", "192.0.2.99", "--netns", ns)
	err = agent.Wait(30 * time.Second)
	if agent.Running() {
		t.Fatalf("host-agent with the wrong VTEP IP still running: %v", err)
	}
	if err == nil {
		t.Errorf("host-agent with the wrong VTEP IP exited with status 0; want non-zero")
	}
	logs := agent.Logs()
	for _, want := range []string{
		"l2gw: host agent: registration of compute1 with VTEP IP 192.0.2.99 refused: Host compute1 is recorded with VTEP IP 192.0.2.2",
		"l2gw host-update compute1 --vtep-ip 192.0.2.99",
		"start the host agent with --vtep-ip 192.0.2.2",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("host-agent output lacks %q:\n%s", want, logs)
		}
	}
	if got, err := c.GetHost(ctx, h.ID); err != nil || got.VTEPIP != "192.0.2.2" {
		t.Errorf("host after the refused agent = %+v, %v; want VTEP IP 192.0.2.2", got, err)
	}
}

package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/l2pop"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestL2PopFlags(t *testing.T) {
	tests := []struct {
		name    string
		f       l2popFlags
		env     string
		want    *l2pop.Config
		wantErr string
	}{
		{name: "off", f: l2popFlags{reassert: l2pop.DefaultReassert}},
		{name: "flag", f: l2popFlags{transportURL: "rabbit://u:p@h1:5672/", reassert: time.Minute},
			want: &l2pop.Config{TransportURL: "rabbit://u:p@h1:5672/", Reassert: time.Minute}},
		{name: "env", env: "rabbit://u:p@h1:5672,u:p@h2:5672/v", f: l2popFlags{reassert: 0},
			want: &l2pop.Config{TransportURL: "rabbit://u:p@h1:5672,u:p@h2:5672/v", Reassert: -1}},
		{name: "flag over env", env: "rabbit://u:p@env/", f: l2popFlags{transportURL: "rabbit://u:p@flag/"},
			want: &l2pop.Config{TransportURL: "rabbit://u:p@flag/", Reassert: -1}},
		{name: "tls with a CA", f: l2popFlags{transportURL: "rabbit://u:p@h1/?ssl=1", cacert: "/ca.pem"},
			want: &l2pop.Config{TransportURL: "rabbit://u:p@h1/?ssl=1", CACert: "/ca.pem", Reassert: -1}},
		{name: "bad URL, password hidden", f: l2popFlags{transportURL: "amqp://u:hunter2@h1/"}, wantErr: "--transport-url amqp://<unparsable>: invalid transport URL"},
		{name: "CA without TLS", f: l2popFlags{transportURL: "rabbit://u:p@h1/", cacert: "/ca.pem"}, wantErr: "--transport-cacert needs TLS"},
		{name: "CA without URL", f: l2popFlags{cacert: "/ca.pem"}, wantErr: "--transport-cacert needs --transport-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("L2GW_TRANSPORT_URL", tc.env)
			got, err := tc.f.config()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("config() = %v; want %q, no password", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && (got.TransportURL != tc.want.TransportURL || got.CACert != tc.want.CACert || got.Reassert != tc.want.Reassert)) {
				t.Errorf("config() = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// TestCLIStatusL2Pop runs `l2gw status` against a real server that sends
// l2pop casts to a real RabbitMQ: the broker line (no password), the l2pop
// hosts table and the connection's l2pop reason show.
func TestCLIStatusL2Pop(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches:  []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: -1}},
			L2Pop:     &l2pop.Config{TransportURL: rmq.URL},
			Listening: func(a net.Addr) { addrc <- a.String() },
		})
	}()
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("server.Run = %v before listening", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not listening within 30s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run = %v; want nil after cancel", err)
		}
	}()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "gatewayhost reported", func() (bool, string) {
		_, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil, errString(err)
	})
	mustCLI(t, url, "net-create", "net1", "--vni", "1000")
	mustCLI(t, url, "host-create", "compute1", "--vtep-ip", "192.0.2.2")
	mustCLI(t, url, "port-create", "net1", "--name", "vm1", "--host", "compute1")
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	mustCLI(t, url, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "100")
	want := []string{
		"L2pop over rabbit://guest:xxxxx@127.0.0.1:",
		": connected to 127.0.0.1:",
		"1 connected networks",
		"| compute1 |",
		"no Neutron L2 agent (Open vSwitch or Linux bridge) on the host",
		"l2pop host compute1 error: no Neutron L2 agent",
	}
	var out string
	testenv.Eventually(t, 30*time.Second, "l2gw status shows l2pop", func() (bool, string) {
		out = mustCLI(t, url, "status")
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false, "lacks " + w + ":\n" + out
			}
		}
		return true, ""
	})
	if strings.Contains(out, "guest:guest") {
		t.Errorf("l2gw status shows the broker password:\n%s", out)
	}
	t.Logf("l2gw status:\n%s", out)
	v := cliJSON[systemView](t, url, "status")
	if v.L2Pop == nil || !v.L2Pop.Broker.Connected || len(v.Connections) != 1 || v.Connections[0].L2Pop == nil ||
		len(v.Connections[0].L2Pop.Hosts) != 1 {
		t.Errorf("l2gw -f json status = %+v; want the l2pop broker and the connection's l2pop host", v)
	}
}

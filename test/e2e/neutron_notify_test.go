package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/testenv"
)

// testNeutronNotifications runs l2gw with a poll interval far beyond the
// test and --neutron-notifications on Neutron's own RabbitMQ: a network
// and a port created in Neutron after the first sync can only come by the
// notifications' hint, and they are mirrored within seconds.
func testNeutronNotifications(t *testing.T, n *testenv.Neutron, bin string) {
	transport := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", n.RabbitPort)
	srv, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--inventory", "neutron", "--neutron-url", n.URL,
		"--neutron-poll-interval", "10m", "--transport-url", transport, "--neutron-notifications")
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, "first sync and the notifications queue bound", func() (bool, string) {
		nets, err := c.ListNetworks(ctx, client.ListOptions{})
		return err == nil && len(nets) > 0 && strings.Contains(srv.Logs(), "listening to neutron notifications"), "not yet"
	})
	if _, err := openstack(t, n.URL, "network", "create", "notified"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	testenv.Eventually(t, 20*time.Second, "the new network mirrored", func() (bool, string) {
		nets, err := c.ListNetworks(ctx, client.Filter("name", "notified"))
		return err == nil && len(nets) == 1, fmt.Sprintf("%d networks, %v", len(nets), err)
	})
	t.Logf("network created in Neutron -> mirrored: %v (poll interval 10m)", time.Since(t0).Round(time.Millisecond))
	if _, err := openstack(t, n.URL, "port", "create", "notified-vm", "--network", "notified", "--device-owner", "compute:nova",
		"--host", "compute1", "--mac-address", "fa:16:3e:0e:0e:01"); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	testenv.Eventually(t, 20*time.Second, "the new port mirrored", func() (bool, string) {
		ps, err := c.ListPorts(ctx, client.Filter("mac_address", "fa:16:3e:0e:0e:01"))
		return err == nil && len(ps) == 1, fmt.Sprintf("%d ports, %v", len(ps), err)
	})
	t.Logf("port created in Neutron -> mirrored: %v (poll interval 10m)", time.Since(t0).Round(time.Millisecond))
	if strings.Contains(srv.Logs(), "_context_auth_token") {
		t.Error("the server log holds a notification's token")
	}
}

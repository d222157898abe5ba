package agentapi_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestHostVTEPChangeReplansSwitch: changing a host's VTEP IP through the
// API (what the registration conflict tells operators to do) re-plans the
// switches: on a real ovsdb-server, the host's Ucast_Macs_Remote rows and
// its unknown-dst locator move to the new IP.
func TestHostVTEPChangeReplansSwitch(t *testing.T) {
	o := newGatewayHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(runCtx, server.Config{
			Bind:      "127.0.0.1:0",
			Database:  "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches:  []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: time.Second, BackoffMax: 500 * time.Millisecond}},
			Listening: func(a net.Addr) { addrc <- a },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("server.Run: %v", err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server.Run = %v", err)
		}
	}()
	c, err := client.New("http://" + addr.String())
	if err != nil {
		t.Fatal(err)
	}
	conn := seedWorkflow(t, ctx, c)
	wantSeedOnSwitch(t, o)

	hs, err := c.ListHosts(ctx, client.Filter("name", "compute1"))
	if err != nil || len(hs) != 1 {
		t.Fatalf("ListHosts(compute1) = %+v, %v", hs, err)
	}
	ip := "192.0.2.21"
	if _, err := c.UpdateHost(ctx, hs[0].ID, neutron.HostUpdate{VTEPIP: &ip}); err != nil {
		t.Fatal(err)
	}
	const wantMACs = `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.21
  fa:16:3e:00:00:02 -> vxlan_over_ipv4/192.0.2.2

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.2
  unknown-dst -> vxlan_over_ipv4/192.0.2.21`
	testenv.Eventually(t, 30*time.Second, "compute1's MACs behind 192.0.2.21", func() (bool, string) {
		ls := o.VTEPCtl(t, "list-ls")
		if ls == "" || strings.Contains(ls, "\n") {
			return false, "logical switches: " + ls
		}
		macs := o.VTEPCtl(t, "list-remote-macs", ls)
		return macs == wantMACs, "remote macs:\n" + macs
	})
	connectionState(t, ctx, c, conn.ID, agentwire.StateInSync)
}

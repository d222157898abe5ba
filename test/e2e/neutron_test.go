package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/testenv"
)

// gate forwards to Neutron until it is closed: then every connection is
// dropped, as an unreachable Neutron would.
type gate struct {
	down atomic.Bool
	srv  *httptest.Server
}

func newGate(t *testing.T, target string) *gate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	rp := httputil.NewSingleHostReverseProxy(u)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() {
			panic(http.ErrAbortHandler) // drop the connection
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// remoteMACs reads the switch's Ucast_Macs_Remote of logical switch ls:
// MAC -> locator IP.
func remoteMACs(t *testing.T, o *testenv.OVSDB, ls string) map[string]string {
	t.Helper()
	out, err := exec.Command("vtep-ctl", "--db="+o.UnixTarget(), "list-remote-macs", ls).CombinedOutput()
	if err != nil {
		return nil // no logical switch (yet, or any more)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "mcast-mac-remote") {
			break
		}
		mac, loc, ok := strings.Cut(strings.TrimSpace(line), " -> ")
		if ok {
			_, ip, _ := strings.Cut(loc, "/")
			got[mac] = ip
		}
	}
	return got
}

// waitMACs waits until the switch's remote MACs of ls are exactly want.
func waitMACs(t *testing.T, o *testenv.OVSDB, ls string, want map[string]string, what string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, func() (bool, string) {
		got := remoteMACs(t, o, ls)
		if d := cmp.Diff(want, got); d != "" {
			return false, "remote MACs (-want +got):\n" + d
		}
		return true, ""
	})
}

type osPort struct {
	ID         string `json:"id"`
	MACAddress string `json:"mac_address"`
}

// inventoryStatus reads the server's view of the mirror.
func inventoryStatus(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/l2gw/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Server struct {
			Inventory map[string]any `json:"inventory"`
		} `json:"server"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Server.Inventory
}

// pollErrors reads the server's count of failed full polls of Neutron.
func pollErrors(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `l2gw_neutronsync_polls_total{kind="full",result="error"} `); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// TestNeutronInventory runs l2gw in the OpenStack mode against a real
// private neutron-server: the inventory is mirrored from Neutron, the
// unchanged openstack client works through --neutron-proxy, and the switch
// (a real ovsdb-server programmed by an embedded switch agent) follows
// Neutron's ports.
func TestNeutronInventory(t *testing.T) {
	testenv.RequireCommand(t, "openstack")
	testenv.RequireCommand(t, "vtep-ctl")
	n := testenv.StartNeutron(t)
	g := newGate(t, n.URL)
	sw := testenv.StartOVSDB(t, false)
	sw.VTEPCtl(t, "add-ps", "gatewayhost")
	sw.VTEPCtl(t, "set", "Physical_Switch", "gatewayhost", "tunnel_ips=127.0.0.42")
	sw.VTEPCtl(t, "add-port", "gatewayhost", "port1")
	sw.VTEPCtl(t, "add-port", "gatewayhost", "port2")
	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--inventory", "neutron", "--neutron-url", g.srv.URL, "--neutron-proxy",
		"--neutron-poll-interval", "250ms", "--switch", sw.UnixTarget()}
	srv, base := testenv.StartServer(t, bin, args...)
	testenv.Eventually(t, 30*time.Second, "the switch agent reports gatewayhost", func() (bool, string) {
		resp, err := http.Get(base + "/v2.0/switches/gatewayhost")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	// Everything below goes through l2gw's endpoint, as a cloud whose
	// catalog's network endpoint points at l2gw.
	net := osJSON[map[string]any](t, base, "network", "create", "net1")
	netID := net["id"].(string)
	if _, err := openstack(t, base, "subnet", "create", "sub1", "--network", "net1", "--subnet-range", "10.0.0.0/24"); err != nil {
		t.Fatal(err)
	}
	vm1 := osJSON[osPort](t, base, "port", "create", "vm1", "--network", "net1", "--host", "compute1", "--device-owner", "compute:nova")
	unowned := osJSON[osPort](t, base, "port", "create", "spare", "--network", "net1", "--host", "compute2")

	t.Run("Extensions", func(t *testing.T) {
		resp, err := http.Get(base + "/v2.0/extensions")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Extensions []struct{ Alias string } `json:"extensions"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		aliases := map[string]bool{}
		for _, e := range body.Extensions {
			aliases[e.Alias] = true
		}
		// Neutron's own (binding, standard-attr-timestamp) and l2gw's two.
		for _, a := range []string{"binding", "standard-attr-timestamp", "l2-gateway", "l2-gateway-connection"} {
			if !aliases[a] {
				t.Errorf("GET /v2.0/extensions lacks %s (has %v)", a, aliases)
			}
		}
		for _, a := range []string{"l2-gateway", "binding"} {
			resp, err := http.Get(base + "/v2.0/extensions/" + a)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v2.0/extensions/%s = %s; want 200", a, resp.Status)
			}
		}
	})

	t.Run("InventoryWritesRefused", func(t *testing.T) {
		resp, err := http.Post(base+"/v2.0/hosts", "application/json", strings.NewReader(`{"host":{"name":"h9","vtep_ip":"192.0.2.9"}}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "managed by Neutron") {
			t.Errorf("POST /v2.0/hosts = %s %s; want 409 saying the inventory is managed by Neutron", resp.Status, b)
		}
	})

	var connID string
	t.Run("ConnectThroughProxy", func(t *testing.T) {
		if _, err := openstack(t, base, "l2gw", "create", "gw1", "--device", "name=gatewayhost,interface_names=port1"); err != nil {
			t.Fatal(err)
		}
		conn := osJSON[map[string]any](t, base, "l2gw", "connection", "create", "gw1", "net1", "--default-segmentation-id", "100")
		connID, _ = conn["ID"].(string)
		if connID == "" {
			connID, _ = conn["id"].(string)
		}
		// vm1 behind compute1's tunneling IP; the port without a
		// device_owner is no endpoint (as in the original).
		waitMACs(t, sw, netID, map[string]string{vm1.MACAddress: "127.0.0.11"}, "vm1 on the switch")
		_ = unowned
		if got := sw.VTEPCtl(t, "list-bindings", "gatewayhost", "port1"); !strings.Contains(got, "0100 "+netID) {
			t.Errorf("vtep-ctl list-bindings gatewayhost port1 = %q; want VLAN 100 bound to %s", got, netID)
		}
	})

	t.Run("StatusWithoutL2Pop", func(t *testing.T) {
		if connID == "" {
			t.Skip("no connection")
		}
		// No l2gw host agent runs in this mode, and without --transport-url
		// nothing gives compute1's agent the switch's entries: the host is
		// an error saying so, not a missing host agent.
		testenv.Eventually(t, 30*time.Second, "compute1 says l2pop is off", func() (bool, string) {
			st := connStatus(t, base, connID)
			hs := hostStates(st.Hosts)
			i := slices.IndexFunc(st.Hosts, func(h agentwire.HostSync) bool { return h.Host == "compute1" })
			return st.State == "error" && i >= 0 && st.Hosts[i].State == "error" &&
				strings.Contains(st.Hosts[i].Reason, "l2pop is off") && !strings.Contains(st.Hosts[i].Reason, "host agent") &&
				st.Hosts[i].Connected && st.Status[0].State == "in_sync", fmt.Sprintf("%s %v", st.State, hs)
		})
	})

	vm2 := osJSON[osPort](t, base, "port", "create", "vm2", "--network", "net1", "--host", "compute2", "--device-owner", "compute:nova")
	t.Run("PortAfterConnection", func(t *testing.T) {
		waitMACs(t, sw, netID, map[string]string{vm1.MACAddress: "127.0.0.11", vm2.MACAddress: "127.0.0.12"}, "vm2 on the switch")
	})

	const vip = "fa:16:3e:aa:bb:cc"
	t.Run("AllowedAddressPair", func(t *testing.T) {
		if _, err := openstack(t, base, "port", "set", "vm1", "--allowed-address", "ip-address=10.0.0.100,mac-address="+vip); err != nil {
			t.Fatal(err)
		}
		waitMACs(t, sw, netID, map[string]string{vm1.MACAddress: "127.0.0.11", vm2.MACAddress: "127.0.0.12", vip: "127.0.0.11"}, "the pair's MAC on the switch")
	})

	t.Run("LiveMigration", func(t *testing.T) {
		if _, err := openstack(t, base, "port", "set", "vm2", "--host", "compute1"); err != nil {
			t.Fatal(err)
		}
		waitMACs(t, sw, netID, map[string]string{vm1.MACAddress: "127.0.0.11", vm2.MACAddress: "127.0.0.11", vip: "127.0.0.11"}, "vm2's locator moved")
	})

	parent := t // the restarted server outlives the subtest
	t.Run("RestartConverges", func(t *testing.T) {
		srv.Terminate(t)
		// While l2gw is down: vm2 goes, vm3 comes, straight in Neutron.
		if _, err := openstack(t, n.URL, "port", "delete", vm2.ID); err != nil {
			t.Fatal(err)
		}
		vm3 := osJSON[osPort](t, n.URL, "port", "create", "vm3", "--network", "net1", "--host", "compute2", "--device-owner", "compute:nova")
		srv, base = testenv.StartServer(parent, bin, args...)
		waitMACs(t, sw, netID, map[string]string{vm1.MACAddress: "127.0.0.11", vm3.MACAddress: "127.0.0.12", vip: "127.0.0.11"}, "converged after the restart")
	})

	t.Run("NeutronUnreachable", func(t *testing.T) {
		before := remoteMACs(t, sw, netID)
		g.down.Store(true)
		testenv.Eventually(t, 30*time.Second, "status says Neutron is unreachable", func() (bool, string) {
			inv := inventoryStatus(t, base)
			s, _ := inv["summary"].(string)
			return inv["state"] == "unreachable" && strings.Contains(s, "unreachable since") && strings.Contains(s, "last sync"), fmt.Sprint(inv)
		})
		// Several failed polls later (each a full list, as after any
		// error), nothing was deleted.
		start := pollErrors(t, base)
		testenv.Eventually(t, 30*time.Second, "three more failed polls", func() (bool, string) {
			n := pollErrors(t, base)
			return n >= start+3, fmt.Sprintf("%d failed polls", n)
		})
		if inv := inventoryStatus(t, base); inv["networks"] != float64(1) || inv["hosts"] != float64(2) || inv["state"] != "unreachable" {
			t.Errorf("inventory status while Neutron is unreachable = %v; want the mirror kept (1 network, 2 hosts)", inv)
		}
		if d := cmp.Diff(before, remoteMACs(t, sw, netID)); d != "" {
			t.Errorf("switch while Neutron is unreachable (-before +now):\n%s", d)
		}
		g.down.Store(false)
		testenv.Eventually(t, 30*time.Second, "status ok again", func() (bool, string) {
			inv := inventoryStatus(t, base)
			return inv["state"] == "ok", fmt.Sprint(inv)
		})
	})

	t.Run("DisconnectCleansSwitch", func(t *testing.T) {
		if connID == "" {
			t.Skip("no connection")
		}
		if _, err := openstack(t, base, "l2gw", "connection", "delete", connID); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, "the switch is left as before", func() (bool, string) {
			out, _ := exec.Command("vtep-ctl", "--db="+sw.UnixTarget(), "list-ls").CombinedOutput()
			b, _ := exec.Command("vtep-ctl", "--db="+sw.UnixTarget(), "list-bindings", "gatewayhost", "port1").CombinedOutput()
			return strings.TrimSpace(string(out)) == "" && strings.TrimSpace(string(b)) == "", fmt.Sprintf("logical switches %q, bindings %q", out, b)
		})
	})
	// The rest shares this Neutron (its start takes ~30 s) with a server
	// of its own.
	srv.Terminate(t)
	t.Run("L2Pop", func(t *testing.T) { testNeutronL2Pop(t, n) })
	t.Run("Notifications", func(t *testing.T) { testNeutronNotifications(t, n, bin) })
	t.Run("RealOVSAgent", func(t *testing.T) { testNeutronOVSAgent(t, n, bin) })
	if t.Failed() {
		t.Logf("neutron-server log tail:\n%s", n.Logs())
	}
}

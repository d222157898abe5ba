package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	ovsclient "github.com/ovn-org/libovsdb/client"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// The churned gateway: switch churnSwitch with two ports, in one gateway.
const (
	churnSwitch     = "gatewayhost"
	churnWorkers    = 32
	churnDuration   = 6 * time.Second
	churnSettle     = 60 * time.Second // bound on any wait for the switch to catch up
	churnForeignLS  = "foreign-ls"
	churnForeignMAC = "00:00:5e:00:53:01"
)

var (
	churnPorts = []string{"port1", "port2"}
	churnVLANs = []int{101, 102, 103, 104, 105, 106}
)

// TestConnectionChurn is the original networking-l2gw's worst bug: 32
// clients creating and deleting connections at once on one gateway, over
// several networks and VLANs, left VLAN bindings with no connection behind
// them and then refused new connections on those VLANs. Here the real
// `l2gw server --switch` programs a real ovsdb-server; afterwards the switch
// must hold exactly what the remaining connections imply (plus a foreign
// logical switch, binding and MAC that must survive), the API must never
// have answered 5xx, and new connections on every churned VLAN must succeed
// and be programmed.
func TestConnectionChurn(t *testing.T) {
	o := testenv.StartOVSDB(t, false)
	args := []string{"add-ps", churnSwitch, "--", "set", "Physical_Switch", churnSwitch, "tunnel_ips=192.0.2.1"}
	for _, p := range churnPorts {
		args = append(args, "--", "add-port", churnSwitch, p)
	}
	o.VTEPCtl(t, args...)
	// Someone else's logical switch on the same port: never touched.
	o.VTEPCtl(t, "add-ls", churnForeignLS, "--", "set", "Logical_Switch", churnForeignLS, "tunnel_key=9999")
	o.VTEPCtl(t, "bind-ls", churnSwitch, "port1", "999", churnForeignLS)
	o.VTEPCtl(t, "add-ucast-remote", churnForeignLS, churnForeignMAC, "198.51.100.1")

	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	_, url := testenv.StartServer(t, bin, "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "l2gw.db"), "--switch", o.UnixTarget())
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: churnWorkers + 4}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	api, err := client.New(url, client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	snap := churnSnapshotter(t, o.UnixTarget())
	foreign := snap(ctx)
	if !slices.Contains(foreign, "bind port1 999 -> "+churnForeignLS) {
		t.Fatalf("foreign binding missing before the test: %q", foreign)
	}

	// Inventory: 4 hosts with VTEPs, 8 networks with 3 ports on them and a
	// port on a host l2gw does not know (never programmed).
	testenv.Eventually(t, churnSettle, "switch reported", func() (bool, string) {
		sw, err := api.GetSwitch(ctx, churnSwitch)
		return err == nil && sw.Connected && len(sw.Ports) == len(churnPorts), fmt.Sprintf("%+v %v", sw, err)
	})
	for h := range 4 {
		if _, err := api.CreateHost(ctx, neutron.HostCreate{Name: fmt.Sprintf("compute%d", h), VTEPIP: fmt.Sprintf("10.200.0.%d", h+1)}); err != nil {
			t.Fatal(err)
		}
	}
	var nets []string
	for n := range 8 {
		nw, err := api.CreateNetwork(ctx, neutron.NetworkCreate{Name: fmt.Sprintf("churn%d", n), NetworkType: "vxlan", SegmentationID: 5001 + n})
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, nw.ID)
		var ps []neutron.PortCreate
		for i := range 4 {
			host := fmt.Sprintf("compute%d", (n+i)%4)
			if i == 3 {
				host = "unknown-host"
			}
			ps = append(ps, neutron.PortCreate{NetworkID: nw.ID, MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:%02x", n, i), HostID: host,
				FixedIPs: []neutron.FixedIP{{IPAddress: fmt.Sprintf("10.%d.0.%d", n, i+10)}}})
		}
		if _, err := api.CreatePorts(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	var itfs []neutron.InterfaceRequest
	for _, p := range churnPorts {
		itfs = append(itfs, neutron.InterfaceRequest{Name: p})
	}
	gw, err := api.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw", Devices: []neutron.DeviceRequest{{DeviceName: churnSwitch, Interfaces: itfs}}})
	if err != nil {
		t.Fatal(err)
	}

	// The churn.
	// Requests are never cut: each worker finishes its step, so nothing is
	// still in flight when the checks below read the remaining connections.
	var tally churnTally
	stop := time.Now().Add(churnDuration)
	var wg sync.WaitGroup
	for w := range churnWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) && ctx.Err() == nil {
				churnStep(ctx, api, rng, gw.ID, nets, &tally)
			}
		})
	}
	wg.Wait()
	t.Logf("churn: %s", tally.String())
	if tally.server > 0 || tally.transport > 0 {
		t.Errorf("churn: %d 5xx answers, %d transport errors; want none (first: %v)", tally.server, tally.transport, tally.first)
	}
	if tally.created == 0 || tally.deleted == 0 {
		t.Fatalf("churn did nothing: %s", tally.String())
	}

	// Afterwards the switch holds exactly the plan of what remains.
	conns, err := api.ListConnections(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections remain after the churn", len(conns))
	churnCheck(ctx, t, api, snap, foreign, conns)

	// Every churned VLAN takes a new connection: clear what remains, then
	// connect one network per VLAN.
	for _, c := range conns {
		if err := api.DeleteConnection(ctx, c.ID); err != nil {
			t.Fatalf("delete connection %s: %v", c.ID, err)
		}
	}
	churnCheck(ctx, t, api, snap, foreign, nil)
	var fresh []neutron.Connection
	for i, v := range churnVLANs {
		c, err := api.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: nets[i], SegmentationID: strconv.Itoa(v)})
		if err != nil {
			t.Fatalf("new connection on churned VLAN %d: %v", v, err)
		}
		fresh = append(fresh, c)
	}
	churnCheck(ctx, t, api, snap, foreign, fresh)
	for _, c := range fresh {
		if err := api.DeleteConnection(ctx, c.ID); err != nil {
			t.Fatalf("delete connection %s: %v", c.ID, err)
		}
	}
	churnCheck(ctx, t, api, snap, foreign, nil)
}

// churnTally counts the churn's answers.
type churnTally struct {
	mu                                  sync.Mutex
	created, deleted, conflict, missing int
	other4xx, server, transport         int
	first                               error // first 5xx or transport error
}

func (ct *churnTally) String() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return fmt.Sprintf("%d created, %d deleted, %d conflicts (409), %d not found (404), %d other 4xx, %d 5xx, %d transport errors",
		ct.created, ct.deleted, ct.conflict, ct.missing, ct.other4xx, ct.server, ct.transport)
}

// count records one answer: ok is the success counter to bump.
func (ct *churnTally) count(err error, ok *int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var ae *client.Error
	switch {
	case err == nil:
		*ok++
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		ct.conflict++
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		ct.missing++
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500:
		ct.other4xx++
	case errors.As(err, &ae):
		ct.server++
		if ct.first == nil {
			ct.first = err
		}
	default:
		ct.transport++
		if ct.first == nil {
			ct.first = err
		}
	}
}

// churnStep is one client action: create a connection of a random network
// on a random VLAN (and often delete it again at once), or delete a random
// existing connection, which other clients may be deleting too.
func churnStep(ctx context.Context, api *client.Client, rng *rand.Rand, gw string, nets []string, ct *churnTally) {
	if rng.IntN(100) < 55 {
		c, err := api.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw, NetworkID: nets[rng.IntN(len(nets))],
			SegmentationID: strconv.Itoa(churnVLANs[rng.IntN(len(churnVLANs))])})
		ct.count(err, &ct.created)
		if err == nil && rng.IntN(2) == 0 {
			ct.count(api.DeleteConnection(ctx, c.ID), &ct.deleted)
		}
		return
	}
	conns, err := api.ListConnections(ctx, client.ListOptions{})
	if err != nil {
		var listed int
		ct.count(err, &listed)
		return
	}
	if len(conns) > 0 {
		ct.count(api.DeleteConnection(ctx, conns[rng.IntN(len(conns))].ID), &ct.deleted)
	}
}

// churnCheck waits until every connection's switch status is in_sync and
// then until the switch state equals what conns (and the inventory) imply
// plus the foreign rows, failing with the difference at the deadline.
func churnCheck(ctx context.Context, t *testing.T, api *client.Client, snap func(context.Context) []string, foreign []string, conns []neutron.Connection) {
	t.Helper()
	for _, c := range conns {
		testenv.Eventually(t, churnSettle, "connection "+c.ID+" in_sync", func() (bool, string) {
			st, err := api.ConnectionStatus(ctx, c.ID)
			if err != nil {
				return false, err.Error()
			}
			ok := len(st.Status) == 1
			for _, s := range st.Status {
				ok = ok && s.State == "in_sync"
			}
			return ok, fmt.Sprintf("%+v", st.Status)
		})
	}
	want := churnExpected(ctx, t, api, conns, foreign)
	var got []string
	err := testenv.Poll(ctx, churnSettle, func() error {
		if got = snap(ctx); !cmp.Equal(want, got) {
			return errors.New("switch state differs")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("switch state after %v (-want +got):\n%s", churnSettle, cmp.Diff(want, got))
	}
}

// churnExpected derives, independently of the planner, the switch rows the
// connections imply: per connected network a logical switch named by the
// network id with its VNI, the connection's VLAN bound on every gateway
// port, a Ucast_Macs_Remote per port on a host with a VTEP, the flooding row
// to those VTEPs, and the locators they reference.
func churnExpected(ctx context.Context, t *testing.T, api *client.Client, conns []neutron.Connection, foreign []string) []string {
	t.Helper()
	hosts, err := api.ListHosts(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vtepOf := map[string]string{}
	for _, h := range hosts {
		vtepOf[h.Name] = h.VTEPIP
	}
	want := slices.Clone(foreign)
	locs := map[string]bool{}
	for _, l := range foreign {
		var ip string
		if _, err := fmt.Sscanf(l, "locator %s", &ip); err == nil {
			locs[ip] = true
		}
	}
	for _, c := range conns {
		nw, err := api.GetNetwork(ctx, c.NetworkID)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("ls %s vni=%d", nw.ID, nw.SegmentationID))
		if !c.SegmentationID.Valid {
			t.Fatalf("connection %s has no segmentation id", c.ID)
		}
		vlan := c.SegmentationID.ID
		for _, p := range churnPorts {
			want = append(want, fmt.Sprintf("bind %s %d -> %s", p, vlan, nw.ID))
		}
		ports, err := api.ListPorts(ctx, client.Filter("network_id", nw.ID))
		if err != nil {
			t.Fatal(err)
		}
		flood := map[string]bool{}
		for _, p := range ports {
			ip := vtepOf[p.HostID]
			if ip == "" {
				continue
			}
			want = append(want, fmt.Sprintf("ucast %s %s ip=%s -> %s", nw.ID, p.MACAddress, p.FixedIPs[0].IPAddress, ip))
			flood[ip], locs[ip] = true, true
		}
		if len(flood) > 0 {
			want = append(want, fmt.Sprintf("mcast %s unknown-dst -> %v", nw.ID, sortedKeys(flood)))
		}
	}
	want = slices.DeleteFunc(want, func(l string) bool { _, err := fmt.Sscanf(l, "locator %s", new(string)); return err == nil })
	for ip := range locs {
		want = append(want, "locator "+ip)
	}
	sort.Strings(want)
	return want
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// churnSnapshotter returns a function reading the whole hardware_vtep state
// the test cares about as sorted text lines, each call over a fresh
// monitor (one consistent snapshot, RFC 7047 section 4.1.5).
func churnSnapshotter(t *testing.T, target string) func(context.Context) []string {
	m, err := vtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context) []string {
		t.Helper()
		l := logr.Discard()
		c, err := ovsclient.NewOVSDBClient(m, ovsclient.WithEndpoint(target), ovsclient.WithLogger(&l))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("connect %s: %v", target, err)
		}
		defer c.Close()
		if _, err := c.MonitorAll(ctx); err != nil {
			t.Fatalf("monitor %s: %v", target, err)
		}
		var (
			lss   []vtep.LogicalSwitch
			ports []vtep.PhysicalPort
			ucast []vtep.UcastMacsRemote
			mcast []vtep.McastMacsRemote
			locs  []vtep.PhysicalLocator
			sets  []vtep.PhysicalLocatorSet
		)
		for _, l := range []any{&lss, &ports, &ucast, &mcast, &locs, &sets} {
			if err := c.List(ctx, l); err != nil {
				t.Fatalf("list: %v", err)
			}
		}
		lsName := map[string]string{}
		var out []string
		for _, ls := range lss {
			lsName[ls.UUID] = ls.Name
			key := -1
			if ls.TunnelKey != nil {
				key = *ls.TunnelKey
			}
			out = append(out, fmt.Sprintf("ls %s vni=%d", ls.Name, key))
		}
		locIP := map[string]string{}
		for _, l := range locs {
			locIP[l.UUID] = l.DstIP
			out = append(out, "locator "+l.DstIP)
		}
		for _, p := range ports {
			for v, ls := range p.VLANBindings {
				out = append(out, fmt.Sprintf("bind %s %d -> %s", p.Name, v, lsName[ls]))
			}
		}
		for _, r := range ucast {
			out = append(out, fmt.Sprintf("ucast %s %s ip=%s -> %s", lsName[r.LogicalSwitch], r.MAC, r.Ipaddr, locIP[r.Locator]))
		}
		setIPs := map[string][]string{}
		for _, s := range sets {
			var ips []string
			for _, l := range s.Locators {
				ips = append(ips, locIP[l])
			}
			sort.Strings(ips)
			setIPs[s.UUID] = ips
		}
		for _, r := range mcast {
			out = append(out, fmt.Sprintf("mcast %s %s -> %v", lsName[r.LogicalSwitch], r.MAC, setIPs[r.LocatorSet]))
		}
		sort.Strings(out)
		return out
	}
}

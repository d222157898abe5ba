package planfeed

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/store"
)

// compacting makes the next Changes call fail with ErrCompacted.
type compacting struct {
	store.Store
	once atomic.Bool
}

func (c *compacting) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if c.once.CompareAndSwap(true, false) {
		return nil, store.ErrCompacted
	}
	return c.Store.Changes(ctx, after, limit)
}

type env struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	src *compacting
	f   *Feed
}

func start(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		cancel()
		t.Fatalf("store.Open() error = %v", err)
	}
	src := &compacting{Store: st}
	// A long poll interval: the test passes only if in-process commits wake the feed.
	f, err := New(src, Config{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
		st.Close()
		cancel()
	})
	return &env{t: t, ctx: ctx, st: st, src: src, f: f}
}

// expected plans the store's current state from scratch and returns the
// revision with the plans of switch sw and host h.
func (e *env) expected(sw, h string) (int64, planner.SwitchPlan, planner.HostPlan) {
	e.t.Helper()
	snap, err := e.st.Snapshot(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := planner.New(planner.Config{}, snap.Inventory)
	if err != nil {
		e.t.Fatal(err)
	}
	return snap.Revision, p.SwitchPlan(sw), p.HostPlan(h)
}

func TestFeedFollowsStore(t *testing.T) {
	e := start(t)
	ctx := e.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sw, err := e.f.Switches().Watch(ctx, "gatewayhost", 0)
	must(err)
	hw, err := e.f.Hosts().Watch(ctx, "compute1", 0)
	must(err)
	var curSw planner.SwitchPlan
	var curH planner.HostPlan
	applySw := func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) }
	applyH := func(p *planner.HostPlan, d planner.HostDelta) { p.Apply(d) }
	check := func(step string, wantPlanEvent bool) {
		t.Helper()
		rev, wantSw, wantH := e.expected("gatewayhost", "compute1")
		gotPlan := follow(t, ctx, e.f, sw, rev, &curSw, applySw)
		follow(t, ctx, e.f, hw, rev, &curH, applyH)
		if gotPlan != wantPlanEvent {
			t.Errorf("%s: whole plan event = %v; want %v", step, gotPlan, wantPlanEvent)
		}
		if diff := cmp.Diff(wantSw, curSw); diff != "" {
			t.Errorf("%s: switch plan from events (-want +got):\n%s", step, diff)
		}
		if diff := cmp.Diff(wantH, curH); diff != "" {
			t.Errorf("%s: host plan from events (-want +got):\n%s", step, diff)
		}
	}

	must(e.st.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{
		Name: "gatewayhost", TunnelIPs: []string{"127.0.0.42"},
		Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2"}},
	}}))
	_, err = e.st.RegisterHost(ctx, "compute1", "127.0.0.11", time.Now())
	must(err)
	nets, err := e.st.CreateNetworks(ctx, []model.Network{{Name: "net1", NetworkType: "vxlan", VNI: 1000, AdminStateUp: true}})
	must(err)
	net1 := nets[0].ID
	ports, err := e.st.CreatePorts(ctx, []model.Port{{NetworkID: net1, MACAddress: "fa:16:3e:18:b5:c1", HostID: "compute1", AdminStateUp: true, InterfaceName: "tap1",
		FixedIPs: []model.FixedIP{{IPAddress: "10.0.0.186"}}}})
	must(err)
	check("before a connection", true)
	// Standalone: compute1 has net1 (its port's), without a gateway's part.
	if n, ok := curH.Networks[net1]; len(curSw.LogicalSwitches) != 0 || !ok || len(n.FDB) != 0 || len(n.FloodIPs) != 0 {
		t.Fatalf("plans before any connection: %+v %+v; want no switch plan and net1 alone on the host", curSw, curH)
	}

	gw, err := e.st.CreateGateway(ctx, model.Gateway{Name: "gw1", Devices: []model.Device{{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port1"}, {Name: "port2"}}}}})
	must(err)
	vlan := 100
	conn, err := e.st.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: net1, SegmentationID: &vlan})
	must(err)
	check("connection created", false)
	if got := curSw.Bindings[planner.BindingKey{Port: "port1", VLAN: 100}]; got != net1 {
		t.Errorf("binding port1/100 = %q; want %q", got, net1)
	}
	if _, ok := curSw.RemoteMACs[planner.MACKey{LogicalSwitch: net1, MAC: "fa:16:3e:18:b5:c1"}]; !ok {
		t.Errorf("remote MACs = %v; want fa:16:3e:18:b5:c1", curSw.RemoteMACs)
	}

	p := ports[0]
	p.FixedIPs = []model.FixedIP{{IPAddress: "10.0.0.7"}}
	_, err = e.st.UpdatePort(ctx, p)
	must(err)
	_, err = e.st.CreatePorts(ctx, []model.Port{{NetworkID: net1, HostID: "compute2", AdminStateUp: true}})
	must(err)
	must(e.st.ReportSwitch(ctx, model.SwitchReport{
		Switch:    model.Switch{Name: "gatewayhost", TunnelIPs: []string{"127.0.0.42"}, Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2"}}},
		LocalMACs: []model.LocalMAC{{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01"}},
	}))
	check("ports and local MACs changed", false)
	if n := curH.Networks[net1]; len(n.FDB) != 1 || len(n.FloodIPs) != 1 {
		t.Errorf("host network = %+v; want one FDB entry and one flood IP", n)
	}

	e.src.once.Store(true) // the next read of the log finds it compacted
	must(e.st.DeleteConnection(ctx, conn.ID))
	check("re-snapshot after compaction", true)
	if n, ok := curH.Networks[net1]; !curSw.Empty() || !ok || len(n.FDB) != 0 || len(n.FloodIPs) != 0 {
		t.Errorf("plans after the connection is gone: %+v %+v; want no switch plan and net1 without a gateway's part on the host", curSw, curH)
	}
}

// TestFeedWatchResume: a watcher that holds the plan at a revision resumes
// with no snapshot while the plan has not changed since, and gets a
// snapshot once it has.
func TestFeedWatchResume(t *testing.T) {
	e := start(t)
	ctx := e.ctx
	next := func(w planstream.SwitchSource, from int64) planner.SwitchEvent {
		t.Helper()
		s, err := w.Watch(ctx, "sw1", from)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	src := e.f.Switches()
	if err := e.st.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "sw1", Ports: []model.SwitchPort{{Name: "p1"}}}}); err != nil {
		t.Fatal(err)
	}
	nets, err := e.st.CreateNetworks(ctx, []model.Network{{Name: "n", NetworkType: "vxlan", VNI: 1234}})
	if err != nil {
		t.Fatal(err)
	}
	wait := func() int64 {
		t.Helper()
		rev, err := e.st.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.f.WaitRevision(ctx, rev); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	wait()
	first := next(src, 0)
	if first.Type != planner.EventSnapshot || !first.Plan.Empty() || first.Plan.Switch != "sw1" || first.Revision == 0 {
		t.Fatalf("first event from 0 = %+v; want the empty plan of sw1 at a revision", first)
	}
	gw, err := e.st.CreateGateway(ctx, model.Gateway{Devices: []model.Device{{Name: "sw1", Interfaces: []model.Interface{{Name: "p1", SegmentationIDs: []int{5}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	rev := wait()
	// Nothing planned on sw1 changed: the first plan is still current.
	if ev := next(src, first.Revision); ev.Type != planner.EventResumed || ev.Revision != rev {
		t.Errorf("watch from %d before the connection = %+v; want resumed at %d", first.Revision, ev, rev)
	}
	if _, err := e.st.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[0].ID}); err != nil {
		t.Fatal(err)
	}
	rev = wait()
	ev := next(src, first.Revision)
	if ev.Type != planner.EventSnapshot {
		t.Fatalf("watch from %d after the connection = %+v; want a snapshot", first.Revision, ev)
	}
	want := planner.LogicalSwitch{Name: nets[0].ID, NetworkID: nets[0].ID, VNI: 1234, ReplicationMode: planner.ReplicationSourceNode, Description: "n"}
	if diff := cmp.Diff(map[string]planner.LogicalSwitch{nets[0].ID: want}, ev.Plan.LogicalSwitches); diff != "" {
		t.Errorf("logical switches (-want +got):\n%s", diff)
	}
	// A revision newer than the feed's cannot be trusted: a snapshot.
	if ev := next(src, rev+100); ev.Type != planner.EventSnapshot {
		t.Errorf("watch from a future revision = %+v; want a snapshot", ev)
	}
}

func TestParseLocalMACID(t *testing.T) {
	tests := []struct {
		in   string
		want planner.LocalMACKey
		ok   bool
	}{
		{"sw1/net/52:54:00:00:00:01", planner.LocalMACKey{Switch: "sw1", NetworkID: "net", MAC: "52:54:00:00:00:01"}, true},
		{"rack/sw1/net/52:54:00:00:00:01", planner.LocalMACKey{Switch: "rack/sw1", NetworkID: "net", MAC: "52:54:00:00:00:01"}, true},
		{"net/mac", planner.LocalMACKey{}, false},
		{"", planner.LocalMACKey{}, false},
	}
	for _, tt := range tests {
		got, ok := parseLocalMACID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseLocalMACID(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

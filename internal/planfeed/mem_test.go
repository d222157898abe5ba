package planfeed

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/store"
)

// memSource is an in-memory change log with the store's contract (revisions,
// Notify, ErrCompacted before its first kept entry), for the feed's inner
// loop; feed_test.go runs the feed against the real SQLite store.
type memSource struct {
	mu        sync.Mutex
	rev       int64
	compacted int64 // changes <= compacted are gone
	log       []store.Change
	notify    chan struct{}
	gws       map[string]model.Gateway
	conns     map[string]model.Connection
	nets      map[string]model.Network
	ports     map[string]model.Port
	hosts     map[string]model.Host
	sws       map[string]model.Switch
}

func newMem() *memSource {
	return &memSource{notify: make(chan struct{}), gws: map[string]model.Gateway{}, conns: map[string]model.Connection{},
		nets: map[string]model.Network{}, ports: map[string]model.Port{}, hosts: map[string]model.Host{}, sws: map[string]model.Switch{}}
}

func put[V any](m *memSource, objs map[string]V, k store.Kind, id string, v *V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := store.OpUpdate
	if v == nil {
		op = store.OpDelete
		delete(objs, id)
	} else {
		objs[id] = *v
	}
	m.rev++
	m.log = append(m.log, store.Change{Revision: m.rev, Kind: k, ID: id, Op: op})
	close(m.notify)
	m.notify = make(chan struct{})
}

// compactNext drops the log up to and including the next change, as if
// compaction ran right after it.
func (m *memSource) compactNext() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.compacted = m.rev + 1
	m.log = nil
}

func (m *memSource) Notify() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.notify
}

func (m *memSource) Changes(_ context.Context, after int64, limit int) ([]store.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after < m.compacted {
		return nil, store.ErrCompacted
	}
	var out []store.Change
	for _, c := range m.log {
		if c.Revision > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func vals[V any](m map[string]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (m *memSource) Snapshot(context.Context) (store.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return store.Snapshot{Revision: m.rev, Inventory: model.Inventory{Gateways: vals(m.gws), Connections: vals(m.conns), Networks: vals(m.nets),
		Ports: vals(m.ports), Hosts: vals(m.hosts), Switches: vals(m.sws)}}, nil
}

func get[V any](m *memSource, objs map[string]V, id string) (V, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := objs[id]
	if !ok {
		return v, model.NewFault(model.ErrNotFound, "NotFound", "%s not found", id)
	}
	return v, nil
}

func (m *memSource) GetGateway(_ context.Context, id string) (model.Gateway, error) {
	return get(m, m.gws, id)
}
func (m *memSource) GetConnection(_ context.Context, id string) (model.Connection, error) {
	return get(m, m.conns, id)
}
func (m *memSource) GetNetwork(_ context.Context, id string) (model.Network, error) {
	return get(m, m.nets, id)
}
func (m *memSource) GetPort(_ context.Context, id string) (model.Port, error) {
	return get(m, m.ports, id)
}
func (m *memSource) GetHost(_ context.Context, id string) (model.Host, error) {
	return get(m, m.hosts, id)
}
func (m *memSource) GetSwitch(_ context.Context, n string) (model.Switch, error) {
	return get(m, m.sws, n)
}
func (m *memSource) ListLocalMACs(context.Context, store.Query) ([]model.LocalMAC, error) {
	return nil, nil
}

func TestFeedMem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := newMem()
	f, err := New(m, Config{PollInterval: time.Hour, BatchSize: 2, MaxPending: 3})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
	}()
	w, err := f.Switches().Watch(ctx, "sw1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var cur planner.SwitchPlan
	check := func(step string, wantPlanEvent bool) {
		t.Helper()
		snap, _ := m.Snapshot(ctx)
		p, err := planner.New(planner.Config{}, snap.Inventory)
		if err != nil {
			t.Fatal(err)
		}
		got := follow(t, ctx, f, w, snap.Revision, &cur, func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) })
		if got != wantPlanEvent {
			t.Errorf("%s: whole plan event = %v; want %v", step, got, wantPlanEvent)
		}
		if diff := cmp.Diff(p.SwitchPlan("sw1"), cur); diff != "" {
			t.Errorf("%s: plan from events (-want +got):\n%s", step, diff)
		}
	}
	check("empty store", true)

	vlan := 100
	put(m, m.nets, store.KindNetwork, "n1", &model.Network{ID: "n1", VNI: 1000})
	put(m, m.hosts, store.KindHost, "h1", &model.Host{ID: "h1", Name: "c1", VTEPIP: "10.0.0.1"})
	put(m, m.gws, store.KindGateway, "g1", &model.Gateway{ID: "g1", Devices: []model.Device{{Name: "sw1", Interfaces: []model.Interface{{Name: "p1"}}}}})
	put(m, m.conns, store.KindConnection, "c1", &model.Connection{ID: "c1", GatewayID: "g1", NetworkID: "n1", SegmentationID: &vlan})
	put(m, m.ports, store.KindPort, "pt1", &model.Port{ID: "pt1", NetworkID: "n1", MACAddress: "fa:16:3e:00:00:01", HostID: "c1"})
	check("connected, read in batches of 2", false)
	if len(cur.RemoteMACs) != 1 {
		t.Errorf("remote MACs = %v; want one", cur.RemoteMACs)
	}

	// More deltas than MaxPending collapse into one whole plan: 8 new
	// MACs make at least 4 non-empty deltas (batches hold 2 changes).
	for i := range 8 {
		id := fmt.Sprintf("pt%d", 10+i)
		put(m, m.ports, store.KindPort, id, &model.Port{ID: id, NetworkID: "n1", MACAddress: fmt.Sprintf("fa:16:3e:00:01:%02x", i), HostID: "c1"})
	}
	check("watcher fell behind", true)

	put(m, m.ports, store.KindPort, "pt1", nil)
	check("port deleted", false)

	m.compactNext()
	put(m, m.conns, store.KindConnection, "c1", nil)
	check("compacted log: re-snapshot", true)
	if !cur.Empty() {
		t.Errorf("plan after the connection is gone = %+v; want empty", cur)
	}
}

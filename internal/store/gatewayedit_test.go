package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// opener opens a store on the case's database: on SQLite the one store (a
// file has one writer process), on PostgreSQL a new instance each time, as
// replicas of the server are.
type opener func(t *testing.T) store.Store

// TestGatewayEdit runs the interface add/remove cases against SQLite and
// PostgreSQL.
func TestGatewayEdit(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"Add", testAddInterfaces},
		{"Remove", testRemoveInterfaces},
		{"Connected", testEditConnectedGateway},
		{"Concurrent", testConcurrentInterfaceEdits},
	}
	t.Run("sqlite", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				c.run(t, func(*testing.T) store.Store { return s })
			})
		}
	})
	t.Run("postgres", func(t *testing.T) {
		server := testenv.StartPostgres(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				dsn := testenv.PostgresDatabase(t, server)
				c.run(t, func(t *testing.T) store.Store {
					s, err := store.Open(context.Background(), dsn, store.Config{})
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				})
			})
		}
	})
}

func devUpdate(name string, ifs ...model.Interface) model.DeviceUpdate {
	return model.DeviceUpdate{Name: name, Interfaces: ifs}
}

func ifaceNames(g model.Gateway) map[string][]string {
	out := map[string][]string{}
	for _, d := range g.Devices {
		out[d.Name] = []string{}
		for _, it := range d.Interfaces {
			out[d.Name] = append(out[d.Name], it.Name)
		}
	}
	return out
}

func testAddInterfaces(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	g := mustGateway(t, s, "g", dev("sw1", iface("p1"), iface("p2")))
	gv := mustGateway(t, s, "gv", dev("sw1", iface("p3", 100, 101)))

	got, err := s.AddGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3"))}, nil)
	if err != nil {
		t.Fatalf("AddGatewayInterfaces(p3) = %v", err)
	}
	want := g
	want.Devices = []model.Device{{ID: g.Devices[0].ID, Name: "sw1", Interfaces: []model.Interface{iface("p1"), iface("p2"), iface("p3")}}}
	want.RevisionNumber = 2
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("AddGatewayInterfaces(p3) (-want +got):\n%s", d)
	}

	// The same interface again is a no-op: a retried request succeeds and
	// nothing is written.
	before := rev(t, s)
	got, err = s.AddGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3"), iface("p1"))}, nil)
	if err != nil || !cmp.Equal(want, got, cmpopts.EquateEmpty()) {
		t.Errorf("AddGatewayInterfaces(present) = %+v, %v; want %+v", got, err, want)
	}
	if after := rev(t, s); after != before {
		t.Errorf("revision after a no-op add = %d; want %d", after, before)
	}
	// Same VLANs in another order: also present.
	if got, err := s.AddGatewayInterfaces(ctx, gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3", 101, 100))}, nil); err != nil || got.RevisionNumber != 1 {
		t.Errorf("AddGatewayInterfaces(present, VLANs reordered) = %+v, %v; want revision 1", got, err)
	}

	// A new device is appended with its interfaces.
	got, err = s.AddGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw2", iface("e1"), iface("e2"))}, revp(2))
	if err != nil {
		t.Fatalf("AddGatewayInterfaces(new device) = %v", err)
	}
	if len(got.Devices) != 2 || got.Devices[1].ID == "" || got.RevisionNumber != 3 {
		t.Errorf("AddGatewayInterfaces(new device) = %+v; want a second device with an id, revision 3", got)
	}
	want = got
	if g2, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(want, g2, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway after add = %+v; want %+v", g2, want)
	}

	mustReport(t, s, "sw1", "p1", "p2", "p3", "p4", "p5")
	for _, c := range []struct {
		what, id   string
		devs       []model.DeviceUpdate
		ifRevision *int64
		kind       error
		typ, msg   string
	}{
		{"unknown gateway", "nosuch", []model.DeviceUpdate{devUpdate("sw1", iface("p4"))}, nil,
			model.ErrNotFound, "L2GatewayNotFound", "L2 Gateway nosuch could not be found"},
		{"stale revision", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4"))}, revp(2),
			model.ErrPrecondition, "RevisionNumberConstraintFailed", "Constrained to 2, but current revision is 3"},
		{"VLAN on a VLAN-less device", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4", 100))}, nil,
			model.ErrInvalid, "L2GatewaySegmentationIDNotExists", "The segmentation id is not specified in existing gateway interfaces."},
		{"no VLAN on a VLAN device", gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4"))}, nil,
			model.ErrInvalid, "L2GatewaySegmentationIDExists", "The segmentation id is already specified in existing gateway interfaces."},
		{"present with other VLANs", gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4", 200), iface("p3", 100))}, nil,
			model.ErrConflict, "L2GatewayInterfaceExists",
			"Interface 'p3' of device 'sw1' is already in the gateway with segmentation ids 100,101; remove it first to change its segmentation ids."},
		{"not a port of the reported switch", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4"), iface("p9"))}, nil,
			model.ErrNotFound, "L2GatewayInterfaceNotFound", "L2 Gateway interface 'p9' not found."},
		{"VLAN 0", g.ID, []model.DeviceUpdate{devUpdate("sw3", iface("x", 0))}, nil,
			model.ErrInvalid, "", ""},
	} {
		_, err := s.AddGatewayInterfaces(ctx, c.id, c.devs, c.ifRevision)
		if c.typ == "" {
			if err == nil {
				t.Errorf("AddGatewayInterfaces(%s) = nil error; want one", c.what)
			}
			continue
		}
		wantFault(t, "AddGatewayInterfaces("+c.what+")", err, c.kind, c.typ, c.msg)
	}
	// The failed adds changed nothing, not even the devices before the
	// failing one.
	if g2, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(want, g2, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway after failed adds = %+v; want %+v", g2, want)
	}
	got, err = s.AddGatewayInterfaces(ctx, gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3", 100, 101), iface("p5", 102))}, revp(1))
	if err != nil {
		t.Fatalf("AddGatewayInterfaces(p5 on VLAN gateway) = %v", err)
	}
	if d := cmp.Diff([]model.Interface{iface("p3", 100, 101), iface("p5", 102)}, got.Devices[0].Interfaces); d != "" {
		t.Errorf("interfaces after add (-want +got):\n%s", d)
	}
}

func testRemoveInterfaces(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	g := mustGateway(t, s, "g", dev("sw1", iface("p1"), iface("p2"), iface("p3")), dev("sw2", iface("e1")))
	gv := mustGateway(t, s, "gv", dev("sw1", iface("p3", 100, 101), iface("p4", 102)))

	for _, c := range []struct {
		what, id   string
		devs       []model.DeviceUpdate
		ifRevision *int64
		kind       error
		typ, msg   string
	}{
		{"unknown gateway", "nosuch", []model.DeviceUpdate{devUpdate("sw1", iface("p1"))}, nil,
			model.ErrNotFound, "L2GatewayNotFound", "L2 Gateway nosuch could not be found"},
		{"unknown device", g.ID, []model.DeviceUpdate{devUpdate("sw9", iface("p1"))}, nil,
			model.ErrNotFound, "L2GatewayDeviceNotFound", "L2 Gateway Device sw9 could not be found."},
		{"absent interface", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"), iface("p9"))}, nil,
			model.ErrNotFound, "L2GatewayInterfaceNotFound", "L2 Gateway interface 'p9' not found on device 'sw1'."},
		{"other VLANs", gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3", 100))}, nil,
			model.ErrConflict, "L2GatewayInterfaceMismatch",
			"Interface 'p3' of device 'sw1' has segmentation ids 100,101, not segmentation ids 100; nothing was removed."},
		{"stale revision", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"))}, revp(0),
			model.ErrPrecondition, "RevisionNumberConstraintFailed", "Constrained to 0, but current revision is 1"},
		{"every device", g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"), iface("p2"), iface("p3")), devUpdate("sw2", iface("e1"))}, nil,
			model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: removing these interfaces would leave L2 gateway " + g.ID + " with an empty device list; delete the gateway instead."},
	} {
		_, err := s.RemoveGatewayInterfaces(ctx, c.id, c.devs, c.ifRevision)
		wantFault(t, "RemoveGatewayInterfaces("+c.what+")", err, c.kind, c.typ, c.msg)
	}
	if got, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(g, got, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway after failed removes = %+v; want %+v", got, g)
	}

	got, err := s.RemoveGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p2"))}, revp(1))
	if err != nil {
		t.Fatalf("RemoveGatewayInterfaces(p2) = %v", err)
	}
	if d := cmp.Diff(map[string][]string{"sw1": {"p1", "p3"}, "sw2": {"e1"}}, ifaceNames(got)); d != "" || got.RevisionNumber != 2 {
		t.Errorf("after removing p2 (-want +got):\n%s revision %d; want 2", d, got.RevisionNumber)
	}
	// The last interface of a device takes the device with it.
	got, err = s.RemoveGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw2", iface("e1"))}, nil)
	if err != nil {
		t.Fatalf("RemoveGatewayInterfaces(e1) = %v", err)
	}
	if d := cmp.Diff(map[string][]string{"sw1": {"p1", "p3"}}, ifaceNames(got)); d != "" {
		t.Errorf("after removing sw2's last interface (-want +got):\n%s", d)
	}
	if g2, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(got, g2, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway = %+v; want %+v", g2, got)
	}
	// A removed device can be added back; it comes last.
	got, err = s.AddGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw2", iface("e2"))}, nil)
	if err != nil || len(got.Devices) != 2 || got.Devices[1].Name != "sw2" {
		t.Errorf("AddGatewayInterfaces(sw2 again) = %+v, %v", got, err)
	}
	// VLANs given must be the interface's, in any order.
	got, err = s.RemoveGatewayInterfaces(ctx, gv.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p3", 101, 100))}, nil)
	if err != nil || !cmp.Equal([]model.Interface{iface("p4", 102)}, got.Devices[0].Interfaces) {
		t.Errorf("RemoveGatewayInterfaces(p3 with its VLANs) = %+v, %v", got, err)
	}
}

// testEditConnectedGateway: edits of a connected gateway move its
// bindings, and are refused where the PUT would be.
func testEditConnectedGateway(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	f := newConnFixture(t, s) // sw1 reports p1..p4; g on p1, p2; gv on p3 (101, 102)
	other := mustGateway(t, s, "other", dev("sw1", iface("p4")))
	net2 := mustNetwork(t, s, model.Network{Name: "n2"})
	net3 := mustNetwork(t, s, model.Network{Name: "n3"})
	for _, c := range []model.Connection{
		{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)},
		{GatewayID: other.ID, NetworkID: net2.ID, SegmentationID: intp(300)},
		{GatewayID: f.gwVLAN.ID, NetworkID: net3.ID},
	} {
		if _, err := s.CreateConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// p4 already carries VLAN 300 for "other".
	_, err := s.AddGatewayInterfaces(ctx, f.gw.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p4"))}, nil)
	wantFault(t, "AddGatewayInterfaces(collides)", err, model.ErrConflict, "L2GatewayDuplicateSegmentationID", "")
	// Removing p1 from the connected gateway releases its binding...
	if _, err := s.RemoveGatewayInterfaces(ctx, f.gw.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"))}, nil); err != nil {
		t.Fatalf("RemoveGatewayInterfaces(connected) = %v", err)
	}
	// ...so "other" can take it, and g cannot have it back.
	if _, err := s.AddGatewayInterfaces(ctx, other.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"))}, nil); err != nil {
		t.Errorf("AddGatewayInterfaces(onto released port) = %v", err)
	}
	_, err = s.AddGatewayInterfaces(ctx, f.gw.ID, []model.DeviceUpdate{devUpdate("sw1", iface("p1"))}, nil)
	wantFault(t, "AddGatewayInterfaces(taken back)", err, model.ErrConflict, "L2GatewayDuplicateSegmentationID", "")
	// gv's connection has no default VLAN: a new device without VLANs
	// would stay unbridged.
	_, err = s.AddGatewayInterfaces(ctx, f.gwVLAN.ID, []model.DeviceUpdate{devUpdate("sw2", iface("e1"))}, nil)
	wantFault(t, "AddGatewayInterfaces(unbridged)", err, model.ErrInvalid, "InvalidInput", "")
	got, err := s.AddGatewayInterfaces(ctx, f.gwVLAN.ID, []model.DeviceUpdate{devUpdate("sw2", iface("e1", 105))}, nil)
	if err != nil || len(got.Devices) != 2 {
		t.Errorf("AddGatewayInterfaces(new device with VLANs, connected) = %+v, %v", got, err)
	}
}

// testConcurrentInterfaceEdits: adds from many goroutines (on PostgreSQL
// through two store instances, as two replicas) all land, and so do the
// removes; each is one revision.
func testConcurrentInterfaceEdits(t *testing.T, open opener) {
	const workers = 32
	ctx := context.Background()
	stores := []store.Store{open(t), open(t)}
	s := stores[0]
	g := mustGateway(t, s, "g", dev("sw1", iface("p0")))
	want := []string{"p0"}
	for i := range workers {
		want = append(want, fmt.Sprintf("p%d", i+1))
	}
	edit := func(what string, do func(st store.Store, i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, workers)
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = do(stores[i%len(stores)], i)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s p%d = %v", what, i+1, err)
			}
		}
	}
	edit("AddGatewayInterfaces", func(st store.Store, i int) error {
		_, err := st.AddGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw1", iface(fmt.Sprintf("p%d", i+1)))}, nil)
		return err
	})
	got, err := s.GetGateway(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	names := ifaceNames(got)["sw1"]
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) || got.RevisionNumber != 1+workers {
		t.Errorf("after %d concurrent adds: %v, revision %d; want %v, revision %d", workers, names, got.RevisionNumber, want, 1+workers)
	}
	edit("RemoveGatewayInterfaces", func(st store.Store, i int) error {
		_, err := st.RemoveGatewayInterfaces(ctx, g.ID, []model.DeviceUpdate{devUpdate("sw1", iface(fmt.Sprintf("p%d", i+1)))}, nil)
		return err
	})
	got, err = s.GetGateway(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string][]string{"sw1": {"p0"}}, ifaceNames(got)); d != "" || got.RevisionNumber != 1+2*workers {
		t.Errorf("after %d concurrent removes (-want +got):\n%s revision %d; want %d", workers, d, got.RevisionNumber, 1+2*workers)
	}
}

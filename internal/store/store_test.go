package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// storeCase is one test of the suite; it gets a fresh, empty store.
type storeCase struct {
	name string
	cfg  store.Config
	run  func(t *testing.T, s store.Store)
}

// TestStore runs the whole suite against SQLite (a file in t.TempDir()) and
// PostgreSQL 15 (one throw-away server, a new database per case).
func TestStore(t *testing.T) {
	cases := []storeCase{
		{name: "GatewayCRUD", run: testGatewayCRUD},
		{name: "GatewayCreateConflicts", run: testGatewayCreateConflicts},
		{name: "GatewayListQuery", run: testGatewayListQuery},
		{name: "GatewayUpdateDevices", run: testGatewayUpdateDevices},
		{name: "GatewayRevision", run: testGatewayRevision},
		{name: "ConnectionCreateChecks", run: testConnectionCreateChecks},
		{name: "ConnectionLifecycle", run: testConnectionLifecycle},
		{name: "DuplicateSegmentationID", run: testDuplicateSegmentationID},
		{name: "UpdateConnectedGateway", run: testUpdateConnectedGateway},
		{name: "Networks", run: testNetworks},
		{name: "VNIExhausted", cfg: store.Config{VNIMin: 10, VNIMax: 11}, run: testVNIExhausted},
		{name: "DeleteNetworkCascade", run: testDeleteNetworkCascade},
		{name: "Ports", run: testPorts},
		{name: "PortPages", run: testPortPages},
		{name: "Hosts", run: testHosts},
		{name: "RegisterHostConflict", run: testRegisterHostConflict},
		{name: "Revisions", run: testRevisions},
		{name: "Compaction", cfg: store.Config{ChangeLogKeep: 5}, run: testCompaction},
		{name: "Snapshot", run: testSnapshot},
		{name: "ReportSwitch", run: testReportSwitch},
		{name: "SyncStatus", run: testSyncStatus},
		{name: "ChangeReadersSeeObjects", run: testChangeReadersSeeObjects},
		{name: "ConcurrentConnections", run: testConcurrentConnections},
		{name: "ConcurrentHostStatuses", run: testConcurrentHostStatuses},
		{name: "Mirror", run: testMirror},
	}
	t.Run("sqlite", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				s, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), c.cfg)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				c.run(t, s)
			})
		}
	})
	t.Run("postgres", func(t *testing.T) {
		server := testenv.StartPostgres(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				s, err := store.Open(ctx, testenv.PostgresDatabase(t, server), c.cfg)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				c.run(t, s)
			})
		}
	})
}

func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite://" + filepath.Join(dir, "a.db"),
		filepath.Join(dir, "b.db"),
		"sqlite://" + filepath.Join(dir, "sub", "c.db"),
	} {
		s, err := store.Open(ctx, dsn, store.Config{})
		if err != nil {
			t.Errorf("Open(%q) = %v", dsn, err)
			continue
		}
		s.Close()
	}
	if _, err := store.Open(ctx, "mysql://x", store.Config{}); err == nil {
		t.Errorf("Open(mysql://x) = nil error; want unsupported")
	}
	// Reopening keeps the data and the revision.
	p := "sqlite://" + filepath.Join(dir, "a.db")
	s, _ := store.Open(ctx, p, store.Config{})
	g := mustGateway(t, s, "g", dev("sw", iface("p1")))
	s.Close()
	s, err := store.Open(ctx, p, store.Config{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.GetGateway(ctx, g.ID); err != nil {
		t.Errorf("GetGateway after reopen = %v", err)
	}
	if rev, _ := s.Revision(ctx); rev != 1 {
		t.Errorf("Revision after reopen = %d; want 1", rev)
	}
}

// --- helpers ---

func iface(name string, vlans ...int) model.Interface {
	return model.Interface{Name: name, SegmentationIDs: vlans}
}

func dev(name string, ifs ...model.Interface) model.Device {
	return model.Device{Name: name, Interfaces: ifs}
}

func intp(v int) *int { return &v }

func mustGateway(t *testing.T, s store.Store, name string, devs ...model.Device) model.Gateway {
	t.Helper()
	g, err := s.CreateGateway(context.Background(), model.Gateway{Name: name, TenantID: "tenant", Devices: devs})
	if err != nil {
		t.Fatalf("CreateGateway(%s) = %v", name, err)
	}
	return g
}

func mustNetwork(t *testing.T, s store.Store, n model.Network) model.Network {
	t.Helper()
	ns, err := s.CreateNetworks(context.Background(), []model.Network{n})
	if err != nil {
		t.Fatalf("CreateNetworks(%s) = %v", n.Name, err)
	}
	return ns[0]
}

func mustReport(t *testing.T, s store.Store, sw string, ports ...string) {
	t.Helper()
	r := model.SwitchReport{Switch: model.Switch{Name: sw, TunnelIPs: []string{"192.0.2.1"}}}
	for _, p := range ports {
		r.Switch.Ports = append(r.Switch.Ports, model.SwitchPort{Name: p})
	}
	if err := s.ReportSwitch(context.Background(), r); err != nil {
		t.Fatalf("ReportSwitch(%s) = %v", sw, err)
	}
}

func rev(t *testing.T, s store.Store) int64 {
	t.Helper()
	r, err := s.Revision(context.Background())
	if err != nil {
		t.Fatalf("Revision() = %v", err)
	}
	return r
}

// wantFault checks err is a *model.Fault of that kind, type and (when not
// empty) message.
func wantFault(t *testing.T, what string, err error, kind error, typ, msg string) {
	t.Helper()
	var f *model.Fault
	if !errors.As(err, &f) {
		t.Errorf("%s = %v; want fault %s", what, err, typ)
		return
	}
	if !errors.Is(err, kind) || f.Type != typ || (msg != "" && f.Message != msg) {
		t.Errorf("%s = %v %q %q; want %v %q %q", what, f.Kind, f.Type, f.Message, kind, typ, msg)
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func gwID(g model.Gateway) string { return g.ID }

// --- gateways ---

// testGatewayCreateConflicts: a gateway or device id taken already (ids
// given, as a mirror of Neutron gives them) is a 409 naming it, and the
// refused create leaves nothing behind; a device without interfaces is
// stored as such.
func testGatewayCreateConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	g, err := s.CreateGateway(ctx, model.Gateway{Name: "g1", Devices: []model.Device{dev("sw1", iface("p1")), {Name: "sw2"}}})
	if err != nil {
		t.Fatalf("CreateGateway = %v", err)
	}
	if got, err := s.GetGateway(ctx, g.ID); err != nil || len(got.Devices) != 2 || len(got.Devices[1].Interfaces) != 0 {
		t.Errorf("GetGateway = %+v, %v; want two devices, the second without interfaces", got, err)
	}
	_, err = s.CreateGateway(ctx, model.Gateway{ID: g.ID, Name: "again", Devices: []model.Device{dev("sw1", iface("p1"))}})
	wantFault(t, "CreateGateway(same id)", err, model.ErrConflict, "L2GatewayExists", "L2 Gateway "+g.ID+" already exists.")
	taken := g.Devices[1].ID
	_, err = s.CreateGateway(ctx, model.Gateway{Name: "g2", Devices: []model.Device{dev("sw3", iface("p1")), {ID: taken, Name: "sw4", Interfaces: []model.Interface{iface("p2")}}}})
	wantFault(t, "CreateGateway(device id taken)", err, model.ErrConflict, "L2GatewayDeviceExists", "L2 Gateway Device "+taken+" already exists.")
	gws, err := s.ListGateways(ctx, store.Query{})
	if err != nil || len(gws) != 1 || gws[0].ID != g.ID {
		t.Errorf("ListGateways after the refusals = %+v, %v; want only %s", gws, err, g.ID)
	}
}

func testGatewayCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	g, err := s.CreateGateway(ctx, model.Gateway{Name: "g1", TenantID: "tenant", Devices: []model.Device{
		dev("sw1", iface("p1", 100, 101), iface("p2"), iface("p1", 101, 102)),
		dev("sw2", iface("eth1")),
	}})
	if err != nil {
		t.Fatalf("CreateGateway = %v", err)
	}
	if g.ID == "" || g.Devices[0].ID == "" || g.Devices[1].ID == "" || g.Devices[0].ID == g.Devices[1].ID {
		t.Errorf("CreateGateway ids = %q %q %q; want generated, distinct", g.ID, g.Devices[0].ID, g.Devices[1].ID)
	}
	want := model.Gateway{ID: g.ID, Name: "g1", TenantID: "tenant", Devices: []model.Device{
		{ID: g.Devices[0].ID, Name: "sw1", Interfaces: []model.Interface{iface("p1", 100, 101, 102), iface("p2")}},
		{ID: g.Devices[1].ID, Name: "sw2", Interfaces: []model.Interface{iface("eth1")}},
	}, RevisionNumber: 1}
	opt := cmpopts.EquateEmpty()
	if d := cmp.Diff(want, g, opt); d != "" {
		t.Errorf("CreateGateway (-want +got):\n%s", d)
	}
	got, err := s.GetGateway(ctx, g.ID)
	if err != nil {
		t.Fatalf("GetGateway = %v", err)
	}
	if d := cmp.Diff(want, got, opt); d != "" {
		t.Errorf("GetGateway (-want +got):\n%s", d)
	}

	// Name only when given.
	got, err = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{})
	if err != nil || got.Name != "g1" {
		t.Errorf("UpdateGateway({}) = %q, %v; want name kept", got.Name, err)
	}
	name := "g1r"
	if got, err = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Name: &name}); err != nil || got.Name != "g1r" {
		t.Errorf("UpdateGateway(name) = %q, %v", got.Name, err)
	}
	if got, _ = s.GetGateway(ctx, g.ID); got.Name != "g1r" || len(got.Devices) != 2 {
		t.Errorf("GetGateway after rename = %+v", got)
	}

	if err := s.DeleteGateway(ctx, g.ID); err != nil {
		t.Fatalf("DeleteGateway = %v", err)
	}
	for _, id := range []string{g.ID, "not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		_, err = s.GetGateway(ctx, id)
		wantFault(t, "GetGateway("+id+")", err, model.ErrNotFound, "L2GatewayNotFound", "L2 Gateway "+id+" could not be found")
		err = s.DeleteGateway(ctx, id)
		wantFault(t, "DeleteGateway("+id+")", err, model.ErrNotFound, "L2GatewayNotFound", "L2 Gateway "+id+" could not be found")
		_, err = s.UpdateGateway(ctx, id, model.GatewayUpdate{Name: &name})
		wantFault(t, "UpdateGateway("+id+")", err, model.ErrNotFound, "L2GatewayNotFound", "")
	}
	_, err = s.CreateGateway(ctx, model.Gateway{Devices: []model.Device{dev("sw", iface("p", 4095))}})
	wantFault(t, "CreateGateway(vlan 4095)", err, model.ErrInvalid, "InvalidInput", "Invalid input for operation: Segmentation id is out of range.")
	// 0 is not a VLAN: refused, not read as "no VLAN" (the interface would
	// otherwise end up unbound).
	_, err = s.CreateGateway(ctx, model.Gateway{Devices: []model.Device{dev("sw", iface("p", 100, 0))}})
	wantFault(t, "CreateGateway(vlan 0)", err, model.ErrInvalid, "InvalidInput", "Invalid input for operation: Segmentation id 0 is not a valid VLAN; valid VLANs are 1-4094.")
}

func testGatewayListQuery(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []model.Gateway
	for i := range 7 {
		g, err := s.CreateGateway(ctx, model.Gateway{Name: fmt.Sprintf("g%d", i%3), TenantID: fmt.Sprintf("t%d", i%2),
			Devices: []model.Device{dev("sw", iface(fmt.Sprintf("p%d", i)))}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, g)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	allIDs := ids(all, gwID)
	filter := func(f func(model.Gateway) bool) []string {
		var out []string
		for _, g := range all {
			if f(g) {
				out = append(out, g.ID)
			}
		}
		return out
	}
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"all", store.Query{}, allIDs},
		{"names", store.Query{Names: []string{"g0", "g2"}}, filter(func(g model.Gateway) bool { return g.Name != "g1" })},
		{"tenant", store.Query{TenantIDs: []string{"t1"}}, filter(func(g model.Gateway) bool { return g.TenantID == "t1" })},
		{"ids", store.Query{IDs: []string{allIDs[4], allIDs[1]}}, []string{allIDs[1], allIDs[4]}},
		{"one id", store.Query{IDs: []string{allIDs[3]}}, []string{allIDs[3]}},
		{"unknown id", store.Query{IDs: []string{"nope"}}, nil},
		{"name and tenant", store.Query{Names: []string{"g0"}, TenantIDs: []string{"t0"}}, filter(func(g model.Gateway) bool { return g.Name == "g0" && g.TenantID == "t0" })},
		{"limit", store.Query{Limit: 3}, allIDs[:3]},
		{"marker", store.Query{Marker: allIDs[2], Limit: 2}, allIDs[3:5]},
		{"marker to end", store.Query{Marker: allIDs[5]}, allIDs[6:]},
		{"marker unknown", store.Query{Marker: "0"}, allIDs},
	}
	for _, tt := range tests {
		got, err := s.ListGateways(ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: ListGateways = %v", tt.name, err)
		}
		if d := cmp.Diff(tt.want, ids(got, gwID), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: ListGateways(%+v) ids (-want +got):\n%s", tt.name, tt.q, d)
		}
	}
	got, _ := s.ListGateways(ctx, store.Query{})
	if d := cmp.Diff(all, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("ListGateways content (-want +got):\n%s", d)
	}
}

func testGatewayUpdateDevices(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := mustGateway(t, s, "g", dev("sw1", iface("p1"), iface("p2")), dev("sw2", iface("e1")))
	gv := mustGateway(t, s, "gv", dev("sw1", iface("p3", 100)))

	_, err := s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "nosuch", Interfaces: []model.Interface{iface("x")}}}})
	wantFault(t, "UpdateGateway(unknown device)", err, model.ErrNotFound, "L2GatewayDeviceNotFound", "L2 Gateway Device nosuch could not be found.")

	// The switch is unknown: any interface is accepted; the list is replaced.
	got, err := s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p1"), iface("p4"), iface("p4")}}}})
	if err != nil {
		t.Fatalf("UpdateGateway(devices) = %v", err)
	}
	want := g
	want.Devices = []model.Device{
		{ID: g.Devices[0].ID, Name: "sw1", Interfaces: []model.Interface{iface("p1"), iface("p4")}},
		g.Devices[1],
	}
	want.RevisionNumber = 2
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("UpdateGateway (-want +got):\n%s", d)
	}
	if got, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(want, got, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway after update = %+v; want %+v", got, want)
	}

	_, err = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p2", 200, 201)}}}})
	wantFault(t, "UpdateGateway(vlan on vlan-less)", err, model.ErrInvalid, "L2GatewaySegmentationIDNotExists", "The segmentation id is not specified in existing gateway interfaces.")
	_, err = s.UpdateGateway(ctx, gv.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p3", 100), iface("p4")}}}})
	wantFault(t, "UpdateGateway(no vlan on vlan gateway)", err, model.ErrInvalid, "L2GatewaySegmentationIDExists", "The segmentation id is already specified in existing gateway interfaces.")

	// Once the switch is known, new interfaces must be its ports.
	mustReport(t, s, "sw1", "p1", "p2", "p3", "p4", "p5")
	_, err = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p1"), iface("p9")}}}})
	wantFault(t, "UpdateGateway(unknown port)", err, model.ErrNotFound, "L2GatewayInterfaceNotFound", "L2 Gateway interface 'p9' not found.")
	got, err = s.UpdateGateway(ctx, gv.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p5", 300)}}}})
	if err != nil || len(got.Devices[0].Interfaces) != 1 || got.Devices[0].Interfaces[0].Name != "p5" {
		t.Errorf("UpdateGateway(vlan gateway, known port) = %+v, %v", got, err)
	}
	// A failed update changes nothing.
	if got, _ := s.GetGateway(ctx, g.ID); !cmp.Equal(want, got, cmpopts.EquateEmpty()) {
		t.Errorf("GetGateway after failed updates = %+v; want %+v", got, want)
	}
}

// --- connections ---

// connFixture is a gateway on a reported switch and a VXLAN network.
type connFixture struct {
	gw, gwVLAN model.Gateway
	net        model.Network
}

func newConnFixture(t *testing.T, s store.Store) connFixture {
	mustReport(t, s, "sw1", "p1", "p2", "p3", "p4")
	return connFixture{
		gw:     mustGateway(t, s, "g", dev("sw1", iface("p1"), iface("p2"))),
		gwVLAN: mustGateway(t, s, "gv", dev("sw1", iface("p3", 101, 102))),
		net:    mustNetwork(t, s, model.Network{Name: "n", NetworkType: "vxlan"}),
	}
}

func testConnectionCreateChecks(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	vlanNet := mustNetwork(t, s, model.Network{Name: "vlan", NetworkType: "vlan", VNI: 5})
	unknownSw := mustGateway(t, s, "gu", dev("sw1", iface("p4")), dev("otherswitch", iface("eth1")))
	unknownPort := mustGateway(t, s, "gp", dev("sw1", iface("p9")))
	if err := s.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "swfault", FaultStatus: []string{"power_supply_failure"},
		Ports: []model.SwitchPort{{Name: "x"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReportSwitch(ctx, model.SwitchReport{Switch: model.Switch{Name: "swpfault", FaultStatus: []string{"UP"},
		Ports: []model.SwitchPort{{Name: "ok", FaultStatus: []string{"UP"}}, {Name: "down", FaultStatus: []string{"link_down"}}}}}); err != nil {
		t.Fatal(err)
	}
	swFault := mustGateway(t, s, "gf", dev("swfault", iface("x")))
	portFault := mustGateway(t, s, "gpf", dev("swpfault", iface("ok"), iface("down")))
	// Devices of one gateway may differ in VLAN mode (the original allows
	// it), but no default applies when some interface has VLANs.
	mixed := mustGateway(t, s, "gm", dev("sw1", iface("p1"), iface("p2")), dev("sw2", iface("e1", 10)))
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}); err != nil {
		t.Fatalf("CreateConnection = %v", err)
	}
	const unknown = "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name     string
		c        model.Connection
		kind     error
		typ, msg string
	}{
		{"unknown network first", model.Connection{GatewayID: unknown, NetworkID: unknown}, model.ErrNotFound, "NetworkNotFound",
			"Network " + unknown + " could not be found."},
		{"default on vlan gateway", model.Connection{GatewayID: f.gwVLAN.ID, NetworkID: f.net.ID, SegmentationID: intp(5)}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation."},
		{"no default", model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: Segmentation id must be specified in create l2gateway connections."},
		{"no default, unknown gateway", model.Connection{GatewayID: unknown, NetworkID: f.net.ID}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: Segmentation id must be specified in create l2gateway connections."},
		{"out of range", model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(4095)}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: Segmentation id is out of range."},
		{"vlan 0", model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(0)}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: Segmentation id 0 is not a valid VLAN; valid VLANs are 1-4094."},
		{"interfaces left unbridged", model.Connection{GatewayID: mixed.ID, NetworkID: f.net.ID}, model.ErrInvalid, "InvalidInput",
			"Invalid input for operation: interfaces without a segmentation id would stay unbridged: 2 interfaces: sw1/p1, sw1/p2. " +
				"L2 gateway " + mixed.ID + " has segmentation ids on its other interfaces, so no default segmentation_id applies; " +
				"re-create the gateway with segmentation ids on every interface, or on none and give the connection a default segmentation_id."},
		{"duplicate", model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(302)}, model.ErrConflict, "L2GatewayConnectionExists",
			fmt.Sprintf("The specified mapping '{'network_id': '%s', 'l2_gateway_id': '%s', 'segmentation_id': '302'}' exists on network gateway '%s'.", f.net.ID, f.gw.ID, f.gw.ID)},
		{"unknown gateway", model.Connection{GatewayID: unknown, NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrNotFound, "L2GatewayNotFound",
			"L2 Gateway " + unknown + " could not be found"},
		{"non-uuid gateway", model.Connection{GatewayID: "x", NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrNotFound, "L2GatewayNotFound",
			"L2 Gateway x could not be found"},
		{"unreported device", model.Connection{GatewayID: unknownSw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrNotFound, "L2GatewayDeviceNotFound",
			"L2 Gateway Device otherswitch could not be found."},
		{"unknown port", model.Connection{GatewayID: unknownPort.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrNotFound, "L2GatewayInterfaceNotFound",
			"L2 Gateway interface 'p9' not found."},
		{"switch fault", model.Connection{GatewayID: swFault.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrConflict, "L2GatewayPhysicalSwitchFaultStatus",
			"Physical Switch 'swfault' switch_fault_status is 'power_supply_failure'"},
		{"port fault", model.Connection{GatewayID: portFault.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}, model.ErrConflict, "L2GatewayPhysicalPortFaultStatus",
			"Physical Port 'down' in Physical switch 'swpfault' port_fault_status is 'link_down'"},
		{"not vxlan", model.Connection{GatewayID: f.gw.ID, NetworkID: vlanNet.ID, SegmentationID: intp(300)}, model.ErrNotFound, "VxlanSegmentationIDNotFound",
			"vxlan segmentation id not found for the network '" + vlanNet.ID + "'"},
	}
	before := rev(t, s)
	for _, tt := range tests {
		_, err := s.CreateConnection(ctx, tt.c)
		wantFault(t, "CreateConnection("+tt.name+")", err, tt.kind, tt.typ, tt.msg)
	}
	if after := rev(t, s); after != before {
		t.Errorf("Revision after failed creates = %d; want %d", after, before)
	}
}

func testConnectionLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	net2 := mustNetwork(t, s, model.Network{Name: "n2"})
	c1, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, TenantID: "tenant", SegmentationID: intp(300)})
	if err != nil {
		t.Fatalf("CreateConnection = %v", err)
	}
	c2, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gwVLAN.ID, NetworkID: net2.ID})
	if err != nil {
		t.Fatalf("CreateConnection(vlan gateway) = %v", err)
	}
	if c1.ID == "" || *c1.SegmentationID != 300 || c2.SegmentationID != nil {
		t.Errorf("CreateConnection = %+v, %+v", c1, c2)
	}
	got, err := s.GetConnection(ctx, c1.ID)
	if err != nil || !cmp.Equal(c1, got) {
		t.Errorf("GetConnection = %+v, %v; want %+v", got, err, c1)
	}
	want := []model.Connection{c1, c2}
	slices.SortFunc(want, func(a, b model.Connection) int { return strings.Compare(a.ID, b.ID) })
	list, _ := s.ListConnections(ctx, store.Query{})
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("ListConnections (-want +got):\n%s", d)
	}
	for _, q := range []store.Query{{NetworkIDs: []string{f.net.ID}}, {GatewayIDs: []string{f.gw.ID}}, {IDs: []string{c1.ID}}, {TenantIDs: []string{"tenant"}}} {
		list, _ := s.ListConnections(ctx, q)
		if d := cmp.Diff([]model.Connection{c1}, list); d != "" {
			t.Errorf("ListConnections(%+v) (-want +got):\n%s", q, d)
		}
	}

	err = s.DeleteGateway(ctx, f.gw.ID)
	wantFault(t, "DeleteGateway(in use)", err, model.ErrInUse, "L2GatewayInUse",
		"L2 Gateway '"+f.gw.ID+"' still has active mappings with one or more neutron networks.")

	if err := s.DeleteConnection(ctx, c1.ID); err != nil {
		t.Fatalf("DeleteConnection = %v", err)
	}
	const msg = "The connection  not found on the l2 gateway"
	_, err = s.GetConnection(ctx, c1.ID)
	wantFault(t, "GetConnection(deleted)", err, model.ErrNotFound, "L2GatewayConnectionNotFound", msg)
	err = s.DeleteConnection(ctx, c1.ID)
	wantFault(t, "DeleteConnection(deleted)", err, model.ErrNotFound, "L2GatewayConnectionNotFound", msg)
	_, err = s.GetConnection(ctx, "not-a-uuid")
	wantFault(t, "GetConnection(non-uuid)", err, model.ErrNotFound, "L2GatewayConnectionNotFound", msg)
	if err := s.DeleteGateway(ctx, f.gw.ID); err != nil {
		t.Errorf("DeleteGateway after its connection = %v", err)
	}
	// The VLAN is free again.
	g := mustGateway(t, s, "again", dev("sw1", iface("p1")))
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: g.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}); err != nil {
		t.Errorf("CreateConnection after delete = %v", err)
	}
}

func testDuplicateSegmentationID(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	net2 := mustNetwork(t, s, model.Network{Name: "n2"})
	other := mustGateway(t, s, "other", dev("sw1", iface("p2"), iface("p4")))
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateConnection(ctx, model.Connection{GatewayID: other.ID, NetworkID: net2.ID, SegmentationID: intp(300)})
	wantFault(t, "CreateConnection(same port, same vlan)", err, model.ErrConflict, "L2GatewayDuplicateSegmentationID", "")
	if f, ok := errors.AsType[*model.Fault](err); ok && !regexp.MustCompile(`^Duplicate segmentation ID for the interface name=p2 uuid=[0-9a-f-]{36}$`).MatchString(f.Message) {
		t.Errorf("duplicate message = %q", f.Message)
	}
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: other.ID, NetworkID: net2.ID, SegmentationID: intp(301)}); err != nil {
		t.Errorf("CreateConnection(same port, other vlan) = %v", err)
	}
	// Interface VLANs collide the same way.
	gv2 := mustGateway(t, s, "gv2", dev("sw1", iface("p3", 102)))
	net3 := mustNetwork(t, s, model.Network{Name: "n3"})
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gwVLAN.ID, NetworkID: net3.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateConnection(ctx, model.Connection{GatewayID: gv2.ID, NetworkID: f.net.ID})
	wantFault(t, "CreateConnection(interface vlan taken)", err, model.ErrConflict, "L2GatewayDuplicateSegmentationID", "")
}

func testUpdateConnectedGateway(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	other := mustGateway(t, s, "other", dev("sw1", iface("p4")))
	net2 := mustNetwork(t, s, model.Network{Name: "n2"})
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: other.ID, NetworkID: net2.ID, SegmentationID: intp(300)}); err != nil {
		t.Fatal(err)
	}
	// Moving the connected gateway onto p4 would bind VLAN 300 twice there.
	_, err := s.UpdateGateway(ctx, f.gw.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p4")}}}})
	wantFault(t, "UpdateGateway(collides)", err, model.ErrConflict, "L2GatewayDuplicateSegmentationID", "")
	// Allowed while connected: p1 is released, so "other" can take it.
	if _, err := s.UpdateGateway(ctx, f.gw.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p2")}}}}); err != nil {
		t.Fatalf("UpdateGateway(connected) = %v", err)
	}
	if _, err := s.UpdateGateway(ctx, other.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p1"), iface("p4")}}}}); err != nil {
		t.Errorf("UpdateGateway(onto released port) = %v", err)
	}
}

// --- networks and ports ---

func testNetworks(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns, err := s.CreateNetworks(ctx, []model.Network{{Name: "a"}, {Name: "b", VNI: 1001}, {Name: "c"}, {Name: "d", NetworkType: "vxlan", VNI: 1500}})
	if err != nil {
		t.Fatalf("CreateNetworks = %v", err)
	}
	if got := []int{ns[0].VNI, ns[1].VNI, ns[2].VNI, ns[3].VNI}; !slices.Equal(got, []int{1000, 1001, 1002, 1500}) {
		t.Errorf("VNIs = %v; want [1000 1001 1002 1500]", got)
	}
	if ns[0].NetworkType != "vxlan" || ns[0].MTU != 1450 || ns[0].CreatedAt.IsZero() {
		t.Errorf("defaults = %+v", ns[0])
	}
	got, err := s.GetNetwork(ctx, ns[1].ID)
	if err != nil || !cmp.Equal(ns[1], got) {
		t.Errorf("GetNetwork = %+v, %v; want %+v", got, err, ns[1])
	}
	_, err = s.CreateNetworks(ctx, []model.Network{{Name: "dup", VNI: 1500}})
	wantFault(t, "CreateNetworks(vni in use)", err, model.ErrConflict, "TunnelIdInUse", "Unable to create the network. The tunnel ID 1500 is in use.")
	// All or none: the second one fails, the first is not kept.
	before := rev(t, s)
	_, err = s.CreateNetworks(ctx, []model.Network{{Name: "ok"}, {Name: "bad", VNI: 1001}})
	wantFault(t, "CreateNetworks(bulk with conflict)", err, model.ErrConflict, "TunnelIdInUse", "")
	if list, _ := s.ListNetworks(ctx, store.Query{Names: []string{"ok"}}); len(list) != 0 || rev(t, s) != before {
		t.Errorf("bulk create left %d networks, revision %d -> %d", len(list), before, rev(t, s))
	}
	// Deleting frees the lowest VNI for the next allocation.
	if err := s.DeleteNetwork(ctx, ns[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := mustNetwork(t, s, model.Network{Name: "e"}); n.VNI != 1000 {
		t.Errorf("allocated VNI = %d; want 1000", n.VNI)
	}
	up := ns[2]
	up.Name, up.AdminStateUp, up.MTU = "c2", true, 1400
	got, err = s.UpdateNetwork(ctx, up)
	if err != nil || got.Name != "c2" || !got.AdminStateUp || got.MTU != 1400 || got.VNI != 1002 || !got.CreatedAt.Equal(ns[2].CreatedAt) {
		t.Errorf("UpdateNetwork = %+v, %v", got, err)
	}
	for _, id := range []string{ns[0].ID, "not-a-uuid"} {
		_, err = s.GetNetwork(ctx, id)
		wantFault(t, "GetNetwork("+id+")", err, model.ErrNotFound, "NetworkNotFound", "Network "+id+" could not be found.")
		err = s.DeleteNetwork(ctx, id)
		wantFault(t, "DeleteNetwork("+id+")", err, model.ErrNotFound, "NetworkNotFound", "")
		_, err = s.UpdateNetwork(ctx, model.Network{ID: id})
		wantFault(t, "UpdateNetwork("+id+")", err, model.ErrNotFound, "NetworkNotFound", "")
	}
	list, _ := s.ListNetworks(ctx, store.Query{Limit: 2})
	all, _ := s.ListNetworks(ctx, store.Query{})
	if len(all) != 4 || !slices.IsSortedFunc(all, func(a, b model.Network) int { return strings.Compare(a.ID, b.ID) }) || !cmp.Equal(all[:2], list) {
		t.Errorf("ListNetworks = %d items sorted=%v, limit 2 = %d", len(all), slices.IsSortedFunc(all, func(a, b model.Network) int { return strings.Compare(a.ID, b.ID) }), len(list))
	}
}

func testVNIExhausted(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns, err := s.CreateNetworks(ctx, []model.Network{{Name: "a"}, {Name: "b"}})
	if err != nil || ns[0].VNI != 10 || ns[1].VNI != 11 {
		t.Fatalf("CreateNetworks = %+v, %v", ns, err)
	}
	_, err = s.CreateNetworks(ctx, []model.Network{{Name: "c"}})
	wantFault(t, "CreateNetworks(range full)", err, model.ErrConflict, "NoNetworkAvailable", "")
}

func testDeleteNetworkCascade(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	keep := mustNetwork(t, s, model.Network{Name: "keep"})
	c, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.CreatePorts(ctx, []model.Port{{NetworkID: f.net.ID, FixedIPs: []model.FixedIP{{SubnetID: "s", IPAddress: "10.0.0.1"}}}, {NetworkID: f.net.ID}, {NetworkID: keep.ID}})
	if err != nil {
		t.Fatal(err)
	}
	// Ports still use the network: refused, nothing changes.
	before := rev(t, s)
	inNet := []string{ps[0].ID, ps[1].ID}
	slices.Sort(inNet)
	wantFault(t, "DeleteNetwork(with ports)", s.DeleteNetwork(ctx, f.net.ID), model.ErrInUse, "NetworkInUse",
		"Unable to complete operation on network "+f.net.ID+". There are one or more ports still in use on the network: 2 ports: "+
			inNet[0]+", "+inNet[1]+". Delete the ports first.")
	if r := rev(t, s); r != before {
		t.Errorf("Revision after a refused delete = %d; want %d", r, before)
	}
	for _, p := range ps[:2] {
		if err := s.DeletePort(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Without ports the network goes, and its connections with it.
	before = rev(t, s)
	if err := s.DeleteNetwork(ctx, f.net.ID); err != nil {
		t.Fatalf("DeleteNetwork = %v", err)
	}
	if r := rev(t, s); r != before+1 {
		t.Errorf("Revision = %d; want %d (one transaction)", r, before+1)
	}
	changes, err := s.Changes(ctx, before, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantCh := []store.Change{
		{Revision: before + 1, Kind: store.KindConnection, ID: c.ID, Op: store.OpDelete},
		{Revision: before + 1, Kind: store.KindNetwork, ID: f.net.ID, Op: store.OpDelete},
	}
	sortCh := cmpopts.SortSlices(func(a, b store.Change) bool { return a.Kind+store.Kind(a.ID) < b.Kind+store.Kind(b.ID) })
	if d := cmp.Diff(wantCh, changes, sortCh); d != "" {
		t.Errorf("Changes (-want +got):\n%s", d)
	}
	if cs, _ := s.ListConnections(ctx, store.Query{}); len(cs) != 0 {
		t.Errorf("connections left: %+v", cs)
	}
	if left, _ := s.ListPorts(ctx, store.Query{}); len(left) != 1 || left[0].ID != ps[2].ID {
		t.Errorf("ports left: %+v", left)
	}
	// The binding went too: the VLAN is free.
	n := mustNetwork(t, s, model.Network{Name: "n2"})
	if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: n.ID, SegmentationID: intp(300)}); err != nil {
		t.Errorf("CreateConnection after cascade = %v", err)
	}
	if err := s.DeleteGateway(ctx, f.gwVLAN.ID); err != nil {
		t.Errorf("DeleteGateway = %v", err)
	}
}

var macRE = regexp.MustCompile(`^fa:16:3e(:[0-9a-f]{2}){3}$`)

func testPorts(t *testing.T, s store.Store) {
	ctx := context.Background()
	n1 := mustNetwork(t, s, model.Network{Name: "n1"})
	n2 := mustNetwork(t, s, model.Network{Name: "n2"})
	in := []model.Port{
		{Name: "vm1", NetworkID: n1.ID, TenantID: "tenant", HostID: "compute1", AdminStateUp: true, DeviceOwner: "compute:nova", DeviceID: "vm-1",
			FixedIPs:            []model.FixedIP{{SubnetID: "sub", IPAddress: "10.0.0.5"}, {SubnetID: "sub6", IPAddress: "fd00::5"}},
			AllowedAddressPairs: []model.AddressPair{{IPAddress: "10.0.0.100"}, {IPAddress: "10.0.0.101", MACAddress: "FA:16:3E:00:00:99"}},
			InterfaceName:       "tap1"},
		{Name: "vm2", NetworkID: n1.ID, MACAddress: "FA:16:3E:AA:BB:CC", HostID: "compute2"},
	}
	ps, err := s.CreatePorts(ctx, in)
	if err != nil {
		t.Fatalf("CreatePorts = %v", err)
	}
	if !macRE.MatchString(ps[0].MACAddress) || ps[1].MACAddress != "fa:16:3e:aa:bb:cc" {
		t.Errorf("MACs = %q %q", ps[0].MACAddress, ps[1].MACAddress)
	}
	got, err := s.GetPort(ctx, ps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ps[0]
	want.AllowedAddressPairs[1].MACAddress = "fa:16:3e:00:00:99"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GetPort (-want +got):\n%s", d)
	}
	_, err = s.CreatePorts(ctx, []model.Port{{NetworkID: n1.ID, MACAddress: "fa:16:3e:aa:bb:cc"}})
	wantFault(t, "CreatePorts(mac in use)", err, model.ErrConflict, "MacAddressInUse",
		"Unable to complete operation for network "+n1.ID+". The mac address fa:16:3e:aa:bb:cc is in use.")
	if _, err := s.CreatePorts(ctx, []model.Port{{NetworkID: n2.ID, MACAddress: "fa:16:3e:aa:bb:cc"}}); err != nil {
		t.Errorf("CreatePorts(same mac, other network) = %v", err)
	}
	// Given its MAC, with lists (PostgreSQL checks and inserts it in one
	// statement), and given one on a network that does not exist.
	ps3, err := s.CreatePorts(ctx, []model.Port{{Name: "vm3", NetworkID: n2.ID, MACAddress: "fa:16:3e:00:00:33", HostID: "compute3",
		FixedIPs:            []model.FixedIP{{SubnetID: "sub", IPAddress: "10.0.0.33"}},
		AllowedAddressPairs: []model.AddressPair{{IPAddress: "10.0.0.133", MACAddress: "FA:16:3E:00:01:33"}}}})
	if err != nil {
		t.Fatalf("CreatePorts(mac and lists) = %v", err)
	}
	want3 := ps3[0]
	want3.AllowedAddressPairs[0].MACAddress = "fa:16:3e:00:01:33"
	if got3, err := s.GetPort(ctx, ps3[0].ID); err != nil || !cmp.Equal(want3, got3) {
		t.Errorf("GetPort(vm3) = %+v, %v; want %+v", got3, err, want3)
	}
	_, err = s.CreatePorts(ctx, []model.Port{{Name: "x0", NetworkID: "nope", MACAddress: "fa:16:3e:00:00:34"}})
	wantFault(t, "CreatePorts(mac given, unknown network)", err, model.ErrNotFound, "NetworkNotFound", "Network nope could not be found.")
	// All or none, including a duplicate inside the batch.
	_, err = s.CreatePorts(ctx, []model.Port{{Name: "x1", NetworkID: n2.ID, MACAddress: "fa:16:3e:00:00:01"}, {Name: "x2", NetworkID: n2.ID, MACAddress: "fa:16:3e:00:00:01"}})
	wantFault(t, "CreatePorts(duplicate in batch)", err, model.ErrConflict, "MacAddressInUse", "")
	_, err = s.CreatePorts(ctx, []model.Port{{Name: "x1", NetworkID: n2.ID}, {Name: "x3", NetworkID: "nope"}})
	wantFault(t, "CreatePorts(unknown network)", err, model.ErrNotFound, "NetworkNotFound", "Network nope could not be found.")
	if left, _ := s.ListPorts(ctx, store.Query{Names: []string{"x0", "x1", "x2", "x3"}}); len(left) != 0 {
		t.Errorf("failed bulk creates left %d ports", len(left))
	}
	if l, _ := s.ListPorts(ctx, store.Query{HostIDs: []string{"compute2"}}); len(l) != 1 || l[0].ID != ps[1].ID {
		t.Errorf("ListPorts(host) = %+v", l)
	}
	if l, _ := s.ListPorts(ctx, store.Query{NetworkIDs: []string{n1.ID}}); len(l) != 2 {
		t.Errorf("ListPorts(network) = %d ports; want 2", len(l))
	}
	up := ps[1]
	up.HostID, up.MACAddress, up.FixedIPs = "compute3", "fa:16:3e:aa:bb:cd", []model.FixedIP{{SubnetID: "sub", IPAddress: "10.0.0.9"}}
	got, err = s.UpdatePort(ctx, up)
	if err != nil || got.HostID != "compute3" || got.MACAddress != "fa:16:3e:aa:bb:cd" || len(got.FixedIPs) != 1 {
		t.Errorf("UpdatePort = %+v, %v", got, err)
	}
	if g2, _ := s.GetPort(ctx, up.ID); !cmp.Equal(got, g2) {
		t.Errorf("GetPort after update = %+v; want %+v", g2, got)
	}
	up.MACAddress = ps[0].MACAddress
	_, err = s.UpdatePort(ctx, up)
	wantFault(t, "UpdatePort(mac in use)", err, model.ErrConflict, "MacAddressInUse", "")
	if err := s.DeletePort(ctx, ps[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ps[0].ID, "not-a-uuid"} {
		_, err = s.GetPort(ctx, id)
		wantFault(t, "GetPort("+id+")", err, model.ErrNotFound, "PortNotFound", "Port "+id+" could not be found.")
		wantFault(t, "DeletePort("+id+")", s.DeletePort(ctx, id), model.ErrNotFound, "PortNotFound", "")
		_, err = s.UpdatePort(ctx, model.Port{ID: id})
		wantFault(t, "UpdatePort("+id+")", err, model.ErrNotFound, "PortNotFound", "")
	}
}

func testHosts(t *testing.T, s store.Store) {
	ctx := context.Background()
	h, err := s.CreateHost(ctx, model.Host{Name: "compute1", VTEPIP: "192.0.2.11", Description: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetHost(ctx, h.ID)
	if err != nil || !cmp.Equal(h, got) {
		t.Errorf("GetHost = %+v, %v; want %+v", got, err, h)
	}
	_, err = s.CreateHost(ctx, model.Host{Name: "compute1"})
	wantFault(t, "CreateHost(dup name)", err, model.ErrConflict, "HostExists", "")
	h2, err := s.RegisterHost(ctx, "compute2", "192.0.2.12", time.Now())
	if err != nil || h2.ID == "" || h2.LastHeartbeat.IsZero() {
		t.Fatalf("RegisterHost(new) = %+v, %v", h2, err)
	}
	r := rev(t, s)
	at := time.Now().Add(time.Second)
	h2b, err := s.RegisterHost(ctx, "compute2", "192.0.2.12", at)
	if err != nil || h2b.ID != h2.ID || !h2b.LastHeartbeat.Equal(at.UTC().Truncate(time.Microsecond)) {
		t.Errorf("RegisterHost(heartbeat) = %+v, %v", h2b, err)
	}
	if rev(t, s) != r {
		t.Errorf("a heartbeat bumped the revision")
	}
	if h2c, err := s.UpdateHost(ctx, model.Host{ID: h2.ID, Name: "compute2", VTEPIP: "192.0.2.99"}); err != nil || h2c.VTEPIP != "192.0.2.99" || rev(t, s) != r+1 {
		t.Errorf("UpdateHost(new ip) = %+v, %v, revision %d; want %d", h2c, err, rev(t, s), r+1)
	}
	if h2d, err := s.RegisterHost(ctx, "compute2", "192.0.2.99", at); err != nil || h2d.VTEPIP != "192.0.2.99" {
		t.Errorf("RegisterHost(the updated ip) = %+v, %v", h2d, err)
	}
	if got, _ := s.GetHost(ctx, h2.ID); got.VTEPIP != "192.0.2.99" || !got.LastHeartbeat.Equal(at.UTC().Truncate(time.Microsecond)) {
		t.Errorf("GetHost after register = %+v", got)
	}
	_, err = s.UpdateHost(ctx, model.Host{ID: h.ID, Name: "compute2"})
	wantFault(t, "UpdateHost(dup name)", err, model.ErrConflict, "HostExists", "")
	if got, err := s.UpdateHost(ctx, model.Host{ID: h.ID, Name: "compute1b", VTEPIP: "192.0.2.21"}); err != nil || got.Name != "compute1b" || got.VTEPIP != "192.0.2.21" {
		t.Errorf("UpdateHost = %+v, %v", got, err)
	}
	if l, _ := s.ListHosts(ctx, store.Query{Names: []string{"compute1b"}}); len(l) != 1 || l[0].ID != h.ID {
		t.Errorf("ListHosts(name) = %+v", l)
	}
	// Ports bound to the host (by name) keep it: refused, naming five of
	// them and the count.
	n := mustNetwork(t, s, model.Network{Name: "n"})
	bound := make([]model.Port, 7)
	for i := range bound {
		bound[i] = model.Port{NetworkID: n.ID, HostID: "compute1b"}
	}
	bound, err = s.CreatePorts(ctx, append(bound, model.Port{NetworkID: n.ID, HostID: "compute2"}))
	if err != nil {
		t.Fatal(err)
	}
	boundIDs := ids(bound[:7], func(p model.Port) string { return p.ID })
	slices.Sort(boundIDs)
	wantFault(t, "DeleteHost(ports bound)", s.DeleteHost(ctx, h.ID), model.ErrInUse, "HostInUse",
		"Unable to delete host compute1b ("+h.ID+"): ports are bound to it (binding:host_id): 7 ports: "+
			strings.Join(boundIDs[:5], ", ")+" and 2 more. Delete the ports or bind them to another host first.")
	for _, id := range boundIDs {
		if err := s.DeletePort(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteHost(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetHost(ctx, h.ID)
	wantFault(t, "GetHost(deleted)", err, model.ErrNotFound, "HostNotFound", "")
	wantFault(t, "DeleteHost(deleted)", s.DeleteHost(ctx, h.ID), model.ErrNotFound, "HostNotFound", "")
}

// testRegisterHostConflict: a registration whose VTEP IP differs from the
// recorded one (entered through the API, or given by the first
// registration) is refused and changes nothing; only UpdateHost moves a host.
func testRegisterHostConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	h, err := s.CreateHost(ctx, model.Host{Name: "compute1", VTEPIP: "192.0.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	r := rev(t, s)
	_, err = s.RegisterHost(ctx, "compute1", "192.0.2.9", time.Now())
	wantFault(t, "RegisterHost(other ip)", err, model.ErrConflict, "HostVTEPIPConflict",
		"Host compute1 is recorded with VTEP IP 192.0.2.2, but its agent registers 192.0.2.9. If the host's VTEP IP really changed, change it through the API first: "+
			"l2gw host-update compute1 --vtep-ip 192.0.2.9 (PUT /v2.0/hosts/"+h.ID+"); otherwise start the host agent with --vtep-ip 192.0.2.2.")
	if got, _ := s.GetHost(ctx, h.ID); got.VTEPIP != "192.0.2.2" || !got.LastHeartbeat.IsZero() {
		t.Errorf("host after a refused registration = %+v; want 192.0.2.2, no heartbeat", got)
	}
	if rev(t, s) != r {
		t.Errorf("a refused registration bumped the revision")
	}
	if got, err := s.RegisterHost(ctx, "compute1", "192.0.2.2", time.Now()); err != nil || got.ID != h.ID || got.LastHeartbeat.IsZero() {
		t.Errorf("RegisterHost(recorded ip) = %+v, %v; want the host with a heartbeat", got, err)
	}
	// A host first created by its agent's registration keeps its first IP.
	if _, err := s.RegisterHost(ctx, "compute2", "192.0.2.3", time.Now()); err != nil {
		t.Fatalf("RegisterHost(new host) = %v", err)
	}
	_, err = s.RegisterHost(ctx, "compute2", "192.0.2.4", time.Now())
	wantFault(t, "RegisterHost(new host, other ip)", err, model.ErrConflict, "HostVTEPIPConflict", "")
}

// --- revisions, change log, snapshot ---

func testRevisions(t *testing.T, s store.Store) {
	ctx := context.Background()
	if r := rev(t, s); r != 0 {
		t.Fatalf("Revision of an empty store = %d", r)
	}
	ch := s.Notify()
	g := mustGateway(t, s, "g", dev("sw", iface("p")))
	select {
	case <-ch:
	default:
		t.Errorf("Notify channel not closed by a commit")
	}
	ns, _ := s.CreateNetworks(ctx, []model.Network{{Name: "a"}, {Name: "b"}})
	name := "g2"
	s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Name: &name})
	s.CreateGateway(ctx, model.Gateway{Devices: []model.Device{dev("sw", iface("p", 5000))}}) // fails: no revision
	s.DeleteGateway(ctx, g.ID)
	if err := s.WaitRevision(ctx, 4); err != nil {
		t.Errorf("WaitRevision(4) = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := s.WaitRevision(short, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitRevision(5) = %v; want deadline exceeded", err)
	}
	want := []store.Change{
		{Revision: 1, Kind: store.KindGateway, ID: g.ID, Op: store.OpCreate},
		{Revision: 2, Kind: store.KindNetwork, ID: ns[0].ID, Op: store.OpCreate},
		{Revision: 2, Kind: store.KindNetwork, ID: ns[1].ID, Op: store.OpCreate},
		{Revision: 3, Kind: store.KindGateway, ID: g.ID, Op: store.OpUpdate},
		{Revision: 4, Kind: store.KindGateway, ID: g.ID, Op: store.OpDelete},
	}
	got, err := s.Changes(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Changes(0) (-want +got):\n%s", d)
	}
	// A limit never splits a revision.
	for _, tt := range []struct {
		after int64
		limit int
		want  []store.Change
	}{
		{0, 1, want[:1]}, {0, 2, want[:3]}, {1, 1, want[1:3]}, {2, 1, want[3:4]}, {4, 10, nil}, {99, 10, nil},
	} {
		got, err := s.Changes(ctx, tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("Changes(%d, %d) (-want +got):\n%s", tt.after, tt.limit, d)
		}
	}
	if r := rev(t, s); r != 4 {
		t.Errorf("Revision = %d; want 4", r)
	}
}

func testCompaction(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 20 {
		mustNetwork(t, s, model.Network{Name: fmt.Sprint(i)})
	}
	// The log is compacted in the background, soon after the writes.
	testenv.Eventually(t, 5*time.Second, "the change log is compacted", func() (bool, string) {
		_, err := s.Changes(ctx, 0, 10)
		return errors.Is(err, store.ErrCompacted), fmt.Sprintf("Changes(0) = %v; want ErrCompacted", err)
	})
	got, err := s.Changes(ctx, 17, 10)
	if err != nil || len(got) != 3 || got[0].Revision != 18 || got[2].Revision != 20 {
		t.Errorf("Changes(17) = %+v, %v; want revisions 18..20", got, err)
	}
}

func testSnapshot(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newConnFixture(t, s)
	c, err := s.CreateConnection(ctx, model.Connection{GatewayID: f.gw.ID, NetworkID: f.net.ID, SegmentationID: intp(300)})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := s.CreatePorts(ctx, []model.Port{{NetworkID: f.net.ID, HostID: "compute1"}})
	h, _ := s.RegisterHost(ctx, "compute1", "192.0.2.11", time.Now())
	if err := s.ReportSwitch(ctx, model.SwitchReport{
		Switch:    model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.1"}, Ports: []model.SwitchPort{{Name: "p1"}, {Name: "p2"}, {Name: "p3"}, {Name: "p4"}}},
		LocalMACs: []model.LocalMAC{{NetworkID: f.net.ID, MAC: "00:00:00:00:00:01", LocatorIP: "192.0.2.1"}},
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev(t, s) {
		t.Errorf("Snapshot.Revision = %d; want %d", snap.Revision, rev(t, s))
	}
	gws, _ := s.ListGateways(ctx, store.Query{})
	sws, _ := s.ListSwitches(ctx, store.Query{})
	want := store.Snapshot{Revision: snap.Revision, Inventory: model.Inventory{
		Gateways:    gws,
		Connections: []model.Connection{c},
		Networks:    []model.Network{f.net},
		Ports:       ps,
		Hosts:       []model.Host{h},
		Switches:    sws,
		LocalMACs:   []model.LocalMAC{{Switch: "sw1", NetworkID: f.net.ID, MAC: "00:00:00:00:00:01", LocatorIP: "192.0.2.1"}},
	}}
	if d := cmp.Diff(want, snap, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Snapshot (-want +got):\n%s", d)
	}
	if len(sws) != 1 || len(sws[0].Ports) != 4 || !sws[0].Connected {
		t.Errorf("ListSwitches = %+v", sws)
	}
}

func testReportSwitch(t *testing.T, s store.Store) {
	ctx := context.Background()
	report := model.SwitchReport{
		Switch: model.Switch{Name: "sw1", Description: "d", TunnelIPs: []string{"192.0.2.2", "192.0.2.1"},
			Ports: []model.SwitchPort{{Name: "p2"}, {Name: "p1", FaultStatus: []string{"UP"}}}},
		LocalMACs: []model.LocalMAC{{NetworkID: "n1", MAC: "00:00:00:00:00:01", LocatorIP: "192.0.2.1"}, {NetworkID: "n1", MAC: "00:00:00:00:00:02"}},
	}
	if err := s.ReportSwitch(ctx, report); err != nil {
		t.Fatal(err)
	}
	r := rev(t, s)
	changes, _ := s.Changes(ctx, 0, 100)
	if len(changes) != 3 || r != 1 {
		t.Errorf("first report: revision %d, changes %+v; want 1 and 3", r, changes)
	}
	sw, err := s.GetSwitch(ctx, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sw.TunnelIPs, []string{"192.0.2.1", "192.0.2.2"}) || len(sw.Ports) != 2 || sw.Ports[0].Name != "p1" || sw.ID == "" {
		t.Errorf("GetSwitch = %+v", sw)
	}
	// Identical report (other order): nothing logged.
	report.Switch.TunnelIPs = []string{"192.0.2.1", "192.0.2.2"}
	slices.Reverse(report.LocalMACs)
	if err := s.ReportSwitch(ctx, report); err != nil {
		t.Fatal(err)
	}
	if got := rev(t, s); got != r {
		t.Errorf("identical report: revision %d -> %d", r, got)
	}
	// One port changes, one MAC moves, one goes, one comes.
	report.Switch.Ports[0].FaultStatus = []string{"link_down"}
	report.LocalMACs = []model.LocalMAC{{NetworkID: "n1", MAC: "00:00:00:00:00:01", LocatorIP: "192.0.2.2"}, {NetworkID: "n2", MAC: "00:00:00:00:00:03"}}
	if err := s.ReportSwitch(ctx, report); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Changes(ctx, r, 100)
	want := []store.Change{
		{Revision: r + 1, Kind: store.KindSwitch, ID: "sw1", Op: store.OpUpdate},
		{Revision: r + 1, Kind: store.KindLocalMAC, ID: "sw1/n1/00:00:00:00:00:01", Op: store.OpUpdate},
		{Revision: r + 1, Kind: store.KindLocalMAC, ID: "sw1/n2/00:00:00:00:00:03", Op: store.OpCreate},
		{Revision: r + 1, Kind: store.KindLocalMAC, ID: "sw1/n1/00:00:00:00:00:02", Op: store.OpDelete},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Changes after report (-want +got):\n%s", d)
	}
	macs, _ := s.ListLocalMACs(ctx, store.Query{NetworkIDs: []string{"n1"}})
	if d := cmp.Diff([]model.LocalMAC{{Switch: "sw1", NetworkID: "n1", MAC: "00:00:00:00:00:01", LocatorIP: "192.0.2.2"}}, macs); d != "" {
		t.Errorf("ListLocalMACs (-want +got):\n%s", d)
	}

	// Status: only Connected/Error changes are logged.
	r = rev(t, s)
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: true, LastSync: at, Revision: 7}); err != nil {
		t.Fatal(err)
	}
	if rev(t, s) != r {
		t.Errorf("SetSwitchStatus(sync only) bumped the revision")
	}
	if err := s.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: false, LastSync: at, Revision: 7, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if rev(t, s) != r+1 {
		t.Errorf("SetSwitchStatus(disconnected) revision = %d; want %d", rev(t, s), r+1)
	}
	sw, _ = s.GetSwitch(ctx, "sw1")
	if sw.Connected || sw.SyncError != "boom" || !sw.LastSync.Equal(at) || sw.SyncRevision != 7 {
		t.Errorf("GetSwitch after status = %+v", sw)
	}
	// A switch only known from its status cannot take connections.
	if err := s.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw9", Error: "connection refused"}); err != nil {
		t.Fatal(err)
	}
	if sw, err := s.GetSwitch(ctx, "sw9"); err != nil || sw.SyncError != "connection refused" {
		t.Errorf("GetSwitch(sw9) = %+v, %v", sw, err)
	}
	g := mustGateway(t, s, "g", dev("sw9", iface("p1")))
	n := mustNetwork(t, s, model.Network{Name: "n"})
	_, err = s.CreateConnection(ctx, model.Connection{GatewayID: g.ID, NetworkID: n.ID, SegmentationID: intp(1)})
	wantFault(t, "CreateConnection(unreported switch)", err, model.ErrNotFound, "L2GatewayDeviceNotFound", "")
	_, err = s.GetSwitch(ctx, "nosuch")
	wantFault(t, "GetSwitch(nosuch)", err, model.ErrNotFound, "SwitchNotFound", "")
	if l, _ := s.ListSwitches(ctx, store.Query{Names: []string{"sw9"}}); len(l) != 1 {
		t.Errorf("ListSwitches(sw9) = %+v", l)
	}
}

// testSyncStatus: a switch's scoped sync problems and a host agent's
// status round-trip, without a new revision for the host status.
func testSyncStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustReport(t, s, "sw1", "p1")
	probs := []model.SyncProblem{{Port: "p2", Error: `port "p2" not found on the switch`}, {LogicalSwitch: "n1", Port: "p1", Error: "binding p1/5 is held"}, {Error: "transact failed"}}
	if err := s.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: true, Revision: 3, Error: "x", Problems: probs}); err != nil {
		t.Fatal(err)
	}
	sw, err := s.GetSwitch(ctx, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(probs, sw.SyncProblems); diff != "" {
		t.Errorf("GetSwitch(sw1).SyncProblems (-want +got):\n%s", diff)
	}
	if err := s.SetSwitchStatus(ctx, model.SwitchStatus{Name: "sw1", Connected: true, Revision: 3}); err != nil {
		t.Fatal(err)
	}
	if sw, _ := s.GetSwitch(ctx, "sw1"); sw.SyncProblems != nil {
		t.Errorf("SyncProblems after a clean status = %+v; want none", sw.SyncProblems)
	}

	_, err = s.GetHostStatus(ctx, "h1")
	wantFault(t, "GetHostStatus(h1) before any", err, model.ErrNotFound, "HostStatusNotFound", "")
	r := rev(t, s)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	want := model.HostStatus{Name: "h1", Connected: true, LastSync: at, Revision: 9, Error: "create vxlan l2vx7: file exists",
		Networks: []model.HostNetworkStatus{{NetworkID: "n2", Attached: []string{"tap2"}, Revision: 8, Error: "create vxlan l2vx7: file exists"},
			{NetworkID: "n1", Attached: []string{"tap9", "tap1"}, Missing: []string{"tap3"}, Revision: 9}}}
	if err := s.SetHostStatus(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.Networks = []model.HostNetworkStatus{{NetworkID: "n1", Attached: []string{"tap1", "tap9"}, Missing: []string{"tap3"}, Revision: 9},
		{NetworkID: "n2", Attached: []string{"tap2"}, Revision: 8, Error: "create vxlan l2vx7: file exists"}}
	got, err := s.GetHostStatus(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdatedAt.IsZero() {
		t.Errorf("GetHostStatus(h1).UpdatedAt is zero")
	}
	got.UpdatedAt = time.Time{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetHostStatus(h1) (-want +got):\n%s", diff)
	}
	gone := want
	gone.Connected, gone.Error, gone.Networks = false, "gone", nil
	if err := s.SetHostStatus(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHostStatus(ctx, model.HostStatus{Name: "h0", Connected: true}); err != nil {
		t.Fatal(err)
	}
	l, err := s.ListHostStatuses(ctx, store.Query{})
	if err != nil || len(l) != 2 || l[0].Name != "h0" || l[1].Name != "h1" || l[1].Connected || l[1].Error != "gone" || l[1].Networks != nil {
		t.Errorf("ListHostStatuses() = %+v, %v; want h0 and h1 (gone)", l, err)
	}
	if l, _ := s.ListHostStatuses(ctx, store.Query{Names: []string{"h1"}}); len(l) != 1 || l[0].Name != "h1" {
		t.Errorf("ListHostStatuses(h1) = %+v", l)
	}
	if got := rev(t, s); got != r {
		t.Errorf("host status writes moved the revision from %d to %d; want none", r, got)
	}
	if err := s.SetHostStatus(ctx, model.HostStatus{}); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("SetHostStatus(no name) = %v; want ErrInvalid", err)
	}
}

// --- concurrency ---

// testConcurrentHostStatuses has 50 agents report 20 statuses each at once,
// with port writes among them: the statuses are written in batches
// (hoststatus.go), and every agent's last status is the one stored, none
// lost, the revision moved only by the ports.
func testConcurrentHostStatuses(t *testing.T, s store.Store) {
	ctx := context.Background()
	nws, err := s.CreateNetworks(ctx, []model.Network{{Name: "n", NetworkType: "vxlan", VNI: 4242}})
	if err != nil {
		t.Fatal(err)
	}
	r := rev(t, s)
	const agents, reports = 50, 20
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			name := fmt.Sprintf("h%02d", a)
			for i := 1; i <= reports; i++ {
				st := model.HostStatus{Name: name, Connected: i%2 == 0, Revision: int64(i), Error: fmt.Sprint("e", i),
					Networks: []model.HostNetworkStatus{{NetworkID: "n", Attached: []string{fmt.Sprint("tap", i)}}}}
				if err := s.SetHostStatus(ctx, st); err != nil {
					t.Errorf("SetHostStatus(%s #%d) = %v", name, i, err)
					return
				}
			}
		})
	}
	for i := range 10 {
		wg.Go(func() {
			if _, err := s.CreatePorts(ctx, []model.Port{{NetworkID: nws[0].ID, MACAddress: fmt.Sprintf("fa:16:3e:00:00:%02x", i)}}); err != nil {
				t.Errorf("CreatePorts = %v", err)
			}
		})
	}
	wg.Wait()
	l, err := s.ListHostStatuses(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != agents {
		t.Fatalf("ListHostStatuses() = %d statuses; want %d", len(l), agents)
	}
	for a, st := range l {
		want := model.HostStatus{Name: fmt.Sprintf("h%02d", a), Connected: true, Revision: reports, Error: fmt.Sprint("e", reports),
			Networks: []model.HostNetworkStatus{{NetworkID: "n", Attached: []string{fmt.Sprint("tap", reports)}}}}
		st.UpdatedAt, st.LastSync = time.Time{}, time.Time{}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("status of %s (-want +got):\n%s", want.Name, diff)
		}
	}
	if got := rev(t, s); got != r+10 {
		t.Errorf("revision %d -> %d; want %d (the 10 ports only)", r, got, r+10)
	}
}

// testChangeReadersSeeObjects: a reader following the change log (as the
// plan feed does) finds every gateway and connection a change names, as
// soon as it sees the change: none is ever taken for deleted. (On SQLite
// the gateways and connections are read from a cache updated at commit.)
func testChangeReadersSeeObjects(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustReport(t, s, "sw1", "p1")
	const n = 150
	done := make(chan struct{})
	var missing []string
	after := rev(t, s)
	go func() {
		defer close(done)
		seen := 0
		for seen < 2*n {
			ch := s.Notify()
			chs, err := s.Changes(ctx, after, 1000)
			if err != nil {
				missing = append(missing, err.Error())
				return
			}
			for _, c := range chs {
				after = c.Revision
				var err error
				switch c.Kind {
				case store.KindGateway:
					_, err = s.GetGateway(ctx, c.ID)
				case store.KindConnection:
					_, err = s.GetConnection(ctx, c.ID)
				default:
					continue
				}
				seen++
				if err != nil {
					missing = append(missing, fmt.Sprintf("%s %s at revision %d: %v", c.Kind, c.ID, c.Revision, err))
				}
			}
			if seen < 2*n && len(chs) == 0 {
				// Read again at once (a reader busy with an earlier batch
				// reads right after a commit) unless nothing came.
				select {
				case <-ch:
				case <-time.After(10 * time.Second):
					missing = append(missing, "no commit for 10s")
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			g := mustGateway(t, s, fmt.Sprint("g", i), dev("sw1", iface("p1")))
			nw := mustNetwork(t, s, model.Network{Name: fmt.Sprint("n", i)})
			if _, err := s.CreateConnection(ctx, model.Connection{GatewayID: g.ID, NetworkID: nw.ID, SegmentationID: intp(i + 1)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	<-done
	if len(missing) > 0 {
		t.Errorf("%d objects not found as their change was read, e.g. %s", len(missing), missing[0])
	}
}

func testConcurrentConnections(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustReport(t, s, "sw1", "p1")
	n := mustNetwork(t, s, model.Network{Name: "n"})
	const workers = 32
	gws := make([]model.Gateway, workers)
	nets := make([]model.Network, workers)
	for i := range workers {
		gws[i] = mustGateway(t, s, fmt.Sprint(i), dev("sw1", iface("p1")))
		nets[i] = mustNetwork(t, s, model.Network{Name: fmt.Sprint(i)})
	}
	run := func(conn func(i int) model.Connection) (wins int, faults map[string]int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		faults = map[string]int{}
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				_, err := s.CreateConnection(ctx, conn(i))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
					return
				}
				if f, ok := errors.AsType[*model.Fault](err); ok {
					faults[f.Type]++
				} else {
					faults[err.Error()]++
				}
			})
		}
		close(start)
		wg.Wait()
		return wins, faults
	}
	// Same port and VLAN from 32 gateways and networks: one wins.
	wins, faults := run(func(i int) model.Connection {
		return model.Connection{GatewayID: gws[i].ID, NetworkID: nets[i].ID, SegmentationID: intp(100)}
	})
	if wins != 1 || faults["L2GatewayDuplicateSegmentationID"] != workers-1 {
		t.Errorf("same port/VLAN: %d wins, faults %v; want 1 and %d duplicates", wins, faults, workers-1)
	}
	// Same gateway and network 32 times (each with its own VLAN): one wins.
	wins, faults = run(func(i int) model.Connection {
		return model.Connection{GatewayID: gws[0].ID, NetworkID: n.ID, SegmentationID: intp(200 + i)}
	})
	if wins != 1 || faults["L2GatewayConnectionExists"] != workers-1 {
		t.Errorf("same gateway/network: %d wins, faults %v; want 1 and %d exists", wins, faults, workers-1)
	}
	// The losers' partial writes were rolled back.
	if cs, _ := s.ListConnections(ctx, store.Query{}); len(cs) != 2 {
		t.Errorf("ListConnections = %d connections; want 2", len(cs))
	}
	// Revisions stay gap-free under concurrency.
	changes, err := s.Changes(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(changes); i++ {
		if d := changes[i].Revision - changes[i-1].Revision; d != 0 && d != 1 {
			t.Fatalf("revision gap: %d -> %d", changes[i-1].Revision, changes[i].Revision)
		}
	}
	if last := changes[len(changes)-1].Revision; last != rev(t, s) {
		t.Errorf("last change revision %d; Revision() %d", last, rev(t, s))
	}
}

// testPortPages pages through more ports than one query names by key:
// every page carries exactly its ports' fixed IPs and address pairs.
func testPortPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	n := mustNetwork(t, s, model.Network{Name: "n"})
	var in []model.Port
	for i := range 700 {
		p := model.Port{NetworkID: n.ID, Name: fmt.Sprintf("p%03d", i),
			FixedIPs: []model.FixedIP{{SubnetID: "sub", IPAddress: fmt.Sprintf("10.0.%d.%d", i/256, i%256)}}}
		if i%3 == 0 {
			p.AllowedAddressPairs = []model.AddressPair{{IPAddress: fmt.Sprintf("10.1.%d.%d", i/256, i%256)}}
		}
		in = append(in, p)
	}
	if _, err := s.CreatePorts(ctx, in); err != nil {
		t.Fatalf("CreatePorts = %v", err)
	}
	all, err := s.ListPorts(ctx, store.Query{})
	if err != nil || len(all) != len(in) {
		t.Fatalf("ListPorts = %d ports, %v; want %d", len(all), err, len(in))
	}
	for _, limit := range []int{250, 500} {
		var got []model.Port
		q := store.Query{Limit: limit}
		for {
			page, err := s.ListPorts(ctx, q)
			if err != nil {
				t.Fatalf("ListPorts(%+v) = %v", q, err)
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			q.Marker = page[len(page)-1].ID
		}
		if d := cmp.Diff(all, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("pages of %d differ from the whole list (-whole +pages):\n%s", limit, d)
		}
	}
}

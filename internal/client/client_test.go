package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// tokens records the X-Auth-Token headers the server saw.
type tokens struct {
	mu   sync.Mutex
	seen []string
}

func (tk *tokens) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk.mu.Lock()
		tk.seen = append(tk.seen, r.Header.Get("X-Auth-Token"))
		tk.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// newServer serves the real API over a real SQLite store; switch
// "gatewayhost" with ports port1..port3 is reported.
func newServer(t *testing.T) (string, *tokens) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	sw := model.Switch{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.100"}, Connected: true,
		Ports: []model.SwitchPort{{Name: "port1"}, {Name: "port2"}, {Name: "port3"}}}
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: sw}); err != nil {
		t.Fatalf("ReportSwitch: %v", err)
	}
	tk := &tokens{}
	srv := httptest.NewServer(tk.wrap(api.New(st, api.Config{})))
	t.Cleanup(srv.Close)
	return srv.URL, tk
}

func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatalf("client.New(%q): %v", url, err)
	}
	return c
}

func TestNew(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "http://127.0.0.1:9696", want: "http://127.0.0.1:9696"},
		{in: "http://127.0.0.1:9696/", want: "http://127.0.0.1:9696"},
		{in: "http://127.0.0.1:9696/v2.0", want: "http://127.0.0.1:9696"},
		{in: "https://api.example/network/v2.0/", want: "https://api.example/network"},
		{in: "127.0.0.1:9696", wantErr: "want http://host:port"},
		{in: "ftp://x", wantErr: "want http://host:port"},
		{in: "http://x/?a=b", wantErr: "query"},
	}
	for _, tt := range tests {
		c, err := client.New(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) error = %v; want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q) error = %v", tt.in, err)
			continue
		}
		if got := c.BaseURL(); got != tt.want {
			t.Errorf("New(%q).BaseURL() = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestGatewayLifecycle(t *testing.T) {
	ctx := context.Background()
	url, tk := newServer(t)
	c := newClient(t, url, client.WithToken("tok-1"))

	net, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{
		DeviceName: "gatewayhost", Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port2"}},
	}}})
	if err != nil {
		t.Fatalf("CreateGateway: %v", err)
	}
	got, err := c.GetGateway(ctx, gw.ID)
	if err != nil {
		t.Fatalf("GetGateway: %v", err)
	}
	if diff := cmp.Diff(gw, got); diff != "" {
		t.Errorf("GetGateway (-created +shown):\n%s", diff)
	}
	// fields= limits the keys: the others decode as zero values.
	only, err := c.GetGateway(ctx, gw.ID, "id", "name")
	if err != nil {
		t.Fatalf("GetGateway(fields): %v", err)
	}
	if diff := cmp.Diff(neutron.Gateway{ID: gw.ID, Name: "gw1"}, only); diff != "" {
		t.Errorf("GetGateway(id, name) (-want +got):\n%s", diff)
	}

	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: net.ID, SegmentationID: "100"})
	if err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	if conn.SegmentationID != neutron.VLAN(100) {
		t.Errorf("CreateConnection segmentation_id = %+v; want 100", conn.SegmentationID)
	}
	conns, err := c.ListConnections(ctx, client.Filter("l2_gateway_id", gw.ID))
	if err != nil || len(conns) != 1 || conns[0] != conn {
		t.Errorf("ListConnections(l2_gateway_id) = %+v, %v; want [%+v]", conns, err, conn)
	}

	upd, err := c.UpdateGateway(ctx, gw.ID, neutron.GatewayUpdate{Devices: []neutron.DeviceRequest{{
		DeviceName: "gatewayhost", Interfaces: []neutron.InterfaceRequest{{Name: "port3"}},
	}}})
	if err != nil {
		t.Fatalf("UpdateGateway: %v", err)
	}
	if upd.Name != "gw1" || len(upd.Devices) != 1 || len(upd.Devices[0].Interfaces) != 1 || upd.Devices[0].Interfaces[0].Name != "port3" {
		t.Errorf("UpdateGateway = %+v; want gw1 with port3 only", upd)
	}

	err = c.DeleteGateway(ctx, gw.ID)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Type != "L2GatewayInUse" {
		t.Fatalf("DeleteGateway while connected = %v; want 409 L2GatewayInUse", err)
	}
	if err := c.DeleteConnection(ctx, conn.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if err := c.DeleteGateway(ctx, gw.ID); err != nil {
		t.Fatalf("DeleteGateway: %v", err)
	}
	_, err = c.GetGateway(ctx, gw.ID)
	if !client.IsNotFound(err) || !errors.As(err, &e) || e.Type != "L2GatewayNotFound" {
		t.Errorf("GetGateway after delete = %v; want 404 L2GatewayNotFound", err)
	}

	tk.mu.Lock()
	defer tk.mu.Unlock()
	if i := slices.IndexFunc(tk.seen, func(s string) bool { return s != "tok-1" }); i >= 0 {
		t.Errorf("request %d carried X-Auth-Token %q; want tok-1 on every request", i, tk.seen[i])
	}
}

func TestErrorFromNeutronBody(t *testing.T) {
	ctx := context.Background()
	url, _ := newServer(t)
	c := newClient(t, url)
	_, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "bad", Devices: []neutron.DeviceRequest{}})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("CreateGateway(no devices) = %v (%T); want *client.Error", err, err)
	}
	want := &client.Error{Status: 400, Type: "InvalidInput",
		Message: "Invalid input for devices. Reason: Cannot create a gateway with an empty device list."}
	if e.Status != want.Status || e.Message != want.Message {
		t.Errorf("error = %+v; want status %d message %q", e, want.Status, want.Message)
	}
	if err.Error() != e.Message {
		t.Errorf("Error() = %q; want the NeutronError message", err.Error())
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	url, _ := newServer(t)
	c := newClient(t, url)
	mk := func(name, port string) neutron.Gateway {
		t.Helper()
		gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: name, Devices: []neutron.DeviceRequest{{
			DeviceName: "gatewayhost", Interfaces: []neutron.InterfaceRequest{{Name: port}}}}})
		if err != nil {
			t.Fatalf("CreateGateway(%s): %v", name, err)
		}
		return gw
	}
	one := mk("one", "port1")
	dupA, dupB := mk("dup", "port1"), mk("dup", "port2")
	// A gateway named like another's id: the id wins.
	mk(one.ID, "port3")

	if got, err := c.ResolveGateway(ctx, "one"); err != nil || got.ID != one.ID {
		t.Errorf("ResolveGateway(one) = %s, %v; want %s", got.ID, err, one.ID)
	}
	if got, err := c.ResolveGateway(ctx, one.ID); err != nil || got.ID != one.ID {
		t.Errorf("ResolveGateway(id) = %s, %v; want %s", got.ID, err, one.ID)
	}
	_, err := c.ResolveGateway(ctx, "dup")
	var amb *client.AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("ResolveGateway(dup) = %v; want *AmbiguousError", err)
	}
	wantIDs := []string{dupA.ID, dupB.ID}
	slices.Sort(wantIDs)
	gotIDs := slices.Clone(amb.IDs)
	slices.Sort(gotIDs)
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("AmbiguousError.IDs (-want +got):\n%s", diff)
	}
	for _, name := range []string{"nosuch", "", "not/a/uuid"} {
		if _, err := c.ResolveGateway(ctx, name); !client.IsNotFound(err) {
			t.Errorf("ResolveGateway(%q) = %v; want not found", name, err)
		}
	}
}

func TestInventory(t *testing.T) {
	ctx := context.Background()
	url, _ := newServer(t)
	c := newClient(t, url)

	nets, err := c.CreateNetworks(ctx, []neutron.NetworkCreate{{Name: "a", SegmentationID: 1500}, {Name: "b"}})
	if err != nil {
		t.Fatalf("CreateNetworks: %v", err)
	}
	if len(nets) != 2 || nets[0].SegmentationID != 1500 || nets[1].SegmentationID == 0 {
		t.Fatalf("CreateNetworks = %+v; want VNI 1500 and an allocated one", nets)
	}
	if n, err := c.ResolveNetwork(ctx, "b"); err != nil || n.ID != nets[1].ID {
		t.Errorf("ResolveNetwork(b) = %+v, %v", n, err)
	}
	h, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.2"})
	if err != nil {
		t.Fatalf("CreateHost: %v", err)
	}
	ip := "192.0.2.3"
	if h, err = c.UpdateHost(ctx, h.ID, neutron.HostUpdate{VTEPIP: &ip}); err != nil || h.VTEPIP != ip {
		t.Errorf("UpdateHost = %+v, %v; want vtep_ip %s", h, err, ip)
	}
	if got, err := c.ResolveHost(ctx, "compute1"); err != nil || got.ID != h.ID {
		t.Errorf("ResolveHost(compute1) = %+v, %v", got, err)
	}

	ports, err := c.CreatePorts(ctx, []neutron.PortCreate{
		{NetworkID: nets[0].ID, Name: "p1", MACAddress: "fa:16:3e:00:00:01", HostID: "compute1",
			FixedIPs: []neutron.FixedIP{{IPAddress: "10.0.0.1"}}},
		{NetworkID: nets[0].ID, Name: "p2", HostID: "compute1"},
	})
	if err != nil {
		t.Fatalf("CreatePorts: %v", err)
	}
	if len(ports) != 2 || ports[0].MACAddress != "fa:16:3e:00:00:01" || ports[1].MACAddress == "" {
		t.Fatalf("CreatePorts = %+v; want the given MAC and a generated one", ports)
	}
	listed, err := c.ListPorts(ctx, client.Filter("network_id", nets[0].ID))
	if err != nil || len(listed) != 2 {
		t.Errorf("ListPorts(network_id) = %d ports, %v; want 2", len(listed), err)
	}
	host2 := "compute2"
	p, err := c.UpdatePort(ctx, ports[1].ID, neutron.PortUpdate{HostID: &host2})
	if err != nil || p.HostID != host2 || p.Name != "p2" {
		t.Errorf("UpdatePort = %+v, %v; want host compute2, name kept", p, err)
	}
	if got, err := c.ResolvePort(ctx, "p1"); err != nil || got.ID != ports[0].ID {
		t.Errorf("ResolvePort(p1) = %+v, %v", got, err)
	}
	if err := c.DeletePort(ctx, ports[0].ID); err != nil {
		t.Fatalf("DeletePort: %v", err)
	}
	if _, err := c.GetPort(ctx, ports[0].ID); !client.IsNotFound(err) {
		t.Errorf("GetPort after delete = %v; want not found", err)
	}

	sws, err := c.ListSwitches(ctx, client.ListOptions{})
	if err != nil || len(sws) != 1 || sws[0].Name != "gatewayhost" {
		t.Fatalf("ListSwitches = %+v, %v; want gatewayhost", sws, err)
	}
	sw, err := c.GetSwitch(ctx, "gatewayhost")
	if err != nil || len(sw.Ports) != 3 {
		t.Errorf("GetSwitch(gatewayhost) = %+v, %v; want 3 ports", sw, err)
	}
	macs, err := c.ListLocalMACs(ctx, client.Filter("switch", "gatewayhost"))
	if err != nil || len(macs) != 0 {
		t.Errorf("ListLocalMACs = %+v, %v; want none", macs, err)
	}

	// p2 still uses the network: refused until it is gone.
	var apiErr *client.Error
	if err := c.DeleteNetwork(ctx, nets[0].ID); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Type != "NetworkInUse" {
		t.Errorf("DeleteNetwork with a port = %v; want 409 NetworkInUse", err)
	}
	if err := c.DeletePort(ctx, ports[1].ID); err != nil {
		t.Fatalf("DeletePort: %v", err)
	}
	if err := c.DeleteNetwork(ctx, nets[0].ID); err != nil {
		t.Fatalf("DeleteNetwork: %v", err)
	}
	if left, err := c.ListPorts(ctx, client.Filter("network_id", nets[0].ID)); err != nil || len(left) != 0 {
		t.Errorf("ports of a deleted network = %+v, %v; want none", left, err)
	}
	if err := c.DeleteHost(ctx, h.ID); err != nil {
		t.Errorf("DeleteHost: %v", err)
	}
}

// TestGatewayInterfaceEdits: AddGatewayInterfaces and
// RemoveGatewayInterfaces edit on the server and return the gateway; a
// revision makes them conditional.
func TestGatewayInterfaceEdits(t *testing.T) {
	ctx := context.Background()
	url, _ := newServer(t)
	c := newClient(t, url)
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{
		DeviceName: "gatewayhost", Interfaces: []neutron.InterfaceRequest{{Name: "port1"}},
	}}})
	if err != nil {
		t.Fatalf("CreateGateway: %v", err)
	}
	devs := func(names ...string) []neutron.DeviceRequest {
		d := neutron.DeviceRequest{DeviceName: "gatewayhost"}
		for _, n := range names {
			d.Interfaces = append(d.Interfaces, neutron.InterfaceRequest{Name: n})
		}
		return []neutron.DeviceRequest{d}
	}
	names := func(g neutron.Gateway) []string {
		var out []string
		for _, i := range g.Devices[0].Interfaces {
			out = append(out, i.Name)
		}
		return out
	}
	got, err := c.AddGatewayInterfaces(ctx, gw.ID, 0, devs("port2", "port3"))
	if err != nil || !slices.Equal(names(got), []string{"port1", "port2", "port3"}) || got.RevisionNumber != 2 {
		t.Fatalf("AddGatewayInterfaces = %+v, %v; want port1..port3 at revision 2", got, err)
	}
	_, err = c.RemoveGatewayInterfaces(ctx, gw.ID, 1, devs("port1"))
	if !client.IsPreconditionFailed(err) {
		t.Errorf("RemoveGatewayInterfaces(stale revision) = %v; want 412", err)
	}
	got, err = c.RemoveGatewayInterfaces(ctx, gw.ID, 2, devs("port1"))
	if err != nil || !slices.Equal(names(got), []string{"port2", "port3"}) || got.RevisionNumber != 3 {
		t.Errorf("RemoveGatewayInterfaces = %+v, %v; want port2, port3 at revision 3", got, err)
	}
	// A conditional PUT goes the same way.
	name := "gw2"
	if _, err := c.UpdateGatewayIf(ctx, gw.ID, 2, neutron.GatewayUpdate{Name: &name}); !client.IsPreconditionFailed(err) {
		t.Errorf("UpdateGatewayIf(stale revision) = %v; want 412", err)
	}
	if got, err := c.UpdateGatewayIf(ctx, gw.ID, 3, neutron.GatewayUpdate{Name: &name}); err != nil || got.Name != "gw2" || got.RevisionNumber != 4 {
		t.Errorf("UpdateGatewayIf(current revision) = %+v, %v; want gw2 at revision 4", got, err)
	}
	_, err = c.RemoveGatewayInterfaces(ctx, gw.ID, 0, devs("port1"))
	var e *client.Error
	if !client.IsNotFound(err) || !errors.As(err, &e) || e.Type != "L2GatewayInterfaceNotFound" {
		t.Errorf("RemoveGatewayInterfaces(absent) = %v; want 404 L2GatewayInterfaceNotFound", err)
	}
}

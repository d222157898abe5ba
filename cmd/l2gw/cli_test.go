package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// startAPI serves the real API on a real SQLite store, with switch
// "gatewayhost" (ports port1..port4) reported as its agent would.
func startAPI(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	sw := model.Switch{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.100"}, Connected: true}
	for _, p := range []string{"port1", "port2", "port3", "port4"} {
		sw.Ports = append(sw.Ports, model.SwitchPort{Name: p})
	}
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: sw}); err != nil {
		t.Fatalf("ReportSwitch: %v", err)
	}
	srv := httptest.NewServer(api.New(st, api.Config{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runCLI runs the l2gw root command against url and returns its stdout.
func runCLI(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--url", url}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// mustCLI is runCLI that fails the test on a command error.
func mustCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, url, args...)
	if err != nil {
		t.Fatalf("l2gw %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// cliJSON runs a command with -f json and decodes its output into T.
func cliJSON[T any](t *testing.T, url string, args ...string) T {
	t.Helper()
	out := mustCLI(t, url, append([]string{"-f", "json"}, args...)...)
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("l2gw -f json %s: output is not a %T: %v\n%s", strings.Join(args, " "), v, err, out)
	}
	return v
}

// masked replaces generated ids by labels padded to the id's width, so
// golden tables keep their alignment.
func masked(s string, labels map[string]string) string {
	for id, label := range labels {
		s = strings.ReplaceAll(s, id, label+strings.Repeat(" ", max(0, len(id)-len(label))))
	}
	return s
}

func TestCLISeedWorkflow(t *testing.T) {
	url := startAPI(t)

	// Inventory: net1 with VNI 1000, a host, a port on it.
	net := cliJSON[neutron.Network](t, url, "net-create", "net1", "--vni", "1000")
	if net.Name != "net1" || net.SegmentationID != 1000 || net.NetworkType != "vxlan" {
		t.Fatalf("net-create = %+v; want net1, vxlan, VNI 1000", net)
	}
	host := cliJSON[neutron.Host](t, url, "host-create", "compute1", "--vtep-ip", "192.0.2.2")
	if host.Name != "compute1" || host.VTEPIP != "192.0.2.2" {
		t.Fatalf("host-create = %+v", host)
	}
	port := cliJSON[neutron.Port](t, url, "port-create", "net1", "--name", "vm1", "--mac", "fa:16:3e:00:00:01",
		"--ip", "10.0.0.5", "--host", "compute1", "--interface", "tap1",
		"--allowed-address-pair", "ip=10.0.0.50,mac=fa:16:3e:00:00:99")
	wantPort := neutron.Port{
		Name: "vm1", NetworkID: net.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1",
		Profile:             neutron.BindingProfile{InterfaceName: "tap1"},
		AllowedAddressPairs: []neutron.AddressPair{{IPAddress: "10.0.0.50", MACAddress: "fa:16:3e:00:00:99"}},
	}
	gotPort := neutron.Port{Name: port.Name, NetworkID: port.NetworkID, MACAddress: port.MACAddress,
		HostID: port.HostID, Profile: port.Profile, AllowedAddressPairs: port.AllowedAddressPairs}
	if diff := cmp.Diff(wantPort, gotPort); diff != "" {
		t.Errorf("port-create (-want +got):\n%s", diff)
	}
	if len(port.FixedIPs) != 1 || port.FixedIPs[0].IPAddress != "10.0.0.5" {
		t.Errorf("port-create fixed_ips = %+v; want 10.0.0.5", port.FixedIPs)
	}
	ports := cliJSON[[]neutron.Port](t, url, "port-list", "--network", "net1")
	if len(ports) != 1 || ports[0].ID != port.ID {
		t.Errorf("port-list --network net1 = %+v; want [%s]", ports, port.ID)
	}
	updated := cliJSON[neutron.Port](t, url, "port-update", "vm1", "--host", "compute2", "--ip", "10.0.0.6")
	if updated.HostID != "compute2" || len(updated.FixedIPs) != 1 || updated.FixedIPs[0].IPAddress != "10.0.0.6" {
		t.Errorf("port-update = host %q ips %+v; want compute2, 10.0.0.6", updated.HostID, updated.FixedIPs)
	}

	// The gateway, shown as a table.
	out := mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1;port2")
	gw := cliJSON[neutron.Gateway](t, url, "l2-gateway-show", "gw1")
	wantShow := `+-----------------+--------------------------------------+
| Field           | Value                                |
+-----------------+--------------------------------------+
| devices         | gatewayhost: port1;port2             |
| id              | GW1                                  |
| name            | gw1                                  |
| revision_number | 1                                    |
| tenant_id       | fake_project_id                      |
+-----------------+--------------------------------------+
`
	if diff := cmp.Diff(wantShow, masked(out, map[string]string{gw.ID: "GW1"})); diff != "" {
		t.Errorf("l2-gateway-create table (-want +got):\n%s", diff)
	}
	wantDevices := []neutron.Device{{DeviceName: "gatewayhost", ID: gw.Devices[0].ID, Interfaces: []neutron.Interface{
		{Name: "port1", SegmentationID: []string{}}, {Name: "port2", SegmentationID: []string{}},
	}}}
	if diff := cmp.Diff(wantDevices, gw.Devices); diff != "" {
		t.Errorf("l2-gateway-show devices (-want +got):\n%s", diff)
	}

	// Per-interface VLANs in the seed's syntax come back as lists of strings.
	gw2 := cliJSON[neutron.Gateway](t, url, "l2-gateway-create", "gw2",
		"--device", "name=gatewayhost,interface_names=port3:100,101;port4:200")
	wantIfs := []neutron.Interface{{Name: "port3", SegmentationID: []string{"100", "101"}}, {Name: "port4", SegmentationID: []string{"200"}}}
	if diff := cmp.Diff(wantIfs, gw2.Devices[0].Interfaces); diff != "" {
		t.Errorf("l2-gateway-create gw2 interfaces (-want +got):\n%s", diff)
	}
	out = mustCLI(t, url, "l2-gateway-list")
	var wantList string
	if gw2.ID < gw.ID { // the API lists by id
		wantList = `+--------------------------------------+------+--------------------------------------+
| id                                   | name | devices                              |
+--------------------------------------+------+--------------------------------------+
| GW2                                  | gw2  | gatewayhost: port3:100,101;port4:200 |
| GW1                                  | gw1  | gatewayhost: port1;port2             |
+--------------------------------------+------+--------------------------------------+
`
	} else {
		wantList = `+--------------------------------------+------+--------------------------------------+
| id                                   | name | devices                              |
+--------------------------------------+------+--------------------------------------+
| GW1                                  | gw1  | gatewayhost: port1;port2             |
| GW2                                  | gw2  | gatewayhost: port3:100,101;port4:200 |
+--------------------------------------+------+--------------------------------------+
`
	}
	if diff := cmp.Diff(wantList, masked(out, map[string]string{gw.ID: "GW1", gw2.ID: "GW2"})); diff != "" {
		t.Errorf("l2-gateway-list (-want +got):\n%s", diff)
	}
	list := cliJSON[[]neutron.Gateway](t, url, "l2-gateway-list", "--name", "gw1")
	if len(list) != 1 || list[0].ID != gw.ID {
		t.Errorf("l2-gateway-list --name gw1 -f json = %+v; want [%s]", list, gw.ID)
	}

	// Connection with the default segmentation id, by names.
	conn := cliJSON[neutron.Connection](t, url, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "100")
	wantConn := neutron.Connection{ID: conn.ID, NetworkID: net.ID, L2GatewayID: gw.ID, TenantID: "fake_project_id", SegmentationID: neutron.VLAN(100)}
	if diff := cmp.Diff(wantConn, conn); diff != "" {
		t.Errorf("l2-gateway-connection-create (-want +got):\n%s", diff)
	}
	out = mustCLI(t, url, "l2-gateway-connection-list")
	wantConns := `+--------------------------------------+--------------------------------------+-----------------+--------------------------------------+--------------+-----------------+
| id                                   | l2_gateway_id                        | l2_gateway_name | network_id                           | network_name | segmentation_id |
+--------------------------------------+--------------------------------------+-----------------+--------------------------------------+--------------+-----------------+
| CONN                                 | GW1                                  | gw1             | NET1                                 | net1         | 100             |
+--------------------------------------+--------------------------------------+-----------------+--------------------------------------+--------------+-----------------+
`
	if diff := cmp.Diff(wantConns, masked(out, map[string]string{conn.ID: "CONN", gw.ID: "GW1", net.ID: "NET1"})); diff != "" {
		t.Errorf("l2-gateway-connection-list (-want +got):\n%s", diff)
	}
	if got := cliJSON[neutron.Connection](t, url, "l2-gateway-connection-show", conn.ID); got != wantConn {
		t.Errorf("l2-gateway-connection-show = %+v; want %+v", got, wantConn)
	}
	// Asking again for the same gateway and network is the API's 409.
	_, err := runCLI(t, url, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "200")
	wantAPIError(t, err, http.StatusConflict, "L2GatewayConnectionExists")

	// Update while connected: the seed's --add-interface/--remove-interface.
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--device", "name=gatewayhost",
		"--add-interface", "port3", "--remove-interface", "port2")
	if diff := cmp.Diff([]neutron.Interface{{Name: "port1", SegmentationID: []string{}}, {Name: "port3", SegmentationID: []string{}}},
		gw.Devices[0].Interfaces); diff != "" {
		t.Errorf("l2-gateway-update interfaces (-want +got):\n%s", diff)
	}
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--name", "gw1b")
	if gw.Name != "gw1b" || len(gw.Devices[0].Interfaces) != 2 {
		t.Errorf("l2-gateway-update --name = %+v; want gw1b keeping 2 interfaces", gw)
	}

	// A connected gateway cannot be deleted; the API's message is the error.
	_, err = runCLI(t, url, "l2-gateway-delete", "gw1b")
	wantAPIError(t, err, http.StatusConflict, "L2GatewayInUse")
	if !strings.Contains(err.Error(), "still has active mappings") {
		t.Errorf("l2-gateway-delete error = %q; want the NeutronError message", err)
	}

	out = mustCLI(t, url, "l2-gateway-connection-delete", conn.ID)
	if want := "Deleted l2_gateway_connection: " + conn.ID + "\n"; out != want {
		t.Errorf("l2-gateway-connection-delete output = %q; want %q", out, want)
	}
	out = mustCLI(t, url, "-f", "json", "l2-gateway-delete", "gw1b")
	if out != "" {
		t.Errorf("l2-gateway-delete -f json printed %q; want nothing", out)
	}
	_, err = runCLI(t, url, "l2-gateway-show", "gw1b")
	if !client.IsNotFound(err) {
		t.Errorf("l2-gateway-show of a deleted gateway: err = %v; want not found", err)
	}
	if got := cliJSON[[]neutron.Connection](t, url, "l2-gateway-connection-list"); len(got) != 0 {
		t.Errorf("l2-gateway-connection-list after delete = %+v; want []", got)
	}

	mustCLI(t, url, "port-delete", "vm1")
	mustCLI(t, url, "host-delete", "compute1")
	mustCLI(t, url, "net-delete", "net1")
	if got := cliJSON[[]neutron.Network](t, url, "net-list"); len(got) != 0 {
		t.Errorf("net-list after delete = %+v; want []", got)
	}
}

func wantAPIError(t *testing.T, err error, status int, typ string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T); want *client.Error %d %s", err, err, status, typ)
	}
	if e.Status != status || e.Type != typ {
		t.Errorf("err = %d %s %q; want %d %s", e.Status, e.Type, e.Message, status, typ)
	}
}

func TestCLIAmbiguousName(t *testing.T) {
	url := startAPI(t)
	a := cliJSON[neutron.Gateway](t, url, "l2-gateway-create", "dup", "--device", "name=gatewayhost,interface_names=port1")
	b := cliJSON[neutron.Gateway](t, url, "l2-gateway-create", "dup", "--device", "name=gatewayhost,interface_names=port2")

	_, err := runCLI(t, url, "l2-gateway-show", "dup")
	var amb *client.AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("l2-gateway-show dup: err = %v; want *client.AmbiguousError", err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("ambiguous error %q does not list candidate %s", err, id)
		}
	}
	// An id always works; deleting one makes the name unique again.
	mustCLI(t, url, "l2-gateway-delete", a.ID)
	if got := cliJSON[neutron.Gateway](t, url, "l2-gateway-show", "dup"); got.ID != b.ID {
		t.Errorf("l2-gateway-show dup = %s; want %s", got.ID, b.ID)
	}
}

func TestCLIErrors(t *testing.T) {
	url := startAPI(t)
	mustCLI(t, url, "net-create", "net1", "--vni", "1000")
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	// port3 has no VLAN and tor2's eth1 has one: no default applies.
	mustCLI(t, url, "l2-gateway-create", "gwm", "--device", "name=gatewayhost,interface_names=port3", "--device", "name=tor2,interface_names=eth1:10")
	mustCLI(t, url, "host-create", "compute1", "--vtep-ip", "192.0.2.2")
	mustCLI(t, url, "port-create", "net1", "--name", "vm1", "--host", "compute1")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"l2-gateway-connection-create", "gwm", "net1"}, "interfaces without a segmentation id would stay unbridged: 1 interface: gatewayhost/port3"},
		{[]string{"l2-gateway-create", "gw9", "--device", "name=gatewayhost,interface_names=port1:0"}, "Segmentation id 0 is not a valid VLAN; valid VLANs are 1-4094"},
		{[]string{"l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "0"}, "Segmentation id 0 is not a valid VLAN; valid VLANs are 1-4094"},
		{[]string{"l2-gateway-create", "gw9", "--device", "name=gatewayhost,interface_names=port1", "--device", "name=gatewayhost,interface_names=port2"}, "device 'gatewayhost' is listed twice"},
		{[]string{"host-delete", "compute1"}, "Unable to delete host compute1"},
		{[]string{"net-delete", "net1"}, "There are one or more ports still in use on the network: 1 port: "},
		{[]string{"l2-gateway-show", "nosuch"}, "Unable to find l2_gateway with name or id 'nosuch'"},
		{[]string{"l2-gateway-connection-create", "gw1", "nosuch"}, "Unable to find network with name or id 'nosuch'"},
		{[]string{"l2-gateway-connection-create", "gw1", "net1"}, "Segmentation id must be specified in create l2gateway connections"},
		{[]string{"l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "4095"}, "Segmentation id is out of range"},
		{[]string{"l2-gateway-create", "gw9", "--device", "name=gatewayhost,interface_names=port1:5;port2"}, "segmentation id must be consistent"},
		{[]string{"l2-gateway-create", "gw9", "--device", "name=gatewayhost"}, "interface_names is required"},
		{[]string{"l2-gateway-create", "gw9", "--device", "gatewayhost"}, `missing value for key "gatewayhost"`},
		{[]string{"l2-gateway-update", "gw1"}, "nothing to update"},
		{[]string{"l2-gateway-update", "gw1", "--device", "name=other", "--remove-interface", "p1"}, "L2 Gateway Device other could not be found."},
		{[]string{"l2-gateway-connection-show", "nosuch"}, "Unable to find l2_gateway_connection with id 'nosuch'"},
		{[]string{"-f", "xml", "net-list"}, `-f/--format "xml": want one of table, json, yaml, value, csv`},
		{[]string{"port-create", "net1", "--ip", "10.0.0.300"}, "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runCLI(t, url, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("l2gw %s: err = %v; want containing %q", strings.Join(tt.args, " "), err, tt.want)
			}
		})
	}
}

func TestCLIEnvironment(t *testing.T) {
	url := startAPI(t)
	t.Setenv("L2GW_URL", url)
	t.Setenv("L2GW_TOKEN", "secret-token")
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"-f", "json", "net-list"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("net-list with L2GW_URL: %v", err)
	}
	if got := strings.TrimSpace(out.String()); got != "[]" {
		t.Errorf("net-list -f json = %q; want []", got)
	}
	out.Reset()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"--help"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "secret-token") {
		t.Errorf("--help shows the token from L2GW_TOKEN:\n%s", out.String())
	}
}

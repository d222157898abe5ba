package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

func dbPath(dir string) string { return filepath.Join(dir, "l2gw.db") }

// seedSwitch records switch gatewayhost (ports port1..port4) in the
// database the server will open, as its switch agent would report it:
// connection create and gateway update check interfaces against reports.
// (The switch agent itself is tested elsewhere; this test is about the
// openstack client's view of the API.)
func seedSwitch(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+dbPath(dir), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	defer st.Close()
	sw := model.Switch{Name: "gatewayhost", TunnelIPs: []string{"192.0.2.100"}, Connected: true}
	for _, p := range []string{"port1", "port2", "port3", "port4"} {
		sw.Ports = append(sw.Ports, model.SwitchPort{Name: p})
	}
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: sw}); err != nil {
		t.Fatalf("ReportSwitch: %v", err)
	}
}

// openstack runs Debian's openstack client against url without Keystone.
func openstack(t *testing.T, url string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--os-auth-type", "none", "--os-endpoint", url}, args...)
	cmd := exec.CommandContext(ctx, "openstack", full...)
	// A clean environment: no OS_* settings of the machine leak in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("openstack %s: %w\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// osJSON runs an openstack command with -f json and decodes its output.
func osJSON[T any](t *testing.T, url string, args ...string) T {
	t.Helper()
	out, err := openstack(t, url, append(args, "-f", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("openstack %s: output is not a %T: %v\n%s", strings.Join(args, " "), v, err, out)
	}
	return v
}

// oscGateway is `openstack l2gw show -f json`: capitalised column names.
type oscGateway struct {
	ID      string           `json:"ID"`
	Name    string           `json:"Name"`
	Devices []neutron.Device `json:"Devices"`
}

// oscConnection is `openstack l2gw connection show -f json`.
type oscConnection struct {
	ID             string `json:"ID"`
	L2GatewayID    string `json:"L2 GateWay ID"`
	NetworkID      string `json:"Network ID"`
	SegmentationID any    `json:"Segmentation ID"`
}

func TestOpenStackClient(t *testing.T) {
	if _, err := exec.LookPath("openstack"); err != nil {
		testenv.Missing(t, "openstack client (python3-openstackclient) not installed")
	}
	if _, err := os.Stat("/usr/lib/python3/dist-packages/networking_l2gw"); err != nil {
		testenv.Missing(t, "networking-l2gw client plugin (python3-networking-l2gw) not installed")
	}
	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	seedSwitch(t, dir)
	_, url := testenv.StartServer(t, bin, "--data-dir", dir, "--database", "sqlite://"+dbPath(dir))

	// The network comes from our API, as in a standalone deployment.
	ctx := context.Background()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	net1, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatalf("create net1: %v", err)
	}

	// create / show / list
	gw := osJSON[oscGateway](t, url, "l2gw", "create", "gw1", "--device", "name=gatewayhost,interface_names=port1;port2")
	if gw.Name != "gw1" || gw.ID == "" {
		t.Fatalf("l2gw create = %+v; want gw1 with an id", gw)
	}
	wantIfs := []neutron.Interface{{Name: "port1", SegmentationID: []string{}}, {Name: "port2", SegmentationID: []string{}}}
	if len(gw.Devices) != 1 || gw.Devices[0].DeviceName != "gatewayhost" {
		t.Fatalf("l2gw create devices = %+v; want gatewayhost", gw.Devices)
	}
	if diff := cmp.Diff(wantIfs, gw.Devices[0].Interfaces); diff != "" {
		t.Errorf("l2gw create interfaces (-want +got):\n%s", diff)
	}
	gwVLAN := osJSON[oscGateway](t, url, "l2gw", "create", "gw2", "--device", "name=gatewayhost,interface_names=port3|100#101")
	if diff := cmp.Diff([]neutron.Interface{{Name: "port3", SegmentationID: []string{"100", "101"}}},
		gwVLAN.Devices[0].Interfaces); diff != "" {
		t.Errorf("l2gw create gw2: seg ids must read back as strings (-want +got):\n%s", diff)
	}
	shown := osJSON[oscGateway](t, url, "l2gw", "show", "gw1")
	if diff := cmp.Diff(gw, shown); diff != "" {
		t.Errorf("l2gw show gw1 (-create +show):\n%s", diff)
	}
	list := osJSON[[]oscGateway](t, url, "l2gw", "list")
	names := map[string]string{}
	for _, g := range list {
		names[g.ID] = g.Name
	}
	if diff := cmp.Diff(map[string]string{gw.ID: "gw1", gwVLAN.ID: "gw2"}, names); diff != "" {
		t.Errorf("l2gw list (-want +got):\n%s", diff)
	}

	// connection create (by names: the client resolves them with
	// ?name=..&fields=id), list, show
	conn := osJSON[oscConnection](t, url, "l2gw", "connection", "create", "gw1", "net1", "--default-segmentation-id", "100")
	if conn.L2GatewayID != gw.ID || conn.NetworkID != net1.ID || fmt.Sprint(conn.SegmentationID) != "100" {
		t.Errorf("l2gw connection create = %+v; want gateway %s, network %s, seg id 100", conn, gw.ID, net1.ID)
	}
	conns := osJSON[[]oscConnection](t, url, "l2gw", "connection", "list")
	if len(conns) != 1 || conns[0].ID != conn.ID {
		t.Errorf("l2gw connection list = %+v; want [%s]", conns, conn.ID)
	}
	connShown := osJSON[oscConnection](t, url, "l2gw", "connection", "show", conn.ID)
	if connShown.ID != conn.ID || fmt.Sprint(connShown.SegmentationID) != "100" {
		t.Errorf("l2gw connection show = %+v; want %s with seg id 100", connShown, conn.ID)
	}
	// The stored connection, through our API: segmentation id 100.
	if got, err := c.GetConnection(ctx, conn.ID); err != nil || got.SegmentationID != neutron.VLAN(100) {
		t.Errorf("GET connection = %+v, %v; want segmentation_id 100", got, err)
	}

	// A gateway whose interfaces mix VLANs and none takes no default, so
	// port4 would stay unbound: refused, and the client shows why.
	osJSON[oscGateway](t, url, "l2gw", "create", "gwm", "--device", "name=gatewayhost,interface_names=port4",
		"--device", "name=tor2,interface_names=eth1|10")
	if out, err := openstack(t, url, "l2gw", "connection", "create", "gwm", "net1"); err == nil {
		t.Errorf("l2gw connection create gwm net1 succeeded: %s", out)
	} else if !strings.Contains(err.Error(), "interfaces without a segmentation id would stay unbridged: 1 interface: gatewayhost/port4") {
		t.Errorf("l2gw connection create gwm net1: %v; want the unbridged interface named", err)
	}
	if _, err := openstack(t, url, "l2gw", "delete", "gwm"); err != nil {
		t.Fatal(err)
	}

	// update name and devices while connected (the original answers 500)
	upd := osJSON[oscGateway](t, url, "l2gw", "update", "gw1", "--name", "gw1b",
		"--device", "name=gatewayhost,interface_names=port1;port4")
	wantIfs = []neutron.Interface{{Name: "port1", SegmentationID: []string{}}, {Name: "port4", SegmentationID: []string{}}}
	if upd.Name != "gw1b" || len(upd.Devices) != 1 {
		t.Fatalf("l2gw update = %+v; want gw1b with one device", upd)
	}
	if diff := cmp.Diff(wantIfs, upd.Devices[0].Interfaces); diff != "" {
		t.Errorf("l2gw update interfaces (-want +got):\n%s", diff)
	}
	if upd.Devices[0].ID != gw.Devices[0].ID {
		t.Errorf("l2gw update changed the device id %s -> %s", gw.Devices[0].ID, upd.Devices[0].ID)
	}

	// delete: a connected gateway is refused with the API's message
	if out, err := openstack(t, url, "l2gw", "delete", "gw1b"); err == nil {
		t.Errorf("l2gw delete of a connected gateway succeeded: %s", out)
	} else if !strings.Contains(err.Error(), "still has active mappings") {
		t.Errorf("l2gw delete of a connected gateway: %v; want L2GatewayInUse's message", err)
	}
	if _, err := openstack(t, url, "l2gw", "connection", "delete", conn.ID); err != nil {
		t.Fatal(err)
	}
	if got := osJSON[[]oscConnection](t, url, "l2gw", "connection", "list"); len(got) != 0 {
		t.Errorf("l2gw connection list after delete = %+v; want []", got)
	}
	if _, err := openstack(t, url, "l2gw", "delete", "gw1b"); err != nil {
		t.Fatal(err)
	}
	if _, err := openstack(t, url, "l2gw", "delete", gwVLAN.ID); err != nil {
		t.Fatal(err)
	}
	if got := osJSON[[]oscGateway](t, url, "l2gw", "list"); len(got) != 0 {
		t.Errorf("l2gw list after delete = %+v; want []", got)
	}
	if _, err := c.GetGateway(ctx, gw.ID); !client.IsNotFound(err) {
		t.Errorf("GET deleted gateway = %v; want 404", err)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// nobody is the unprivileged uid and gid the agent runs as.
const nobody = "65534"

// TestAgentsUnprivileged runs `l2gw host-agent` as an unprivileged uid
// holding only the capabilities its unit grants (AmbientCapabilities of
// l2gw-host-agent.service, applied with setpriv as systemd would), inside
// a network namespace beside an `l2gw server`: it registers, and creates
// its VXLAN device and bridge and the flooding entry toward the switch.
func TestAgentsUnprivileged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs l2gw processes in a network namespace")
	}
	need(t, "setpriv")
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute9")
	lab.Addr(ns, "lo", "192.0.2.9/32")
	caps := unitCaps(t, "l2gw-host-agent.service")
	if len(caps) == 0 {
		t.Fatal("l2gw-host-agent.service grants no capability")
	}

	// The binary where the unprivileged uid may run it.
	dir, err := os.MkdirTemp("", "l2gw-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "l2gw")
	copyFile(t, testenv.BuildL2GW(t), bin, 0o755)

	// The server shares the agent's namespace (its loopback); the test
	// reaches it by dialling from inside the namespace.
	srv := testenv.StartL2GW(t, "server", "ip", "netns", "exec", ns, bin, "server", "--bind", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "state"))
	base := "http://" + srv.Listening(t)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := testenv.InNS(ns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}}
	t.Cleanup(hc.CloseIdleConnections)
	c, err := client.New(base, client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	agent := startUnprivileged(t, "host-agent", ns, caps, bin, "host-agent", "--server", base, "--host", "compute9", "--vtep-ip", "192.0.2.9",
		"--heartbeat", "200ms", "--log-level", "debug")
	testenv.Eventually(t, 30*time.Second, "compute9 registered and alive", func() (bool, string) {
		hs, err := c.ListHosts(ctx, client.Filter("name", "compute9"))
		return err == nil && len(hs) == 1 && hs[0].Alive, fmt.Sprintf("%v %v", hs, err)
	})
	checkPrivileges(t, agent, caps)

	// A switch, a network with a port on compute9 and a connection: the
	// agent realises them.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sw := model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"}, Ports: []model.SwitchPort{{Name: "p1"}}}
	must(agentlink.New(c, agentlink.Config{}).ReportSwitch(ctx, model.SwitchReport{Switch: sw}))
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:09", HostID: "compute9"})
	must(err)
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "sw1",
		Interfaces: []neutron.InterfaceRequest{{Name: "p1"}}}}})
	must(err)
	_, err = c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "l2vx1000 on l2br1000, flooding to the switch", func() (bool, string) {
		link := lab.IP(ns, "-d", "link", "show")
		if !strings.Contains(link, "l2vx1000") || !strings.Contains(link, "vxlan id 1000") || !strings.Contains(link, "master l2br1000") {
			return false, link
		}
		fdb, err := lab.Exec(ns, "bridge", "fdb", "show", "dev", "l2vx1000")
		return err == nil && strings.Contains(fdb, "00:00:00:00:00:00 dst 192.0.2.10"), fdb
	})
	agent.Terminate(t)
	srv.Terminate(t)
}

// startUnprivileged runs bin with args in namespace ns as uid and gid
// nobody holding only caps (inheritable, ambient and bounding, with no new
// privileges), as systemd runs a unit with User= and AmbientCapabilities=.
func startUnprivileged(t *testing.T, name, ns string, caps []string, bin string, args ...string) *testenv.L2GW {
	t.Helper()
	set := "-all" // setpriv's form: -all,+net_admin
	for _, cp := range caps {
		set += ",+" + strings.ToLower(strings.TrimPrefix(cp, "CAP_"))
	}
	return testenv.StartL2GW(t, name, "ip", append([]string{"netns", "exec", ns, "setpriv", "--reuid=" + nobody, "--regid=" + nobody, "--clear-groups",
		"--inh-caps=" + set, "--ambient-caps=" + set, "--bounding-set=" + set, "--no-new-privs", bin}, args...)...)
}

// checkPrivileges checks p runs as nobody with exactly caps.
func checkPrivileges(t *testing.T, p *testenv.L2GW, caps []string) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(0)
	for _, cp := range caps {
		bit, ok := capBits[cp]
		if !ok {
			t.Fatalf("capability %s unknown to the test", cp)
		}
		want |= 1 << bit
	}
	for _, field := range []string{"Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "CapAmb"} {
		got := procField(string(status), field)
		switch field {
		case "Uid", "Gid":
			if f := strings.Fields(got); len(f) < 2 || f[0] != nobody || f[1] != nobody {
				t.Errorf("%s %s = %q; want %s", p.Name, field, got, nobody)
			}
		default:
			if v, err := strconv.ParseUint(got, 16, 64); err != nil || v != want {
				t.Errorf("%s %s = %q; want %016x (%v)", p.Name, field, got, want, caps)
			}
		}
	}
}

// TestSoftVTEPUnprivileged runs `l2gw soft-vtep` as an unprivileged uid
// holding only the capabilities of l2gw-soft-vtep@.service, inside the
// switch's network namespace, on an ovsdb-server socket it may open: it
// realises a logical switch bound to port1 VLAN 100 as a VXLAN device and
// a bridge holding port1's VLAN device.
func TestSoftVTEPUnprivileged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs l2gw soft-vtep in a network namespace")
	}
	need(t, "setpriv")
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("vtep")
	lab.Addr(ns, "lo", "192.0.2.1/32")
	// This kernel has no 8021q (nor dummy): the lab pre-creates port1 and
	// its VLAN device as veth ends.
	lab.Veth(ns, "p1", ns, "p1-peer")
	lab.Veth(ns, "p1.100", ns, "p1.100-peer")
	caps := unitCaps(t, "l2gw-soft-vtep@.service")
	if len(caps) == 0 {
		t.Fatal("l2gw-soft-vtep@.service grants no capability")
	}
	o := testenv.StartOVSDB(t, false)
	// The switch's socket is open to the agent's user, as the unit asks.
	for _, f := range []string{o.Dir, o.Socket} {
		if err := os.Chmod(f, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "l2gw-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "l2gw")
	copyFile(t, testenv.BuildL2GW(t), bin, 0o755)
	vtep := startUnprivileged(t, "soft-vtep", ns, caps, bin, "soft-vtep", "--ovsdb", o.UnixTarget(), "--name", "gatewayhost",
		"--tunnel-ip", "192.0.2.1", "--port", "port1=p1", "--log-level", "debug")
	testenv.Eventually(t, 30*time.Second, "gatewayhost registered", func() (bool, string) {
		out, err := exec.Command("vtep-ctl", "--db="+o.UnixTarget(), "list-ports", "gatewayhost").CombinedOutput()
		return err == nil && strings.Contains(string(out), "port1"), string(out)
	})
	checkPrivileges(t, vtep, caps)
	o.VTEPCtl(t, "add-ls", "ls0", "--", "set", "Logical_Switch", "ls0", "tunnel_key=1000", "--", "bind-ls", "gatewayhost", "port1", "100", "ls0")
	testenv.Eventually(t, 30*time.Second, "a VXLAN device of VNI 1000 and p1.100 on a bridge", func() (bool, string) {
		link := lab.IP(ns, "-d", "link", "show")
		return strings.Contains(link, "vxlan id 1000") && regexp.MustCompile(`p1\.100[^\n]*master `).MatchString(link), link
	})
	vtep.Terminate(t)
}

// capBits are the capability numbers of linux/capability.h the units use.
var capBits = map[string]uint{"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}

// unitCaps returns the AmbientCapabilities of unit ("CAP_NET_ADMIN").
func unitCaps(t *testing.T, unit string) []string {
	t.Helper()
	keys := parseUnit(t, filepath.Join("files", "systemd", unit))
	var out []string
	for _, v := range keys["Service.AmbientCapabilities"] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// procField returns the value of field in a /proc/PID/status text.
func procField(status, field string) string {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

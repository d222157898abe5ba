package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// pairLeasePeriod is the --lease-period of the agents of these tests.
const pairLeasePeriod = 2 * time.Second

var reconciledLine = regexp.MustCompile(`msg"?[:=]"?reconciled`)

// TestSwitchAgentPair runs an HA pair of switch agent processes for one
// switch (a real ovsdb-server) against a server on SQLite and on
// PostgreSQL: exactly one programs the switch; after kill -9 of the
// holder the standby programs a port created afterwards within two lease
// periods; a holder paused (SIGSTOP) past a takeover and resumed writes
// nothing; /v2.0/switches shows the holder and the epoch increasing.
func TestSwitchAgentPair(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	t.Run("sqlite", func(t *testing.T) { testSwitchAgentPair(t, bin, "--data-dir", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) {
		dsn := testenv.PostgresDatabase(t, testenv.StartPostgres(t))
		testSwitchAgentPair(t, bin, "--data-dir", t.TempDir(), "--database", dsn)
	})
}

func testSwitchAgentPair(t *testing.T, bin string, serverArgs ...string) {
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.1",
		"--", "add-port", "gatewayhost", "port1", "--", "add-port", "gatewayhost", "port2")
	_, base := testenv.StartServer(t, bin, serverArgs...)
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := func(name string) *testenv.L2GW {
		return testenv.StartL2GW(t, "switch-agent "+name, bin, "switch-agent", "--server", base, "--switch", o.UnixTarget(),
			"--agent-name", name, "--lease-period", pairLeasePeriod.String(), "--log-level", "debug")
	}
	holder := func(agent string, epoch int64) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, fmt.Sprintf("switch held by %s at epoch %d", agent, epoch), func() (bool, string) {
			sw, err := c.GetSwitch(ctx, "gatewayhost")
			if err != nil {
				return false, err.Error()
			}
			return sw.Agent == agent && sw.Epoch == epoch, fmt.Sprintf("agent %q epoch %d", sw.Agent, sw.Epoch)
		})
	}

	a := agent("a")
	holder("a", 1)
	b := agent("b")
	testenv.Eventually(t, 20*time.Second, "the switch's ports are reported", func() (bool, string) {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		return err == nil && len(sw.Ports) == 2, fmt.Sprintf("%+v %v", sw, err)
	})

	net, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	port := func(mac string) {
		t.Helper()
		if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: net.ID, MACAddress: mac, HostID: "compute1"}); err != nil {
			t.Fatal(err)
		}
	}
	port("fa:16:3e:00:00:01")
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1", SegmentationID: []string{"100"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: net.ID}); err != nil {
		t.Fatal(err)
	}
	macs := func() []string {
		out, _ := exec.Command("vtep-ctl", "--db="+o.UnixTarget(), "list-remote-macs", net.ID).Output() // none until the logical switch exists
		return slices.DeleteFunc(strings.Fields(string(out)), func(s string) bool { return !strings.HasPrefix(s, "fa:16:3e") })
	}
	onSwitch := func(mac string) func() (bool, string) {
		return func() (bool, string) {
			got := macs()
			return slices.Contains(got, mac), fmt.Sprintf("remote MACs %v", got)
		}
	}
	testenv.Eventually(t, 20*time.Second, "the holder programs port 1", onSwitch("fa:16:3e:00:00:01"))
	if n := len(reconciledLine.FindAllString(b.Logs(), -1)); n != 0 {
		t.Errorf("the standby reconciled %d times; want 0 (only the holder writes)", n)
	}
	if got := switchOther(t, o, switchagent.EpochKey); got != "1" {
		t.Errorf("switch other_config %s = %q; want 1", switchagent.EpochKey, got)
	}

	// kill -9 of the holder: the standby programs a port created after it
	// within two lease periods.
	killed := time.Now()
	a.Kill(t)
	port("fa:16:3e:00:00:02")
	testenv.Eventually(t, 2*pairLeasePeriod, "the standby programs port 2 within two lease periods", onSwitch("fa:16:3e:00:00:02"))
	t.Logf("takeover: port created after kill -9 on the switch %v after the kill (lease period %v)", time.Since(killed).Round(time.Millisecond), pairLeasePeriod)
	holder("b", 2)

	// b paused past a takeover by c, then resumed: it writes nothing.
	cAgent := agent("c")
	testenv.Eventually(t, 10*time.Second, "c stands by", func() (bool, string) {
		return strings.Contains(cAgent.Logs(), "standing by"), "no standby line yet"
	})
	if err := b.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	holder("c", 3)
	port("fa:16:3e:00:00:03")
	testenv.Eventually(t, 20*time.Second, "c programs port 3", onSwitch("fa:16:3e:00:00:03"))
	before := macs()
	resumed := len(b.Logs())
	if err := b.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "b steps down after SIGCONT", func() (bool, string) {
		l := b.Logs()[resumed:]
		return strings.Contains(l, "standing by") || strings.Contains(l, "lease lost"), "b has not stepped down"
	})
	after := b.Logs()[resumed:]
	if n := len(reconciledLine.FindAllString(after, -1)); n != 0 {
		t.Errorf("the resumed old holder committed %d transactions; want 0:\n%s", n, after)
	}
	t.Logf("resumed old holder: %d transactions failed on the fence, %d committed", strings.Count(after, "transaction fenced"), len(reconciledLine.FindAllString(after, -1)))
	if got := switchOther(t, o, switchagent.EpochKey); got != "3" {
		t.Errorf("switch other_config %s = %q; want 3 (c's)", switchagent.EpochKey, got)
	}
	if got := switchOther(t, o, switchagent.AgentKey); got != "c" {
		t.Errorf("switch other_config %s = %q; want c", switchagent.AgentKey, got)
	}
	port("fa:16:3e:00:00:04")
	testenv.Eventually(t, 20*time.Second, "c programs port 4", onSwitch("fa:16:3e:00:00:04"))
	if got, want := macs(), append(before, "fa:16:3e:00:00:04"); !equalSets(got, want) {
		t.Errorf("remote MACs = %v; want %v", got, want)
	}
	holder("c", 3)
	list, err := c.ListSwitches(ctx, client.ListOptions{})
	if err != nil || len(list) != 1 || list[0].Agent != "c" || list[0].Epoch != 3 {
		t.Errorf("switch list = %+v, %v; want gatewayhost held by c at epoch 3", list, err)
	}
}

func equalSets(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// switchOther reads Physical_Switch gatewayhost's other_config key.
func switchOther(t *testing.T, o *testenv.OVSDB, key string) string {
	t.Helper()
	return strings.Trim(strings.TrimSpace(o.VTEPCtl(t, "--if-exists", "get", "Physical_Switch", "gatewayhost", "other_config:"+key)), `"`)
}

// TestHostAgentPair: a second host agent for a host is refused (409
// naming the first) while the first is alive, touches nothing, and takes
// over when the first is killed.
func TestHostAgentPair(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute1")
	bin := testenv.BuildL2GW(t)
	_, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir())
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hostAgent := func(name string) *testenv.L2GW {
		return testenv.StartL2GW(t, "host-agent "+name, bin, "host-agent", "--server", base, "--host", "compute1",
			"--vtep-ip", "192.0.2.2", "--netns", ns, "--agent-name", name, "--lease-period", pairLeasePeriod.String())
	}
	a := hostAgent("a")
	testenv.Eventually(t, 20*time.Second, "a registers compute1", func() (bool, string) {
		hs, err := c.ListHosts(ctx, client.ListOptions{})
		return err == nil && len(hs) == 1, fmt.Sprintf("hosts %v, %v", hs, err)
	})
	b := hostAgent("b")

	// The server's answer to a second agent: 409 naming the first.
	body := strings.NewReader(`{"agent":"x","instance":"x1","duration_ms":2000}`)
	resp, err := http.Post(base+agentwire.HostLeasePath("compute1"), "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	var fault struct {
		NeutronError neutron.Error `json:"NeutronError"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fault)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || err != nil || !strings.Contains(fault.NeutronError.Message, "agent a ") {
		t.Errorf("second lease = %d %+v (%v); want 409 naming agent a", resp.StatusCode, fault, err)
	}
	testenv.Eventually(t, 10*time.Second, "b is refused, naming a", func() (bool, string) {
		return strings.Contains(b.Logs(), "Host compute1 is served by agent a"), "no refusal in b's log"
	})

	n1, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", SegmentationID: 1001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n1.ID, HostID: "compute1"}); err != nil {
		t.Fatal(err)
	}
	hasLink := func(name string) func() (bool, string) {
		return func() (bool, string) {
			out := lab.IP(ns, "-o", "link", "show")
			return strings.Contains(out, name+":") || strings.Contains(out, name+"@"), "no " + name
		}
	}
	testenv.Eventually(t, 20*time.Second, "a realises net1", hasLink("l2vx1001"))
	if strings.Contains(b.Logs(), "lease held") {
		t.Fatalf("b took the lease while a was alive:\n%s", b.Logs())
	}

	killed := time.Now()
	a.Kill(t)
	n2, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net2", SegmentationID: 1002})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: n2.ID, HostID: "compute1"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*pairLeasePeriod+5*time.Second, "b takes over and realises net2", hasLink("l2vx1002"))
	t.Logf("host takeover: net2 realised %v after kill -9 of a", time.Since(killed).Round(time.Millisecond))
	if !strings.Contains(b.Logs(), "lease held") {
		t.Errorf("b's log does not say it took the lease:\n%s", b.Logs())
	}
}

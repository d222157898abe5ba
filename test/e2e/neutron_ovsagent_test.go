package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// The real Open vSwitch agent's side of testNeutronOVSAgent.
const (
	ovsAgentBin  = "/usr/bin/neutron-openvswitch-agent" // neutron-common
	ovsAgentHost = "compute3"
	ovsAgentIP   = "192.0.2.21" // local_ip, on br-phy in the compute namespace
	realSwitchIP = "192.0.2.1"  // the soft VTEP's tunnel IP
	vmIP         = "10.9.0.13"
	bmIP         = "10.9.0.50"
)

// startProc starts a process owned by t (stopped at cleanup; its output
// in dir/name.log, shown when t failed).
func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *testenv.Proc {
	t.Helper()
	p, err := testenv.StartProc(testenv.ProcConfig{Name: name, Env: env, Log: filepath.Join(dir, name+".log"),
		ParentDeathSignal: 9, Grace: 20 * time.Second}, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Logs())
		}
	})
	return p
}

// testNeutronOVSAgent is issue 11's traffic test: Neutron's real Open
// vSwitch agent (python3-neutron's, l2_population = true, userspace
// datapath) wires a VM namespace into br-int on host compute3, and once
// the connection exists the VM pings a bare-metal host behind `l2gw
// soft-vtep`; l2gw reaches the agent only by its l2pop casts (the agent
// builds the VXLAN tunnel to the switch from them). After the connection is
// deleted the ping fails again and the agent has dropped the tunnel.
//
// The agent runs in the compute namespace with ovs-vswitchd (it is the
// OpenFlow controller vswitchd connects to on 127.0.0.1); RabbitMQ, on the
// host's loopback, reaches it through a unix socket (two socats).
func testNeutronOVSAgent(t *testing.T, n *testenv.Neutron, bin string) {
	for _, c := range []string{ovsAgentBin, "ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ovs-ofctl", "socat", "sudo", "ping"} {
		testenv.RequireCommand(t, c)
	}
	if _, err := os.Stat(VSwitchSchema); err != nil {
		testenv.Missing(t, VSwitchSchema+" (openvswitch-switch)")
	}
	dir, err := os.MkdirTemp("", "l2gw-ovsa-") // short: unix socket paths < 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	lab := testenv.NewNetLab(t) // registered first: the namespaces go after every process
	compute, swNS, vm, bm := lab.AddNS("c3"), lab.AddNS("sw"), lab.AddNS("vm"), lab.AddNS("bm")
	ovsEnv := []string{"OVS_RUNDIR=" + dir, "OVS_LOGDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_SYSCONFDIR=" + dir}
	db := "unix:" + filepath.Join(dir, "db.sock")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), ovsEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	vsctl := func(args ...string) string {
		t.Helper()
		return run("ovs-vsctl", append([]string{"--db=" + db, "--timeout=30"}, args...)...)
	}

	// Open vSwitch of compute3: ovsdb-server here, ovs-vswitchd in the
	// namespace (userspace datapath), the underlay IP on br-phy.
	run("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), VSwitchSchema)
	startProc(t, dir, "ovsdb-server", ovsEnv, "ovsdb-server", filepath.Join(dir, "conf.db"), "--remote=p"+db,
		"--unixctl="+filepath.Join(dir, "ovsdb.ctl"), "--no-chdir")
	testenv.Eventually(t, 30*time.Second, "conf.db's socket", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "db.sock"))
		return err == nil, fmt.Sprint(err)
	})
	vsctl("--no-wait", "init")
	startProc(t, dir, "ovs-vswitchd", ovsEnv, "ip", "netns", "exec", compute, "ovs-vswitchd", db, "--disable-system",
		"--unixctl="+filepath.Join(dir, "vswitchd.ctl"), "--no-chdir")
	lab.Veth(compute, "u0", swNS, "u1")
	vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "--", "add-port", "br-phy", "u0")
	lab.Addr(compute, "br-phy", ovsAgentIP+"/24")
	lab.IP(compute, "link", "set", "br-phy", "up")
	lab.Addr(swNS, "u1", realSwitchIP+"/24")
	// The switch's VXLAN packets must carry finished UDP checksums for the
	// userspace datapath (see "Running against ovs-vtep").
	if err := DisableTxChecksumOffload(swNS, "u1"); err != nil {
		t.Fatal(err)
	}

	// RabbitMQ into the namespace, on the same port.
	port := strconv.Itoa(n.RabbitPort)
	sock := filepath.Join(dir, "rmq.sock")
	startProc(t, dir, "socat-host", nil, "socat", "UNIX-LISTEN:"+sock+",fork", "TCP:127.0.0.1:"+port)
	testenv.Eventually(t, 30*time.Second, "the RabbitMQ socket", func() (bool, string) {
		_, err := os.Stat(sock)
		return err == nil, fmt.Sprint(err)
	})
	startProc(t, dir, "socat-ns", nil, "ip", "netns", "exec", compute, "socat",
		"TCP-LISTEN:"+port+",bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:"+sock)

	// The real agent.
	conf := filepath.Join(dir, "ovs-agent.conf")
	if err := os.WriteFile(conf, []byte(`[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:`+port+`/
host = `+ovsAgentHost+`
state_path = `+dir+`
[oslo_concurrency]
lock_path = `+dir+`
[agent]
tunnel_types = vxlan
l2_population = true
arp_responder = false
root_helper = sudo
report_interval = 5
[ovs]
integration_bridge = br-int
tunnel_bridge = br-tun
local_ip = `+ovsAgentIP+`
datapath_type = netdev
ovsdb_connection = `+db+`
of_listen_address = 127.0.0.1
[securitygroup]
firewall_driver = noop
enable_security_group = false
`), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, dir, "ovs-agent", ovsEnv, "ip", "netns", "exec", compute, ovsAgentBin, "--config-file", conf,
		"--log-file", filepath.Join(dir, "ovs-agent-full.log"))
	testenv.Eventually(t, 90*time.Second, "the real OVS agent alive in Neutron", func() (bool, string) {
		var body struct {
			Agents []struct {
				Alive          bool           `json:"alive"`
				Configurations map[string]any `json:"configurations"`
			} `json:"agents"`
		}
		getJSON(t, n.URL+"/v2.0/agents?host="+ovsAgentHost, &body)
		return len(body.Agents) == 1 && body.Agents[0].Alive && body.Agents[0].Configurations["tunneling_ip"] == ovsAgentIP &&
			body.Agents[0].Configurations["l2_population"] == true, fmt.Sprintf("%+v", body.Agents)
	})

	// The switch: l2gw soft-vtep, bare metal on port1 (VLAN 100).
	lab.Veth(bm, "eth0", swNS, "p1."+strconv.Itoa(VLAN))
	lab.Addr(bm, "eth0", bmIP+"/24")
	vtepDir := filepath.Join(dir, "vtep")
	if err := os.Mkdir(vtepDir, 0o755); err != nil {
		t.Fatal(err)
	}
	run("ovsdb-tool", "create", filepath.Join(vtepDir, "vtep.db"), testenv.VTEPSchema)
	vtepDB := "unix:" + filepath.Join(vtepDir, "db.sock")
	startProc(t, dir, "ovsdb-vtep", nil, "ovsdb-server", filepath.Join(vtepDir, "vtep.db"), "--remote=p"+vtepDB,
		"--unixctl="+filepath.Join(vtepDir, "ovsdb.ctl"), "--no-chdir")
	testenv.Eventually(t, 30*time.Second, "vtep.db's socket", func() (bool, string) {
		_, err := os.Stat(filepath.Join(vtepDir, "db.sock"))
		return err == nil, fmt.Sprint(err)
	})
	startProc(t, dir, "soft-vtep", nil, bin, "soft-vtep", "--ovsdb", vtepDB, "--name", "gatewayhost",
		"--tunnel-ip", realSwitchIP, "--port", "port1=p1", "--netns", swNS)

	// l2gw in the OpenStack mode, l2pop on Neutron's RabbitMQ.
	_, base := testenv.StartServer(t, bin, "--data-dir", filepath.Join(dir, "server"), "--inventory", "neutron", "--neutron-url", n.URL,
		"--neutron-proxy", "--neutron-poll-interval", "250ms", "--switch", vtepDB,
		"--transport-url", "rabbit://guest:guest@127.0.0.1:"+port+"/")
	if _, err := openstack(t, base, "network", "create", "ovs-net"); err != nil {
		t.Fatal(err)
	}
	if _, err := openstack(t, base, "subnet", "create", "ovs-sub", "--network", "ovs-net", "--subnet-range", "10.9.0.0/24", "--no-dhcp"); err != nil {
		t.Fatal(err)
	}
	p := osJSON[osPort](t, base, "port", "create", "vm", "--network", "ovs-net", "--host", ovsAgentHost, "--device-owner", "compute:nova",
		"--fixed-ip", "ip-address="+vmIP)

	// The VM, plugged into br-int as nova plugs a VIF: the agent finds it
	// by external_ids:iface-id and sets the port ACTIVE.
	tap := "tap" + p.ID[:11]
	lab.Veth(vm, "eth0", compute, tap)
	lab.IP(vm, "link", "set", "eth0", "address", p.MACAddress)
	lab.IP(vm, "link", "set", "eth0", "mtu", "1450")
	lab.Addr(vm, "eth0", vmIP+"/24")
	vsctl("add-port", "br-int", tap, "--", "set", "Interface", tap, "external_ids:iface-id="+p.ID,
		"external_ids:iface-status=active", "external_ids:attached-mac="+p.MACAddress)
	testenv.Eventually(t, 90*time.Second, "the VM's port ACTIVE (set by the real agent)", func() (bool, string) {
		var body struct {
			Port struct{ Status string } `json:"port"`
		}
		getJSON(t, n.URL+"/v2.0/ports/"+p.ID, &body)
		return body.Port.Status == "ACTIVE", body.Port.Status
	})
	ping := func() error {
		out, err := exec.Command("ip", "netns", "exec", vm, "ping", "-c1", "-W1", bmIP).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := ping(); err == nil {
		t.Fatal("the VM reaches the bare-metal host before any connection")
	}
	tunnels := func() string {
		return run("ip", "netns", "exec", compute, "ovs-ofctl", "dump-ports-desc", "br-tun")
	}

	if _, err := openstack(t, base, "l2gw", "create", "gw-ovs", "--device", "name=gatewayhost,interface_names=port1"); err != nil {
		t.Fatal(err)
	}
	conn := osJSON[map[string]any](t, base, "l2gw", "connection", "create", "gw-ovs", "ovs-net", "--default-segmentation-id", strconv.Itoa(VLAN))
	connID, _ := conn["id"].(string)
	if connID == "" {
		connID, _ = conn["ID"].(string)
	}
	start := time.Now()
	testenv.Eventually(t, 60*time.Second, "the VM pings the bare-metal host", func() (bool, string) {
		if err := ping(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	t.Logf("first ping through the real OVS agent %v after the openstack client returned from connection create", time.Since(start).Round(time.Millisecond))
	if tn := tunnels(); !strings.Contains(tn, "vxlan-c0000201") {
		t.Errorf("br-tun ports = %s; want the agent's tunnel to %s (vxlan-c0000201)", tn, realSwitchIP)
	}

	if _, err := openstack(t, base, "l2gw", "connection", "delete", connID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "the agent drops its tunnel to the switch", func() (bool, string) {
		tn := tunnels()
		return !strings.Contains(tn, "vxlan-"), tn
	})
	if err := ping(); err == nil {
		t.Error("the VM still reaches the bare-metal host after the connection was deleted")
	}
}

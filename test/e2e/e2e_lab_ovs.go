package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/l2gw/l2gw/internal/testenv"
)

// Open vSwitch files used for the ovs-vtep switch (Debian's openvswitch-switch,
// openvswitch-vtep and python3-openvswitch).
const (
	VSwitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
	OVSVTEPScript = "/usr/share/openvswitch/scripts/ovs-vtep"
	// OVSVTEPPython is Debian's python3, the one python3-openvswitch is
	// installed for (vtep-lab.md section 4).
	OVSVTEPPython = "/usr/bin/python3"
)

// OVSVTEPMissing returns what the ovs-vtep switch needs that is not
// installed, or "".
func OVSVTEPMissing() string {
	for _, f := range []string{VSwitchSchema, OVSVTEPScript, OVSVTEPPython, testenv.VTEPSchema} {
		if _, err := os.Stat(f); err != nil {
			return f
		}
	}
	return ""
}

// startOVSVTEP makes gatewayhost Open vSwitch's hardware_vtep emulator on
// the userspace datapath (vtep-lab.md sections 4 and 6): one ovsdb-server
// with conf.db and vtep.db, ovs-vswitchd --disable-system in the switch
// namespace, the underlay IP on the OVS bridge br-phy holding u0, the
// physical switch bridge gatewayhost with ports port1 and port2, and per
// bare-metal host an access switch (brbmN, its port bmNa tagged VLAN 100)
// trunked to portN by a veth (trN <-> portN), so VLAN 100 really is 802.1Q
// on the switch's ports. Then ovs-vtep.
func (l *Lab) startOVSVTEP() {
	l.t.Helper()
	dir := filepath.Join(l.Dir, "ovs")
	l.ovsEnv = []string{"OVS_RUNDIR=" + dir, "OVS_LOGDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_SYSCONFDIR=" + dir}
	l.VTEPDB = l.startOVSDB(dir, map[string]string{"conf.db": VSwitchSchema, "vtep.db": testenv.VTEPSchema})
	db := "--db=unix:" + l.VTEPDB
	l.mustRun("ovs-vsctl", db, "--no-wait", "init")
	l.mustRun("ip", "netns", "exec", l.Switch, "ovs-vswitchd", "unix:"+l.VTEPDB, "--disable-system",
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--unixctl="+filepath.Join(dir, "ovs-vswitchd.ctl"),
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"), "--detach", "--no-chdir")
	l.adoptPidfile("ovs-vswitchd", filepath.Join(dir, "ovs-vswitchd.pid"))

	vsctl := func(args ...string) {
		l.t.Helper()
		l.mustRun("ovs-vsctl", append([]string{db, "--timeout=30"}, args...)...)
	}
	// Underlay on br-phy.
	vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "--", "add-port", "br-phy", "u0")
	l.IP(l.Switch, "addr", "add", SwitchIP+"/24", "dev", "br-phy")
	l.IP(l.Switch, "link", "set", "br-phy", "up")
	// Bare metal behind access switches that tag VLAN 100 toward the VTEP.
	vsctl("add-br", SwitchName, "--", "set", "bridge", SwitchName, "datapath_type=netdev")
	for i, bm := range []*Endpoint{&l.BM1, &l.BM2} {
		n := i + 1
		access, trunk, port, br := fmt.Sprintf("bm%da", n), fmt.Sprintf("tr%d", n), fmt.Sprintf("port%d", n), fmt.Sprintf("brbm%d", n)
		l.veth(bm.NS, "eth0", l.Switch, access)
		l.endpointAddr(bm)
		l.veth(l.Switch, trunk, l.Switch, port)
		vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev",
			"--", "add-port", br, access, fmt.Sprintf("tag=%d", VLAN),
			"--", "add-port", br, trunk, fmt.Sprintf("trunks=%d", VLAN))
		vsctl("add-port", SwitchName, port)
	}
	l.mustRun("vtep-ctl", db, "add-ps", SwitchName)
	l.mustRun("vtep-ctl", db, "set", "Physical_Switch", SwitchName, "tunnel_ips="+SwitchIP)
	l.mustRun("vtep-ctl", db, "add-port", SwitchName, "port1")
	l.mustRun("vtep-ctl", db, "add-port", SwitchName, "port2")
	pidfile := filepath.Join(dir, "ovs-vtep.pid")
	l.mustRun("ip", "netns", "exec", l.Switch, OVSVTEPPython, OVSVTEPScript,
		"--log-file="+filepath.Join(dir, "ovs-vtep.log"), "--pidfile="+pidfile, "--detach", "--no-chdir", SwitchName)
	l.adoptPidfile("ovs-vtep", pidfile)
	for _, ns := range []string{l.Compute1, l.Compute2} {
		if err := DisableTxChecksumOffload(ns, "u0"); err != nil {
			l.t.Fatalf("%v", err)
		}
	}
	l.waitSwitchRegistered()
}

// OVSState describes what ovs-vtep built in Open vSwitch: its bridges and
// their ports (logical switch bridges, patch ports, tunnels).
func (l *Lab) OVSState() (string, error) {
	if l.Kind != OVSVTEP {
		return "", nil
	}
	db := "--db=unix:" + l.VTEPDB
	brs, err := l.run("ovs-vsctl", db, "list-br")
	if err != nil {
		return "", fmt.Errorf("ovs-vsctl list-br: %v: %s", err, brs)
	}
	var b strings.Builder
	for _, br := range strings.Fields(brs) {
		ports, err := l.run("ovs-vsctl", db, "list-ports", br)
		if err != nil {
			return "", fmt.Errorf("ovs-vsctl list-ports %s: %v: %s", br, err, ports)
		}
		fmt.Fprintf(&b, "bridge %s: %s\n", br, strings.Join(strings.Fields(ports), " "))
	}
	return b.String(), nil
}

// TaggedFlows returns the OpenFlow rules ovs-vtep installed on the physical
// switch bridge for VLAN 100 bindings ("dl_vlan=100" in, "mod_vlan_vid:100"
// out) that matched packets: proof the traffic was 802.1Q tagged on the
// switch's ports (vtep-lab.md section 6).
func (l *Lab) TaggedFlows() ([]string, error) {
	out, err := l.run("ovs-ofctl", "dump-flows", SwitchName)
	if err != nil {
		return nil, fmt.Errorf("ovs-ofctl dump-flows %s: %v: %s", SwitchName, err, out)
	}
	var flows []string
	for _, line := range strings.Split(out, "\n") {
		tagged := strings.Contains(line, fmt.Sprintf("dl_vlan=%d", VLAN)) || strings.Contains(line, fmt.Sprintf("mod_vlan_vid:%d", VLAN))
		if tagged && !strings.Contains(line, "n_packets=0,") {
			flows = append(flows, strings.TrimSpace(line))
		}
	}
	return flows, nil
}

// Package e2e holds l2gw's end-to-end tests: real l2gw processes, real
// ovsdb-server, real switches (the soft VTEP and Open vSwitch's ovs-vtep) and
// real packets in network namespaces. The lab harness (Lab) is also used by
// bench/traffic, so it lives in non-test files and needs only the small TB
// interface, not *testing.T.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TB is what the lab needs from its caller: *testing.T satisfies it, and so
// does the runner of bench/traffic.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// SwitchKind selects the implementation of the lab's VTEP switch gatewayhost.
type SwitchKind string

// The switches the lab can run as gatewayhost.
const (
	// SoftVTEP is l2gw's own Linux switch (l2gw soft-vtep).
	SoftVTEP SwitchKind = "soft-vtep"
	// OVSVTEP is Open vSwitch's hardware_vtep emulator (ovs-vtep) on the
	// userspace datapath.
	OVSVTEP SwitchKind = "ovs-vtep"
)

// Fixed lab facts: every address exists only inside the lab's namespaces.
const (
	SwitchName = "gatewayhost"
	SwitchIP   = "192.0.2.1"
	Compute1IP = "192.0.2.2"
	Compute2IP = "192.0.2.3"
	VNI        = 1000
	VLAN       = 100
	OverlayMTU = 1450
	underlayNS = "ul"
)

// Endpoint is a VM or bare-metal host of the lab: a namespace whose eth0
// carries IP (a /24 of 203.0.113.0) and MAC.
type Endpoint struct {
	Name string // vm1, vm2, bm1, bm2
	NS   string
	IP   string
	MAC  string
}

// Lab is the issue 5 topology: compute1 (vm1 on tap1) and compute2 (vm2 on
// tap2) running l2gw host-agents, the switch gatewayhost (soft-vtep or
// ovs-vtep) with port1 and port2 toward bm1 and bm2 on VLAN 100, an underlay
// bridge joining the VTEP IPs, and an l2gw server with a switch agent. Every
// namespace is Prefix+role; every process writes its log (and pidfile) in
// Dir. Everything is removed at cleanup, and the logs are printed when the
// test failed.
type Lab struct {
	t      TB
	Prefix string // l2gw<id>-
	Dir    string // logs, pidfiles, sockets, server data
	Bin    string // the l2gw binary
	Kind   SwitchKind
	URL    string // l2gw API server

	Compute1, Compute2, Switch, Underlay string // namespace names
	VM1, VM2, BM1, BM2                   Endpoint

	// VTEPDB is the unix socket of the switch's hardware_vtep ovsdb-server.
	VTEPDB string

	mu     sync.Mutex
	pids   []int
	ovsEnv []string
}

// labCounter makes prefixes unique within one process; the PID across
// processes.
var labCounter atomic.Uint32

// LabConfig configures NewLab.
type LabConfig struct {
	Bin    string     // l2gw binary (BuildL2GW); required
	Switch SwitchKind // default SoftVTEP
}

// NewLab builds the whole lab and starts every process; it returns once the
// API server answers. Cleanup (registered on t) stops every process by PID
// and deletes every namespace.
func NewLab(t TB, cfg LabConfig) *Lab {
	t.Helper()
	if cfg.Switch == "" {
		cfg.Switch = SoftVTEP
	}
	dir, err := os.MkdirTemp("", "l2gw-e2e-") // short: unix socket paths < 108 bytes
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	id := fmt.Sprintf("%x%x", os.Getpid()&0xffff, labCounter.Add(1))
	l := &Lab{t: t, Prefix: "l2gw" + id + "-", Dir: dir, Bin: cfg.Bin, Kind: cfg.Switch}
	// Registered first, so it runs last: after every process is stopped.
	t.Cleanup(func() {
		if t.Failed() {
			l.dumpLogs()
		}
		os.RemoveAll(dir)
	})
	l.buildNetwork()
	switch l.Kind {
	case SoftVTEP:
		l.startSoftVTEP()
	case OVSVTEP:
		l.startOVSVTEP()
	default:
		t.Fatalf("unknown switch kind %q", l.Kind)
	}
	l.startControl()
	return l
}

// ns creates the namespace Prefix+role (loopback up) and schedules its
// deletion.
func (l *Lab) ns(role string) string {
	l.t.Helper()
	name := l.Prefix + role
	l.mustRun("ip", "netns", "add", name)
	l.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	l.mustRun("ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// veth makes a pair name1 (in ns1) <-> name2 (in ns2), both up.
func (l *Lab) veth(ns1, name1, ns2, name2 string) {
	l.t.Helper()
	l.mustRun("ip", "link", "add", name1, "netns", ns1, "type", "veth", "peer", "name", name2, "netns", ns2)
	l.mustRun("ip", "-n", ns1, "link", "set", name1, "up")
	l.mustRun("ip", "-n", ns2, "link", "set", name2, "up")
}

// IP runs `ip -n ns args...`, failing the test on error.
func (l *Lab) IP(ns string, args ...string) string {
	l.t.Helper()
	return l.mustRun("ip", append([]string{"-n", ns}, args...)...)
}

func (l *Lab) mustRun(name string, args ...string) string {
	l.t.Helper()
	out, err := l.run(name, args...)
	if err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func (l *Lab) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), l.ovsEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Exec runs name inside ns and returns its combined output; errors are the
// caller's to judge (pings are expected to fail at times).
func (l *Lab) Exec(ns, name string, args ...string) (string, error) {
	return l.run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// buildNetwork makes the namespaces, the underlay, the VMs and the
// bare-metal hosts. The switch's own wiring is made by startSoftVTEP or
// startOVSVTEP.
func (l *Lab) buildNetwork() {
	l.t.Helper()
	l.Underlay = l.ns(underlayNS)
	l.Compute1, l.Compute2, l.Switch = l.ns("compute1"), l.ns("compute2"), l.ns("sw")
	l.VM1 = Endpoint{Name: "vm1", NS: l.ns("vm1"), IP: "203.0.113.11"}
	l.VM2 = Endpoint{Name: "vm2", NS: l.ns("vm2"), IP: "203.0.113.12"}
	l.BM1 = Endpoint{Name: "bm1", NS: l.ns("bm1"), IP: "203.0.113.21"}
	l.BM2 = Endpoint{Name: "bm2", NS: l.ns("bm2"), IP: "203.0.113.22"}

	// Underlay: a bridge in its own namespace, one cable per VTEP.
	l.IP(l.Underlay, "link", "add", "br0", "type", "bridge")
	l.IP(l.Underlay, "link", "set", "br0", "up")
	for _, c := range []struct{ ns, port, ip string }{
		{l.Switch, "usw", SwitchIP}, {l.Compute1, "uc1", Compute1IP}, {l.Compute2, "uc2", Compute2IP},
	} {
		l.veth(c.ns, "u0", l.Underlay, c.port)
		l.IP(l.Underlay, "link", "set", c.port, "master", "br0")
		if c.ns != l.Switch || l.Kind == SoftVTEP { // ovs-vtep: the IP goes on br-phy
			l.IP(c.ns, "addr", "add", c.ip+"/24", "dev", "u0")
		}
	}
	// VMs: eth0 in the VM, tapN on the compute host (given to the port).
	l.veth(l.VM1.NS, "eth0", l.Compute1, "tap1")
	l.veth(l.VM2.NS, "eth0", l.Compute2, "tap2")
	for _, e := range []*Endpoint{&l.VM1, &l.VM2} {
		l.endpointAddr(e)
	}
}

// AddVM adds a VM: namespace Prefix+name whose eth0 (overlay MTU, ip/24)
// is cabled to device tap on the compute host namespace computeNS. The
// device is given to a port with `port-create --interface tap`.
func (l *Lab) AddVM(name, computeNS, tap, ip string) Endpoint {
	l.t.Helper()
	e := Endpoint{Name: name, NS: l.ns(name), IP: ip}
	l.veth(e.NS, "eth0", computeNS, tap)
	l.endpointAddr(&e)
	return e
}

// FlushNeighbours empties e's ARP cache, so a measured first ping starts
// from nothing learnt.
func (l *Lab) FlushNeighbours(e Endpoint) {
	l.t.Helper()
	l.IP(e.NS, "neigh", "flush", "all")
}

// PinNeighbour gives from a permanent ARP entry for to, so pings between
// them need no ARP exchange: a measured first reply then depends on the
// data plane only, not on the kernel's 1 s ARP retry timer.
func (l *Lab) PinNeighbour(from, to Endpoint) {
	l.t.Helper()
	l.IP(from.NS, "neigh", "replace", to.IP, "lladdr", to.MAC, "dev", "eth0", "nud", "permanent")
}

// endpointAddr sets the overlay MTU and IP on e's eth0 and reads its MAC.
func (l *Lab) endpointAddr(e *Endpoint) {
	l.t.Helper()
	l.IP(e.NS, "link", "set", "eth0", "mtu", strconv.Itoa(OverlayMTU))
	l.IP(e.NS, "addr", "add", e.IP+"/24", "dev", "eth0")
	h, err := testenv.NetlinkHandle(e.NS)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	defer h.Close()
	link, err := h.LinkByName("eth0")
	if err != nil {
		l.t.Fatalf("eth0 of %s: %v", e.Name, err)
	}
	e.MAC = link.Attrs().HardwareAddr.String()
}

// startOVSDB creates the databases named by schemas (file name -> schema)
// in dir and serves them with one ovsdb-server on dir/db.sock.
func (l *Lab) startOVSDB(dir string, schemas map[string]string) string {
	l.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatalf("%v", err)
	}
	dbs := make([]string, 0, len(schemas))
	for _, n := range slices.Sorted(maps.Keys(schemas)) {
		db := filepath.Join(dir, n)
		if err := testenv.CreateDB(context.Background(), db, schemas[n]); err != nil {
			l.t.Fatalf("%v", err)
		}
		dbs = append(dbs, db)
	}
	pidfile, err := testenv.RunOVSDBServer(context.Background(), dir, nil, dbs...)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	l.adoptPidfile("ovsdb-server", pidfile)
	return filepath.Join(dir, testenv.OVSDBSocket)
}

// adoptPidfile records a daemon that detached itself, to be stopped by PID
// at cleanup (after everything started later).
func (l *Lab) adoptPidfile(name, pidfile string) {
	l.t.Helper()
	pid, err := testenv.ReadPidfile(pidfile)
	if err != nil {
		l.t.Fatalf("%s: %v", name, err)
	}
	l.mu.Lock()
	l.pids = append(l.pids, pid)
	l.mu.Unlock()
	l.t.Cleanup(func() { testenv.StopPID(pid, 10*time.Second) })
}

// Start runs name with args in the background (env added to the lab's),
// logging to Dir/<tag>.log with its PID in Dir/<tag>.pid; it is stopped at
// cleanup (SIGTERM, SIGKILL after 10 s).
func (l *Lab) Start(tag string, env []string, name string, args ...string) *testenv.Proc {
	l.t.Helper()
	p, err := testenv.StartProc(testenv.ProcConfig{
		Name: tag, Env: append(slices.Clone(l.ovsEnv), env...), Log: filepath.Join(l.Dir, tag+".log"),
	}, name, args...)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	_ = os.WriteFile(filepath.Join(l.Dir, tag+".pid"), []byte(strconv.Itoa(p.PID)+"\n"), 0o644)
	l.mu.Lock()
	l.pids = append(l.pids, p.PID)
	l.mu.Unlock()
	l.t.Cleanup(func() { _ = p.Stop() })
	return p
}

// PIDs lists every process the lab started (foreground and daemons).
func (l *Lab) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.pids)
}

// dumpLogs prints every log in Dir (the tail of long ones).
func (l *Lab) dumpLogs() {
	var logs []string
	_ = filepath.WalkDir(l.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") {
			logs = append(logs, p)
		}
		return nil
	})
	slices.Sort(logs)
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		const max = 24 << 10
		if len(b) > max {
			b = append([]byte("...\n"), b[len(b)-max:]...)
		}
		l.t.Logf("==== %s ====\n%s", strings.TrimPrefix(p, l.Dir+"/"), b)
	}
}

// startSoftVTEP wires bm1 and bm2 to the binding devices p1.100 and p2.100
// (veths: this kernel has no 8021q, vtep-lab.md section 4), starts an
// ovsdb-server with an empty hardware_vtep database and `l2gw soft-vtep` in
// the switch namespace.
func (l *Lab) startSoftVTEP() {
	l.t.Helper()
	l.veth(l.BM1.NS, "eth0", l.Switch, fmt.Sprintf("p1.%d", VLAN))
	l.veth(l.BM2.NS, "eth0", l.Switch, fmt.Sprintf("p2.%d", VLAN))
	l.endpointAddr(&l.BM1)
	l.endpointAddr(&l.BM2)
	l.VTEPDB = l.startOVSDB(filepath.Join(l.Dir, "sw"), map[string]string{"vtep.db": testenv.VTEPSchema})
	l.Start("soft-vtep", nil, l.Bin, "soft-vtep", "--ovsdb", "unix:"+l.VTEPDB, "--name", SwitchName,
		"--tunnel-ip", SwitchIP, "--port", "port1=p1", "--port", "port2=p2", "--netns", l.Switch,
		"--log-level", "debug")
	l.waitSwitchRegistered()
}

// waitSwitchRegistered polls the hardware_vtep database until the switch
// has registered itself with both ports.
func (l *Lab) waitSwitchRegistered() {
	l.t.Helper()
	err := testenv.Poll(context.Background(), 30*time.Second, func() error {
		out, err := l.run("vtep-ctl", "--db=unix:"+l.VTEPDB, "list-ports", SwitchName)
		if err != nil {
			return fmt.Errorf("vtep-ctl list-ports: %v: %s", err, out)
		}
		if f := strings.Fields(out); !slices.Equal(f, []string{"port1", "port2"}) {
			return fmt.Errorf("ports of %s = %q; want port1 port2", SwitchName, f)
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("switch %s did not register: %v", SwitchName, err)
	}
}

// VTEPCtl runs vtep-ctl on the switch's database.
func (l *Lab) VTEPCtl(args ...string) (string, error) {
	out, err := l.run("vtep-ctl", append([]string{"--db=unix:" + l.VTEPDB}, args...)...)
	return strings.TrimSpace(out), err
}

// startControl starts `l2gw server` (own data dir, a free loopback port), a
// switch agent for gatewayhost and the two host agents.
func (l *Lab) startControl() {
	l.t.Helper()
	data := filepath.Join(l.Dir, "server")
	srv := l.Start("server", nil, l.Bin, "server", "--bind", "127.0.0.1:0", "--data-dir", data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	addr, err := srv.Addr(ctx)
	cancel()
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	l.URL = "http://" + addr
	l.Start("switch-agent", nil, l.Bin, "switch-agent", "--server", l.URL, "--switch", "unix:"+l.VTEPDB,
		"--name", SwitchName, "--log-level", "debug")
	for _, h := range []struct{ name, ns, ip string }{
		{"compute1", l.Compute1, Compute1IP}, {"compute2", l.Compute2, Compute2IP},
	} {
		l.Start("host-agent-"+h.name, nil, l.Bin, "host-agent", "--server", l.URL, "--host", h.name,
			"--vtep-ip", h.ip, "--netns", h.ns, "--log-level", "debug")
	}
}

// CLI runs `l2gw --url URL args...` and returns its stdout (stderr on error).
func (l *Lab) CLI(args ...string) (string, error) {
	cmd := exec.Command(l.Bin, append([]string{"--url", l.URL}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("l2gw %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// MustCLI is CLI failing the test on error.
func (l *Lab) MustCLI(args ...string) string {
	l.t.Helper()
	out, err := l.CLI(args...)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	return out
}

// CLIJSON runs the CLI with -f json and decodes its output into v.
func (l *Lab) CLIJSON(v any, args ...string) error {
	out, err := l.CLI(append(args, "-f", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("l2gw %s: decode %q: %w", strings.Join(args, " "), out, err)
	}
	return nil
}

// Ping sends one echo request from e to ip and waits up to wait for the
// reply; nil when it came.
func (l *Lab) Ping(from Endpoint, ip string, wait time.Duration) error {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	out, err := l.Exec(from.NS, "ping", "-n", "-q", "-c1", "-W", strconv.Itoa(secs), ip)
	if err != nil {
		return fmt.Errorf("%s -> %s: %v: %s", from.Name, ip, err, strings.TrimSpace(out))
	}
	return nil
}

// PingUntil pings from e to ip every 10 ms until the first reply or the
// timeout. ping gives up early on errors (no ARP reply, unreachable), so it
// is restarted until the deadline; the time it returns at is precise to
// ~10 ms.
func (l *Lab) PingUntil(from Endpoint, ip string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		secs := max(1, int((left+time.Second-1)/time.Second))
		out, err := l.Exec(from.NS, "ping", "-n", "-q", "-c1", "-i", "0.01", "-w", strconv.Itoa(secs), ip)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s -> %s: no reply in %v: %v: %s", from.Name, ip, timeout, err, strings.TrimSpace(out))
		}
	}
}

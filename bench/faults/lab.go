package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// The lab's fixed shape: two replicas, two switches, three hosts.
var (
	switchNames = []string{"sw1", "sw2"}
	switchPorts = []string{"p1", "p2"}
	hostNames   = []string{"compute1", "compute2", "compute3"}
)

// switchIP and hostIP are the tunnel IPs (TEST-NET-1).
func switchIP(i int) string { return fmt.Sprintf("192.0.2.%d", 1+i) }
func hostIP(i int) string   { return fmt.Sprintf("192.0.2.%d", 11+i) }

// replicaBPort is replica B's API port inside its own namespace, where
// nothing else listens: a fixed port keeps its URL (in the agents'
// --server lists) across restarts.
const replicaBPort = 9696

// lab is the system under test: PostgreSQL, replicas A (in the bench's
// network namespace, on PostgreSQL's unix socket) and B (in namespace rb,
// on PostgreSQL over TCP through a veth pair that the partition fault takes
// down), an ovsdb-server and a switch agent per switch, and a host agent
// per host, each host in its own namespace. Every process is started with
// ParentDeathSignal, so an interrupted bench leaves none behind, and stopped
// by its PID at close.
type lab struct {
	dir, bin string
	prefix   string // network namespace names: prefix + role

	pg *testenv.Postgres
	// Addresses of the veth pairs of replica B's namespace: the API link
	// (always up) and the database link.
	apiHost, apiNS, dbHost, dbNS string
	dbLink                       string // host end of the database link

	mu       sync.Mutex // guards the process handles below, replaced at restarts
	replicas [2]*testenv.Proc
	swAgents []*testenv.Proc
	hAgents  []*testenv.Proc

	urls      [2]string // replica A, replica B
	ovsdbs    []*ovsdbServer
	hc        *http.Client
	nsCreated []string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

// startLab builds the topology. On error, what was started is closed.
func startLab(ctx context.Context, dir, bin string) (l *lab, err error) {
	removeStaleNamespaces()
	l = &lab{dir: dir, bin: bin, prefix: fmt.Sprintf("l2gwf%x-", os.Getpid()),
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	// Addresses from the PID, so that two benches (or other engineers'
	// labs) on the machine do not share a subnet: 10.(200+a).b.0/29.
	pid := os.Getpid()
	net4 := fmt.Sprintf("10.%d.%d.", 200+pid%50, pid/50%250)
	l.apiHost, l.apiNS, l.dbHost, l.dbNS = net4+"1", net4+"2", net4+"5", net4+"6"
	l.dbLink = l.prefix[:len(l.prefix)-1] + "d" // host-side names live in the bench's namespace: unique per lab
	rb := l.ns("rb")
	if err := l.addNS(rb); err != nil {
		return l, err
	}
	apiLink := l.prefix[:len(l.prefix)-1] + "a"
	for _, v := range []struct{ host, hostAddr, nsAddr string }{{apiLink, l.apiHost, l.apiNS}, {l.dbLink, l.dbHost, l.dbNS}} {
		peer := "eth" + v.host[len(v.host)-1:]
		if err := ipCmd("link", "add", v.host, "type", "veth", "peer", "name", peer, "netns", rb); err != nil {
			return l, err
		}
		for _, args := range [][]string{
			{"addr", "add", v.hostAddr + "/30", "dev", v.host}, {"link", "set", v.host, "up"},
			{"-n", rb, "addr", "add", v.nsAddr + "/30", "dev", peer}, {"-n", rb, "link", "set", peer, "up"},
		} {
			if err := ipCmd(args...); err != nil {
				return l, err
			}
		}
	}
	for i, h := range hostNames {
		ns := l.ns(h)
		if err := l.addNS(ns); err != nil {
			return l, err
		}
		if err := ipCmd("-n", ns, "addr", "add", hostIP(i)+"/32", "dev", "lo"); err != nil {
			return l, err
		}
	}

	logf("starting PostgreSQL 15 (unix socket and %s)", l.dbHost)
	port, err := freePort(l.dbHost)
	if err != nil {
		return l, err
	}
	if l.pg, err = testenv.RunPostgresTCP(l.dbHost, port); err != nil {
		return l, err
	}
	apiPort, err := freePort("127.0.0.1")
	if err != nil {
		return l, err
	}
	l.urls = [2]string{fmt.Sprintf("http://127.0.0.1:%d", apiPort), fmt.Sprintf("http://%s:%d", l.apiNS, replicaBPort)}
	for i := range l.replicas {
		if err := l.startReplica(ctx, i); err != nil {
			return l, err
		}
	}
	for i, name := range switchNames {
		o, err := startOVSDB(ctx, filepath.Join(dir, name), name, switchIP(i))
		if err != nil {
			return l, err
		}
		l.ovsdbs = append(l.ovsdbs, o)
		l.swAgents = append(l.swAgents, nil)
		if err := l.startSwitchAgent(i); err != nil {
			return l, err
		}
	}
	for i := range hostNames {
		l.hAgents = append(l.hAgents, nil)
		if err := l.startHostAgent(i); err != nil {
			return l, err
		}
	}
	return l, nil
}

func (l *lab) ns(role string) string { return l.prefix + role }

// removeStaleNamespaces deletes the namespaces of benches that were killed
// (SIGKILL leaves no chance to clean up; every process of theirs died with
// them by its parent death signal). A lab's prefix carries its PID.
func removeStaleNamespaces() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ")
		hex, ok := strings.CutPrefix(name, "l2gwf")
		if !ok {
			continue
		}
		hex, _, ok = strings.Cut(hex, "-")
		pid, err := strconv.ParseInt(hex, 16, 32)
		if !ok || err != nil || pid <= 0 || int(pid) == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(int(pid), 0), syscall.ESRCH) {
			if err := ipCmd("netns", "del", name); err == nil {
				logf("removed %s, left by a killed bench", name)
			}
		}
	}
}

func (l *lab) addNS(name string) error {
	if err := ipCmd("netns", "add", name); err != nil {
		return err
	}
	l.nsCreated = append(l.nsCreated, name)
	return ipCmd("-n", name, "link", "set", "lo", "up")
}

// servers is the --server list of the i-th switch or host agent: half of
// them prefer replica A, half B, so that every replica fault hits agents.
func (l *lab) servers(i int) string {
	if i%2 == 1 {
		return l.urls[1] + "," + l.urls[0]
	}
	return l.urls[0] + "," + l.urls[1]
}

func (l *lab) proc(name string) testenv.ProcConfig {
	return testenv.ProcConfig{Name: name, Log: filepath.Join(l.dir, strings.ReplaceAll(name, " ", "-")+".log"),
		Grace: 5 * time.Second, DropEnv: "L2GW_", ParentDeathSignal: syscall.SIGKILL}
}

// startReplica starts replica i (0: A, 1: B) and waits until it is healthy.
func (l *lab) startReplica(ctx context.Context, i int) error {
	name := []string{"replica A", "replica B"}[i]
	data := filepath.Join(l.dir, fmt.Sprintf("replica%d", i))
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	args := []string{"server", "--data-dir", data, "--access-log=false"}
	bin := l.bin
	if i == 0 {
		args = append(args, "--bind", strings.TrimPrefix(l.urls[0], "http://"), "--database", l.pg.DSN)
	} else {
		// ip netns exec execs the server in place: the PID and the parent
		// death signal are the server's.
		args = append([]string{"netns", "exec", l.ns("rb"), l.bin}, append(args,
			"--bind", net.JoinHostPort(l.apiNS, strconv.Itoa(replicaBPort)), "--insecure-noauth-remote",
			"--database", l.pg.TCPDSN)...)
		bin = "ip"
	}
	p, err := testenv.StartProc(l.proc(name), bin, args...)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.replicas[i] = p
	l.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := testenv.WaitHealthy(wctx, l.hc, l.urls[i], p); err != nil {
		return fmt.Errorf("%s: %w (log %s)", name, err, p.Log)
	}
	return nil
}

func (l *lab) startSwitchAgent(i int) error {
	p, err := testenv.StartProc(l.proc("switch-agent "+switchNames[i]), l.bin, "switch-agent",
		"--server", l.servers(i), "--switch", l.ovsdbs[i].target(), "--name", switchNames[i])
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.swAgents[i] = p
	l.mu.Unlock()
	return nil
}

func (l *lab) startHostAgent(i int) error {
	p, err := testenv.StartProc(l.proc("host-agent "+hostNames[i]), l.bin, "host-agent",
		"--server", l.servers(i+1), "--host", hostNames[i], "--vtep-ip", hostIP(i), "--netns", l.ns(hostNames[i]))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.hAgents[i] = p
	l.mu.Unlock()
	return nil
}

// restartAgents stops every agent cleanly (SIGTERM: a switch agent
// releases its lease) and starts it again, so that each streams from the
// first replica of its --server list again, as at the lab's start.
func (l *lab) restartAgents() error {
	l.mu.Lock()
	procs := append(slices.Clone(l.swAgents), l.hAgents...)
	l.mu.Unlock()
	for _, p := range procs {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		if err := p.Wait(10 * time.Second); p.Running() {
			return fmt.Errorf("%s did not stop on SIGTERM: %w", p.Name, err)
		}
	}
	for i := range l.swAgents {
		if err := l.startSwitchAgent(i); err != nil {
			return err
		}
	}
	for i := range l.hAgents {
		if err := l.startHostAgent(i); err != nil {
			return err
		}
	}
	return nil
}

// kill9 kills p with SIGKILL and waits until it is gone.
func kill9(p *testenv.Proc) error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	if err := p.Wait(10 * time.Second); p.Running() {
		return err
	}
	return nil
}

// exited reports a lab process that exited when it should not have.
func (l *lab) exited() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, ps := range [][]*testenv.Proc{l.replicas[:], l.swAgents, l.hAgents} {
		for _, p := range ps {
			if p != nil && !p.Running() {
				_, err := p.Exited()
				errs = append(errs, fmt.Errorf("%s exited: %v (log %s)", p.Name, err, p.Log))
			}
		}
	}
	return errors.Join(errs...)
}

// close stops every process by PID and deletes the namespaces (with their
// devices and the veths' host ends).
func (l *lab) close() {
	l.mu.Lock()
	procs := append(append(append([]*testenv.Proc{}, l.hAgents...), l.swAgents...), l.replicas[:]...)
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p != nil {
			wg.Add(1)
			go func() { // owned by close: ends when p has exited
				defer wg.Done()
				_ = p.Stop() // the exit status of a stopped process is not interesting
			}()
		}
	}
	wg.Wait()
	for _, o := range l.ovsdbs {
		o.stop()
	}
	if l.pg != nil {
		l.pg.Close()
	}
	for _, ns := range l.nsCreated {
		if err := ipCmd("netns", "del", ns); err != nil {
			logf("%v", err)
		}
	}
	l.hc.CloseIdleConnections()
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// freePort asks the kernel for a free TCP port on addr. The port is free
// again when the caller binds it, unless someone else took it meanwhile.
func freePort(addr string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ovsdbServer is a real ovsdb-server serving one switch's hardware_vtep
// database on a unix socket, a child of the bench (not --detach'ed), so
// that it dies with the bench whatever ends it.
type ovsdbServer struct {
	dir, db, sock  string
	name, tunnelIP string

	mu sync.Mutex
	p  *testenv.Proc
}

func (o *ovsdbServer) target() string { return "unix:" + o.sock }

// startOVSDB creates the database, serves it and creates the switch in it.
func startOVSDB(ctx context.Context, dir, name, tunnelIP string) (*ovsdbServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &ovsdbServer{dir: dir, db: filepath.Join(dir, "vtep.db"), sock: filepath.Join(dir, "db.sock"),
		name: name, tunnelIP: tunnelIP}
	return o, o.restartEmpty(ctx)
}

// restartEmpty stops the server if it runs, creates its database empty,
// starts it on the same socket and creates the switch as a rebooting switch
// does (vtep-ctl add-ps, tunnel IP, ports).
func (o *ovsdbServer) restartEmpty(ctx context.Context) error {
	o.stop()
	os.Remove(o.db)
	os.Remove(o.sock)
	if out, err := exec.CommandContext(ctx, "ovsdb-tool", "create", o.db, testenv.VTEPSchema).CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-tool create: %w: %s", err, out)
	}
	p, err := testenv.StartProc(testenv.ProcConfig{Name: "ovsdb-server " + o.name, Log: filepath.Join(o.dir, "ovsdb-server.log"),
		Grace: 5 * time.Second, ParentDeathSignal: syscall.SIGKILL},
		"ovsdb-server", "--remote=punix:"+o.sock, "--unixctl="+filepath.Join(o.dir, "ovsdb-server.ctl"), "--no-chdir", o.db)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.p = p
	o.mu.Unlock()
	// The server is ready when its socket accepts connections.
	err = testenv.Poll(ctx, 10*time.Second, func() error {
		if !p.Running() {
			return testenv.StopPolling(fmt.Errorf("ovsdb-server %s exited: %s", o.name, p.Logs()))
		}
		c, err := net.Dial("unix", o.sock)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return err
	}
	args := []string{"--db=" + o.target(), "add-ps", o.name, "--", "set", "Physical_Switch", o.name, "tunnel_ips=" + o.tunnelIP}
	for _, p := range switchPorts {
		args = append(args, "--", "add-port", o.name, p)
	}
	if out, err := exec.CommandContext(ctx, "vtep-ctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("vtep-ctl add-ps %s: %w: %s", o.name, err, bytes.TrimSpace(out))
	}
	return nil
}

// stop stops the server (SIGTERM, SIGKILL after the grace) and waits until
// it is gone.
func (o *ovsdbServer) stop() {
	o.mu.Lock()
	p := o.p
	o.p = nil
	o.mu.Unlock()
	if p != nil {
		_ = p.Stop() // the exit status of a stopped server is not interesting
	}
}

// transact runs one OVSDB transaction (a JSON array of operations) with
// ovsdb-client and returns its result.
func (o *ovsdbServer) transact(ctx context.Context, ops string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ovsdb-client", "transact", o.target(), `["hardware_vtep",`+ops+`]`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ovsdb-client transact %s: %w: %s", o.name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Neutron is a real, private neutron-server (Debian's, ML2 with the
// openvswitch and l2population mechanism drivers, noauth, no
// networking-l2gw) with its own PostgreSQL and RabbitMQ, started by the
// lab script start.sh on free loopback ports in a temp dir. Two fake Open
// vSwitch agents report compute1 (tunneling_ip 127.0.0.11) and compute2
// (127.0.0.12) with l2_population true.
type Neutron struct {
	URL        string // http://127.0.0.1:PORT
	Dir        string // the working folder (NEUTRON_ANCHOR_DIR): logs in Dir/log
	RabbitPort int    // guest/guest on 127.0.0.1
	Scripts    string // the lab scripts' folder (start.sh, fake-ovs-agent.py)
}

// neutronScripts is where the private Neutron's scripts live (start.sh,
// stop.sh, fake-ovs-agent.py).
func neutronScripts() string { return sharedScripts("NEUTRON_SCRIPTS", "original") }

// StartNeutron starts the private Neutron (about 30-40 s) and stops it at
// cleanup; share one between subtests. It needs root and the packages
// neutron-server, rabbitmq-server, postgresql and python3-psycopg2 (.ci/run
// installs them; start.sh installs what is missing); without the scripts
// or neutron-server it skips, or fails under CI.
func StartNeutron(t testing.TB) *Neutron {
	t.Helper()
	RequireRoot(t)
	dir := neutronScripts()
	if _, err := os.Stat(filepath.Join(dir, "start.sh")); err != nil {
		Missing(t, "neutron lab scripts: "+err.Error())
	}
	if _, err := os.Stat("/usr/bin/neutron-server"); err != nil {
		Missing(t, "neutron-server not installed")
	}
	// PostgreSQL runs as user postgres, which cannot enter t.TempDir()
	// (0700): a directory of its own, open to traverse.
	tmp, err := os.MkdirTemp("", "l2gw-neutron-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	n := &Neutron{Dir: filepath.Join(tmp, "neutron"), Scripts: dir}
	api, pg := freePort(t), freePort(t)
	n.RabbitPort = freeRabbitPort(t)
	n.URL = "http://127.0.0.1:" + strconv.Itoa(api)
	t.Cleanup(func() { n.Stop(t) })
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(dir, "start.sh"))
	cmd.Env = append(os.Environ(), "NEUTRON_ANCHOR_DIR="+n.Dir,
		"ANCHOR_L2GW=0", "ANCHOR_MECH=openvswitch,l2population", "ANCHOR_L2POP_AGENTS=1", "ANCHOR_NOTIFY=1",
		"ANCHOR_API_PORT="+strconv.Itoa(api), "ANCHOR_PG_PORT="+strconv.Itoa(pg), "ANCHOR_RABBIT_PORT="+strconv.Itoa(n.RabbitPort))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("neutron start.sh: %v\n%s", err, out)
	}
	return n
}

// freeRabbitPort finds a free port P whose Erlang distribution port
// P+20000 (start.sh's choice) is free too.
func freeRabbitPort(t testing.TB) int {
	t.Helper()
	for p := 20000 + os.Getpid()%20000; p < 45000; p += 7 {
		a, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+20000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free port pair for RabbitMQ")
	return 0
}

// Stop stops exactly what start.sh started (stop.sh reads its PID file).
func (n *Neutron) Stop(t testing.TB) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(neutronScripts(), "stop.sh"))
	cmd.Env = append(os.Environ(), "NEUTRON_ANCHOR_DIR="+n.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("neutron stop.sh: %v\n%s", err, out)
	}
}

// Logs returns the tail of neutron-server's log, for failure messages.
func (n *Neutron) Logs() string {
	b, err := os.ReadFile(filepath.Join(n.Dir, "log", "neutron-server.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	return fmt.Sprint(strings.Join(lines[max(0, len(lines)-40):], "\n"))
}

// Command scale measures l2gw at cloud size: -switches real ovsdb-servers
// (each one hardware_vtep switch with one port), served by `l2gw
// switch-agent` processes, -hosts simulated host agents speaking the real
// agent protocol (register, plan stream, status), and -ports ports on
// -networks networks, every network connected to one switch. It prints:
//
//   - cold convergence: the inventory and connections in the database,
//     every switch wiped, the server(s) and every agent started at once;
//     time until every switch holds every row of its plan and every host
//     agent holds its whole plan;
//   - RSS of each server replica after converging;
//   - plan-stream fan-out: the streams open, and for a port created during
//     churn, the time until every other host of its network sees its MAC;
//   - churn: -churn-rate port changes per second (creates and deletes) for
//     -churn-duration; port create -> its row on the network's switch
//     (p50, p99) while they run.
//
// The workload is placed so that it is local, as in a cloud: each network
// has its ports on -hosts-per-network hosts, each host is in the same
// number of networks, and switch s carries networks s, s+S, s+2S, … on its
// port p1 with one VLAN each.
//
// Usage (from the module root, as root; see bench/README.md):
//
//	go run ./bench/scale                                  # 100 switches, 1,000 hosts, 100,000 ports, SQLite
//	go run ./bench/scale -database postgres://… -replicas 2
//	go run ./bench/scale -postgres -replicas 2                 # on a private PostgreSQL server
//	go run ./bench/scale -switches 10 -hosts 100 -ports 10000 -networks 100   # a quick run
//	go run ./bench/scale -state /var/tmp/scale -profile /tmp/prof            # profiles of the cold start and the churn
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

type options struct {
	switches, hosts, ports, networks, hostsPerNetwork               int
	switchesPerAgent, replicas, batch                               int
	churnRate                                                       int
	churnDuration, coldProfile                                      time.Duration
	database, binary, state, profile, agentLogLevel, serverLogLevel string
	keep, postgres                                                  bool
}

func main() {
	var o options
	flag.IntVar(&o.switches, "switches", 100, "switches (one ovsdb-server each)")
	flag.IntVar(&o.hosts, "hosts", 1000, "simulated host agents")
	flag.IntVar(&o.ports, "ports", 100000, "ports")
	flag.IntVar(&o.networks, "networks", 1000, "networks (each connected to one switch)")
	flag.IntVar(&o.hostsPerNetwork, "hosts-per-network", 10, "hosts each network's ports are spread over")
	flag.IntVar(&o.switchesPerAgent, "switches-per-agent", 10, "switches served by one switch-agent process")
	flag.IntVar(&o.replicas, "replicas", 1, "server replicas (more than 1 needs -database postgres://…)")
	flag.IntVar(&o.batch, "batch", 500, "ports per bulk create request during setup")
	flag.IntVar(&o.churnRate, "churn-rate", 100, "port changes per second during churn")
	flag.DurationVar(&o.churnDuration, "churn-duration", 30*time.Second, "how long churn runs")
	flag.StringVar(&o.database, "database", "", "store DSN for every replica (default: SQLite in the temp folder)")
	flag.StringVar(&o.binary, "binary", "", "l2gw binary (default: go build ./cmd/l2gw)")
	flag.StringVar(&o.state, "state", "", "SQLite store folder kept between runs: the inventory is created once and reused")
	flag.StringVar(&o.profile, "profile", "", "take CPU, mutex and block profiles of every replica during the cold start and the churn (and a heap profile after each) into this folder (l2gw server --pprof-addr)")
	flag.DurationVar(&o.coldProfile, "cold-profile", 20*time.Second, "with -profile: how much of the cold start to profile")
	flag.BoolVar(&o.postgres, "postgres", false, "start a private PostgreSQL server for the run (testenv.RunPostgres: fsync off) and use it as -database")
	flag.StringVar(&o.agentLogLevel, "agent-log-level", "warn", "the switch agents' --log-level (their logs are in the temp folder: -keep)")
	flag.StringVar(&o.serverLogLevel, "server-log-level", "info", "the replicas' --log-level (debug logs slow write batches on PostgreSQL; the logs are in the temp folder: -keep)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (logs, databases) and print its path")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.switches < 1 || o.hosts < 1 || o.networks < 1 || o.ports < 1 || o.batch < 1 || o.switchesPerAgent < 1:
		return fmt.Errorf("-switches, -hosts, -networks, -ports, -batch and -switches-per-agent must be positive")
	case o.hostsPerNetwork < 1 || o.hostsPerNetwork > o.hosts:
		return fmt.Errorf("-hosts-per-network must be between 1 and -hosts")
	case o.networks%o.switches != 0 || o.networks/o.switches > 4000:
		return fmt.Errorf("-networks must be a multiple of -switches, at most 4000 per switch (one VLAN each)")
	case o.ports%o.networks != 0:
		return fmt.Errorf("-ports must be a multiple of -networks")
	case o.hosts > 65000 || o.switches > 65000 || o.ports+o.churnRate*int(o.churnDuration.Seconds()+1) >= 1<<24:
		return fmt.Errorf("too many hosts, switches or ports for the address plan")
	case o.postgres && o.database != "":
		return fmt.Errorf("-postgres starts its own database: leave -database out")
	case o.replicas < 1 || (o.replicas > 1 && !o.postgres && !strings.HasPrefix(o.database, "postgres")):
		return fmt.Errorf("-replicas > 1 needs -database postgres://… or -postgres")
	case o.state != "" && (o.database != "" || o.postgres):
		return fmt.Errorf("-state is for the SQLite store; with -database the database keeps the inventory")
	case o.churnRate < 0:
		return fmt.Errorf("-churn-rate must not be negative")
	}
	for _, c := range []string{"ovsdb-server", "ovsdb-tool", "vtep-ctl"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s not installed (apt-get install openvswitch-switch openvswitch-vtep)", c)
		}
	}
	if _, err := os.Stat(testenv.VTEPSchema); err != nil {
		return fmt.Errorf("%s missing (package openvswitch-vtep)", testenv.VTEPSchema)
	}
	return nil
}

func logln(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// Command faults is l2gw's fault campaign (issue 12): under steady API
// churn it repeats random faults on a running system and checks, after each,
// that the system converges to exactly the desired state and that no write
// acknowledged with a 2xx is lost.
//
// The system: a throw-away PostgreSQL 15, two `l2gw server` replicas on it
// (A on its unix socket, B in its own network namespace over TCP through a
// veth pair), two switches (real ovsdb-servers with the hardware_vtep
// schema) each with an `l2gw switch-agent --server A,B`, and three compute
// hosts, each a network namespace with an `l2gw host-agent --server A,B`
// programming VXLAN devices, bridges and FDB entries there (every other
// agent lists B first, so that both replicas serve agents). Three
// networks, three gateways and six candidate connections are created
// through the API.
//
// A trial: the churn (port creates and deletes, now and then a connection
// create or delete, through both replicas at -rate writes/s, every answer
// recorded) runs for a moment, a fault of a random kind is injected and
// held while the churn goes on, the churn pauses, the fault is healed, and
// the trial waits (at most -bound) until (a) both replicas show exactly the
// ports and connections the churn's answers say exist, (b) every switch's
// hardware_vtep rows equal its plan, computed from the database with the
// planner, and (c) every host's devices and FDB entries equal its plan.
// Fault kinds:
//
//	kill-replica       kill -9 of replica A or B, restarted
//	kill-switch-agent  kill -9 of a switch agent, restarted
//	kill-host-agent    kill -9 of a host agent, restarted
//	ovsdb-empty        a switch's ovsdb-server restarted with an empty database,
//	                   the switch re-created (vtep-ctl add-ps, ports, tunnel IP)
//	postgres-restart   PostgreSQL stopped, started again on the same data
//	partition          replica B's link to PostgreSQL down, then up
//
// It prints every trial and a summary per kind. As root (namespaces):
//
//	go run ./bench/faults [-trials 100] [-seed N] [-kinds a,b] [-rate 15] [-hold 3s] [-bound 60s] [-settle 0] [-fresh-agents] [-binary path] [-keep]
//
// -settle D keeps each fault up to D longer once the churn has paused,
// until every device equals its plan, and reports how long that took
// ("settled under the fault"): with -kinds partition, whether the agents of
// the partitioned replica converge while the partition lasts. -fresh-agents
// restarts every agent before each trial, so that each trial starts with
// every other agent on B (agents that failed over stay where they went).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

type options struct {
	trials int
	seed   uint64
	kinds  []fault
	rate   float64
	bound  time.Duration
	hold   time.Duration
	binary string
	keep   bool
	settle time.Duration
	fresh  bool
}

func main() {
	var o options
	var kinds string
	flag.IntVar(&o.trials, "trials", 100, "number of trials")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock); the same seed repeats the same faults")
	flag.StringVar(&kinds, "kinds", "", "comma-separated fault kinds (default: all): "+allKinds())
	flag.Float64Var(&o.rate, "rate", 15, "churn writes per second")
	flag.DurationVar(&o.bound, "bound", 60*time.Second, "how long a trial may take to converge")
	flag.DurationVar(&o.hold, "hold", 3*time.Second, "longest time a fault is held before its heal (at least 500ms)")
	flag.StringVar(&o.binary, "binary", "", "l2gw binary to run (default: go build ./cmd/l2gw)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs) after the run")
	flag.BoolVar(&o.fresh, "fresh-agents", false, "restart every agent cleanly before each trial (after the first), so that each streams from its first "+
		"--server again, as at the start (agents that failed over otherwise stay where they went)")
	flag.DurationVar(&o.settle, "settle", 0, "after the churn pauses, keep the fault up to this long more, until every device equals its plan "+
		"(0: heal at once); with -kinds partition: do the agents converge while the partition lasts?")
	flag.Parse()
	if err := o.parse(kinds); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "faults: run as root (network namespaces, veths, VXLAN devices)")
		os.Exit(2)
	}
	// Interrupted: the context ends, the trial in progress stops, and the
	// deferred cleanup stops every process and deletes the namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failed, err := run(ctx, o)
	stop()
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	case failed > 0:
		os.Exit(3)
	}
}

func allKinds() string {
	var k []string
	for _, f := range faults {
		k = append(k, f.kind)
	}
	return strings.Join(k, ",")
}

func (o *options) parse(kinds string) error {
	if o.trials < 1 {
		return errors.New("-trials must be positive")
	}
	if o.rate <= 0 || o.bound <= 0 {
		return errors.New("-rate and -bound must be positive")
	}
	if o.settle < 0 {
		return errors.New("-settle must not be negative")
	}
	if o.hold < 500*time.Millisecond {
		return errors.New("-hold must be at least 500ms")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if kinds == "" {
		kinds = allKinds()
	}
	for _, k := range strings.Split(kinds, ",") {
		f, err := faultByKind(strings.TrimSpace(k))
		if err != nil {
			return fmt.Errorf("-kinds: %w (known: %s)", err, allKinds())
		}
		o.kinds = append(o.kinds, f)
	}
	return nil
}

func run(ctx context.Context, o options) (failed int, err error) {
	tmp, err := os.MkdirTemp("", "l2gw-faults-")
	if err != nil {
		return 0, err
	}
	if o.keep {
		logf("logs in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := o.binary
	if bin == "" {
		logf("building l2gw")
		if bin, err = testenv.BuildL2GWInto(tmp); err != nil {
			return 0, err
		}
	}
	l, err := startLab(ctx, tmp, bin)
	if err != nil {
		return 0, err
	}
	defer l.close()
	c, st, err := seed(ctx, l, o)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	logf("seed %d: waiting for the first convergence", o.seed)
	if r := converge(ctx, l, c, st, time.Now(), o.bound); !r.ok {
		return 0, fmt.Errorf("the lab did not converge before any fault:\n%s", strings.Join(r.diff, "\n"))
	}
	rnd := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	c.rnd = rand.New(rand.NewPCG(o.seed+1, o.seed))
	var results []result
	for i := range o.trials {
		if ctx.Err() != nil {
			break
		}
		f := o.kinds[rnd.IntN(len(o.kinds))]
		if o.fresh && i > 0 {
			if err := l.restartAgents(); err != nil {
				return failed, fmt.Errorf("restart the agents before trial %d: %w", i+1, err)
			}
			if r := converge(ctx, l, c, st, time.Now(), o.bound); !r.ok {
				return failed, fmt.Errorf("the lab did not converge after the agents restarted, before trial %d:\n%s", i+1, strings.Join(r.diff, "\n"))
			}
		}
		r, err := trial(ctx, l, c, st, f, rnd, o.bound, o.hold, o.settle)
		if ctx.Err() != nil {
			logf("interrupted in trial %d", i+1)
			break // report the trials done
		}
		if err != nil {
			return failed, fmt.Errorf("trial %d (%s): %w", i+1, f.kind, err)
		}
		r.n = i + 1
		results = append(results, r)
		if !r.ok {
			failed++
		}
		r.print(os.Stderr)
	}
	report(os.Stdout, o, results, c.l)
	return failed, ctx.Err()
}

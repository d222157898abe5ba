// Command vtepbench measures l2gw end to end against a real hardware_vtep
// switch database: `l2gw server --switch unix:…` (SQLite store, embedded
// switch agent fed by the plan feed) programs a real ovsdb-server, and a
// separate monitor connection on that ovsdb-server times when rows appear.
// It prints, as medians over -runs runs:
//
//   - convergence: a network with -ports ports (on -hosts hosts with VTEP
//     IPs, bulk-created through the API) gets a connection; time from the
//     create call to the monitor seeing every row, as a ratio to the time the
//     same ovsdb-server build takes to ingest the same rows in ONE raw
//     transaction over one connection on a fresh database (measured in the
//     same run);
//   - churn: with the connection in place, -churn ports created one by one,
//     port create issued -> its Ucast_Macs_Remote row seen by the monitor,
//     and the same for their deletion (p50, p99);
//   - resync: the switch database emptied (ovsdb-server restarted on a fresh
//     database) and the switch re-created as a rebooting switch does; time
//     from the Physical_Switch reappearing to every row restored.
//
// Usage (from the module root; see bench/README.md):
//
//	go run ./bench/vtepbench [-runs 3] [-ports 10000] [-hosts 100] [-churn 1000] [-binary path]
//	go run ./bench/vtepbench -inprocess -cpuprofile cpu.out   # profile server+agent
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/testenv"
)

type options struct {
	runs, ports, hosts, churn, batch int
	binary, cpuprofile, memprofile   string
	inproc, keep                     bool
}

// restDelay is how long after the convergence the server's RSS is read
// again, at rest.
const restDelay = 5 * time.Second

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs of each measurement (medians are reported)")
	flag.IntVar(&o.ports, "ports", 10000, "ports of the connected network")
	flag.IntVar(&o.hosts, "hosts", 100, "hosts (VTEP IPs) the ports are spread over")
	flag.IntVar(&o.churn, "churn", 1000, "ports created (then deleted) one by one per churn run")
	flag.IntVar(&o.batch, "batch", 500, "ports per bulk create request during setup")
	flag.StringVar(&o.binary, "binary", "", "l2gw binary to run (default: go build ./cmd/l2gw)")
	flag.BoolVar(&o.inproc, "inprocess", false, "run server.Run inside this process instead of the binary (for profiling)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "with -inprocess: CPU profile of the whole bench to this file")
	flag.StringVar(&o.memprofile, "memprofile", "", "with -inprocess: live heap profiles (after a GC) when the switch has every row (to this file + \".conv\") and at rest (to this file)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (logs, databases) and print its path")
	flag.Parse()
	if o.memprofile != "" {
		runtime.MemProfileRate = 4096 // the default 512 KiB sampling blurs a 30 MB heap
	}
	var err error
	switch {
	case o.runs < 1 || o.ports < 1 || o.hosts < 1 || o.hosts > 65000 || o.churn < 0 || o.batch < 1:
		err = fmt.Errorf("-runs, -ports, -hosts (<= 65000), -batch must be positive, -churn not negative")
	case o.ports+o.runs*o.churn >= 1<<24:
		err = fmt.Errorf("too many ports for the MAC plan")
	case (o.cpuprofile != "" || o.memprofile != "") && !o.inproc:
		err = fmt.Errorf("-cpuprofile and -memprofile need -inprocess")
	}
	if err == nil {
		for _, c := range []string{"ovsdb-server", "ovsdb-tool", "vtep-ctl"} {
			if _, lerr := exec.LookPath(c); lerr != nil {
				err = fmt.Errorf("%s not installed (apt-get install openvswitch-switch openvswitch-vtep)", c)
			}
		}
		if _, serr := os.Stat(testenv.VTEPSchema); serr != nil && err == nil {
			err = fmt.Errorf("%s missing (package openvswitch-vtep)", testenv.VTEPSchema)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vtepbench:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.runs)*10*time.Minute+5*time.Minute)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vtepbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	tmp, err := os.MkdirTemp("", "vtepbench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			logln("kept %s (logs, databases)", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}()
	sw, err := vtepwatch.Start(ctx, tmp, "switch")
	if err != nil {
		return err
	}
	defer sw.Stop()
	if err := sw.AddSwitch(ctx, switchName, switchIP, switchPorts); err != nil {
		return err
	}
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 2 * time.Minute}
	defer hc.CloseIdleConnections()
	var srv *l2gwServer
	if o.inproc {
		srv, err = startInProcess(ctx, dataDir, sw.Target(), o.cpuprofile)
	} else {
		bin := o.binary
		if bin == "" {
			logln("building l2gw")
			if bin, err = testenv.BuildL2GWInto(tmp); err != nil {
				return err
			}
		}
		srv, err = startProcess(ctx, bin, dataDir, sw.Target(), hc)
	}
	if err != nil {
		return err
	}
	defer srv.stop()
	defer func() {
		if err != nil {
			logln("server log: %s", srv.log)
		}
	}()
	logln("l2gw server %s (pid %d), switch %s", srv.url, srv.pid, sw.Target())

	b, err := newBench(ctx, o, tmp, srv, sw, hc)
	if err != nil {
		return err
	}
	var r report
	r.opts = o
	if err := b.convergence(ctx, &r); err != nil {
		return fmt.Errorf("convergence: %w", err)
	}
	if r.rss, _, err = testenv.Memory(srv.pid); err != nil {
		return err
	}
	if r.split, err = readRSSSplit(srv.pid); err != nil {
		return err
	}
	if o.memprofile != "" {
		// What is live at the measurement point: the convergence's own
		// state (the agent waiting for its transaction's reply) included.
		if err := writeHeapProfile(o.memprofile + ".conv"); err != nil {
			return err
		}
	}
	if !o.inproc { // in process, the heap is the bench's too
		if r.mem, err = readMemStats(ctx, hc, srv.url); err != nil {
			logln("server memory figures: %v", err)
		}
	}
	// At rest: what an operator's memory graph shows once the burst is
	// over (the garbage of the convergence collected, the runtime's
	// scavenger returning pages), beside the figure at the last row.
	if reconcile.Sleep(ctx, restDelay) {
		if r.rssRest, _, err = testenv.Memory(srv.pid); err != nil {
			return err
		}
		if r.splitRest, err = readRSSSplit(srv.pid); err != nil {
			return err
		}
	}
	if o.memprofile != "" {
		if err := writeHeapProfile(o.memprofile); err != nil {
			return err
		}
	}
	if o.churn > 0 {
		if err := b.churn(ctx, &r); err != nil {
			return fmt.Errorf("churn: %w", err)
		}
	}
	if err := b.resync(ctx, &r); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	b.close()
	r.print(os.Stdout)
	return nil
}

func logln(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeHeapProfile writes the live heap (after a GC) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

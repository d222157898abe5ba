// Command traffic measures how fast l2gw makes packets flow, end to end, in
// the namespace lab of test/e2e (real l2gw server, switch agent, host agents
// and switch; real pings):
//
//   - connection: from `l2gw l2-gateway-connection-create` returning to the
//     first reply of a vm1 -> bm1 ping;
//   - port: from the start of `l2gw port-create` for a new VM port (its tap
//     already cabled on compute1) to the first reply of a vm3 -> bm1 ping,
//     with the connection in place.
//
// Pings are sent every 10 ms, so figures are precise to about 10 ms. The
// VMs and bm1 have permanent ARP entries for each other, so a first reply
// depends only on the data plane l2gw programs (with ARP, a request lost
// before the tunnels exist is retried by the kernel only after 1 s, which
// would dominate the figures). It prints the median, minimum and
// maximum of -runs runs per switch. Needs root.
//
//	go run ./bench/traffic -runs 7 -switch all
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/l2gw/l2gw/bench/internal/figures"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/test/e2e"
)

func main() {
	runs := flag.Int("runs", 7, "measured runs per figure")
	sw := flag.String("switch", "all", "switch to measure: soft-vtep, ovs-vtep or all")
	bin := flag.String("bin", "", "l2gw binary (default: build ./cmd/l2gw)")
	verbose := flag.Bool("v", false, "print the lab's logs as it goes")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "traffic: needs root (network namespaces)")
		os.Exit(2)
	}
	var kinds []e2e.SwitchKind
	switch *sw {
	case "all":
		kinds = []e2e.SwitchKind{e2e.SoftVTEP, e2e.OVSVTEP}
	case string(e2e.SoftVTEP), string(e2e.OVSVTEP):
		kinds = []e2e.SwitchKind{e2e.SwitchKind(*sw)}
	default:
		fmt.Fprintf(os.Stderr, "traffic: -switch %q: want soft-vtep, ovs-vtep or all\n", *sw)
		os.Exit(2)
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "traffic: -runs must be at least 1")
		os.Exit(2)
	}
	if *bin == "" {
		dir, err := os.MkdirTemp("", "l2gw-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "traffic:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		if *bin, err = testenv.BuildL2GWInto(dir); err != nil {
			fmt.Fprintln(os.Stderr, "traffic:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	var results []result
	failed := false
	for _, k := range kinds {
		if k == e2e.OVSVTEP {
			if f := e2e.OVSVTEPMissing(); f != "" {
				fmt.Fprintf(os.Stderr, "traffic: skipping ovs-vtep: %s missing\n", f)
				continue
			}
		}
		fmt.Fprintf(os.Stderr, "measuring %s (%d runs)...\n", k, *runs)
		r, err := measure(k, *bin, *runs, *verbose)
		if err != nil {
			fmt.Fprintf(os.Stderr, "traffic: %s: %v\n", k, err)
			failed = true
			continue
		}
		results = append(results, r)
	}
	printTable(results, *runs)
	if failed {
		os.Exit(1)
	}
}

// result is the figures of one switch.
type result struct {
	kind       e2e.SwitchKind
	conn, port []time.Duration
}

// measure runs one lab and takes the figures; the lab is always torn down.
func measure(kind e2e.SwitchKind, bin string, runs int, verbose bool) (res result, err error) {
	r := &runner{verbose: verbose}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(fatal); !ok {
				panic(p)
			}
			err = errors.New(r.firstError)
		}
		r.close()
		if err == nil && r.failed {
			err = errors.New(r.firstError)
		}
	}()
	res.kind = kind
	lab := e2e.NewLab(r, e2e.LabConfig{Bin: bin, Switch: kind})
	vm3 := lab.AddVM("vm3", lab.Compute1, "tap3", "203.0.113.13")
	lab.MustCLI("net-create", "net1", "--vni", fmt.Sprint(e2e.VNI))
	lab.MustCLI("port-create", "net1", "--name", "vm1", "--mac", lab.VM1.MAC, "--ip", lab.VM1.IP, "--host", "compute1", "--interface", "tap1")
	for _, p := range [][2]e2e.Endpoint{{lab.VM1, lab.BM1}, {lab.BM1, lab.VM1}, {vm3, lab.BM1}, {lab.BM1, vm3}} {
		lab.PinNeighbour(p[0], p[1])
	}
	lab.MustCLI("l2-gateway-create", "gw1", "--device", "name="+e2e.SwitchName+",interface_names=port1;port2")

	// One unmeasured round warms up every process (and ovs-vtep's bridges).
	for i := range runs + 1 {
		var conn struct {
			ID string `json:"id"`
		}
		if err := lab.CLIJSON(&conn, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", fmt.Sprint(e2e.VLAN)); err != nil {
			r.Fatalf("%v", err)
		}
		start := time.Now()
		if err := lab.PingUntil(lab.VM1, lab.BM1.IP, 30*time.Second); err != nil {
			r.Fatalf("connection run %d: %v", i, err)
		}
		if i > 0 {
			res.conn = append(res.conn, time.Since(start))
		}

		// A new port on compute1, with the connection in place.
		start = time.Now()
		lab.MustCLI("port-create", "net1", "--name", "vm3", "--mac", vm3.MAC, "--ip", vm3.IP, "--host", "compute1", "--interface", "tap3")
		if err := lab.PingUntil(vm3, lab.BM1.IP, 30*time.Second); err != nil {
			r.Fatalf("port run %d: %v", i, err)
		}
		if i > 0 {
			res.port = append(res.port, time.Since(start))
		}

		// Back to the start: no port vm3, no connection, nothing on the
		// hosts or the switch.
		lab.MustCLI("port-delete", "vm3")
		lab.MustCLI("l2-gateway-connection-delete", conn.ID)
		err := testenv.Poll(context.Background(), 30*time.Second, func() error {
			s, err := lab.State()
			if err != nil {
				return err
			}
			// The hosts keep their VMs' network (standalone overlay); the
			// gateway's part (flooding to the switch) goes.
			if strings.Contains(s["compute1 fdb"], "dst "+e2e.SwitchIP+" ") || s["vtep Logical_Switch"] != "" || s["vtep Ucast_Macs_Local"] != "" {
				return fmt.Errorf("connection not yet removed:\n%s\n%s", s["compute1 fdb"], s["vtep Logical_Switch"])
			}
			if lab.Ping(lab.VM1, lab.BM1.IP, time.Second) == nil {
				return errors.New("vm1 still reaches bm1")
			}
			return nil
		})
		if err != nil {
			r.Fatalf("run %d teardown: %v", i, err)
		}
	}
	return res, nil
}

func printTable(results []result, runs int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "switch\tconnection-create -> first vm1->bm1 reply\tport-create -> first vm3->bm1 reply\n")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.kind, stats(r.conn), stats(r.port))
	}
	w.Flush()
	fmt.Printf("median (min..max) of %d runs; pings every 10 ms; permanent ARP entries\n", runs)
}

func stats(d []time.Duration) string {
	s, ok := figures.Of(d)
	if !ok {
		return "-"
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("%s ms (%s..%s)", ms(s.Med), ms(s.Min), ms(s.Max))
}

// fatal is the panic value of runner.Fatalf, recovered in measure.
type fatal struct{}

// runner is the e2e.TB of a benchmark run: Fatalf ends the run (by a panic
// recovered in measure), cleanups run in reverse order at close.
type runner struct {
	verbose    bool
	failed     bool
	firstError string
	cleanups   []func()
}

func (r *runner) Helper() {}

func (r *runner) Logf(format string, args ...any) {
	if r.verbose || r.failed {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

func (r *runner) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !r.failed {
		r.firstError = msg
	}
	r.failed = true
	fmt.Fprintln(os.Stderr, msg)
}

func (r *runner) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

func (r *runner) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *runner) Failed() bool { return r.failed }

func (r *runner) close() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

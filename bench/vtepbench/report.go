package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/l2gw/l2gw/bench/internal/figures"
)

// report holds every run's figures.
type report struct {
	opts                                   options
	rawTxn, rawSeen, conv, convAPI, remove []time.Duration
	churnC50, churnC99, churnCMax          []time.Duration
	churnAPI50, churnAPI99                 []time.Duration
	churnD50, churnD99                     []time.Duration
	resync, resyncCtl                      []time.Duration
	rawCPU, convOVSDBCPU, convL2GWCPU      []time.Duration
	convL2GWCPUSettled                     []time.Duration
	raw2Txn, raw2Seen, raw2CPU             []time.Duration
	rss, rssRest                           int64
	split, splitRest                       rssSplit
	mem                                    memStats
}

// stat is "median (min–max)" of one figure over the runs, in ms.
func stat(d []time.Duration) string {
	s, ok := figures.Of(d)
	switch {
	case !ok:
		return "-"
	case len(d) == 1:
		return fmtMS(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtMS(s.Med), fmtMS(s.Min), fmtMS(s.Max))
}

func fmtMS(d time.Duration) string {
	v := ms(d)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ratios divides run by run.
func ratios(a, b []time.Duration) string {
	if len(a) == 0 || len(a) != len(b) {
		return "-"
	}
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i].Seconds() / b[i].Seconds()
	}
	s, _ := figures.Of(r)
	if len(r) == 1 {
		return fmt.Sprintf("%.2f×", s.Med)
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", s.Med, s.Min, s.Max)
}

func median(d []time.Duration) time.Duration {
	s, _ := figures.Of(d)
	return s.Med
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\nvtepbench: l2gw server --switch (SQLite, embedded agent) -> real ovsdb-server; %d ports on %d hosts, %d runs; median (min–max), ms\n\n",
		o.ports, o.hosts, o.runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget")
	fmt.Fprintf(tw, "raw ingest, one transaction: write -> reply\t%s\t\n", stat(r.rawTxn))
	fmt.Fprintf(tw, "raw ingest: write -> monitor has all rows\t%s\t\n", stat(r.rawSeen))
	fmt.Fprintf(tw, "convergence: connection create -> monitor has all rows\t%s\t\n", stat(r.conv))
	fmt.Fprintf(tw, "  connection create API call\t%s\t\n", stat(r.convAPI))
	fmt.Fprintf(tw, "  ratio to raw transaction\t%s\t≤ 1.3× (%s)\n", ratios(r.conv, r.rawTxn),
		verdict(len(r.conv) > 0 && median(ratio(r.conv, r.rawTxn)) <= 1300*time.Millisecond))
	fmt.Fprintf(tw, "  ratio to raw, both as seen by the monitor\t%s\t\n", ratios(r.conv, r.rawSeen))
	fmt.Fprintf(tw, "raw ingest + a monitor of every column (as the agent's): write -> reply\t%s\t\n", stat(r.raw2Txn))
	fmt.Fprintf(tw, "  write -> monitor has all rows\t%s\t\n", stat(r.raw2Seen))
	fmt.Fprintf(tw, "  convergence ratio to it (reply / seen)\t%s / %s\t\n", ratios(r.conv, r.raw2Txn), ratios(r.conv, r.raw2Seen))
	fmt.Fprintf(tw, "CPU time, raw ingest: ovsdb-server, write -> monitor has all rows\t%s\t\n", stat(r.rawCPU))
	fmt.Fprintf(tw, "  with the agent-like monitor\t%s\t\n", stat(r.raw2CPU))
	fmt.Fprintf(tw, "CPU time, convergence: ovsdb-server, create -> monitor has all rows\t%s\t\n", stat(r.convOVSDBCPU))
	fmt.Fprintf(tw, "  l2gw server (-inprocess: the bench too)\t%s\t\n", stat(r.convL2GWCPU))
	fmt.Fprintf(tw, "  l2gw server, create -> %v after the monitor has all rows\t%s\t\n", settleTime, stat(r.convL2GWCPUSettled))
	fmt.Fprintf(tw, "connection delete -> switch clean\t%s\t\n", stat(r.remove))
	if o.churn > 0 {
		fmt.Fprintf(tw, "churn (%d ports one by one): create -> row p50\t%s\t\n", o.churn, stat(r.churnC50))
		fmt.Fprintf(tw, "  create -> row p99\t%s\t< 20 ms (%s)\n", stat(r.churnC99), verdict(median(r.churnC99) < 20*time.Millisecond))
		fmt.Fprintf(tw, "  create -> row max\t%s\t\n", stat(r.churnCMax))
		fmt.Fprintf(tw, "  port create API call p50 / p99\t%s / %s\t\n", stat(r.churnAPI50), stat(r.churnAPI99))
		fmt.Fprintf(tw, "  delete -> row gone p50 / p99\t%s / %s\t\n", stat(r.churnD50), stat(r.churnD99))
	}
	fmt.Fprintf(tw, "resync: Physical_Switch reappears -> %d rows restored\t%s\t< 1000 ms (%s)\n", o.ports, stat(r.resync),
		verdict(len(r.resync) > 0 && median(r.resync) < time.Second))
	fmt.Fprintf(tw, "  from the start of vtep-ctl add-ps\t%s\t\n", stat(r.resyncCtl))
	fmt.Fprintf(tw, "server RSS after convergence\t%.0f MB\t< 60 MB (%s)\n", float64(r.rss)/(1<<20), verdict(r.rss < 60<<20))
	fmt.Fprintf(tw, "  anonymous / file-backed (the binary)\t%.0f / %.0f MB\t\n", float64(r.split.anon)/(1<<20), float64(r.split.file)/(1<<20))
	if r.rssRest > 0 {
		fmt.Fprintf(tw, "  at rest, %s later\t%.0f MB\t\n", restDelay, float64(r.rssRest)/(1<<20))
		fmt.Fprintf(tw, "  at rest: anonymous / file-backed\t%.0f / %.0f MB\t\n", float64(r.splitRest.anon)/(1<<20), float64(r.splitRest.file)/(1<<20))
	}
	if r.mem.ok {
		fmt.Fprintf(tw, "  Go heap in use / free, not returned / GC goal\t%.0f / %.0f / %.0f MB\t\n",
			r.mem.heapInuse/(1<<20), (r.mem.heapIdle-r.mem.heapReleased)/(1<<20), r.mem.nextGC/(1<<20))
		// What is anonymous but not the Go runtime's: SQLite's own
		// allocations (page caches; modernc's allocator maps its own).
		fmt.Fprintf(tw, "  anonymous, not the Go runtime's (SQLite)\t%.0f MB\t\n",
			(float64(r.split.anon)-(r.mem.sys-r.mem.heapReleased))/(1<<20))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// ratio is a/b per run, as a Duration of seconds-per-second (1s = 1×), so
// median works on it.
func ratio(a, b []time.Duration) []time.Duration {
	out := make([]time.Duration, len(a))
	for i := range a {
		out[i] = time.Duration(a[i].Seconds() / b[i].Seconds() * float64(time.Second))
	}
	return out
}

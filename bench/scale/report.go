package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what a run measured.
type report struct {
	o                    options
	serverStart          time.Duration // cold start: until every replica answers /healthz
	switchesAt, hostsAt  time.Duration // cold start: until every switch / host holds its plan
	rss, rssAfterChurn   []int64       // per replica, bytes
	peak                 []int64
	createAPI, createRow []time.Duration // churn creates: API call, and until the row is on the switch
	fanout               []time.Duration // churn creates: until a peer host has the MAC
	fanoutMissing        int
	churnErrors          int
}

// Targets of issue 12.
const (
	targetConverge = 30 * time.Second
	targetRSS      = 500 << 20
	targetP99      = 50 * time.Millisecond
)

func (r report) print(w io.Writer) {
	o := r.o
	db := "SQLite"
	if strings.HasPrefix(o.database, "postgres") {
		db = "PostgreSQL"
	}
	fmt.Fprintf(w, "\n%d switches, %d hosts, %d networks, %d ports (%d per network on %d hosts), %s, %d replica(s)\n\n",
		o.switches, o.hosts, o.networks, o.ports, o.ports/o.networks, o.hostsPerNetwork, db, o.replicas)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget")
	conv := max(r.switchesAt, r.hostsAt)
	fmt.Fprintf(tw, "cold convergence (start of every process -> every switch and host holds its plan)\t%.1f s\t< 30 s (%s)\n",
		conv.Seconds(), verdict(conv < targetConverge))
	fmt.Fprintf(tw, "  servers answering /healthz\t%.1f s\t\n", r.serverStart.Seconds())
	fmt.Fprintf(tw, "  every switch programmed\t%.1f s\t\n", r.switchesAt.Seconds())
	fmt.Fprintf(tw, "  every host holds its plan\t%.1f s\t\n", r.hostsAt.Seconds())
	for i := range r.rss {
		fmt.Fprintf(tw, "RSS replica %d after converging / after churn (peak)\t%d / %d MB (%d)\t< 500 MB (%s)\n", i,
			r.rss[i]>>20, r.rssAfterChurn[i]>>20, r.peak[i]>>20, verdict(max(r.rss[i], r.rssAfterChurn[i]) < targetRSS))
	}
	fmt.Fprintf(tw, "plan streams open\t%d hosts + %d switches\t\n", o.hosts, o.switches)
	if len(r.createRow) > 0 {
		p99 := q(r.createRow, 0.99)
		fmt.Fprintf(tw, "churn %d changes/s: port create -> row on the switch p50 / p99 (%d creates)\t%s / %s\t< 50 ms (%s)\n",
			o.churnRate, len(r.createRow), ms(q(r.createRow, 0.5)), ms(p99), verdict(p99 < targetP99))
		fmt.Fprintf(tw, "  port create API call p50 / p99\t%s / %s\t\n", ms(q(r.createAPI, 0.5)), ms(q(r.createAPI, 0.99)))
		after := make([]time.Duration, len(r.createRow))
		for i := range after {
			after[i] = max(0, r.createRow[i]-r.createAPI[i])
		}
		fmt.Fprintf(tw, "  API answer -> row on the switch p50 / p99\t%s / %s\t\n", ms(q(after, 0.5)), ms(q(after, 0.99)))
		fmt.Fprintf(tw, "  fan-out: port create -> MAC at each peer host p50 / p99 (%d deliveries, %d MACs unfinished)\t%s / %s\t\n",
			len(r.fanout), r.fanoutMissing, ms(q(r.fanout, 0.5)), ms(q(r.fanout, 0.99)))
		fmt.Fprintf(tw, "  errors\t%d\t\n", r.churnErrors)
	}
	tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

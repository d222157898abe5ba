package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what a run measured.
type report struct {
	o                   options
	serverStart         time.Duration // cold start: until every replica answers /healthz
	switchesAt, hostsAt time.Duration // cold start: until every switch / host holds its plan
	rss, rssAfterChurn  []int64       // per replica, bytes
	peak                []int64
	churnBegan          time.Time
	creates             []churnCreate
	fanout              []time.Duration // churn creates: until a peer host has the MAC
	fanoutMissing       int
	churnErrors         int
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
	var p99 time.Duration // of the creates' row on the switch
	if len(r.creates) > 0 {
		var api, row, after []time.Duration
		for _, c := range r.creates {
			api, row, after = append(api, c.api), append(row, c.row), append(after, max(0, c.row-c.api))
		}
		p99 = q(row, 0.99)
		fmt.Fprintf(tw, "churn %d changes/s: port create -> row on the switch p50 / p99 (%d creates)\t%s / %s\t< 50 ms (%s)\n",
			o.churnRate, len(row), ms(q(row, 0.5)), ms(p99), verdict(p99 < targetP99))
		fmt.Fprintf(tw, "  port create API call p50 / p99\t%s / %s\t\n", ms(q(api, 0.5)), ms(q(api, 0.99)))
		fmt.Fprintf(tw, "  API answer -> row on the switch p50 / p99\t%s / %s\t\n", ms(q(after, 0.5)), ms(q(after, 0.99)))
		fmt.Fprintf(tw, "  fan-out: port create -> MAC at each peer host p50 / p99 (%d deliveries, %d MACs unfinished)\t%s / %s\t\n",
			len(r.fanout), r.fanoutMissing, ms(q(r.fanout, 0.5)), ms(q(r.fanout, 0.99)))
		fmt.Fprintf(tw, "  errors\t%d\t\n", r.churnErrors)
	}
	tw.Flush()
	if len(r.creates) > 0 {
		printSlowest(w, r.churnBegan, r.creates, p99)
	}
}

// churnCreate is one port create of the churn.
type churnCreate struct {
	start    time.Duration // since the churn began
	replica  int           // whose API took it
	api, row time.Duration // until the API answered; until the row was on the switch
}

// printSlowest lists the creates slower than p99 (of their row on the
// switch) in the order they were made, so that bursts show with the time
// they happened at (to lay beside the servers' logs and PostgreSQL's).
func printSlowest(w io.Writer, began time.Time, creates []churnCreate, p99 time.Duration) {
	var slow []churnCreate
	for _, c := range creates {
		if c.row > p99 {
			slow = append(slow, c)
		}
	}
	slices.SortFunc(slow, func(a, b churnCreate) int { return cmp.Compare(a.start, b.start) })
	fmt.Fprintf(w, "\ncreates slower than the p99 (seconds into the churn, which began at %s: row on the switch, of which the API call; replica)\n",
		began.UTC().Format("15:04:05.000"))
	for _, c := range slow {
		fmt.Fprintf(w, "  %6.2f s: %s, API %s; replica %d\n", c.start.Seconds(), ms(c.row), ms(c.api), c.replica)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

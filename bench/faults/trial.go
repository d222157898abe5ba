package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// seed creates the networks, gateways and first connections through
// replica A, and opens the store the checks compute plans from.
func seed(ctx context.Context, l *lab, o options) (*churn, store.Store, error) {
	c := &churn{l: newLedger(), rate: o.rate}
	for i, u := range l.urls {
		cl, err := client.New(u, client.WithHTTPClient(l.hc))
		if err != nil {
			return nil, nil, err
		}
		c.clients[i] = cl
	}
	a := c.clients[0]
	for i := range 3 {
		n, err := a.CreateNetwork(ctx, neutron.NetworkCreate{Name: fmt.Sprintf("net%d", i+1), NetworkType: "vxlan", SegmentationID: 1001 + i})
		if err != nil {
			return nil, nil, fmt.Errorf("seed: %w", err)
		}
		c.nets = append(c.nets, n.ID)
	}
	// A connection needs its switches reported by their agents.
	err := testenv.Poll(ctx, 60*time.Second, func() error {
		sws, err := a.ListSwitches(ctx, client.ListOptions{Filters: url.Values{"name": switchNames}})
		if err != nil {
			return err
		}
		if len(sws) != len(switchNames) {
			return fmt.Errorf("%d of %d switches reported", len(sws), len(switchNames))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("seed: %w", err)
	}
	iface := func(sw string, ports ...string) neutron.DeviceRequest {
		d := neutron.DeviceRequest{DeviceName: sw}
		for _, p := range ports {
			d.Interfaces = append(d.Interfaces, neutron.InterfaceRequest{Name: p})
		}
		return d
	}
	var gws []string
	for i, devs := range [][]neutron.DeviceRequest{
		{iface("sw1", "p1")}, {iface("sw2", "p1")}, {iface("sw1", "p2"), iface("sw2", "p2")},
	} {
		g, err := a.CreateGateway(ctx, neutron.GatewayCreate{Name: fmt.Sprintf("gw%d", i+1), Devices: devs})
		if err != nil {
			return nil, nil, fmt.Errorf("seed: %w", err)
		}
		gws = append(gws, g.ID)
	}
	// The churn's connections, each with its own VLAN; the first two exist
	// from the start.
	for i, gn := range [][2]int{{0, 0}, {1, 1}, {2, 2}, {0, 1}, {2, 0}, {1, 2}} {
		r := &connRec{key: connKey{gws[gn[0]], c.nets[gn[1]]}, vlan: 101 + i}
		c.l.conns[r.key] = r
		if i >= 2 {
			continue
		}
		conn, err := a.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: r.key.gw, NetworkID: r.key.net, SegmentationID: strconv.Itoa(r.vlan)})
		if err != nil {
			return nil, nil, fmt.Errorf("seed: %w", err)
		}
		r.id, r.st = conn.ID, present
	}
	st, err := store.Open(ctx, l.pg.DSN, store.Config{})
	if err != nil {
		return nil, nil, fmt.Errorf("open the store for the checks: %w", err)
	}
	return c, st, nil
}

// result is one trial's outcome.
type result struct {
	n          int
	kind, what string
	held       time.Duration // from the injection to the heal
	ok         bool
	converged  time.Duration // from the heal to converged (when ok)
	cov        coverage
	first      int // device differences at the first check
	atHeal     int // device differences just before the heal (-1: unreadable)
	// settled is, with -settle, how long after the churn paused every
	// device equalled its plan while the fault was still held; settleOK
	// is false when that did not happen within -settle.
	settled  time.Duration
	settleOK bool
	errs     []string // the first failed writes' errors
	writes   [2]int   // answered 2xx, not, during the trial
	diff     []string // the last differences seen (when not ok)
}

func (r result) print(w io.Writer) {
	status := fmt.Sprintf("converged in %v (%d switch rows, %d host objects; differences at the heal %d, at the first check %d)",
		r.converged.Round(time.Millisecond), r.cov.switchRows, r.cov.hostObjects, r.atHeal, r.first)
	if !r.ok {
		status = "FAILED"
	}
	settled := ""
	switch {
	case r.settleOK:
		settled = fmt.Sprintf("settled under the fault %v after the pause; ", r.settled.Round(time.Millisecond))
	case r.settled > 0:
		settled = fmt.Sprintf("not settled under the fault within %v; ", r.settled.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "%s trial %d %s (%s, held %v): writes %d ok %d failed; %s%s\n", time.Now().Format("15:04:05.000"),
		r.n, r.kind, r.what, r.held.Round(time.Millisecond), r.writes[0], r.writes[1], settled, status)
	for _, e := range r.errs {
		fmt.Fprintln(w, "     write failed:", e)
	}
	for _, d := range r.diff {
		fmt.Fprintln(w, "    ", d)
	}
}

// trial runs the churn, injects f, holds it, pauses the churn, heals, and
// waits for convergence. An error is a failure of the bench itself (a fault
// that could not be injected or healed), not of l2gw.
func trial(ctx context.Context, l *lab, c *churn, st store.Store, f fault, rnd *rand.Rand, bound, hold, settle time.Duration) (result, error) {
	r := result{kind: f.kind}
	c.l.mu.Lock()
	ok0, fail0 := c.l.ok, c.l.fail
	c.l.mu.Unlock()

	cctx, stopChurn := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by trial: stopped and waited for below
		defer wg.Done()
		c.run(cctx)
	}()
	pause := func() {
		stopChurn()
		wg.Wait()
	}
	// The fault hits at a random moment of the churn.
	if err := sleep(ctx, down(rnd, 300*time.Millisecond, 1500*time.Millisecond)); err != nil {
		pause()
		return r, err
	}
	injected := time.Now()
	what, heal, err := f.inject(ctx, l, rnd)
	if err != nil {
		pause()
		return r, fmt.Errorf("inject: %w", err)
	}
	r.what = what
	err = sleep(ctx, down(rnd, 500*time.Millisecond, hold))
	pause()
	if err != nil {
		return r, err
	}
	if settle > 0 {
		if r.settled, r.settleOK, err = settleUnder(ctx, l, st, settle); err != nil {
			return r, err
		}
	}
	// The divergence the fault left, just before the heal: evidence that
	// the checks see what a fault does (a dead agent's devices fall behind).
	if d, _, err := devicesDiff(ctx, l, st); err == nil {
		r.atHeal = len(d)
	} else {
		r.atHeal = -1 // a device cannot be read: the stopped ovsdb-server
	}
	healed := time.Now()
	r.held = healed.Sub(injected)
	if err := heal(ctx); err != nil {
		return r, fmt.Errorf("heal %s: %w", what, err)
	}
	c.l.mu.Lock()
	r.writes = [2]int{c.l.ok - ok0, c.l.fail - fail0}
	c.l.mu.Unlock()
	r.errs = c.l.takeErrors()
	cr := converge(ctx, l, c, st, healed, bound)
	r.ok, r.converged, r.diff, r.cov, r.first = cr.ok, cr.took, cr.diff, cr.cov, cr.first
	return r, nil
}

// settleUnder polls the devices, the fault still held and the churn
// paused, until they all equal their plans or bound has passed.
func settleUnder(ctx context.Context, l *lab, st store.Store, bound time.Duration) (time.Duration, bool, error) {
	start := time.Now()
	for {
		if d, _, err := devicesDiff(ctx, l, st); err == nil && len(d) == 0 {
			return time.Since(start), true, nil
		}
		if time.Since(start) > bound {
			return time.Since(start), false, nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, false, err
		}
	}
}

type convergence struct {
	ok  bool
	cov coverage // of the last device check
	// first is how many differences the first check found: the
	// divergence the fault left (0 when it was repaired before the check).
	first int
	took  time.Duration
	diff  []string
}

// converge polls the three checks until they all pass or bound has passed
// since from. A lab process that exited, or a write answered in
// contradiction with the ledger, fails the trial at once (its evidence
// would otherwise be gone by the next check).
func converge(ctx context.Context, l *lab, c *churn, st store.Store, from time.Time, bound time.Duration) convergence {
	var last []string
	first := -1
	deadline := from.Add(bound)
	for {
		if err := l.exited(); err != nil {
			return convergence{diff: []string{err.Error()}}
		}
		if a := c.l.takeAnomalies(); len(a) > 0 {
			return convergence{diff: a}
		}
		diff, resolve, err := c.l.apiDiff(ctx, c.clients)
		if err != nil {
			diff = []string{"api: " + err.Error()}
		}
		if err == nil && len(diff) == 0 {
			// Each check reads its own moment; with the churn paused, the
			// stored state changes only by writes without an answer that
			// still commit (lateCommit), and the checks then run again.
			var cov coverage
			diff, cov, err = devicesDiff(ctx, l, st)
			if err != nil {
				diff = append(diff, "devices: "+err.Error())
			}
			if first < 0 {
				first = len(diff)
			}
			if len(diff) == 0 {
				resolve()
				return convergence{ok: true, took: time.Since(from), cov: cov, first: first}
			}
		}
		last = diff
		if time.Now().After(deadline) || ctx.Err() != nil {
			return convergence{diff: last}
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return convergence{diff: last}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if !reconcile.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// report prints the summary: per kind, trials, failures and the time from
// the heal to convergence.
func report(w io.Writer, o options, results []result, l *ledger) {
	var kinds []string
	by := map[string][]result{}
	failed, ok, fail := 0, 0, 0
	for _, r := range results {
		if by[r.kind] == nil {
			kinds = append(kinds, r.kind)
		}
		by[r.kind] = append(by[r.kind], r)
		if !r.ok {
			failed++
		}
		ok += r.writes[0]
		fail += r.writes[1]
	}
	slices.Sort(kinds)
	fmt.Fprintf(w, "## Fault campaign: %d trials, %d failed (seed %d, churn %.0f writes/s, bound %v)\n\n",
		len(results), failed, o.seed, o.rate, o.bound)
	fmt.Fprintf(w, "Churn writes during the trials: %d answered 2xx, %d failed or unanswered; ports alive at the end: %d.\n\n",
		ok, fail, l.live())
	fmt.Fprintln(w, "| kind | trials | failed | converged p50 | converged max |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	defer settleReport(w, o, kinds, by)
	for _, k := range kinds {
		var took []time.Duration
		nf := 0
		for _, r := range by[k] {
			if r.ok {
				took = append(took, r.converged)
			} else {
				nf++
			}
		}
		p50, mx := medianMax(took)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s |\n", k, len(by[k]), nf, p50, mx)
	}
	if failed > 0 {
		fmt.Fprintln(w, "\nFailures:")
		for _, r := range results {
			if !r.ok {
				fmt.Fprintf(w, "\n- trial %d, %s (%s):\n", r.n, r.kind, r.what)
				for _, d := range r.diff {
					fmt.Fprintf(w, "    %s\n", strings.TrimSpace(d))
				}
			}
		}
	}
}

// medianMax formats the median and the largest of took ("–" when empty);
// it sorts took.
func medianMax(took []time.Duration) (p50, mx string) {
	if len(took) == 0 {
		return "–", "–"
	}
	slices.Sort(took)
	return fmt.Sprintf("%.2f s", took[len(took)/2].Seconds()), fmt.Sprintf("%.2f s", took[len(took)-1].Seconds())
}

// settleReport prints, with -settle, per kind how many trials converged
// while their fault was held, and how long after the churn paused.
func settleReport(w io.Writer, o options, kinds []string, by map[string][]result) {
	if o.settle <= 0 {
		return
	}
	fmt.Fprintf(w, "\nSettled under the fault (-settle %v; from the churn's pause, the fault still held):\n\n", o.settle)
	fmt.Fprintln(w, "| kind | trials | settled | settled p50 | settled max | devices behind at the heal (trials) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, k := range kinds {
		var took []time.Duration
		behind := 0
		for _, r := range by[k] {
			if r.settleOK {
				took = append(took, r.settled)
			}
			if r.atHeal != 0 {
				behind++
			}
		}
		p50, mx := medianMax(took)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %d |\n", k, len(by[k]), len(took), p50, mx, behind)
	}
}

// live counts the ports the ledger holds as present.
func (l *ledger) live() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.ports {
		if p.st == present {
			n++
		}
	}
	return n
}

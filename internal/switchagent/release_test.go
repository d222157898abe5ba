package switchagent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMemReleaseRateLimited: under a stream of requests the first one
// releases at once and the next release comes only after the interval;
// run returns with its ctx.
func TestMemReleaseRateLimited(t *testing.T) {
	const interval = 200 * time.Millisecond
	done := make(chan time.Time, 10)
	frees := 0 // run's goroutine only, read after it stopped
	r := newMemRelease(interval, func() { frees++ }, func() { done <- time.Now() })
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.run(ctx); close(stopped) }()

	var at []time.Time
	deadline := time.After(10 * time.Second)
	for len(at) < 2 {
		r.request()
		select {
		case ts := <-done:
			at = append(at, ts)
		case <-time.After(2 * time.Millisecond):
		case <-deadline:
			t.Fatalf("releases at %v under a stream of requests; want 2 within 10 s", at)
		}
	}
	if d := at[1].Sub(at[0]); d < interval {
		t.Errorf("second release %v after the first; want at least the interval %v", d, interval)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its ctx was done")
	}
	if frees != 2 {
		t.Errorf("free ran %d times; want 2", frees)
	}
}

// TestBulkTransactionReleasesMemory, on a real ovsdb-server: a plan of
// releaseOps remote MACs and more is written in one transaction after
// which the agent returns its free memory, once; the small transaction of
// one more port does not ask; and the view built from the inserts' rows
// (taken before the operations were let go) knows every row: the next
// next plans add exactly one row and update the others in place.
func TestBulkTransactionReleasesMemory(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	n := releaseOps + 100
	plans.Set(1, bigPlan(n, 20))
	reg := prometheus.NewRegistry()
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", Registerer: reg, AuditInterval: -1}, plans, rec)
	rec.waitSynced(t, 1, "")
	eventually(t, 10*time.Second, func() string {
		if m := agentCounts(t, reg); m.released != 1 || m.transactions != 1 {
			return fmt.Sprintf("metrics %+v after the bulk transaction; want 1 transaction, 1 release", m)
		}
		return ""
	})
	plans.Set(2, bigPlan(n+1, 20))
	rec.waitSynced(t, 2, "")
	if got := remoteMACRows(t, o); got != n+1 {
		t.Fatalf("switch has %d remote MAC rows after one more port, want %d (the view missed the bulk inserts?)", got, n+1)
	}
	if m := agentCounts(t, reg); m.released != 1 || m.transactions != 2 {
		t.Errorf("metrics %+v after a one-row transaction; want 2 transactions, still 1 release", m)
	}
	// Every MAC but a few to another locator: the diff finds each row in
	// the view (by logical switch and MAC) and updates it in place (a
	// view that missed them would insert new rows and delete the old).
	moved := macN(20) // locator 0 of 20, then 20 of 21
	before := remoteRowUUID(t, o, moved)
	plans.Set(3, bigPlan(n+1, 21))
	rec.waitSynced(t, 3, "")
	if got := remoteMACRows(t, o); got != n+1 {
		t.Fatalf("switch has %d remote MAC rows after moving them, want %d", got, n+1)
	}
	if after := remoteRowUUID(t, o, moved); after != before {
		t.Errorf("the row of %s is %s after the move, was %s: replaced, not updated in place", moved, after, before)
	}
}

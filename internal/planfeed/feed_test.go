package planfeed

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// TestFeedFollowInterval checks that the first commit after a quiet spell
// is read at once, and that a commit right after it waits for
// FollowInterval (here longer than the test) to be read with later ones.
func TestFeedFollowInterval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := newMem()
	reg := prometheus.NewRegistry()
	f, err := New(m, Config{PollInterval: time.Hour, FollowInterval: time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	if err := f.WaitRevision(ctx, 0); err != nil {
		t.Fatalf("WaitRevision(0) = %v", err)
	}
	put(m, m.nets, store.KindNetwork, "n1", &model.Network{ID: "n1", VNI: 1000})
	if err := f.WaitRevision(ctx, 1); err != nil {
		t.Fatalf("WaitRevision(1) = %v", err)
	}
	put(m, m.nets, store.KindNetwork, "n2", &model.Network{ID: "n2", VNI: 1001})
	stop() // Run must not wait out the interval either
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
	if got := f.Revision(); got != 1 {
		t.Errorf("Revision() = %d; want 1 (the second commit waits for the interval)", got)
	}
	// One snapshot (revision 0), then one batch of one change.
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"l2gw_planfeed_revision", f.m.revision, 1},
		{"l2gw_planfeed_snapshots_total", f.m.snapshots, 1},
		{"l2gw_planfeed_follow_batches_total", f.m.batches, 1},
		{"l2gw_planfeed_changes_total", f.m.changes, 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v; want %v", c.name, got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 4 {
		t.Errorf("registry holds %d metrics (%v); want the feed's 4", n, err)
	}
}

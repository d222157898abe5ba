package planfeed

import (
	"context"
	"testing"
	"time"

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
	f, err := New(m, Config{PollInterval: time.Hour, FollowInterval: time.Hour})
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
}

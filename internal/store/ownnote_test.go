package store

import (
	"fmt"
	"sync"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
)

// TestOwnCommitKeepsCaches: on PostgreSQL, the notification of a batch
// this process commits may reach its listener before the batch has
// applied its writes to the caches; taken in from the notification, it
// dropped them, and the next reader loaded every gateway and connection
// again (under API churn, after about a third of the batches). Under
// concurrent writes through one store, the caches are loaded once.
func TestOwnCommitKeepsCaches(t *testing.T) {
	s := testPostgresStore(t, Config{})
	ctx := t.Context()
	if _, err := s.ListGateways(ctx, Query{}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				g := model.Gateway{Name: fmt.Sprintf("g-%d-%d", i, j), Devices: []model.Device{{Name: "sw", Interfaces: []model.Interface{{Name: "p1"}}}}}
				if _, err := s.CreateGateway(ctx, g); err != nil {
					errs <- err
					return
				}
				if _, err := s.ListGateways(ctx, Query{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	gws, err := s.ListGateways(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gws) != writers*each {
		t.Fatalf("listed %d gateways; want %d", len(gws), writers*each)
	}
	s.cache.mu.RLock()
	loads := s.cache.loads
	s.cache.mu.RUnlock()
	if loads != 1 {
		t.Errorf("the caches were loaded %d times; want once", loads)
	}
}

// TestTakeInOwnCommit: a notification, or a poll, of the revision of the
// batch being committed is left to that batch; others are taken in.
func TestTakeInOwnCommit(t *testing.T) {
	s := testPostgresStore(t, Config{})
	ctx := t.Context()
	if _, err := s.ListGateways(ctx, Query{}); err != nil {
		t.Fatal(err)
	}
	base := s.cache.processed
	tests := []struct {
		name     string
		inFlight int64
		takeIn   func() error
		kept     bool // the caches stay loaded, nothing taken in
	}{
		{"own notification", base + 2, func() error { return s.takeInNote(ctx, commitNote{rev: base + 2, prev: base, gw: true}) }, true},
		{"own revision polled", base + 2, func() error { return s.takeIn(ctx, base+2) }, true},
		{"another replica's notification", base + 3, func() error { return s.takeInNote(ctx, commitNote{rev: base + 2, prev: base, gw: true}) }, false},
		{"no batch in flight", 0, func() error { return s.takeInNote(ctx, commitNote{rev: base + 2, prev: base, gw: true}) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cache.mu.Lock()
			s.cache.processed, s.cache.loaded, s.cache.inFlight = base, true, tc.inFlight
			s.cache.mu.Unlock()
			if err := tc.takeIn(); err != nil {
				t.Fatal(err)
			}
			s.cache.mu.RLock()
			loaded, processed := s.cache.loaded, s.cache.processed
			s.cache.mu.RUnlock()
			if tc.kept && (!loaded || processed != base) {
				t.Errorf("loaded %v, processed %d; want the caches kept at revision %d", loaded, processed, base)
			}
			if !tc.kept && (loaded || processed != base+2) {
				t.Errorf("loaded %v, processed %d; want the caches dropped and revision %d taken in", loaded, processed, base+2)
			}
		})
	}
	// A batch that finds a gap before its writes (another replica's commit
	// not taken in yet) hands its revision to the listener.
	s.cache.mu.Lock()
	s.cache.processed, s.cache.loaded = base, true
	s.cache.mu.Unlock()
	s.committing(base+3, false)
	s.committedPostgres(base+2, &cacheDelta{})
	s.cache.mu.RLock()
	inFlight := s.cache.inFlight
	s.cache.mu.RUnlock()
	if inFlight != 0 {
		t.Errorf("after a gap, revision %d is still left to the batch; want it the listener's", inFlight)
	}
	s.cache.mu.Lock()
	s.cache.processed, s.cache.inFlight = base, 0
	s.cache.mu.Unlock()
}

package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer answers lease requests as the test says: grant (the epoch it
// holds), refuse (409) or fail (unreachable).
type fakeServer struct {
	mu       sync.Mutex
	mode     string // "grant", "refuse", "fail"
	epoch    int64
	calls    int
	released []int64
}

func (f *fakeServer) set(mode string, epoch int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.epoch = mode, epoch
}

func (f *fakeServer) AcquireLease(_ context.Context, _ string, _ int64, d time.Duration) (int64, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch f.mode {
	case "grant":
		return f.epoch, d, nil
	case "refuse":
		return 0, 0, model.NewFault(model.ErrConflict, "LeaseHeld", "Switch sw is served by agent other")
	}
	return 0, 0, errors.New("connection refused")
}

func (f *fakeServer) ReleaseLease(_ context.Context, _ string, epoch int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, epoch)
	return nil
}

// TestElector walks an elector through the states a server's answers put
// it in.
func TestElector(t *testing.T) {
	const period = 300 * time.Millisecond
	steps := []struct {
		name      string
		mode      string
		epoch     int64
		lost      int64 // call Lost(epoch) first
		wantHeld  bool
		wantEpoch int64
	}{
		{name: "refused: stands by", mode: "refuse", wantHeld: false},
		{name: "granted: acts", mode: "grant", epoch: 4, wantHeld: true, wantEpoch: 4},
		{name: "server unreachable: stands by once the validity passes", mode: "fail", wantHeld: false},
		{name: "granted again, a new epoch", mode: "grant", epoch: 6, wantHeld: true, wantEpoch: 6},
		{name: "fenced: Lost stands by and asks again", mode: "refuse", lost: 6, wantHeld: false},
		{name: "granted after a refusal", mode: "grant", epoch: 7, wantHeld: true, wantEpoch: 7},
	}
	f := &fakeServer{mode: "refuse"}
	changes := make(chan struct{}, 100)
	e := New(f, "sw", Config{Period: period, Changed: func() { changes <- struct{}{} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	for _, s := range steps {
		f.set(s.mode, s.epoch)
		if s.lost != 0 {
			e.Lost(s.lost)
		}
		testenv.Eventually(t, 5*time.Second, s.name, func() (bool, string) {
			ep, ok := e.Held()
			return ok == s.wantHeld && ep == s.wantEpoch, fmt.Sprintf("held %v, epoch %d", ok, ep)
		})
	}
	cancel()
	<-done
	if !e.HeldAtStop() {
		t.Error("HeldAtStop = false; want true")
	}
	if len(f.released) != 1 || f.released[0] != 7 {
		t.Errorf("released %v; want [7]", f.released)
	}
	if len(changes) < 5 {
		t.Errorf("Changed called %d times; want at least 5", len(changes))
	}
}

// lateServer grants every request for its epoch, with the duration the
// test sets, after calling before (the test's hook) if any.
type lateServer struct {
	epoch   int64
	granted time.Duration
	before  func()
}

func (l *lateServer) AcquireLease(context.Context, string, int64, time.Duration) (int64, time.Duration, error) {
	if l.before != nil {
		l.before()
	}
	return l.epoch, l.granted, nil
}

func (l *lateServer) ReleaseLease(context.Context, string, int64) error { return nil }

// TestElectorRenewedLate: a renewal whose answer comes after the held
// lease's validity passed (a slow server at a cold start) keeps the same
// epoch, but the agent, which saw Held turn false meanwhile and stood by,
// must be told to act again. Before the fix it was not, and a switch
// agent stood by until its next audit, a minute later.
func TestElectorRenewedLate(t *testing.T) {
	srv := &lateServer{epoch: 4, granted: 30 * time.Millisecond}
	changes := 0
	e := New(srv, "sw", Config{Period: 10 * time.Second, Changed: func() { changes++ }})
	ctx := context.Background()
	if !e.try(ctx) {
		t.Fatal("first request not answered")
	}
	if ep, ok := e.Held(); !ok || ep != 4 || changes != 1 {
		t.Fatalf("after the grant: held %v epoch %d, %d changes; want true 4 1", ok, ep, changes)
	}
	// The renewal is answered only once the validity has passed.
	srv.granted = 10 * time.Second
	srv.before = func() {
		testenv.Eventually(t, 5*time.Second, "validity passes", func() (bool, string) {
			_, ok := e.Held()
			return !ok, "still held"
		})
	}
	if !e.try(ctx) {
		t.Fatal("renewal not answered")
	}
	if ep, ok := e.Held(); !ok || ep != 4 {
		t.Fatalf("after the late renewal: held %v epoch %d; want true 4", ok, ep)
	}
	if changes != 2 {
		t.Errorf("Changed called %d times; want 2 (the late renewal must wake the agent)", changes)
	}
}

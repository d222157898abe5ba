package planstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type hostEvent = planner.HostEvent

func hostPlan(nets ...string) *planner.HostPlan {
	p := planner.HostPlan{Host: "h", Networks: map[string]planner.HostNetwork{}}
	for _, n := range nets {
		p.Networks[n] = planner.HostNetwork{NetworkID: n}
	}
	return &p
}

func snapshot(rev int64, nets ...string) hostEvent {
	return hostEvent{Type: planner.EventSnapshot, Revision: rev, Plan: hostPlan(nets...)}
}

func delta(rev int64, add ...string) hostEvent {
	d := planner.HostDelta{}
	for _, n := range add {
		d.UpsertNetworks = append(d.UpsertNetworks, planner.HostNetwork{NetworkID: n})
	}
	return hostEvent{Type: planner.EventDelta, Revision: rev, Delta: &d}
}

// scripted is a Source whose watches replay scripts, one per Watch call,
// each ending with its error; it records the from of every Watch.
type scripted struct {
	mu      sync.Mutex
	scripts [][]hostEvent
	froms   []int64
}

func (s *scripted) Watch(_ context.Context, _ string, from int64) (Stream[planner.HostPlan, planner.HostDelta], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.froms = append(s.froms, from)
	if len(s.scripts) == 0 {
		return &replay{}, nil // blocks until ctx is done
	}
	evs := s.scripts[0]
	s.scripts = s.scripts[1:]
	return &replay{evs: evs, end: errors.New("connection reset")}, nil
}

type replay struct {
	evs []hostEvent
	end error
}

func (r *replay) Next(ctx context.Context) (hostEvent, error) {
	if len(r.evs) == 0 {
		if r.end != nil {
			return hostEvent{}, r.end
		}
		<-ctx.Done()
		return hostEvent{}, ctx.Err()
	}
	ev := r.evs[0]
	r.evs = r.evs[1:]
	return ev, nil
}

func (r *replay) Close() {}

func TestFollow(t *testing.T) {
	src := &scripted{scripts: [][]hostEvent{
		{delta(1, "x")},                   // out of order: no snapshot yet
		{snapshot(5, "a"), delta(6, "b")}, // then the stream breaks
		{{Type: planner.EventResumed, Revision: 9}, delta(10, "c")},
	}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []hostEvent
	done := make(chan struct{})
	opened := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		Follow(ctx, src, "h", FollowConfig{BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, Opened: func() { opened++ }},
			func(ev hostEvent) {
				got = append(got, ev)
				if ev.Revision == 10 {
					close(done)
				}
			})
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("events not delivered")
	}
	// The third stream breaks after its last event: wait for the fourth.
	testenv.Eventually(t, 10*time.Second, "a fourth watch", func() (bool, string) {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.froms) == 4, fmt.Sprint(src.froms)
	})
	cancel()
	wg.Wait()
	var revs []int64
	for _, ev := range got {
		revs = append(revs, ev.Revision)
	}
	if diff := cmp.Diff([]int64{5, 6, 9, 10}, revs); diff != "" {
		t.Errorf("revisions handled (-want +got):\n%s", diff)
	}
	// The out-of-order stream reopens from 0; the broken one from the last
	// revision handled.
	if diff := cmp.Diff([]int64{0, 0, 6, 10}, src.froms); diff != "" {
		t.Errorf("watches opened from (-want +got):\n%s", diff)
	}
	if opened != 4 {
		t.Errorf("Opened called %d times; want 4", opened)
	}
}

func TestPending(t *testing.T) {
	p := NewPending(Host, Limits{Count: 2, MinRows: 100})
	if b, _ := p.Take(); b != nil {
		t.Fatalf("Take() before any snapshot = %+v; want nil", b)
	}
	p.Add(delta(1, "x")) // no base yet: dropped
	p.Add(snapshot(2, "a"))
	p.Add(delta(3, "b"))
	p.Add(hostEvent{Type: planner.EventResumed, Revision: 4})
	b, ds := p.Take()
	if b.Gen != 1 || b.Revision != 2 || len(ds) != 2 || ds[1].Revision != 4 || ds[1].Delta == nil {
		t.Fatalf("Take() = %+v, %+v; want the snapshot (gen 1) and two deltas, the resumed one empty", b, ds)
	}
	p.Fold(b, ds)
	if b.Revision != 4 || len(b.Plan.Networks) != 2 {
		t.Fatalf("folded base = rev %d, %v; want rev 4 with a and b", b.Revision, b.Plan.Networks)
	}
	// Past Count deltas the queue collapses into a new base (a copy: the
	// old one is left alone), with a new generation.
	for i, n := range []string{"c", "d", "e"} {
		collapsed := p.Add(delta(int64(5+i), n))
		if collapsed != (i == 2) {
			t.Errorf("Add(delta %s) collapsed = %v", n, collapsed)
		}
	}
	nb, ds := p.Take()
	if nb == b || nb.Gen != 2 || nb.Revision != 7 || len(ds) != 0 || len(nb.Plan.Networks) != 5 {
		t.Fatalf("after a collapse Take() = %+v (%d networks), %d deltas; want a new base of gen 2 at 7 with 5 networks", nb, len(nb.Plan.Networks), len(ds))
	}
	if len(b.Plan.Networks) != 2 {
		t.Errorf("old base changed by the collapse: %v", b.Plan.Networks)
	}
	if p.Queued() != 0 {
		t.Errorf("Queued() = %d; want 0", p.Queued())
	}
	p.Reset()
	if b, _ := p.Take(); b != nil {
		t.Errorf("Take() after Reset = %+v; want nil", b)
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory(Host)
	ctx := t.Context()
	s, err := m.Watch(ctx, "h", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m.Set("other", 1, *hostPlan("z"))
	m.Set("h", 2, *hostPlan("a"))
	m.Set("h", 3, *hostPlan("a", "b")) // replaces the unread one
	ev, err := s.Next(ctx)
	if err != nil || ev.Type != planner.EventSnapshot || ev.Revision != 3 || len(ev.Plan.Networks) != 2 {
		t.Fatalf("Next() = %+v, %v; want the snapshot at 3", ev, err)
	}
	late, _ := m.Watch(ctx, "h", 0)
	defer late.Close()
	if ev, err := late.Next(ctx); err != nil || ev.Revision != 3 {
		t.Errorf("a new watch's first event = %+v, %v; want the current plan", ev, err)
	}
}

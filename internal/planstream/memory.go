package planstream

import (
	"context"
	"sync"

	"github.com/l2gw/l2gw/internal/planner"
)

// Memory is an in-memory Source of one plan per name, for tests and tools
// that run an agent without a server: each watch gets the current plan as a
// snapshot (once there is one), then every Set as a snapshot; only the
// latest unread one is kept.
type Memory[P, D any] struct {
	kind Kind[P, D]

	mu    sync.Mutex
	rev   int64
	plans map[string]*P
	subs  map[*memoryStream[P, D]]bool
}

// NewMemory returns an empty Memory of kind k.
func NewMemory[P, D any](k Kind[P, D]) *Memory[P, D] {
	return &Memory[P, D]{kind: k, plans: map[string]*P{}, subs: map[*memoryStream[P, D]]bool{}}
}

// Set makes p the named plan at revision rev.
func (m *Memory[P, D]) Set(name string, rev int64, p P) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev, m.plans[name] = rev, &p
	for s := range m.subs {
		if s.name == name {
			s.offerLocked()
		}
	}
}

// Watch implements Source.
func (m *Memory[P, D]) Watch(_ context.Context, name string, _ int64) (Stream[P, D], error) {
	s := &memoryStream[P, D]{m: m, name: name, ch: make(chan planner.Event[P, D], 1)}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s] = true
	if m.plans[name] != nil {
		s.offerLocked()
	}
	return s, nil
}

type memoryStream[P, D any] struct {
	m    *Memory[P, D]
	name string
	ch   chan planner.Event[P, D]
}

// offerLocked replaces the unread event with the current plan.
func (s *memoryStream[P, D]) offerLocked() {
	select {
	case <-s.ch:
	default:
	}
	p := s.m.kind.Clone(s.m.plans[s.name])
	s.ch <- planner.Event[P, D]{Type: planner.EventSnapshot, Revision: s.m.rev, Plan: &p}
}

func (s *memoryStream[P, D]) Next(ctx context.Context) (planner.Event[P, D], error) {
	select {
	case ev := <-s.ch:
		return ev, nil
	case <-ctx.Done():
		return planner.Event[P, D]{}, ctx.Err()
	}
}

func (s *memoryStream[P, D]) Close() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	delete(s.m.subs, s)
}

package l2pop

import (
	"context"
	"sync"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// memSource is the inner-loop stand-in for the store: an inventory that
// the test edits, a revision bumped by each edit, and the store's Notify
// contract (a channel closed at the next commit).
type memSource struct {
	mu     sync.Mutex
	inv    model.Inventory
	rev    int64
	notify chan struct{}
}

func newMemSource(inv model.Inventory) *memSource {
	return &memSource{inv: inv, rev: 1, notify: make(chan struct{})}
}

func (m *memSource) Snapshot(context.Context) (store.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return store.Snapshot{Revision: m.rev, Inventory: clone(m.inv)}, nil
}

func (m *memSource) Notify() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.notify
}

// Commit applies edit and returns the new revision.
func (m *memSource) Commit(edit func(inv *model.Inventory)) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	edit(&m.inv)
	m.rev++
	close(m.notify)
	m.notify = make(chan struct{})
	return m.rev
}

func clone(inv model.Inventory) model.Inventory {
	out := inv
	out.Connections = append([]model.Connection(nil), inv.Connections...)
	out.LocalMACs = append([]model.LocalMAC(nil), inv.LocalMACs...)
	out.Ports = append([]model.Port(nil), inv.Ports...)
	out.Hosts = append([]model.Host(nil), inv.Hosts...)
	for i, h := range out.Hosts {
		if h.Agent != nil {
			a := *h.Agent
			out.Hosts[i].Agent = &a
		}
	}
	return out
}

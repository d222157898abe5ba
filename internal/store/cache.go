package store

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/l2gw/l2gw/internal/model"
)

// objCache holds every gateway and connection, sorted by id, so that lists
// and gets (the API's hot path) cost no SQL. On PostgreSQL, other replicas'
// commits reach it through the revision listener (replica.go), which drops
// it when they changed gateways or connections. On SQLite, where
// this process is the only writer, each write transaction records what it
// changed (cacheDelta) and the store applies it at commit, still under the
// writer lock, so the cache follows commit order. A commit that changes
// gateways or connections holds the cache's lock from before COMMIT until
// its delta is applied: no reader sees a change in the change log whose
// object the cache does not show yet (the plan feed would take it for
// deleted). It is loaded lazily.
//
// Slices are copy-on-write: a reader's slice never changes under it, and the
// model values inside are never modified once cached. Unfiltered lists
// return the cached slice itself (clipped, so append copies): callers must
// treat what List/Get return as read-only.
type objCache struct {
	mu     sync.RWMutex
	loaded bool
	gws    []model.Gateway    // sorted by ID
	conns  []model.Connection // sorted by ID
	// gwGen and connGen count the commits that changed gateways and
	// connections (see ListGeneration).
	gwGen, connGen uint64
	// processed is, on PostgreSQL, the newest revision whose gateway and
	// connection changes the cache (and the generations) have taken in
	// (replica.go).
	processed int64
	// inFlight is, on PostgreSQL, the revision of this process's batch
	// between its COMMIT and the end of its committedPostgres calls; 0
	// when none (replica.go).
	inFlight int64
	loads    int // times the cache was read from the database
}

// cacheDelta is what one write transaction did to gateways and connections.
type cacheDelta struct {
	gwPut   []model.Gateway
	gwDel   []string
	connPut []model.Connection
	connDel []string
}

func (w *wtx) putGateway(g model.Gateway)       { w.delta.gwPut = append(w.delta.gwPut, g) }
func (w *wtx) delGateway(id string)             { w.delta.gwDel = append(w.delta.gwDel, id) }
func (w *wtx) putConnection(c model.Connection) { w.delta.connPut = append(w.delta.connPut, c) }
func (w *wtx) delConnection(id string)          { w.delta.connDel = append(w.delta.connDel, id) }

// applyLocked applies d; the caller holds c.mu for writing.
func (c *objCache) applyLocked(d *cacheDelta) {
	if len(d.gwPut)+len(d.gwDel) > 0 {
		c.gwGen++
	}
	if len(d.connPut)+len(d.connDel) > 0 {
		c.connGen++
	}
	if !c.loaded {
		return
	}
	if len(d.gwPut)+len(d.gwDel) > 0 {
		c.gws = applied(c.gws, d.gwPut, d.gwDel, func(x model.Gateway) string { return x.ID })
	}
	if len(d.connPut)+len(d.connDel) > 0 {
		c.conns = applied(c.conns, d.connPut, d.connDel, func(x model.Connection) string { return x.ID })
	}
}

func (d *cacheDelta) empty() bool {
	return len(d.gwPut)+len(d.gwDel)+len(d.connPut)+len(d.connDel) == 0
}

// applied returns a copy of s, sorted by key, with put upserted and the
// keys del removed (s itself is never modified: readers may hold it).
func applied[T any](s, put []T, del []string, key func(T) string) []T {
	s = slices.Clone(s)
	for _, v := range put {
		s = upsert(s, v, key)
	}
	for _, k := range del {
		s = remove(s, k, key)
	}
	return s
}

func upsert[T any](s []T, v T, key func(T) string) []T {
	k := key(v)
	i, found := slices.BinarySearchFunc(s, k, func(e T, k string) int { return strings.Compare(key(e), k) })
	if found {
		s[i] = v
		return s
	}
	return slices.Insert(s, i, v)
}

func remove[T any](s []T, k string, key func(T) string) []T {
	i, found := slices.BinarySearchFunc(s, k, func(e T, k string) int { return strings.Compare(key(e), k) })
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

// ListGeneration returns a number that changes whenever a commit changes
// the gateways (KindGateway) or connections (KindConnection) that
// ListGateways and ListConnections return (on PostgreSQL, other replicas'
// commits once this replica has taken them in: replica.go); ok is false for
// other kinds, whose lists are not served from memory.
// A caller may keep what it derived from a list between two equal
// generations: read the generation, list, read it again, and keep the result
// only if both are equal. It is a hint for caches, not a revision.
func (s *sqlStore) ListGeneration(kind Kind) (gen uint64, ok bool) {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	switch kind {
	case KindGateway:
		return s.cache.gwGen, true
	case KindConnection:
		return s.cache.connGen, true
	}
	return 0, false
}

// get returns the cached gateways and connections, loading them on first use.
func (c *objCache) get(ctx context.Context, s *sqlStore) ([]model.Gateway, []model.Connection, error) {
	c.mu.RLock()
	if c.loaded {
		gws, conns := c.gws, c.conns
		c.mu.RUnlock()
		return gws, conns, nil
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		var gws []model.Gateway
		var conns []model.Connection
		err := s.readTx(ctx, func(d db) error {
			var err error
			if gws, err = listGateways(ctx, d, Query{}); err != nil {
				return err
			}
			conns, err = listConnections(ctx, d, Query{})
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		c.gws, c.conns, c.loaded = gws, conns, true
		c.loads++
	}
	return c.gws, c.conns, nil
}

// filterCached applies q to a slice sorted by id.
func filterCached[T any](all []T, q Query, id func(*T) string, match func(*T) bool) []T {
	start := 0
	if q.Marker != "" {
		start, _ = slices.BinarySearchFunc(all, q.Marker, func(e T, k string) int { return strings.Compare(id(&e), k) })
		if start < len(all) && id(&all[start]) == q.Marker {
			start++
		}
	}
	n := len(all) - start
	if q.Limit > 0 && q.Limit < n {
		n = q.Limit
	}
	out := make([]T, 0, n)
	for i := start; i < len(all); i++ {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		if match(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

func inList(vals []string, v string) bool {
	return len(vals) == 0 || slices.Contains(vals, v)
}

func (c *objCache) listGateways(ctx context.Context, s *sqlStore, q Query) ([]model.Gateway, error) {
	gws, _, err := c.get(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(q.IDs)+len(q.Names)+len(q.TenantIDs) == 0 && q.Marker == "" && q.Limit == 0 {
		// Shared, not copied: see objCache.
		return slices.Clip(gws), nil
	}
	if len(q.IDs) == 1 && q.Marker == "" {
		if g, ok := find(gws, q.IDs[0], func(g model.Gateway) string { return g.ID }); ok && inList(q.Names, g.Name) && inList(q.TenantIDs, g.TenantID) {
			return []model.Gateway{g}, nil
		}
		return []model.Gateway{}, nil
	}
	return filterCached(gws, q, func(g *model.Gateway) string { return g.ID }, func(g *model.Gateway) bool {
		return inList(q.IDs, g.ID) && inList(q.Names, g.Name) && inList(q.TenantIDs, g.TenantID)
	}), nil
}

func (c *objCache) listConnections(ctx context.Context, s *sqlStore, q Query) ([]model.Connection, error) {
	_, conns, err := c.get(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(q.IDs)+len(q.TenantIDs)+len(q.NetworkIDs)+len(q.GatewayIDs) == 0 && q.Marker == "" && q.Limit == 0 {
		return slices.Clip(conns), nil
	}
	return filterCached(conns, q, func(x *model.Connection) string { return x.ID }, func(x *model.Connection) bool {
		return inList(q.IDs, x.ID) && inList(q.TenantIDs, x.TenantID) && inList(q.NetworkIDs, x.NetworkID) && inList(q.GatewayIDs, x.GatewayID)
	}), nil
}

func find[T any](s []T, k string, key func(T) string) (T, bool) {
	i, found := slices.BinarySearchFunc(s, k, func(e T, k string) int { return strings.Compare(key(e), k) })
	if !found {
		var zero T
		return zero, false
	}
	return s[i], true
}

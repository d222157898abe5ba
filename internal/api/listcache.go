package api

import (
	"sync"

	"github.com/l2gw/l2gw/internal/store"
)

// maxListEncodes bounds the big lists (more than bigList items) encoded at
// once (handler.encodes): an encode costs several times its body in memory,
// so slow or many clients cannot multiply it. Smaller lists never wait.
const maxListEncodes = 1

// bigList is the item count above which a list's encode takes a slot.
const bigList = 1000

// maxListBodies bounds the encoded list bodies kept per collection.
const maxListBodies = 64

// listCache keeps encoded list bodies, per collection and request, for as
// long as the store's generation of that kind stays the same. Bodies are
// identical between two commits, and encoding them is most of a list's CPU.
// A commit bumps the generation before the writer is answered, so a read
// after one's own write never gets an older body.
type listCache struct {
	gens Store // nil: nothing is cached

	mu   sync.Mutex
	sets map[store.Kind]*bodySet
}

// bodySet is the bodies of one kind at one generation.
type bodySet struct {
	gen    uint64
	bodies map[string][]byte // request key -> encoded body
}

func newListCache(st Store) *listCache {
	return &listCache{gens: st, sets: map[store.Kind]*bodySet{}}
}

// generation returns the current generation of kind, ok false when bodies
// of that kind cannot be cached.
func (c *listCache) generation(kind store.Kind) (uint64, bool) {
	if c == nil || c.gens == nil || kind == "" {
		return 0, false
	}
	return c.gens.ListGeneration(kind)
}

// get returns the body kept for key at generation gen.
func (c *listCache) get(kind store.Kind, gen uint64, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.sets[kind]
	if set == nil || set.gen != gen {
		return nil, false
	}
	b, ok := set.bodies[key]
	return b, ok
}

// put keeps body for key if the generation is still gen, the one the body
// was computed at (read before the list, checked after it).
func (c *listCache) put(kind store.Kind, gen uint64, key string, body []byte) {
	if now, ok := c.generation(kind); !ok || now != gen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.sets[kind]
	if set != nil && set.gen > gen {
		return // a newer generation's bodies are already kept
	}
	if set == nil || set.gen != gen || len(set.bodies) >= maxListBodies {
		set = &bodySet{gen: gen, bodies: map[string][]byte{}}
		c.sets[kind] = set
	}
	set.bodies[key] = body
}

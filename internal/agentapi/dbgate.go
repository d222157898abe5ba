package agentapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/neutron"
)

// A replica cut off from its database (a partition) cannot see the writes
// other replicas make, so the plans it streams stop changing while the
// agents on it believe them current. Once the store reports the database
// unreachable (for longer than its timeout: a hiccup does not count), the
// handler ends its plan streams and refuses new ones with 503, so that
// agents move to the next server and resume there by revision; it serves
// streams again as soon as the database answers. With the database down
// for every replica the agents cycle through them and keep their last plan.

// Reachability is what the handler needs to know of a store that can lose
// its database (a SQLite store never does).
type Reachability interface {
	// Unreachable reports whether the database has been out of reach for
	// longer than the store's timeout, and since when.
	Unreachable() (since time.Time, down bool)
}

// DefaultGateInterval is how often RunDatabaseGate asks the store.
const DefaultGateInterval = 100 * time.Millisecond

// errDatabaseUnreachable is the cause of the gate's context while the
// database is unreachable.
var errDatabaseUnreachable = errors.New("database unreachable")

// streamGate lets plan streams run while the database is reachable.
type streamGate struct {
	mu     sync.Mutex
	ctx    context.Context // cancelled when the database became unreachable
	cancel context.CancelCauseFunc
}

func newStreamGate() *streamGate {
	g := &streamGate{}
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	return g
}

// open returns a context that ends when the database becomes unreachable,
// or false while it is.
func (g *streamGate) open() (context.Context, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ctx, g.ctx.Err() == nil
}

// set closes the gate (ending every stream's context) or opens it again;
// it reports whether that changed anything.
func (g *streamGate) set(down bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if down == (g.ctx.Err() != nil) {
		return false
	}
	if down {
		g.cancel(errDatabaseUnreachable)
	} else {
		g.ctx, g.cancel = context.WithCancelCause(context.Background())
	}
	return true
}

// RunDatabaseGate follows, until ctx is done, whether the store reaches its
// database, every interval (zero: DefaultGateInterval): while it does not,
// plan streams end and new ones are refused (503).
func (h *Handler) RunDatabaseGate(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultGateInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		since, down := h.st.Unreachable()
		if !h.gate.set(down) {
			continue
		}
		if down {
			h.m.gateClosed.Set(1)
			h.log.Warn("database unreachable: ending plan streams and refusing new ones, so that agents move to another server",
				"unreachable_since", since, "plan_streams", len(h.agents.openNames())+len(h.hostAgents.openNames()))
		} else {
			h.m.gateClosed.Set(0)
			h.log.Info("database reachable again: serving plan streams")
		}
	}
}

// writeDatabaseUnreachable refuses a plan stream while the database is
// unreachable.
func writeDatabaseUnreachable(w http.ResponseWriter) {
	api.WriteErrorBody(w, http.StatusServiceUnavailable, neutron.Error{Type: "HTTPServiceUnavailable",
		Message: "This server cannot reach the database: its plans may be stale. Ask another server."})
}

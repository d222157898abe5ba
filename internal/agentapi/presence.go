package agentapi

import (
	"context"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// ErrAgentGone is the sync error shown for a switch whose agent has no plan
// stream open any more (killed, or cut off from the server).
const ErrAgentGone = "switch agent disconnected from the server"

// ErrHostAgentGone is the error recorded for a host whose agent has no plan
// stream open any more.
const ErrHostAgentGone = "host agent disconnected from the server"

// presenceWriteTimeout bounds one status write or disconnect mark.
const presenceWriteTimeout = 10 * time.Second

// presence counts the open plan streams of each agent (a switch's or a
// host's, by name) so that an agent whose last stream ends is shown
// disconnected: an agent killed with -9 never says so itself. Status
// writes and disconnect marks of one name are applied in the order they
// were made, one at a time, so an agent's status sent after its stream
// reopened is never overwritten by the mark of its previous stream; no
// lock is held while the store is written.
type presence[S any] struct {
	// set writes an agent's status; gone marks the named agent's last
	// recorded status disconnected.
	set  func(ctx context.Context, s S) error
	gone func(ctx context.Context, name string) error
	// streamless, when set, turns a status that arrives while its agent
	// has no plan stream open into what is recorded: an agent re-sends its
	// status whenever its stream opens, so such a status is either the
	// last words of an agent already gone (sent before, processed after,
	// its stream's end) or early, and is put right at the stream's open.
	streamless func(S) S

	mu      sync.Mutex
	streams map[string]int
	// remote holds the names whose status comes over HTTP: a switch
	// programmed by an agent inside the server has no stream to lose, and a
	// person reading its plan stream must not mark it disconnected.
	remote map[string]bool
	// queues holds, per name being written, the writes waiting their
	// turn; the caller that created the queue applies them all.
	queues map[string][]*presenceWrite[S]
}

// presenceWrite is an agent's status, or (status nil) a disconnect mark.
type presenceWrite[S any] struct {
	status *S
	done   chan error // 1-buffered
}

// open records a new plan stream of the agent.
func (p *presence[S]) open(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams == nil {
		p.streams = make(map[string]int)
	}
	p.streams[name]++
}

// close records the end of a plan stream; when it was the agent's last,
// the agent is marked disconnected, if mark. A replica that cannot reach
// its database does not mark (it could not, and the wait would hold the
// stream's end from the agent): the replica the agent moves to claims its
// presence, and one that moves nowhere expires.
func (p *presence[S]) close(ctx context.Context, name string, mark bool) error {
	p.mu.Lock()
	p.streams[name]--
	last := p.streams[name] <= 0
	if last {
		delete(p.streams, name)
	}
	p.mu.Unlock()
	if !last || !mark {
		return nil
	}
	return p.write(ctx, name, &presenceWrite[S]{})
}

// setStatus writes an agent's status, ordered with the disconnect marks.
func (p *presence[S]) setStatus(ctx context.Context, name string, s S) error {
	return p.write(ctx, name, &presenceWrite[S]{status: &s})
}

// write queues w behind the name's pending writes and waits for it. The
// caller that finds no queue applies the queue's writes itself, in order.
func (p *presence[S]) write(ctx context.Context, name string, w *presenceWrite[S]) error {
	w.done = make(chan error, 1)
	p.mu.Lock()
	if p.queues == nil {
		p.queues = make(map[string][]*presenceWrite[S])
	}
	q, busy := p.queues[name]
	p.queues[name] = append(q, w)
	p.mu.Unlock()
	if !busy {
		p.drain(context.WithoutCancel(ctx), name)
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // it is still applied in its turn
	}
}

// drain applies the name's queued writes until the queue is empty.
func (p *presence[S]) drain(ctx context.Context, name string) {
	for {
		p.mu.Lock()
		q := p.queues[name]
		if len(q) == 0 {
			delete(p.queues, name)
			p.mu.Unlock()
			return
		}
		w := q[0]
		p.queues[name] = q[1:]
		apply := true
		status := w.status
		if status != nil {
			if p.remote == nil {
				p.remote = make(map[string]bool)
			}
			p.remote[name] = true
			if p.streamless != nil && p.streams[name] == 0 {
				st := p.streamless(*status)
				status = &st
			}
		} else {
			// A mark applies only while the agent still has no stream.
			apply = p.remote[name] && p.streams[name] == 0
		}
		p.mu.Unlock()
		var err error
		if apply {
			wctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
			if status != nil {
				err = p.set(wctx, *status)
			} else {
				err = p.gone(wctx, name)
			}
			cancel()
		}
		w.done <- err
	}
}

// open returns the names with a plan stream open in this process.
func (p *presence[S]) openNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.streams))
	for n := range p.streams {
		out = append(out, n)
	}
	return out
}

// DefaultClaimInterval is how often RunPresence claims the presence of the
// agents whose plan streams this replica serves.
const DefaultClaimInterval = 5 * time.Second

// RunPresence keeps, until ctx is done, the presence of every agent whose
// plan stream this replica serves owned by this replica and renewed in the
// store (store.ClaimPresence), every interval (zero: DefaultClaimInterval,
// which suits the store's default 15s presence expiry). Other replicas
// then show these agents connected, and stop doing so within the expiry
// once this replica dies.
func (h *Handler) RunPresence(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultClaimInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
		err := h.st.ClaimPresence(cctx, h.agents.openNames(), h.hostAgents.openNames())
		cancel()
		if err != nil && ctx.Err() == nil {
			h.log.Debug("claim agents' presence", "err", err) // the store logs lasting failures
		}
	}
}

// switchPresence is the presence of switch agents in st.
func switchPresence(st Store) *presence[model.SwitchStatus] {
	return &presence[model.SwitchStatus]{
		set: st.SetSwitchStatus,
		// Only while this replica owns the switch's presence: the agent
		// may have reconnected to another replica meanwhile.
		gone: func(ctx context.Context, name string) error { return st.SwitchGone(ctx, name, ErrAgentGone) },
	}
}

// hostPresence is the presence of host agents in st. A host agent always
// talks to the server over HTTP (there is no in-process host agent), so
// every host plan stream counts, and a host's agent shows running only
// while a plan stream of the host is open and after its agent sent a
// status through it.
func hostPresence(st Store) *presence[model.HostStatus] {
	return &presence[model.HostStatus]{
		set:  st.SetHostStatus,
		gone: func(ctx context.Context, name string) error { return st.HostGone(ctx, name, ErrHostAgentGone) },
		streamless: func(s model.HostStatus) model.HostStatus {
			s.Connected, s.Error = false, ErrHostAgentGone
			return s
		},
	}
}

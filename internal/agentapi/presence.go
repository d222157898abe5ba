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

// presenceWriteTimeout bounds one status write or disconnect mark.
const presenceWriteTimeout = 10 * time.Second

// presence counts the open plan streams of each switch so that a switch
// whose last stream ends is shown disconnected: an agent killed with -9
// never says so itself. Status writes and disconnect marks of one switch
// are applied in the order they were made, one at a time, so an agent's
// status sent after its stream reopened is never overwritten by the mark
// of its previous stream; no lock is held while the store is written.
type presence struct {
	mu      sync.Mutex
	streams map[string]int
	// remote holds the switches whose status comes over HTTP: a switch
	// programmed by an agent inside the server has no stream to lose, and a
	// person reading its plan stream must not mark it disconnected.
	remote map[string]bool
	// queues holds, per switch being written, the writes waiting their
	// turn; the caller that created the queue applies them all.
	queues map[string][]*presenceWrite
}

// presenceWrite is an agent's status, or (status nil) a disconnect mark.
type presenceWrite struct {
	status *model.SwitchStatus
	done   chan error // 1-buffered
}

// open records a new plan stream of the switch.
func (p *presence) open(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams == nil {
		p.streams = make(map[string]int)
	}
	p.streams[name]++
}

// close records the end of a plan stream; when it was the switch's last,
// the switch is marked disconnected in st, keeping its last sync and
// applied revision.
func (p *presence) close(ctx context.Context, st Store, name string) error {
	p.mu.Lock()
	p.streams[name]--
	last := p.streams[name] <= 0
	if last {
		delete(p.streams, name)
	}
	p.mu.Unlock()
	if !last {
		return nil
	}
	return p.write(ctx, st, name, &presenceWrite{})
}

// setStatus writes an agent's status, ordered with the disconnect marks.
func (p *presence) setStatus(ctx context.Context, st Store, s model.SwitchStatus) error {
	return p.write(ctx, st, s.Name, &presenceWrite{status: &s})
}

// write queues w behind the switch's pending writes and waits for it. The
// caller that finds no queue applies the queue's writes itself, in order.
func (p *presence) write(ctx context.Context, st Store, name string, w *presenceWrite) error {
	w.done = make(chan error, 1)
	p.mu.Lock()
	if p.queues == nil {
		p.queues = make(map[string][]*presenceWrite)
	}
	q, busy := p.queues[name]
	p.queues[name] = append(q, w)
	p.mu.Unlock()
	if !busy {
		p.drain(context.WithoutCancel(ctx), st, name)
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // it is still applied in its turn
	}
}

// drain applies the switch's queued writes until the queue is empty.
func (p *presence) drain(ctx context.Context, st Store, name string) {
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
		if w.status != nil {
			if p.remote == nil {
				p.remote = make(map[string]bool)
			}
			p.remote[name] = true
		} else {
			// A mark applies only while the switch still has no stream.
			apply = p.remote[name] && p.streams[name] == 0
		}
		p.mu.Unlock()
		var err error
		if apply {
			wctx, cancel := context.WithTimeout(ctx, presenceWriteTimeout)
			err = p.apply(wctx, st, name, w)
			cancel()
		}
		w.done <- err
	}
}

func (p *presence) apply(ctx context.Context, st Store, name string, w *presenceWrite) error {
	if w.status != nil {
		return st.SetSwitchStatus(ctx, *w.status)
	}
	sw, err := st.GetSwitch(ctx, name)
	if err != nil || !sw.Connected {
		return nil // never reported, or already shown disconnected
	}
	return st.SetSwitchStatus(ctx, model.SwitchStatus{
		Name: name, Connected: false, LastSync: sw.LastSync, Revision: sw.SyncRevision, Error: ErrAgentGone,
	})
}

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

// presence counts the open plan streams of each switch so that a switch
// whose last stream ends is shown disconnected: an agent killed with -9
// never says so itself. Status writes and the disconnect mark are
// serialised by mu, so an agent's status sent after its stream reopened is
// never overwritten by the mark of its previous stream.
type presence struct {
	mu      sync.Mutex
	streams map[string]int
	// remote holds the switches whose status comes over HTTP: a switch
	// programmed by an agent inside the server has no stream to lose, and a
	// person reading its plan stream must not mark it disconnected.
	remote map[string]bool
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
	defer p.mu.Unlock()
	p.streams[name]--
	if p.streams[name] > 0 {
		return nil
	}
	delete(p.streams, name)
	if !p.remote[name] {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	sw, err := st.GetSwitch(ctx, name)
	if err != nil || !sw.Connected {
		return nil // never reported, or already shown disconnected
	}
	return st.SetSwitchStatus(ctx, model.SwitchStatus{
		Name: name, Connected: false, LastSync: sw.LastSync, Revision: sw.SyncRevision, Error: ErrAgentGone,
	})
}

// setStatus writes an agent's status, ordered with the disconnect marks.
func (p *presence) setStatus(ctx context.Context, st Store, s model.SwitchStatus) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.remote == nil {
		p.remote = make(map[string]bool)
	}
	p.remote[s.Name] = true
	return st.SetSwitchStatus(ctx, s)
}

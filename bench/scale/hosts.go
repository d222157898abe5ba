package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/reconcile"
)

// hostSim is one simulated host agent: it registers its host, follows its
// plan stream (resuming by revision, as the real agent does), keeps the
// plan, and reports the revision it holds as its status. It realises
// nothing: the bench measures the server's fan-out, not netlink.
type hostSim struct {
	name, ip string
	fleet    *fleet

	mu       sync.Mutex
	networks map[string]planner.HostNetwork
	revision int64
}

// fleet is every simulated host and the MACs whose arrival at their peers
// is being timed.
type fleet struct {
	hosts []*hostSim

	mu      sync.Mutex
	pending map[string]*macWatch // MAC -> the hosts still to see it
	fanout  []time.Duration      // port create -> a peer host has the MAC
}

// macWatch times one MAC: created when its port create was issued; want
// the hosts that must see it as a peer's MAC.
type macWatch struct {
	created time.Time
	want    map[string]bool
	done    chan struct{} // closed once every host of want has the MAC
}

func newFleet(o options) *fleet {
	f := &fleet{pending: map[string]*macWatch{}}
	for h := range o.hosts {
		f.hosts = append(f.hosts, &hostSim{name: hostName(h), ip: hostIP(h), fleet: f})
	}
	return f
}

// run starts every host agent on the links (host h uses links[h%len]) and
// returns when ctx is done and they have stopped.
func (f *fleet) run(ctx context.Context, links []*agentlink.Link) {
	var wg sync.WaitGroup
	for i, h := range f.hosts {
		wg.Go(func() { h.run(ctx, links[i%len(links)]) })
	}
	wg.Wait()
}

func (h *hostSim) run(ctx context.Context, link *agentlink.Link) {
	bo := reconcile.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		if _, err := link.RegisterHost(ctx, h.name, h.ip, time.Now()); err == nil {
			break
		}
		if !reconcile.Sleep(ctx, bo.Next()) {
			return
		}
	}
	var reportMu sync.Mutex
	reported := time.Time{}
	planstream.Follow(ctx, link.Hosts(), h.name, planstream.FollowConfig{}, func(ev planner.HostEvent) {
		rev := h.apply(ev)
		// Report like an agent that applies quickly: at most twice a second.
		reportMu.Lock()
		due := time.Since(reported) > 500*time.Millisecond
		if due {
			reported = time.Now()
		}
		reportMu.Unlock()
		if due {
			_ = link.SetHostStatus(ctx, model.HostStatus{Name: h.name, Connected: true, LastSync: time.Now(), Revision: rev})
		}
	})
}

// apply folds ev into the host's plan and times the watched MACs it
// brings; it returns the revision the host now holds.
func (h *hostSim) apply(ev planner.HostEvent) int64 {
	now := time.Now()
	h.mu.Lock()
	var changed []planner.HostNetwork
	switch ev.Type {
	case planner.EventSnapshot:
		h.networks = make(map[string]planner.HostNetwork, len(ev.Plan.Networks))
		for id, n := range ev.Plan.Networks {
			h.networks[id] = n
			changed = append(changed, n)
		}
	case planner.EventDelta:
		for _, id := range ev.Delta.DeleteNetworks {
			delete(h.networks, id)
		}
		for _, n := range ev.Delta.UpsertNetworks {
			h.networks[n.NetworkID] = n
			changed = append(changed, n)
		}
	}
	h.revision = ev.Revision
	h.mu.Unlock()
	h.fleet.seen(h.name, changed, now)
	return ev.Revision
}

// networkCount is how many networks the host's plan holds.
func (h *hostSim) networkCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.networks)
}

// watchMAC starts timing mac, created now, until every host of want has
// it; the channel it returns is closed then.
func (f *fleet) watchMAC(mac string, created time.Time, want []string) <-chan struct{} {
	w := &macWatch{created: created, want: map[string]bool{}, done: make(chan struct{})}
	if len(want) == 0 {
		close(w.done)
		return w.done
	}
	for _, h := range want {
		w.want[h] = true
	}
	f.mu.Lock()
	f.pending[mac] = w
	f.mu.Unlock()
	return w.done
}

// seen records host seeing the MACs of its peers in networks.
func (f *fleet) seen(host string, networks []planner.HostNetwork, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 {
		return
	}
	for _, n := range networks {
		for _, p := range n.Peers {
			for _, mac := range p.MACs {
				w := f.pending[mac]
				if w == nil || !w.want[host] {
					continue
				}
				delete(w.want, host)
				f.fanout = append(f.fanout, at.Sub(w.created))
				if len(w.want) == 0 {
					delete(f.pending, mac)
					close(w.done)
				}
			}
		}
	}
}

// unfinished is how many watched MACs some host has not seen yet.
func (f *fleet) unfinished() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// converged reports whether every host holds as many networks as want
// says, and if not, the first that does not.
func (f *fleet) converged(want []int) (bool, string) {
	for i, h := range f.hosts {
		if got := h.networkCount(); got != want[i] {
			return false, fmt.Sprintf("%s holds %d networks, want %d", h.name, got, want[i])
		}
	}
	return true, ""
}

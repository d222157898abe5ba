package l2pop

import (
	"maps"
	"slices"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
)

// mark is when something was confirmed sent: the store revision it
// reflects and the time.
type mark struct {
	Rev int64
	At  time.Time
}

func later(a, b mark) mark {
	if b.Rev > a.Rev {
		return b
	}
	return a
}

// status is what the Runner shows; guarded by Runner.mu.
type status struct {
	broker  agentwire.L2PopBroker
	gen     int // connection generation, for late close notices
	desired Desired
	netRev  map[string]mark            // fanout carried the network whole
	hostRev map[string]map[string]mark // host -> network -> targeted cast
}

func newStatus(url string) status {
	return status{broker: agentwire.L2PopBroker{TransportURL: url}, netRev: map[string]mark{}, hostRev: map[string]map[string]mark{},
		desired: Desired{Networks: map[string]NetworkEntries{}, Hosts: map[string]HostNeed{}}}
}

func (r *Runner) setDesired(rev int64, d Desired) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.desired, r.st.broker.Revision = d, rev
}

func (r *Runner) generation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.gen
}

// setBroker records a connection to broker (err nil) or a failure.
func (r *Runner) setBroker(broker string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.st.broker
	now := neutron.Time{Time: r.cfg.Now()}
	if err != nil {
		if b.Connected || b.Since.IsZero() {
			b.Since = now
		}
		b.Connected, b.Broker, b.Error = false, "", err.Error()
		r.st.gen++
		r.m.connected.Set(0)
		return
	}
	r.st.gen++
	r.m.connected.Set(1)
	b.Connected, b.Broker, b.Error, b.Since = true, broker, "", now
}

// setLost records that connection generation gen closed with err.
func (r *Runner) setLost(gen int, err error) {
	r.mu.Lock()
	same := gen == r.st.gen
	r.mu.Unlock()
	if same {
		r.setBroker("", err)
	}
}

func (r *Runner) recordSent(rev int64, whole []string, hostNets map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := mark{Rev: rev, At: r.cfg.Now()}
	if len(whole) > 0 || len(hostNets) > 0 {
		r.st.broker.LastPublish = neutron.Time{Time: m.At}
	}
	for _, id := range whole {
		r.st.netRev[id] = m
	}
	for id := range r.st.netRev {
		if _, ok := r.sent[id]; !ok {
			delete(r.st.netRev, id)
		}
	}
	for h, nets := range hostNets {
		if r.st.hostRev[h] == nil {
			r.st.hostRev[h] = map[string]mark{}
		}
		for _, id := range nets {
			r.st.hostRev[h][id] = m
		}
	}
	for h, nets := range r.st.hostRev {
		need, ok := r.st.desired.Hosts[h]
		if !ok {
			delete(r.st.hostRev, h)
			continue
		}
		for id := range nets {
			if !slices.Contains(need.Networks, id) {
				delete(nets, id)
			}
		}
	}
}

// hostState is host's l2pop state for network id; the caller holds r.mu.
func (r *Runner) hostState(host string, need HostNeed, id string) agentwire.L2PopHost {
	h := agentwire.L2PopHost{Host: host, Agent: need.AgentType}
	m := later(r.st.netRev[id], r.st.hostRev[host][id])
	h.SentRevision, h.SentAt = m.Rev, neutron.Time{Time: m.At}
	b := r.st.broker
	switch {
	case need.Problem != "":
		h.State, h.Reason = agentwire.StateError, need.Problem
	case !b.Connected && b.Error != "":
		h.State, h.Reason = agentwire.StateError, "RabbitMQ unreachable: "+b.Error
	case !b.Connected:
		h.State, h.Reason = agentwire.StatePending, "connecting to RabbitMQ"
	case m.Rev == 0:
		h.State, h.Reason = agentwire.StatePending, "not sent yet"
	default:
		h.State = agentwire.StateInSync
	}
	return h
}

// NetworkStatus is the l2pop status of the hosts of network id (the part
// of a connection's status).
func (r *Runner) NetworkStatus(id string) agentwire.L2PopStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := agentwire.L2PopStatus{Broker: r.st.broker, Hosts: []agentwire.L2PopHost{}, State: agentwire.StateInSync}
	if _, ok := r.st.desired.Networks[id]; !ok {
		out.State, out.Reason = agentwire.StatePending, "no switch of the connection has reported a tunnel IP yet"
		return out
	}
	for _, host := range slices.Sorted(maps.Keys(r.st.desired.Hosts)) {
		need := r.st.desired.Hosts[host]
		if slices.Contains(need.Networks, id) {
			out.Hosts = append(out.Hosts, r.hostState(host, need, id))
		}
	}
	out.State = worst(out.Hosts)
	if len(out.Hosts) == 0 && !out.Broker.Connected {
		out.State, out.Reason = agentwire.StatePending, "not connected to RabbitMQ"
		if out.Broker.Error != "" {
			out.State, out.Reason = agentwire.StateError, "RabbitMQ unreachable: "+out.Broker.Error
		}
	}
	return out
}

// SystemStatus is the broker and every host l2pop sends to, each with its
// worst state over its connected networks.
func (r *Runner) SystemStatus() agentwire.L2PopSystem {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := agentwire.L2PopSystem{Broker: r.st.broker, Networks: len(r.st.desired.Networks), Hosts: []agentwire.L2PopHost{}}
	for _, host := range slices.Sorted(maps.Keys(r.st.desired.Hosts)) {
		need := r.st.desired.Hosts[host]
		var all []agentwire.L2PopHost
		for _, id := range need.Networks {
			all = append(all, r.hostState(host, need, id))
		}
		h := all[0]
		for _, x := range all[1:] {
			if rank(x.State) > rank(h.State) || (x.State == h.State && x.SentRevision < h.SentRevision) {
				h = x
			}
		}
		out.Hosts = append(out.Hosts, h)
	}
	return out
}

func rank(s string) int {
	switch s {
	case agentwire.StateError:
		return 2
	case agentwire.StatePending:
		return 1
	}
	return 0
}

func worst(hs []agentwire.L2PopHost) string {
	s := agentwire.StateInSync
	for _, h := range hs {
		if rank(h.State) > rank(s) {
			s = h.State
		}
	}
	return s
}

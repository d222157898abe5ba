package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// state is what the churn knows of an object from the answers it got.
type state int

const (
	absent  state = iota // never created, or deleted with a 2xx (or 404)
	present              // created with a 2xx and not deleted since
	unknown              // a write without an answer: it may or may not have taken effect
)

func (s state) String() string { return [...]string{"absent", "present", "unknown"}[s] }

// portRec is one port the churn created (or tried to), known by its unique
// name: a create without an answer has no id.
type portRec struct {
	name, id string
	st       state
	sent     time.Time // when the write that left it unknown was sent
}

// connKey is a connection the churn toggles: at most one per gateway and
// network.
type connKey struct{ gw, net string }

type connRec struct {
	key  connKey
	vlan int
	id   string
	st   state
	sent time.Time // when the write that left it unknown was sent
}

// lateCommit is how long after it was sent a write without an answer may
// still commit: a replica bounds a write's wait for its batch and the batch
// each by its database timeout (store.DefaultTimeout, the replicas'
// --db-timeout), and a write whose client went away is not undone. Until
// then, what the replicas show of it is no answer: the churn's pause
// cancels the requests in flight, and a write held up by a partition
// committed on replica B 3 s after its request, once the link was back
// and after the trial's check had found it absent (seed 1205, trial 65).
const lateCommit = 2*store.DefaultTimeout + time.Second

// ledger is the churn's record of every write and its answer: what must
// exist after a fault (every 2xx create not deleted since), what must not
// (every 2xx delete), and what may (writes without an answer, resolved from
// what the converged API shows).
type ledger struct {
	mu        sync.Mutex
	ports     map[string]*portRec
	conns     map[connKey]*connRec
	seq       int
	anomalies []string // answers that contradict the ledger: lost writes
	ok, fail  int      // writes answered 2xx, and not
	errs      []string // the first errors since takeErrors
}

// failed counts a write without a 2xx and keeps its error for the report.
// l.mu is held.
func (l *ledger) failed(what string, err error) {
	l.fail++
	if len(l.errs) < 3 {
		l.errs = append(l.errs, what+": "+err.Error())
	}
}

// takeErrors returns and clears the errors kept by failed.
func (l *ledger) takeErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.errs
	l.errs = nil
	return e
}

func newLedger() *ledger {
	return &ledger{ports: map[string]*portRec{}, conns: map[connKey]*connRec{}}
}

// churn drives API writes at a steady rate through both replicas.
type churn struct {
	l       *ledger
	clients [2]*client.Client // replica A, replica B; single URLs: no failover, every answer is recorded as given
	nets    []string          // network ids
	rate    float64           // writes per second
	rnd     *rand.Rand        // used by the churn goroutine only
}

// Port counts the churn keeps between.
const (
	minPorts = 20
	maxPorts = 50
)

// run writes until ctx is done.
func (c *churn) run(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cl := c.clients[c.rnd.IntN(2)]
		if c.rnd.IntN(10) == 0 {
			c.toggleConnection(ctx, cl)
		} else {
			c.portWrite(ctx, cl)
		}
	}
}

// write bounds one request: a replica that does not answer within it is
// an unknown outcome.
func write(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return f(ctx)
}

func (c *churn) portWrite(ctx context.Context, cl *client.Client) {
	l := c.l
	l.mu.Lock()
	live := 0
	var deletable []*portRec
	for _, p := range l.ports {
		if p.st != absent {
			live++
		}
		if p.st == present {
			deletable = append(deletable, p)
		}
	}
	create := live < minPorts || (live < maxPorts && c.rnd.IntN(2) == 0) || len(deletable) == 0
	var rec *portRec
	if create {
		l.seq++
		rec = &portRec{name: "f" + strconv.Itoa(l.seq), st: unknown}
		l.ports[rec.name] = rec
	} else {
		slices.SortFunc(deletable, func(a, b *portRec) int { return strings.Compare(a.name, b.name) })
		rec = deletable[c.rnd.IntN(len(deletable))]
		rec.st = unknown
	}
	rec.sent = time.Now()
	seq := l.seq
	l.mu.Unlock()

	if create {
		var got neutron.Port
		err := write(ctx, func(ctx context.Context) (err error) {
			got, err = cl.CreatePort(ctx, neutron.PortCreate{
				NetworkID: c.nets[c.rnd.IntN(len(c.nets))], Name: rec.name,
				MACAddress: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", seq>>16&0xff, seq>>8&0xff, seq&0xff),
				HostID:     hostNames[c.rnd.IntN(len(hostNames))],
			})
			return err
		})
		l.mu.Lock()
		defer l.mu.Unlock()
		if err == nil {
			rec.id, rec.st = got.ID, present
			l.ok++
		} else {
			l.failed("create port "+rec.name, err) // stays unknown
		}
		return
	}
	err := write(ctx, func(ctx context.Context) error { return cl.DeletePort(ctx, rec.id) })
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		rec.st = absent
		l.ok++
	case client.IsNotFound(err):
		// The port was created with a 2xx and never deleted since.
		rec.st = absent
		l.anomalies = append(l.anomalies, fmt.Sprintf("delete of port %s (%s) answered 404: the acknowledged create is lost", rec.name, rec.id))
	default:
		l.failed("delete port "+rec.name, err)
	}
}

func (c *churn) toggleConnection(ctx context.Context, cl *client.Client) {
	l := c.l
	l.mu.Lock()
	var cands []*connRec
	for _, r := range l.conns {
		if r.st != unknown {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		l.mu.Unlock()
		return
	}
	slices.SortFunc(cands, func(a, b *connRec) int { return strings.Compare(a.key.gw+a.key.net, b.key.gw+b.key.net) })
	r := cands[c.rnd.IntN(len(cands))]
	was := r.st
	r.st, r.sent = unknown, time.Now()
	l.mu.Unlock()

	if was == absent {
		var got neutron.Connection
		err := write(ctx, func(ctx context.Context) (err error) {
			got, err = cl.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: r.key.gw, NetworkID: r.key.net,
				SegmentationID: strconv.Itoa(r.vlan)})
			return err
		})
		l.mu.Lock()
		defer l.mu.Unlock()
		var ae *client.Error
		switch {
		case err == nil:
			r.id, r.st = got.ID, present
			l.ok++
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			l.anomalies = append(l.anomalies, fmt.Sprintf("create of connection %v answered 409 after an acknowledged delete: %v", r.key, err))
		default:
			l.failed(fmt.Sprintf("create connection %v", r.key), err)
		}
		return
	}
	err := write(ctx, func(ctx context.Context) error { return cl.DeleteConnection(ctx, r.id) })
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		r.st = absent
		l.ok++
	case client.IsNotFound(err):
		r.st = absent
		l.anomalies = append(l.anomalies, fmt.Sprintf("delete of connection %s answered 404: the acknowledged create is lost", r.id))
	default:
		l.failed("delete connection "+r.id, err)
	}
}

// apiDiff lists every replica's ports and connections and compares them
// with the ledger: a present object missing, an absent one shown, or an
// object the churn never wrote is a difference, and so is a disagreement
// between the replicas. With no difference, it returns a function that
// resolves the ledger's unknown objects to what the replicas show, those
// that can no longer commit (resolveUnknown).
func (l *ledger) apiDiff(ctx context.Context, clients [2]*client.Client) (diff []string, resolve func(), err error) {
	type view struct {
		ports map[string]string  // name -> id
		conns map[connKey]string // -> id
	}
	var views [2]view
	for i, cl := range clients {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ports, err := cl.ListPorts(ctx, client.ListOptions{Fields: []string{"id", "name"}})
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("replica %c: list ports: %w", 'A'+i, err)
		}
		conns, err := cl.ListConnections(ctx, client.ListOptions{})
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("replica %c: list connections: %w", 'A'+i, err)
		}
		v := view{ports: map[string]string{}, conns: map[connKey]string{}}
		for _, p := range ports {
			v.ports[p.Name] = p.ID
		}
		for _, c := range conns {
			v.conns[connKey{c.L2GatewayID, c.NetworkID}] = c.ID
		}
		views[i] = v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, v := range views {
		who := fmt.Sprintf("replica %c: ", 'A'+i)
		for name, id := range v.ports {
			if l.ports[name] == nil {
				diff = append(diff, fmt.Sprintf("%sport %s (%s) was never written", who, name, id))
			}
		}
		for _, p := range l.ports {
			id, shown := v.ports[p.name]
			switch {
			case p.st == present && !shown:
				diff = append(diff, fmt.Sprintf("%sport %s (%s) acknowledged but missing", who, p.name, p.id))
			case p.st == present && id != p.id:
				diff = append(diff, fmt.Sprintf("%sport %s is %s; acknowledged as %s", who, p.name, id, p.id))
			case p.st == absent && shown:
				diff = append(diff, fmt.Sprintf("%sport %s (%s) deleted but shown", who, p.name, id))
			case p.st == unknown && shown != (views[0].ports[p.name] != ""):
				diff = append(diff, fmt.Sprintf("%sport %s: the replicas disagree", who, p.name))
			}
		}
		for k, id := range v.conns {
			if l.conns[k] == nil {
				diff = append(diff, fmt.Sprintf("%sconnection %s (%v) was never written", who, id, k))
			}
		}
		for _, r := range l.conns {
			id, shown := v.conns[r.key]
			switch {
			case r.st == present && id != r.id:
				diff = append(diff, fmt.Sprintf("%sconnection %v is %q; acknowledged as %s", who, r.key, id, r.id))
			case r.st == absent && shown:
				diff = append(diff, fmt.Sprintf("%sconnection %v (%s) deleted but shown", who, r.key, id))
			case r.st == unknown && shown != (views[0].conns[r.key] != ""):
				diff = append(diff, fmt.Sprintf("%sconnection %v: the replicas disagree", who, r.key))
			}
		}
	}
	if len(diff) > 0 {
		return diff, nil, nil
	}
	return nil, func() { l.resolveUnknown(views[0].ports, views[0].conns, time.Now()) }, nil
}

// resolveUnknown sets the objects left unknown by writes sent at least
// lateCommit before now to what a replica shows (ports by name, connections
// by key, as read at now); the others stay unknown.
func (l *ledger) resolveUnknown(ports map[string]string, conns map[connKey]string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.ports {
		if p.st == unknown && now.Sub(p.sent) >= lateCommit {
			p.id, p.st = ports[p.name], present
			if p.id == "" {
				p.st = absent
			}
		}
	}
	for _, r := range l.conns {
		if r.st == unknown && now.Sub(r.sent) >= lateCommit {
			r.id, r.st = conns[r.key], present
			if r.id == "" {
				r.st = absent
			}
		}
	}
}

// takeAnomalies returns and clears the answers that contradicted the ledger.
func (l *ledger) takeAnomalies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.anomalies
	l.anomalies = nil
	return a
}

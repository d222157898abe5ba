package l2pop

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/l2gw/l2gw/internal/capool"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/store"
)

// Source is what the Runner reads: the whole inventory at a revision,
// and a channel closed at the next commit. store.Store satisfies it.
type Source interface {
	Snapshot(ctx context.Context) (store.Snapshot, error)
	Notify() <-chan struct{}
}

// Defaults of Config.
const (
	DefaultReassert = 5 * time.Minute
	DefaultSettle   = 30 * time.Second
	DefaultExchange = "neutron"
)

// Config configures a Runner. TransportURL is required; the zero value of
// every other field is the documented default.
type Config struct {
	// TransportURL is oslo.messaging's rabbit URL (ParseTransportURL).
	TransportURL string
	// CACert is a PEM file of the CAs that sign the brokers' certificates
	// when the URL asks for TLS (?ssl=1); empty means the system's roots.
	CACert string
	// TLS, when set, is the client TLS configuration (tests); it
	// overrides CACert.
	TLS *tls.Config
	// Exchange is oslo.messaging's control exchange, where host-targeted
	// casts go ([DEFAULT] control_exchange); empty means "neutron".
	Exchange string
	// Reassert is the period of the re-assert that publishes every entry
	// again (add_fdb_flow is idempotent on the agents); zero means
	// DefaultReassert, negative none.
	Reassert time.Duration
	// Settle is how long after a reconnect (not the first connection)
	// everything is published once
	// more: the agents reconnect to a restarted broker on their own
	// schedule (oslo's backoff up to 30 s) and their queues miss what was
	// sent before; zero means DefaultSettle, negative none.
	Settle time.Duration
	// BackoffMin and BackoffMax bound the jittered delay between attempts
	// while the broker is unreachable; zero means 100ms and 10s.
	BackoffMin, BackoffMax time.Duration
	// Logger receives connects, failures (Info/Warn) and casts (Debug);
	// nil discards. The password never appears in what is logged.
	Logger *slog.Logger
	// Now is the clock of the casts' timestamps and the status; nil means
	// time.Now.
	Now func() time.Time
	// Registerer receives the metrics (l2gw_l2pop_*, and the passes in
	// l2gw_reconcile_* as component "l2pop"); nil: not registered.
	Registerer prometheus.Registerer
}

// Runner publishes what Compute wants to the compute hosts' agents.
type Runner struct {
	src  Source
	cfg  Config
	url  TransportURL
	tls  *tls.Config
	log  *slog.Logger
	loop *reconcile.Loop
	m    *runnerMetrics

	// Owned by the pass (one at a time).
	pub      *publisher
	next     int                       // broker to try first
	sent     map[string]NetworkEntries // what the agents hold from us, by network
	hostSeen map[string]hostRecord
	settleAt time.Time
	// connected is set once a first connection was made: later ones are
	// reconnects, after which the agents may still be reconnecting too.
	connected bool
	// settling is set while a settle re-assert is due (tests wait on it).
	settling atomic.Bool
	wg       sync.WaitGroup // connection watchers

	mu sync.Mutex
	st status
}

// hostRecord is what the Runner last saw of a host, to tell a new ACTIVE
// port or an agent restart.
type hostRecord struct {
	Active    map[string]string // port id -> network id
	StartedAt time.Time
	Problem   string
}

// New checks cfg and returns a Runner; Run runs it.
func New(src Source, cfg Config) (*Runner, error) {
	u, err := ParseTransportURL(cfg.TransportURL)
	if err != nil {
		return nil, err
	}
	if cfg.Exchange == "" {
		cfg.Exchange = DefaultExchange
	}
	if cfg.Reassert == 0 {
		cfg.Reassert = DefaultReassert
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Runner{src: src, cfg: cfg, url: u, tls: cfg.TLS, log: cfg.Logger.With("component", "l2pop"),
		sent: map[string]NetworkEntries{}, hostSeen: map[string]hostRecord{}}
	if r.tls == nil && cfg.CACert != "" {
		pool, err := capool.Load(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("transport CA certificate: %w", err)
		}
		r.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	r.st = newStatus(u.String())
	r.m = newRunnerMetrics(cfg.Registerer)
	r.loop = reconcile.NewLoop(reconcile.LoopConfig{BackoffMin: cfg.BackoffMin, BackoffMax: cfg.BackoffMax, Resync: max(cfg.Reassert, 0),
		Metrics: metrics.NewReconcile(cfg.Registerer, "l2pop")})
	return r, nil
}

// URL is the transport URL without its passwords.
func (r *Runner) URL() string { return r.url.String() }

// Run publishes until ctx is done: on every commit of the source, after
// every (re)connect, and every Reassert. It returns nil when ctx ends,
// once every goroutine it started has stopped.
func (r *Runner) Run(ctx context.Context) error {
	r.log.Info("l2pop starting", "transport_url", r.url.String(), "reassert", r.cfg.Reassert)
	var wg sync.WaitGroup
	wg.Go(func() {
		ch := r.src.Notify()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				// The next channel first: a commit from now on closes it,
				// and the pass this trigger runs reads what came before.
				ch = r.src.Notify()
				r.loop.Trigger()
			}
		}
	})
	r.loop.Trigger()
	r.loop.Run(ctx, r.pass)
	wg.Wait()
	if r.pub != nil {
		r.pub.close()
		r.pub = nil
	}
	r.wg.Wait()
	return nil
}

// pass computes what the agents need, reconnects when needed and
// publishes the difference to what they hold.
func (r *Runner) pass(ctx context.Context, resync bool) reconcile.Outcome {
	snap, err := r.src.Snapshot(ctx)
	if err != nil {
		return reconcile.Outcome{Err: fmt.Errorf("l2pop: read the inventory: %w", err)}
	}
	d := Compute(snap.Inventory)
	r.setDesired(snap.Revision, d)
	full := resync
	if r.pub != nil && r.pub.closed() {
		r.log.Warn("l2pop: connection to the broker lost", "broker", r.pub.broker)
		r.pub.close()
		r.pub = nil
	}
	if r.pub == nil {
		p, n, err := dial(ctx, r.url, r.tls, r.cfg.Exchange, r.next)
		if err != nil {
			if ctx.Err() != nil {
				return reconcile.Outcome{}
			}
			r.setBroker("", err)
			r.log.Warn("l2pop: broker unreachable", "transport_url", r.url.String(), "err", err)
			return reconcile.Outcome{Err: err}
		}
		r.pub, r.next = p, n
		r.watch(ctx, p)
		r.setBroker(p.broker, nil)
		r.log.Info("l2pop: connected to the broker", "broker", p.broker)
		full = true // a new connection: re-assert everything
		if r.cfg.Settle > 0 && r.connected {
			r.settleAt = r.cfg.Now().Add(r.cfg.Settle)
		}
		r.connected = true
	}
	if !r.settleAt.IsZero() && !r.cfg.Now().Before(r.settleAt) {
		full, r.settleAt = true, time.Time{}
	}
	casts, netsSent, hostNets, err := r.plan(d, full)
	if err != nil {
		return reconcile.Outcome{Err: err}
	}
	if len(casts) > 0 {
		if err := r.pub.publish(ctx, casts); err != nil {
			if ctx.Err() != nil {
				return reconcile.Outcome{}
			}
			r.pub.close()
			r.pub = nil
			r.setBroker("", err)
			return reconcile.Outcome{Err: fmt.Errorf("l2pop: %w", err)}
		}
		r.m.sent(casts)
		r.log.Debug("l2pop: published", "casts", len(casts), "revision", snap.Revision, "full", full)
	}
	r.sent = d.Networks
	for name, need := range d.Hosts {
		// A host l2pop cannot reach is an operator's problem (an agent
		// without l2_population, an OVN host): say so once, when it starts.
		switch last, seen := r.hostSeen[name]; {
		case need.Problem != "" && (!seen || last.Problem != need.Problem):
			r.log.Warn("l2pop cannot reach a host running ports of a connected network", "host", name, "reason", need.Problem)
		case need.Problem == "" && seen && last.Problem != "":
			r.log.Info("l2pop reaches the host again", "host", name)
		}
		r.hostSeen[name] = record(need)
	}
	for name := range r.hostSeen {
		if _, ok := d.Hosts[name]; !ok {
			delete(r.hostSeen, name)
		}
	}
	r.recordSent(snap.Revision, netsSent, hostNets)
	r.settling.Store(!r.settleAt.IsZero())
	out := reconcile.Outcome{Changed: len(casts) > 0}
	if !r.settleAt.IsZero() {
		out.After = max(r.settleAt.Sub(r.cfg.Now()), time.Millisecond)
	}
	return out
}

// watch triggers a pass when p's connection closes, so that the Runner
// reconnects (after its backoff) rather than at its next commit.
func (r *Runner) watch(ctx context.Context, p *publisher) {
	closed := p.conn.NotifyClose(make(chan *amqp.Error, 1))
	gen := r.generation()
	r.wg.Go(func() {
		select {
		case <-ctx.Done():
		case err, ok := <-closed:
			if ok && err != nil {
				r.setLost(gen, err)
			}
			r.loop.Trigger()
		}
	})
}

// plan returns the casts that bring the agents from r.sent (and what they
// saw of the hosts) to d: removes first, per network, then adds (all of d
// when full), then the host-targeted re-sends. It also returns the
// networks the fanout carries whole and, per host, the networks a
// targeted cast carries.
func (r *Runner) plan(d Desired, full bool) ([]cast, []string, map[string][]string, error) {
	now := r.cfg.Now()
	var casts []cast
	add := func(host, method string, fdb FDB) error {
		b, err := castBody(method, fdb, now)
		if err != nil {
			return err
		}
		casts = append(casts, cast{Host: host, Method: method, Body: b})
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(r.sent)) {
		gone := minus(r.sent[id], d.Networks[id])
		if len(gone.Ports) > 0 {
			if err := add("", MethodRemove, FDB{id: gone}); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	var whole []string
	for _, id := range slices.Sorted(maps.Keys(d.Networks)) {
		want := d.Networks[id]
		if !full {
			want = minus(want, r.sent[id])
		}
		if len(want.Ports) > 0 {
			if err := add("", MethodAdd, FDB{id: want}); err != nil {
				return nil, nil, nil, err
			}
		}
		if _, had := r.sent[id]; full || !had || len(want.Ports) > 0 {
			whole = append(whole, id)
		}
	}
	hostNets := map[string][]string{}
	if full {
		return casts, whole, hostNets, nil // the fanout reaches every host
	}
	for _, name := range slices.Sorted(maps.Keys(d.Hosts)) {
		need := d.Hosts[name]
		if need.Problem != "" {
			continue
		}
		nets := r.targeted(name, need)
		if len(nets) == 0 {
			continue
		}
		fdb := FDB{}
		for _, id := range nets {
			fdb[id] = d.Networks[id]
		}
		if err := add(name, MethodAdd, fdb); err != nil {
			return nil, nil, nil, err
		}
		hostNets[name] = nets
	}
	return casts, whole, hostNets, nil
}

// targeted returns the networks host name needs a targeted re-send of:
// those of ports newly ACTIVE there (the agent installs entries only for
// networks with a local port, and may have ignored the fanout before it
// had one), and all networks of its ACTIVE ports when its agent restarted
// (its tunnel flows are gone) or became reachable. Networks new to the
// fanout are left out: the fanout of this pass carries them whole.
func (r *Runner) targeted(name string, need HostNeed) []string {
	last, seen := r.hostSeen[name]
	all := !seen || last.Problem != "" || !last.StartedAt.Equal(need.StartedAt)
	var out []string
	for _, a := range need.Active {
		if _, had := last.Active[a.Port]; !all && had {
			continue
		}
		if _, old := r.sent[a.Network]; !old {
			continue
		}
		if !slices.Contains(out, a.Network) {
			out = append(out, a.Network)
		}
	}
	slices.Sort(out)
	return out
}

func record(need HostNeed) hostRecord {
	h := hostRecord{Active: map[string]string{}, StartedAt: need.StartedAt, Problem: need.Problem}
	for _, a := range need.Active {
		h.Active[a.Port] = a.Network
	}
	return h
}

// minus returns the entries of a that b lacks.
func minus(a, b NetworkEntries) NetworkEntries {
	out := NetworkEntries{VNI: a.VNI, Ports: map[string][]Entry{}}
	for ip, es := range a.Ports {
		for _, e := range es {
			if !slices.Contains(b.Ports[ip], e) || (b.VNI != a.VNI) {
				out.Ports[ip] = append(out.Ports[ip], e)
			}
		}
	}
	return out
}

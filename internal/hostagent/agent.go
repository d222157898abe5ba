package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netns"

	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/reconcile"
)

// Registrar records the host and its VTEP IP (the agent calls
// RegisterHost at start and then periodically as a heartbeat) and what the
// agent realised (SetHostStatus, after every reconcile that changed it,
// and again whenever the plan stream reopens: the server forgets an
// agent's status when its stream ends). store.Store and agentlink.Link
// implement it.
type Registrar interface {
	RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error)
	SetHostStatus(ctx context.Context, s model.HostStatus) error
}

// Config configures an Agent. Zero durations take the documented defaults.
type Config struct {
	// Host is the host's name, as in ports' binding:host_id. Required.
	Host string
	// VTEPIP is the IPv4 address the host's VXLAN tunnels use. Required.
	VTEPIP string
	// NetNS is the network namespace to realise the plan in: a name under
	// /run/netns or an absolute path. Empty: the agent's own namespace.
	NetNS string
	// Logger receives the agent's logs; nil discards.
	Logger *slog.Logger
	// ResyncInterval is the period of the full reconcile that catches
	// changes no event reported. Default 1m; negative disables it.
	ResyncInterval time.Duration
	// HeartbeatInterval is the period of RegisterHost calls. Default 30s.
	HeartbeatInterval time.Duration
	// BackoffMin and BackoffMax bound the capped exponential backoff of
	// failed reconciles, plan watches, registrations and link subscriptions.
	// Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// DefaultMTU is the MTU of networks whose plan has none; 0: DefaultMTU.
	DefaultMTU int
	// Registerer receives the agent's metrics (internal/metrics' reconcile
	// metrics, component "hostagent"). Nil: not registered.
	Registerer prometheus.Registerer
	// Leases, when set, makes the agent hold the host's lease (package
	// lease) to act: a second agent for the same host is refused by the
	// server and stands by, touching nothing and registering nothing,
	// until the first one's lease lapses (it died) and it takes over.
	// Nil: the agent acts alone.
	Leases lease.Client
	// LeasePeriod is the lease's duration; default lease.DefaultPeriod.
	LeasePeriod time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ResyncInterval, time.Minute)
	def(&c.HeartbeatInterval, 30*time.Second)
	def(&c.BackoffMin, 100*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
}

// Status is a snapshot of what the agent has done.
type Status struct {
	// Registered is true once RegisterHost has succeeded.
	Registered bool
	// LastHeartbeat is the time of the last successful RegisterHost.
	LastHeartbeat time.Time
	// HavePlan is true once a plan has been received.
	HavePlan bool
	// AppliedRevision is the revision of the last plan realised without error.
	AppliedRevision int64
	// LastError is the error of the last reconcile, empty after a success.
	LastError string
	// MissingInterfaces are plan interfaces that do not exist (yet).
	MissingInterfaces []string
	// Networks is what the agent last reported to the server.
	Networks []model.HostNetworkStatus
}

// Agent keeps a host's kernel state equal to its plan: it registers the
// host, watches its plan and reconciles on every plan update, on link events
// of our devices and planned interfaces, and periodically.
type Agent struct {
	cfg   Config
	vtep  net.IP
	plans planstream.HostSource
	reg   Registrar
	log   *slog.Logger
	loop  *reconcile.Loop
	// statuses hands the status to its sender: a slow server does not
	// hold up a reconcile.
	statuses *reconcile.Mailbox[model.HostStatus]
	// el is the host's election (nil without Config.Leases).
	el *lease.Elector

	mu     sync.Mutex
	pend   *planstream.Pending[planner.HostPlan, planner.HostDelta]
	plan   *planstream.Base[planner.HostPlan] // the worker's plan (under mu)
	wanted map[string]bool                    // planned interface names
	status Status
	// realisedAt is, by network id of the plan, the plan revision at which
	// the network was last realised without error of its own or of the
	// whole host (the worker's, under mu).
	realisedAt map[string]int64
	// lastSync is the time of the last reconcile without error; lastSent
	// the status last put in the mailbox (sent: there is one).
	lastSync time.Time
	lastSent model.HostStatus
	sent     bool
}

// Validate checks the configuration (after applying defaults).
func (c Config) Validate() error {
	c.setDefaults()
	if c.Host == "" {
		return errors.New("host agent: host name required")
	}
	if net.ParseIP(c.VTEPIP).To4() == nil {
		return fmt.Errorf("host agent: vtep ip %q: not an IPv4 address", c.VTEPIP)
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("host agent: backoff %v..%v: invalid", c.BackoffMin, c.BackoffMax)
	}
	if c.HeartbeatInterval < 0 {
		return fmt.Errorf("host agent: heartbeat interval %v: negative", c.HeartbeatInterval)
	}
	if c.DefaultMTU < 0 || (c.DefaultMTU > 0 && c.DefaultMTU < 68) {
		return fmt.Errorf("host agent: default mtu %d: too small", c.DefaultMTU)
	}
	return nil
}

// New returns an agent; Run starts it.
func New(cfg Config, plans planstream.HostSource, reg Registrar) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if plans == nil || reg == nil {
		return nil, errors.New("host agent: plans and registrar required")
	}
	vtep := net.ParseIP(cfg.VTEPIP).To4()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("host", cfg.Host)
	loop := reconcile.NewLoop(reconcile.LoopConfig{
		BackoffMin: cfg.BackoffMin, BackoffMax: cfg.BackoffMax, Resync: cfg.ResyncInterval,
		Metrics: metrics.NewReconcile(cfg.Registerer, "hostagent"),
	})
	a := &Agent{cfg: cfg, vtep: vtep, plans: plans, reg: reg, log: log, loop: loop,
		statuses:   reconcile.NewMailbox[model.HostStatus](),
		realisedAt: map[string]int64{},
		pend:       planstream.NewPending(planstream.Host, planstream.Limits{})}
	if cfg.Leases != nil {
		a.el = lease.New(cfg.Leases, cfg.Host, lease.Config{Period: cfg.LeasePeriod, Logger: log, Changed: a.enqueue, StandbyLevel: slog.LevelWarn})
	}
	return a, nil
}

// acting reports whether the agent may touch the host now: it holds the
// host's lease, or runs without leases.
func (a *Agent) acting() bool {
	if a.el == nil {
		return true
	}
	_, ok := a.el.Held()
	return ok
}

// Status returns a snapshot of the agent's progress.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	s.MissingInterfaces = slices.Clone(s.MissingInterfaces)
	s.Networks = slices.Clone(s.Networks)
	return s
}

// Run registers the host and keeps its kernel state equal to its plan until
// ctx is done; it then returns nil, leaving the kernel state in place (a
// restarted agent takes it over without dropping traffic). Until the first
// plan arrives nothing is changed. It returns an error when it cannot start
// (namespace or netlink unavailable) and when the server refuses the
// registration for good (model.ErrConflict: the host is recorded with
// another VTEP IP); the error then carries the server's message, which says
// how to resolve it.
func (a *Agent) Run(ctx context.Context) error {
	r, closeNS, err := openRealiser(a.cfg.NetNS, RealiserConfig{VTEPIP: a.vtep, DefaultMTU: a.cfg.DefaultMTU, Logger: a.log})
	if err != nil {
		return err
	}
	defer closeNS()
	defer r.Close()
	a.log.Info("host agent started", "vtep_ip", a.vtep.String(), "netns", a.cfg.NetNS,
		"resync_interval", a.cfg.ResyncInterval, "heartbeat_interval", a.cfg.HeartbeatInterval)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var refused error // set by the heartbeat goroutine before cancel; read after wg.Wait
	if a.el != nil {
		wg.Go(func() { a.el.Run(ctx) })
	}
	wg.Go(func() {
		if refused = a.heartbeat(ctx); refused != nil {
			cancel()
		}
	})
	wg.Go(func() {
		cfg := planstream.FollowConfig{BackoffMin: a.cfg.BackoffMin, BackoffMax: a.cfg.BackoffMax, Logger: a.log,
			Opened: a.statuses.Resend}
		planstream.Follow(ctx, a.plans, a.cfg.Host, cfg, a.takeEvent)
	})
	wg.Go(func() {
		mcfg := reconcile.MailboxConfig{BackoffMin: a.cfg.BackoffMin, BackoffMax: a.cfg.BackoffMax}
		a.statuses.Run(ctx, mcfg, func(ctx context.Context, s model.HostStatus) error {
			if err := a.reg.SetHostStatus(ctx, s); err != nil {
				a.log.Warn("status not reported", "err", err)
				return err
			}
			return nil
		})
	})
	wg.Go(func() { a.watchLinks(ctx, r) })
	a.loop.Run(ctx, func(ctx context.Context, _ bool) reconcile.Outcome { return a.realise(ctx, r) })
	cancel()
	wg.Wait()
	if refused != nil {
		return refused
	}
	a.log.Info("host agent stopped")
	return nil
}

// Cleanup removes every device and FDB entry the host agent owns in the
// configured namespace (see the package comment).
func (a *Agent) Cleanup(ctx context.Context) error {
	return Cleanup(ctx, a.cfg.NetNS, a.log)
}

// Cleanup removes every device and FDB entry the host agent owns in the
// network namespace netNS (a name under /run/netns, an absolute path, or
// empty for the caller's namespace). logger may be nil.
func Cleanup(ctx context.Context, netNS string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r, closeNS, err := openRealiser(netNS, RealiserConfig{Logger: logger})
	if err != nil {
		return err
	}
	defer closeNS()
	defer r.Close()
	if err := r.Cleanup(ctx); err != nil {
		return fmt.Errorf("clean up host agent state: %w", err)
	}
	logger.Info("host agent state removed", "netns", netNS)
	return nil
}

// openRealiser returns a Realiser in the namespace netNS and a function that
// closes the namespace handle.
func openRealiser(netNS string, cfg RealiserConfig) (*Realiser, func(), error) {
	ns := netns.None()
	if netNS != "" {
		var err error
		if filepath.IsAbs(netNS) {
			ns, err = netns.GetFromPath(netNS)
		} else {
			ns, err = netns.GetFromName(netNS)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("open netns %s: %w", netNS, err)
		}
	}
	closeNS := func() {
		if ns.IsOpen() {
			ns.Close()
		}
	}
	r, err := NewRealiser(ns, cfg)
	if err != nil {
		closeNS()
		return nil, nil, fmt.Errorf("host agent: %w", err)
	}
	return r, closeNS, nil
}

// enqueue asks for a reconcile; requests coalesce while one is pending.
func (a *Agent) enqueue() { a.loop.Trigger() }

// takeEvent hands a plan event to the worker.
func (a *Agent) takeEvent(ev planner.HostEvent) {
	a.mu.Lock()
	a.pend.Add(ev)
	a.mu.Unlock()
	a.enqueue()
}

// currentPlan folds the events received since the last pass into the
// worker's plan and returns it (false before the first plan).
func (a *Agent) currentPlan() (*planstream.Base[planner.HostPlan], bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	base, deltas := a.pend.Take()
	if base == nil {
		return nil, false
	}
	a.pend.Fold(base, deltas)
	if base != a.plan || len(deltas) > 0 {
		a.plan = base
		a.wanted = map[string]bool{}
		for _, n := range base.Plan.Networks {
			for _, ifc := range n.Interfaces {
				a.wanted[ifc] = true
			}
		}
	}
	a.status.HavePlan = true
	return base, true
}

// interesting reports whether a link event may need a reconcile: it is
// about one of our devices or a planned interface.
func (a *Agent) interesting(name string) bool {
	if _, _, ok := parseOwned(name); ok {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wanted[name]
}

// realise is one pass of the reconcile loop: the kernel made equal to the
// current plan (nothing is touched before the first plan arrives).
func (a *Agent) realise(ctx context.Context, r *Realiser) reconcile.Outcome {
	if !a.acting() {
		return reconcile.Outcome{}
	}
	u, ok := a.currentPlan()
	if !ok {
		return reconcile.Outcome{}
	}
	start := time.Now()
	res, err := r.Realise(ctx, *u.Plan)
	if ctx.Err() != nil {
		return reconcile.Outcome{}
	}
	a.mu.Lock()
	lastMissing := a.status.MissingInterfaces
	a.status.MissingInterfaces = res.MissingInterfaces
	if err != nil {
		a.status.LastError = err.Error()
	} else {
		a.status.LastError = ""
		a.status.AppliedRevision = u.Revision
		a.lastSync = time.Now()
	}
	for id := range a.realisedAt {
		if _, planned := u.Plan.Networks[id]; !planned {
			delete(a.realisedAt, id)
		}
	}
	if res.HostError == nil {
		for id := range u.Plan.Networks {
			if res.NetworkErrors[id] == nil {
				a.realisedAt[id] = u.Revision
			}
		}
	}
	nets := networkStatus(*u.Plan, res, a.realisedAt)
	changed := !a.sent || a.status.LastError != a.lastSent.Error || a.status.AppliedRevision != a.lastSent.Revision ||
		!slices.EqualFunc(nets, a.lastSent.Networks, equalNetworkStatus)
	a.status.Networks = nets
	st := model.HostStatus{Name: a.cfg.Host, Connected: true, LastSync: a.lastSync, Revision: a.status.AppliedRevision,
		Error: a.status.LastError, Networks: nets}
	if changed {
		a.sent, a.lastSent = true, st
	}
	a.mu.Unlock()
	if changed {
		a.statuses.Put(st)
	}
	if !slices.Equal(lastMissing, res.MissingInterfaces) && len(res.MissingInterfaces) > 0 {
		a.log.Info("waiting for interfaces", "interfaces", res.MissingInterfaces)
	}
	switch {
	case err != nil:
		a.log.Warn("reconcile failed", "revision", u.Revision, "changes", res.Changes, "error", err)
	case res.Changes > 0:
		a.log.Info("plan realised", "revision", u.Revision, "changes", res.Changes,
			"networks", len(u.Plan.Networks), "duration", time.Since(start))
	default:
		a.log.Debug("plan already realised", "revision", u.Revision)
	}
	return reconcile.Outcome{Changed: res.Changes > 0, Err: err}
}

// networkStatus is what the agent reports of each network of plan after a
// reconcile with result res: the interfaces attached to the network's
// bridge and the planned ones that do not exist, the revision at which the
// network was last realised (realisedAt) and why the reconcile did not
// realise it (its own error, or the host's).
func networkStatus(plan planner.HostPlan, res Result, realisedAt map[string]int64) []model.HostNetworkStatus {
	ids := make([]string, 0, len(plan.Networks))
	for id := range plan.Networks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]model.HostNetworkStatus, 0, len(ids))
	for _, id := range ids {
		n := model.HostNetworkStatus{NetworkID: id, Attached: res.Attached[id], Revision: realisedAt[id]}
		switch {
		case res.HostError != nil:
			n.Error = res.HostError.Error()
		case res.NetworkErrors[id] != nil:
			n.Error = res.NetworkErrors[id].Error()
		}
		for _, ifc := range plan.Networks[id].Interfaces {
			if slices.Contains(res.MissingInterfaces, ifc) {
				n.Missing = append(n.Missing, ifc)
			}
		}
		slices.Sort(n.Missing)
		out = append(out, n)
	}
	return out
}

func equalNetworkStatus(a, b model.HostNetworkStatus) bool {
	return a.NetworkID == b.NetworkID && slices.Equal(a.Attached, b.Attached) && slices.Equal(a.Missing, b.Missing) &&
		a.Revision == b.Revision && a.Error == b.Error
}

// heartbeat registers the host now and every HeartbeatInterval, retrying
// failures with backoff, until ctx is done (nil) or the server refuses the
// registration with a conflict (the error, for Run to return): retrying
// cannot help, and an agent that keeps running with a VTEP IP the server
// does not know would program nothing the switches send to.
func (a *Agent) heartbeat(ctx context.Context) error {
	bo := reconcile.Backoff{Min: a.cfg.BackoffMin, Max: min(a.cfg.BackoffMax, a.cfg.HeartbeatInterval)}
	failing := false
	for {
		if !a.acting() {
			// A standby registers nothing: the host is the holder's.
			if !reconcile.Sleep(ctx, min(a.cfg.HeartbeatInterval, 200*time.Millisecond)) {
				return nil
			}
			continue
		}
		now := time.Now()
		_, err := a.reg.RegisterHost(ctx, a.cfg.Host, a.vtep.String(), now)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, model.ErrConflict) {
			return fmt.Errorf("host agent: registration of %s with VTEP IP %s refused: %w", a.cfg.Host, a.vtep, err)
		}
		wait := a.cfg.HeartbeatInterval
		if err != nil {
			wait = bo.Next()
			if !failing {
				a.log.Warn("host registration failed", "retry_in", wait, "error", err)
			} else {
				a.log.Debug("host registration failed", "retry_in", wait, "error", err)
			}
			failing = true
		} else {
			bo.Reset()
			a.mu.Lock()
			first := !a.status.Registered
			a.status.Registered = true
			a.status.LastHeartbeat = now
			a.mu.Unlock()
			if first || failing {
				a.log.Info("host registered", "vtep_ip", a.vtep.String())
			}
			failing = false
		}
		if !reconcile.Sleep(ctx, wait) {
			return nil
		}
	}
}

// watchLinks enqueues a reconcile on link events of our devices and planned
// interfaces (a tap appearing, a device deleted by hand), resubscribing with
// backoff when the subscription breaks.
func (a *Agent) watchLinks(ctx context.Context, r *Realiser) {
	bo := reconcile.Backoff{Min: a.cfg.BackoffMin, Max: a.cfg.BackoffMax}
	for {
		start := time.Now()
		err := r.WatchLinks(ctx, func(name string) {
			if a.interesting(name) {
				a.enqueue()
			}
		})
		if ctx.Err() != nil {
			return
		}
		a.enqueue() // events may have been missed
		if time.Since(start) > a.cfg.BackoffMax {
			bo.Reset() // it worked for a while: not a failure streak
		}
		d := bo.Next()
		a.log.Warn("link events lost", "retry_in", d, "error", err)
		if !reconcile.Sleep(ctx, d) {
			return
		}
	}
}

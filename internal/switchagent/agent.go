package switchagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	ovsmodel "github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// workerPlan is the plan the worker realises: a whole plan from the
// watch (its generation tells a new one from the last) with the deltas
// received since applied in place.
type workerPlan = planstream.Base[planner.SwitchPlan]

// Reporter receives what the agent learns, for each served switch on its
// own (the report and status name it): the switch inventory with its
// local MACs (only when it changed) and the session/sync status. Its calls
// run in the agent's own sender goroutines (each switch has its own),
// never in a reconcile pass: a slow or unreachable server does not hold up
// the switches.
type Reporter interface {
	ReportSwitch(ctx context.Context, r model.SwitchReport) error
	SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error
}

// Config configures an Agent. Zero durations take the documented defaults.
type Config struct {
	// Target is the switch's OVSDB endpoint: "tcp:HOST:PORT",
	// "ssl:HOST:PORT" (with TLS) or "unix:PATH". Required.
	Target string
	// TLS is the client TLS configuration of ssl: targets.
	TLS *tls.Config
	// Switch is the Physical_Switch name served. Empty: every switch the
	// database holds, each reported, programmed and shown on its own (see
	// share.go for the rows they share); switches that join or leave the
	// database are served or dropped as they do.
	Switch string
	// Owner is the other_config:l2gw-owner value marking our logical
	// switches (see the package doc); empty means DefaultOwner.
	Owner string
	// Logger receives the agent's logs (and libovsdb's, at debug levels);
	// nil discards.
	Logger *slog.Logger
	// ProbeInterval is the echo probe period: a session whose echo is not
	// answered within it is closed and redialled. Default 5s; negative
	// disables probes.
	ProbeInterval time.Duration
	// ConnectTimeout bounds a dial plus the initial monitor. Default 10s.
	ConnectTimeout time.Duration
	// BackoffMin and BackoffMax bound the capped exponential backoff of
	// redials, plan watches and failed reconciles. Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// AuditInterval is the period of the full reconcile that catches missed
	// events. Default 1m; negative disables it.
	AuditInterval time.Duration
	// ReportDebounce is the minimum spacing of two ReportSwitch calls; the
	// latest state is always reported eventually. Default 100ms.
	ReportDebounce time.Duration
	// Registerer receives the agent's metrics (metrics.go); agents sharing
	// one share the metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Leases, when set, makes the agent take part in the election of each
	// served switch (package lease): it programs, reports and shows a
	// switch only while it holds the switch's lease, and fences every
	// transaction with the lease's epoch (fence.go); otherwise it stands
	// by, its session and cache kept up. Nil: the agent programs every
	// served switch alone.
	Leases lease.Client
	// LeasePeriod is the duration of a lease; default lease.DefaultPeriod.
	LeasePeriod time.Duration
	// AgentName is the agent's name written beside the epoch into the
	// switch (other_config:l2gw-agent).
	AgentName string
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ProbeInterval, 5*time.Second)
	def(&c.ConnectTimeout, 10*time.Second)
	def(&c.BackoffMin, 100*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	def(&c.AuditInterval, time.Minute)
	def(&c.ReportDebounce, 100*time.Millisecond)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.Owner == "" {
		c.Owner = DefaultOwner
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Agent realises the plans of the hardware_vtep switches of one database
// and reports them: every Physical_Switch it holds, or the one named by
// Config.Switch.
type Agent struct {
	cfg     Config
	plans   planstream.SwitchSource
	rep     Reporter
	log     *slog.Logger
	rlog    *rateLog // lines a loop repeats
	logr    logr.Logger
	dbModel ovsmodel.ClientDBModel

	loop       *reconcile.Loop
	cacheEvent chan struct{} // any cache event (for waiting on our own writes)

	m   *agentMetrics
	mem *memRelease // after bulk transactions (release.go)

	sessions uint64 // sessions dialled (sessionLoop only; see session.gen)

	// switchWG counts the served switches' goroutines (serve).
	switchWG sync.WaitGroup

	mu      sync.Mutex
	sess    *session
	connErr string
	// switches are the served switches by Physical_Switch name: the
	// configured one, or those discovered in the database. leaving are
	// the switches no longer served whose goroutines have not finished.
	switches map[string]*served
	leaving  map[string]*served
	running  bool
}

// served is one Physical_Switch the agent serves: its plan watch, its
// report and status senders and the worker's state of it.
type served struct {
	name     string
	reports  *reconcile.Mailbox[model.SwitchReport]
	statuses *reconcile.Mailbox[model.SwitchStatus]
	cancel   context.CancelFunc // stops its goroutines
	done     chan struct{}      // closed when they have finished
	// latestReport is the last report put; reported is set once one was
	// delivered. The status sender delivers the report first while none
	// was: the server must never show a switch connected before it knows
	// its ports (the two senders are otherwise independent).
	latestReport atomic.Pointer[model.SwitchReport]
	reported     atomic.Bool

	// Under Agent.mu: pend holds the latest whole plan and the deltas
	// received after it; the worker applies the deltas it takes to the
	// plan under mu too, since pend may copy the plan
	// (planstream.Pending). final is the status sent once its goroutines
	// stopped.
	pend  *planstream.Pending[planner.SwitchPlan, planner.SwitchDelta]
	final *model.SwitchStatus

	// el is the switch's election (nil without Config.Leases).
	el *lease.Elector

	w workerState // owned by the worker goroutine
}

// workerState is touched only by the worker goroutine.
type workerState struct {
	lastReport   *model.SwitchReport // last put in the report mailbox
	lastStatus   *model.SwitchStatus // last put in the status mailbox
	lastStatusAt time.Time
	appliedRev   int64
	lastSync     time.Time
	inc          incState
	plan         *workerPlan // the pending base, deltas applied in place
	// term is the epoch of the lease the agent programs the switch
	// under (0: standing by); claimed is set once the switch carries it.
	term    int64
	claimed bool
}

// New returns an Agent; it does nothing until Run.
func New(cfg Config, plans planstream.SwitchSource, rep Reporter) (*Agent, error) {
	cfg.setDefaults()
	if plans == nil || rep == nil {
		return nil, errors.New("switch agent: plans and reporter are required")
	}
	if !strings.HasPrefix(cfg.Target, "tcp:") && !strings.HasPrefix(cfg.Target, "ssl:") && !strings.HasPrefix(cfg.Target, "unix:") {
		return nil, fmt.Errorf("switch agent: target %q: want tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", cfg.Target)
	}
	if strings.HasPrefix(cfg.Target, "ssl:") && cfg.TLS == nil {
		return nil, fmt.Errorf("switch agent: target %q needs a TLS config", cfg.Target)
	}
	dbModel, err := vtep.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("switch agent: hardware_vtep model: %w", err)
	}
	log := cfg.Logger.With("target", cfg.Target)
	a := &Agent{
		cfg: cfg, plans: plans, rep: rep,
		log:        log,
		rlog:       newRateLog(log, repeatInterval),
		logr:       logr.FromSlogHandler(cfg.Logger.Handler()).WithName("libovsdb"),
		dbModel:    dbModel,
		cacheEvent: make(chan struct{}, 1),
		switches:   map[string]*served{},
		leaving:    map[string]*served{},
		m:          newAgentMetrics(cfg.Registerer),
	}
	a.loop = reconcile.NewLoop(reconcile.LoopConfig{
		BackoffMin: cfg.BackoffMin, BackoffMax: cfg.BackoffMax, Resync: cfg.AuditInterval,
		Metrics: a.m.rec, QueueDepth: a.queued,
	})
	a.mem = newMemRelease(releaseInterval, debug.FreeOSMemory, a.m.released.Inc)
	return a, nil
}

// enqueue asks the worker for a reconcile pass. Not under a.mu.
func (a *Agent) enqueue() { a.loop.Trigger() }

// queued returns how many plan deltas wait for the worker.
func (a *Agent) queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, sw := range a.switches {
		n += sw.pend.Queued()
	}
	return n
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run connects, watches the plans, reconciles and reports until ctx is
// done; it returns nil then, after every goroutine it started has exited.
// It can be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("switch agent: already running")
	}
	a.running = true
	a.mu.Unlock()

	a.log.Info("switch agent starting", "switch", a.cfg.Switch, "owner", a.cfg.Owner,
		"probe_interval", a.cfg.ProbeInterval, "audit_interval", a.cfg.AuditInterval)
	if a.cfg.Switch != "" {
		a.serve(ctx, a.cfg.Switch)
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.sessionLoop(ctx) })
	wg.Go(func() { a.loop.Run(ctx, a.pass) })
	wg.Go(func() { a.mem.run(ctx) })
	wg.Wait()
	a.m.connected.Set(0)

	// The worker has stopped: tell the server we are gone (best effort,
	// each switch's goroutine sends its final status).
	for _, sw := range a.served() {
		a.unserve(sw, sw.w.status(sw.name, false, "agent stopped"))
	}
	a.switchWG.Wait()
	return nil
}

// serve starts serving the named switch: its plan watch and its report and
// status senders, which run until unserve.
func (a *Agent) serve(ctx context.Context, name string) *served {
	a.mu.Lock()
	old := a.leaving[name]
	delete(a.leaving, name)
	a.mu.Unlock()
	if old != nil {
		<-old.done // its final status must not come after the new ones
	}
	sw := &served{
		name:     name,
		done:     make(chan struct{}),
		reports:  reconcile.NewMailbox[model.SwitchReport](),
		statuses: reconcile.NewMailbox[model.SwitchStatus](),
		pend:     planstream.NewPending(planstream.Switch, planstream.Limits{}),
	}
	// Its goroutines outlive ctx until unserve: the final status is sent
	// after the worker stopped.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sw.cancel = cancel
	// The election outlives the other goroutines: the lease is released
	// only after the final status, which a standby must not overwrite.
	elCtx, elStop := context.WithCancel(context.WithoutCancel(ctx))
	var elDone chan struct{}
	if a.cfg.Leases != nil {
		sw.el = lease.New(a.cfg.Leases, name, lease.Config{Period: a.cfg.LeasePeriod, Logger: a.log.With("switch", name), Changed: a.enqueue})
		elDone = make(chan struct{})
		a.switchWG.Go(func() {
			defer close(elDone)
			sw.el.Run(elCtx)
		})
	}
	a.mu.Lock()
	a.switches[name] = sw
	a.mu.Unlock()
	a.switchWG.Go(func() {
		defer close(sw.done)
		defer func() {
			elStop()
			if elDone != nil {
				<-elDone
			}
		}()
		var wg sync.WaitGroup
		wg.Go(func() {
			cfg := planstream.FollowConfig{
				BackoffMin: a.cfg.BackoffMin, BackoffMax: a.cfg.BackoffMax, Logger: a.log,
				// A server forgets an agent's status when its plan stream
				// ends: tell it again on every new stream.
				Opened: sw.statuses.Resend,
			}
			planstream.Follow(sctx, a.plans, name, cfg, func(ev planner.SwitchEvent) { a.takeEvent(sw, ev) })
		})
		wg.Go(func() {
			sw.reports.Run(sctx, a.mailboxConfig(a.cfg.ReportDebounce), func(ctx context.Context, r model.SwitchReport) error {
				if err := a.rep.ReportSwitch(ctx, r); err != nil {
					a.rlog.Warn("switch report not sent", "switch", r.Switch.Name, "err", err)
					return err
				}
				sw.reported.Store(true)
				a.log.Debug("switch reported", "switch", r.Switch.Name, "local_macs", len(r.LocalMACs))
				return nil
			})
		})
		wg.Go(func() {
			sw.statuses.Run(sctx, a.mailboxConfig(0), func(ctx context.Context, s model.SwitchStatus) error {
				if r := sw.latestReport.Load(); r != nil && !sw.reported.Load() {
					if err := a.rep.ReportSwitch(ctx, *r); err != nil {
						a.rlog.Warn("switch report not sent", "switch", r.Switch.Name, "err", err)
						return err
					}
					sw.reported.Store(true)
				}
				if err := a.rep.SetSwitchStatus(ctx, s); err != nil {
					a.rlog.Warn("status not reported", "switch", s.Name, "err", err)
					return err
				}
				return nil
			})
		})
		wg.Wait()
		a.mu.Lock()
		final := sw.final
		a.mu.Unlock()
		if final == nil {
			return
		}
		if sw.el != nil {
			if _, held := sw.el.Held(); !held {
				return // the holder's status is the switch's
			}
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := a.rep.SetSwitchStatus(fctx, *final); err != nil {
			a.log.Debug("final status not reported", "switch", name, "err", err)
		}
	})
	return sw
}

// unserve stops serving sw; final is the last status sent for it.
func (a *Agent) unserve(sw *served, final model.SwitchStatus) {
	a.mu.Lock()
	if a.switches[sw.name] == sw {
		delete(a.switches, sw.name)
		a.leaving[sw.name] = sw
	}
	sw.final = &final
	a.mu.Unlock()
	sw.cancel()
}

// served returns the served switches sorted by name.
func (a *Agent) served() []*served {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*served, 0, len(a.switches))
	for _, name := range slices.Sorted(maps.Keys(a.switches)) {
		out = append(out, a.switches[name])
	}
	return out
}

func (a *Agent) mailboxConfig(minInterval time.Duration) reconcile.MailboxConfig {
	return reconcile.MailboxConfig{MinInterval: minInterval, BackoffMin: a.cfg.BackoffMin, BackoffMax: a.cfg.BackoffMax}
}

func (a *Agent) newBackoff() reconcile.Backoff {
	return reconcile.Backoff{Min: a.cfg.BackoffMin, Max: a.cfg.BackoffMax}
}

// sessionLoop dials, keeps the session until it dies, and redials.
func (a *Agent) sessionLoop(ctx context.Context) {
	bo := a.newBackoff()
	for ctx.Err() == nil {
		s, err := a.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.mu.Lock()
			a.connErr = fmt.Sprintf("connect %s: %v", a.cfg.Target, err)
			a.mu.Unlock()
			a.enqueue()
			d := bo.Next()
			// Not rate-limited: the backoff spaces these out.
			a.log.Warn("ovsdb connect failed", "err", err, "retry_in", d)
			if !reconcile.Sleep(ctx, d) {
				return
			}
			continue
		}
		bo.Reset()
		a.log.Info("ovsdb connected")
		a.mu.Lock()
		a.sess, a.connErr = s, ""
		a.mu.Unlock()
		a.m.connected.Set(1)
		a.enqueue()

		select {
		case <-ctx.Done():
		case <-s.dead:
		}
		a.m.connected.Set(0)
		a.mu.Lock()
		a.sess = nil
		if ctx.Err() == nil {
			a.connErr = "ovsdb session lost: " + s.why()
		}
		a.mu.Unlock()
		s.close()
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("ovsdb session lost", "reason", s.why())
		a.enqueue()
		if !reconcile.Sleep(ctx, bo.Next()) {
			return
		}
	}
}

// takeEvent hands a plan event of sw to the worker.
func (a *Agent) takeEvent(sw *served, ev planner.SwitchEvent) {
	a.mu.Lock()
	collapsed := false
	if a.switches[sw.name] == sw {
		collapsed = sw.pend.Add(ev)
	}
	a.mu.Unlock()
	if collapsed {
		a.m.collapsed.Inc()
		a.log.Debug("pending plan deltas collapsed into a whole plan", "switch", sw.name, "revision", ev.Revision)
	}
	if ev.Type == planner.EventSnapshot {
		a.log.Debug("plan received", "switch", sw.name, "revision", ev.Revision)
	}
	a.enqueue()
}

// pass is one reconcile pass of the loop (resync: the periodic audit,
// which diffs in full).
func (a *Agent) pass(ctx context.Context, resync bool) reconcile.Outcome {
	changed, err := a.sync(ctx, resync)
	return reconcile.Outcome{Changed: changed, Err: err}
}

// sync is one reconcile pass (audit: a periodic one, which diffs in full)
// of every served switch, in name order, each against a snapshot of the
// cache taken after the previous one's transaction. It reports whether it
// changed the database, or why it failed.
func (a *Agent) sync(ctx context.Context, audit bool) (changed bool, err error) {
	a.mu.Lock()
	s, connErr := a.sess, a.connErr
	a.mu.Unlock()
	if s == nil {
		for _, sw := range a.served() {
			sw.w.inc.invalidate()
			a.setStatus(sw, sw.w.status(sw.name, false, connErr), false)
		}
		return false, nil
	}
	// An audit rebuilds the Ucast_Macs_Remote view from a new monitor's
	// initial rows: the rows other writers inserted are seen only then
	// (remotemacs.go).
	if audit || s.remote.needsRebuild() {
		if err := s.remote.monitor(ctx, s.txn); err != nil {
			s.fail(err.Error())
			return false, err
		}
		s.markFull()
	}
	// Events before the snapshot: every queued event's rows are in it.
	evs, evFull := s.takeMACEvents()
	act := readActual(s.client.Cache(), s.remote)
	a.discover(ctx, act)
	sws := a.served()
	a.foldPlans(sws)

	// Who shares what (share.go).
	uuids := map[string]string{}
	var parts []sharedPlan
	allPlanned := true
	for _, sw := range sws {
		u, _ := act.findSwitch(sw.name)
		if u == "" {
			continue
		}
		uuids[sw.name] = u
		p := sharedPlan{name: sw.name, ports: act.switches[u].Ports, active: usableTunnel(act.switches[u].TunnelIPs)}
		if sw.w.plan != nil {
			p.plan = sw.w.plan.Plan
		} else {
			allPlanned = false
		}
		parts = append(parts, p)
	}
	shares := newSharing(parts, allPlanned)

	var errs []error
	for i, sw := range sws {
		c, wrote, err := a.syncSwitch(ctx, s, sw, act, uuids[sw.name], shares[sw.name], evs, evFull, audit)
		changed = changed || c
		if err != nil {
			errs = append(errs, fmt.Errorf("switch %s: %w", sw.name, err))
		}
		if wrote && i < len(sws)-1 {
			act = readActual(s.client.Cache(), s.remote) // the next switch sees what this one wrote
		}
	}
	return changed, errors.Join(errs...)
}

// discover serves the database's switches when none is configured: every
// Physical_Switch it holds, each on its own; a switch that left the
// database is no longer served.
func (a *Agent) discover(ctx context.Context, act *actual) {
	if a.cfg.Switch != "" {
		return
	}
	names := map[string]bool{}
	for _, ps := range act.switches {
		if ps.Name != "" {
			names[ps.Name] = true
		}
	}
	if len(names) == 0 {
		a.rlog.Warn("no switch to serve", "reason", "no physical switch in the database")
	}
	for _, sw := range a.served() {
		if !names[sw.name] {
			a.log.Info("physical switch left the database, no longer served", "switch", sw.name)
			// Connected: the agent's session to the database is up; it is
			// the switch that is gone (a wiped database), as the error says.
			a.unserve(sw, sw.w.status(sw.name, true, "physical switch "+quote(sw.name)+" is no longer in the database"))
		}
	}
	a.mu.Lock()
	var added []string
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if a.switches[name] == nil {
			added = append(added, name)
		}
	}
	a.mu.Unlock()
	for _, name := range added {
		a.log.Info("serving the database's physical switch", "switch", name)
		a.serve(ctx, name)
	}
}

// foldPlans brings every served switch's plan up to date. A change of one
// switch's remote MACs may change what the others write (share.go): the
// keys it touched are marked dirty in their incremental state too, and a
// new whole plan makes them diff in full.
func (a *Agent) foldPlans(sws []*served) {
	for _, sw := range sws {
		a.mu.Lock()
		base, deltas := sw.pend.Take()
		// Under a.mu: pend may copy the plan while deltas are applied to it.
		newGen := base != nil && (sw.w.plan == nil || sw.w.plan.Gen != base.Gen)
		sw.w.foldPlan(base, deltas)
		a.mu.Unlock()
		if len(sws) < 2 {
			continue
		}
		for _, o := range sws {
			if o == sw {
				continue
			}
			if newGen {
				o.w.inc.invalidate()
				continue
			}
			for _, e := range deltas {
				o.w.inc.markOthers(*e.Delta)
			}
		}
	}
}

// syncSwitch is the part of a pass of one served switch (row swUUID, ""
// when not in the database): report it, diff it against act and apply the
// change. It reports whether it changed the database, whether it wrote
// anything (even when that failed) and the transaction's error.
func (a *Agent) syncSwitch(ctx context.Context, s *session, sw *served, act *actual, swUUID string, share sharing,
	evs []macEvent, evFull, audit bool) (changed, wrote bool, err error) {
	w := &sw.w
	inc := &w.inc
	inc.begin(s)
	synced := false
	defer func() {
		if !synced {
			inc.invalidate()
		}
	}()
	epoch, acting := a.acting(sw)
	if !acting {
		return false, false, nil
	}
	if swUUID == "" {
		_, why := act.findSwitch(sw.name)
		a.setStatus(sw, w.status(sw.name, true, why), false)
		return false, false, nil
	}
	plan := w.plan
	if plan == nil {
		a.setStatus(sw, w.status(sw.name, true, "waiting for the plan"), false)
		return false, false, nil
	}
	// Report first: it reads the same snapshot and does not depend on the
	// transaction below.
	rep, ignored := buildReport(act, swUUID, plan.Plan, a.cfg.Owner)
	for _, m := range ignored {
		a.rlog.Warn("local mac ignored", "switch", sw.name, "logical_switch", m.ls, "mac", m.mac, "reason", m.why)
	}
	a.report(sw, rep)
	ps := act.switches[swUUID]
	faults := tunnelFaults(ps.TunnelIPs)
	if len(faults) > 0 {
		a.rlog.Warn("switch fault", "switch", sw.name, "fault", strings.Join(faults, "; "))
	}
	if !usableTunnel(ps.TunnelIPs) {
		// Remote MACs would point a switch that cannot send
		// vxlan_over_ipv4 at locators it cannot use: leave it alone.
		a.setStatus(sw, w.status(sw.name, true, strings.Join(faults, "; ")), false)
		return false, false, nil
	}

	var fence *ovsdb.Operation
	if sw.el != nil {
		if !w.claimed {
			err := a.claim(ctx, s, swUUID, ps.OtherConfig, epoch)
			if errors.Is(err, errDeposed) {
				sw.el.Lost(epoch)
				return false, false, nil
			}
			if err != nil {
				a.setStatus(sw, w.status(sw.name, true, err.Error()), false)
				return false, true, err
			}
			w.claimed = true
			a.log.Info("switch claimed: lease epoch written", "switch", sw.name, "epoch", epoch)
			// Until now another agent programmed the switch: its remote
			// MAC inserts are not in our view (remotemacs.go). Rebuild it
			// before the (full: acting invalidated) diff.
			if err := s.remote.monitor(ctx, s.txn); err != nil {
				s.fail(err.Error())
				a.setStatus(sw, w.status(sw.name, true, err.Error()), false)
				return false, true, err
			}
			act = readActual(s.client.Cache(), s.remote)
			inc.invalidate()
		}
		f := fenceOp(swUUID, sw.name, epoch)
		fence = &f
	}

	diffStart := time.Now()
	scope := inc.scope(plan, act, evs, evFull, audit, a.cfg.Owner)
	ch := diffShared(plan.Plan, act, swUUID, a.cfg.Owner, scope, share)
	diffDur := time.Since(diffStart)
	nops := len(ch.ops) // commit lets the operations go
	committed, written, txErr := a.commit(ctx, s, &ch, fence, sw.name, plan.Revision, diffDur)
	inc.done(plan, scope, ch, txErr == nil, written)
	synced = true
	if errors.Is(txErr, ErrFenced) {
		// The switch no longer carries our epoch: a newer holder's (the
		// next claim finds it and stands by) or none (a wiped database,
		// an operator's edit: the next claim writes ours again). Nothing
		// is shown: the status is the holder's.
		a.m.fenced.Inc()
		w.claimed = false
		return false, true, txErr
	}
	problems, macProblems := ch.problems, ch.macProblems
	if txErr == nil {
		w.appliedRev, w.lastSync = plan.Revision, committed
		problems = inc.problems(ch)
		if !ch.full {
			macProblems = inc.macProblems
		}
	}
	msgs := slices.Clone(faults)
	if txErr != nil {
		msgs = append(msgs, txErr.Error())
	}
	msgs = append(msgs, problems...)
	st := w.status(sw.name, true, strings.Join(msgs, "; "))
	st.Problems = scopeProblems(msgs, ch.scopes, macProblems)
	a.setStatus(sw, st, nops > 0)
	return nops > 0 && txErr == nil, nops > 0, txErr
}

// commit applies a change of the plan at revision rev, if there is one,
// and logs the outcome; it returns when the transaction committed (now
// when there was nothing to do) and the remote MACs written. ch.ops is
// nil after a transaction that committed.
func (a *Agent) commit(ctx context.Context, s *session, ch *change, fence *ovsdb.Operation, name string, rev int64, diffDur time.Duration) (time.Time, map[string]bool, error) {
	nops := len(ch.ops)
	if nops == 0 {
		return time.Now(), nil, nil
	}
	start := time.Now()
	committed, written, err := a.apply(ctx, s, ch, fence)
	if err != nil {
		a.rlog.Warn("reconcile failed", "switch", name, "ops", nops, "err", err)
		return committed, written, err
	}
	a.log.Info("reconciled", "switch", name, "revision", rev, "ops", nops, "full", ch.full,
		"diff_duration", diffDur, "duration", time.Since(start))
	return committed, written, nil
}

// status is the switch's status with the worker's sync state.
func (w *workerState) status(name string, connected bool, errText string) model.SwitchStatus {
	return model.SwitchStatus{Name: name, Connected: connected, LastSync: w.lastSync, Revision: w.appliedRev, Error: errText}
}

// scopeProblems scopes the texts of a sync's status error (see
// model.SwitchStatus.Problems): by scopes (the diff's problems that have
// one), by logical switch for a remote MAC's problem (macs), else the
// whole switch (a failed transaction). None when there is no text.
func scopeProblems(texts []string, scopes map[string]model.SyncProblem, macs map[macKey][]string) []model.SyncProblem {
	if len(texts) == 0 {
		return nil
	}
	macLS := map[string]string{}
	for k, ps := range macs {
		for _, p := range ps {
			macLS[p] = k.ls
		}
	}
	out := make([]model.SyncProblem, 0, len(texts))
	for _, t := range texts {
		p, ok := scopes[t]
		switch {
		case ok:
		case macLS[t] != "":
			p = model.SyncProblem{LogicalSwitch: macLS[t], Error: t}
		default:
			p = model.SyncProblem{Error: t}
		}
		out = append(out, p)
	}
	return out
}

// foldPlan brings the worker's plan up to date: base is the latest whole
// plan, deltas the changes received after it, applied in place (a new
// whole plan has a new generation, which the incremental state notices).
func (w *workerState) foldPlan(base *workerPlan, deltas []planner.SwitchEvent) *workerPlan {
	w.plan = base
	for _, e := range deltas {
		if w.plan == nil {
			break
		}
		w.inc.applyDelta(w.plan, *e.Delta)
		w.plan.Revision = e.Revision
	}
	return w.plan
}

// report hands the switch report to its sender when it changed.
func (a *Agent) report(sw *served, rep model.SwitchReport) {
	w := &sw.w
	if w.lastReport != nil && reflect.DeepEqual(*w.lastReport, rep) {
		return
	}
	w.lastReport = &rep
	sw.latestReport.Store(&rep)
	sw.reports.Put(rep)
}

// setStatus hands st to its sender when it differs from the last one
// (ignoring LastSync), when force is set, or when the last one is older
// than the audit interval.
func (a *Agent) setStatus(sw *served, st model.SwitchStatus, force bool) {
	w := &sw.w
	if !force && w.lastStatus != nil {
		l := *w.lastStatus
		l.LastSync = st.LastSync
		if reflect.DeepEqual(l, st) && (a.cfg.AuditInterval <= 0 || time.Since(w.lastStatusAt) < a.cfg.AuditInterval) {
			return
		}
	}
	w.lastStatus, w.lastStatusAt = &st, time.Now()
	sw.statuses.Put(st)
}

// apply runs the change as one transaction, checks every result and waits
// until the cache shows the rows it inserted and not those it deleted, so
// that the next diff cannot insert them again (the Ucast_Macs_Remote view
// has them from the reply: never waited for). It returns when the
// transaction committed. A fence (fence.go) opens the transaction when
// set; ErrFenced when it failed.
func (a *Agent) apply(ctx context.Context, s *session, ch *change, fence *ovsdb.Operation) (time.Time, map[string]bool, error) {
	txStart := time.Now()
	n := len(ch.ops)
	a.m.txOps.Observe(float64(n))
	var pre []ovsdb.Operation
	if fence != nil {
		pre = []ovsdb.Operation{*fence}
	}
	// Once the request is on the wire the operations go (with their row
	// maps ~600 bytes each, most of a bulk transaction's memory): what is
	// needed of them once the results are back is in sh.
	sh := shapeOf(ch.ops)
	ops := ch.ops
	sent := make(chan struct{})
	res, err := s.txn.transactLists(ctx, func(res txnResults) {
		<-sent
		if res.Len() < len(pre) || len(pre) > 0 && res.Error(0) != "" {
			return // fenced: nothing written
		}
		s.remote.applyTxn(sh, res.From(len(pre)))
	}, func() {
		ch.ops, ops = nil, nil
		close(sent)
		if n >= releaseOps {
			a.mem.request()
		}
	}, pre, ops)
	committed := time.Now()
	a.log.Debug("transaction done", "ops", n, "duration", committed.Sub(txStart))
	if err != nil {
		s.fail("transact: " + err.Error())
		return time.Time{}, nil, fmt.Errorf("transact %d operations: %w", n, err)
	}
	if fence != nil {
		if res.Len() > 0 && res.Error(0) != "" {
			a.log.Warn("transaction fenced: the switch carries another agent's epoch, nothing written",
				"ops", n, "error", res.Error(0), "details", res.All()[0].Details)
			return time.Time{}, nil, ErrFenced
		}
		if res.Len() > 0 {
			res = res.From(1)
		}
	}
	if detail, failed := checkResults(res.all, res.Len(), n); failed {
		return time.Time{}, nil, fmt.Errorf("transaction of %d operations failed: %s", n, detail)
	}
	var inserted []rowRef
	written := make(map[string]bool, len(sh.ins)+len(ch.deleted))
	for _, r := range sh.ins {
		written[res.UUID(r.op)] = false
	}
	for _, x := range sh.rest {
		i, op := x.i, &x.op
		if op.Op == ovsdb.OperationInsert {
			if op.Table != vtep.UcastMacsRemoteTable {
				inserted = append(inserted, rowRef{op.Table, res.UUID(i)})
			}
			if op.Table == vtep.LogicalSwitchTable && op.UUIDName != "" {
				ch.resolveLS(op.UUIDName, res.UUID(i))
			}
			if op.Table == vtep.UcastMacsRemoteTable {
				written[res.UUID(i)] = false
			}
		} else if op.Table == vtep.UcastMacsRemoteTable && op.Op == ovsdb.OperationUpdate && len(op.Where) == 1 {
			if u, ok := op.Where[0].Value.(ovsdb.UUID); ok {
				written[u.GoUUID] = false
			}
		}
	}
	var deleted []rowRef
	for _, r := range ch.deleted {
		if r.table == vtep.UcastMacsRemoteTable {
			written[r.uuid] = true
		} else {
			deleted = append(deleted, r)
		}
	}
	return committed, written, a.waitCache(ctx, s, inserted, deleted)
}

// checkResults is ovsdb.CheckOperationResults for n operations without
// them (they are gone, see apply): the text of the first failed result,
// or of the transaction's extra error result; failed reports one. res are
// the results whole (nil when they were all successes: see txnResults),
// count how many there were.
func checkResults(res []ovsdb.OperationResult, count, n int) (detail string, failed bool) {
	if count < n {
		return fmt.Sprintf("ovsdb transaction error. %d operations submitted but only %d results received", n, count), true
	}
	var one [1]ovsdb.Operation // the error text does not depend on it
	for i, r := range res {
		if i >= n {
			if r.Error == "" {
				return "", false
			}
			if detail != "" {
				return detail, true
			}
			return r.Error + ": " + r.Details, true
		}
		if r.Error != "" && detail == "" {
			errs, _ := ovsdb.CheckOperationResults(res[i:i+1], one[:])
			detail = errs[0].Error()
		}
	}
	return detail, detail != ""
}

func (a *Agent) waitCache(ctx context.Context, s *session, present, absent []rowRef) error {
	tc := s.client.Cache()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		present = filterRows(present, func(r rowRef) bool { return !hasRow(tc, r) })
		absent = filterRows(absent, func(r rowRef) bool { return hasRow(tc, r) })
		if len(present) == 0 && len(absent) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.dead:
			return errors.New("ovsdb session lost while waiting for the transaction's updates")
		case <-deadline.C:
			return fmt.Errorf("cache did not show the transaction: %d rows missing, %d rows not deleted", len(present), len(absent))
		case <-a.cacheEvent:
		case <-tick.C:
		}
	}
}

func filterRows(rs []rowRef, keep func(rowRef) bool) []rowRef {
	out := rs[:0]
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

package switchagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	ovsmodel "github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// PlanUpdate is one version of the desired state of a switch.
type PlanUpdate struct {
	Revision int64 // store revision the plan was computed at
	Plan     planner.SwitchPlan

	gen uint64 // set by the agent (pendingPlan.setPlan); producers leave it zero
}

// Plans delivers the desired state of switches. WatchSwitch returns a
// channel that first carries the current plan of the named switch and then
// every newer one (each a whole plan; intermediate ones may be skipped, only
// the latest matters). The implementation closes the channel when ctx is
// done or the feed fails and must never block sending once ctx is done; the
// agent watches again (with backoff) when the channel closes early.
type Plans interface {
	WatchSwitch(ctx context.Context, name string) (<-chan PlanUpdate, error)
}

// PlanEvent is one step of a DeltaPlans watch: a whole plan (Plan non-nil:
// the agent takes ownership of it and may modify it) or a delta to apply
// to the plan of the previous events. Revision is the store revision the
// plan reflects after the event.
type PlanEvent struct {
	Revision int64
	Plan     *planner.SwitchPlan
	Delta    planner.SwitchDelta // never modified by the agent
}

// DeltaPlans is implemented by a Plans that can deliver changes as deltas:
// WatchSwitchDeltas returns a channel that first carries the whole current
// plan of the named switch and then every change in order (a whole plan
// again whenever deltas were lost). It never skips a delta; it is closed
// when ctx is done or the feed fails. With it the agent's work per change
// is proportional to the change: no whole-plan copy or comparison.
type DeltaPlans interface {
	Plans
	WatchSwitchDeltas(ctx context.Context, name string) (<-chan PlanEvent, error)
}

// Reporter receives what the agent learns: the switch inventory with its
// local MACs (only when it changed) and the session/sync status.
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
	// Switch is the Physical_Switch name served. Empty: the only switch the
	// database holds (an error is reported while it holds none or several).
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

// Agent realises the plan of one hardware_vtep switch and reports it.
type Agent struct {
	cfg     Config
	plans   Plans
	rep     Reporter
	log     *slog.Logger
	logr    logr.Logger
	dbModel ovsmodel.ClientDBModel

	kick        chan struct{} // worker wake-up (coalescing)
	cacheEvent  chan struct{} // any cache event (for waiting on our own writes)
	nameChanged chan struct{}

	deltaLimits deltaLimits
	m           *agentMetrics

	sessions uint64 // sessions dialled (sessionLoop only; see session.gen)

	mu       sync.Mutex
	sess     *session
	connErr  string
	name     string      // served switch: configured or discovered
	pend     pendingPlan // latest whole plan and the deltas received after it
	running  bool
	worker   workerState // owned by the worker goroutine
	lastStat *model.SwitchStatus
}

// workerState is touched only by the worker goroutine.
type workerState struct {
	lastReport     *model.SwitchReport
	lastReportAt   time.Time
	lastStatusAt   time.Time
	appliedRev     int64
	lastSync       time.Time
	reportedDiscon bool
	inc            incState
	plan           *PlanUpdate // the worker's plan: a.pend.plan, deltas applied in place
}

// New returns an Agent; it does nothing until Run.
func New(cfg Config, plans Plans, rep Reporter) (*Agent, error) {
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
	dbModel.SetIndexes(map[string][]ovsmodel.ClientIndex{vtep.UcastMacsRemoteTable: {remoteMACIndex}})
	a := &Agent{
		cfg: cfg, plans: plans, rep: rep,
		log:         cfg.Logger.With("target", cfg.Target),
		logr:        logr.FromSlogHandler(cfg.Logger.Handler()).WithName("libovsdb"),
		dbModel:     dbModel,
		kick:        make(chan struct{}, 1),
		cacheEvent:  make(chan struct{}, 1),
		nameChanged: make(chan struct{}, 1),
		name:        cfg.Switch,
		deltaLimits: defaultDeltaLimits,
		m:           newAgentMetrics(cfg.Registerer),
	}
	return a, nil
}

func (a *Agent) enqueue() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run connects, watches the plan, reconciles and reports until ctx is done;
// it returns nil then, after every goroutine it started has exited. It can
// be called once.
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
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); a.sessionLoop(ctx) }()
	go func() { defer wg.Done(); a.planLoop(ctx) }()
	go func() { defer wg.Done(); a.workerLoop(ctx) }()
	wg.Wait()
	a.m.connected.Set(0)
	a.m.rec.SetQueue(0)

	// Best effort: tell the server we are gone.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	a.mu.Lock()
	name := a.name
	a.mu.Unlock()
	if name != "" {
		st := model.SwitchStatus{Name: name, Connected: false, LastSync: a.worker.lastSync, Revision: a.worker.appliedRev, Error: "agent stopped"}
		if err := a.rep.SetSwitchStatus(sctx, st); err != nil {
			a.log.Debug("final status not reported", "err", err)
		}
	}
	return nil
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

// planLoop keeps a plan watch open for the served switch.
func (a *Agent) planLoop(ctx context.Context) {
	bo := a.newBackoff()
	for {
		a.mu.Lock()
		name := a.name
		a.mu.Unlock()
		if name == "" {
			select {
			case <-ctx.Done():
				return
			case <-a.nameChanged:
				continue
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		var ch <-chan PlanUpdate
		var evs <-chan PlanEvent
		var err error
		if dp, ok := a.plans.(DeltaPlans); ok {
			evs, err = dp.WatchSwitchDeltas(wctx, name)
		} else {
			ch, err = a.plans.WatchSwitch(wctx, name)
		}
		if err != nil {
			cancel()
			d := bo.Next()
			a.log.Warn("plan watch failed", "switch", name, "err", err, "retry_in", d)
			if !reconcile.Sleep(ctx, d) {
				return
			}
			continue
		}
		renamed := a.consumePlans(ctx, ch, evs, name, &bo)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !renamed {
			d := bo.Next()
			a.log.Warn("plan watch ended", "switch", name, "retry_in", d)
			if !reconcile.Sleep(ctx, d) {
				return
			}
		}
	}
}

// consumePlans stores plans from ch, or plans and deltas from evs (the
// other one is nil), until it closes, ctx ends or the served switch
// changes (then it returns true).
func (a *Agent) consumePlans(ctx context.Context, ch <-chan PlanUpdate, evs <-chan PlanEvent, name string, bo *reconcile.Backoff) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.nameChanged:
			a.mu.Lock()
			cur := a.name
			a.mu.Unlock()
			if cur != name {
				return true
			}
		case u, ok := <-ch:
			if !ok {
				return false
			}
			bo.Reset()
			a.mu.Lock()
			if a.name == name {
				a.pend.setPlan(&u)
				a.m.rec.SetQueue(0)
			}
			a.mu.Unlock()
			a.log.Debug("plan received", "switch", name, "revision", u.Revision)
			a.enqueue()
		case e, ok := <-evs:
			if !ok {
				return false
			}
			bo.Reset()
			a.mu.Lock()
			if a.name == name {
				if e.Plan != nil {
					a.pend.setPlan(&PlanUpdate{Revision: e.Revision, Plan: *e.Plan})
				} else if a.pend.addDelta(e, a.deltaLimits) {
					a.m.collapsed.Inc()
					a.log.Debug("pending plan deltas collapsed into a whole plan", "switch", name, "revision", e.Revision)
				}
				a.m.rec.SetQueue(len(a.pend.deltas))
			}
			a.mu.Unlock()
			a.enqueue()
		}
	}
}

// workerLoop runs sync on every kick, audit tick and retry.
func (a *Agent) workerLoop(ctx context.Context) {
	var audit <-chan time.Time
	if a.cfg.AuditInterval > 0 {
		t := time.NewTicker(a.cfg.AuditInterval)
		defer t.Stop()
		audit = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	bo := a.newBackoff()
	for {
		isAudit := false
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-audit:
			isAudit = true
		case <-retry.C:
		}
		failed, again := a.sync(ctx, isAudit)
		if ctx.Err() != nil {
			return
		}
		switch {
		case failed:
			retry.Reset(bo.Next())
		case again > 0:
			bo.Reset()
			retry.Reset(again)
		default:
			bo.Reset()
		}
	}
}

// sync is one reconcile pass (audit: a periodic one, which diffs in full).
// It reports whether it failed (to retry with backoff) or wants to run
// again after a delay (report debounce).
func (a *Agent) sync(ctx context.Context, audit bool) (failed bool, again time.Duration) {
	start, result := time.Now(), metrics.ResultNoop
	defer func() {
		if ctx.Err() != nil {
			return // stopping: not a run
		}
		if failed {
			result = metrics.ResultError
		}
		a.m.rec.Done(start, result)
	}()
	w := &a.worker
	a.mu.Lock()
	s, connErr, name := a.sess, a.connErr, a.name
	// Under a.mu: the plan loop may copy the plan (pendingPlan.addDelta)
	// while the worker folds deltas into it.
	plan := w.foldPlan(a.pend.take())
	a.m.rec.SetQueue(0)
	a.mu.Unlock()

	if s == nil {
		if name != "" {
			a.setStatus(ctx, model.SwitchStatus{Name: name, Connected: false, LastSync: w.lastSync, Revision: w.appliedRev, Error: connErr}, false)
		}
		return false, 0
	}
	inc := &w.inc
	inc.begin(s)
	// Events before the snapshot: every queued event's rows are in it.
	evs, evFull := s.takeMACEvents()
	act := readActual(s.client.Cache())
	synced := false
	defer func() {
		if !synced {
			inc.invalidate()
		}
	}()
	swUUID, why := act.findSwitch(name)
	if name == "" && swUUID != "" {
		name = act.switches[swUUID].Name
		a.mu.Lock()
		if a.name != name {
			a.name = name
			a.pend.setPlan(nil)
			a.m.rec.SetQueue(0)
		}
		a.mu.Unlock()
		signal(a.nameChanged)
		a.log.Info("serving the database's physical switch", "switch", name)
		return false, 0 // wait for its plan
	}
	if swUUID == "" {
		if name != "" {
			a.setStatus(ctx, model.SwitchStatus{Name: name, Connected: true, LastSync: w.lastSync, Revision: w.appliedRev, Error: why}, false)
		} else {
			a.log.Warn("no switch to serve", "reason", why)
		}
		return false, 0
	}
	if plan == nil {
		a.setStatus(ctx, model.SwitchStatus{Name: name, Connected: true, LastSync: w.lastSync, Revision: w.appliedRev, Error: "waiting for the plan"}, false)
		return false, 0
	}

	// Report first: it reads the same snapshot and does not depend on the
	// transaction below.
	var reportErr error
	rep := buildReport(act, swUUID, &plan.Plan, a.cfg.Owner)
	if w.lastReport == nil || !reflect.DeepEqual(*w.lastReport, rep) {
		if wait := a.cfg.ReportDebounce - time.Since(w.lastReportAt); wait > 0 {
			again = wait
		} else if err := a.rep.ReportSwitch(ctx, rep); err != nil {
			reportErr = fmt.Errorf("report switch: %w", err)
		} else {
			w.lastReport, w.lastReportAt = &rep, time.Now()
			a.log.Debug("switch reported", "switch", name, "local_macs", len(rep.LocalMACs))
		}
	}

	diffStart := time.Now()
	scope := inc.scope(plan, act, evs, evFull, audit, a.cfg.Owner)
	ch := diffPlanScoped(&plan.Plan, act, swUUID, a.cfg.Owner, scope)
	diffDur := time.Since(diffStart)
	var txErr error
	committed := time.Now()
	var written map[string]bool
	if len(ch.ops) > 0 {
		start := time.Now()
		committed, written, txErr = a.apply(ctx, s, &ch)
		if txErr != nil {
			a.log.Warn("reconcile failed", "switch", name, "ops", len(ch.ops), "err", txErr)
		} else {
			result = metrics.ResultOK
			a.log.Info("reconciled", "switch", name, "revision", plan.Revision, "ops", len(ch.ops), "full", ch.full,
				"diff_duration", diffDur, "duration", time.Since(start))
		}
	}
	inc.done(plan, scope, ch, txErr == nil, written)
	synced = true
	problems := ch.problems
	if txErr == nil {
		w.appliedRev, w.lastSync = plan.Revision, committed
		problems = inc.problems(ch)
	}
	var msgs []string
	if txErr != nil {
		msgs = append(msgs, txErr.Error())
	}
	if reportErr != nil {
		msgs = append(msgs, reportErr.Error())
	}
	msgs = append(msgs, problems...)
	st := model.SwitchStatus{Name: name, Connected: true, LastSync: w.lastSync, Revision: w.appliedRev, Error: strings.Join(msgs, "; ")}
	a.setStatus(ctx, st, len(ch.ops) > 0)
	return txErr != nil || reportErr != nil, again
}

// foldPlan brings the worker's plan up to date: src is the latest whole
// plan, deltas the changes received after it (applied in place: a plan
// with deltas came from DeltaPlans, which hands it over; its generation
// stays, a new whole plan has a new one).
func (w *workerState) foldPlan(src *PlanUpdate, deltas []PlanEvent) *PlanUpdate {
	w.plan = src
	for _, e := range deltas {
		if w.plan == nil {
			break
		}
		w.inc.applyDelta(w.plan, e.Delta)
		w.plan.Revision = e.Revision
	}
	return w.plan
}

// setStatus sends st when it differs from the last one sent (ignoring
// LastSync), when force is set, or when the last one is older than the
// audit interval.
func (a *Agent) setStatus(ctx context.Context, st model.SwitchStatus, force bool) {
	w := &a.worker
	a.mu.Lock()
	last := a.lastStat
	a.mu.Unlock()
	if !force && last != nil {
		l := *last
		l.LastSync = st.LastSync
		if l == st && (a.cfg.AuditInterval <= 0 || time.Since(w.lastStatusAt) < a.cfg.AuditInterval) {
			return
		}
	}
	if err := a.rep.SetSwitchStatus(ctx, st); err != nil {
		a.log.Warn("status not reported", "switch", st.Name, "err", err)
		return
	}
	w.lastStatusAt = time.Now()
	a.mu.Lock()
	a.lastStat = &st
	a.mu.Unlock()
}

// apply runs the change as one transaction, checks every result and waits
// until the cache shows the rows it inserted and not those it deleted, so
// that the next diff cannot insert them again. It returns when the
// transaction committed.
func (a *Agent) apply(ctx context.Context, s *session, ch *change) (time.Time, map[string]bool, error) {
	txStart := time.Now()
	a.m.txOps.Observe(float64(len(ch.ops)))
	res, err := s.txn.Transact(ctx, ch.ops...)
	committed := time.Now()
	a.log.Debug("transaction done", "ops", len(ch.ops), "duration", committed.Sub(txStart))
	if err != nil {
		s.fail("transact: " + err.Error())
		return time.Time{}, nil, fmt.Errorf("transact %d operations: %w", len(ch.ops), err)
	}
	if opErrs, err := ovsdb.CheckOperationResults(res, ch.ops); err != nil {
		detail := err.Error()
		if len(opErrs) > 0 {
			detail = opErrs[0].Error()
		} else if len(res) > len(ch.ops) {
			detail = res[len(ch.ops)].Error + ": " + res[len(ch.ops)].Details
		}
		return time.Time{}, nil, fmt.Errorf("transaction of %d operations failed: %s", len(ch.ops), detail)
	}
	var inserted []rowRef
	written := map[string]bool{}
	for i, op := range ch.ops {
		if op.Op == ovsdb.OperationInsert && i < len(res) {
			inserted = append(inserted, rowRef{op.Table, res[i].UUID.GoUUID})
			if op.Table == vtep.LogicalSwitchTable && op.UUIDName != "" {
				ch.resolveLS(op.UUIDName, res[i].UUID.GoUUID)
			}
			if op.Table == vtep.UcastMacsRemoteTable {
				written[res[i].UUID.GoUUID] = false
			}
		} else if op.Table == vtep.UcastMacsRemoteTable && op.Op == ovsdb.OperationUpdate && len(op.Where) == 1 {
			if u, ok := op.Where[0].Value.(ovsdb.UUID); ok {
				written[u.GoUUID] = false
			}
		}
	}
	for _, r := range ch.deleted {
		if r.table == vtep.UcastMacsRemoteTable {
			written[r.uuid] = true
		}
	}
	return committed, written, a.waitCache(ctx, s, inserted, ch.deleted)
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

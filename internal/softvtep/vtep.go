package softvtep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-org/libovsdb/client"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/reconcile"
)

// VTEP is a software hardware_vtep switch. Create it with New and start it
// with Run.
type VTEP struct {
	cfg  Config
	log  *slog.Logger
	loop *reconcile.Loop
	db   atomic.Pointer[session]
}

// session is one OVSDB connection.
type session struct {
	c client.Client
	// live is done once the session has ended. A read from a client
	// that lost its connection waits for the cache to be consistent
	// again, which that client never is: a pass that began on it would
	// hold the loop for reconcileTimeout, the new session's pass behind it.
	live context.Context
}

// New validates cfg and returns a soft VTEP that logs to logger.
func New(logger *slog.Logger, cfg Config) (*VTEP, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("soft-vtep config: %w", err)
	}
	cfg = cfg.withDefaults()
	return &VTEP{
		cfg: cfg,
		log: logger.With("switch", cfg.Name),
		loop: reconcile.NewLoop(reconcile.LoopConfig{
			BackoffMin: 50 * time.Millisecond, BackoffMax: 5 * time.Second, Resync: cfg.ResyncInterval,
			Metrics: metrics.NewReconcile(cfg.Registerer, "softvtep"),
		}),
	}, nil
}

// trigger asks for a reconcile; it never blocks.
func (v *VTEP) trigger() { v.loop.Trigger() }

// Run registers the switch, realises the database until ctx is done, and
// returns once every goroutine it started has exited. It returns an error
// only when it cannot start (namespace or netlink unavailable); database and
// kernel errors are retried. With Config.Cleanup it removes the devices it
// owns before returning.
func (v *VTEP) Run(ctx context.Context) error {
	var nsh *netns.NsHandle
	var h *netlink.Handle
	if v.cfg.NetNS != "" {
		ns, err := netns.GetFromName(v.cfg.NetNS)
		if err != nil {
			return fmt.Errorf("open netns %s: %w", v.cfg.NetNS, err)
		}
		defer ns.Close()
		nsh = &ns
		if h, err = netlink.NewHandleAt(ns); err != nil {
			return fmt.Errorf("netlink in netns %s: %w", v.cfg.NetNS, err)
		}
	} else {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
	}
	defer h.Close()
	dp, err := newDataplane(h, v.log, v.cfg.TunnelIP, v.cfg.MTU)
	if err != nil {
		return err
	}
	v.log.Info("soft-vtep starting", "ovsdb", v.cfg.OVSDB, "tunnel_ip", v.cfg.TunnelIP.String(),
		"netns", v.cfg.NetNS, "ports", fmt.Sprint(v.cfg.Ports), "cleanup", v.cfg.Cleanup)

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); v.runDB(runCtx) }()
	go func() { defer wg.Done(); v.watchNetlink(runCtx, nsh) }()

	v.loop.Run(runCtx, func(ctx context.Context, _ bool) reconcile.Outcome { return v.pass(ctx, dp) })
	cancel()
	wg.Wait()

	if v.cfg.Cleanup {
		// ctx is done by now; the cleanup still has to run to the end.
		empty := plan{switches: map[int]*lsPlan{}, faults: map[string][]string{}}
		if _, err := dp.apply(context.WithoutCancel(ctx), empty); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		v.log.Info("soft-vtep removed its devices")
	}
	v.log.Info("soft-vtep stopped")
	return nil
}

// errSessionEnded is why a pass stopped when its OVSDB session ended.
var errSessionEnded = errors.New("ovsdb session ended")

// reconcileTimeout bounds one reconcile, so a hung database connection
// cannot stall the loop.
const reconcileTimeout = 30 * time.Second

// pass is one reconcile of the loop, bounded by reconcileTimeout. Without
// a database it changes nothing (result noop).
func (v *VTEP) pass(ctx context.Context, dp *dataplane) reconcile.Outcome {
	rctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	err := v.reconcile(rctx, dp)
	if err != nil && ctx.Err() == nil {
		v.log.Warn("reconcile failed; retrying", "error", err)
	}
	return reconcile.Outcome{Err: err, Changed: err == nil && v.db.Load() != nil}
}

// reconcile registers the switch, makes Linux equal the database and
// reports learnt MACs and port faults. Without a database connection it
// leaves Linux alone: a switch keeps forwarding while its controller
// connection is down.
func (v *VTEP) reconcile(ctx context.Context, dp *dataplane) (err error) {
	s := v.db.Load()
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.live, func() { cancel(errSessionEnded) })
	defer stop()
	defer func() {
		if err != nil && errors.Is(context.Cause(ctx), errSessionEnded) {
			err = fmt.Errorf("%w: %w", errSessionEnded, err)
		}
	}()
	snap, err := readSnapshot(ctx, s.c, v.cfg.Name)
	if err != nil {
		return err
	}
	ops, err := registerOps(s.c, &v.cfg, snap)
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		v.log.Info("registering switch and ports")
		if err := transact(ctx, s.c, ops); err != nil {
			return fmt.Errorf("register switch: %w", err)
		}
		// The monitor update precedes the reply (libovsdb handles
		// notifications in order), so the cache already holds our rows.
		if snap, err = readSnapshot(ctx, s.c, v.cfg.Name); err != nil {
			return err
		}
	}
	p := computePlan(v.cfg.Ports, snap)
	learnt, applyErr := dp.apply(ctx, p)
	learned := map[localMAC]bool{}
	for _, l := range learnt {
		if lp := p.switches[l.VNI]; lp != nil {
			learned[localMAC{MAC: l.MAC, LSUUID: lp.LSUUID}] = true
		}
	}
	// With a failed apply the learnt list may be partial: keep the
	// published MACs and only report faults until the next run succeeds.
	if applyErr != nil {
		for _, r := range snap.ucastLocal {
			if mac, ok := canonicalMAC(r.MAC); ok {
				learned[localMAC{MAC: mac, LSUUID: r.LogicalSwitch}] = true
			}
		}
	}
	ops, err = reportOps(s.c, v.cfg.TunnelIP, snap, learned, p.faults)
	if err != nil {
		return errors.Join(applyErr, err)
	}
	if err := transact(ctx, s.c, ops); err != nil {
		return errors.Join(applyErr, fmt.Errorf("report local macs and faults: %w", err))
	}
	return applyErr
}

// runDB keeps one OVSDB session open, reconnecting with capped backoff, and
// triggers a reconcile on every connect and cache change.
func (v *VTEP) runDB(ctx context.Context) {
	bo := reconcile.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		c, err := dial(ctx, v.log, v.cfg.OVSDB, v.trigger)
		if err != nil {
			d := bo.Next()
			v.log.Warn("ovsdb connect failed; retrying", "error", err, "backoff", d)
			if !reconcile.Sleep(ctx, d) {
				return
			}
			continue
		}
		bo.Reset()
		v.log.Info("ovsdb connected", "ovsdb", v.cfg.OVSDB)
		live, end := context.WithCancel(ctx)
		v.db.Store(&session{c: c, live: live})
		v.trigger()
		v.waitDisconnect(ctx, c)
		end()
		v.db.Store(nil)
		c.Close()
		if ctx.Err() == nil {
			v.log.Warn("ovsdb connection lost; reconnecting", "ovsdb", v.cfg.OVSDB)
		}
	}
}

// waitDisconnect returns when ctx is done or the session is gone. libovsdb's
// disconnect notification is not buffered, so an echo probe backs it up.
func (v *VTEP) waitDisconnect(ctx context.Context, c client.Client) {
	probe := time.NewTicker(time.Second)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.DisconnectNotify():
			return
		case <-probe.C:
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := c.Echo(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// watchNetlink triggers a reconcile on every link and FDB change in the data
// plane namespace (nil: the current one), re-subscribing after errors.
func (v *VTEP) watchNetlink(ctx context.Context, ns *netns.NsHandle) {
	for ctx.Err() == nil {
		done := make(chan struct{})
		links := make(chan netlink.LinkUpdate, 64)
		neighs := make(chan netlink.NeighUpdate, 256)
		onErr := func(err error) { v.log.Debug("netlink subscription error", "error", err) }
		err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: onErr})
		if err == nil {
			err = netlink.NeighSubscribeWithOptions(neighs, done, netlink.NeighSubscribeOptions{Namespace: ns, ErrorCallback: onErr})
			if err != nil {
				close(neighs)
			}
		} else {
			close(links)
			close(neighs)
		}
		if err != nil {
			v.log.Warn("netlink subscribe failed; retrying", "error", err)
		} else {
			v.trigger()
		}
		// Forward events until a subscription ends or ctx is done.
		for links != nil && neighs != nil {
			select {
			case <-ctx.Done():
				links, neighs = drain(done, links, neighs)
			case _, ok := <-links:
				if !ok {
					links, neighs = drain(done, nil, neighs)
					break
				}
				v.trigger()
			case _, ok := <-neighs:
				if !ok {
					links, neighs = drain(done, links, nil)
					break
				}
				v.trigger()
			}
		}
		if !reconcile.Sleep(ctx, time.Second) {
			return
		}
	}
}

// drain stops a pair of subscriptions and reads their channels until the
// library closes them, so its goroutines exit.
func drain(done chan struct{}, links chan netlink.LinkUpdate, neighs chan netlink.NeighUpdate) (chan netlink.LinkUpdate, chan netlink.NeighUpdate) {
	close(done)
	for links != nil || neighs != nil {
		select {
		case _, ok := <-links:
			if !ok {
				links = nil
			}
		case _, ok := <-neighs:
			if !ok {
				neighs = nil
			}
		}
	}
	return nil, nil
}

// Package server runs l2gw's API server: it opens the store, listens, serves
// the northbound API and the agent protocol beside the plan feed, runs the
// embedded switch agents, and stops cleanly when its context ends.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/l2pop"
	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/logging"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/neutronproxy"
	"github.com/l2gw/l2gw/internal/neutronsync"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/ui"
)

// DefaultShutdownTimeout bounds the drain of in-flight requests at stop.
const DefaultShutdownTimeout = 10 * time.Second

// Config is the server's configuration; Bind and Database are required.
type Config struct {
	Bind     string // host:port; port 0 picks a free port
	Database string // store DSN (sqlite://…, postgres://…)
	Store    store.Config
	API      api.Config
	Logger   *slog.Logger // nil discards
	// ShutdownTimeout bounds the drain at stop; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Feed tunes the plan feed, which always runs and serves the agent
	// protocol under /l2gw/v1 (internal/agentapi).
	Feed planfeed.Config
	// Agents tunes the agent protocol; its Authenticator and Policy default
	// to the API's.
	Agents agentapi.Config
	// UI tunes the status page under /ui/ (internal/ui); its Authenticator
	// and Policy default to the API's.
	UI ui.Config
	// Switches are switch agents run inside the server, on the plan feed
	// and the store directly (no HTTP); nil loggers take Logger.
	Switches []switchagent.Config
	// Listening, when set, is called with the actual listen address once the
	// server is ready to answer.
	Listening func(addr net.Addr)
	// MetricsBind, when set, serves /metrics and /healthz on this
	// host:port instead, unauthenticated, and the API leaves /metrics out.
	// Empty serves /metrics with the API (API.MetricsAuth decides whether
	// it needs a token).
	MetricsBind string
	// AccessLog logs every API and agent protocol request at Info once it
	// is answered (plan streams when they end). Every answer carries an
	// X-Openstack-Request-Id either way (internal/logging).
	AccessLog bool
	// TLS, when set, serves HTTPS instead of plain HTTP.
	TLS *TLSConfig
	// ReadTimeout bounds how long a request's body may take to arrive;
	// zero means DefaultReadTimeout, negative none.
	ReadTimeout time.Duration
	// L2Pop, when set, sends l2pop casts to the compute hosts' Neutron
	// agents over RabbitMQ (internal/l2pop) and adds their state to the
	// connection and system status; nil loggers take Logger.
	L2Pop *l2pop.Config
	// StartRetry caps the wait between attempts to open a database that
	// cannot be reached at start (the server waits for it, logging each
	// failure, until ctx ends); zero means 10s.
	StartRetry time.Duration
	// PresenceClaimInterval is how often the server renews the presence
	// of the agents whose plan streams it serves (agentapi.RunPresence);
	// zero means agentapi.DefaultClaimInterval. Keep it well under
	// Store.PresenceExpiry.
	PresenceClaimInterval time.Duration
	// WriteTimeout bounds how long an answer may take to be written; zero
	// means DefaultWriteTimeout, negative none. Plan streams and the status
	// page's events are exempt: they bound each write instead.
	WriteTimeout time.Duration
	// Neutron, when set, mirrors the inventory from Neutron (l2gw server
	// --inventory neutron): l2gw's own inventory writes answer 409.
	Neutron *NeutronConfig
	// PprofBind, when set, serves Go's profiles (net/http/pprof, under
	// /debug/pprof/) on this host:port, unauthenticated: a profile shows
	// the process's memory, so callers keep it on loopback. Block and
	// mutex profiles hold samples only if the process sets
	// runtime.SetBlockProfileRate and SetMutexProfileFraction.
	PprofBind string
	// MaxConnections bounds the API's open connections (agents' plan
	// streams included); past it new connections wait in the listen
	// backlog until one closes. Zero means DefaultMaxConnections, negative
	// none. The --metrics-bind listener is not counted.
	MaxConnections int
}

// NeutronConfig is the OpenStack mode: the inventory mirrored from
// Neutron, and optionally l2gw in front of it.
type NeutronConfig struct {
	// Sync configures the mirror (Sync.URL is Neutron); nil loggers and
	// registerers take the server's.
	Sync neutronsync.Config
	// Proxy forwards every request that is not for l2gw's resources to
	// Sync.URL (--neutron-proxy).
	Proxy bool
	// Notifications consumes Neutron's notifications on the l2pop
	// brokers (Config.L2Pop must be set) as a hint to poll at once.
	Notifications bool
}

// inventoryReadOnly is the 409 message of inventory writes in the
// OpenStack mode.
const inventoryReadOnly = "The inventory (networks, ports, hosts) is managed by Neutron: l2gw mirrors it read-only (l2gw server --inventory neutron). Change it in Neutron (openstack network/port create, ...)."

// Run listens on cfg.Bind, opens the store and serves until ctx is done or a
// part (plan feed, embedded agent, HTTP server) fails; it then drains
// requests, stops the feed and agents and closes the store. It returns nil
// after a clean stop by ctx.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Lines logged about a request with its context name its request id.
	log = logging.WithRequestIDs(log)
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.PresenceClaimInterval <= 0 && cfg.Store.PresenceExpiry > 0 {
		cfg.PresenceClaimInterval = cfg.Store.PresenceExpiry / 3
	}
	if cfg.Agents.Started.IsZero() {
		cfg.Agents.Started = time.Now()
	}
	var tlsConf *tls.Config
	var certs *certStore
	if cfg.TLS != nil {
		var err error
		if tlsConf, certs, err = serverTLS(cfg.TLS); err != nil {
			return err
		}
	}
	// Listen first: a taken port fails before any database work.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Bind)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Bind, err)
	}
	if cfg.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, cfg.MaxConnections)
	}
	var mln net.Listener
	if cfg.MetricsBind != "" {
		mln, err = lc.Listen(ctx, "tcp", cfg.MetricsBind)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (metrics): %w", cfg.MetricsBind, err)
		}
		cfg.API.NoMetrics = true
	}
	var pln net.Listener
	if cfg.PprofBind != "" {
		pln, err = lc.Listen(ctx, "tcp", cfg.PprofBind)
		if err != nil {
			ln.Close()
			if mln != nil {
				mln.Close()
			}
			return fmt.Errorf("listen on %s (pprof): %w", cfg.PprofBind, err)
		}
	}
	closeListeners := func() {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		if pln != nil {
			pln.Close()
		}
	}
	if cfg.Store.Logger == nil {
		cfg.Store.Logger = log
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		closeListeners()
		return fmt.Errorf("open store: %w", err)
	}
	if cfg.API.Logger == nil {
		cfg.API.Logger = log
	}
	// One registry for everything the server runs, served on /metrics by
	// the API.
	if cfg.API.Registry == nil {
		cfg.API.Registry = metrics.NewRegistry()
	}
	var l2p *l2pop.Runner
	if cfg.L2Pop != nil {
		lc := *cfg.L2Pop
		if lc.Logger == nil {
			lc.Logger = log
		}
		if lc.Registerer == nil {
			lc.Registerer = cfg.API.Registry
		}
		if l2p, err = l2pop.New(st, lc); err != nil {
			st.Close()
			closeListeners()
			return fmt.Errorf("l2pop: %w", err)
		}
		cfg.Agents.L2Pop = l2p
	}
	syncer, err := neutronMode(st, &cfg, log)
	if err != nil {
		st.Close()
		closeListeners()
		return err
	}
	handler, feed, agentHandler, agents, page, err := plans(st, cfg, log)
	if err != nil {
		st.Close()
		closeListeners()
		return err
	}
	srv := &http.Server{
		Handler: deadlines(logging.HTTP(handler, logging.HTTPConfig{Logger: log.With("component", "http"), AccessLog: cfg.AccessLog}),
			cfg.ReadTimeout, cfg.WriteTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		TLSConfig:         tlsConf,
	}
	// The status page's event streams last as long as their browser tab:
	// Shutdown ends them rather than wait for them.
	srv.RegisterOnShutdown(page.Close)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(agents)+6) // feed, agents, HTTP server, metrics, pprof, l2pop, mirror
	var wg sync.WaitGroup
	// The feed stops with runCtx, which also ends the plan streams (their
	// watches close), so Shutdown below does not wait for them.
	wg.Go(func() {
		if err := feed.Run(runCtx); err != nil && runCtx.Err() == nil {
			errc <- fmt.Errorf("plan feed: %w", err)
			cancel()
		}
	})
	wg.Go(func() { _ = agentHandler.RunPresence(runCtx, cfg.PresenceClaimInterval) })
	wg.Go(func() { _ = page.Run(runCtx) })
	// A replica cut off from its database ends its plan streams (agents
	// then move to another replica).
	wg.Go(func() { _ = agentHandler.RunDatabaseGate(runCtx, 0) })
	for _, a := range agents {
		wg.Go(func() {
			if err := a.Run(runCtx); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("switch agent: %w", err)
				cancel()
			}
		})
	}
	if l2p != nil {
		wg.Go(func() {
			if err := l2p.Run(runCtx); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("l2pop: %w", err)
				cancel()
			}
		})
	}
	if syncer != nil {
		wg.Go(func() {
			if err := syncer.Run(runCtx); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("neutron mirror: %w", err)
				cancel()
			}
		})
		if cfg.Neutron.Notifications && l2p != nil {
			wg.Go(func() { l2p.ListenNeutron(runCtx, syncer.Hint) })
		}
	}
	if certs != nil && cfg.TLS.Reload != nil {
		wg.Go(func() { reloadTLS(runCtx.Done(), cfg.TLS.Reload, certs, log.With("component", "tls")) })
	}
	wg.Go(func() {
		serve := srv.Serve
		if tlsConf != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: %w", err)
			cancel()
		}
	})
	log.Info("listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "max_connections", cfg.MaxConnections)
	if mln != nil {
		reg := cfg.API.Registry
		wg.Go(func() {
			// Its /healthz probes the store as the API's does.
			if err := metrics.ServeWith(runCtx, mln, reg, st.Check, log); err != nil && runCtx.Err() == nil {
				errc <- err
				cancel()
			}
		})
		log.Info("listening", "addr", mln.Addr().String(), "serves", "metrics")
	}
	if pln != nil {
		wg.Go(func() {
			if err := servePprof(runCtx, pln, log); err != nil && runCtx.Err() == nil {
				errc <- err
				cancel()
			}
		})
		log.Info("listening", "addr", pln.Addr().String(), "serves", "pprof")
	}
	if cfg.Listening != nil {
		cfg.Listening(ln.Addr())
	}

	<-runCtx.Done()
	log.Info("shutting down", "drain_timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer scancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
		srv.Close()
	}
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		errs = append(errs, err)
	}
	if err := st.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// neutronMode prepares the OpenStack mode when cfg.Neutron is set: the
// inventory mirror (returned, to be run), the refusal of inventory writes
// and the status line, and the proxy in front of Neutron.
func neutronMode(st store.Store, cfg *Config, log *slog.Logger) (*neutronsync.Syncer, error) {
	if cfg.Neutron == nil {
		return nil, nil
	}
	sc := cfg.Neutron.Sync
	if sc.Logger == nil {
		sc.Logger = log.With("component", "neutronsync")
	}
	if sc.Registerer == nil {
		sc.Registerer = cfg.API.Registry
	}
	syncer, err := neutronsync.New(st, sc)
	if err != nil {
		return nil, err
	}
	cfg.API.InventoryReadOnly = inventoryReadOnly
	cfg.Agents.InventoryReadOnly = inventoryReadOnly
	cfg.Agents.Inventory = func() *agentwire.InventoryStatus {
		s := syncer.Status()
		return &agentwire.InventoryStatus{Source: "neutron", URL: s.URL, State: s.State, Error: s.Error,
			UnreachableSince: neutron.Time{Time: s.UnreachableSince}, LastSync: neutron.Time{Time: s.LastSync},
			LastFullSync: neutron.Time{Time: s.LastFullSync}, Networks: s.Networks, Ports: s.Ports, Hosts: s.Hosts,
			Summary: s.String()}
	}
	if cfg.Neutron.Proxy {
		p, err := neutronproxy.New(sc.URL, neutronproxy.Config{Logger: log.With("component", "neutronproxy")})
		if err != nil {
			return nil, err
		}
		cfg.API.Upstream = p
	}
	return syncer, nil
}

// openStore opens the store, waiting for a database that cannot be
// reached yet (a server started before its PostgreSQL, or during a
// failover): it retries with a capped backoff, logging each failure, until
// ctx ends. Other failures (a bad DSN, a failed migration, any SQLite
// failure: a file is not a server to wait for) end it at once.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, error) {
	maxWait := cfg.StartRetry
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	wait := 250 * time.Millisecond
	for {
		st, err := store.Open(ctx, cfg.Database, cfg.Store)
		if err == nil || !store.IsUnavailable(err) || !store.IsPostgres(cfg.Database) || ctx.Err() != nil {
			return st, err
		}
		log.Warn("database unavailable at start; retrying", "database", store.Redact(cfg.Database), "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// plans creates the plan feed, the HTTP handler (the northbound API, and
// the agent protocol and the status page beside it) and the embedded
// switch agents.
func plans(st store.Store, cfg Config, log *slog.Logger) (http.Handler, *planfeed.Feed, *agentapi.Handler, []*switchagent.Agent, *ui.Handler, error) {
	if cfg.Feed.Logger == nil {
		cfg.Feed.Logger = log.With("component", "planfeed")
	}
	if cfg.Feed.Registerer == nil {
		cfg.Feed.Registerer = cfg.API.Registry
	}
	feed, err := planfeed.New(st, cfg.Feed)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	ac := cfg.Agents
	if ac.Logger == nil {
		ac.Logger = log.With("component", "agentapi")
	}
	if ac.Authenticator == nil {
		ac.Authenticator = cfg.API.Authenticator
	}
	if ac.Policy == nil {
		ac.Policy = cfg.API.Policy
	}
	if ac.Registerer == nil {
		ac.Registerer = cfg.API.Registry
	}
	if ac.Database == "" {
		ac.Database = store.Redact(cfg.Database)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api.New(st, cfg.API))
	// The agents' status writes wake the status page (most make no
	// revision the page would hear of); page is set before any runs.
	var page *ui.Handler
	wst := ui.WatchStatus(st, func() { page.Changed() })
	agentHandler := agentapi.New(wst, feed, ac)
	agentHandler.Mount(mux)
	uc := cfg.UI
	if uc.Logger == nil {
		uc.Logger = log.With("component", "ui")
	}
	if uc.Authenticator == nil {
		uc.Authenticator = cfg.API.Authenticator
	}
	if uc.Policy == nil {
		uc.Policy = cfg.API.Policy
	}
	if uc.Registerer == nil {
		uc.Registerer = cfg.API.Registry
	}
	page = ui.New(st, agentHandler, uc)
	page.Mount(mux)
	var agents []*switchagent.Agent
	// Embedded agents with a name take part in the election of their
	// switches directly on the store, beside remote switch agents.
	id := lease.Identity{Instance: "server-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	for _, sc := range cfg.Switches {
		if sc.Leases == nil && sc.AgentName != "" {
			id.Agent = sc.AgentName
			sc.Leases = StoreLeases(st, store.LeaseSwitch, id)
		}
		if sc.Logger == nil {
			sc.Logger = log.With("component", "switchagent")
		}
		if sc.Registerer == nil {
			sc.Registerer = cfg.API.Registry
		}
		a, err := switchagent.New(sc, feed.Switches(), wst)
		if err != nil {
			return nil, nil, nil, nil, nil, err
		}
		agents = append(agents, a)
	}
	return mux, feed, agentHandler, agents, page, nil
}

package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/capool"
	"github.com/l2gw/l2gw/internal/keystone"
	"github.com/l2gw/l2gw/internal/neutronsync"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/store"
)

// serverFlags are the flags of `l2gw server`, with L2GW_* fallbacks.
type serverFlags struct {
	bind, database, dataDir, auth, logLevel string
	logFormat, metricsBind                  string
	insecureNoauthRemote, accessLog         bool
	metricsAuth                             bool
	shutdownTimeout                         time.Duration
	readTimeout, writeTimeout               time.Duration
	switches                                []string // OVSDB targets of embedded switch agents
	replication                             replicationFlags
	tlsCert, tlsKey, tlsClientCA            string
	keystone                                keystoneFlags
	lease                                   leaseFlags // of the embedded switch agents
	l2pop                                   l2popFlags
	neutron                                 neutronFlags
	agentRole                               string
	agentSwitches                           []string // AGENT=SW1,SW2
	maxConns                                int
	maxReportBytes                          int64
	dbTimeout, presenceExpiry               time.Duration
	pprofAddr                               string
}

// neutronFlags configure the OpenStack mode (--inventory neutron).
type neutronFlags struct {
	inventory, url string
	poll, resync   time.Duration
	proxy, notify  bool
}

func (n *neutronFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&n.inventory, "inventory", envOr("L2GW_INVENTORY", "standalone"),
		"where networks, ports and hosts come from: standalone (l2gw's own API) or neutron (mirrored read-only from --neutron-url) (env L2GW_INVENTORY)")
	fl.StringVar(&n.url, "neutron-url", os.Getenv("L2GW_NEUTRON_URL"),
		"with --inventory neutron: neutron-server's endpoint, http(s)://HOST:9696; with --auth keystone l2gw sends its service user's token (env L2GW_NEUTRON_URL)")
	fl.DurationVar(&n.poll, "neutron-poll-interval", envDuration("L2GW_NEUTRON_POLL_INTERVAL", neutronsync.DefaultPollInterval),
		"with --inventory neutron: how often to ask Neutron what changed (changed_since) (env L2GW_NEUTRON_POLL_INTERVAL)")
	fl.DurationVar(&n.resync, "neutron-resync-interval", envDuration("L2GW_NEUTRON_RESYNC_INTERVAL", neutronsync.DefaultResyncInterval),
		"with --inventory neutron: how often to list everything (catches deletions; also after any error) (env L2GW_NEUTRON_RESYNC_INTERVAL)")
	fl.BoolVar(&n.proxy, "neutron-proxy", os.Getenv("L2GW_NEUTRON_PROXY") == "true",
		"with --inventory neutron: forward every request that is not for l2gw's resources to --neutron-url, so that one endpoint serves both (env L2GW_NEUTRON_PROXY)")
	fl.BoolVar(&n.notify, "neutron-notifications", os.Getenv("L2GW_NEUTRON_NOTIFICATIONS") == "true",
		"with --inventory neutron and --transport-url: consume Neutron's notifications (driver messagingv2) on l2gw's own queue as a hint to poll at once (env L2GW_NEUTRON_NOTIFICATIONS)")
}

// config returns the OpenStack mode's configuration, nil standalone. With
// keystone authentication, l2gw reads Neutron with its service token.
func (n neutronFlags) config(auth api.Authenticator) (*server.NeutronConfig, error) {
	switch n.inventory {
	case "", "standalone":
		if n.proxy || n.notify {
			return nil, errors.New("--neutron-proxy and --neutron-notifications need --inventory neutron")
		}
		return nil, nil
	case "neutron":
	default:
		return nil, fmt.Errorf("--inventory %q: want standalone or neutron", n.inventory)
	}
	u, err := url.Parse(n.url)
	if n.url == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--inventory neutron needs --neutron-url http(s)://HOST:PORT (got %q)", n.url)
	}
	if n.poll <= 0 || n.resync <= 0 {
		return nil, errors.New("--neutron-poll-interval and --neutron-resync-interval must be positive")
	}
	c := &server.NeutronConfig{Proxy: n.proxy, Notifications: n.notify, Sync: neutronsync.Config{URL: n.url, PollInterval: n.poll, ResyncInterval: n.resync}}
	if k, ok := auth.(api.Keystone); ok {
		c.Sync.Token = k.V.ServiceToken
	}
	return c, nil
}

// keystoneFlags configure --auth keystone.
type keystoneFlags struct {
	url, user, password, project, userDomain, projectDomain string
	cafile, adminRole                                       string
	cacheTTL, timeout                                       time.Duration
}

func (k *keystoneFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&k.url, "keystone-url", os.Getenv("L2GW_KEYSTONE_URL"), "with --auth keystone: the identity endpoint, http://HOST:5000/v3 (/v3 added if missing; env L2GW_KEYSTONE_URL)")
	fl.StringVar(&k.user, "service-user", os.Getenv("L2GW_SERVICE_USER"), "with --auth keystone: l2gw's service user, which validates callers' tokens (env L2GW_SERVICE_USER)")
	fl.StringVar(&k.password, "service-password", "", "with --auth keystone: the service user's password (prefer env L2GW_SERVICE_PASSWORD: a flag shows in ps)")
	fl.StringVar(&k.project, "service-project", envOr("L2GW_SERVICE_PROJECT", "service"), "with --auth keystone: the service user's project (env L2GW_SERVICE_PROJECT)")
	fl.StringVar(&k.userDomain, "service-user-domain", envOr("L2GW_SERVICE_USER_DOMAIN", "Default"), "with --auth keystone: the service user's domain name (env L2GW_SERVICE_USER_DOMAIN)")
	fl.StringVar(&k.projectDomain, "service-project-domain", envOr("L2GW_SERVICE_PROJECT_DOMAIN", "Default"), "with --auth keystone: the service project's domain name (env L2GW_SERVICE_PROJECT_DOMAIN)")
	fl.StringVar(&k.cafile, "keystone-cafile", os.Getenv("L2GW_KEYSTONE_CAFILE"), "with --auth keystone: PEM CA bundle to verify an https Keystone (default the system's; env L2GW_KEYSTONE_CAFILE)")
	fl.StringVar(&k.adminRole, "admin-role", envOr("L2GW_ADMIN_ROLE", "admin"), "with --auth keystone: the role that makes a token admin (env L2GW_ADMIN_ROLE)")
	fl.DurationVar(&k.cacheTTL, "token-cache-ttl", envDuration("L2GW_TOKEN_CACHE_TTL", 300*time.Second), "with --auth keystone: how long a validated token is trusted without asking Keystone again, never past its expiry (env L2GW_TOKEN_CACHE_TTL)")
	fl.DurationVar(&k.timeout, "keystone-timeout", envDuration("L2GW_KEYSTONE_TIMEOUT", 5*time.Second), "with --auth keystone: bound of each call to Keystone (env L2GW_KEYSTONE_TIMEOUT)")
}

// envInt is env key as an integer, or def when unset or unparsable.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}

// envDuration is env key as a duration, or def when unset or unparsable
// (flag validation then reports nothing: the default stands).
func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

// authenticator builds the keystone authenticator.
func (k keystoneFlags) authenticator() (api.Authenticator, error) {
	if k.password == "" {
		k.password = os.Getenv("L2GW_SERVICE_PASSWORD")
	}
	if k.url == "" || k.user == "" || k.password == "" || k.project == "" {
		return nil, errors.New("--auth keystone needs --keystone-url, --service-user, --service-password (or L2GW_SERVICE_PASSWORD) and --service-project")
	}
	u, err := url.Parse(k.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--keystone-url %q: want http(s)://HOST:PORT/v3", k.url)
	}
	if k.cacheTTL <= 0 || k.timeout <= 0 {
		return nil, errors.New("--token-cache-ttl and --keystone-timeout must be positive")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if k.cafile != "" {
		pool, err := capool.Load(k.cafile)
		if err != nil {
			return nil, fmt.Errorf("--keystone-cafile: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	v, err := keystone.New(keystone.Config{
		URL: k.url, Username: k.user, Password: k.password, Project: k.project,
		UserDomain: k.userDomain, ProjectDomain: k.projectDomain,
		HTTPClient: &http.Client{Transport: tr, Timeout: k.timeout},
		Timeout:    k.timeout, CacheTTL: k.cacheTTL,
	})
	if err != nil {
		return nil, err
	}
	return api.Keystone{V: v, AdminRole: k.adminRole}, nil
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the l2gw API server",
		Long: `Run the l2gw API server: the Neutron-compatible REST API under /v2.0
(l2-gateways, l2-gateway-connections, networks, ports, hosts, switches,
local-macs), /healthz and /metrics, backed by SQLite (default) or PostgreSQL.

With no flags it serves on 127.0.0.1:9696 with noauth (every caller is admin)
and an SQLite database in the data directory ($L2GW_DATA_DIR, else
$XDG_STATE_HOME/l2gw, else ~/.local/state/l2gw).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := f.config()
			if err != nil {
				return err
			}
			cfg.Logger = logger
			if cfg.PprofBind != "" {
				// Sampled, so cheap enough to leave on while profiling: a
				// block event of 10µs or more, one mutex contention in 10.
				runtime.SetBlockProfileRate(10_000)
				runtime.SetMutexProfileFraction(10)
			}
			if cfg.TLS != nil {
				reload, stop := sighupReload(cmd.Context())
				defer stop()
				cfg.TLS.Reload = reload
			}
			if err := server.Run(cmd.Context(), cfg); err != nil {
				logger.Error("server failed", "err", err)
				return errSilent
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bind, "bind", envOr("L2GW_BIND", "127.0.0.1:9696"), "listen address host:port (port 0 picks one; env L2GW_BIND)")
	fl.StringVar(&f.database, "database", os.Getenv("L2GW_DATABASE"), "store: sqlite:///path/l2gw.db or postgres://… (default sqlite in --data-dir; env L2GW_DATABASE)")
	fl.StringVar(&f.dataDir, "data-dir", os.Getenv("L2GW_DATA_DIR"), "state directory, created if missing (default $XDG_STATE_HOME/l2gw or ~/.local/state/l2gw; env L2GW_DATA_DIR)")
	fl.StringVar(&f.auth, "auth", envOr("L2GW_AUTH", "noauth"), "authentication: noauth or keystone (env L2GW_AUTH)")
	f.keystone.add(fl)
	f.neutron.add(fl)
	fl.BoolVar(&f.insecureNoauthRemote, "insecure-noauth-remote", false,
		"labs only: allow --auth noauth on a non-loopback --bind (everyone who reaches it is admin, agents included)")
	fl.StringVar(&f.metricsBind, "metrics-bind", os.Getenv("L2GW_METRICS_BIND"),
		"serve /metrics and /healthz unauthenticated on this separate host:port and not on --bind (default: /metrics on --bind; env L2GW_METRICS_BIND)")
	fl.BoolVar(&f.metricsAuth, "metrics-auth", os.Getenv("L2GW_METRICS_AUTH") == "true",
		"/metrics on --bind needs a token like the API (default off: scrapers expect none; env L2GW_METRICS_AUTH)")
	fl.StringVar(&f.logLevel, "log-level", envOr("L2GW_LOG_LEVEL", "info"), logLevelUsage+" (env L2GW_LOG_LEVEL)")
	fl.StringVar(&f.logFormat, "log-format", os.Getenv("L2GW_LOG_FORMAT"), logFormatUsage+" (env L2GW_LOG_FORMAT)")
	fl.BoolVar(&f.accessLog, "access-log", envOr("L2GW_ACCESS_LOG", "true") != "false",
		"log every API and agent protocol request at info: method, path, status, duration, request_id (env L2GW_ACCESS_LOG)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how long to drain requests at stop")
	fl.DurationVar(&f.readTimeout, "read-timeout", envDuration("L2GW_READ_TIMEOUT", server.DefaultReadTimeout), "how long a request's body may take to arrive; 0 for no limit (env L2GW_READ_TIMEOUT)")
	fl.DurationVar(&f.writeTimeout, "write-timeout", envDuration("L2GW_WRITE_TIMEOUT", server.DefaultWriteTimeout), "how long an answer may take to be written (plan streams and /ui/ events exempt); 0 for no limit (env L2GW_WRITE_TIMEOUT)")
	fl.IntVar(&f.maxConns, "max-connections", envInt("L2GW_MAX_CONNECTIONS", server.DefaultMaxConnections),
		"open API connections at most (agents' plan streams included); more wait until one closes; 0 for no limit (env L2GW_MAX_CONNECTIONS)")
	fl.Int64Var(&f.maxReportBytes, "max-report-bytes", int64(envInt("L2GW_MAX_REPORT_BYTES", agentapi.DefaultMaxReportBytes)),
		"largest switch report body an agent may send, in bytes; 0 for the default (env L2GW_MAX_REPORT_BYTES)")
	fl.StringArrayVar(&f.switches, "switch", envList("L2GW_SWITCH"), "run a switch agent in the server for this OVSDB target: unix:PATH, tcp:HOST:PORT (repeatable; env L2GW_SWITCH, comma-separated)")
	f.lease.add(fl, hostname(), "switch (the --switch agents')")
	fl.StringVar(&f.replication.mode, "replication-mode", envOr("L2GW_REPLICATION_MODE", planner.ReplicationSourceNode),
		"BUM replication of logical switches: source_node (switches flood to the network's host VTEPs) or service_node (to --service-node) (env L2GW_REPLICATION_MODE)")
	fl.StringArrayVar(&f.replication.serviceNodes, "service-node", envList("L2GW_SERVICE_NODES"),
		"IPv4 tunnel IP of a service node, with --replication-mode service_node (repeatable; env L2GW_SERVICE_NODES, comma-separated)")
	fl.StringArrayVar(&f.replication.switches, "switch-replication", splitSwitchReplication(os.Getenv("L2GW_SWITCH_REPLICATION")),
		"per-switch replication NAME=MODE[:IP,IP…], e.g. tor1=service_node:192.0.2.50,192.0.2.51 or tor2=source_node (repeatable; env L2GW_SWITCH_REPLICATION, separated by ';' or spaces)")
	fl.StringVar(&f.tlsCert, "tls-cert", os.Getenv("L2GW_TLS_CERT"),
		"serve HTTPS with this certificate chain (PEM), re-read with --tls-key on SIGHUP (env L2GW_TLS_CERT)")
	fl.StringVar(&f.tlsKey, "tls-key", os.Getenv("L2GW_TLS_KEY"), "private key (PEM) of --tls-cert (env L2GW_TLS_KEY)")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", os.Getenv("L2GW_TLS_CLIENT_CA"),
		"verify client certificates against this CA (PEM); clients without one still connect (env L2GW_TLS_CLIENT_CA)")
	f.l2pop.add(fl)
	fl.StringVar(&f.agentRole, "agent-role", envOr("L2GW_AGENT_ROLE", agentapi.DefaultAgentRole),
		"with --auth keystone: the role a token needs to use the agent protocol /l2gw/v1 for any host or switch; tokens without it (admins' too) get 403 (env L2GW_AGENT_ROLE)")
	fl.StringArrayVar(&f.agentSwitches, "agent-switches", splitSwitchReplication(os.Getenv("L2GW_AGENT_SWITCHES")),
		"AGENT=SW1,SW2: the switches a switch agent certificate (OU "+agentapi.SwitchAgentOU+") naming AGENT serves beside those it names itself (repeatable; env L2GW_AGENT_SWITCHES, separated by ';' or spaces)")
	fl.DurationVar(&f.dbTimeout, "db-timeout", envDuration("L2GW_DB_TIMEOUT", store.DefaultTimeout),
		"PostgreSQL: bound of connecting and of each statement and transaction; a frozen or unreachable database then answers 503 instead of hanging (env L2GW_DB_TIMEOUT)")
	fl.DurationVar(&f.presenceExpiry, "presence-expiry", envDuration("L2GW_PRESENCE_EXPIRY", store.DefaultPresenceExpiry),
		"how long an agent shows connected after the replica serving it stopped renewing its presence (a replica that died); renewed every third of it (env L2GW_PRESENCE_EXPIRY)")
	fl.StringVar(&f.pprofAddr, "pprof-addr", os.Getenv("L2GW_PPROF_ADDR"),
		"serve Go's profiles (CPU, heap, goroutine, block, mutex) under /debug/pprof/ on this loopback host:port, unauthenticated; off by default (env L2GW_PPROF_ADDR)")
	return cmd
}

// config validates the flags, creates the data directory and logs the
// effective configuration once.
func (f serverFlags) config() (server.Config, *slog.Logger, error) {
	logger, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return server.Config{}, nil, err
	}
	if _, _, err := net.SplitHostPort(f.bind); err != nil {
		return server.Config{}, nil, fmt.Errorf("--bind %q: %w", f.bind, err)
	}
	var auth api.Authenticator
	switch f.auth {
	case "noauth":
		auth = api.NoAuth{}
		if !isLoopback(f.bind) && !f.insecureNoauthRemote {
			return server.Config{}, nil, fmt.Errorf("--auth noauth makes every caller admin: refusing non-loopback --bind %s without --insecure-noauth-remote", f.bind)
		}
	case "keystone":
		if auth, err = f.keystone.authenticator(); err != nil {
			return server.Config{}, nil, err
		}
	default:
		return server.Config{}, nil, fmt.Errorf("--auth %q: want noauth or keystone", f.auth)
	}
	var tlsConf *server.TLSConfig
	switch {
	case f.tlsCert != "" && f.tlsKey != "":
		tlsConf = &server.TLSConfig{CertFile: f.tlsCert, KeyFile: f.tlsKey, ClientCAFile: f.tlsClientCA}
	case f.tlsCert != "" || f.tlsKey != "":
		return server.Config{}, nil, errors.New("--tls-cert and --tls-key go together")
	case f.tlsClientCA != "":
		return server.Config{}, nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if f.metricsBind != "" {
		if _, _, err := net.SplitHostPort(f.metricsBind); err != nil {
			return server.Config{}, nil, fmt.Errorf("--metrics-bind %q: %w", f.metricsBind, err)
		}
		if f.metricsAuth {
			return server.Config{}, nil, errors.New("--metrics-auth applies to /metrics on --bind: it cannot be used with --metrics-bind")
		}
	}
	if f.pprofAddr != "" && !isLoopback(f.pprofAddr) {
		// A profile holds what the process holds (tokens, passwords in
		// memory) and the endpoint has no authentication.
		return server.Config{}, nil, fmt.Errorf("--pprof-addr %q: want a loopback host:port (127.0.0.1:6060); reach it from elsewhere through an SSH tunnel", f.pprofAddr)
	}
	rep, err := f.replication.planner()
	if err != nil {
		return server.Config{}, nil, err
	}
	agentSwitches, err := parseAgentSwitches(f.agentSwitches)
	if err != nil {
		return server.Config{}, nil, err
	}
	if f.maxConns < 0 || f.maxReportBytes < 0 {
		return server.Config{}, nil, errors.New("--max-connections and --max-report-bytes must not be negative")
	}
	if f.agentRole == "" {
		f.agentRole = agentapi.DefaultAgentRole
	}
	dir := f.dataDir
	if dir == "" {
		d, err := defaultDataDir()
		if err != nil {
			return server.Config{}, nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return server.Config{}, nil, fmt.Errorf("data dir: %w", err)
	}
	dsn := f.database
	if dsn == "" {
		abs, err := filepath.Abs(filepath.Join(dir, "l2gw.db"))
		if err != nil {
			return server.Config{}, nil, fmt.Errorf("data dir: %w", err)
		}
		dsn = "sqlite://" + abs
	}
	switches, err := embeddedSwitches(f.switches)
	if err != nil {
		return server.Config{}, nil, err
	}
	if len(switches) > 0 {
		id, err := f.lease.identity()
		if err != nil {
			return server.Config{}, nil, err
		}
		// The store's leases are bound in server.Run, which opens it.
		for i := range switches {
			switches[i].AgentName, switches[i].LeasePeriod = id.Agent, f.lease.period
		}
	}
	l2p, err := f.l2pop.config()
	if err != nil {
		return server.Config{}, nil, err
	}
	neutronConf, err := f.neutron.config(auth)
	if err != nil {
		return server.Config{}, nil, err
	}
	if neutronConf != nil && neutronConf.Notifications && l2p == nil {
		return server.Config{}, nil, errors.New("--neutron-notifications needs --transport-url: the notifications come over the cloud's RabbitMQ")
	}
	// Zero values (flags built without their defaults) take the store's.
	if f.dbTimeout < 0 || f.presenceExpiry != 0 && f.presenceExpiry < time.Second {
		return server.Config{}, nil, errors.New("--db-timeout must be positive and --presence-expiry at least 1s")
	}
	logger.Info("effective config", "bind", f.bind, "database", store.Redact(dsn), "data_dir", dir,
		"auth", f.auth, "keystone_url", f.keystone.url, "service_user", f.keystone.user, "token_cache_ttl", f.keystone.cacheTTL, "log_level", f.logLevel, "log_format", effectiveLogFormat(f.logFormat), "access_log", f.accessLog, "shutdown_timeout", f.shutdownTimeout, "read_timeout", f.readTimeout, "write_timeout", f.writeTimeout, "max_connections", f.maxConns, "max_report_bytes", f.maxReportBytes, "switches", f.switches,
		"replication", replicationLog(rep),
		"tls_cert", f.tlsCert, "tls_client_ca", f.tlsClientCA, "metrics_bind", f.metricsBind, "metrics_auth", f.metricsAuth,
		"transport_url", f.l2pop.redactedURL(l2p),
		"inventory", f.neutron.inventory, "neutron_url", f.neutron.url, "neutron_poll_interval", f.neutron.poll,
		"neutron_resync_interval", f.neutron.resync, "neutron_proxy", f.neutron.proxy, "neutron_notifications", f.neutron.notify,
		"agent_role", f.agentRole, "agent_switches", f.agentSwitches,

		"db_timeout", f.dbTimeout, "presence_expiry", f.presenceExpiry, "pprof_addr", f.pprofAddr)
	if f.auth == "noauth" && !isLoopback(f.bind) {
		logger.Warn("INSECURE: --insecure-noauth-remote serves noauth on a non-loopback address: everyone who can reach it is admin, agents included: anyone can register hosts, report switches and their MACs, steer traffic between networks, and read or change every gateway and connection; use it in labs only",
			"bind", f.bind)
	}
	return server.Config{
		Bind:            f.bind,
		Database:        dsn,
		API:             api.Config{Authenticator: auth, MetricsAuth: f.metricsAuth},
		ShutdownTimeout: f.shutdownTimeout,
		ReadTimeout:     noLimit(f.readTimeout),
		WriteTimeout:    noLimit(f.writeTimeout),
		AccessLog:       f.accessLog,
		MetricsBind:     f.metricsBind,
		Switches:        switches,
		Feed:            planfeed.Config{Planner: rep},
		TLS:             tlsConf,
		L2Pop:           l2p,
		Neutron:         neutronConf,
		Agents:          agentapi.Config{AgentRole: f.agentRole, AgentSwitches: agentSwitches, MaxReportBytes: f.maxReportBytes},
		MaxConnections:  noLimitInt(f.maxConns),
		Store:           store.Config{Timeout: f.dbTimeout, PresenceExpiry: f.presenceExpiry},
		PprofBind:       f.pprofAddr,
	}, logger, nil
}

func defaultDataDir() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "l2gw"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("no data dir: set --data-dir, L2GW_DATA_DIR, XDG_STATE_HOME or HOME")
	}
	return filepath.Join(home, ".local", "state", "l2gw"), nil
}

// isLoopback reports whether host:port listens on loopback only.
func isLoopback(bind string) bool {
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// noLimit maps a flag's 0 ("no limit") to the server config's negative.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// parseAgentSwitches parses --agent-switches AGENT=SW1,SW2 values into
// agentapi.Config.AgentSwitches; an agent given twice has the union.
func parseAgentSwitches(vals []string) (map[string][]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, v := range vals {
		agent, list, ok := strings.Cut(v, "=")
		agent = strings.TrimSpace(agent)
		var switches []string
		for _, sw := range strings.Split(list, ",") {
			if sw = strings.TrimSpace(sw); sw != "" {
				switches = append(switches, sw)
			}
		}
		if !ok || agent == "" || len(switches) == 0 {
			return nil, fmt.Errorf("--agent-switches %q: want AGENT=SWITCH[,SWITCH…]", v)
		}
		out[agent] = append(out[agent], switches...)
	}
	return out, nil
}

// noLimitInt maps a flag's 0 ("no limit") to the server config's negative.
func noLimitInt(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

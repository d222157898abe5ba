package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/server"
)

// serverFlags are the flags of `l2gw server`, with L2GW_* fallbacks.
type serverFlags struct {
	bind, database, dataDir, auth, logLevel string
	logFormat                               string
	insecureNoauthRemote, accessLog         bool
	shutdownTimeout                         time.Duration
	readTimeout, writeTimeout               time.Duration
	switches                                []string // OVSDB targets of embedded switch agents
	replication                             replicationFlags
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
	fl.StringVar(&f.auth, "auth", envOr("L2GW_AUTH", "noauth"), "authentication: noauth (env L2GW_AUTH)")
	fl.BoolVar(&f.insecureNoauthRemote, "insecure-noauth-remote", false, "allow --auth noauth on a non-loopback --bind (everyone on the network is admin)")
	fl.StringVar(&f.logLevel, "log-level", envOr("L2GW_LOG_LEVEL", "info"), logLevelUsage+" (env L2GW_LOG_LEVEL)")
	fl.StringVar(&f.logFormat, "log-format", os.Getenv("L2GW_LOG_FORMAT"), logFormatUsage+" (env L2GW_LOG_FORMAT)")
	fl.BoolVar(&f.accessLog, "access-log", envOr("L2GW_ACCESS_LOG", "true") != "false",
		"log every API and agent protocol request at info: method, path, status, duration, request_id (env L2GW_ACCESS_LOG)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how long to drain requests at stop")
	fl.DurationVar(&f.readTimeout, "read-timeout", server.DefaultReadTimeout, "how long a request's body may take to arrive; 0 for no limit")
	fl.DurationVar(&f.writeTimeout, "write-timeout", server.DefaultWriteTimeout, "how long an answer may take to be written (plan streams and /ui/ events exempt); 0 for no limit")
	fl.StringArrayVar(&f.switches, "switch", envList("L2GW_SWITCH"), "run a switch agent in the server for this OVSDB target: unix:PATH, tcp:HOST:PORT (repeatable; env L2GW_SWITCH, comma-separated)")
	fl.StringVar(&f.replication.mode, "replication-mode", envOr("L2GW_REPLICATION_MODE", planner.ReplicationSourceNode),
		"BUM replication of logical switches: source_node (switches flood to the network's host VTEPs) or service_node (to --service-node) (env L2GW_REPLICATION_MODE)")
	fl.StringArrayVar(&f.replication.serviceNodes, "service-node", envList("L2GW_SERVICE_NODES"),
		"IPv4 tunnel IP of a service node, with --replication-mode service_node (repeatable; env L2GW_SERVICE_NODES, comma-separated)")
	fl.StringArrayVar(&f.replication.switches, "switch-replication", splitSwitchReplication(os.Getenv("L2GW_SWITCH_REPLICATION")),
		"per-switch replication NAME=MODE[:IP,IP…], e.g. tor1=service_node:192.0.2.50,192.0.2.51 or tor2=source_node (repeatable; env L2GW_SWITCH_REPLICATION, separated by ';' or spaces)")
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
	default:
		return server.Config{}, nil, fmt.Errorf("--auth %q: only noauth is supported", f.auth)
	}
	rep, err := f.replication.planner()
	if err != nil {
		return server.Config{}, nil, err
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
	logger.Info("effective config", "bind", f.bind, "database", redactDSN(dsn), "data_dir", dir,
		"auth", f.auth, "log_level", f.logLevel, "log_format", effectiveLogFormat(f.logFormat), "access_log", f.accessLog, "shutdown_timeout", f.shutdownTimeout, "read_timeout", f.readTimeout, "write_timeout", f.writeTimeout, "switches", f.switches,
		"replication", replicationLog(rep))
	return server.Config{
		Bind:            f.bind,
		Database:        dsn,
		API:             api.Config{Authenticator: auth},
		ShutdownTimeout: f.shutdownTimeout,
		ReadTimeout:     noLimit(f.readTimeout),
		WriteTimeout:    noLimit(f.writeTimeout),
		AccessLog:       f.accessLog,
		Switches:        switches,
		Feed:            planfeed.Config{Planner: rep},
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

// redactDSN hides a password in a postgres:// DSN before logging it.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}

// noLimit maps a flag's 0 ("no limit") to the server config's negative.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

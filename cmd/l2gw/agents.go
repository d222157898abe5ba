package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/capool"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/keystone"
	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/switchagent"
)

// inheritedString is the value of a flag the root command defines for all
// sub-commands (--token), or def when the command runs without the root.
func inheritedString(cmd *cobra.Command, name, def string) string {
	if f := cmd.Flags().Lookup(name); f != nil {
		return f.Value.String()
	}
	return def
}

// agentLink connects an agent to the server at serverURL over the agent
// protocol, authenticating with cmd's --token (env L2GW_TOKEN) when set;
// over HTTPS it trusts --cacert (env L2GW_CACERT) and presents --cert and
// --key when given. Its HTTP client has no whole-request timeout: plan
// streams last as long as the agent.
func agentLink(cmd *cobra.Command, serverURL string) (*agentlink.Link, error) {
	conf, err := clientTLS(inheritedString(cmd, "cacert", os.Getenv("L2GW_CACERT")),
		inheritedString(cmd, "cert", ""), inheritedString(cmd, "key", ""))
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithUserAgent("l2gw-agent"),
		client.WithHTTPClient(&http.Client{Transport: httpTransport(conf)}),
	}
	token := inheritedString(cmd, "token", os.Getenv("L2GW_TOKEN"))
	switch authURL := inheritedString(cmd, "os-auth-url", ""); {
	case authURL != "" && token != "":
		return nil, errors.New("--token (L2GW_TOKEN) and --os-auth-url (OS_AUTH_URL) exclude each other: give the agent a token or a user to log in as")
	case authURL != "":
		user, password := inheritedString(cmd, "os-username", ""), os.Getenv("OS_PASSWORD")
		if user == "" || password == "" {
			return nil, errors.New("--os-auth-url needs --os-username (OS_USERNAME) and the password in OS_PASSWORD")
		}
		login, err := keystone.NewLogin(keystone.Config{URL: authURL, Username: user, Password: password,
			Project: inheritedString(cmd, "os-project-name", "service"), UserDomain: inheritedString(cmd, "os-user-domain-name", ""),
			ProjectDomain: inheritedString(cmd, "os-project-domain-name", "")})
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTokenFunc(login.Token))
	case token != "":
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.New(serverURL, opts...)
	if err != nil {
		return nil, err
	}
	return agentlink.New(c, agentlink.Config{}), nil
}

// addAgentKeystoneFlags adds the flags with which an agent logs in to
// Keystone as a service user and renews its token itself, rather than
// take a fixed --token that expires. The password is read from OS_PASSWORD
// only: a flag would show in ps.
func addAgentKeystoneFlags(f *pflag.FlagSet) {
	f.String("os-auth-url", os.Getenv("OS_AUTH_URL"), "Keystone endpoint (http://HOST:5000/v3): log in as --os-username with the password in OS_PASSWORD and renew the token before it expires (env OS_AUTH_URL)")
	f.String("os-username", os.Getenv("OS_USERNAME"), "with --os-auth-url: the agents' service user, which needs the server's --agent-role (env OS_USERNAME)")
	f.String("os-project-name", envOr("OS_PROJECT_NAME", "service"), "with --os-auth-url: the service user's project (env OS_PROJECT_NAME)")
	f.String("os-user-domain-name", envOr("OS_USER_DOMAIN_NAME", "Default"), "with --os-auth-url: the user's domain (env OS_USER_DOMAIN_NAME)")
	f.String("os-project-domain-name", envOr("OS_PROJECT_DOMAIN_NAME", "Default"), "with --os-auth-url: the project's domain (env OS_PROJECT_DOMAIN_NAME)")
}

// newHostAgentCmd is `l2gw host-agent` talking to the server over HTTP.
func newHostAgentCmd() *cobra.Command {
	var cmd *cobra.Command
	cmd = newHostAgentCmdWith(func(serverURL string) (planstream.HostSource, hostagent.Registrar, error) {
		link, err := agentLink(cmd, serverURL)
		if err != nil {
			return nil, nil, err
		}
		return link.Hosts(), link, nil
	})
	return cmd
}

// switchAgentOptions are the flags of `l2gw switch-agent`.
type switchAgentOptions struct {
	server, name           string
	metricsBind            string
	targets                []string
	sslCert, sslKey, sslCA string
	probe, audit           time.Duration
	lease                  leaseFlags
}

// ovsdbTLS is the client TLS configuration of ssl: targets.
func (o *switchAgentOptions) ovsdbTLS() (*tls.Config, error) {
	if o.sslCert == "" && o.sslKey == "" && o.sslCA == "" {
		return nil, nil
	}
	if o.sslCert == "" || o.sslKey == "" || o.sslCA == "" {
		return nil, errors.New("--ssl-cert, --ssl-key and --ssl-ca go together")
	}
	cert, err := tls.LoadX509KeyPair(o.sslCert, o.sslKey)
	if err != nil {
		return nil, fmt.Errorf("--ssl-cert/--ssl-key: %w", err)
	}
	pool, err := capool.Load(o.sslCA)
	if err != nil {
		return nil, fmt.Errorf("--ssl-ca: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// configs validates the options and returns one agent config per target.
func (o *switchAgentOptions) configs(log *slog.Logger) ([]switchagent.Config, error) {
	if o.server == "" {
		return nil, errors.New("--server is required")
	}
	if len(o.targets) == 0 {
		return nil, errors.New("--switch is required (tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH)")
	}
	if o.name != "" && len(o.targets) > 1 {
		return nil, errors.New("--name pins the switch of a single --switch target")
	}
	tlsCfg, err := o.ovsdbTLS()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []switchagent.Config
	for _, t := range o.targets {
		if seen[t] {
			return nil, fmt.Errorf("--switch %s given twice", t)
		}
		seen[t] = true
		if !strings.HasPrefix(t, "tcp:") && !strings.HasPrefix(t, "ssl:") && !strings.HasPrefix(t, "unix:") {
			return nil, fmt.Errorf("--switch %q: want tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", t)
		}
		if strings.HasPrefix(t, "ssl:") && tlsCfg == nil {
			return nil, fmt.Errorf("--switch %s needs --ssl-cert, --ssl-key and --ssl-ca", t)
		}
		out = append(out, switchagent.Config{
			Target: t, TLS: tlsCfg, Switch: o.name, Logger: log,
			ProbeInterval: o.probe, AuditInterval: o.audit,
		})
	}
	return out, nil
}

// newSwitchAgentCmd is `l2gw switch-agent`.
func newSwitchAgentCmd() *cobra.Command {
	o := &switchAgentOptions{}
	cmd := &cobra.Command{
		Use:   "switch-agent",
		Short: "Run the hardware_vtep switch agent: program VTEP switches with their plans",
		Long: `switch-agent keeps one OVSDB session per --switch target (a hardware_vtep
database: a VTEP switch, or ovsdb-server with the vtep schema), reports the
switch (ports, tunnel IPs, faults, bare-metal MACs) to the l2gw server and
makes the switch's hardware_vtep tables equal to the plan the server streams
for it, owning only the rows it writes (see the README).

Several switch agents may serve one switch (an HA pair, each with its own
--agent-name): the one holding the switch's lease programs and reports it,
the others keep their OVSDB session and stand by, and take over within
about 4/3 of --lease-period when the holder dies or loses the server.
Every transaction is fenced with the lease's epoch, which the holder writes
into the switch (Physical_Switch other_config:l2gw-epoch).

Each target serves every Physical_Switch its database holds (each with its
own plan, report and status; switches that join or leave the database are
picked up or dropped), or only the one named by --name (with a single
target). Connections to the server and to the switches are retried with
capped backoff; plan streams resume by revision.

Flags fall back to L2GW_SWITCH_AGENT_* environment variables (e.g.
L2GW_SWITCH_AGENT_SERVER, L2GW_SWITCH_AGENT_SWITCH="tcp:10.0.0.5:6640,unix:/run/vtep.sock");
--server, failing those, to L2GW_URL (as the client's --url); the token to
--token / L2GW_TOKEN, or the agent logs in itself with --os-auth-url and
--os-username (OS_AUTH_URL, OS_USERNAME, the password in OS_PASSWORD). For an https:// server, --cacert (L2GW_CACERT) names
the CA of its certificate and --cert/--key a client certificate to present.`,
		Example: `  l2gw switch-agent --server http://controller:9696 --switch tcp:192.0.2.10:6640
  l2gw switch-agent --server http://127.0.0.1:9696 --switch unix:/run/openvswitch/vtep.sock --name gatewayhost`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := agentStart(cmd, "L2GW_SWITCH_AGENT_")
			if err != nil {
				return err
			}
			cfgs, err := o.configs(logger)
			if err != nil {
				return err
			}
			id, err := o.lease.identity()
			if err != nil {
				return err
			}
			link, err := agentLink(cmd, o.server)
			if err != nil {
				return fmt.Errorf("--server: %w", err)
			}
			reg := metrics.NewRegistry()
			agents := make([]*switchagent.Agent, len(cfgs))
			for i, c := range cfgs {
				c.Registerer = reg
				c.Leases, c.LeasePeriod, c.AgentName = lease.Remote(link, store.LeaseSwitch, id), o.lease.period, id.Agent
				if agents[i], err = switchagent.New(c, link.Switches(), link); err != nil {
					return err
				}
			}
			logger.Info("switch agent config", "server", o.server, "switches", o.targets, "name", o.name,
				"agent_name", id.Agent, "instance", id.Instance, "lease_period", o.lease.period,
				"probe_interval", o.probe, "audit_interval", o.audit, "tls", o.sslCert != "", "metrics_bind", o.metricsBind)
			ctx := cmd.Context()
			stopMetrics, err := startMetrics(ctx, o.metricsBind, reg, logger)
			if err != nil {
				return err
			}
			errs := make([]error, len(agents)+1)
			var wg sync.WaitGroup
			for i, a := range agents {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := a.Run(ctx); err != nil {
						errs[i] = fmt.Errorf("switch %s: %w", cfgs[i].Target, err)
					}
				}()
			}
			wg.Wait()
			errs[len(agents)] = stopMetrics()
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "l2gw API server URL; several replicas comma-separated (URL1,URL2,…): the agent fails over to the next")
	f.StringArrayVar(&o.targets, "switch", nil, "OVSDB target of a switch: tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH (repeatable)")
	f.StringVar(&o.name, "name", "", "Physical_Switch name to serve (default: every switch in the database)")
	f.StringVar(&o.sslCert, "ssl-cert", "", "client certificate (PEM) for ssl: targets")
	f.StringVar(&o.sslKey, "ssl-key", "", "client private key (PEM) for ssl: targets")
	f.StringVar(&o.sslCA, "ssl-ca", "", "CA certificate (PEM) that signed the switches' certificates")
	f.DurationVar(&o.probe, "probe-interval", 5*time.Second, "OVSDB echo probe period (negative disables)")
	f.DurationVar(&o.audit, "audit-interval", time.Minute, "period of the full reconcile (negative disables)")
	addLogFlags(f)
	addAgentTLSFlags(f)
	addAgentKeystoneFlags(f)
	f.StringVar(&o.metricsBind, "metrics-bind", "", metricsBindUsage)
	o.lease.add(f, hostname(), "switch")
	return cmd
}

// envList splits a comma-separated environment variable (nil when unset).
func envList(key string) []string {
	v := os.Getenv(key)
	if v == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// embeddedSwitches validates `l2gw server --switch` targets: unix: and
// tcp: (an in-server agent has no TLS flags; run switch-agent for ssl:).
func embeddedSwitches(targets []string) ([]switchagent.Config, error) {
	seen := map[string]bool{}
	var out []switchagent.Config
	for _, t := range targets {
		if !strings.HasPrefix(t, "unix:") && !strings.HasPrefix(t, "tcp:") {
			return nil, fmt.Errorf("--switch %q: want unix:PATH or tcp:HOST:PORT (ssl: targets: run l2gw switch-agent)", t)
		}
		if seen[t] {
			return nil, fmt.Errorf("--switch %s given twice", t)
		}
		seen[t] = true
		out = append(out, switchagent.Config{Target: t})
	}
	return out, nil
}

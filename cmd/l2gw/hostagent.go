package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/store"
)

// hostAgentConnect returns the host agent's link to the API server at
// serverURL: its plan source and its registrar.
type hostAgentConnect func(serverURL string) (planstream.HostSource, hostagent.Registrar, error)

// newHostAgentCmdWith is `l2gw host-agent`, reaching the server through
// connect (newHostAgentCmd in agents.go passes the HTTP agent link; tests
// pass in-process ones).
func newHostAgentCmdWith(connect hostAgentConnect) *cobra.Command {
	var (
		server, host, vtepIP, netnsName string
		metricsBind                     string
		cleanup                         bool
		resync, heartbeat               time.Duration
		mtu                             int
		leases                          leaseFlags
	)
	cmd := &cobra.Command{
		Use:   "host-agent",
		Short: "Run the compute host agent: VXLAN, bridge and FDB state for the host's plan",
		Long: `host-agent registers the host and its VTEP IP with the l2gw server, watches
the host's plan and realises it with netlink: for each network with a port on
the host, a bridge l2br<VNI> and a VXLAN device l2vx<VNI> (local = the VTEP
IP, port 4789, learning off), the ports' host interfaces enslaved to the
bridge, and FDB entries sending bare-metal MACs and flooded traffic to the
switches' tunnel IPs.

The first registration of an unknown host records --vtep-ip; later, a VTEP
IP other than the recorded one is refused by the server and the agent exits
with a message saying how to change it (l2gw host-update <host> --vtep-ip IP).

One agent serves a host at a time: it holds the host's lease on the server.
A second agent for the same host (another --agent-name, default the host
name and the process id) is refused with a message naming the first, and
stands by, touching nothing, until the first dies; it then takes over.

It owns exactly the devices named l2vx<VNI> and l2br<VNI> and the FDB entries
on them; nothing else is touched. State is kept on exit, so forwarding
continues while the agent restarts; --cleanup removes it on exit instead.

Flags fall back to L2GW_HOST_AGENT_* environment variables (e.g.
L2GW_HOST_AGENT_SERVER, L2GW_HOST_AGENT_VTEP_IP); --server, failing those,
to L2GW_URL (as the client's --url).`,
		Example: `  l2gw host-agent --server http://controller:9696 --host compute1 --vtep-ip 192.0.2.2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := agentStart(cmd, "L2GW_HOST_AGENT_")
			if err != nil {
				return err
			}
			if server == "" {
				return errors.New("--server is required")
			}
			id, err := leases.identity()
			if err != nil {
				return err
			}
			metricsReg := metrics.NewRegistry()
			cfg := hostagent.Config{
				Host: host, VTEPIP: vtepIP, NetNS: netnsName, Logger: logger,
				ResyncInterval: resync, HeartbeatInterval: heartbeat, DefaultMTU: mtu,
				Registerer: metricsReg, LeasePeriod: leases.period,
			}
			// Validate the flags before reaching out to the server.
			if err := cfg.Validate(); err != nil {
				return err
			}
			plans, reg, err := connect(server)
			if err != nil {
				return fmt.Errorf("connect to %s: %w", server, err)
			}
			cfg.Leases = hostLeases(reg, id)
			a, err := hostagent.New(cfg, plans, reg)
			if err != nil {
				return err
			}
			logger.Info("host agent config", "server", server, "host", host, "vtep_ip", vtepIP,
				"agent_name", id.Agent, "instance", id.Instance, "lease_period", leases.period,
				"netns", netnsName, "cleanup", cleanup, "resync", resync, "heartbeat", heartbeat, "mtu", mtu, "metrics_bind", metricsBind)
			stopMetrics, err := startMetrics(cmd.Context(), metricsBind, metricsReg, logger)
			if err != nil {
				return err
			}
			runErr := errors.Join(a.Run(cmd.Context()), stopMetrics())
			if cleanup {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 30*time.Second)
				defer cancel()
				return errors.Join(runErr, a.Cleanup(ctx))
			}
			return runErr
		},
	}
	hostname, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "l2gw API server URL; several replicas comma-separated (URL1,URL2,…): the agent fails over to the next")
	f.StringVar(&host, "host", hostname, "host name, as in ports' binding:host_id")
	f.StringVar(&vtepIP, "vtep-ip", "", "IPv4 address of the host's VXLAN tunnels")
	f.StringVar(&netnsName, "netns", "", "named network namespace of the data plane (default: current)")
	f.BoolVar(&cleanup, "cleanup", false, "remove every device and FDB entry the host agent owns on exit")
	f.DurationVar(&resync, "resync", time.Minute, "period of the full reconcile")
	f.DurationVar(&heartbeat, "heartbeat", 30*time.Second, "period of the host registration heartbeat")
	f.IntVar(&mtu, "mtu", hostagent.DefaultMTU, "MTU of networks whose plan gives none")
	addLogFlags(f)
	addAgentTLSFlags(f)
	addAgentKeystoneFlags(f)
	f.StringVar(&metricsBind, "metrics-bind", "", metricsBindUsage)
	leases.add(f, fmt.Sprintf("%s-%d", hostname, os.Getpid()), "host")
	return cmd
}

// hostLeases is the host lease client of the agent's registrar: the agent
// protocol's lease endpoints, or the store's leases in-process (tests).
func hostLeases(reg hostagent.Registrar, id lease.Identity) lease.Client {
	switch r := reg.(type) {
	case *agentlink.Link:
		return lease.Remote(r, store.LeaseHost, id)
	case server.LeaseStore:
		return server.StoreLeases(r, store.LeaseHost, id)
	}
	return nil
}

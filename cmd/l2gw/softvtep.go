package main

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/softvtep"
)

// newSoftVTEPCmd is `l2gw soft-vtep`: a hardware_vtep switch made of Linux.
func newSoftVTEPCmd() *cobra.Command {
	var (
		ovsdbTarget, name, tunnelIP, netnsName string
		metricsBind                            string
		ports                                  []string
		cleanup                                bool
		resync                                 time.Duration
		mtu                                    int
	)
	cmd := &cobra.Command{
		Use:   "soft-vtep",
		Short: "Run a software hardware_vtep switch (Linux bridge + VXLAN) for a hardware_vtep OVSDB",
		Long: `soft-vtep registers a Physical_Switch and its Physical_Ports in a hardware_vtep
database and realises what a controller writes there with Linux bridges, VXLAN
devices and FDB entries; MACs learnt on its ports are published as
Ucast_Macs_Local.

Devices it owns: bridges svbr<VNI>, VXLAN devices svvx<VNI>, and the VLAN
sub-interfaces it creates (alias "l2gw-soft-vtep"). A binding (port P on
interface I, VLAN V) is the device I.V (VLAN 0: I).

Devices are kept on exit, so forwarding continues while the agent restarts;
--cleanup removes them on exit instead.

Flags fall back to L2GW_SOFT_VTEP_* environment variables (e.g.
L2GW_SOFT_VTEP_OVSDB, L2GW_SOFT_VTEP_PORT="port1=p1,port2=p2").`,
		Example: `  l2gw soft-vtep --ovsdb unix:/run/vtep/db.sock --name gatewayhost \
    --tunnel-ip 192.0.2.1 --port port1=p1 --netns sw`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := agentStart(cmd, "L2GW_SOFT_VTEP_")
			if err != nil {
				return err
			}
			reg := metrics.NewRegistry()
			cfg := softvtep.Config{
				OVSDB: ovsdbTarget, Name: name, NetNS: netnsName,
				Cleanup: cleanup, ResyncInterval: resync, MTU: mtu,
				Registerer: reg,
			}
			if tunnelIP != "" {
				ip, err := netip.ParseAddr(tunnelIP)
				if err != nil {
					return fmt.Errorf("--tunnel-ip: %w", err)
				}
				cfg.TunnelIP = ip
			}
			for _, s := range ports {
				p, err := softvtep.ParsePort(s)
				if err != nil {
					return fmt.Errorf("--port: %w", err)
				}
				cfg.Ports = append(cfg.Ports, p)
			}
			v, err := softvtep.New(logger, cfg)
			if err != nil {
				return err
			}
			stopMetrics, err := startMetrics(cmd.Context(), metricsBind, reg, logger)
			if err != nil {
				return err
			}
			return errors.Join(v.Run(cmd.Context()), stopMetrics())
		},
	}
	f := cmd.Flags()
	f.StringVar(&ovsdbTarget, "ovsdb", "", "hardware_vtep OVSDB endpoint (unix:PATH, tcp:IP:PORT), reached from the caller's namespace")
	f.StringVar(&name, "name", "", "Physical_Switch name")
	f.StringVar(&tunnelIP, "tunnel-ip", "", "VTEP IPv4 address (tunnel_ips, VXLAN local address)")
	f.StringArrayVar(&ports, "port", nil, "Physical_Port as NAME=IFNAME (repeatable)")
	f.StringVar(&netnsName, "netns", "", "named network namespace of the data plane (default: current)")
	f.BoolVar(&cleanup, "cleanup", false, "remove every device the soft VTEP owns on exit")
	f.DurationVar(&resync, "resync", 5*time.Second, "period of the full reconcile")
	f.IntVar(&mtu, "mtu", 1450, "MTU of the VXLAN devices")
	addLogFlags(f)
	f.StringVar(&metricsBind, "metrics-bind", "", metricsBindUsage)
	return cmd
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// connectionColumns are the table columns of l2-gateway-connection-list:
// the gateway's and the network's names beside their ids.
var connectionColumns = []string{"id", "l2_gateway_id", "l2_gateway_name", "network_id", "network_name", "segmentation_id"}

// Defaults of l2-gateway-connection-create --wait.
const (
	defaultWaitTimeout = 60 * time.Second
	waitPoll           = 250 * time.Millisecond
)

func connectionCreateCmd(run runner) *cobra.Command {
	var segID, tenant string
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "l2-gateway-connection-create <gateway-name/uuid> <network-name/uuid> [--default-segmentation-id SEG] [--wait [--wait-timeout 60s]]",
		Short: "Connect a logical L2 gateway to an overlay network",
		Long: `Connect a logical L2 gateway to an overlay network.

With --wait the command prints the connection, then returns once every switch
of the gateway and every host of the network holds what the connection needs
(l2-gateway-connection-status all in_sync); it fails, naming the switch or
host and the reason, when one is in error or when --wait-timeout passes first.`,
		Example: `  l2gw l2-gateway-connection-create gw1 net1 --default-segmentation-id 100
  l2gw l2-gateway-connection-create gw1 net1 --default-segmentation-id 100 --wait -f value -c id`,
		Args: argsExact(2),
		RunE: run(func(x *cliContext, args []string) error {
			if waitTimeout <= 0 {
				return fmt.Errorf("--wait-timeout %s: want a positive duration such as 60s or 5m", waitTimeout)
			}
			ctx := x.cmd.Context()
			gw, err := x.c.ResolveGateway(ctx, args[0])
			if err != nil {
				return err
			}
			net, err := x.c.ResolveNetwork(ctx, args[1])
			if err != nil {
				return err
			}
			// The API wants the default segmentation id as a JSON string,
			// as the original client sends it.
			conn, err := x.c.CreateConnection(ctx, neutron.ConnectionCreate{
				L2GatewayID: gw.ID, NetworkID: net.ID, SegmentationID: segID, TenantID: tenant,
			})
			if err != nil {
				return err
			}
			if err := x.object(conn); err != nil {
				return err
			}
			if !wait {
				return nil
			}
			return waitInSync(ctx, x.c, conn.ID, waitTimeout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&segID, "default-segmentation-id", "", "VLAN for the gateway's interfaces that have none")
	f.StringVar(&tenant, "tenant-id", "", "owner project of the connection (admin only)")
	f.BoolVar(&wait, "wait", false, "return once every switch and host of the connection is in_sync")
	f.DurationVar(&waitTimeout, "wait-timeout", defaultWaitTimeout, "how long --wait waits")
	return cmd
}

// waitInSync polls the status of connection id until it is in_sync. An
// entry in error ends the wait with its reason; so does timeout, with what
// is still pending.
func waitInSync(ctx context.Context, c *client.Client, id string, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *agentwire.ConnectionStatus
	for {
		st, err := c.ConnectionStatus(wctx, id)
		switch {
		case err == nil:
			last = &st
			switch st.State {
			case agentwire.StateInSync:
				return nil
			case agentwire.StateError:
				return fmt.Errorf("connection %s is in error: %s", id, notInSync(st))
			}
		case wctx.Err() == nil || ctx.Err() != nil:
			return err
		}
		if wctx.Err() == nil {
			t := time.NewTimer(waitPoll)
			select {
			case <-wctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if wctx.Err() != nil {
			if last == nil {
				return fmt.Errorf("connection %s: no status within %s (--wait-timeout)", id, timeout)
			}
			return fmt.Errorf("connection %s not in_sync within %s (--wait-timeout): %s", id, timeout, notInSync(*last))
		}
	}
}

// notInSync lists the switches and hosts of st that are not in_sync, with
// their state and reason.
func notInSync(st agentwire.ConnectionStatus) string {
	var parts []string
	add := func(kind, name, state, reason string) {
		if state == agentwire.StateInSync {
			return
		}
		s := kind + " " + name + " " + state
		if reason != "" {
			s += " (" + reason + ")"
		}
		parts = append(parts, s)
	}
	for _, s := range st.Status {
		add("switch", s.Switch, s.State, s.Reason)
	}
	for _, h := range st.Hosts {
		add("host", h.Host, h.State, h.Reason)
	}
	if len(parts) == 0 {
		return "state " + st.State
	}
	return strings.Join(parts, "; ")
}

func connectionListCmd(run runner) *cobra.Command {
	var gateway, network string
	cmd := &cobra.Command{
		Use:   "l2-gateway-connection-list [--gateway GW] [--network NET]",
		Short: "List gateway connections (with the gateways' and networks' names)",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			ctx := x.cmd.Context()
			o := filterValues("", nil)
			if gateway != "" {
				gw, err := x.c.ResolveGateway(ctx, gateway)
				if err != nil {
					return err
				}
				o.Filters.Set("l2_gateway_id", gw.ID)
			}
			if err := x.filterNetwork(o, network); err != nil {
				return err
			}
			conns, err := x.c.ListConnections(ctx, o)
			if err != nil {
				return err
			}
			gws, nets := x.gatewayNames(ctx), x.networkNames(ctx)
			return printList(x.out(), x.output, conns, connectionColumns, func(i int, m map[string]any) {
				m["l2_gateway_name"] = gws[conns[i].L2GatewayID]
				m["network_name"] = nets[conns[i].NetworkID]
			})
		}),
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "only connections of this gateway (name or uuid)")
	cmd.Flags().StringVar(&network, "network", "", "only connections to this network (name or uuid)")
	return cmd
}

// gatewayNames and networkNames map ids to names for the list commands.
// They are best effort: names are a help beside the ids, so a server that
// cannot list them (networking-l2gw without network access) leaves the
// names empty rather than failing the list.
func (x *cliContext) gatewayNames(ctx context.Context) map[string]string {
	gws, err := x.c.ListGateways(ctx, client.ListOptions{Fields: []string{"id", "name"}})
	if err != nil {
		return nil
	}
	m := make(map[string]string, len(gws))
	for _, g := range gws {
		m[g.ID] = g.Name
	}
	return m
}

func (x *cliContext) networkNames(ctx context.Context) map[string]string {
	ns, err := x.c.ListNetworks(ctx, client.ListOptions{Fields: []string{"id", "name"}})
	if err != nil {
		return nil
	}
	m := make(map[string]string, len(ns))
	for _, n := range ns {
		m[n.ID] = n.Name
	}
	return m
}

// findConnection finds the connection the arguments name: its uuid, or its
// gateway and network (names or uuids; a gateway connects a network once).
func (x *cliContext) findConnection(args []string) (neutron.Connection, error) {
	ctx := x.cmd.Context()
	if len(args) == 1 {
		return x.c.ResolveConnection(ctx, args[0])
	}
	gw, err := x.c.ResolveGateway(ctx, args[0])
	if err != nil {
		return neutron.Connection{}, err
	}
	net, err := x.c.ResolveNetwork(ctx, args[1])
	if err != nil {
		return neutron.Connection{}, err
	}
	conns, err := x.c.ListConnections(ctx, client.Filter("l2_gateway_id", gw.ID, "network_id", net.ID))
	if err != nil {
		return neutron.Connection{}, err
	}
	if len(conns) != 1 {
		return neutron.Connection{}, &client.Error{Status: http.StatusNotFound, Type: "NotFound",
			Message: fmt.Sprintf("Gateway '%s' is not connected to network '%s'", args[0], args[1])}
	}
	return conns[0], nil
}

func connectionShowCmd(run runner) *cobra.Command {
	return &cobra.Command{
		Use:   "l2-gateway-connection-show <connection-uuid> | <gateway-name/uuid> <network-name/uuid>",
		Short: "Show a gateway connection",
		Args:  argsRange(1, 2),
		RunE: run(func(x *cliContext, args []string) error {
			conn, err := x.findConnection(args)
			if err != nil {
				return err
			}
			return x.object(conn)
		}),
	}
}

// statusRow is one line of l2-gateway-connection-status.
type statusRow struct {
	Kind            string `json:"kind"`
	Name            string `json:"name"`
	State           string `json:"state"`
	AppliedRevision int64  `json:"applied_revision"`
	Revision        int64  `json:"revision"`
	Reason          string `json:"reason"`
	Connected       bool   `json:"connected"`
}

var statusColumns = []string{"kind", "name", "state", "applied_revision", "revision", "reason"}

// connectionStatusCmd is `l2gw l2-gateway-connection-status`: whether each
// switch of the connection's gateway and each host running ports of its
// network holds what the connection needs there.
func connectionStatusCmd(run runner) *cobra.Command {
	return &cobra.Command{
		Use:   "l2-gateway-connection-status <connection-uuid> | <gateway-name/uuid> <network-name/uuid>",
		Short: "Show whether each switch and host of a gateway connection is programmed",
		Args:  argsRange(1, 2),
		RunE: run(func(x *cliContext, args []string) error {
			conn, err := x.findConnection(args)
			if err != nil {
				return err
			}
			st, err := x.c.ConnectionStatus(x.cmd.Context(), conn.ID)
			if err != nil {
				return err
			}
			if len(x.output.columns) == 0 {
				switch x.output.format {
				case formatJSON:
					return writeJSON(x.out(), st)
				case formatYAML:
					return writeYAML(x.out(), st)
				}
			}
			rows := make([]statusRow, 0, len(st.Status)+len(st.Hosts))
			for _, s := range st.Status {
				rows = append(rows, statusRow{"switch", s.Switch, s.State, s.AppliedRevision, s.Revision, s.Reason, s.Connected})
			}
			for _, h := range st.Hosts {
				rows = append(rows, statusRow{"host", h.Host, h.State, h.AppliedRevision, h.Revision, h.Reason, h.Connected})
			}
			return printList(x.out(), x.output, rows, statusColumns, nil)
		}),
	}
}

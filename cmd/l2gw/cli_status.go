package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// systemView is what `l2gw status` shows, and its -f json form.
type systemView struct {
	URL         string                  `json:"url"`
	Server      agentwire.ServerStatus  `json:"server"`
	Switches    []agentwire.SwitchState `json:"switches"`
	Hosts       []agentwire.HostState   `json:"hosts"`
	Connections []connectionView        `json:"connections"`
	// L2Pop is there when the server sends l2pop casts (--transport-url).
	L2Pop *agentwire.L2PopSystem `json:"l2pop,omitempty"`
}

// connectionView is a connection with its network, gateway, bindings and
// status (agentwire.ConnectionStatus).
type connectionView struct {
	ID          string                 `json:"id"`
	NetworkID   string                 `json:"network_id"`
	Network     string                 `json:"network"`
	GatewayID   string                 `json:"l2_gateway_id"`
	Gateway     string                 `json:"l2_gateway"`
	Bindings    []bindingView          `json:"bindings"`
	State       string                 `json:"state"`
	StatusError string                 `json:"status_error,omitempty"`
	Status      []agentwire.SwitchSync `json:"status"`
	Hosts       []agentwire.HostSync   `json:"hosts"`
	L2Pop       *agentwire.L2PopStatus `json:"l2pop,omitempty"`
}

// bindingView is a switch port the connection binds, on its VLANs.
type bindingView struct {
	Switch string   `json:"switch"`
	Port   string   `json:"port"`
	VLANs  []string `json:"vlans"`
}

// statusCmd is `l2gw status`: the whole system on one screen.
func statusCmd(run runner) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the whole system: server, switches, hosts and every connection with its state",
		Long: `Show the whole system on one screen: the server (version, database, uptime),
every switch (agent connected, last sync, errors), every host (alive, agent
sync state) and every gateway connection as "network ↔ gateway:
switch/port VLAN" with its state (in_sync, pending, error) and the reasons.
-f json prints the same as one object.`,
		Args: cobra.NoArgs,
		RunE: run(func(x *cliContext, _ []string) error {
			v, err := systemStatus(x.cmd.Context(), x.c)
			if err != nil {
				return err
			}
			switch x.output.format {
			case formatJSON:
				return writeJSON(x.out(), v)
			case formatYAML:
				return writeYAML(x.out(), v)
			case formatTable:
				return printSystem(x, v)
			}
			return fmt.Errorf("status: -f %s: want table, json or yaml (the status is nested, not one row per object)", x.output.format)
		}),
	}
}

// systemStatus gathers the system's status: the server's, then the
// connections with their networks, gateways and states (at most 8
// connection states asked at once).
func systemStatus(ctx context.Context, c *client.Client) (systemView, error) {
	st, err := c.SystemStatus(ctx)
	if err != nil {
		return systemView{}, err
	}
	v := systemView{URL: c.BaseURL(), Server: st.Server, Switches: st.Switches, Hosts: st.Hosts, Connections: []connectionView{}, L2Pop: st.L2Pop}
	conns, err := c.ListConnections(ctx, client.ListOptions{})
	if err != nil {
		return systemView{}, err
	}
	if len(conns) == 0 {
		return v, nil
	}
	gws, err := c.ListGateways(ctx, client.ListOptions{})
	if err != nil {
		return systemView{}, err
	}
	nets, err := c.ListNetworks(ctx, client.ListOptions{})
	if err != nil {
		return systemView{}, err
	}
	gwBy := map[string]neutron.Gateway{}
	for _, g := range gws {
		gwBy[g.ID] = g
	}
	netName := map[string]string{}
	for _, n := range nets {
		netName[n.ID] = n.Name
	}
	v.Connections = make([]connectionView, len(conns))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, conn := range conns {
		gw := gwBy[conn.L2GatewayID]
		cv := connectionView{ID: conn.ID, NetworkID: conn.NetworkID, Network: netName[conn.NetworkID],
			GatewayID: conn.L2GatewayID, Gateway: gw.Name, Bindings: bindings(gw, conn.SegmentationID)}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cs, err := c.ConnectionStatus(ctx, conn.ID)
			if err != nil {
				// Deleted meanwhile, or the status failed: shown, not fatal.
				cv.State, cv.StatusError = agentwire.StateError, err.Error()
			} else {
				cv.State, cv.Status, cv.Hosts, cv.L2Pop = cs.State, cs.Status, cs.Hosts, cs.L2Pop
			}
			v.Connections[i] = cv
		})
	}
	wg.Wait()
	slices.SortStableFunc(v.Connections, func(a, b connectionView) int {
		return strings.Compare(a.Network+"\x00"+a.Gateway+"\x00"+a.ID, b.Network+"\x00"+b.Gateway+"\x00"+b.ID)
	})
	return v, nil
}

// bindings lists the switch ports a connection binds on gw: each
// interface on its own VLANs, or the connection's default when it has
// none (the planner's rule).
func bindings(gw neutron.Gateway, def neutron.SegmentationID) []bindingView {
	out := []bindingView{}
	for _, d := range gw.Devices {
		for _, itf := range d.Interfaces {
			b := bindingView{Switch: d.DeviceName, Port: itf.Name, VLANs: itf.SegmentationID}
			if len(b.VLANs) == 0 {
				if !def.Valid {
					continue
				}
				b.VLANs = []string{fmt.Sprint(def.ID)}
			}
			out = append(out, b)
		}
	}
	return out
}

// printSystem writes the status as text: the server's line, then tables
// of switches, hosts and connections.
func printSystem(x *cliContext, v systemView) error {
	w := x.out()
	s := v.Server
	build := s.Version
	if s.VCSRevision != "" {
		build += " " + shortRev(s.VCSRevision)
	}
	db := s.Database
	if s.DatabaseError != "" {
		db += " (error: " + s.DatabaseError + ")"
	}
	if _, err := fmt.Fprintf(w, "Server %s: version %s, database %s, up %s (since %s), revision %d (plans at %d)\n",
		v.URL, build, db, time.Duration(s.UptimeSeconds)*time.Second, when(s.StartedAt), s.StoreRevision, s.PlanRevision); err != nil {
		return err
	}
	if s.Inventory != nil {
		if _, err := fmt.Fprintf(w, "Inventory: %s\n", s.Inventory.Summary); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}

	rows := make([][]string, 0, len(v.Switches))
	for _, sw := range v.Switches {
		rows = append(rows, []string{sw.Name, yesNo(sw.Connected), holder(sw.Agent, sw.Epoch), when(sw.LastSync), sw.State, sw.Reason})
	}
	if err := section(x, "Switches", []string{"switch", "connected", "agent (epoch)", "last_sync", "state", "reason"}, rows); err != nil {
		return err
	}
	rows = make([][]string, 0, len(v.Hosts))
	for _, h := range v.Hosts {
		rows = append(rows, []string{h.Name, h.VTEPIP, yesNo(h.Alive), yesNo(h.AgentRunning), when(h.LastSync), h.State, h.Reason})
	}
	if err := section(x, "Hosts", []string{"host", "vtep_ip", "alive", "agent", "last_sync", "state", "reason"}, rows); err != nil {
		return err
	}
	if err := printL2Pop(x, v.L2Pop); err != nil {
		return err
	}
	rows = make([][]string, 0, len(v.Connections))
	for _, c := range v.Connections {
		rows = append(rows, []string{c.ID, connectionLine(c), c.State, connectionReasons(c)})
	}
	return section(x, "Connections", []string{"connection", "network ↔ gateway: switch/port VLAN", "state", "reason"}, rows)
}

// section writes a titled table, or the title and "none".
func section(x *cliContext, title string, header []string, rows [][]string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(x.out(), "%s: none\n\n", title)
		return err
	}
	if _, err := fmt.Fprintf(x.out(), "%s:\n", title); err != nil {
		return err
	}
	if err := writeTable(x.out(), header, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(x.out())
	return err
}

// connectionLine is "net1 ↔ gw1: gatewayhost/port1 VLAN 100", a binding a
// line.
func connectionLine(c connectionView) string {
	head := orID(c.Network, c.NetworkID) + " ↔ " + orID(c.Gateway, c.GatewayID) + ":"
	if len(c.Bindings) == 0 {
		return head + " no port bound"
	}
	lines := make([]string, len(c.Bindings))
	for i, b := range c.Bindings {
		vlan := "VLAN "
		if len(b.VLANs) > 1 {
			vlan = "VLANs "
		}
		lines[i] = b.Switch + "/" + b.Port + " " + vlan + strings.Join(b.VLANs, ",")
	}
	if len(lines) == 1 {
		return head + " " + lines[0]
	}
	return head + "\n  " + strings.Join(lines, "\n  ")
}

// connectionReasons names, a line each, the switches and hosts of a
// connection that are not in sync and why.
func connectionReasons(c connectionView) string {
	if c.StatusError != "" {
		return c.StatusError
	}
	var out []string
	for _, s := range c.Status {
		if s.State != agentwire.StateInSync {
			out = append(out, fmt.Sprintf("switch %s %s: %s", s.Switch, s.State, s.Reason))
		}
	}
	for _, h := range c.Hosts {
		if h.State != agentwire.StateInSync {
			out = append(out, fmt.Sprintf("host %s %s: %s", h.Host, h.State, h.Reason))
		}
	}
	out = append(out, l2popReasons(c.L2Pop)...)
	return strings.Join(out, "\n")
}

func orID(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// when is a time as UTC RFC 3339 to the second, "never" when zero.
func when(t neutron.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// holder shows the agent holding a switch's lease and its epoch.
func holder(agent string, epoch int64) string {
	switch {
	case agent != "":
		return fmt.Sprintf("%s (%d)", agent, epoch)
	case epoch > 0:
		return fmt.Sprintf("- (%d)", epoch)
	}
	return "-"
}

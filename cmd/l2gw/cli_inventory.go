package main

import (
	"fmt"
	"net"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

var (
	networkColumns  = []string{"id", "name", "provider:network_type", "provider:segmentation_id"}
	portColumns     = []string{"id", "name", "network_id", "network_name", "mac_address", "fixed_ips", "binding:host_id"}
	hostColumns     = []string{"id", "name", "vtep_ip", "alive"}
	switchColumns   = []string{"name", "tunnel_ips", "ports", "connected", "sync_error"}
	localMACColumns = []string{"switch", "network_id", "network_name", "mac_address", "ip_address", "locator_ip"}
)

// filterValues is a ListOptions with key=v for every v (none: no filter).
func filterValues(key string, vs []string) client.ListOptions {
	o := client.ListOptions{Filters: url.Values{}}
	for _, v := range vs {
		o.Filters.Add(key, v)
	}
	return o
}

func inventoryCommands(run runner) []*cobra.Command {
	return []*cobra.Command{
		netCreateCmd(run),
		netListCmd(run),
		showCmd(run, "net-show <network-name/uuid>", "Show a network", (*client.Client).ResolveNetwork),
		netUpdateCmd(run),
		deleteCmd(run, "net-delete <network-name/uuid>...", "Delete networks (with their gateway connections; refused while ports are on them)", "network",
			(*client.Client).ResolveNetwork, func(n neutron.Network) string { return n.ID }, (*client.Client).DeleteNetwork),
		portCreateCmd(run),
		portListCmd(run),
		showCmd(run, "port-show <port-name/uuid>", "Show a port", (*client.Client).ResolvePort),
		portUpdateCmd(run),
		deleteCmd(run, "port-delete <port-name/uuid>...", "Delete ports", "port",
			(*client.Client).ResolvePort, func(p neutron.Port) string { return p.ID }, (*client.Client).DeletePort),
		hostCreateCmd(run),
		hostListCmd(run),
		showCmd(run, "host-show <host-name/uuid>", "Show a compute host", (*client.Client).ResolveHost),
		hostUpdateCmd(run),
		deleteCmd(run, "host-delete <host-name/uuid>...", "Delete compute hosts (refused while ports are bound to them)", "host",
			(*client.Client).ResolveHost, func(h neutron.Host) string { return h.ID }, (*client.Client).DeleteHost),
		switchListCmd(run),
		showCmd(run, "switch-show <switch-name>", "Show a VTEP switch: ports, tunnel IPs, sync state", getSwitch),
		localMACListCmd(run),
	}
}

func netCreateCmd(run runner) *cobra.Command {
	var vni, mtu int
	var tenant string
	cmd := &cobra.Command{
		Use:     "net-create <name> [--vni VNI]",
		Short:   "Create a VXLAN overlay network",
		Example: `  l2gw net-create net1 --vni 1000`,
		Args:    argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			n, err := x.c.CreateNetwork(x.cmd.Context(), neutron.NetworkCreate{
				Name: args[0], TenantID: tenant, MTU: mtu, NetworkType: "vxlan", SegmentationID: vni,
			})
			if err != nil {
				return err
			}
			return x.object(n)
		}),
	}
	cmd.Flags().IntVar(&vni, "vni", 0, "VXLAN network identifier (provider:segmentation_id); 0 lets the server allocate one")
	cmd.Flags().IntVar(&mtu, "mtu", 0, "MTU (0: server default)")
	cmd.Flags().StringVar(&tenant, "tenant-id", "", "owner project (admin only)")
	return cmd
}

func netListCmd(run runner) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "net-list",
		Short: "List networks",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			ns, err := x.c.ListNetworks(x.cmd.Context(), filterValues("name", names))
			if err != nil {
				return err
			}
			return printList(x.out(), x.output, ns, networkColumns, nil)
		}),
	}
	cmd.Flags().StringArrayVar(&names, "name", nil, "only networks with this name (repeatable)")
	return cmd
}

func netUpdateCmd(run runner) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "net-update <network-name/uuid> --name NEW",
		Short: "Rename a network",
		Args:  argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			if !x.cmd.Flags().Changed("name") {
				return fmt.Errorf("nothing to update: give --name")
			}
			ctx := x.cmd.Context()
			n, err := x.c.ResolveNetwork(ctx, args[0])
			if err != nil {
				return err
			}
			n, err = x.c.UpdateNetwork(ctx, n.ID, neutron.NetworkUpdate{Name: &name})
			if err != nil {
				return err
			}
			return x.object(n)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	return cmd
}

// parseAddressPair parses --allowed-address-pair ip=<ip>[,mac=<mac>].
func parseAddressPair(s string) (neutron.AddressPair, error) {
	kv, order, err := parseKeyValues(s)
	if err != nil {
		return neutron.AddressPair{}, fmt.Errorf("--allowed-address-pair %q: %w", s, err)
	}
	for _, k := range order {
		if k != "ip" && k != "ip_address" && k != "mac" && k != "mac_address" {
			return neutron.AddressPair{}, fmt.Errorf("--allowed-address-pair %q: unknown key %q (want ip, mac)", s, k)
		}
	}
	p := neutron.AddressPair{IPAddress: kv["ip"] + kv["ip_address"], MACAddress: kv["mac"] + kv["mac_address"]}
	if p.IPAddress == "" {
		return neutron.AddressPair{}, fmt.Errorf("--allowed-address-pair %q: ip= is required", s)
	}
	return p, nil
}

func fixedIPs(ips []string) ([]neutron.FixedIP, error) {
	out := make([]neutron.FixedIP, 0, len(ips))
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("--ip %q: not an IP address", ip)
		}
		out = append(out, neutron.FixedIP{IPAddress: ip})
	}
	return out, nil
}

func addressPairs(vs []string) ([]neutron.AddressPair, error) {
	out := make([]neutron.AddressPair, 0, len(vs))
	for _, v := range vs {
		p, err := parseAddressPair(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func portCreateCmd(run runner) *cobra.Command {
	var (
		name, mac, host, iface, owner, device, tenant string
		ips, pairs                                    []string
	)
	cmd := &cobra.Command{
		Use:     "port-create <network-name/uuid> [--name N] [--mac MAC] [--ip IP]... [--host HOST] [--interface TAP]",
		Short:   "Create a port (a VM attachment) on a network",
		Example: `  l2gw port-create net1 --name vm1 --mac fa:16:3e:00:00:01 --ip 10.0.0.5 --host compute1 --interface tap1`,
		Args:    argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			ctx := x.cmd.Context()
			fips, err := fixedIPs(ips)
			if err != nil {
				return err
			}
			aps, err := addressPairs(pairs)
			if err != nil {
				return err
			}
			n, err := x.c.ResolveNetwork(ctx, args[0])
			if err != nil {
				return err
			}
			body := neutron.PortCreate{
				NetworkID: n.ID, Name: name, TenantID: tenant, MACAddress: mac, FixedIPs: fips,
				HostID: host, DeviceOwner: owner, DeviceID: device, AllowedAddressPairs: aps,
			}
			if iface != "" {
				body.Profile = &neutron.BindingProfile{InterfaceName: iface}
			}
			p, err := x.c.CreatePort(ctx, body)
			if err != nil {
				return err
			}
			return x.object(p)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "port name")
	f.StringVar(&mac, "mac", "", "MAC address (default: generated by the server)")
	f.StringArrayVar(&ips, "ip", nil, "fixed IP address (repeatable)")
	f.StringVar(&host, "host", "", "compute host the port is bound to (binding:host_id)")
	f.StringVar(&iface, "interface", "", "host-side device of the port, e.g. tap1 (binding:profile interface_name)")
	f.StringVar(&owner, "device-owner", "", "device_owner, e.g. compute:nova")
	f.StringVar(&device, "device-id", "", "device_id, e.g. the VM's uuid")
	f.StringArrayVar(&pairs, "allowed-address-pair", nil, "extra address: ip=<ip>[,mac=<mac>] (repeatable)")
	f.StringVar(&tenant, "tenant-id", "", "owner project (admin only)")
	return cmd
}

func portListCmd(run runner) *cobra.Command {
	var network, host string
	var names []string
	cmd := &cobra.Command{
		Use:   "port-list [--network NET] [--host HOST]",
		Short: "List ports",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			ctx := x.cmd.Context()
			o := filterValues("name", names)
			if err := x.filterNetwork(o, network); err != nil {
				return err
			}
			if host != "" {
				o.Filters.Set("binding:host_id", host)
			}
			ps, err := x.c.ListPorts(ctx, o)
			if err != nil {
				return err
			}
			nets := x.networkNames(ctx)
			return printList(x.out(), x.output, ps, portColumns, func(i int, m map[string]any) {
				m["network_name"] = nets[ps[i].NetworkID]
			})
		}),
	}
	cmd.Flags().StringVar(&network, "network", "", "only ports of this network (name or uuid)")
	cmd.Flags().StringVar(&host, "host", "", "only ports bound to this host")
	cmd.Flags().StringArrayVar(&names, "name", nil, "only ports with this name (repeatable)")
	return cmd
}

func portUpdateCmd(run runner) *cobra.Command {
	var (
		name, host, iface, owner, device string
		ips, pairs                       []string
		noPairs                          bool
	)
	cmd := &cobra.Command{
		Use:   "port-update <port-name/uuid> [--name N] [--host HOST] [--ip IP]... [--interface TAP]",
		Short: "Update a port (binding host, addresses, interface)",
		Args:  argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			f := x.cmd.Flags()
			var u neutron.PortUpdate
			changed := false
			set := func(flag string, dst **string, v *string) {
				if f.Changed(flag) {
					*dst = v
					changed = true
				}
			}
			set("name", &u.Name, &name)
			set("host", &u.HostID, &host)
			set("device-owner", &u.DeviceOwner, &owner)
			set("device-id", &u.DeviceID, &device)
			if f.Changed("interface") {
				u.Profile = &neutron.BindingProfile{InterfaceName: iface}
				changed = true
			}
			if f.Changed("ip") {
				fips, err := fixedIPs(ips)
				if err != nil {
					return err
				}
				u.FixedIPs = &fips
				changed = true
			}
			if f.Changed("allowed-address-pair") || noPairs {
				aps, err := addressPairs(pairs)
				if err != nil {
					return err
				}
				u.AllowedAddressPairs = &aps
				changed = true
			}
			if !changed {
				return fmt.Errorf("nothing to update")
			}
			ctx := x.cmd.Context()
			p, err := x.c.ResolvePort(ctx, args[0])
			if err != nil {
				return err
			}
			p, err = x.c.UpdatePort(ctx, p.ID, u)
			if err != nil {
				return err
			}
			return x.object(p)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&host, "host", "", "compute host the port is bound to (empty: unbind)")
	f.StringVar(&iface, "interface", "", "host-side device of the port")
	f.StringArrayVar(&ips, "ip", nil, "fixed IP address; replaces all (repeatable)")
	f.StringVar(&owner, "device-owner", "", "device_owner")
	f.StringVar(&device, "device-id", "", "device_id")
	f.StringArrayVar(&pairs, "allowed-address-pair", nil, "ip=<ip>[,mac=<mac>]; replaces all (repeatable)")
	f.BoolVar(&noPairs, "no-allowed-address-pairs", false, "remove all allowed address pairs")
	return cmd
}

func hostCreateCmd(run runner) *cobra.Command {
	var vtep, desc string
	cmd := &cobra.Command{
		Use:     "host-create <name> --vtep-ip IP",
		Short:   "Register a compute host and its VTEP IP",
		Example: `  l2gw host-create compute1 --vtep-ip 192.0.2.2`,
		Args:    argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			h, err := x.c.CreateHost(x.cmd.Context(), neutron.HostCreate{Name: args[0], VTEPIP: vtep, Description: desc})
			if err != nil {
				return err
			}
			return x.object(h)
		}),
	}
	cmd.Flags().StringVar(&vtep, "vtep-ip", "", "tunnel endpoint (VTEP) IPv4 address of the host")
	cmd.Flags().StringVar(&desc, "description", "", "free text")
	_ = cmd.MarkFlagRequired("vtep-ip")
	return cmd
}

func hostListCmd(run runner) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "host-list",
		Short: "List compute hosts",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			hs, err := x.c.ListHosts(x.cmd.Context(), filterValues("name", names))
			if err != nil {
				return err
			}
			return printList(x.out(), x.output, hs, hostColumns, nil)
		}),
	}
	cmd.Flags().StringArrayVar(&names, "name", nil, "only hosts with this name (repeatable)")
	return cmd
}

func hostUpdateCmd(run runner) *cobra.Command {
	var vtep, desc string
	cmd := &cobra.Command{
		Use:   "host-update <host-name/uuid> [--vtep-ip IP] [--description TEXT]",
		Short: "Update a compute host",
		Args:  argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			var u neutron.HostUpdate
			if x.cmd.Flags().Changed("vtep-ip") {
				u.VTEPIP = &vtep
			}
			if x.cmd.Flags().Changed("description") {
				u.Description = &desc
			}
			if u.VTEPIP == nil && u.Description == nil {
				return fmt.Errorf("nothing to update: give --vtep-ip or --description")
			}
			ctx := x.cmd.Context()
			h, err := x.c.ResolveHost(ctx, args[0])
			if err != nil {
				return err
			}
			h, err = x.c.UpdateHost(ctx, h.ID, u)
			if err != nil {
				return err
			}
			return x.object(h)
		}),
	}
	cmd.Flags().StringVar(&vtep, "vtep-ip", "", "tunnel endpoint (VTEP) IPv4 address of the host")
	cmd.Flags().StringVar(&desc, "description", "", "free text")
	return cmd
}

func switchListCmd(run runner) *cobra.Command {
	return &cobra.Command{
		Use:   "switch-list",
		Short: "List the VTEP switches reported by switch agents",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			ss, err := x.c.ListSwitches(x.cmd.Context(), client.ListOptions{})
			if err != nil {
				return err
			}
			return printList(x.out(), x.output, ss, switchColumns, nil)
		}),
	}
}

func localMACListCmd(run runner) *cobra.Command {
	var network, sw string
	cmd := &cobra.Command{
		Use:   "local-mac-list [--network NET] [--switch SWITCH]",
		Short: "List the MACs learned behind switch ports (bare-metal hosts)",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			ctx := x.cmd.Context()
			o := filterValues("", nil)
			if err := x.filterNetwork(o, network); err != nil {
				return err
			}
			if sw != "" {
				o.Filters.Set("switch", sw)
			}
			ms, err := x.c.ListLocalMACs(ctx, o)
			if err != nil {
				return err
			}
			nets := x.networkNames(ctx)
			return printList(x.out(), x.output, ms, localMACColumns, func(i int, m map[string]any) {
				m["network_name"] = nets[ms[i].NetworkID]
			})
		}),
	}
	cmd.Flags().StringVar(&network, "network", "", "only MACs of this network (name or uuid)")
	cmd.Flags().StringVar(&sw, "switch", "", "only MACs learned on this switch")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// Table columns of the list commands.
var (
	gatewayColumns = []string{"id", "name", "devices"}
)

func toRequest(ifs []interfaceArg) []neutron.InterfaceRequest {
	out := make([]neutron.InterfaceRequest, len(ifs))
	for i, f := range ifs {
		out[i] = neutron.InterfaceRequest{Name: f.Name, SegmentationID: f.SegIDs}
	}
	return out
}

func fromResponse(ifs []neutron.Interface) []interfaceArg {
	out := make([]interfaceArg, len(ifs))
	for i, f := range ifs {
		out[i] = interfaceArg{Name: f.Name}
		if len(f.SegmentationID) > 0 {
			out[i].SegIDs = f.SegmentationID
		}
	}
	return out
}

func parseDevices(values []string) ([]deviceArg, error) {
	out := make([]deviceArg, 0, len(values))
	for _, v := range values {
		d, err := parseDevice(v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func gatewayCommands(run runner) []*cobra.Command {
	return []*cobra.Command{
		gatewayCreateCmd(run),
		gatewayUpdateCmd(run),
		gatewayListCmd(run),
		showCmd(run, "l2-gateway-show <gateway-name/uuid>", "Show a logical L2 gateway", (*client.Client).ResolveGateway),
		deleteCmd(run, "l2-gateway-delete <gateway-name/uuid>...", "Delete logical L2 gateways", "l2_gateway",
			(*client.Client).ResolveGateway, func(g neutron.Gateway) string { return g.ID }, (*client.Client).DeleteGateway),
		connectionCreateCmd(run),
		connectionListCmd(run),
		connectionShowCmd(run),
		connectionStatusCmd(run),
		deleteCmd(run, "l2-gateway-connection-delete <connection-uuid>...", "Delete gateway connections", "l2_gateway_connection",
			(*client.Client).ResolveConnection, func(c neutron.Connection) string { return c.ID }, (*client.Client).DeleteConnection),
	}
}

const deviceHelp = `device and its interfaces: name=<device>,interface_names=<if1>[:<seg1>[,<seg2>]][;<if2>[:...]] (repeatable)`

func gatewayCreateCmd(run runner) *cobra.Command {
	var devices []string
	var tenant string
	cmd := &cobra.Command{
		Use:   "l2-gateway-create <gateway-name> --device name=<device>,interface_names=<interfaces>...",
		Short: "Create a logical L2 gateway",
		Example: `  l2gw l2-gateway-create gw1 --device name=gatewayhost,interface_names="port1;port2"
  l2gw l2-gateway-create gw2 --device name=gatewayhost,interface_names="port3:100,101;port4:200"`,
		Args: argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			devs, err := parseDevices(devices)
			if err != nil {
				return err
			}
			body := neutron.GatewayCreate{Name: args[0], TenantID: tenant, Devices: []neutron.DeviceRequest{}}
			for _, d := range devs {
				if d.Interfaces == nil {
					return fmt.Errorf("--device name=%s: interface_names is required to create a gateway", d.Name)
				}
				body.Devices = append(body.Devices, neutron.DeviceRequest{DeviceName: d.Name, Interfaces: toRequest(d.Interfaces)})
			}
			gw, err := x.c.CreateGateway(x.cmd.Context(), body)
			if err != nil {
				return err
			}
			return x.object(gw)
		}),
	}
	cmd.Flags().StringArrayVar(&devices, "device", nil, deviceHelp)
	cmd.Flags().StringVar(&tenant, "tenant-id", "", "owner project of the gateway (admin only)")
	_ = cmd.MarkFlagRequired("device")
	return cmd
}

func gatewayUpdateCmd(run runner) *cobra.Command {
	var (
		name          string
		devices       []string
		addIfaces     []string
		removeIfaces  []string
		nameIsChanged bool
	)
	cmd := &cobra.Command{
		Use:   "l2-gateway-update <gateway-name/uuid> [--name NEW] [--device name=<device>[,interface_names=...]] [--add-interface IF[:SEGS]] [--remove-interface IF]",
		Short: "Rename a gateway or change the interfaces of one of its devices",
		Long: `Rename a gateway or change the interfaces of one of its devices.

--add-interface and --remove-interface edit the interface list of the device
named by --device (which may be left out when the gateway has one device);
the server makes the edit in one transaction (PUT .../remove_interfaces, then
.../add_interfaces), so concurrent edits by several clients all land. Adding
an interface already there with the same VLANs changes nothing; with other
VLANs it is refused (remove it first). Adding to a device the gateway lacks
adds the device; removing a device's last interface removes the device.
--device name=D,interface_names=... replaces D's interface list (a PUT, sent
before the edits).`,
		Example: `  l2gw l2-gateway-update gw1 --device name=gatewayhost --add-interface port3:200 --remove-interface port2
  l2gw l2-gateway-update gw1 --name gw-rack1`,
		Args: argsExact(1),
		RunE: run(func(x *cliContext, args []string) error {
			nameIsChanged = x.cmd.Flags().Changed("name")
			devs, err := parseDevices(devices)
			if err != nil {
				return err
			}
			var adds []interfaceArg
			for _, v := range addIfaces {
				for _, part := range strings.Split(v, ";") {
					if strings.TrimSpace(part) == "" {
						continue
					}
					ifc, err := parseInterface(part)
					if err != nil {
						return fmt.Errorf("--add-interface: %w", err)
					}
					adds = append(adds, ifc)
				}
			}
			if !nameIsChanged && len(devs) == 0 && len(adds) == 0 && len(removeIfaces) == 0 {
				return errors.New("nothing to update: give --name, --device, --add-interface or --remove-interface")
			}
			ctx := x.cmd.Context()
			gw, err := x.c.ResolveGateway(ctx, args[0])
			if err != nil {
				return err
			}
			// A server without revision numbers (the original
			// networking-l2gw) has no member actions either: it gets the
			// whole new list in one PUT, edited here.
			if (len(adds) == 0 && len(removeIfaces) == 0) || gw.RevisionNumber == 0 {
				body, err := gatewayUpdateBody(gw, nameIsChanged, name, devs, adds, removeIfaces)
				if err != nil {
					return err
				}
				updated, err := x.c.UpdateGateway(ctx, gw.ID, body)
				if err != nil {
					return err
				}
				return x.object(updated)
			}
			updated, err := editInterfaces(ctx, x.c, gw, nameIsChanged, name, devs, adds, removeIfaces)
			if err != nil {
				return err
			}
			return x.object(updated)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name of the gateway")
	f.StringArrayVar(&devices, "device", nil, deviceHelp)
	f.StringArrayVar(&addIfaces, "add-interface", nil, "interface to add to the --device: <name>[:<seg1>[,<seg2>]] (repeatable)")
	f.StringArrayVar(&removeIfaces, "remove-interface", nil, "interface to remove from the --device (repeatable)")
	return cmd
}

// editInterfaces is l2-gateway-update with --add-interface or
// --remove-interface against l2gw: the server edits the list
// (remove_interfaces, then add_interfaces, each atomic), so edits by
// concurrent clients all land without reading and rewriting the list here.
// A --name or a --device with interface_names is a PUT sent first.
func editInterfaces(ctx context.Context, c *client.Client, gw neutron.Gateway, setName bool, name string,
	devs []deviceArg, adds []interfaceArg, removes []string) (neutron.Gateway, error) {
	target, err := editTarget(gw, devs)
	if err != nil {
		return gw, err
	}
	var replace []deviceArg
	if len(devs) == 1 && devs[0].Interfaces != nil {
		replace = devs
	}
	var done []string
	failed := func(err error) error {
		if len(done) == 0 {
			return err
		}
		return fmt.Errorf("%s done; then: %w", strings.Join(done, ", "), err)
	}
	if setName || len(replace) > 0 {
		body, err := gatewayUpdateBody(gw, setName, name, replace, nil, nil)
		if err != nil {
			return gw, err
		}
		if gw, err = c.UpdateGateway(ctx, gw.ID, body); err != nil {
			return gw, err
		}
		done = append(done, "the PUT of --name/--device")
	}
	if len(removes) > 0 {
		d := neutron.DeviceRequest{DeviceName: target, Interfaces: []neutron.InterfaceRequest{}}
		for _, r := range removes {
			d.Interfaces = append(d.Interfaces, neutron.InterfaceRequest{Name: strings.TrimSpace(r)})
		}
		updated, err := c.RemoveGatewayInterfaces(ctx, gw.ID, 0, []neutron.DeviceRequest{d})
		if err != nil {
			return gw, failed(err)
		}
		gw = updated
		done = append(done, "--remove-interface")
	}
	if len(adds) > 0 {
		d := neutron.DeviceRequest{DeviceName: target, Interfaces: toRequest(adds)}
		updated, err := c.AddGatewayInterfaces(ctx, gw.ID, 0, []neutron.DeviceRequest{d})
		if err != nil {
			return gw, failed(err)
		}
		gw = updated
	}
	return gw, nil
}

// gatewayUpdateBody computes the PUT body of l2-gateway-update from the
// gateway's current state: devices with interface_names replace their list;
// --add-interface/--remove-interface edit the one target device.
func gatewayUpdateBody(gw neutron.Gateway, setName bool, name string, devs []deviceArg, adds []interfaceArg, removes []string) (neutron.GatewayUpdate, error) {
	var body neutron.GatewayUpdate
	if setName {
		body.Name = &name
	}
	current := make(map[string][]interfaceArg, len(gw.Devices))
	for _, d := range gw.Devices {
		current[d.DeviceName] = fromResponse(d.Interfaces)
	}
	editing := len(adds) > 0 || len(removes) > 0
	var target string
	if editing {
		var err error
		if target, err = editTarget(gw, devs); err != nil {
			return body, err
		}
		if _, ok := current[target]; !ok {
			return body, fmt.Errorf("gateway %s has no device %q", gw.Name, target)
		}
	}
	seen := map[string]bool{}
	for _, d := range devs {
		if seen[d.Name] {
			return body, fmt.Errorf("--device name=%s given twice", d.Name)
		}
		seen[d.Name] = true
		ifs := d.Interfaces
		if d.Name == target {
			base := current[target]
			if ifs != nil {
				base = ifs
			}
			var err error
			if ifs, err = applyInterfaceChanges(base, adds, removes); err != nil {
				return body, err
			}
		} else if ifs == nil {
			return body, fmt.Errorf("--device name=%s: give interface_names (or use --add-interface/--remove-interface)", d.Name)
		}
		body.Devices = append(body.Devices, neutron.DeviceRequest{DeviceName: d.Name, Interfaces: toRequest(ifs)})
	}
	if editing && len(devs) == 0 {
		ifs, err := applyInterfaceChanges(current[target], adds, removes)
		if err != nil {
			return body, err
		}
		body.Devices = append(body.Devices, neutron.DeviceRequest{DeviceName: target, Interfaces: toRequest(ifs)})
	}
	return body, nil
}

func gatewayListCmd(run runner) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "l2-gateway-list",
		Short: "List logical L2 gateways",
		Args:  argsNone,
		RunE: run(func(x *cliContext, _ []string) error {
			o := filterValues("name", names)
			gws, err := x.c.ListGateways(x.cmd.Context(), o)
			if err != nil {
				return err
			}
			return printList(x.out(), x.output, gws, gatewayColumns, nil)
		}),
	}
	cmd.Flags().StringArrayVar(&names, "name", nil, "only gateways with this name (repeatable)")
	return cmd
}

// editTarget is the device --add-interface and --remove-interface edit:
// the one --device names, or the gateway's only device.
func editTarget(gw neutron.Gateway, devs []deviceArg) (string, error) {
	switch {
	case len(devs) == 1:
		return devs[0].Name, nil
	case len(devs) == 0 && len(gw.Devices) == 1:
		return gw.Devices[0].DeviceName, nil
	case len(devs) == 0:
		return "", fmt.Errorf("gateway %s has %d devices: name the one to edit with --device name=<device>", gw.Name, len(gw.Devices))
	default:
		return "", errors.New("--add-interface/--remove-interface need exactly one --device")
	}
}

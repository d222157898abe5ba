package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/reconcile"
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
the client reads the gateway and sends the device's whole new interface list,
on the condition that the gateway is unchanged since it was read (If-Match:
revision_number=N); when another client changed it in between, it reads it
again and redoes the edit, so concurrent edits all land.
--device name=D,interface_names=... replaces D's interface list.`,
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
			// --add-interface/--remove-interface edit what was read: the PUT
			// is conditional on the revision read (If-Match), and a 412 means
			// another client changed the gateway in between, so read again
			// and redo the edit. A server without revision numbers (the
			// original networking-l2gw) gets the plain PUT.
			editing := len(adds) > 0 || len(removeIfaces) > 0
			for attempt := 1; ; attempt++ {
				body, err := gatewayUpdateBody(gw, nameIsChanged, name, devs, adds, removeIfaces)
				if err != nil {
					return err
				}
				if !editing || gw.RevisionNumber == 0 {
					updated, err := x.c.UpdateGateway(ctx, gw.ID, body)
					if err != nil {
						return err
					}
					return x.object(updated)
				}
				updated, err := x.c.UpdateGatewayIf(ctx, gw.ID, gw.RevisionNumber, body)
				if err == nil {
					return x.object(updated)
				}
				if !client.IsPreconditionFailed(err) || attempt == maxUpdateAttempts {
					return err
				}
				if err := pause(ctx, attempt); err != nil {
					return err
				}
				if gw, err = x.c.GetGateway(ctx, gw.ID); err != nil {
					return err
				}
			}
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name of the gateway")
	f.StringArrayVar(&devices, "device", nil, deviceHelp)
	f.StringArrayVar(&addIfaces, "add-interface", nil, "interface to add to the --device: <name>[:<seg1>[,<seg2>]] (repeatable)")
	f.StringArrayVar(&removeIfaces, "remove-interface", nil, "interface to remove from the --device (repeatable)")
	return cmd
}

// maxUpdateAttempts bounds the read-modify-write retries of
// l2-gateway-update: every round some concurrent writer succeeds, so only
// that many clients editing one gateway at once could exhaust it.
const maxUpdateAttempts = 50

// pause waits a random 0..attempt×5ms (at most 100ms) before a retry, so
// that clients that collided spread out.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt*5, 100))*int64(time.Millisecond) + 1))
	if !reconcile.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
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
		switch {
		case len(devs) == 1:
			target = devs[0].Name
		case len(devs) == 0 && len(gw.Devices) == 1:
			target = gw.Devices[0].DeviceName
		case len(devs) == 0:
			return body, fmt.Errorf("gateway %s has %d devices: name the one to edit with --device name=<device>", gw.Name, len(gw.Devices))
		default:
			return body, errors.New("--add-interface/--remove-interface need exactly one --device")
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

package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// cliOptions are the flags shared by every client command.
type cliOptions struct {
	url    string
	token  string
	format string
}

func (o *cliOptions) client() (*client.Client, error) {
	var opts []client.Option
	if o.token != "" {
		opts = append(opts, client.WithToken(o.token))
	}
	opts = append(opts, client.WithUserAgent("l2gw-cli"))
	return client.New(o.url, opts...)
}

// check validates the global flags once per command.
func (o *cliOptions) check() error {
	if o.format != formatTable && o.format != formatJSON {
		return fmt.Errorf("--format %q: want %s or %s", o.format, formatTable, formatJSON)
	}
	return nil
}

// cliContext is what a client command's run function gets.
type cliContext struct {
	cmd    *cobra.Command
	c      *client.Client
	format string
}

func (x *cliContext) out() io.Writer { return x.cmd.OutOrStdout() }

func (x *cliContext) object(v any) error { return printObject(x.out(), x.format, v) }

// deleted confirms a deletion in table mode, like neutron ("Deleted network: net1").
func (x *cliContext) deleted(resource, what string) error {
	if x.format == formatJSON {
		return nil
	}
	_, err := fmt.Fprintf(x.out(), "Deleted %s: %s\n", resource, what)
	return err
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// addClientCommands registers the seed's client commands
// (l2-gateway-*, l2-gateway-connection-*) and the inventory commands
// (net-*, port-*, host-*, switch-*, local-mac-list) on root, with the
// persistent flags --url, --token and -f/--format.
func addClientCommands(root *cobra.Command) {
	o := &cliOptions{}
	pf := root.PersistentFlags()
	pf.StringVar(&o.url, "url", client.DefaultURL, "l2gw API endpoint (env L2GW_URL)")
	pf.StringVar(&o.token, "token", "", "Keystone token sent as X-Auth-Token (env L2GW_TOKEN)")
	// The environment sets the values but not the defaults help prints:
	// a token must never appear in --help output.
	o.url = envOr("L2GW_URL", client.DefaultURL)
	o.token = os.Getenv("L2GW_TOKEN")
	pf.StringVarP(&o.format, "format", "f", formatTable, "output format of client commands: table or json")

	// run wraps a client command body: global flag checks, client set-up.
	run := func(f func(x *cliContext, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			return f(&cliContext{cmd: cmd, c: c, format: o.format}, args)
		}
	}
	for _, cmd := range gatewayCommands(run) {
		cmd.GroupID = "l2gw"
		root.AddCommand(cmd)
	}
	for _, cmd := range inventoryCommands(run) {
		cmd.GroupID = "inventory"
		root.AddCommand(cmd)
	}
	root.AddCommand(statusCmd(run))
	root.AddGroup(
		&cobra.Group{ID: "l2gw", Title: "L2 gateway commands (the seed's CLI):"},
		&cobra.Group{ID: "inventory", Title: "Inventory commands (networks, ports, hosts, switches):"},
	)
}

// runner adapts a client command body to cobra.
type runner func(f func(x *cliContext, args []string) error) func(*cobra.Command, []string) error

// filterNetwork adds the filter network_id = the network named by network
// (a name or UUID) to o, unless network is empty.
func (x *cliContext) filterNetwork(o client.ListOptions, network string) error {
	if network == "" {
		return nil
	}
	n, err := x.c.ResolveNetwork(x.cmd.Context(), network)
	if err != nil {
		return err
	}
	o.Filters.Set("network_id", n.ID)
	return nil
}

// showCmd is a `<resource>-show` command: it finds its one argument (a
// name or UUID) with find and prints the object.
func showCmd[T any](run runner, use, short string, find func(*client.Client, context.Context, string) (T, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: run(func(x *cliContext, args []string) error {
			v, err := find(x.c, x.cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return x.object(v)
		}),
	}
}

// deleteCmd is a `<resource>-delete` command: for each argument in turn it
// finds the object with find, deletes it by id with del and says so as
// resource.
func deleteCmd[T any](run runner, use, short, resource string, find func(*client.Client, context.Context, string) (T, error),
	id func(T) string, del func(*client.Client, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: run(func(x *cliContext, args []string) error {
			ctx := x.cmd.Context()
			for _, a := range args {
				v, err := find(x.c, ctx, a)
				if err != nil {
					return err
				}
				if err := del(x.c, ctx, id(v)); err != nil {
					return err
				}
				if err := x.deleted(resource, a); err != nil {
					return err
				}
			}
			return nil
		}),
	}
}

// byUUID finds a resource given by UUID only (connections have no name).
func byUUID(_ *client.Client, _ context.Context, id string) (string, error) { return id, nil }

// getConnection and getSwitch find a connection by UUID and a switch by
// name (the client's Get methods also take fields).
func getConnection(c *client.Client, ctx context.Context, id string) (neutron.Connection, error) {
	return c.GetConnection(ctx, id)
}

func getSwitch(c *client.Client, ctx context.Context, name string) (neutron.Switch, error) {
	return c.GetSwitch(ctx, name)
}

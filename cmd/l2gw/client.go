package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// cliOptions are the flags shared by every client command.
type cliOptions struct {
	url     string
	token   string
	timeout time.Duration
	cacert  string
	out     output
}

// defaultTimeout bounds each request of a client command.
const defaultTimeout = 30 * time.Second

// client returns the API client of the command. Its HTTP client times out
// each request after --timeout; only the CLI's does (the agents' plan
// streams must not time out as whole requests).
func (o *cliOptions) client() (*client.Client, error) {
	conf, err := clientTLS(o.cacert, "", "")
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithUserAgent("l2gw-cli"),
		client.WithHTTPClient(&http.Client{Timeout: o.timeout, Transport: httpTransport(conf)}),
	}
	if o.token != "" {
		opts = append(opts, client.WithToken(o.token))
	}
	c, err := client.New(o.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	return c, nil
}

// check validates the global flags once per command.
func (o *cliOptions) check() error {
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration such as 30s or 2m", o.timeout)
	}
	return o.out.check()
}

// explain turns a request that never got an answer into a message for
// the operator: which URL, what happened, what to check. API errors and
// everything else pass unchanged.
func (o *cliOptions) explain(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) || errors.Is(err, context.Canceled) {
		return err // an API answer, or the operator's Ctrl-C
	}
	var msg string
	switch {
	case ue.Timeout():
		msg = fmt.Sprintf("no answer from the l2gw API at %s within %s (--timeout): check that the server there is up and not overloaded, or give a longer --timeout",
			o.url, o.timeout)
	case certProblem(err) != "":
		msg = fmt.Sprintf("TLS with the l2gw API at %s failed: %s: give the CA that signed the server's certificate with --cacert (or L2GW_CACERT), and check --url names a host the certificate is for",
			o.url, certProblem(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("cannot connect to the l2gw API at %s: connection refused: check that `l2gw server` runs there and that --url (or L2GW_URL) names its address",
			o.url)
	default:
		cause := ue.Err
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			cause = op.Err
		}
		msg = fmt.Sprintf("cannot reach the l2gw API at %s: %v: check --url (or L2GW_URL) and the network path to the server", o.url, cause)
	}
	return &unreachableError{msg: msg, err: err}
}

// certProblem describes what is wrong with the server's certificate in
// err, or is empty when err is not about it.
func certProblem(err error) string {
	var (
		ua  x509.UnknownAuthorityError
		inv x509.CertificateInvalidError
		hn  x509.HostnameError
		ver *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &ua):
		return "the server's certificate is signed by an unknown authority (" + ua.Error() + ")"
	case errors.As(err, &inv):
		return "the server's certificate is not valid (" + inv.Error() + ")"
	case errors.As(err, &hn):
		return "the server's certificate is not for this host (" + hn.Error() + ")"
	case errors.As(err, &ver):
		return "the server's certificate does not verify (" + ver.Err.Error() + ")"
	case errors.As(err, &rh):
		return "the server does not speak TLS (use an http:// URL for a server without --tls-cert)"
	}
	return ""
}

// unreachableError is a request that got no answer, with the operator's
// message; it unwraps to the transport error.
type unreachableError struct {
	msg string
	err error
}

func (e *unreachableError) Error() string { return e.msg }
func (e *unreachableError) Unwrap() error { return e.err }

// cliContext is what a client command's run function gets.
type cliContext struct {
	cmd    *cobra.Command
	c      *client.Client
	output output
}

func (x *cliContext) out() io.Writer { return x.cmd.OutOrStdout() }

func (x *cliContext) object(v any) error { return printObject(x.out(), x.output, v) }

// deleted confirms a deletion in table mode, like neutron ("Deleted network: net1").
func (x *cliContext) deleted(resource, what string) error {
	if x.output.format != formatTable {
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
// persistent flags --url, --token, --timeout, -f/--format and -c/--column.
func addClientCommands(root *cobra.Command) {
	o := &cliOptions{}
	pf := root.PersistentFlags()
	pf.StringVar(&o.url, "url", client.DefaultURL, "l2gw API endpoint (env L2GW_URL)")
	pf.StringVar(&o.token, "token", "", "Keystone token sent as X-Auth-Token (env L2GW_TOKEN)")
	// The environment sets the values but not the defaults help prints:
	// a token must never appear in --help output.
	o.url = envOr("L2GW_URL", client.DefaultURL)
	o.token = os.Getenv("L2GW_TOKEN")
	pf.StringVarP(&o.out.format, "format", "f", formatTable, "output format of client commands: "+strings.Join(formats, ", "))
	pf.StringArrayVarP(&o.out.columns, "column", "c", nil, "print only this column (repeatable; e.g. -f value -c id)")
	pf.StringVar(&o.cacert, "cacert", os.Getenv("L2GW_CACERT"), cacertUsage)
	pf.DurationVar(&o.timeout, "timeout", defaultTimeout, "time limit of each API request")

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
			return o.explain(f(&cliContext{cmd: cmd, c: c, output: o.out}, args))
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
		Args:  argsExact(1),
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
		Args:  argsMin(1),
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

// getSwitch finds a switch by name (the client's Get methods also take
// fields).
func getSwitch(c *client.Client, ctx context.Context, name string) (neutron.Switch, error) {
	return c.GetSwitch(ctx, name)
}

// Command l2gw is the L2 gateway controller: API server, agents, software
// VTEP and client, as sub-commands of one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "l2gw:", err)
		}
		os.Exit(1)
	}
}

// errSilent ends the command with a failure status after the command has
// already told the user what went wrong.
var errSilent = errors.New("failed")

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "l2gw",
		Short:         "L2 gateway controller: bridges VXLAN overlay networks to physical VLANs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each role registers its sub-commands from its own file.
	root.AddCommand(newServerCmd())
	root.AddCommand(newSoftVTEPCmd())
	addClientCommands(root)
	root.AddCommand(newSwitchAgentCmd(), newHostAgentCmd())
	root.AddCommand(newManCmd())
	setVersion(root)
	// cobra adds `completion bash|zsh|fish|powershell` itself.
	withUsage(root)
	return root
}

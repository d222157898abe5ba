package main

import "github.com/spf13/cobra"

// newServerCmd is owned by the API server work (issue 3).
func newServerCmd() *cobra.Command {
	return &cobra.Command{Use: "server", Short: "Run the l2gw API server"}
}

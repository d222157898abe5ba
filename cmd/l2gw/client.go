package main

import "github.com/spf13/cobra"

// addClientCommands is owned by the CLI work (issue 3).
func addClientCommands(root *cobra.Command) {}

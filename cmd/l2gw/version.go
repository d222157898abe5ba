package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/version"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// setVersion makes `l2gw --version` print the build (module version, VCS
// revision, Go version) and adds `l2gw version`, which prints the same.
func setVersion(root *cobra.Command) {
	root.Version = version.Get().String()
	root.SetVersionTemplate("l2gw {{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the l2gw version (module version, VCS revision, Go version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "l2gw %s\n", version.Get())
			return err
		},
	})
}

// newManCmd returns the hidden `l2gw man DIR`, which writes a man page
// (section 1) per command into DIR (created if missing); the .deb build (packaging/deb) runs it.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages of l2gw and its sub-commands into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			hdr := &doc.GenManHeader{Title: "L2GW", Section: "1", Source: "l2gw " + version.Get().Version, Manual: "l2gw manual"}
			// Reproducible builds date the pages by SOURCE_DATE_EPOCH
			// (reproducible-builds.org/specs/source-date-epoch), as nfpm
			// dates the package's files.
			if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
				sec, err := strconv.ParseInt(e, 10, 64)
				if err != nil {
					return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", e, err)
				}
				d := time.Unix(sec, 0).UTC()
				hdr.Date = &d
			}
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return nil
		},
	}
}

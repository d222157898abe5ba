package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// logLevelUsage is the help of every --log-level flag.
const logLevelUsage = "log level: debug, info, warn, error"

// newLogger returns the JSON logger on stderr at level, the value of
// --log-level (debug, info, warn, error).
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// agentStart prepares an agent command (switch-agent, host-agent,
// soft-vtep) to run: it sets flags from the environment (envFlags with
// envPrefix, then --server from L2GW_URL) and returns the logger
// --log-level asks for.
func agentStart(cmd *cobra.Command, envPrefix string) (*slog.Logger, error) {
	if err := envFlags(cmd, envPrefix); err != nil {
		return nil, err
	}
	if err := serverFromURLEnv(cmd); err != nil {
		return nil, err
	}
	return newLogger(cmd.Flags().Lookup("log-level").Value.String())
}

// serverFromURLEnv sets an agent's --server from L2GW_URL, the variable the
// client commands read, when neither the flag nor the agent's own variable
// (L2GW_<AGENT>_SERVER) gave it: one setting then points a machine's CLI
// and agents at the same server.
func serverFromURLEnv(cmd *cobra.Command) error {
	fl := cmd.Flags().Lookup("server")
	if fl == nil || fl.Value.String() != "" {
		return nil
	}
	url := os.Getenv("L2GW_URL")
	if url == "" {
		return nil
	}
	if err := fl.Value.Set(url); err != nil {
		return fmt.Errorf("environment: L2GW_URL: %w", err)
	}
	return nil
}

// envFlags sets every flag not given on the command line from
// PREFIX<FLAG_NAME> (upper case, dashes as underscores) when that variable is
// set. Repeatable flags take a comma-separated list.
func envFlags(cmd *cobra.Command, prefix string) error {
	var errs []string
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		val, ok := os.LookupEnv(prefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_")))
		if !ok {
			return
		}
		vals := []string{val}
		if fl.Value.Type() == "stringArray" {
			vals = strings.Split(val, ",")
		}
		for _, v := range vals {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s%s: %v", prefix, fl.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/logging"
)

// logLevelUsage is the help of every --log-level flag.
const logLevelUsage = "log level: debug, info, warn, error"

// logFormatUsage is the help of every --log-format flag.
const logFormatUsage = "log format: text or json (default text when stderr is a terminal, json otherwise)"

// newLogger returns the logger on stderr at level, the value of
// --log-level (debug, info, warn, error), in format, the value of
// --log-format (text, json; empty picks text on a terminal, else json).
func newLogger(level, format string) (*slog.Logger, error) {
	return newLoggerTo(os.Stderr, level, format)
}

// newLoggerTo is newLogger writing to f (a terminal picks text).
func newLoggerTo(f *os.File, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	if format == "" {
		format = logging.DefaultFormat(f)
	}
	logger, err := logging.New(f, logging.Options{Format: format, Level: l})
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	return logger, nil
}

// effectiveLogFormat is the format --log-format (format) selects for
// stderr.
func effectiveLogFormat(format string) string {
	if format == "" {
		return logging.DefaultFormat(os.Stderr)
	}
	return format
}

// addLogFlags adds --log-level and --log-format to an agent command.
func addLogFlags(f *pflag.FlagSet) {
	f.String("log-level", "info", logLevelUsage)
	f.String("log-format", "", logFormatUsage)
}

// agentStart prepares an agent command (switch-agent, host-agent,
// soft-vtep) to run: it sets flags from the environment (envFlags with
// envPrefix, then --server from L2GW_URL) and returns the logger
// --log-level and --log-format ask for.
func agentStart(cmd *cobra.Command, envPrefix string) (*slog.Logger, error) {
	if err := envFlags(cmd, envPrefix); err != nil {
		return nil, err
	}
	if err := serverFromURLEnv(cmd); err != nil {
		return nil, err
	}
	return newLogger(cmd.Flags().Lookup("log-level").Value.String(), cmd.Flags().Lookup("log-format").Value.String())
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

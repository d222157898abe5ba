package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// argsExact, argsNone, argsMin and argsRange check a command's number of
// arguments and say what was expected in words; withUsage adds the
// command's usage line (cobra's own messages, "accepts 1 arg(s), received
// 0", tell the operator neither).
func argsExact(n int) cobra.PositionalArgs { return argsRange(n, n) }

func argsNone(cmd *cobra.Command, args []string) error { return argsRange(0, 0)(cmd, args) }

func argsMin(n int) cobra.PositionalArgs { return argsRange(n, -1) }

// argsRange wants min..max arguments (max < 0: no upper bound).
func argsRange(min, max int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		got := len(args)
		if got >= min && (max < 0 || got <= max) {
			return nil
		}
		var want string
		switch {
		case max == 0:
			return fmt.Errorf("takes no arguments, got %d (%s)", got, strings.Join(args, " "))
		case min == max:
			want = plural(min, "argument")
		case max < 0:
			want = "at least " + plural(min, "argument")
		default:
			want = fmt.Sprintf("%d to %d arguments", min, max)
		}
		return fmt.Errorf("wants %s, got %d", want, got)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// usageError is a command-line mistake: the message and the command's
// usage line.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%s: %v\nUsage: %s\nSee '%s --help'.", e.cmd.Name(), e.err, e.cmd.UseLine(), e.cmd.CommandPath())
}

func (e *usageError) Unwrap() error { return e.err }

// withUsage makes every command under root report argument and flag
// errors with its usage line, and flag values that do not parse by flag
// name and expected form instead of the parser's error (strconv.ParseInt:
// parsing "x": invalid syntax).
func withUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		var inv *pflag.InvalidValueError
		if errors.As(err, &inv) {
			err = fmt.Errorf("--%s %q: want %s", inv.GetFlag().Name, inv.GetValue(), valueForm(inv.GetFlag().Value.Type()))
		}
		return &usageError{cmd: cmd, err: err}
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil {
			check := c.Args
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// valueForm says in words what a flag of pflag type typ takes.
func valueForm(typ string) string {
	switch typ {
	case "int", "int32", "int64":
		return "a whole number"
	case "uint", "uint32", "uint64":
		return "a whole number, 0 or more"
	case "duration":
		return "a duration such as 500ms, 30s or 2m"
	case "bool":
		return "true or false"
	case "float32", "float64":
		return "a number"
	}
	return "a " + typ
}

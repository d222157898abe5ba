package main

import (
	"fmt"

	"github.com/l2gw/l2gw/internal/agentwire"
)

// printL2Pop writes the l2pop broker line and hosts table of `l2gw
// status`, when the server sends l2pop casts.
func printL2Pop(x *cliContext, l *agentwire.L2PopSystem) error {
	if l == nil {
		return nil
	}
	b := l.Broker
	conn := "connected to " + b.Broker
	if !b.Connected {
		conn = "not connected"
		if b.Error != "" {
			conn += " (" + b.Error + ")"
		}
	}
	if _, err := fmt.Fprintf(x.out(), "L2pop over %s: %s since %s, last publish %s, %d connected networks (revision %d)\n\n",
		b.TransportURL, conn, when(b.Since), when(b.LastPublish), l.Networks, b.Revision); err != nil {
		return err
	}
	rows := make([][]string, 0, len(l.Hosts))
	for _, h := range l.Hosts {
		rows = append(rows, []string{h.Host, h.Agent, fmt.Sprint(h.SentRevision), when(h.SentAt), h.State, h.Reason})
	}
	return section(x, "L2pop hosts", []string{"host", "agent", "sent_revision", "sent_at", "state", "reason"}, rows)
}

// l2popReasons are the lines of a connection's l2pop part not in sync.
func l2popReasons(l *agentwire.L2PopStatus) []string {
	if l == nil {
		return nil
	}
	var out []string
	if l.Reason != "" && l.State != agentwire.StateInSync {
		out = append(out, fmt.Sprintf("l2pop %s: %s", l.State, l.Reason))
	}
	for _, h := range l.Hosts {
		if h.State != agentwire.StateInSync {
			out = append(out, fmt.Sprintf("l2pop host %s %s: %s", h.Host, h.State, h.Reason))
		}
	}
	return out
}

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/lease"
)

// leaseFlags are the election flags of the agents: the agent's name, shown
// as the holder of what it serves, and the lease period.
type leaseFlags struct {
	name   string
	period time.Duration
}

// maxLeasePeriod is the longest --lease-period: the server grants at most
// 10s (agentapi.MaxLeaseDuration), so a switch is never left unprogrammed
// longer than about that when its agent dies.
const maxLeasePeriod = 10 * time.Second

// add defines --agent-name (default $L2GW_AGENT_NAME, else def) and
// --lease-period on f.
func (l *leaseFlags) add(f *pflag.FlagSet, def, what string) {
	if v := os.Getenv("L2GW_AGENT_NAME"); v != "" {
		def = v
	}
	f.StringVar(&l.name, "agent-name", def, "name of this agent, shown as the holder of the "+what+" it serves (env L2GW_AGENT_NAME)")
	f.DurationVar(&l.period, "lease-period", lease.DefaultPeriod,
		"duration of the agent's lease on each "+what+": a standby takes over within about 4/3 of it after the holder dies (at most "+maxLeasePeriod.String()+")")
}

// identity validates the flags and returns the agent's identity with a
// fresh instance id: two processes of one name never share a lease.
func (l *leaseFlags) identity() (lease.Identity, error) {
	if l.name == "" {
		return lease.Identity{}, fmt.Errorf("--agent-name is empty")
	}
	if l.period < 300*time.Millisecond || l.period > maxLeasePeriod {
		return lease.Identity{}, fmt.Errorf("--lease-period %v: want 300ms to %v", l.period, maxLeasePeriod)
	}
	return lease.Identity{Agent: l.name, Instance: newInstanceID()}, nil
}

func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

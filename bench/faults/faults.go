package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// A fault is injected into a running lab, held for a while (the churn goes
// on), then healed. inject returns what was hit and the heal.
type fault struct {
	kind   string
	inject func(ctx context.Context, l *lab, rnd *rand.Rand) (what string, heal func(context.Context) error, err error)
}

// down is how long a fault lasts before its heal: a killed process before
// it is restarted (as systemd's Restart= would, after RestartSec), a
// stopped database or a partition.
func down(rnd *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)+1))
}

var faults = []fault{
	{"kill-replica", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		i := rnd.IntN(2)
		l.mu.Lock()
		p := l.replicas[i]
		l.mu.Unlock()
		if err := kill9(p); err != nil {
			return "", nil, err
		}
		return p.Name, func(ctx context.Context) error { return l.startReplica(ctx, i) }, nil
	}},
	{"kill-switch-agent", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		i := rnd.IntN(len(l.swAgents))
		l.mu.Lock()
		p := l.swAgents[i]
		l.mu.Unlock()
		if err := kill9(p); err != nil {
			return "", nil, err
		}
		return p.Name, func(context.Context) error { return l.startSwitchAgent(i) }, nil
	}},
	{"kill-host-agent", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		i := rnd.IntN(len(l.hAgents))
		l.mu.Lock()
		p := l.hAgents[i]
		l.mu.Unlock()
		if err := kill9(p); err != nil {
			return "", nil, err
		}
		return p.Name, func(context.Context) error { return l.startHostAgent(i) }, nil
	}},
	{"ovsdb-empty", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		// The switch goes down, and comes back as after a reboot that lost
		// its database: empty but for the switch itself.
		o := l.ovsdbs[rnd.IntN(len(l.ovsdbs))]
		o.stop()
		return "ovsdb-server " + o.name, o.restartEmpty, nil
	}},
	{"postgres-restart", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		if err := l.pg.Stop(); err != nil {
			return "", nil, err
		}
		return "postgresql", func(context.Context) error { return l.pg.Start() }, nil
	}},
	{"partition", func(ctx context.Context, l *lab, rnd *rand.Rand) (string, func(context.Context) error, error) {
		// Replica B keeps its clients (its API link stays up) but loses
		// PostgreSQL: packets are dropped, connections are not reset.
		if err := ipCmd("link", "set", l.dbLink, "down"); err != nil {
			return "", nil, err
		}
		return "replica B ↔ postgresql", func(context.Context) error { return ipCmd("link", "set", l.dbLink, "up") }, nil
	}},
}

func faultByKind(kind string) (fault, error) {
	for _, f := range faults {
		if f.kind == kind {
			return f, nil
		}
	}
	return fault{}, fmt.Errorf("unknown fault kind %q", kind)
}

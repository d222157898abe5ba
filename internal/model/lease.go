package model

import "time"

// LeaseKind names what a lease is held on. It lives here, not in
// internal/store, so the agents (internal/lease) name leases without
// depending on the database drivers.
type LeaseKind string

// The kinds of lease: a switch (by its Physical_Switch name) is programmed
// by one switch agent at a time, a host is realised by one host agent.
const (
	LeaseSwitch LeaseKind = "switch"
	LeaseHost   LeaseKind = "host"
)

// MinLeaseTTL and MaxLeaseTTL bound a lease's duration.
const (
	MinLeaseTTL = 200 * time.Millisecond
	MaxLeaseTTL = 5 * time.Minute
)

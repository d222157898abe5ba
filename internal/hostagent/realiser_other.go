//go:build !linux

package hostagent

import (
	"context"
	"errors"

	"github.com/vishvananda/netns"

	"github.com/l2gw/l2gw/internal/planner"
)

var errNotLinux = errors.New("the host agent needs Linux (netlink)")

// Realiser is only implemented on Linux.
type Realiser struct{}

// NewRealiser fails: the host agent needs Linux.
func NewRealiser(ns netns.NsHandle, cfg RealiserConfig) (*Realiser, error) {
	return nil, errNotLinux
}

// Close does nothing.
func (r *Realiser) Close() error { return nil }

// Cleanup fails: the host agent needs Linux.
func (r *Realiser) Cleanup(ctx context.Context) error { return errNotLinux }

// Realise fails: the host agent needs Linux.
func (r *Realiser) Realise(ctx context.Context, plan planner.HostPlan) (Result, error) {
	return Result{}, errNotLinux
}

// WatchLinks fails: the host agent needs Linux.
func (r *Realiser) WatchLinks(ctx context.Context, changed func(name string)) error {
	return errNotLinux
}

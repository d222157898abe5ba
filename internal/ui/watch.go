package ui

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// WatchStatus returns st with its agent status writes announced to
// changed (Handler.Changed) once they are done: a host's status, a
// switch's sync progress, a registration and a presence claim are
// recorded without a new revision, so Store.Notify never tells of them,
// yet they change what the page shows. The server gives the agent
// protocol and its embedded switch agents this store, so every status
// write of this process reaches the viewers at once.
func WatchStatus(st store.Store, changed func()) store.Store {
	return statusWatch{Store: st, changed: changed}
}

type statusWatch struct {
	store.Store
	changed func()
}

// done announces a write that may have changed something.
func (s statusWatch) done(err error) error {
	s.changed()
	return err
}

func (s statusWatch) ReportSwitch(ctx context.Context, r model.SwitchReport) error {
	return s.done(s.Store.ReportSwitch(ctx, r))
}

func (s statusWatch) SetSwitchStatus(ctx context.Context, st model.SwitchStatus) error {
	return s.done(s.Store.SetSwitchStatus(ctx, st))
}

func (s statusWatch) SwitchGone(ctx context.Context, name, reason string) error {
	return s.done(s.Store.SwitchGone(ctx, name, reason))
}

func (s statusWatch) HostGone(ctx context.Context, name, reason string) error {
	return s.done(s.Store.HostGone(ctx, name, reason))
}

func (s statusWatch) SetHostStatus(ctx context.Context, st model.HostStatus) error {
	return s.done(s.Store.SetHostStatus(ctx, st))
}

func (s statusWatch) RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error) {
	h, err := s.Store.RegisterHost(ctx, name, vtepIP, at)
	return h, s.done(err)
}

func (s statusWatch) ClaimPresence(ctx context.Context, switches, hosts []string) error {
	return s.done(s.Store.ClaimPresence(ctx, switches, hosts))
}

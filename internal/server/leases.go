package server

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// LeaseStore is what StoreLeases needs of the store (store.Store
// implements it).
type LeaseStore interface {
	AcquireLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64, ttl time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64) error
}

// StoreLeases returns the lease.Client of agents inside the server: the
// store's leases of kind, directly. It lives here, not in internal/lease,
// so the agents' packages do not depend on the store's database drivers.
func StoreLeases(st LeaseStore, kind model.LeaseKind, id lease.Identity) lease.Client {
	return storeLeases{st: st, kind: kind, id: id}
}

type storeLeases struct {
	st   LeaseStore
	kind model.LeaseKind
	id   lease.Identity
}

func (c storeLeases) AcquireLease(ctx context.Context, name string, epoch int64, d time.Duration) (int64, time.Duration, error) {
	d = min(max(d, model.MinLeaseTTL), model.MaxLeaseTTL)
	var l store.Lease
	var err error
	if epoch == 0 {
		l, err = c.st.AcquireLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, d)
	} else {
		l, err = c.st.RenewLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, epoch, d)
	}
	if err != nil {
		return 0, 0, err
	}
	return l.Epoch, d, nil
}

func (c storeLeases) ReleaseLease(ctx context.Context, name string, epoch int64) error {
	return c.st.ReleaseLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, epoch)
}

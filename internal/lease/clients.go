package lease

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/store"
)

// Store is what a Client in the server needs of the store (store.Store
// implements it).
type Store interface {
	AcquireLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64, ttl time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64) error
}

// Identity names the agent taking part: its name (shown as the holder)
// and its process instance (two processes with one name differ).
type Identity struct {
	Agent, Instance string
}

// InStore returns the Client of agents inside the server: the store's
// leases of kind, directly.
func InStore(st Store, kind store.LeaseKind, id Identity) Client {
	return storeClient{st: st, kind: kind, id: id}
}

type storeClient struct {
	st   Store
	kind store.LeaseKind
	id   Identity
}

func (c storeClient) AcquireLease(ctx context.Context, name string, epoch int64, d time.Duration) (int64, time.Duration, error) {
	d = min(max(d, store.MinLeaseTTL), store.MaxLeaseTTL)
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

func (c storeClient) ReleaseLease(ctx context.Context, name string, epoch int64) error {
	return c.st.ReleaseLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, epoch)
}

// Remote returns the Client of agents outside the server: the lease
// endpoints of the agent protocol, through link.
func Remote(link *agentlink.Link, kind store.LeaseKind, id Identity) Client {
	return remoteClient{l: link, kind: string(kind), id: id}
}

type remoteClient struct {
	l    *agentlink.Link
	kind string
	id   Identity
}

func (c remoteClient) AcquireLease(ctx context.Context, name string, epoch int64, d time.Duration) (int64, time.Duration, error) {
	l, err := c.l.AcquireLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, epoch, d)
	if err != nil {
		return 0, 0, err
	}
	return l.Epoch, time.Duration(l.DurationMS) * time.Millisecond, nil
}

func (c remoteClient) ReleaseLease(ctx context.Context, name string, epoch int64) error {
	return c.l.ReleaseLease(ctx, c.kind, name, c.id.Agent, c.id.Instance, epoch)
}

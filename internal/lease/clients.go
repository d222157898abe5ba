package lease

import (
	"context"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/model"
)

// Identity names the agent taking part: its name (shown as the holder)
// and its process instance (two processes with one name differ).
type Identity struct {
	Agent, Instance string
}

// Remote returns the Client of agents outside the server: the lease
// endpoints of the agent protocol, through link. The Client of agents
// inside the server (the store's leases, directly) is server.StoreLeases:
// this package stays free of the store and its database drivers.
func Remote(link *agentlink.Link, kind model.LeaseKind, id Identity) Client {
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

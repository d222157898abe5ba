package softvtep

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/client"
)

// stuckClient is an OVSDB client whose reads wait for their context, as
// libovsdb's do on a client whose cache is not consistent (its monitor
// being set up again, or its connection lost).
type stuckClient struct {
	client.Client // nil: only List is called
}

func (stuckClient) List(ctx context.Context, _ any) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestPassEndsWithItsSession: a pass whose read waits on its session's
// client stops when the session ends, instead of at its own bound
// (reconcileTimeout) with the next session's pass queued behind it.
func TestPassEndsWithItsSession(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v := &VTEP{cfg: Config{Name: "sw", TunnelIP: netip.MustParseAddr("192.0.2.1")}, log: log}
	live, end := context.WithCancel(t.Context())
	v.db.Store(&session{c: stuckClient{}, live: live})
	time.AfterFunc(100*time.Millisecond, end)
	// Far beyond the session's end: without it the pass returns when this
	// passes, for another reason.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := v.reconcile(ctx, nil); !errors.Is(err, errSessionEnded) {
		t.Fatalf("reconcile = %v; want %v", err, errSessionEnded)
	}
	if ctx.Err() != nil {
		t.Fatalf("reconcile returned at its own bound: %v", ctx.Err())
	}
}

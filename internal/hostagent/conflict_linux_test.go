package hostagent

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// refusingRegistrar answers every registration as the server does for a
// host recorded with another VTEP IP.
type refusingRegistrar struct{ calls atomic.Int32 }

func (r *refusingRegistrar) SetHostStatus(context.Context, model.HostStatus) error { return nil }

func (r *refusingRegistrar) RegisterHost(context.Context, string, string, time.Time) (model.Host, error) {
	r.calls.Add(1)
	return model.Host{}, model.NewFault(model.ErrConflict, "HostVTEPIPConflict", "Host compute1 is recorded with VTEP IP 192.0.2.9")
}

// TestRunStopsOnRegistrationConflict: a registration refused with a
// conflict is not retried: Run stops and returns the server's message.
func TestRunStopsOnRegistrationConflict(t *testing.T) {
	lab := testenv.NewNetLab(t)
	c := newTestNS(t, lab, "compute")
	reg := &refusingRegistrar{}
	a, err := New(Config{Host: "compute1", VTEPIP: hostVTEP, NetNS: c.name, Logger: testLogger(t),
		HeartbeatInterval: 10 * time.Millisecond, BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond}, newFeed(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run() ran until its context ended: %v", err)
	}
	if !errors.Is(err, model.ErrConflict) || !strings.Contains(err.Error(), "registration of compute1 with VTEP IP "+hostVTEP+" refused: Host compute1 is recorded with VTEP IP 192.0.2.9") {
		t.Errorf("Run() = %v; want the refused registration with the server's message", err)
	}
	if n := reg.calls.Load(); n != 1 {
		t.Errorf("RegisterHost called %d times; want 1 (a conflict is not retried)", n)
	}
}

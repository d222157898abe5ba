package switchagent

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// blockedReporter is a server that takes reports and statuses only once
// open is closed: until then its calls hang (or end with their context).
type blockedReporter struct {
	open chan struct{}
	recorder
}

func (b *blockedReporter) wait(ctx context.Context) error {
	select {
	case <-b.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockedReporter) ReportSwitch(ctx context.Context, rep model.SwitchReport) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.recorder.ReportSwitch(ctx, rep)
}

func (b *blockedReporter) SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.recorder.SetSwitchStatus(ctx, s)
}

// TestServerHangs: the switch is programmed, plan after plan, while every
// report and status call to the server hangs; once the server answers it
// gets the latest status, not a backlog; and the agent stops while the
// calls still hang.
func TestServerHangs(t *testing.T) {
	o := newSwitch(t, false, "port1")
	plans := newFakePlans()
	rep := &blockedReporter{open: make(chan struct{})}
	mac := func(i int) string { return fmt.Sprintf("fa:16:3e:00:00:%02x", i) }
	plan := func(n int) *planBuilder {
		p := newPlan().ls("net1", 1000).bind("port1", 100, "net1").flood("net1", "192.0.2.11")
		for i := 1; i <= n; i++ {
			p.mac("net1", mac(i), "", "192.0.2.11")
		}
		return p
	}
	plans.Set(1, plan(1).build())
	stop := startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost"}, plans, rep)
	for n := 1; n <= 3; n++ {
		if n > 1 {
			plans.Set(int64(n), plan(n).build())
		}
		want := fmt.Sprintf("Ucast_Macs_Remote net1 %s ip= -> 192.0.2.11", mac(n))
		eventually(t, 20*time.Second, func() string {
			if st := ourState(t, state(t, o)); !slices.Contains(st, want) {
				return fmt.Sprintf("revision %d with the server hanging: switch %v; want %q", n, st, want)
			}
			return ""
		})
	}
	if _, ok := rep.lastStatus(); ok {
		t.Fatal("a status got through the hanging server")
	}
	close(rep.open)
	rep.waitSynced(t, 3, "")
	// The mailbox keeps the latest value: not every status of the three
	// revisions (and their sessions) is sent once the server answers.
	rep.mu.Lock()
	n := len(rep.statuses)
	rep.mu.Unlock()
	if n > 4 {
		t.Errorf("%d statuses sent once the server answered; want the latest few, not a backlog", n)
	}
	stop()
}

package switchagent

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/l2gw/l2gw/internal/model"
)

// election is an in-memory lease of one switch with the store's rules
// (internal/store lease.go): free or lapsed leases are taken with the next
// epoch, the holder renews, others are refused.
type election struct {
	mu      sync.Mutex
	holder  string
	epoch   int64
	expires time.Time
}

func (e *election) client(agent string) *electionClient { return &electionClient{e: e, agent: agent} }

func (e *election) set(holder string, epoch int64, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.holder, e.epoch, e.expires = holder, epoch, time.Now().Add(d)
}

func (e *election) get() (string, int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.holder, e.epoch
}

type electionClient struct {
	e     *election
	agent string
}

func (c *electionClient) AcquireLease(_ context.Context, _ string, epoch int64, d time.Duration) (int64, time.Duration, error) {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	switch {
	case e.holder == c.agent && (epoch == 0 || epoch == e.epoch):
	case epoch != 0:
		return 0, 0, model.NewFault(model.ErrConflict, "LeaseLost", "lease lost to %s", e.holder)
	case e.holder != "" && now.Before(e.expires):
		return 0, 0, model.NewFault(model.ErrConflict, "LeaseHeld", "held by agent %s", e.holder)
	default:
		e.holder, e.epoch = c.agent, e.epoch+1
	}
	e.expires = now.Add(d)
	return e.epoch, d, nil
}

func (c *electionClient) ReleaseLease(_ context.Context, _ string, epoch int64) error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.holder == c.agent && e.epoch == epoch {
		e.holder = ""
	}
	return nil
}

// switchOther reads Physical_Switch gatewayhost's other_config key.
func switchOther(t testing.TB, o interface {
	VTEPCtl(testing.TB, ...string) string
}, key string) string {
	t.Helper()
	out := o.VTEPCtl(t, "--if-exists", "get", "Physical_Switch", "gatewayhost", "other_config:"+key)
	return strings.Trim(strings.TrimSpace(out), `"`)
}

// TestHAPair: two agents serve one switch; only the holder of its lease
// writes and reports; when it stops, the other takes over with the next
// epoch and programs what changed after.
func TestHAPair(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans := newFakePlans()
	el := &election{}
	recA, recB := &recorder{}, &recorder{}
	const period = time.Second
	stopA := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("a"), LeasePeriod: period, AgentName: "a"}, plans, recA)
	eventually(t, 5*time.Second, func() string {
		if h, _ := el.get(); h != "a" {
			return "a does not hold the lease"
		}
		return ""
	})
	stopB := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("b"), LeasePeriod: period, AgentName: "b"}, plans, recB)
	defer stopB()

	p1 := newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").flood("net1", "192.0.2.11").build()
	plans.Set(1, p1)
	recA.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))
	if len(want) == 0 {
		t.Fatal("the holder wrote nothing")
	}
	if got := switchOther(t, o, EpochKey); got != "1" {
		t.Errorf("switch epoch = %q; want 1", got)
	}
	if got := switchOther(t, o, AgentKey); got != "a" {
		t.Errorf("switch agent = %q; want a", got)
	}
	// Several lease periods: the standby neither takes over nor reports.
	deadline := time.Now().Add(2 * period)
	for time.Now().Before(deadline) {
		if h, ep := el.get(); h != "a" || ep != 1 {
			t.Fatalf("lease = %s/%d; want a/1", h, ep)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recB.mu.Lock()
	nb := len(recB.reports) + len(recB.statuses)
	recB.mu.Unlock()
	if nb != 0 {
		t.Errorf("the standby sent %d reports and statuses; want none", nb)
	}

	stopA() // releases the lease
	p2 := newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").
		mac("net1", "fa:16:3e:00:00:02", "", "192.0.2.12").flood("net1", "192.0.2.11", "192.0.2.12").build()
	plans.Set(2, p2)
	recB.waitSynced(t, 2, "")
	if h, ep := el.get(); h != "b" || ep != 2 {
		t.Errorf("lease = %s/%d; want b/2", h, ep)
	}
	if got := switchOther(t, o, EpochKey); got != "2" {
		t.Errorf("switch epoch = %q; want 2", got)
	}
	got := ourState(t, state(t, o))
	if !slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "fa:16:3e:00:00:02") }) {
		t.Errorf("after the takeover the switch holds %q; want the new MAC", got)
	}
}

// TestFencedTransaction: an agent that still believes it holds the lease
// (paused, or cut off from the server, while another took over) builds a
// transaction; the switch carries the new holder's epoch, so the
// transaction fails on its wait, nothing is written, and the agent stands
// by.
func TestFencedTransaction(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans := newFakePlans()
	el := &election{}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	// A long period: the agent does not learn of the takeover from its
	// lease before it writes.
	stop := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("a"), LeasePeriod: time.Minute, AgentName: "a", Registerer: reg}, plans, rec)
	defer stop()
	p1 := newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").build()
	plans.Set(1, p1)
	rec.waitSynced(t, 1, "")
	before := ourState(t, state(t, o))

	// Agent b takes over: the lease moves to epoch 2 and b's claim
	// writes it into the switch.
	el.set("b", 2, time.Minute)
	o.VTEPCtl(t, "set", "Physical_Switch", "gatewayhost", "other_config:"+EpochKey+"=2", "other_config:"+AgentKey+"=b")
	rec.mu.Lock()
	nStatus := len(rec.statuses)
	rec.mu.Unlock()

	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 100, "net1").
		mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").mac("net1", "fa:16:3e:00:00:02", "", "192.0.2.12").build())
	eventually(t, 10*time.Second, func() string {
		n, err := testutil.GatherAndCount(reg, "l2gw_switchagent_fenced_transactions_total")
		if err != nil || n == 0 {
			return "no fenced counter"
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "l2gw_switchagent_fenced_transactions_total" && mf.GetMetric()[0].GetCounter().GetValue() >= 1 {
				return ""
			}
		}
		return "no fenced transaction yet"
	})
	if diff := cmp.Diff(before, ourState(t, state(t, o))); diff != "" {
		t.Errorf("the deposed agent wrote (-before +after):\n%s", diff)
	}
	if got := switchOther(t, o, EpochKey); got != "2" {
		t.Errorf("switch epoch = %q; want the new holder's 2", got)
	}
	rec.mu.Lock()
	after := rec.statuses[nStatus:]
	rec.mu.Unlock()
	for _, s := range after {
		if s.Revision == 2 {
			t.Errorf("the deposed agent reported revision 2 applied: %+v", s)
		}
	}
}

// TestFenceAfterWipe: a switch whose database was wiped (the epoch gone
// with it) is claimed again by the holder and programmed in full.
func TestFenceAfterWipe(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	plans := newFakePlans()
	el := &election{}
	rec := &recorder{}
	stop := startAgent(t, Config{Target: o.UnixTarget(), Leases: el.client("a"), LeasePeriod: time.Second, AgentName: "a"}, plans, rec)
	defer stop()
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").build())
	rec.waitSynced(t, 1, "")
	want := ourState(t, state(t, o))

	o.Restart(t, true)
	createSwitch(t, o, "port1", "port2")
	eventually(t, 20*time.Second, func() string {
		if got := ourState(t, state(t, o)); !slices.Equal(got, want) {
			return "not restored: " + strings.Join(got, "; ")
		}
		// The agent may have seen the switch gone, stopped serving it
		// (releasing its lease) and taken it again with the next epoch.
		h, ep := el.get()
		if got := switchOther(t, o, EpochKey); h != "a" || got != strconv.FormatInt(ep, 10) {
			return fmt.Sprintf("switch epoch %s, lease %s/%d", got, h, ep)
		}
		return ""
	})
}

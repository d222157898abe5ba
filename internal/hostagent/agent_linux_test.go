package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/testenv"
)

// feed is an in-process plan source: every watch gets the latest plan as a
// snapshot, then each newer one. breakWatches ends the open watches as a
// failing feed would.
type feed struct {
	mu      sync.Mutex
	latest  *planner.HostEvent
	changed chan struct{} // closed and replaced on every Publish / break
	gen     int           // incremented by breakWatches
	watches int
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *feed) Publish(rev int64, p planner.HostPlan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latest = &planner.HostEvent{Type: planner.EventSnapshot, Revision: rev, Plan: &p}
	f.notifyLocked()
}

func (f *feed) breakWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.notifyLocked()
}

func (f *feed) Watches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches
}

func (f *feed) Watch(ctx context.Context, host string, from int64) (planstream.Stream[planner.HostPlan, planner.HostDelta], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watches++
	return &feedStream{f: f, gen: f.gen, sent: -1}, nil
}

type feedStream struct {
	f    *feed
	gen  int
	sent int64
}

func (s *feedStream) Next(ctx context.Context) (planner.HostEvent, error) {
	for {
		s.f.mu.Lock()
		latest, changed, broken := s.f.latest, s.f.changed, s.f.gen != s.gen
		s.f.mu.Unlock()
		if broken {
			return planner.HostEvent{}, errors.New("feed broken")
		}
		if latest != nil && latest.Revision != s.sent {
			s.sent = latest.Revision
			p := latest.Plan.Clone()
			return planner.HostEvent{Type: planner.EventSnapshot, Revision: latest.Revision, Plan: &p}, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return planner.HostEvent{}, ctx.Err()
		}
	}
}

func (s *feedStream) Close() {}

// registrar records RegisterHost calls and fails the first failFirst ones,
// and keeps the last status.
type registrar struct {
	mu        sync.Mutex
	failFirst int
	calls     []string
	status    model.HostStatus
}

func (r *registrar) SetHostStatus(_ context.Context, s model.HostStatus) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
	return nil
}

func (r *registrar) Status() model.HostStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *registrar) RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name+" "+vtepIP)
	if len(r.calls) <= r.failFirst {
		return model.Host{}, errors.New("server unavailable")
	}
	return model.Host{Name: name, VTEPIP: vtepIP, LastHeartbeat: at}, nil
}

func (r *registrar) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runAgent starts an agent and returns a function that stops it and checks
// that Run returned nil.
func runAgent(t *testing.T, cfg Config, plans planstream.HostSource, reg Registrar) (*Agent, func()) {
	t.Helper()
	a, err := New(cfg, plans, reg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
	}
	t.Cleanup(stop)
	return a, stop
}

func TestAgent(t *testing.T) {
	lab := testenv.NewNetLab(t)
	c := newTestNS(t, lab, "compute")
	setupForeign(t, lab, c.name)
	foreign := kernelState(t, c.h)
	cfg := Config{
		Host:              "compute1",
		VTEPIP:            hostVTEP,
		NetNS:             c.name,
		Logger:            testLogger(t),
		ResyncInterval:    -1, // prove that link events, not a timer, enslave late taps
		HeartbeatInterval: 20 * time.Millisecond,
		BackoffMin:        time.Millisecond,
		BackoffMax:        20 * time.Millisecond,
	}
	plans := newFeed()
	reg := &registrar{failFirst: 2}
	waitState := func(what, want string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, what, func() (bool, string) {
			if diff := cmp.Diff(want, kernelState(t, c.h)); diff != "" {
				return false, fmt.Sprintf("kernel state (-want +got):\n%s", diff)
			}
			return true, ""
		})
	}

	metrics1 := prometheus.NewRegistry()
	cfg1 := cfg
	cfg1.Registerer = metrics1
	a, stop := runAgent(t, cfg1, plans, reg)

	// Registration is retried until it succeeds, then repeated as heartbeat.
	testenv.Eventually(t, 10*time.Second, "heartbeats", func() (bool, string) {
		if n := len(reg.Calls()); n < 5 {
			return false, fmt.Sprintf("%d RegisterHost calls", n)
		}
		return true, ""
	})
	if got := reg.Calls()[0]; got != "compute1 "+hostVTEP {
		t.Errorf("RegisterHost(%s); want compute1 %s", got, hostVTEP)
	}
	if !a.Status().Registered {
		t.Errorf("Status().Registered = false after successful heartbeats")
	}
	// Before any plan, a link event must not make the agent clean up.
	lab.IP(c.name, "link", "add", "l2vx77", "type", "vxlan", "id", "77", "local", hostVTEP, "dstport", "4789")
	if diff := cmp.Diff(withForeign(foreign, "link l2vx77 vxlan down mtu 1500 vni 77 local 192.0.2.2 port 4789 learning true"),
		kernelState(t, c.h)); diff != "" {
		t.Errorf("kernel state before any plan (-want +got):\n%s", diff)
	}

	plan := hostPlan(planner.HostNetwork{NetworkID: "net-a", VNI: 1000, Interfaces: []string{"tap1"},
		FDB: []planner.FDBEntry{{MAC: "02:00:00:00:00:01", DstIP: "192.0.2.1"}}, FloodIPs: []string{"192.0.2.1"}})
	plans.Publish(1, plan)
	netA := []string{
		"link l2br1000 bridge up mtu 1450",
		"link l2vx1000 vxlan up mtu 1450 master l2br1000 vni 1000 local 192.0.2.2 port 4789 learning false",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
		"fdb l2vx1000 02:00:00:00:00:01 dst 192.0.2.1 self",
		"fdb l2vx1000 02:00:00:00:00:01 master static",
	}
	waitState("plan 1 realised", withForeign(foreign, netA...))
	// The run is counted once Realise returned, just after the kernel changed.
	testenv.Eventually(t, 10*time.Second, "realise run counted", func() (bool, string) {
		if got := realiseRuns(t, metrics1, "ok"); got < 1 {
			return false, fmt.Sprintf("runs{ok} after plan 1 = %v; want >= 1", got)
		}
		return true, ""
	})
	testenv.Eventually(t, 10*time.Second, "tap1 reported missing", func() (bool, string) {
		if s := a.Status(); s.AppliedRevision != 1 || !cmp.Equal(s.MissingInterfaces, []string{"tap1"}) {
			return false, fmt.Sprintf("Status() = %+v", s)
		}
		return true, ""
	})
	// ... and to the server: network net-a lacks tap1, nothing attached.
	testenv.Eventually(t, 10*time.Second, "status sent: tap1 missing", func() (bool, string) {
		want := model.HostStatus{Name: "compute1", Connected: true, Revision: 1,
			Networks: []model.HostNetworkStatus{{NetworkID: "net-a", Missing: []string{"tap1"}, Revision: 1}}}
		if diff := cmp.Diff(want, reg.Status(), cmpopts.IgnoreFields(model.HostStatus{}, "LastSync")); diff != "" {
			return false, fmt.Sprintf("status sent (-want +got):\n%s", diff)
		}
		return true, ""
	})

	// The VM's tap appears later: the link event enslaves it.
	lab.Veth(c.name, "tap1", c.name, "tap1p")
	withTap := append([]string{"link tap1 veth up mtu 1500 master l2br1000", "link tap1p veth up mtu 1500"}, netA...)
	waitState("tap1 enslaved", withForeign(foreign, withTap...))
	testenv.Eventually(t, 10*time.Second, "status sent: tap1 attached", func() (bool, string) {
		want := model.HostStatus{Name: "compute1", Connected: true, Revision: 1,
			Networks: []model.HostNetworkStatus{{NetworkID: "net-a", Attached: []string{"tap1"}, Revision: 1}}}
		if diff := cmp.Diff(want, reg.Status(), cmpopts.IgnoreFields(model.HostStatus{}, "LastSync")); diff != "" {
			return false, fmt.Sprintf("status sent (-want +got):\n%s", diff)
		}
		return true, ""
	})

	// A device deleted by hand comes back (link event on our device).
	lab.IP(c.name, "link", "del", "l2vx1000")
	waitState("l2vx1000 restored", withForeign(foreign, withTap...))

	// The feed breaks; the agent watches again and gets the next plan.
	watches := plans.Watches()
	plans.breakWatches()
	testenv.Eventually(t, 10*time.Second, "plan re-watched", func() (bool, string) {
		if n := plans.Watches(); n <= watches {
			return false, fmt.Sprintf("%d watches", n)
		}
		return true, ""
	})
	plan2 := hostPlan(planner.HostNetwork{NetworkID: "net-a", VNI: 1000, Interfaces: []string{"tap1"},
		FloodIPs: []string{"192.0.2.1", "192.0.2.3"}})
	plans.Publish(2, plan2)
	state2 := withForeign(foreign,
		"link tap1 veth up mtu 1500 master l2br1000",
		"link tap1p veth up mtu 1500",
		"link l2br1000 bridge up mtu 1450",
		"link l2vx1000 vxlan up mtu 1450 master l2br1000 vni 1000 local 192.0.2.2 port 4789 learning false",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.3 self",
	)
	waitState("plan 2 realised", state2)

	// Stopping leaves the data plane in place.
	stop()
	if diff := cmp.Diff(state2, kernelState(t, c.h)); diff != "" {
		t.Errorf("kernel state after Run returned (-want +got):\n%s", diff)
	}

	// A restarted agent converges on the same state without duplicates.
	metrics2 := prometheus.NewRegistry()
	cfg2 := cfg
	cfg2.Registerer = metrics2
	a2, stop2 := runAgent(t, cfg2, plans, &registrar{})
	testenv.Eventually(t, 10*time.Second, "restarted agent applied plan 2", func() (bool, string) {
		if s := a2.Status(); s.AppliedRevision != 2 {
			return false, fmt.Sprintf("Status() = %+v", s)
		}
		return true, ""
	})
	if diff := cmp.Diff(state2, kernelState(t, c.h)); diff != "" {
		t.Errorf("kernel state after restart (-want +got):\n%s", diff)
	}
	// The restarted agent found the plan realised: its runs changed nothing.
	// A run is counted just after its status is set: wait for the count.
	testenv.Eventually(t, 10*time.Second, "restarted agent's run counted", func() (bool, string) {
		return realiseRuns(t, metrics2, "noop") >= 1, "no noop run counted"
	})
	stop2()
	if noop, ok, failed := realiseRuns(t, metrics2, "noop"), realiseRuns(t, metrics2, "ok"), realiseRuns(t, metrics2, "error"); noop < 1 || ok != 0 || failed != 0 {
		t.Errorf("restarted agent runs noop=%v ok=%v error=%v; want noop >= 1, no ok, no error", noop, ok, failed)
	}

	if err := a2.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}
	if diff := cmp.Diff(withForeign(foreign, "link tap1 veth up mtu 1500", "link tap1p veth up mtu 1500"),
		kernelState(t, c.h)); diff != "" {
		t.Errorf("kernel state after Cleanup (-want +got):\n%s", diff)
	}
}

// TestAgentReportsPerNetwork: a network whose realisation fails (a
// foreign VXLAN device holds its VNI, as another tool's would) is reported
// with its own error and no revision, while the other network is reported
// realised at each revision of the plan; the host's whole-plan revision
// waits for both. Once the foreign device goes, the failed network is
// realised too (the failure is retried).
func TestAgentReportsPerNetwork(t *testing.T) {
	lab := testenv.NewNetLab(t)
	c := newTestNS(t, lab, "compute")
	lab.IP(c.name, "link", "add", "fvx2000", "type", "vxlan", "id", "2000", "local", hostVTEP, "dstport", "4789", "nolearning")
	lab.Veth(c.name, "tap1", c.name, "tap1p")
	lab.Veth(c.name, "tap2", c.name, "tap2p")
	plans := newFeed()
	reg := &registrar{}
	_, stop := runAgent(t, Config{Host: "compute1", VTEPIP: hostVTEP, NetNS: c.name, Logger: testLogger(t),
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond}, plans, reg)
	defer stop()
	netA := planner.HostNetwork{NetworkID: "net-a", VNI: 1000, Interfaces: []string{"tap1"}, FloodIPs: []string{"192.0.2.1"}}
	netB := planner.HostNetwork{NetworkID: "net-b", VNI: 2000, Interfaces: []string{"tap2"}, FloodIPs: []string{"192.0.2.1"}}
	plans.Publish(3, hostPlan(netA, netB))
	sent := func(what string, check func(model.HostStatus) error) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, what, func() (bool, string) {
			if err := check(reg.Status()); err != nil {
				return false, err.Error()
			}
			return true, ""
		})
	}
	netStatus := func(s model.HostStatus, id string) model.HostNetworkStatus {
		for _, n := range s.Networks {
			if n.NetworkID == id {
				return n
			}
		}
		return model.HostNetworkStatus{}
	}
	failedB := func(rev int64, revA int64) func(model.HostStatus) error {
		return func(s model.HostStatus) error {
			a, b := netStatus(s, "net-a"), netStatus(s, "net-b")
			switch {
			case s.Revision != rev || !strings.Contains(s.Error, "l2vx2000"):
				return fmt.Errorf("host revision %d, error %q; want %d and the error naming l2vx2000", s.Revision, s.Error, rev)
			case a.Revision != revA || a.Error != "" || !slices.Equal(a.Attached, []string{"tap1"}):
				return fmt.Errorf("net-a %+v; want realised at %d, tap1 attached, no error", a, revA)
			case b.Revision != 0 || !strings.Contains(b.Error, "create vxlan l2vx2000") || len(b.Attached) != 0:
				return fmt.Errorf("net-b %+v; want its own error naming l2vx2000, never realised", b)
			case strings.Contains(a.Error+b.Error, "net-a"):
				return fmt.Errorf("net-b's error names net-a: %q", b.Error)
			}
			return nil
		}
	}
	sent("net-b failing, net-a realised at 3", failedB(0, 3))
	for _, id := range []string{"net-a", "net-b"} {
		if n := netStatus(reg.Status(), id); !n.Scoped() {
			t.Errorf("%s's status %+v is not scoped: a server would take the host's error as its own", id, n)
		}
	}

	// A change of net-a only: realised at 4; net-b still failing.
	netA.FloodIPs = []string{"192.0.2.1", "192.0.2.3"}
	plans.Publish(4, hostPlan(netA, netB))
	sent("net-a realised at 4", failedB(0, 4))

	// The foreign device gone: net-b is realised at the plan's revision.
	lab.IP(c.name, "link", "del", "fvx2000")
	sent("both realised at 4", func(s model.HostStatus) error {
		a, b := netStatus(s, "net-a"), netStatus(s, "net-b")
		if s.Revision != 4 || s.Error != "" || a.Revision != 4 || a.Error != "" || b.Revision != 4 || b.Error != "" ||
			!slices.Equal(b.Attached, []string{"tap2"}) {
			return fmt.Errorf("status %+v; want host, net-a and net-b realised at 4, tap2 attached", s)
		}
		return nil
	})

	// An invalid plan entry is its network's error: an interface planned on
	// both networks is net-b's (the second), net-a is realised at 5.
	netB.Interfaces = []string{"tap1", "tap2"}
	plans.Publish(5, hostPlan(netA, netB))
	sent("tap1 planned twice: net-b's error", func(s model.HostStatus) error {
		a, b := netStatus(s, "net-a"), netStatus(s, "net-b")
		if s.Revision != 4 || a.Revision != 5 || a.Error != "" || b.Revision != 4 || !strings.Contains(b.Error, "interface tap1 is a port of network net-a too") {
			return fmt.Errorf("status %+v; want host at 4, net-a at 5, net-b at 4 with the error naming tap1", s)
		}
		return nil
	})
}

func TestNewValidates(t *testing.T) {
	ok := Config{Host: "h", VTEPIP: "192.0.2.2"}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no host", Config{VTEPIP: "192.0.2.2"}},
		{"no vtep", Config{Host: "h"}},
		{"ipv6 vtep", Config{Host: "h", VTEPIP: "2001:db8::1"}},
		{"bad backoff", Config{Host: "h", VTEPIP: "192.0.2.2", BackoffMin: time.Second, BackoffMax: time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, newFeed(), &registrar{}); err == nil {
				t.Errorf("New(%+v) = nil error; want an error", tc.cfg)
			}
		})
	}
	if _, err := New(ok, newFeed(), &registrar{}); err != nil {
		t.Errorf("New(%+v) = %v; want nil", ok, err)
	}
}

// realiseRuns is l2gw_reconcile_runs_total of the host agent with result.
func realiseRuns(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "l2gw_reconcile_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var comp, res string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "component":
					comp = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			if comp == "hostagent" && res == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

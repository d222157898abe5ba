package agentapi_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

func (e *env) link(cfg agentlink.Config) *agentlink.Link {
	e.t.Helper()
	c, err := client.New(e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	return agentlink.New(c, cfg)
}

// recv waits for the next plan update with a revision of at least rev.
func recv[P any](t *testing.T, ch <-chan planUpdate[P], rev int64) planUpdate[P] {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("plan channel closed")
			}
			if u.Revision >= rev {
				return u
			}
		case <-deadline:
			t.Fatalf("no plan at revision >= %d within 20s", rev)
		}
	}
}

func TestAgentLinkWatchReconnectsAndResumes(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	s := e.seed()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ch := switchPlans(ctx, e.link(agentlink.Config{}).Switches(), "sw1")
	rev := e.revision()
	u := recv(t, ch, rev)
	if diff := cmp.Diff(e.feedPlan("sw1"), u.Plan); diff != "" {
		t.Fatalf("first plan differs from the feed's (-feed +link):\n%s", diff)
	}

	// A change arrives as a new whole plan.
	e.port(s.net, "fa:16:3e:00:00:02", "compute2")
	u = recv(t, ch, e.revision())
	if diff := cmp.Diff(e.feedPlan("sw1"), u.Plan); diff != "" {
		t.Fatalf("plan after a port differs from the feed's (-feed +link):\n%s", diff)
	}

	// An unrelated change (no event for sw1), then the connection drops.
	// The link reconnects with its revision, is resumed, and hands on the
	// same plan at the newer revision.
	if _, err := e.st.CreateHost(e.ctx, model.Host{Name: "compute3", VTEPIP: "192.0.2.3"}); err != nil {
		t.Fatal(err)
	}
	cur := e.revision()
	e.srv.CloseClientConnections()
	resumed := recv(t, ch, cur)
	if diff := cmp.Diff(u.Plan, resumed.Plan); diff != "" {
		t.Errorf("plan after resume (-before +after):\n%s", diff)
	}
	reqs := e.planRequests()
	if len(reqs) < 2 || !strings.HasSuffix(reqs[len(reqs)-1], e.resumeQuery(u.Revision)) {
		t.Errorf("plan requests = %v; want the last to resume from revision %d of feed %s", reqs, u.Revision, e.feed.ID())
	}

	// Deltas keep flowing on the new stream.
	e.port(s.net, "fa:16:3e:00:00:03", "compute1")
	u = recv(t, ch, e.revision())
	if _, ok := u.Plan.RemoteMACs[planner.MACKey{LogicalSwitch: firstLS(u.Plan), MAC: "fa:16:3e:00:00:03"}]; !ok {
		t.Errorf("plan after resume lacks the new port's MAC: %v", u.Plan.RemoteMACs)
	}

	// The channel is closed once ctx is done, even with an unread plan.
	e.port(s.net, "fa:16:3e:00:00:04", "compute1")
	cancel()
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-deadline:
			t.Fatal("plan channel not closed within 10s of cancel")
		}
	}
}

func TestAgentLinkDetectsSilentStream(t *testing.T) {
	// The server never sends keepalives within the client's idle timeout:
	// the client takes the stream as dead and reopens it with its revision.
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	e.seed()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ch := switchPlans(ctx, e.link(agentlink.Config{IdleTimeout: 100 * time.Millisecond}).Switches(), "sw1")
	first := recv(t, ch, e.revision())
	testenv.Eventually(t, 20*time.Second, "reconnection after silence", func() (bool, string) {
		reqs := e.planRequests()
		n := 0
		for _, r := range reqs {
			if strings.HasSuffix(r, e.resumeQuery(first.Revision)) {
				n++
			}
		}
		return n >= 2, strings.Join(reqs, " ")
	})
}

func TestAgentLinkReportsAndRegisters(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	l := e.link(agentlink.Config{})
	rep := model.SwitchReport{
		Switch: model.Switch{Name: "sw1", TunnelIPs: []string{"192.0.2.10"}, ManagementIPs: []string{"198.51.100.1"},
			Ports: []model.SwitchPort{{Name: "p1", Description: "to bm1"}, {Name: "p2", FaultStatus: []string{"down"}}}},
		LocalMACs: []model.LocalMAC{{Switch: "sw1", NetworkID: s.net, MAC: "52:54:00:00:00:01", IPAddress: "10.0.0.100", LocatorIP: "192.0.2.10"}},
	}
	if err := l.ReportSwitch(e.ctx, rep); err != nil {
		t.Fatalf("ReportSwitch: %v", err)
	}
	got, err := e.st.GetSwitch(e.ctx, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep.Switch.Ports, got.Ports); diff != "" || !cmp.Equal(rep.Switch.ManagementIPs, got.ManagementIPs) {
		t.Errorf("stored switch = %+v; ports (-want +got):\n%s", got, diff)
	}
	macs, err := e.st.ListLocalMACs(e.ctx, store.Query{Names: []string{"sw1"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep.LocalMACs, macs); diff != "" {
		t.Errorf("stored local MACs (-want +got):\n%s", diff)
	}

	st := model.SwitchStatus{Name: "sw1", Connected: true, LastSync: time.Now().UTC().Truncate(time.Second), Revision: 8, Error: "port p3 unknown"}
	if err := l.SetSwitchStatus(e.ctx, st); err != nil {
		t.Fatalf("SetSwitchStatus: %v", err)
	}
	got, err = e.st.GetSwitch(e.ctx, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Connected || got.SyncRevision != 8 || got.SyncError != st.Error || !got.LastSync.Equal(st.LastSync) {
		t.Errorf("stored status = connected %v revision %d error %q last sync %v; want %+v", got.Connected, got.SyncRevision, got.SyncError, got.LastSync, st)
	}

	h, err := l.RegisterHost(e.ctx, "compute9", "192.0.2.9", time.Time{})
	if err != nil {
		t.Fatalf("RegisterHost: %v", err)
	}
	if h.Name != "compute9" || h.VTEPIP != "192.0.2.9" || h.ID == "" || time.Since(h.LastHeartbeat) > time.Minute {
		t.Errorf("RegisterHost = %+v; want compute9 at 192.0.2.9 with a fresh heartbeat", h)
	}

	// Failures come back as *client.Error.
	_, err = l.RegisterHost(e.ctx, "compute9", "bogus", time.Time{})
	var ce *client.Error
	if !asClientError(err, &ce) || ce.Status != 400 {
		t.Errorf("RegisterHost with a bad IP = %v; want a 400 *client.Error", err)
	}
}

func TestAgentLinkConnectionStatus(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	rev := e.revision()
	if err := e.st.SetSwitchStatus(e.ctx, model.SwitchStatus{Name: "sw1", Connected: true, Revision: rev}); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// compute1 runs the seed's port: its agent registers and reports
	// through the link.
	if _, err := e.st.RegisterHost(e.ctx, "compute1", "192.0.2.1", time.Now()); err != nil {
		t.Fatal(err)
	}
	link := agentlink.New(c, agentlink.Config{})
	e.openStream(agentwire.HostPlanPath("compute1"), 0) // the agent's plan stream, open until cleanup
	if err := link.SetHostStatus(e.ctx, model.HostStatus{Name: "compute1", Connected: true, Revision: rev,
		Networks: []model.HostNetworkStatus{{NetworkID: s.net}}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.ConnectionStatus(e.ctx, s.conn)
	if err != nil {
		t.Fatal(err)
	}
	want := agentwire.ConnectionStatus{State: agentwire.StateInSync,
		Status: []agentwire.SwitchSync{{Switch: "sw1", State: agentwire.StateInSync, Revision: rev, AppliedRevision: rev, Connected: true}},
		Hosts:  []agentwire.HostSync{{Host: "compute1", State: agentwire.StateInSync, Revision: rev, AppliedRevision: rev, Connected: true}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("ConnectionStatus (-want +got):\n%s", diff)
	}
	if _, err := c.ConnectionStatus(e.ctx, "missing"); !client.IsNotFound(err) {
		t.Errorf("ConnectionStatus(missing) = %v; want not found", err)
	}
}

func TestLocalPlans(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	s := e.seed()
	ctx, cancel := context.WithCancel(e.ctx)
	sw := switchPlans(ctx, e.feed.Switches(), "sw1")
	hs := plans(ctx, planstream.Host, e.feed.Hosts(), "compute2")
	u := recv(t, sw, e.revision())
	if len(u.Plan.RemoteMACs) != 1 {
		t.Errorf("switch plan remote MACs = %v; want one", u.Plan.RemoteMACs)
	}
	select {
	case h := <-hs:
		if !h.Plan.Empty() {
			t.Errorf("plan of compute2 without ports = %+v; want empty", h.Plan)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no host plan within 10s")
	}
	e.port(s.net, "fa:16:3e:00:00:02", "compute2")
	rev := e.revision()
	if u := recv(t, sw, rev); len(u.Plan.RemoteMACs) != 2 {
		t.Errorf("switch plan after a port = %v; want two MACs", u.Plan.RemoteMACs)
	}
	select {
	case h := <-hs:
		if h.Revision != rev || len(h.Plan.Networks) != 1 {
			t.Errorf("host plan after a port = %+v; want net1 at revision %d", h, rev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no host plan update within 10s")
	}
	cancel()
	for range sw {
	}
	for range hs {
	}
}

func firstLS(p planner.SwitchPlan) string {
	for n := range p.LogicalSwitches {
		return n
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func asClientError(err error, target **client.Error) bool { return errors.As(err, target) }

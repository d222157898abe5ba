package agentapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
)

// agentPlan is what an agent makes of a DeltaPlans channel: a whole plan
// replaces its plan, a delta is applied to it.
type agentPlan struct {
	t    *testing.T
	ch   <-chan planner.SwitchEvent
	plan *planner.SwitchPlan
	rev  int64
}

// next takes the next event and returns it.
func (a *agentPlan) next() planner.SwitchEvent {
	a.t.Helper()
	select {
	case e, ok := <-a.ch:
		if !ok {
			a.t.Fatal("plan event channel closed")
		}
		switch {
		case e.Type == planner.EventSnapshot:
			a.plan = e.Plan
		case a.plan == nil:
			a.t.Fatalf("%s %+v before any whole plan", e.Type, e)
		case e.Type == planner.EventDelta:
			a.plan.Apply(*e.Delta)
		}
		if e.Revision < a.rev {
			a.t.Fatalf("event at revision %d after one at %d", e.Revision, a.rev)
		}
		a.rev = e.Revision
		return e
	case <-time.After(20 * time.Second):
		a.t.Fatal("no plan event within 20s")
	}
	return planner.SwitchEvent{}
}

// upTo takes events until one at revision rev or later.
func (a *agentPlan) upTo(rev int64) []planner.SwitchEvent {
	a.t.Helper()
	var evs []planner.SwitchEvent
	for a.rev < rev {
		evs = append(evs, a.next())
	}
	return evs
}

func TestAgentLinkDeltas(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	s := e.seed()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ch := events(ctx, e.link(agentlink.Config{}).Switches(), "sw1")
	a := &agentPlan{t: t, ch: ch}

	// First a whole plan.
	if first := a.next(); first.Plan == nil || first.Revision != e.revision() {
		t.Fatalf("first event = %+v; want a whole plan at revision %d", first, e.revision())
	}
	if diff := cmp.Diff(e.feedPlan("sw1"), *a.plan); diff != "" {
		t.Fatalf("first plan differs from the feed's (-feed +link):\n%s", diff)
	}

	// A port arrives as a delta holding just its MAC.
	e.port(s.net, "fa:16:3e:00:00:02", "compute2")
	evs := a.upTo(e.revision())
	if len(evs) != 1 || evs[0].Plan != nil {
		t.Fatalf("events after a port = %+v; want one delta", evs)
	}
	if got := evs[0].Delta.UpsertRemoteMACs; len(got) != 1 || got[0].MAC != "fa:16:3e:00:00:02" {
		t.Errorf("delta after a port upserts %+v; want the port's MAC only", got)
	}
	if diff := cmp.Diff(e.feedPlan("sw1"), *a.plan); diff != "" {
		t.Fatalf("plan with the delta differs from the feed's (-feed +link):\n%s", diff)
	}

	// An unrelated change, then the connection drops: the link resumes
	// from its revision and hands on an empty delta at the newer revision
	// (the agent keeps its plan).
	if _, err := e.st.CreateHost(e.ctx, model.Host{Name: "compute3", VTEPIP: "192.0.2.3"}); err != nil {
		t.Fatal(err)
	}
	before := a.rev
	cur := e.revision()
	e.srv.CloseClientConnections()
	evs = a.upTo(cur)
	if len(evs) != 1 || evs[0].Type != planner.EventResumed || evs[0].Revision != cur {
		t.Fatalf("events after a resumed reconnect = %+v; want one resumed event at revision %d", evs, cur)
	}
	reqs := e.planRequests()
	if len(reqs) < 2 || !strings.HasSuffix(reqs[len(reqs)-1], e.resumeQuery(before)) {
		t.Errorf("plan requests = %v; want the last to resume from revision %d", reqs, before)
	}

	// Deltas keep flowing on the new stream, and a delete is a delta too.
	p := e.port(s.net, "fa:16:3e:00:00:03", "compute1")
	a.upTo(e.revision())
	if err := e.st.DeletePort(e.ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	evs = a.upTo(e.revision())
	if len(evs) != 1 || evs[0].Plan != nil || len(evs[0].Delta.DeleteRemoteMACs) != 1 {
		t.Fatalf("events after a port delete = %+v; want one delta deleting a MAC", evs)
	}
	if diff := cmp.Diff(e.feedPlan("sw1"), *a.plan); diff != "" {
		t.Errorf("plan after resume and deltas differs from the feed's (-feed +link):\n%s", diff)
	}

	// The channel is closed once ctx is done, even with unread events.
	e.port(s.net, "fa:16:3e:00:00:04", "compute1")
	e.port(s.net, "fa:16:3e:00:00:05", "compute1")
	e.revision()
	cancel()
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-deadline:
			t.Fatal("plan event channel not closed within 10s of cancel")
		}
	}
}

// TestAgentLinkDeltasServerRestart: the link's server is replaced by
// another one on the same store (a restart) after the switch's plan
// changed: the link's resume is refused and the agent gets a whole plan,
// which replaces its own.
func TestAgentLinkDeltasServerRestart(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir, agentapi.Config{Keepalive: time.Hour})
	s := e1.seed()
	// front is the address the link knows; it serves what target holds.
	var target atomic.Pointer[http.Handler]
	h1 := e1.srv.Config.Handler
	target.Store(&h1)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*target.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c, err := client.New(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	link := agentlink.New(c, agentlink.Config{})
	ctx, cancel := context.WithCancel(e1.ctx)
	defer cancel()
	ch := events(ctx, link.Switches(), "sw1")
	a := &agentPlan{t: t, ch: ch}
	a.upTo(e1.revision())
	old := a.plan

	// "Down": plan streams fail until the new server is up.
	var down http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "restarting", http.StatusServiceUnavailable)
	})
	target.Store(&down)
	front.CloseClientConnections()
	// While it is down the switch's plan changes.
	e1.port(s.net, "fa:16:3e:00:00:07", "compute2")
	e2 := newEnvAt(t, dir, agentapi.Config{Keepalive: time.Hour})
	cur := e2.revision()
	h2 := e2.srv.Config.Handler
	target.Store(&h2)

	evs := a.upTo(cur)
	if last := evs[len(evs)-1]; last.Plan == nil || last.Revision != cur {
		t.Fatalf("events after the restart = %+v; want a whole plan at revision %d last", evs, cur)
	}
	if a.plan == old {
		t.Error("the agent kept its old plan object after a whole plan")
	}
	if diff := cmp.Diff(e2.feedPlan("sw1"), *a.plan); diff != "" {
		t.Errorf("plan after the restart differs from the new server's (-feed +link):\n%s", diff)
	}
	if _, ok := a.plan.RemoteMACs[planner.MACKey{LogicalSwitch: firstLS(*a.plan), MAC: "fa:16:3e:00:00:07"}]; !ok {
		t.Errorf("plan after the restart lacks the MAC added while down: %v", a.plan.RemoteMACs)
	}

	// Deltas follow from the new server.
	e2.port(s.net, "fa:16:3e:00:00:08", "compute1")
	evs = a.upTo(e2.revision())
	if len(evs) != 1 || evs[0].Plan != nil {
		t.Fatalf("events after a port on the new server = %+v; want one delta", evs)
	}
	if diff := cmp.Diff(e2.feedPlan("sw1"), *a.plan); diff != "" {
		t.Errorf("plan after a delta from the new server differs (-feed +link):\n%s", diff)
	}
	cancel()
	for range ch {
	}
}

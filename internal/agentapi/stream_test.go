package agentapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
)

// feedPlan is the switch's current plan as the in-process adapter gives it.
func (e *env) feedPlan(name string) planner.SwitchPlan {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ch := switchPlans(ctx, e.feed.Switches(), name)
	select {
	case u := <-ch:
		return u.Plan
	case <-time.After(10 * time.Second):
		e.t.Fatal("no plan from the feed within 10s")
	}
	return planner.SwitchPlan{}
}

func TestSwitchStreamSnapshotThenDeltas(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	s := e.seed()
	rev := e.revision()

	st := e.openStream(agentwire.SwitchPlanPath("sw1"), 0)
	if got := st.resp.StatusCode; got != http.StatusOK {
		t.Fatalf("GET plan = %d; want 200", got)
	}
	if got := st.resp.Header.Get("Content-Type"); got != agentwire.ContentTypeStream {
		t.Errorf("Content-Type = %q; want %q", got, agentwire.ContentTypeStream)
	}
	if got := agentwire.Keepalive(st.resp.Header.Get(agentwire.KeepaliveHeader)); got != time.Hour {
		t.Errorf("keepalive header = %v; want 1h", got)
	}

	snap := st.next()
	if snap.Type != planner.EventSnapshot || snap.Plan == nil || snap.Revision != rev {
		t.Fatalf("first event = %+v; want a snapshot at revision %d", snap, rev)
	}
	plan := *snap.Plan
	if len(plan.LogicalSwitches) != 1 {
		t.Fatalf("snapshot logical switches = %v; want one", plan.LogicalSwitches)
	}
	var ls planner.LogicalSwitch
	for _, v := range plan.LogicalSwitches {
		ls = v
	}
	if ls.VNI != 1000 || ls.NetworkID != s.net {
		t.Errorf("logical switch = %+v; want VNI 1000 of network %s", ls, s.net)
	}
	wantBindings := map[planner.BindingKey]string{{Port: "p1", VLAN: 100}: ls.Name, {Port: "p2", VLAN: 100}: ls.Name}
	if diff := cmp.Diff(wantBindings, plan.Bindings); diff != "" {
		t.Errorf("snapshot bindings (-want +got):\n%s", diff)
	}
	mac := plan.RemoteMACs[planner.MACKey{LogicalSwitch: ls.Name, MAC: "fa:16:3e:00:00:01"}]
	if mac.LocatorIP != "192.0.2.1" {
		t.Errorf("remote mac of port 1 = %+v; want locator 192.0.2.1", mac)
	}

	// A port on compute2: one delta with its MAC and the new flood locator.
	e.port(s.net, "fa:16:3e:00:00:02", "compute2")
	d := st.next()
	if d.Type != planner.EventDelta || d.Delta == nil || d.Revision <= rev {
		t.Fatalf("second event = %+v; want a delta after revision %d", d, rev)
	}
	wantDelta := planner.SwitchDelta{
		UpsertRemoteMACs:   []planner.RemoteMAC{{LogicalSwitch: ls.Name, MAC: "fa:16:3e:00:00:02", LocatorIP: "192.0.2.2"}},
		UpsertMcastRemotes: []planner.McastRemote{{LogicalSwitch: ls.Name, LocatorIPs: []string{"192.0.2.1", "192.0.2.2"}}},
	}
	if diff := cmp.Diff(wantDelta, *d.Delta); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}
	plan.Apply(*d.Delta)
	if diff := cmp.Diff(e.feedPlan("sw1"), plan); diff != "" {
		t.Errorf("snapshot+delta differs from the feed's plan (-feed +stream):\n%s", diff)
	}
}

func TestSwitchStreamResume(t *testing.T) {
	tests := []struct {
		name string
		// change runs after the client's first stream closed at revision
		// rev; it returns the revision to resume from.
		change      func(e *env, s seed, rev int64) int64
		otherFeed   bool // the plan came from another feed (another replica)
		wantResumed bool
	}{
		{"nothing changed", func(e *env, s seed, rev int64) int64 { return rev }, false, true},
		{"unrelated change", func(e *env, s seed, rev int64) int64 {
			if _, err := e.st.CreateNetworks(e.ctx, []model.Network{{Name: "other", NetworkType: "vxlan", VNI: 1500, AdminStateUp: true}}); err != nil {
				e.t.Fatal(err)
			}
			return rev
		}, false, true},
		{"plan changed", func(e *env, s seed, rev int64) int64 {
			e.port(s.net, "fa:16:3e:00:00:09", "compute2")
			return rev
		}, false, false},
		{"revision from the future", func(e *env, s seed, rev int64) int64 { return rev + 1000 }, false, false},
		{"no revision", func(e *env, s seed, rev int64) int64 { return 0 }, false, false},
		// Nothing changed, but the plan came from another feed, which may
		// have held what this one never did (seed 1205 of bench/faults: a
		// connection created and deleted between two of this feed's
		// batches stayed on the switch).
		{"another feed's plan", func(e *env, s seed, rev int64) int64 { return rev }, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
			s := e.seed()
			e.revision() // the first snapshot holds the whole seed
			first := e.openStream(agentwire.SwitchPlanPath("sw1"), 0)
			snap := first.next()
			first.close()

			if got := first.resp.Header.Get(agentwire.FeedHeader); got != e.feed.ID() {
				t.Errorf("%s = %q; want the feed's ID %q", agentwire.FeedHeader, got, e.feed.ID())
			}
			from := tc.change(e, s, snap.Revision)
			cur := e.revision()
			feed := e.feed.ID()
			if tc.otherFeed {
				feed = "another-replicas-feed"
			}
			st := e.openStreamOf(agentwire.SwitchPlanPath("sw1"), from, feed)
			ev := st.next()
			if tc.wantResumed {
				if ev.Type != planner.EventResumed || ev.Revision != cur {
					t.Fatalf("first event = %+v; want resumed at revision %d", ev, cur)
				}
				// Only newer deltas follow.
				e.port(s.net, "fa:16:3e:00:00:03", "compute1")
				d := st.next()
				if d.Type != planner.EventDelta || d.Revision <= cur {
					t.Fatalf("event after resume = %+v; want a delta after %d", d, cur)
				}
				plan := *snap.Plan
				plan.Apply(*d.Delta)
				if diff := cmp.Diff(e.feedPlan("sw1"), plan); diff != "" {
					t.Errorf("resumed plan differs from the feed's (-feed +stream):\n%s", diff)
				}
				return
			}
			if ev.Type != planner.EventSnapshot || ev.Revision != cur {
				t.Fatalf("first event = %+v; want a snapshot at revision %d", ev, cur)
			}
			if diff := cmp.Diff(e.feedPlan("sw1"), *ev.Plan); diff != "" {
				t.Errorf("snapshot differs from the feed's plan (-feed +stream):\n%s", diff)
			}
		})
	}
}

func TestStreamKeepalive(t *testing.T) {
	// 100ms, not less: a stream whose write takes over 2×Keepalive is
	// dropped, and a loaded CI machine running -race can take that long.
	e := newEnv(t, agentapi.Config{Keepalive: 100 * time.Millisecond})
	st := e.openStream(agentwire.HostPlanPath("idle-host"), 0)
	if got := st.resp.Header.Get(agentwire.KeepaliveHeader); got != "100ms" {
		t.Errorf("keepalive header = %q; want 100ms", got)
	}
	// Keepalives may come first while the feed reads its first snapshot.
	line := st.line()
	for line == `{"type":"keepalive"}` {
		line = st.line()
	}
	var first planner.HostEvent
	if err := json.Unmarshal([]byte(line), &first); err != nil || first.Type != planner.EventSnapshot {
		t.Fatalf("first line = %+v (%v); want a snapshot", first, err)
	}
	if first.Plan == nil || !first.Plan.Empty() {
		t.Errorf("snapshot of a host without ports = %+v; want an empty plan", first.Plan)
	}
	for range 3 {
		if got := st.line(); got != `{"type":"keepalive"}` {
			t.Fatalf("idle stream line = %s; want a keepalive", got)
		}
	}
}

func TestStreamBadRevision(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	for _, rev := range []string{"-1", "abc", "1.5"} {
		code, body := e.do("GET", agentwire.SwitchPlanPath("sw1")+"?revision="+rev, "")
		if code != http.StatusBadRequest || !strings.Contains(string(body), "NeutronError") {
			t.Errorf("GET plan?revision=%s = %d %s; want 400 NeutronError", rev, code, body)
		}
	}
}

func TestHostStream(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	s := e.seed()
	st := e.openStream(agentwire.HostPlanPath("compute1"), 0)
	var ev planner.HostEvent
	if err := json.Unmarshal([]byte(st.line()), &ev); err != nil || ev.Type != planner.EventSnapshot || ev.Plan == nil {
		t.Fatalf("first line = %+v (%v); want a snapshot", ev, err)
	}
	want := planner.HostNetwork{NetworkID: s.net, VNI: 1000, MTU: 1450, FloodIPs: []string{"192.0.2.10"}}
	if diff := cmp.Diff(map[string]planner.HostNetwork{s.net: want}, ev.Plan.Networks); diff != "" {
		t.Errorf("host plan networks (-want +got):\n%s", diff)
	}
	// The switch learns a bare-metal MAC: the host's FDB gets it.
	if code, body := e.do("POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","tunnel_ips":["192.0.2.10"],
		"ports":[{"name":"p1"},{"name":"p2"}]},"local_macs":[{"network_id":"`+s.net+`","mac_address":"52:54:00:00:00:01","locator_ip":"192.0.2.10"}]}`); code != http.StatusNoContent {
		t.Fatalf("report = %d %s; want 204", code, body)
	}
	if err := json.Unmarshal([]byte(st.line()), &ev); err != nil || ev.Type != planner.EventDelta || ev.Delta == nil {
		t.Fatalf("next line = %+v (%v); want a delta", ev, err)
	}
	want.FDB = []planner.FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "192.0.2.10"}}
	if diff := cmp.Diff(planner.HostDelta{UpsertNetworks: []planner.HostNetwork{want}}, *ev.Delta); diff != "" {
		t.Errorf("host delta (-want +got):\n%s", diff)
	}
}

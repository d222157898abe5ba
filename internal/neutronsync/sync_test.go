package neutronsync

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeNeutron answers the three lists the mirror reads, with Neutron's
// paging (limit, marker by id), id filters and changed_since (inclusive,
// whole seconds), or its 400 for changed_since (filter_validation on). It
// is the inner loop of these unit tests; the real neutron-server is in
// test/e2e (TestNeutronInventory).
type fakeNeutron struct {
	mu          sync.Mutex
	nets        map[string]map[string]any
	ports       map[string]map[string]any
	agents      []map[string]any
	refuseSince bool
	down        bool
	requests    int
	// now is the fake's clock, sent as Date (Neutron's clock is what the
	// mirror reads there): the newest stamp it has given.
	now time.Time
}

func (f *fakeNeutron) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	w.Header().Set("Date", f.now.Format(http.TimeFormat))
	if f.down {
		http.Error(w, `{"NeutronError": {"type": "HTTPServiceUnavailable"}}`, http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	coll := strings.TrimPrefix(r.URL.Path, "/v2.0/")
	var items []map[string]any
	switch coll {
	case "networks":
		for _, v := range f.nets {
			items = append(items, v)
		}
	case "ports":
		for _, v := range f.ports {
			items = append(items, v)
		}
	case "agents":
		items = slices.Clone(f.agents) // the filters below must not clear f.agents' entries
	default:
		http.NotFound(w, r)
		return
	}
	if q.Has("changed_since") {
		if f.refuseSince {
			http.Error(w, `{"NeutronError": {"type": "HTTPBadRequest", "message": "['changed_since'] is invalid attribute for filtering", "detail": ""}}`, http.StatusBadRequest)
			return
		}
		since, _ := time.Parse(timeLayout, q.Get("changed_since"))
		items = slices.DeleteFunc(slices.Clone(items), func(it map[string]any) bool {
			u, _ := time.Parse(timeLayout, it["updated_at"].(string))
			return u.Before(since)
		})
	}
	if ids := q["id"]; len(ids) > 0 {
		items = slices.DeleteFunc(slices.Clone(items), func(it map[string]any) bool { return !slices.Contains(ids, it["id"].(string)) })
	}
	sort.Slice(items, func(i, j int) bool { return items[i]["id"].(string) < items[j]["id"].(string) })
	if m := q.Get("marker"); m != "" {
		items = slices.DeleteFunc(items, func(it map[string]any) bool { return it["id"].(string) <= m })
	}
	if l, _ := strconv.Atoi(q.Get("limit")); l > 0 && len(items) > l {
		items = items[:l]
	}
	if items == nil {
		items = []map[string]any{}
	}
	json.NewEncoder(w).Encode(map[string]any{coll: items})
}

var clock = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func stamp(d time.Duration) string { return clock.Add(d).Format(timeLayout) }

func (f *fakeNeutron) setPort(id, net, mac, host, owner string, rev int64, at time.Duration, pairs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ps []any
	for _, p := range pairs {
		ps = append(ps, map[string]any{"ip_address": "10.0.0.100", "mac_address": p})
	}
	f.now = later(f.now, clock.Add(at))
	f.ports[id] = map[string]any{"id": id, "network_id": net, "mac_address": mac, "binding:host_id": host, "device_owner": owner,
		"status": "ACTIVE", "admin_state_up": true, "revision_number": rev, "updated_at": stamp(at), "created_at": stamp(0),
		"fixed_ips": []any{map[string]any{"subnet_id": "s1", "ip_address": "10.0.0.5"}}, "allowed_address_pairs": ps}
}

func newFake() *fakeNeutron {
	f := &fakeNeutron{nets: map[string]map[string]any{}, ports: map[string]map[string]any{}, now: clock}
	f.nets["n1"] = map[string]any{"id": "n1", "name": "net1", "provider:network_type": "vxlan", "provider:segmentation_id": 1001,
		"revision_number": 1, "updated_at": stamp(0), "admin_state_up": true}
	// Multi-provider: the VNI of its vxlan segment.
	f.nets["n2"] = map[string]any{"id": "n2", "name": "multi", "segments": []any{
		map[string]any{"provider:network_type": "vlan", "provider:segmentation_id": 100},
		map[string]any{"provider:network_type": "vxlan", "provider:segmentation_id": 1002}},
		"revision_number": 1, "updated_at": stamp(0)}
	f.nets["n3"] = map[string]any{"id": "n3", "name": "phys", "provider:network_type": "vlan", "provider:segmentation_id": 101,
		"revision_number": 1, "updated_at": stamp(0)}
	f.setPort("p1", "n1", "FA:16:3E:00:00:01", "compute1", "compute:nova", 1, 0)
	f.setPort("p2", "n1", "fa:16:3e:00:00:02", "compute2", "compute:nova", 1, 0)
	f.setPort("p3", "n1", "fa:16:3e:00:00:03", "compute2", "", 1, 0) // no owner: not an endpoint
	f.agents = []map[string]any{
		{"id": "a1", "agent_type": "Open vSwitch agent", "host": "compute1", "alive": true, "started_at": "2026-12-03 10:00:00.123456",
			"heartbeat_timestamp": "2026-12-03 10:00:30.5", "configurations": map[string]any{"tunneling_ip": "127.0.0.11", "l2_population": true, "tunnel_types": []any{"vxlan"}}},
		{"id": "a2", "agent_type": "Linux bridge agent", "host": "compute2", "alive": true, "started_at": "2026-12-03 10:00:00",
			"configurations": map[string]any{"tunneling_ip": "127.0.0.12", "l2_population": false, "tunnel_types": []any{"vxlan"}}},
		{"id": "a3", "agent_type": "DHCP agent", "host": "net1", "alive": true},
	}
	return f
}

// inventory is the store's mirror as text: networks "id type vni",
// ports "id mac host pairs", hosts "name vtep l2pop".
func inventory(t *testing.T, st store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	nets, err := st.ListNetworks(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		out = append(out, "net "+n.ID+" "+n.NetworkType+" "+strconv.Itoa(n.VNI))
	}
	ports, err := st.ListPorts(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		var pairs []string
		for _, a := range p.AllowedAddressPairs {
			pairs = append(pairs, a.MACAddress)
		}
		out = append(out, "port "+p.ID+" "+p.MACAddress+" "+p.HostID+" "+p.Status+" "+strings.Join(pairs, ","))
	}
	hosts, err := st.ListHosts(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		out = append(out, "host "+h.Name+" "+h.VTEPIP+" l2pop="+strconv.FormatBool(h.Agent != nil && h.Agent.L2Population))
	}
	return out
}

func waitInventory(t *testing.T, st store.Store, want []string, what string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, func() (bool, string) {
		d := cmp.Diff(want, inventory(t, st))
		return d == "", "(-want +got):\n" + d
	})
}

func TestSyncer(t *testing.T) {
	for _, mode := range []string{"changed_since", "scan"} {
		t.Run(mode, func(t *testing.T) {
			f := newFake()
			f.refuseSince = mode == "scan"
			ns := httptest.NewServer(f)
			defer ns.Close()
			st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s, err := New(st, Config{URL: ns.URL, PollInterval: 20 * time.Millisecond, ResyncInterval: time.Hour, PageSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()

			want := []string{"net n1 vxlan 1001", "net n2 vxlan 1002", "net n3 vlan 0",
				"port p1 fa:16:3e:00:00:01 compute1 ACTIVE ", "port p2 fa:16:3e:00:00:02 compute2 ACTIVE ",
				"host compute1 127.0.0.11 l2pop=true", "host compute2 127.0.0.12 l2pop=false"}
			waitInventory(t, st, want, "the initial full sync")
			testenv.Eventually(t, 10*time.Second, "status ok with 3 networks, 2 ports, 2 hosts", func() (bool, string) {
				got := s.Status()
				return got.State == StateOK && got.Ports == 2 && got.Networks == 3 && got.Hosts == 2 && !got.LastFullSync.IsZero(), got.String()
			})

			// A live migration and an allowed address pair, seen by the
			// next poll (changed_since or the revision scan).
			f.setPort("p2", "n1", "fa:16:3e:00:00:02", "compute1", "compute:nova", 2, 5*time.Second, "fa:16:3e:aa:bb:cc")
			want[4] = "port p2 fa:16:3e:00:00:02 compute1 ACTIVE fa:16:3e:aa:bb:cc"
			waitInventory(t, st, want, "the port's update")

			// An older revision read again (polls overlap) changes nothing.
			f.setPort("p2", "n1", "fa:16:3e:00:00:02", "compute2", "compute:nova", 1, 6*time.Second)
			f.setPort("p4", "n1", "fa:16:3e:00:00:04", "compute2", "compute:nova", 1, 7*time.Second)
			want = append(want[:5:5], "port p4 fa:16:3e:00:00:04 compute2 ACTIVE ", want[5], want[6])
			waitInventory(t, st, want, "p4 created, p2 kept at revision 2")

			// Neutron unreachable: reported, nothing deleted.
			f.mu.Lock()
			f.down = true
			delete(f.ports, "p1")
			f.mu.Unlock()
			testenv.Eventually(t, 10*time.Second, "unreachable", func() (bool, string) {
				st := s.Status()
				return st.State == StateUnreachable && !st.UnreachableSince.IsZero() && strings.Contains(st.String(), "unreachable since"), st.String()
			})
			if d := cmp.Diff(want, inventory(t, st)); d != "" {
				t.Errorf("mirror while Neutron is unreachable (-want +got):\n%s", d)
			}
			// Back: the full sync after the failure sees p1's deletion.
			f.mu.Lock()
			f.down = false
			f.mu.Unlock()
			want = slices.DeleteFunc(want, func(s string) bool { return strings.HasPrefix(s, "port p1 ") })
			waitInventory(t, st, want, "p1's deletion after the failure's full sync")
			testenv.Eventually(t, 10*time.Second, "ok again", func() (bool, string) {
				return s.Status().State == StateOK, s.Status().String()
			})
		})
	}
}

func TestToNetwork(t *testing.T) {
	vni := func(v int) *int { return &v }
	for _, tc := range []struct {
		name     string
		in       wireNetwork
		wantType string
		wantVNI  int
	}{
		{"vxlan", wireNetwork{NetworkType: "vxlan", SegID: vni(1001)}, "vxlan", 1001},
		{"vlan", wireNetwork{NetworkType: "vlan", SegID: vni(100)}, "vlan", 0},
		{"multi", wireNetwork{Segments: []wireSegment{{"vlan", vni(100)}, {"vxlan", vni(1002)}}}, "vxlan", 1002},
		{"flat multi", wireNetwork{Segments: []wireSegment{{"flat", nil}}}, "flat", 0},
		{"no provider attributes", wireNetwork{}, "unknown", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := toNetwork(tc.in)
			if got.NetworkType != tc.wantType || got.VNI != tc.wantVNI {
				t.Errorf("toNetwork(%+v) = type %q VNI %d; want %q %d", tc.in, got.NetworkType, got.VNI, tc.wantType, tc.wantVNI)
			}
		})
	}
}

func TestToHostsPrefersAliveAgent(t *testing.T) {
	cfg := func(ip string) map[string]any { return map[string]any{"tunneling_ip": ip} }
	got := toHosts([]wireAgent{
		{ID: "old", AgentType: "Open vSwitch agent", Host: "c1", Alive: false, Configurations: cfg("192.0.2.1")},
		{ID: "new", AgentType: "Linux bridge agent", Host: "c1", Alive: true, Configurations: cfg("192.0.2.2")},
		{ID: "l3", AgentType: "L3 agent", Host: "c1", Alive: true},
	})
	want := []model.Host{{ID: "new", Name: "c1", VTEPIP: "192.0.2.2", Description: "Linux bridge agent",
		Agent: &model.L2Agent{Type: "Linux bridge agent", Alive: true}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("toHosts (-want +got):\n%s", d)
	}
}

// TestTokenRenewedOn401: the token goes as X-Auth-Token; a 401 makes the
// client ask for a new one and retry once.
func TestTokenRenewedOn401(t *testing.T) {
	var seen []string
	ns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Auth-Token"))
		if r.Header.Get("X-Auth-Token") != "fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"networks": []}`))
	}))
	defer ns.Close()
	var renewals int
	c := &client{base: ns.URL, http: ns.Client(), token: func(_ context.Context, renew bool) (string, error) {
		if renew {
			renewals++
			return "fresh", nil
		}
		return "expired", nil
	}}
	if _, err := list(context.Background(), c, "networks", networkFields, nil, func(n wireNetwork) string { return n.ID }); err != nil {
		t.Fatalf("list: %v", err)
	}
	if renewals != 1 || !slices.Equal(seen, []string{"expired", "fresh"}) {
		t.Errorf("tokens sent %v with %d renewals; want [expired fresh] and 1", seen, renewals)
	}
}

func TestCloudProblem(t *testing.T) {
	tests := []struct {
		name   string
		types  []string
		refuse bool
	}{
		{"no agents yet", nil, false},
		{"Open vSwitch", []string{"DHCP agent", "Open vSwitch agent"}, false},
		{"Linux bridge beside OVN", []string{"OVN Controller agent", "Linux bridge agent"}, false},
		{"OVN only", []string{"OVN Controller agent", "OVN Metadata agent"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var agents []wireAgent
			for _, typ := range tc.types {
				agents = append(agents, wireAgent{AgentType: typ, Host: "h"})
			}
			if got := cloudProblem(agents); (got != "") != tc.refuse {
				t.Errorf("cloudProblem(%v) = %q; want a problem: %v", tc.types, got, tc.refuse)
			}
		})
	}
}

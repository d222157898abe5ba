package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// changesAfter returns the change log after rev as "kind op id" lines.
func changesAfter(t *testing.T, s store.Store, after int64) []string {
	t.Helper()
	cs, err := s.Changes(context.Background(), after, 1000)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	out := []string{}
	for _, c := range cs {
		out = append(out, string(c.Kind)+" "+string(c.Op)+" "+c.ID)
	}
	return out
}

func testMirror(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	net := store.MirroredNetwork{Network: model.Network{ID: "n1", Name: "net1", TenantID: "p", AdminStateUp: true, NetworkType: "vxlan", VNI: 1001, MTU: 1450, CreatedAt: t0, UpdatedAt: t0}, Revision: 1}
	vlan := store.MirroredNetwork{Network: model.Network{ID: "n2", Name: "phys", NetworkType: "vlan", CreatedAt: t0, UpdatedAt: t0}, Revision: 1}
	port := store.MirroredPort{Port: model.Port{ID: "p1", NetworkID: "n1", MACAddress: "FA:16:3E:00:00:01", HostID: "compute1", DeviceOwner: "compute:nova",
		FixedIPs: []model.FixedIP{{SubnetID: "s1", IPAddress: "10.0.0.5"}}, Status: "DOWN", AdminStateUp: true, CreatedAt: t0, UpdatedAt: t0}, Revision: 2}
	agent := &model.L2Agent{Type: "Open vSwitch agent", Alive: true, StartedAt: t0, L2Population: true, TunnelTypes: []string{"vxlan"}}
	host := model.Host{ID: "a1", Name: "compute1", VTEPIP: "127.0.0.11", LastHeartbeat: t0, CreatedAt: t0, Agent: agent}
	orphan := store.MirroredPort{Port: model.Port{ID: "p9", NetworkID: "nope", MACAddress: "fa:16:3e:00:00:09"}, Revision: 1}

	before := rev(t, s)
	res, err := s.ApplyMirror(ctx, store.Mirror{Networks: []store.MirroredNetwork{net, vlan}, Ports: []store.MirroredPort{port, orphan}, Hosts: []model.Host{host}})
	if err != nil {
		t.Fatalf("ApplyMirror: %v", err)
	}
	if diff := cmp.Diff([]string{"network create n1", "network create n2", "port create p1", "host create a1"}, changesAfter(t, s, before)); diff != "" {
		t.Errorf("first apply: changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p9"}, res.Orphans); diff != "" {
		t.Errorf("first apply: orphans (-want +got):\n%s", diff)
	}
	p, err := s.GetPort(ctx, "p1")
	if err != nil {
		t.Fatalf("GetPort: %v", err)
	}
	if p.MACAddress != "fa:16:3e:00:00:01" || p.Status != "DOWN" || p.HostID != "compute1" {
		t.Errorf("GetPort(p1) = %+v; want lower-case MAC, status DOWN, host compute1", p)
	}
	h, err := s.GetHost(ctx, "a1")
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	if diff := cmp.Diff(agent, h.Agent); diff != "" {
		t.Errorf("GetHost(a1).Agent (-want +got):\n%s", diff)
	}

	// The same again (an overlapping poll), an older revision, and a new
	// revision with the same content: nothing changes.
	mid := rev(t, s)
	stale := port
	stale.Revision, stale.HostID = 1, "compute9"
	same := port
	same.Revision, same.UpdatedAt = 3, t0.Add(time.Second)
	beat := host
	beat.LastHeartbeat = t0.Add(30 * time.Second)
	for _, m := range []store.Mirror{
		{Networks: []store.MirroredNetwork{net, vlan}, Ports: []store.MirroredPort{port}, Hosts: []model.Host{host}},
		{Ports: []store.MirroredPort{stale}},
		{Ports: []store.MirroredPort{same}, Hosts: []model.Host{beat}},
	} {
		res, err := s.ApplyMirror(ctx, m)
		if err != nil {
			t.Fatalf("ApplyMirror: %v", err)
		}
		if res.Changed != 0 {
			t.Errorf("ApplyMirror(%+v).Changed = %d; want 0", m, res.Changed)
		}
	}
	if got := rev(t, s); got != mid {
		t.Errorf("revision after no-op applies = %d; want %d", got, mid)
	}
	if p, _ := s.GetPort(ctx, "p1"); p.HostID != "compute1" {
		t.Errorf("a stale revision moved the port to %q", p.HostID)
	}

	// A live migration, an agent restart, a new port taking a deleted
	// port's MAC, and a network gone from Neutron.
	moved := port
	moved.Revision, moved.HostID, moved.Status = 4, "compute2", "ACTIVE"
	restarted := host
	ra := *agent
	ra.StartedAt = t0.Add(time.Hour)
	restarted.Agent = &ra
	reuse := store.MirroredPort{Port: model.Port{ID: "p2", NetworkID: "n1", MACAddress: "fa:16:3e:00:00:01", DeviceOwner: "compute:nova"}, Revision: 1}
	if _, err := s.ApplyMirror(ctx, store.Mirror{Ports: []store.MirroredPort{moved}, Hosts: []model.Host{restarted}}); err != nil {
		t.Fatalf("ApplyMirror: %v", err)
	}
	mid = rev(t, s)
	if _, err := s.ApplyMirror(ctx, store.Mirror{Ports: []store.MirroredPort{reuse}, DeleteNetworks: []string{"n2"}, DeleteHosts: []string{"a1"}}); err != nil {
		t.Fatalf("ApplyMirror: %v", err)
	}
	if diff := cmp.Diff([]string{"network delete n2", "port delete p1", "port create p2", "host delete a1"}, changesAfter(t, s, mid)); diff != "" {
		t.Errorf("deletes: changes (-want +got):\n%s", diff)
	}
	// A network deleted with its ports and connections.
	mid = rev(t, s)
	if _, err := s.ApplyMirror(ctx, store.Mirror{DeleteNetworks: []string{"n1"}}); err != nil {
		t.Fatalf("ApplyMirror: %v", err)
	}
	if diff := cmp.Diff([]string{"port delete p2", "network delete n1"}, changesAfter(t, s, mid)); diff != "" {
		t.Errorf("network delete: changes (-want +got):\n%s", diff)
	}
}

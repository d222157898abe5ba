package hostagent

import (
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
)

const hostVTEP = "192.0.2.2"

// withForeign merges the foreign lines into an expected state text.
func withForeign(foreign string, lines ...string) string {
	all := append(strings.Split(strings.TrimSpace(foreign), "\n"), lines...)
	sort.Strings(all)
	return strings.Join(all, "\n") + "\n"
}

// setupForeign creates devices and FDB entries the host agent must never
// touch: a VXLAN device with remotes and a static bridge entry on a foreign
// bridge, and bridges whose names merely look like ours.
func setupForeign(t *testing.T, lab *testenv.NetLab, ns string) {
	t.Helper()
	bridge := testenv.RequireCommand(t, "bridge")
	lab.IP(ns, "link", "add", "fbr0", "type", "bridge")
	lab.IP(ns, "link", "add", "fvx9", "type", "vxlan", "id", "9", "local", hostVTEP, "dstport", "4789", "nolearning")
	lab.IP(ns, "link", "set", "fvx9", "master", "fbr0")
	lab.IP(ns, "link", "set", "fvx9", "up")
	lab.IP(ns, "link", "set", "fbr0", "up")
	lab.IP(ns, "link", "add", "l2brother", "type", "bridge")
	lab.IP(ns, "link", "add", "l2vx01", "type", "bridge")
	for _, args := range [][]string{
		{"fdb", "append", "00:00:00:00:00:00", "dev", "fvx9", "dst", "192.0.2.9", "self", "permanent"},
		{"fdb", "append", "02:00:00:00:09:01", "dev", "fvx9", "dst", "192.0.2.9", "self", "permanent"},
		{"fdb", "add", "02:00:00:00:09:01", "dev", "fvx9", "master", "static"},
	} {
		if out, err := exec.Command(bridge, append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

func hostPlan(nets ...planner.HostNetwork) planner.HostPlan {
	p := planner.HostPlan{Host: "compute1", Networks: map[string]planner.HostNetwork{}}
	for _, n := range nets {
		p.Networks[n.NetworkID] = n
	}
	return p
}

func TestRealiserConverges(t *testing.T) {
	ctx := context.Background()
	lab := testenv.NewNetLab(t)
	c := newTestNS(t, lab, "compute")
	setupForeign(t, lab, c.name)
	foreign := kernelState(t, c.h)
	lab.Veth(c.name, "tap1", c.name, "tap1p")

	const (
		bm1 = "02:00:00:00:00:01"
		bm2 = "02:00:00:00:00:02"
		bm3 = "02:00:00:00:00:03"
		sw1 = "192.0.2.1"
		sw3 = "192.0.2.3"
	)
	plan3 := hostPlan(planner.HostNetwork{NetworkID: "net-b", VNI: 2000, MTU: 1450,
		Interfaces: []string{"tap1", "tap2"}, FloodIPs: []string{sw1}})
	state3 := withForeign(foreign,
		"link l2br2000 bridge up mtu 1450",
		"link l2vx2000 vxlan up mtu 1450 master l2br2000 vni 2000 local 192.0.2.2 port 4789 learning false",
		"link tap1 veth up mtu 1500 master l2br2000",
		"link tap1p veth up mtu 1500",
		"link tap2 veth up mtu 1500 master l2br2000",
		"link tap2p veth up mtu 1500",
		"fdb l2vx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
	)

	planMoved := hostPlan(
		planner.HostNetwork{NetworkID: "net-a", VNI: 1000, Interfaces: []string{"tap1"},
			FDB:      []planner.FDBEntry{{MAC: bm1, DstIP: sw3}, {MAC: bm3, DstIP: sw1}},
			FloodIPs: []string{sw1, sw3}},
		planner.HostNetwork{NetworkID: "net-b", VNI: 2000, MTU: 1400, Interfaces: []string{"tap2"},
			FloodIPs: []string{sw1}},
	)
	stateMoved := withForeign(foreign,
		"link l2br1000 bridge up mtu 1450",
		"link l2vx1000 vxlan up mtu 1450 master l2br1000 vni 1000 local 192.0.2.2 port 4789 learning false",
		"link tap1 veth up mtu 1500 master l2br1000",
		"link tap1p veth up mtu 1500",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.3 self",
		"fdb l2vx1000 02:00:00:00:00:01 dst 192.0.2.3 self",
		"fdb l2vx1000 02:00:00:00:00:01 master static",
		"fdb l2vx1000 02:00:00:00:00:03 dst 192.0.2.1 self",
		"fdb l2vx1000 02:00:00:00:00:03 master static",
		"link l2br2000 bridge up mtu 1400",
		"link l2vx2000 vxlan up mtu 1400 master l2br2000 vni 2000 local 192.0.2.2 port 4789 learning false",
		"link tap2 veth up mtu 1500 master l2br2000",
		"link tap2p veth up mtu 1500",
		"fdb l2vx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
	)
	// planMoved with peers (other hosts of net-a): one with two VMs, one
	// without, one on a switch's tunnel IP (flooded once).
	planPeers := hostPlan(planMoved.Networks["net-a"], planMoved.Networks["net-b"])
	peersNet := planPeers.Networks["net-a"]
	peersNet.Peers = []planner.Peer{{VTEPIP: sw3, MACs: []string{"02:00:00:00:00:06"}},
		{VTEPIP: "192.0.2.4", MACs: []string{"02:00:00:00:00:04", "02:00:00:00:00:05"}}, {VTEPIP: "192.0.2.5"}}
	planPeers.Networks["net-a"] = peersNet
	statePeers := withForeign(strings.TrimSpace(stateMoved),
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.4 self",
		"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.5 self",
		"fdb l2vx1000 02:00:00:00:00:04 dst 192.0.2.4 self",
		"fdb l2vx1000 02:00:00:00:00:04 master static",
		"fdb l2vx1000 02:00:00:00:00:05 dst 192.0.2.4 self",
		"fdb l2vx1000 02:00:00:00:00:05 master static",
		"fdb l2vx1000 02:00:00:00:00:06 dst 192.0.2.3 self",
		"fdb l2vx1000 02:00:00:00:00:06 master static",
	)

	r := newTestRealiser(t, c.ns, hostVTEP)
	steps := []struct {
		name    string
		before  func(t *testing.T)
		realise *Realiser // nil: r
		plan    planner.HostPlan
		want    string
		changes int // -1: not checked
		missing []string
	}{{
		name: "initial",
		plan: hostPlan(
			planner.HostNetwork{NetworkID: "net-a", VNI: 1000, Interfaces: []string{"tap1"},
				FDB: []planner.FDBEntry{{MAC: bm1, DstIP: sw1}}, FloodIPs: []string{sw1}},
			planner.HostNetwork{NetworkID: "net-b", VNI: 2000, MTU: 1400, Interfaces: []string{"tap2"},
				FDB: []planner.FDBEntry{{MAC: bm2, DstIP: sw1}}, FloodIPs: []string{sw1, sw3}},
		),
		want: withForeign(foreign,
			"link l2br1000 bridge up mtu 1450",
			"link l2vx1000 vxlan up mtu 1450 master l2br1000 vni 1000 local 192.0.2.2 port 4789 learning false",
			"link tap1 veth up mtu 1500 master l2br1000",
			"link tap1p veth up mtu 1500",
			"fdb l2vx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
			"fdb l2vx1000 02:00:00:00:00:01 dst 192.0.2.1 self",
			"fdb l2vx1000 02:00:00:00:00:01 master static",
			"link l2br2000 bridge up mtu 1400",
			"link l2vx2000 vxlan up mtu 1400 master l2br2000 vni 2000 local 192.0.2.2 port 4789 learning false",
			"fdb l2vx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
			"fdb l2vx2000 00:00:00:00:00:00 dst 192.0.2.3 self",
			"fdb l2vx2000 02:00:00:00:00:02 dst 192.0.2.1 self",
			"fdb l2vx2000 02:00:00:00:00:02 master static",
		),
		// per network: bridge create+up, vxlan create+enslave+up; tap1 enslave;
		// fdb 2 self + 1 master (net-a), 3 self + 1 master (net-b).
		changes: 2 + 3 + 1 + 3 + 2 + 3 + 4,
		missing: []string{"tap2"},
	}, {
		name:    "same plan again is a no-op",
		changes: 0,
		missing: []string{"tap2"},
	}, {
		name:   "entries move, flood IPs change, tap appears",
		before: func(t *testing.T) { lab.Veth(c.name, "tap2", c.name, "tap2p") },
		plan:   planMoved,
		want:   stateMoved,
		// net-a: bm1's remote replaced in place, +2 self, +1 master;
		// net-b: enslave tap2, -2 self, -1 master.
		changes: 4 + 4,
	}, {
		name: "peers are realised like the gateway's part",
		plan: planPeers,
		want: statePeers,
		// +2 flood self (192.0.2.3 is flooded to already), +3 self, +3 master.
		changes: 2 + 3 + 3,
	}, {
		name:    "peers leave, the gateway's part stays",
		plan:    planMoved,
		want:    stateMoved,
		changes: 2 + 3 + 3,
	}, {
		name: "network removed, interface moves, mtu changes",
		plan: plan3,
		want: state3,
		// move tap1, mtu of bridge and vxlan, delete l2vx1000 and l2br1000.
		changes: 1 + 2 + 2,
	}, {
		name:    "restarted realiser converges with no duplicates",
		realise: newTestRealiser(t, c.ns, hostVTEP),
		plan:    plan3,
		want:    state3,
		changes: 0,
	}, {
		name: "drift is repaired",
		before: func(t *testing.T) {
			lab.IP(c.name, "link", "set", "l2vx2000", "down")
			lab.IP(c.name, "link", "set", "tap2", "nomaster")
			for _, args := range [][]string{
				{"fdb", "del", "00:00:00:00:00:00", "dev", "l2vx2000", "dst", sw1, "self"},
				{"fdb", "append", "02:00:00:00:00:99", "dev", "l2vx2000", "dst", "192.0.2.77", "self", "permanent"},
				{"fdb", "add", "02:00:00:00:00:98", "dev", "l2vx2000", "master", "static"},
			} {
				if out, err := exec.Command("bridge", append([]string{"-n", c.name}, args...)...).CombinedOutput(); err != nil {
					t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
				}
			}
		},
		plan: plan3,
		want: state3,
		// up, enslave tap2, +1 self, -1 stray self, -1 stray master.
		changes: 5,
	}, {
		name: "vxlan device with wrong attributes is recreated",
		before: func(t *testing.T) {
			lab.IP(c.name, "link", "del", "l2vx2000")
			lab.IP(c.name, "link", "add", "l2vx2000", "mtu", "1450", "master", "l2br2000", "type", "vxlan",
				"id", "2000", "local", "192.0.2.99", "dstport", "4789", "nolearning")
		},
		plan: plan3,
		want: state3,
		// delete, create, enslave, up, +1 self.
		changes: 5,
	}, {
		name: "empty plan leaves nothing of ours",
		plan: hostPlan(),
		want: withForeign(foreign,
			"link tap1 veth up mtu 1500",
			"link tap1p veth up mtu 1500",
			"link tap2 veth up mtu 1500",
			"link tap2p veth up mtu 1500",
		),
		// release tap1 and tap2, delete l2vx2000 and l2br2000.
		changes: 4,
	}}
	var plan planner.HostPlan
	var lastWant string
	for _, st := range steps {
		if st.before != nil {
			st.before(t)
		}
		if st.plan.Networks != nil { // else: the previous step's plan
			plan = st.plan
		}
		rr := r
		if st.realise != nil {
			rr = st.realise
		}
		res, err := rr.Realise(ctx, plan)
		if err != nil {
			t.Fatalf("%s: Realise() = %v", st.name, err)
		}
		if st.changes >= 0 && res.Changes != st.changes {
			t.Errorf("%s: Realise().Changes = %d; want %d", st.name, res.Changes, st.changes)
		}
		if diff := cmp.Diff(st.missing, res.MissingInterfaces, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Realise().MissingInterfaces (-want +got):\n%s", st.name, diff)
		}
		want := st.want
		if want == "" {
			want = lastWant
		}
		lastWant = want
		if diff := cmp.Diff(want, kernelState(t, c.h)); diff != "" {
			t.Fatalf("%s: kernel state (-want +got):\n%s", st.name, diff)
		}
		again, err := rr.Realise(ctx, plan)
		if err != nil || again.Changes != 0 {
			t.Errorf("%s: second Realise() = %d changes, %v; want 0, nil", st.name, again.Changes, err)
		}
	}
}

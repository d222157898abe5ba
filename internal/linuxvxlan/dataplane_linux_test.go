package linuxvxlan

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	bm1 = "02:00:00:00:00:01"
	bm2 = "02:00:00:00:00:02"
	bm3 = "02:00:00:00:00:03"
)

var (
	local = netip.MustParseAddr("192.0.2.2")
	sw1   = netip.MustParseAddr("192.0.2.1")
	sw3   = netip.MustParseAddr("192.0.2.3")
)

// withLines merges lines into a state text.
func withLines(state string, lines ...string) string {
	all := append(strings.Split(strings.TrimSpace(state), "\n"), lines...)
	all = slices.DeleteFunc(all, func(s string) bool { return s == "" })
	slices.Sort(all)
	return strings.Join(all, "\n") + "\n"
}

// newTestKernel returns a fake kernel holding foreign objects Sync must
// never touch (a VXLAN device with FDB entries on a foreign bridge, devices
// whose names merely look like ours) and the dummy ports named, down.
func newTestKernel(t *testing.T, ports ...string) (k *fakeKernel, foreign string) {
	t.Helper()
	k = newFakeKernel()
	br := k.add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "fbr0"}})
	vx := k.add(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "fvx9"}, VxlanId: 9, SrcAddr: net.ParseIP("192.0.2.2").To4(), Port: Port})
	k.add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tbrother"}})
	k.add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tvx01"}})
	must(t, k.LinkSetMasterByIndex(vx, br.Attrs().Index))
	zero := fdbKey{zeroMAC, netip.MustParseAddr("192.0.2.9")}
	must(t, k.NeighAppend(selfNeigh(vx.Attrs().Index, zero)))
	must(t, k.NeighSet(selfNeigh(vx.Attrs().Index, fdbKey{"02:00:00:00:09:01", zero.dst})))
	must(t, k.NeighSet(masterNeigh(vx.Attrs().Index, "02:00:00:00:09:01")))
	foreign = k.State()
	for _, p := range ports {
		k.add(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: p}})
	}
	k.calls = nil
	return k, foreign
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newTestDataplane(t *testing.T, k *fakeKernel) *Dataplane {
	t.Helper()
	d, err := New(k, Config{Names: testNames, Local: local})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return d
}

func TestSyncConverges(t *testing.T) {
	ctx := context.Background()
	k, foreign := newTestKernel(t, "tap1", "tap3")
	d := newTestDataplane(t, k)
	foreignPorts := withLines(foreign, "link tap1 dummy up mtu 1500", "link tap3 dummy down mtu 1500")

	steps := []struct {
		name    string
		before  func(t *testing.T)
		nets    []Network
		want    string
		changes int
		missing []string
	}{{
		name: "initial",
		nets: []Network{
			{VNI: 1000, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw1}, Flood: []netip.Addr{sw1}},
			{VNI: 2000, MTU: 1400, Ports: []string{"tap2"}, Remotes: map[string]netip.Addr{"02:00:00:00:00:02": sw1},
				Flood: []netip.Addr{sw1, sw3}},
		},
		want: withLines(foreign,
			"link tap1 dummy up mtu 1500 master tbr1000",
			"link tap3 dummy down mtu 1500",
			"link tbr1000 bridge up mtu 1450 noipv6",
			"link tvx1000 vxlan up mtu 1450 master tbr1000 vni 1000 local 192.0.2.2 port 4789 learning false nolearning noipv6",
			"fdb tvx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
			"fdb tvx1000 02:00:00:00:00:01 dst 192.0.2.1 self",
			"fdb tvx1000 02:00:00:00:00:01 master static",
			"link tbr2000 bridge up mtu 1400 noipv6",
			"link tvx2000 vxlan up mtu 1400 master tbr2000 vni 2000 local 192.0.2.2 port 4789 learning false nolearning noipv6",
			"fdb tvx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
			"fdb tvx2000 00:00:00:00:00:00 dst 192.0.2.3 self",
			"fdb tvx2000 02:00:00:00:00:02 dst 192.0.2.1 self",
			"fdb tvx2000 02:00:00:00:00:02 master static",
		),
		// per network: bridge create+up, vxlan create+enslave+up; tap1
		// enslave+up; fdb 2+3 self, 1+1 master.
		changes: 2*5 + 2 + 5 + 2,
		missing: []string{"tap2"},
	}, {
		name: "entries move, flood changes, port appears",
		before: func(t *testing.T) {
			k.add(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "tap2", Flags: net.FlagUp}})
			must(t, k.LinkSetUp(k.byName("tap2")))
			k.calls = nil
		},
		nets: []Network{
			{VNI: 1000, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw3, bm3: sw1}, Flood: []netip.Addr{sw1, sw3}},
			{VNI: 2000, MTU: 1400, Ports: []string{"tap2"}, Flood: []netip.Addr{sw1}},
		},
		want: withLines(foreign,
			"link tap1 dummy up mtu 1500 master tbr1000",
			"link tap3 dummy down mtu 1500",
			"link tbr1000 bridge up mtu 1450 noipv6",
			"link tvx1000 vxlan up mtu 1450 master tbr1000 vni 1000 local 192.0.2.2 port 4789 learning false nolearning noipv6",
			"fdb tvx1000 00:00:00:00:00:00 dst 192.0.2.1 self",
			"fdb tvx1000 00:00:00:00:00:00 dst 192.0.2.3 self",
			"fdb tvx1000 02:00:00:00:00:01 dst 192.0.2.3 self",
			"fdb tvx1000 02:00:00:00:00:01 master static",
			"fdb tvx1000 02:00:00:00:00:03 dst 192.0.2.1 self",
			"fdb tvx1000 02:00:00:00:00:03 master static",
			"link tap2 dummy up mtu 1500 master tbr2000",
			"link tbr2000 bridge up mtu 1400 noipv6",
			"link tvx2000 vxlan up mtu 1400 master tbr2000 vni 2000 local 192.0.2.2 port 4789 learning false nolearning noipv6",
			"fdb tvx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
		),
		// 1000: bm1 replaced in place, +2 self, +1 master; 2000: enslave
		// tap2, -2 self, -1 master.
		changes: 4 + 4,
	}, {
		name: "network removed, port moves, mtu changes",
		nets: []Network{{VNI: 2000, Ports: []string{"tap1", "tap2"}, Flood: []netip.Addr{sw1}}},
		want: withLines(foreign,
			"link tap1 dummy up mtu 1500 master tbr2000",
			"link tap3 dummy down mtu 1500",
			"link tap2 dummy up mtu 1500 master tbr2000",
			"link tbr2000 bridge up mtu 1450 noipv6",
			"link tvx2000 vxlan up mtu 1450 master tbr2000 vni 2000 local 192.0.2.2 port 4789 learning false nolearning noipv6",
			"fdb tvx2000 00:00:00:00:00:00 dst 192.0.2.1 self",
		),
		// move tap1, mtu of bridge and vxlan, delete tvx1000 and tbr1000.
		changes: 1 + 2 + 2,
	}, {
		name:    "empty plan leaves nothing of ours",
		nets:    nil,
		want:    withLines(foreignPorts, "link tap2 dummy up mtu 1500"),
		changes: 4, // release tap1 and tap2, delete tvx2000 and tbr2000
	}}
	for _, st := range steps {
		if st.before != nil {
			st.before(t)
		}
		res, err := d.Sync(ctx, st.nets)
		if err != nil {
			t.Fatalf("%s: Sync() = %v", st.name, err)
		}
		if res.Changes != st.changes {
			t.Errorf("%s: Sync().Changes = %d; want %d", st.name, res.Changes, st.changes)
		}
		if diff := cmp.Diff(st.missing, res.Missing, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Sync().Missing (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.want, k.State()); diff != "" {
			t.Fatalf("%s: state (-want +got):\n%s", st.name, diff)
		}
		k.calls = nil
		again, err := d.Sync(ctx, st.nets)
		if err != nil || again.Changes != 0 || len(k.calls) != 0 {
			t.Errorf("%s: second Sync() = %d changes, %v, calls %q; want 0, nil, none", st.name, again.Changes, err, k.calls)
		}
	}
}

// TestSyncFDBOps checks how entries reach the kernel: a unicast MAC with
// "replace", so a moved MAC never has two remotes, and the flood entry with
// "append", one remote per flood VTEP.
func TestSyncFDBOps(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	d := newTestDataplane(t, k)
	nets := []Network{{VNI: 5, Remotes: map[string]netip.Addr{bm1: sw1}, Flood: []netip.Addr{sw1, sw3}}}
	if _, err := d.Sync(ctx, nets); err != nil {
		t.Fatal(err)
	}
	wantFDB := []string{
		"NeighAppend tvx5 00:00:00:00:00:00 dst 192.0.2.1",
		"NeighAppend tvx5 00:00:00:00:00:00 dst 192.0.2.3",
		"NeighSet tvx5 02:00:00:00:00:01 dst 192.0.2.1",
		"NeighSet tvx5 02:00:00:00:00:01 master",
	}
	if diff := cmp.Diff(wantFDB, neighCalls(k)); diff != "" {
		t.Errorf("fdb calls (-want +got):\n%s", diff)
	}
	k.calls = nil
	nets[0].Remotes[bm1] = sw3
	if _, err := d.Sync(ctx, nets); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"NeighSet tvx5 02:00:00:00:00:01 dst 192.0.2.3"}, neighCalls(k)); diff != "" {
		t.Errorf("fdb calls after a move (-want +got):\n%s", diff)
	}
}

func neighCalls(k *fakeKernel) []string {
	var out []string
	for _, c := range k.calls {
		if strings.HasPrefix(c, "Neigh") {
			out = append(out, c)
		}
	}
	return out
}

// TestSyncRepairs converges one network, changes the kernel behind the
// Dataplane's back, and checks that one Sync restores exactly the state.
func TestSyncRepairs(t *testing.T) {
	net5 := []Network{{VNI: 5, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw1}, Flood: []netip.Addr{sw1, sw3}}}
	tests := []struct {
		name        string
		drift       func(t *testing.T, k *fakeKernel)
		changes     int
		wantExtra   []string // lines the Sync leaves in addition
		wantLearned []Learned
	}{{
		name:  "nothing changed",
		drift: func(t *testing.T, k *fakeKernel) {},
	}, {
		name: "bridge replaced by a device of another type",
		drift: func(t *testing.T, k *fakeKernel) {
			must(t, k.LinkDel(k.byName("tbr5")))
			k.add(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "tbr5"}})
		},
		// delete, create, up, enslave tvx5 and tap1, restore the master entry.
		changes: 6,
	}, {
		name: "vxlan device with another local address",
		drift: func(t *testing.T, k *fakeKernel) {
			must(t, k.LinkDel(k.byName("tvx5")))
			k.add(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "tvx5", MTU: 1450}, VxlanId: 5,
				SrcAddr: net.ParseIP("192.0.2.99").To4(), Port: Port})
		},
		// delete, create, enslave, up, 3 self + 1 master entries.
		changes: 8,
	}, {
		name: "vxlan device of another type",
		drift: func(t *testing.T, k *fakeKernel) {
			must(t, k.LinkDel(k.byName("tvx5")))
			k.add(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tvx5", MTU: 1450}})
		},
		changes: 8,
	}, {
		name: "vxlan device with another port",
		drift: func(t *testing.T, k *fakeKernel) {
			must(t, k.LinkDel(k.byName("tvx5")))
			k.add(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "tvx5", MTU: 1450}, VxlanId: 5,
				SrcAddr: net.IP(local.AsSlice()), Port: 8472})
		},
		changes: 8,
	}, {
		name: "devices down, mtu changed, port released",
		drift: func(t *testing.T, k *fakeKernel) {
			k.byName("tvx5").Attrs().Flags &^= net.FlagUp
			k.byName("tbr5").Attrs().MTU = 9000
			must(t, k.LinkSetNoMaster(k.byName("tap1")))
		},
		changes: 3,
	}, {
		name: "stray entries, missing entries",
		drift: func(t *testing.T, k *fakeKernel) {
			vx := k.byName("tvx5").Attrs().Index
			must(t, k.NeighDel(selfNeigh(vx, fdbKey{zeroMAC, sw3})))
			must(t, k.NeighSet(selfNeigh(vx, fdbKey{bm2, sw3})))
			must(t, k.NeighAppend(selfNeigh(vx, fdbKey{zeroMAC, netip.MustParseAddr("192.0.2.77")})))
			must(t, k.NeighSet(masterNeigh(vx, bm3)))
		},
		changes: 4,
	}, {
		name: "foreign port on our bridge is released",
		drift: func(t *testing.T, k *fakeKernel) {
			eth := k.add(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "eth9"}})
			must(t, k.LinkSetMasterByIndex(eth, k.byName("tbr5").Attrs().Index))
		},
		changes:   1,
		wantExtra: []string{"link eth9 dummy down mtu 1500"},
	}, {
		name: "learned entries stay and are reported",
		drift: func(t *testing.T, k *fakeKernel) {
			k.learn("tap1", bm3)
			k.learn("tap1", bm2)
			k.learn("tvx5", "02:00:00:00:00:99") // on the tunnel port: not reported
		},
		wantLearned: []Learned{{5, bm2}, {5, bm3}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			k, foreign := newTestKernel(t, "tap1")
			d := newTestDataplane(t, k)
			if _, err := d.Sync(ctx, net5); err != nil {
				t.Fatal(err)
			}
			want := k.State()
			if !strings.Contains(want, "link tvx5 ") || strings.Contains(want, "eth9") {
				t.Fatalf("state after first Sync:\n%s", want)
			}
			tc.drift(t, k)
			want = withLines(want, tc.wantExtra...)
			if tc.wantLearned != nil {
				want = k.State() // learned entries are the kernel's
			}
			res, err := d.Sync(ctx, net5)
			if err != nil {
				t.Fatalf("Sync() = %v", err)
			}
			if diff := cmp.Diff(want, k.State()); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if res.Changes != tc.changes {
				t.Errorf("Sync().Changes = %d; want %d", res.Changes, tc.changes)
			}
			if diff := cmp.Diff(tc.wantLearned, res.Learned, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Sync().Learned (-want +got):\n%s", diff)
			}
			if _, err := d.Sync(ctx, nil); err != nil {
				t.Fatalf("Sync(nil) = %v", err)
			}
			if got := k.State(); strings.Contains(got, "tbr5") || strings.Contains(got, "tvx5") || !containsAll(got, foreign) {
				t.Errorf("state after Sync(nil):\n%s\nwant no tbr5 or tvx5 and all of\n%s", got, foreign)
			}
		})
	}
}

// containsAll reports whether every line of sub is a line of s.
func containsAll(s, sub string) bool {
	lines := strings.Split(s, "\n")
	for _, l := range strings.Split(strings.TrimSpace(sub), "\n") {
		if !slices.Contains(lines, l) {
			return false
		}
	}
	return true
}

// TestSyncVanishing makes objects disappear between the Dataplane's dump and
// its request: that is the object being gone, not a failure.
func TestSyncVanishing(t *testing.T) {
	net5 := []Network{{VNI: 5, Ports: []string{"tap1"}, Remotes: map[string]netip.Addr{bm1: sw1}, Flood: []netip.Addr{sw1}}}
	tests := []struct {
		name        string
		converged   bool // Sync net5 first
		op, device  string
		nets        []Network
		wantMissing []string
	}{
		{name: "port before enslaving", op: "LinkSetMaster", device: "tap1", nets: net5, wantMissing: []string{"tap1"}},
		{name: "port before up", op: "LinkSetUp", device: "tap1", nets: net5, wantMissing: []string{"tap1"}},
		{name: "port before release", converged: true, op: "LinkSetNoMaster", device: "tap1"},
		{name: "vxlan device before delete", converged: true, op: "LinkDel", device: "tvx5"},
		{name: "bridge before delete", converged: true, op: "LinkDel", device: "tbr5"},
		{name: "fdb entry before delete", converged: true, op: "NeighDel", device: "tvx5",
			nets: []Network{{VNI: 5, Ports: []string{"tap1"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			k, _ := newTestKernel(t, "tap1")
			d := newTestDataplane(t, k)
			if tc.converged {
				if _, err := d.Sync(ctx, net5); err != nil {
					t.Fatal(err)
				}
			}
			vanished := false
			k.before = func(op, name string) error {
				if vanished || op != tc.op || name != tc.device {
					return nil
				}
				vanished = true
				if op == "NeighDel" {
					k.fdb = slices.DeleteFunc(k.fdb, func(n netlink.Neigh) bool { return n.LinkIndex == k.byName(name).Attrs().Index })
					return nil
				}
				k.before = nil
				must(t, k.LinkDel(k.byName(name)))
				return nil
			}
			res, err := d.Sync(ctx, tc.nets)
			if err != nil {
				t.Errorf("Sync() = %v; want nil", err)
			}
			if !vanished {
				t.Errorf("no %s of %s: test does not test", tc.op, tc.device)
			}
			if diff := cmp.Diff(tc.wantMissing, res.Missing, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Sync().Missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncInterruptedDumps(t *testing.T) {
	ctx := context.Background()
	nets := []Network{{VNI: 5, Remotes: map[string]netip.Addr{bm1: sw1}}}

	k, _ := newTestKernel(t)
	d := newTestDataplane(t, k)
	if _, err := d.Sync(ctx, nets); err != nil {
		t.Fatal(err)
	}
	want := k.State()
	// Interrupted link and fdb dumps are read again.
	k.interrupted = dumpAttempts - 1
	res, err := d.Sync(ctx, nets)
	if err != nil || res.Changes != 0 {
		t.Errorf("Sync() with %d interrupted dumps = %d changes, %v; want 0, nil", dumpAttempts-1, res.Changes, err)
	}
	if diff := cmp.Diff(want, k.State()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	// A table that never stops changing is an error, and no partial dump is
	// taken for the truth (which would delete what it missed).
	k.interrupted = dumpAttempts
	if _, err := d.Sync(ctx, nil); !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Errorf("Sync() with %d interrupted dumps = %v; want ErrDumpInterrupted", dumpAttempts, err)
	}
	k.interrupted = 1 + dumpAttempts // the link dump succeeds, the fdb dump does not
	if _, err := d.Sync(ctx, nets); !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Errorf("Sync() with an interrupted fdb dump = %v; want ErrDumpInterrupted", err)
	}
	if diff := cmp.Diff(want, k.State()); diff != "" {
		t.Errorf("state after failed dumps (-want +got):\n%s", diff)
	}
}

// TestSyncInvalid checks that what the kernel cannot take is an error and
// is skipped, while the rest is realised.
func TestSyncInvalid(t *testing.T) {
	ctx := context.Background()
	k, foreign := newTestKernel(t, "tap1", "tap2")
	d := newTestDataplane(t, k)
	res, err := d.Sync(ctx, []Network{
		{VNI: 0},
		{VNI: MaxVNI + 1},
		{VNI: 5, Ports: []string{"tap1", "tvx7", "", "a-very-long-ifname"},
			Remotes: map[string]netip.Addr{
				"01:00:5e:00:00:01": sw1, // multicast
				"00:00:00:00:00:00": sw1, // the flood entry's MAC
				"nonsense":          sw1,
				bm2:                 netip.MustParseAddr("2001:db8::1"),
				bm1:                 sw1,
			},
			Flood: []netip.Addr{netip.MustParseAddr("2001:db8::2")}},
		{VNI: 5, Ports: []string{"tap2"}},
		{VNI: 6, MTU: 20, Ports: []string{"tap2"}},
		{VNI: 7, Ports: []string{"tap1"}},
	})
	if err == nil {
		t.Fatal("Sync() = nil error; want errors")
	}
	for _, want := range []string{"vni 0: out of range", "vni 16777216: out of range", "vni 5: given twice",
		"mtu 20 too small", "tvx7 of vni 5: name reserved", `port "" of vni 5`, "a-very-long-ifname",
		"01:00:5e:00:00:01", "00:00:00:00:00:00 dst", "nonsense", bm2, "2001:db8::2", "tap1 of vni 7: already a port of vni 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Sync() error does not mention %q:\n%v", want, err)
		}
	}
	if _, failed := res.Failed[6]; !failed {
		t.Errorf("Sync().Failed = %v; want vni 6", res.Failed)
	}
	if _, failed := res.PortErrors["tvx7"]; !failed {
		t.Errorf("Sync().PortErrors = %v; want tvx7", res.PortErrors)
	}
	if got, want := slices.Sorted(maps.Keys(res.NetworkErrors)), []int{0, 5, 6, 7, MaxVNI + 1}; !slices.Equal(got, want) || res.GlobalError != nil {
		t.Errorf("Sync().NetworkErrors of VNIs %v, GlobalError %v; want VNIs %v, no global error", got, res.GlobalError, want)
	}
	if e := res.NetworkErrors[7]; e == nil || !strings.Contains(e.Error(), "tap1 of vni 7: already a port of vni 5") || strings.Contains(e.Error(), "vni 5:") {
		t.Errorf("Sync().NetworkErrors[7] = %v; want only vni 7's port error", e)
	}
	want := withLines(foreign,
		"link tap1 dummy up mtu 1500 master tbr5",
		"link tap2 dummy down mtu 1500",
		"link tbr5 bridge up mtu 1450 noipv6",
		"link tvx5 vxlan up mtu 1450 master tbr5 vni 5 local 192.0.2.2 port 4789 learning false nolearning noipv6",
		"fdb tvx5 02:00:00:00:00:01 dst 192.0.2.1 self",
		"fdb tvx5 02:00:00:00:00:01 master static",
		"link tbr7 bridge up mtu 1450 noipv6",
		"link tvx7 vxlan up mtu 1450 master tbr7 vni 7 local 192.0.2.2 port 4789 learning false nolearning noipv6",
	)
	if diff := cmp.Diff(want, k.State()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestSyncFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("no local address", func(t *testing.T) {
		k, foreign := newTestKernel(t)
		d, err := New(k, Config{Names: testNames})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := d.Sync(ctx, []Network{{VNI: 5}}); !errors.Is(err, errNoLocal) || !errors.Is(res.GlobalError, errNoLocal) {
			t.Errorf("Sync() = %v, GlobalError %v; want errNoLocal, as a global error", err, res.GlobalError)
		}
		if _, err := d.Sync(ctx, nil); err != nil {
			t.Errorf("Sync(nil) = %v; want nil: cleanup needs no address", err)
		}
		if k.State() != foreign {
			t.Errorf("state changed:\n%s", k.State())
		}
	})
	t.Run("one network failing does not stop the others", func(t *testing.T) {
		k, _ := newTestKernel(t, "tap1")
		d := newTestDataplane(t, k)
		k.before = func(op, name string) error {
			if op == "LinkAdd" && name == "tvx5" {
				return unix.EADDRINUSE // e.g. a foreign VXLAN device holds VNI 5 and the port
			}
			return nil
		}
		res, err := d.Sync(ctx, []Network{{VNI: 5, Ports: []string{"tap1"}}, {VNI: 6, Ports: []string{"tap2"}}})
		if !errors.Is(err, unix.EADDRINUSE) {
			t.Errorf("Sync() = %v; want EADDRINUSE", err)
		}
		if _, ok := res.Failed[5]; !ok || len(res.Failed) != 1 {
			t.Errorf("Sync().Failed = %v; want vni 5 only", res.Failed)
		}
		if e := res.NetworkErrors[5]; !errors.Is(e, unix.EADDRINUSE) || len(res.NetworkErrors) != 1 || res.GlobalError != nil {
			t.Errorf("Sync().NetworkErrors = %v, GlobalError %v; want vni 5's EADDRINUSE only", res.NetworkErrors, res.GlobalError)
		}
		if got := k.State(); !strings.Contains(got, "link tvx6 vxlan up") || strings.Contains(got, "master tbr5") {
			t.Errorf("state: want tvx6 up, no port on tbr5:\n%s", got)
		}
		if diff := cmp.Diff([]string{"tap2"}, res.Missing); diff != "" {
			t.Errorf("Sync().Missing (-want +got):\n%s", diff)
		}
	})
	t.Run("an fdb entry refused concerns its network only", func(t *testing.T) {
		k, _ := newTestKernel(t)
		d := newTestDataplane(t, k)
		k.before = func(op, name string) error {
			if name == "tvx6" && (op == "NeighSet" || op == "NeighAppend") {
				return unix.ENOSPC
			}
			return nil
		}
		nets := []Network{{VNI: 5, Flood: []netip.Addr{sw1}, Remotes: map[string]netip.Addr{bm1: sw1}},
			{VNI: 6, Flood: []netip.Addr{sw1}, Remotes: map[string]netip.Addr{bm2: sw3}}}
		res, err := d.Sync(ctx, nets)
		if !errors.Is(err, unix.ENOSPC) {
			t.Errorf("Sync() = %v; want ENOSPC", err)
		}
		if e := res.NetworkErrors[6]; !errors.Is(e, unix.ENOSPC) || len(res.NetworkErrors) != 1 || res.GlobalError != nil {
			t.Errorf("Sync().NetworkErrors = %v, GlobalError %v; want vni 6's ENOSPC only", res.NetworkErrors, res.GlobalError)
		}
		if got := k.State(); !strings.Contains(got, "fdb tvx5 02:00:00:00:00:01 dst 192.0.2.1 self") {
			t.Errorf("vni 5's fdb not realised:\n%s", got)
		}
	})
	t.Run("an unreadable fdb concerns every network", func(t *testing.T) {
		k, _ := newTestKernel(t)
		d := newTestDataplane(t, k)
		k.interrupted = 1 + dumpAttempts // the link dump succeeds, the fdb dump does not
		res, err := d.Sync(ctx, []Network{{VNI: 5}, {VNI: 6}})
		if !errors.Is(err, netlink.ErrDumpInterrupted) || !errors.Is(res.GlobalError, netlink.ErrDumpInterrupted) || len(res.NetworkErrors) != 0 {
			t.Errorf("Sync() = %v, GlobalError %v, NetworkErrors %v; want an interrupted dump, global", err, res.GlobalError, res.NetworkErrors)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		k, foreign := newTestKernel(t)
		d := newTestDataplane(t, k)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := d.Sync(cctx, []Network{{VNI: 5}}); !errors.Is(err, context.Canceled) {
			t.Errorf("Sync() = %v; want context.Canceled", err)
		}
		if k.State() != foreign {
			t.Errorf("state changed:\n%s", k.State())
		}
	})
	t.Run("kernel refuses a port", func(t *testing.T) {
		k, _ := newTestKernel(t, "tap1", "tap2")
		d := newTestDataplane(t, k)
		k.before = func(op, name string) error {
			if op == "LinkSetMaster" && name == "tap1" {
				return unix.EBUSY // as for a bond member
			}
			return nil
		}
		res, err := d.Sync(ctx, []Network{{VNI: 5, Ports: []string{"tap1", "tap2"}}})
		if !errors.Is(err, unix.EBUSY) {
			t.Errorf("Sync() = %v; want EBUSY", err)
		}
		if _, ok := res.PortErrors["tap1"]; !ok || len(res.PortErrors) != 1 {
			t.Errorf("Sync().PortErrors = %v; want tap1 only", res.PortErrors)
		}
		if e := res.NetworkErrors[5]; !errors.Is(e, unix.EBUSY) || len(res.NetworkErrors) != 1 {
			t.Errorf("Sync().NetworkErrors = %v; want vni 5's EBUSY", res.NetworkErrors)
		}
		if !strings.Contains(k.State(), "link tap2 dummy up mtu 1500 master tbr5") {
			t.Errorf("tap2 not enslaved:\n%s", k.State())
		}
	})
}

func TestNew(t *testing.T) {
	k := newFakeKernel()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Names: testNames}, true},
		{"full", Config{Names: testNames, Local: local, MTU: 9000}, true},
		{"mapped ipv4", Config{Names: testNames, Local: netip.AddrFrom16(local.As16())}, true},
		{"no names", Config{}, false},
		{"ipv6 local", Config{Names: testNames, Local: netip.MustParseAddr("2001:db8::1")}, false},
		{"tiny mtu", Config{Names: testNames, MTU: 67}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(k, tc.cfg); (err == nil) != tc.ok {
				t.Errorf("New(%+v) = %v; want ok %v", tc.cfg, err, tc.ok)
			}
		})
	}
}

package planner

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/l2gw/l2gw/internal/model"
)

// world is the stored state as a test changes it, object by object.
type world struct {
	gws    map[string]model.Gateway
	conns  map[string]model.Connection
	nets   map[string]model.Network
	ports  map[string]model.Port
	hosts  map[string]model.Host
	sws    map[string]model.Switch
	locals map[LocalMACKey]model.LocalMAC
}

func newWorld(inv Inventory) *world {
	w := &world{
		gws: map[string]model.Gateway{}, conns: map[string]model.Connection{}, nets: map[string]model.Network{},
		ports: map[string]model.Port{}, hosts: map[string]model.Host{}, sws: map[string]model.Switch{},
		locals: map[LocalMACKey]model.LocalMAC{},
	}
	for _, v := range inv.Gateways {
		w.gws[v.ID] = v
	}
	for _, v := range inv.Connections {
		w.conns[v.ID] = v
	}
	for _, v := range inv.Networks {
		w.nets[v.ID] = v
	}
	for _, v := range inv.Ports {
		w.ports[v.ID] = v
	}
	for _, v := range inv.Hosts {
		w.hosts[v.ID] = v
	}
	for _, v := range inv.Switches {
		w.sws[v.Name] = v
	}
	for _, v := range inv.LocalMACs {
		w.locals[LocalMACKey{v.Switch, v.NetworkID, v.MAC}] = v
	}
	return w
}

func values[K comparable, V any](m map[K]V) []V { return slices.Collect(maps.Values(m)) }

func (w *world) inventory() Inventory {
	return Inventory{
		Gateways: values(w.gws), Connections: values(w.conns), Networks: values(w.nets), Ports: values(w.ports),
		Hosts: values(w.hosts), Switches: values(w.sws), LocalMACs: values(w.locals),
	}
}

// change is one stored-object change, applied to the world and staged on the planner.
type change struct {
	desc string
	do   func(w *world, p *Planner)
}

func upGateway(g model.Gateway) change {
	return change{"upsert gateway " + g.ID, func(w *world, p *Planner) { w.gws[g.ID] = g; p.UpsertGateway(g) }}
}
func delGateway(id string) change {
	return change{"delete gateway " + id, func(w *world, p *Planner) { delete(w.gws, id); p.DeleteGateway(id) }}
}
func upConn(c model.Connection) change {
	return change{"upsert connection " + c.ID, func(w *world, p *Planner) { w.conns[c.ID] = c; p.UpsertConnection(c) }}
}
func delConn(id string) change {
	return change{"delete connection " + id, func(w *world, p *Planner) { delete(w.conns, id); p.DeleteConnection(id) }}
}
func upNet(n model.Network) change {
	return change{"upsert network " + n.ID, func(w *world, p *Planner) { w.nets[n.ID] = n; p.UpsertNetwork(n) }}
}
func delNet(id string) change {
	return change{"delete network " + id, func(w *world, p *Planner) { delete(w.nets, id); p.DeleteNetwork(id) }}
}
func upPort(pt model.Port) change {
	return change{"upsert port " + pt.ID, func(w *world, p *Planner) { w.ports[pt.ID] = pt; p.UpsertPort(pt) }}
}
func delPort(id string) change {
	return change{"delete port " + id, func(w *world, p *Planner) { delete(w.ports, id); p.DeletePort(id) }}
}
func upHost(h model.Host) change {
	return change{"upsert host " + h.ID, func(w *world, p *Planner) { w.hosts[h.ID] = h; p.UpsertHost(h) }}
}
func delHost(id string) change {
	return change{"delete host " + id, func(w *world, p *Planner) { delete(w.hosts, id); p.DeleteHost(id) }}
}
func upSwitch(s model.Switch) change {
	return change{"upsert switch " + s.Name, func(w *world, p *Planner) { w.sws[s.Name] = s; p.UpsertSwitch(s) }}
}
func delSwitch(name string) change {
	return change{"delete switch " + name, func(w *world, p *Planner) { delete(w.sws, name); p.DeleteSwitch(name) }}
}
func upLocal(m model.LocalMAC) change {
	k := LocalMACKey{m.Switch, m.NetworkID, m.MAC}
	return change{fmt.Sprintf("upsert local mac %v", k), func(w *world, p *Planner) { w.locals[k] = m; p.UpsertLocalMAC(m) }}
}
func delLocal(k LocalMACKey) change {
	return change{fmt.Sprintf("delete local mac %v", k), func(w *world, p *Planner) { delete(w.locals, k); p.DeleteLocalMAC(k) }}
}

// checkFlush flushes p and checks that (1) its plans equal a from-scratch
// plan of the world, and (2) the result is exactly DiffSwitch/DiffHost of the
// plans before and after, so applying it to the old plans gives the new.
func checkFlush(t tb, cfg Config, p *Planner, w *world, oldSw map[string]SwitchPlan, oldHs map[string]HostPlan) (map[string]SwitchPlan, map[string]HostPlan, Result) {
	t.Helper()
	res := p.Flush()
	gotSw, gotHs := plans(p)
	full, err := New(cfg, w.inventory())
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	wantSw, wantHs := plans(full)
	if diff := cmp.Diff(wantSw, gotSw); diff != "" {
		t.Fatalf("incremental switch plans differ from full recompute (-full +incremental):\n%s", diff)
	}
	if diff := cmp.Diff(wantHs, gotHs); diff != "" {
		t.Fatalf("incremental host plans differ from full recompute (-full +incremental):\n%s", diff)
	}
	wantRes := Result{Switches: map[string]SwitchDelta{}, Hosts: map[string]HostDelta{}}
	for _, n := range slices.Concat(slices.Collect(maps.Keys(oldSw)), slices.Collect(maps.Keys(gotSw))) {
		if d := DiffSwitch(oldSw[n], gotSw[n]); !d.Empty() {
			wantRes.Switches[n] = d
		}
	}
	for _, n := range slices.Concat(slices.Collect(maps.Keys(oldHs)), slices.Collect(maps.Keys(gotHs))) {
		if d := DiffHost(oldHs[n], gotHs[n]); !d.Empty() {
			wantRes.Hosts[n] = d
		}
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Fatalf("Flush() result is not the diff of the plans (-want +got):\n%s", diff)
	}
	for n, d := range res.Switches {
		sp := oldSw[n].Clone()
		sp.Switch = n
		sp.Apply(d)
		if diff := cmp.Diff(p.SwitchPlan(n), sp); diff != "" {
			t.Fatalf("old plan of %s + delta (-want +got):\n%s", n, diff)
		}
	}
	return gotSw, gotHs, res
}

// tb is what checkFlush needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func TestIncremental(t *testing.T) {
	b := base()
	p1, p2 := b.Ports[0], b.Ports[1]
	gw1, c1, n1 := b.Gateways[0], b.Connections[0], b.Networks[0]
	with := func(pt model.Port, f func(*model.Port)) model.Port { f(&pt); return pt }
	gw2 := model.Gateway{ID: "gw2", Devices: []model.Device{
		{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port1"}}},
		{Name: "sw2", Interfaces: []model.Interface{{Name: "eth0", SegmentationIDs: []int{5}}}},
	}}
	n0 := model.Network{ID: "0-first", Name: "n0", VNI: 1001, MTU: 1400}
	tests := []struct {
		name    string
		changes [][]change // each inner list is one Flush
		wantNil bool       // the last flush changes nothing
	}{
		{name: "port create", changes: [][]change{{upPort(model.Port{ID: "p3", NetworkID: net1, MACAddress: "fa:16:3e:00:00:03", HostID: "compute1", AdminStateUp: true, InterfaceName: "tap3"})}}},
		{name: "port moves host", changes: [][]change{{upPort(with(p1, func(p *model.Port) { p.HostID = "compute2" }))}}},
		{name: "port unbound", changes: [][]change{{upPort(with(p1, func(p *model.Port) { p.HostID = "" }))}}},
		{name: "port MAC and IP change", changes: [][]change{{upPort(with(p2, func(p *model.Port) { p.MACAddress = "fa:16:3e:00:00:22"; p.FixedIPs = nil }))}}},
		{name: "port admin down", changes: [][]change{{upPort(with(p2, func(p *model.Port) { p.AdminStateUp = false }))}}},
		{name: "port address pairs", changes: [][]change{
			{upPort(with(p2, func(p *model.Port) {
				p.AllowedAddressPairs = []model.AddressPair{{IPAddress: "10.0.0.5", MACAddress: "00:00:5e:00:01:01"}}
			}))},
			{upPort(with(p2, func(p *model.Port) {
				p.AllowedAddressPairs = []model.AddressPair{{IPAddress: "10.0.0.6", MACAddress: "00:00:5e:00:01:01"}}
			}))},
		}},
		{name: "port to another network", changes: [][]change{{upNet(n0), upConn(model.Connection{ID: "c0", GatewayID: "gw1", NetworkID: "0-first", SegmentationID: intp(200)})}, {upPort(with(p1, func(p *model.Port) { p.NetworkID = "0-first" }))}}},
		{name: "port delete", changes: [][]change{{delPort("p1")}}},
		{name: "unchanged port is a no-op", changes: [][]change{{upPort(p1)}}, wantNil: true},
		{name: "host VTEP change", changes: [][]change{{upHost(model.Host{ID: "h1", Name: "compute1", VTEPIP: "127.0.0.21"})}}},
		{name: "host rename", changes: [][]change{{upHost(model.Host{ID: "h1", Name: "compute3", VTEPIP: "127.0.0.11"})}}},
		{name: "host delete", changes: [][]change{{delHost("h2")}}},
		{name: "host heartbeat is a no-op", changes: [][]change{{upHost(model.Host{ID: "h1", Name: "compute1", VTEPIP: "127.0.0.11", Description: "beat"})}}, wantNil: true},
		{name: "second host with the same name", changes: [][]change{{upHost(model.Host{ID: "h0", Name: "compute1", VTEPIP: "127.0.0.31"})}, {delHost("h0")}}},
		{name: "second connection then delete the first", changes: [][]change{{upGateway(gw2), upConn(model.Connection{ID: "c2", GatewayID: "gw2", NetworkID: net1, SegmentationID: intp(100)})}, {delConn("c1")}}},
		{name: "connection delete", changes: [][]change{{delConn("c1")}}},
		{name: "connection before its gateway", changes: [][]change{{upConn(model.Connection{ID: "c2", GatewayID: "gw2", NetworkID: net1, SegmentationID: intp(300)})}, {upGateway(gw2)}, {delGateway("gw2")}}},
		{name: "gateway interfaces change", changes: [][]change{{upGateway(model.Gateway{ID: "gw1", Devices: []model.Device{{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port4"}, {Name: "port1", SegmentationIDs: []int{9}}}}}})}}},
		{name: "gateway delete", changes: [][]change{{delGateway("gw1")}}},
		{name: "gateway rename is a no-op", changes: [][]change{{upGateway(func() model.Gateway { g := gw1; g.Name = "x"; return g }())}}, wantNil: true},
		{name: "network VNI and name change", changes: [][]change{{upNet(func() model.Network { n := n1; n.VNI = 1500; n.Name = "renamed"; return n }())}}},
		{name: "network becomes VLAN", changes: [][]change{{upNet(func() model.Network { n := n1; n.NetworkType = "vlan"; return n }())}}},
		{name: "network delete cascade", changes: [][]change{{delNet(net1)}, {delConn("c1"), delPort("p1"), delPort("p2")}}, wantNil: true}, // the cascade after the network is a no-op
		{name: "switch tunnel IP change", changes: [][]change{{upSwitch(model.Switch{Name: "gatewayhost", TunnelIPs: []string{"127.0.0.43"}})}}},
		{name: "switch heartbeat is a no-op", changes: [][]change{{upSwitch(model.Switch{Name: "gatewayhost", TunnelIPs: []string{"127.0.0.42"}, Connected: true})}}, wantNil: true},
		{name: "switch delete", changes: [][]change{{delSwitch("gatewayhost")}}},
		{name: "unreported switch appears", changes: [][]change{{upGateway(gw2), upConn(model.Connection{ID: "c2", GatewayID: "gw2", NetworkID: net1, SegmentationID: intp(100)})}, {upSwitch(model.Switch{Name: "sw2", TunnelIPs: []string{"bad", "127.0.0.50"}})}}},
		{name: "local MACs come and go", changes: [][]change{
			{upLocal(model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01"})},
			{upLocal(model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01", LocatorIP: "127.0.0.44"}), upLocal(model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:02"})},
			{delLocal(LocalMACKey{"gatewayhost", net1, "52:54:00:00:00:01"})},
		}},
		{name: "binding conflict resolved both ways", changes: [][]change{
			{upNet(n0), upGateway(gw2), upConn(model.Connection{ID: "c0", GatewayID: "gw2", NetworkID: "0-first", SegmentationID: intp(100)})},
			{delConn("c0")},
		}},
		{name: "change and change back in one flush", changes: [][]change{{delPort("p1"), upPort(p1), delConn("c1"), upConn(c1)}}, wantNil: true},
		// Standalone: the hosts' peers follow the ports with or without a
		// connection, and a connection adds and removes only the gateway's
		// part.
		{name: "connect, then port churn without the connection", changes: [][]change{
			{delConn("c1")},
			{upPort(model.Port{ID: "p3", NetworkID: net1, MACAddress: "fa:16:3e:00:00:03", HostID: "compute3", AdminStateUp: true, InterfaceName: "tap3"})},
			{upHost(model.Host{ID: "h3", Name: "compute3", VTEPIP: "127.0.0.13"})},
			{upPort(with(p2, func(p *model.Port) { p.HostID = "compute3" }))},
			{upConn(c1)},
			{delPort("p1"), delHost("h3")},
		}},
		{name: "network without a connection", changes: [][]change{
			{upNet(n0)},
			{upPort(model.Port{ID: "p5", NetworkID: "0-first", MACAddress: "fa:16:3e:00:00:05", HostID: "compute1", AdminStateUp: true, InterfaceName: "tap5"})},
			{upPort(model.Port{ID: "p6", NetworkID: "0-first", MACAddress: "fa:16:3e:00:00:06", HostID: "compute2", AdminStateUp: true, InterfaceName: "tap6"})},
			{upPort(model.Port{ID: "p6", NetworkID: "0-first", MACAddress: "fa:16:3e:00:00:06", HostID: "compute2", AdminStateUp: true, InterfaceName: "tap6",
				AllowedAddressPairs: []model.AddressPair{{IPAddress: "10.0.0.9", MACAddress: "fa:16:3e:00:00:05"}}})}, // loses to p5's own MAC
			{delPort("p5")}, // now p6's pair wins
			{delNet("0-first"), delPort("p1")},
		}},
		{name: "a port takes a bare-metal MAC and gives it back", changes: [][]change{
			{upLocal(model.LocalMAC{Switch: "gatewayhost", NetworkID: net1, MAC: "52:54:00:00:00:01"})},
			{upPort(model.Port{ID: "p3", NetworkID: net1, MACAddress: "52:54:00:00:00:01", HostID: "compute2", AdminStateUp: true})},
			{delPort("p3")},
		}},
		{name: "hosts sharing a VTEP", changes: [][]change{{upHost(model.Host{ID: "h3", Name: "compute3", VTEPIP: "127.0.0.11"}),
			upPort(model.Port{ID: "p3", NetworkID: net1, MACAddress: "fa:16:3e:00:00:03", HostID: "compute3", AdminStateUp: true})}}},
	}
	// Every case runs with source-node replication everywhere, with a
	// service-node override on gatewayhost, and with service-node default
	// and a source-node override on sw2.
	configs := []struct {
		name string
		cfg  Config
	}{
		{"source node", Config{}},
		{"service node override", Config{Switches: map[string]Replication{
			"gatewayhost": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.51", "192.0.2.50"}},
		}}},
		{"source node override", Config{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.60"}, Switches: map[string]Replication{
			"sw2": {Mode: ReplicationSourceNode},
		}}},
		{"gateway only", Config{GatewayOnly: true}},
	}
	for _, c := range configs {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				w := newWorld(base())
				p, err := New(c.cfg, w.inventory())
				if err != nil {
					t.Fatal(err)
				}
				sw, hs := plans(p)
				var res Result
				for _, batch := range tt.changes {
					for _, ch := range batch {
						ch.do(w, p)
					}
					sw, hs, res = checkFlush(t, c.cfg, p, w, sw, hs)
				}
				if res.Empty() != tt.wantNil {
					t.Errorf("last Flush() = %+v; want empty %v", res, tt.wantNil)
				}
			})
		}
	}
}

// TestIncrementalRandom applies random change sequences (over small id and
// value spaces, so objects collide and refer to each other) and checks after
// every flush that the incremental plans equal a from-scratch plan and that
// the reported deltas are exact.
func TestIncrementalRandom(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := rapid.SampledFrom([]Config{
			{},
			{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.200"}},
			// Per-switch overrides both ways: sw1 floods to service nodes
			// while the others replicate at the source, and the reverse.
			{Switches: map[string]Replication{"sw1": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.201", "192.0.2.202"}}}},
			{ReplicationMode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.200"}, Switches: map[string]Replication{
				"sw2": {Mode: ReplicationSourceNode},
				"sw3": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.203"}},
			}},
			{GatewayOnly: true},
			{GatewayOnly: true, Switches: map[string]Replication{"sw1": {Mode: ReplicationServiceNode, ServiceNodes: []string{"192.0.2.201"}}}},
		}).Draw(rt, "config")
		w := newWorld(Inventory{})
		p, err := New(cfg, Inventory{})
		if err != nil {
			rt.Fatal(err)
		}
		sw, hs := plans(p)
		gen := changeGen()
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			batch := rapid.SliceOfN(gen, 1, 4).Draw(rt, fmt.Sprintf("batch%d", i))
			for _, c := range batch {
				c.do(w, p)
			}
			sw, hs, _ = checkFlush(rt, cfg, p, w, sw, hs)
			if !cfg.GatewayOnly {
				checkStandalone(rt, cfg, w, hs)
			}
		}
	})
}

// checkStandalone checks standalone host plans against a model written
// from the API's rules, not from the planner's code: every host with a port
// bound in a plannable network has the network, with its up ports'
// interfaces; its peers are the VTEPs of the network's other hosts, each
// with the MACs (own, else allowed address pairs'; then lowest port id) of
// the ports behind it; and the gateway's part is the GatewayOnly plan's,
// without the MACs the network's ports have (so connecting and
// disconnecting change exactly the gateway's part).
func checkStandalone(t tb, cfg Config, w *world, got map[string]HostPlan) {
	t.Helper()
	gcfg := cfg
	gcfg.GatewayOnly = true
	gw, err := New(gcfg, w.inventory())
	if err != nil {
		t.Fatal(err)
	}
	vtep := func(name string) string { // the lowest host id of the name wins
		best := ""
		for id, h := range w.hosts {
			if h.Name == name && (best == "" || id < best) {
				best = id
			}
		}
		if best == "" {
			return ""
		}
		return ipv4(w.hosts[best].VTEPIP)
	}
	type owner struct {
		pair bool
		port string
		vtep string
	}
	want := map[string]HostPlan{}
	for _, n := range w.nets {
		if n.VNI < 1 || n.VNI > model.MaxVNI || (n.NetworkType != "" && n.NetworkType != "vxlan") {
			continue
		}
		owners := map[string]owner{} // MAC -> winning port
		vteps := map[string]bool{}
		ifs := map[string]map[string]bool{} // host -> interfaces
		for _, pt := range w.ports {
			if pt.NetworkID != n.ID || pt.HostID == "" {
				continue
			}
			if ifs[pt.HostID] == nil {
				ifs[pt.HostID] = map[string]bool{}
			}
			if pt.AdminStateUp && pt.InterfaceName != "" {
				ifs[pt.HostID][pt.InterfaceName] = true
			}
			v := vtep(pt.HostID)
			if v == "" {
				continue
			}
			vteps[v] = true
			claim := func(mac string, pair bool) {
				o := owner{pair: pair, port: pt.ID, vtep: v}
				cur, ok := owners[mac]
				if mac == "" || (ok && (cur.pair == pair && cur.port < pt.ID || !cur.pair && pair)) {
					return
				}
				owners[mac] = o
			}
			own := normMAC(pt.MACAddress)
			claim(own, false)
			for _, ap := range pt.AllowedAddressPairs {
				mac := own
				if ap.MACAddress != "" {
					mac = normMAC(ap.MACAddress)
				}
				claim(mac, true) // a pair of the port's own MAC loses to it
			}
		}
		for h, set := range ifs {
			hn := HostNetwork{NetworkID: n.ID, VNI: n.VNI, MTU: n.MTU}
			for itf := range set {
				hn.Interfaces = append(hn.Interfaces, itf)
			}
			slices.Sort(hn.Interfaces)
			for _, v := range slices.Sorted(maps.Keys(vteps)) {
				if v == vtep(h) {
					continue
				}
				pr := Peer{VTEPIP: v}
				for mac, o := range owners {
					if o.vtep == v {
						pr.MACs = append(pr.MACs, mac)
					}
				}
				slices.Sort(pr.MACs)
				hn.Peers = append(hn.Peers, pr)
			}
			g := gw.HostPlan(h).Networks[n.ID]
			hn.FloodIPs = g.FloodIPs
			for _, e := range g.FDB {
				if _, vm := owners[e.MAC]; !vm {
					hn.FDB = append(hn.FDB, e)
				}
			}
			if want[h].Networks == nil {
				want[h] = NewHostPlan(h)
			}
			want[h].Networks[n.ID] = hn
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("standalone host plans differ from the model (-model +planner):\n%s", diff)
	}
}

func changeGen() *rapid.Generator[change] {
	pick := func(_ string, xs ...string) *rapid.Generator[string] { return rapid.SampledFrom(xs) }
	netIDs := pick("net", "n1", "n2", "n3")
	swNames := pick("switch", "sw1", "sw2", "sw3")
	hostNames := pick("host", "h1", "h2", "h3", "")
	macsG := pick("mac", "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04", "", "bad")
	ips := pick("ip", "192.0.2.1", "192.0.2.2", "192.0.2.3", "", "nope")
	vlans := rapid.SampledFrom([]int{0, 100, 200, 5000})
	iface := rapid.Custom(func(t *rapid.T) model.Interface {
		return model.Interface{Name: pick("iface", "p1", "p2").Draw(t, "name"), SegmentationIDs: rapid.SliceOfN(vlans, 0, 2).Draw(t, "segs")}
	})
	device := rapid.Custom(func(t *rapid.T) model.Device {
		return model.Device{Name: swNames.Draw(t, "name"), Interfaces: rapid.SliceOfN(iface, 1, 2).Draw(t, "ifaces")}
	})
	gateway := rapid.Custom(func(t *rapid.T) model.Gateway {
		return model.Gateway{ID: pick("gw", "g1", "g2", "g3").Draw(t, "id"), Devices: rapid.SliceOfN(device, 1, 2).Draw(t, "devices")}
	})
	conn := rapid.Custom(func(t *rapid.T) model.Connection {
		c := model.Connection{ID: pick("conn", "c1", "c2", "c3", "c4").Draw(t, "id"), GatewayID: pick("gw", "g1", "g2", "g3").Draw(t, "gw"), NetworkID: netIDs.Draw(t, "net")}
		if rapid.Bool().Draw(t, "seg") {
			c.SegmentationID = intp(vlans.Draw(t, "vlan"))
		}
		return c
	})
	network := rapid.Custom(func(t *rapid.T) model.Network {
		return model.Network{ID: netIDs.Draw(t, "id"), Name: pick("name", "a", "b").Draw(t, "name"),
			NetworkType: pick("type", "vxlan", "vxlan", "", "vlan").Draw(t, "type"), VNI: rapid.SampledFrom([]int{1000, 1001, 2000, 0}).Draw(t, "vni"),
			MTU: rapid.SampledFrom([]int{0, 1450}).Draw(t, "mtu")}
	})
	port := rapid.Custom(func(t *rapid.T) model.Port {
		pt := model.Port{ID: pick("port", "pt1", "pt2", "pt3", "pt4", "pt5", "pt6").Draw(t, "id"), NetworkID: netIDs.Draw(t, "net"),
			MACAddress: macsG.Draw(t, "mac"), HostID: hostNames.Draw(t, "host"), AdminStateUp: rapid.Bool().Draw(t, "up"),
			InterfaceName: pick("tap", "tap1", "tap2", "").Draw(t, "tap")}
		for _, ip := range rapid.SliceOfN(ips, 0, 2).Draw(t, "fixed") {
			pt.FixedIPs = append(pt.FixedIPs, model.FixedIP{IPAddress: ip})
		}
		for range rapid.IntRange(0, 2).Draw(t, "pairs") {
			pt.AllowedAddressPairs = append(pt.AllowedAddressPairs, model.AddressPair{IPAddress: ips.Draw(t, "pair_ip"), MACAddress: macsG.Draw(t, "pair_mac")})
		}
		return pt
	})
	host := rapid.Custom(func(t *rapid.T) model.Host {
		return model.Host{ID: pick("hostid", "hid1", "hid2", "hid3", "hid4").Draw(t, "id"), Name: pick("host", "h1", "h2", "h3").Draw(t, "name"),
			VTEPIP: pick("vtep", "10.0.0.1", "10.0.0.2", "10.0.0.3", "", "x").Draw(t, "vtep")}
	})
	sw := rapid.Custom(func(t *rapid.T) model.Switch {
		return model.Switch{Name: swNames.Draw(t, "name"), TunnelIPs: rapid.SliceOfN(pick("tip", "198.51.100.1", "198.51.100.2", "bad"), 0, 2).Draw(t, "tunnel_ips")}
	})
	local := rapid.Custom(func(t *rapid.T) model.LocalMAC {
		return model.LocalMAC{Switch: swNames.Draw(t, "switch"), NetworkID: netIDs.Draw(t, "net"), MAC: macsG.Draw(t, "mac"),
			LocatorIP: pick("loc", "", "198.51.100.9").Draw(t, "loc")}
	})
	return rapid.Custom(func(t *rapid.T) change {
		// Weighted so that the world is mostly connected: creates and
		// updates outnumber deletes.
		k := rapid.IntRange(0, 99).Draw(t, "kind")
		switch {
		case k < 10:
			return upGateway(gateway.Draw(t, "gateway"))
		case k < 13:
			return delGateway(pick("gw", "g1", "g2", "g3").Draw(t, "id"))
		case k < 23:
			return upConn(conn.Draw(t, "conn"))
		case k < 26:
			return delConn(pick("conn", "c1", "c2", "c3", "c4").Draw(t, "id"))
		case k < 34:
			return upNet(network.Draw(t, "network"))
		case k < 36:
			return delNet(netIDs.Draw(t, "id"))
		case k < 56:
			return upPort(port.Draw(t, "port"))
		case k < 60:
			return delPort(pick("port", "pt1", "pt2", "pt3", "pt4", "pt5", "pt6").Draw(t, "id"))
		case k < 68:
			return upHost(host.Draw(t, "host"))
		case k < 71:
			return delHost(pick("hostid", "hid1", "hid2", "hid3", "hid4").Draw(t, "id"))
		case k < 79:
			return upSwitch(sw.Draw(t, "switch"))
		case k < 82:
			return delSwitch(swNames.Draw(t, "name"))
		case k < 88:
			m := local.Draw(t, "local")
			return delLocal(LocalMACKey{m.Switch, m.NetworkID, m.MAC})
		default:
			return upLocal(local.Draw(t, "local"))
		}
	})
}

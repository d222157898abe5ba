package planner

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
)

// bigInventory is one network with n ports spread over 100 hosts, connected
// through one gateway of two switches with two interfaces each.
func bigInventory(n int) Inventory {
	inv := Inventory{
		Gateways: []model.Gateway{{ID: "gw", Devices: []model.Device{
			{Name: "sw1", Interfaces: []model.Interface{{Name: "p1"}, {Name: "p2"}}},
			{Name: "sw2", Interfaces: []model.Interface{{Name: "p1"}, {Name: "p2"}}},
		}}},
		Connections: []model.Connection{{ID: "c", GatewayID: "gw", NetworkID: "net", SegmentationID: intp(100)}},
		Networks:    []model.Network{{ID: "net", Name: "big", NetworkType: "vxlan", VNI: 5000, MTU: 1450}},
		Switches: []model.Switch{
			{Name: "sw1", TunnelIPs: []string{"192.0.2.1"}},
			{Name: "sw2", TunnelIPs: []string{"192.0.2.2"}},
		},
	}
	for h := range 100 {
		inv.Hosts = append(inv.Hosts, model.Host{ID: fmt.Sprintf("hid%d", h), Name: fmt.Sprintf("host%d", h), VTEPIP: fmt.Sprintf("10.0.%d.%d", h/250, h%250+1)})
	}
	for i := range n {
		inv.Ports = append(inv.Ports, model.Port{
			ID: fmt.Sprintf("port%05d", i), NetworkID: "net",
			MACAddress:    fmt.Sprintf("fa:16:3e:00:%02x:%02x", i>>8, i&0xff),
			FixedIPs:      []model.FixedIP{{IPAddress: fmt.Sprintf("10.%d.%d.%d", 100+i>>16, (i>>8)&0xff, i&0xff)}},
			HostID:        fmt.Sprintf("host%d", i%100),
			AdminStateUp:  true,
			InterfaceName: fmt.Sprintf("tap%05d", i),
		})
	}
	return inv
}

func BenchmarkFullPlan10kPorts(b *testing.B) {
	inv := bigInventory(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Config{}, inv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPortChange10kPorts(b *testing.B) {
	inv := bigInventory(10000)
	p, err := New(Config{}, inv)
	if err != nil {
		b.Fatal(err)
	}
	pt := inv.Ports[4242]
	ips := []string{"10.200.0.1", "10.200.0.2"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pt.FixedIPs = []model.FixedIP{{IPAddress: ips[i%2]}}
		i++
		p.UpsertPort(pt)
		res := p.Flush()
		if len(res.Switches) != 2 {
			b.Fatalf("Flush() changed %d switches; want 2", len(res.Switches))
		}
	}
}

func BenchmarkLocalMACChange10kPorts(b *testing.B) {
	inv := bigInventory(10000)
	p, err := New(Config{}, inv)
	if err != nil {
		b.Fatal(err)
	}
	m := model.LocalMAC{Switch: "sw1", NetworkID: "net", MAC: "52:54:00:00:00:01"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			p.UpsertLocalMAC(m)
		} else {
			p.DeleteLocalMAC(LocalMACKey{m.Switch, m.NetworkID, m.MAC})
		}
		i++
		if res := p.Flush(); len(res.Hosts) != 100 {
			b.Fatalf("Flush() changed %d hosts; want 100", len(res.Hosts))
		}
	}
}

// BenchmarkPortMove10kPorts moves a port between two hosts: the MAC row on
// the switches changes locator and, in standalone mode, the peers of every
// host of the network change.
func BenchmarkPortMove10kPorts(b *testing.B) {
	inv := bigInventory(10000)
	p, err := New(Config{}, inv)
	if err != nil {
		b.Fatal(err)
	}
	pt := inv.Ports[4242]
	hosts := []string{"host43", pt.HostID}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pt.HostID = hosts[i%2]
		i++
		p.UpsertPort(pt)
		if res := p.Flush(); len(res.Switches) != 2 {
			b.Fatalf("Flush() changed %d switches; want 2", len(res.Switches))
		}
	}
}

// BenchmarkConnectionCreate10kPorts: a connection of a 10,000-port network
// to a gateway, then its removal (what vtepbench's convergence asks of the
// planner: every MAC row of the switches and every host's gateway peers).
func BenchmarkConnectionCreate10kPorts(b *testing.B) {
	inv := bigInventory(10000)
	conn := inv.Connections[0]
	inv.Connections = nil
	p, err := New(Config{}, inv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.UpsertConnection(conn)
		if res := p.Flush(); len(res.Switches) != 2 {
			b.Fatalf("Flush() after the create changed %d switches; want 2", len(res.Switches))
		}
		p.DeleteConnection(conn.ID)
		p.Flush()
	}
}

// BenchmarkRetained10kPorts reports the heap a planner of bigInventory(10000)
// (its connection included) keeps live: the per-port state and the plans of
// two switches and 100 hosts, with the strings it holds of the inventory (in
// the server those are read from the store for the planner alone).
func BenchmarkRetained10kPorts(b *testing.B) {
	var live uint64
	for b.Loop() {
		before := heapLive()
		p, err := New(Config{}, bigInventory(10000))
		if err != nil {
			b.Fatal(err)
		}
		live = heapLive() - before
		runtime.KeepAlive(p)
	}
	b.ReportMetric(float64(live), "live-B")
}

func heapLive() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

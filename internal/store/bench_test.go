package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

func openBench(b *testing.B) store.Store {
	b.Helper()
	s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkListGateways100 lists 100 gateways (the API's list benchmark).
func BenchmarkListGateways100(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	for i := range 100 {
		if _, err := s.CreateGateway(ctx, model.Gateway{Name: fmt.Sprint("g", i), TenantID: "t",
			Devices: []model.Device{dev("sw1", iface("p1"), iface("p2", 100+i))}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			gws, err := s.ListGateways(ctx, store.Query{})
			if err != nil || len(gws) != 100 {
				b.Errorf("ListGateways = %d, %v", len(gws), err)
				return
			}
		}
	})
}

// BenchmarkConnectionCreateDelete creates and deletes a connection, each a
// durable commit, from parallel clients (run with -cpu and -test.parallelism
// to model 32 API clients).
func BenchmarkConnectionCreateDelete(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	const n = 64
	ports := make([]string, n)
	for i := range ports {
		ports[i] = fmt.Sprint("p", i)
	}
	r := model.SwitchReport{Switch: model.Switch{Name: "sw1"}}
	for _, p := range ports {
		r.Switch.Ports = append(r.Switch.Ports, model.SwitchPort{Name: p})
	}
	if err := s.ReportSwitch(ctx, r); err != nil {
		b.Fatal(err)
	}
	gws := make([]model.Gateway, n)
	nets := make([]model.Network, n)
	for i := range n {
		gws[i] = mustGatewayB(b, s, dev("sw1", iface(ports[i])))
		ns, err := s.CreateNetworks(ctx, []model.Network{{Name: fmt.Sprint(i)}})
		if err != nil {
			b.Fatal(err)
		}
		nets[i] = ns[0]
	}
	var next atomic.Int64
	b.SetParallelism(16) // with 2 CPUs: 32 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % n // each client its own gateway and network
		for pb.Next() {
			c, err := s.CreateConnection(ctx, model.Connection{GatewayID: gws[i].ID, NetworkID: nets[i].ID, SegmentationID: intp(100)})
			if err != nil {
				b.Errorf("CreateConnection = %v", err)
				return
			}
			if err := s.DeleteConnection(ctx, c.ID); err != nil {
				b.Errorf("DeleteConnection = %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

func mustGatewayB(b *testing.B, s store.Store, devs ...model.Device) model.Gateway {
	g, err := s.CreateGateway(context.Background(), model.Gateway{Devices: devs})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkConnectionCreateDelete4 is the API benchmark's connection
// scenario: one shared gateway with four interfaces, each client its own
// network and its own range of VLANs (no two connections collide).
func BenchmarkConnectionCreateDelete4(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	r := model.SwitchReport{Switch: model.Switch{Name: "sw1"}}
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		r.Switch.Ports = append(r.Switch.Ports, model.SwitchPort{Name: p})
	}
	if err := s.ReportSwitch(ctx, r); err != nil {
		b.Fatal(err)
	}
	gw := mustGatewayB(b, s, dev("sw1", iface("p1"), iface("p2"), iface("p3"), iface("p4")))
	const clients = 32
	nets := make([]model.Network, clients)
	for i := range nets {
		ns, err := s.CreateNetworks(ctx, []model.Network{{Name: fmt.Sprint(i)}})
		if err != nil {
			b.Fatal(err)
		}
		nets[i] = ns[0]
	}
	var next atomic.Int64
	b.SetParallelism(clients / 2) // with 2 CPUs: 32 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % clients
		const span = 4094 / clients
		for n := 0; pb.Next(); n++ {
			vlan := 1 + i*span + n%span
			c, err := s.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[i].ID, SegmentationID: intp(vlan)})
			if err != nil {
				b.Errorf("CreateConnection = %v", err)
				return
			}
			if err := s.DeleteConnection(ctx, c.ID); err != nil {
				b.Errorf("DeleteConnection = %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

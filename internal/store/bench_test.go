package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkPortCreateUnderStatus times a port create (then its delete)
// while 1,000 host agents report their status once a second each, as
// under churn in bench/scale: it reports the create's p50 and p99, which
// the group commit decides (how writers hand over, what each batch
// carries).
func BenchmarkPortCreateUnderStatus(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	nws, err := s.CreateNetworks(ctx, []model.Network{{Name: "n", NetworkType: "vxlan", VNI: 100}})
	if err != nil {
		b.Fatal(err)
	}
	nw := nws[0]
	const agents = 1000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			// Spread over the second, as agents whose plans change at
			// different moments.
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			first := time.NewTimer(time.Duration(a) * time.Second / agents)
			defer first.Stop()
			select {
			case <-stop:
				return
			case <-first.C:
			}
			for rev := int64(1); ; rev++ {
				if err := s.SetHostStatus(ctx, model.HostStatus{Name: fmt.Sprint("h", a), Connected: true, Revision: rev}); err != nil {
					b.Error(err)
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
	}
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		ps, err := s.CreatePorts(ctx, []model.Port{{NetworkID: nw.ID, MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:%02x", i>>8&0xff, i&0xff), HostID: "h0"}})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.DeletePort(ctx, ps[0].ID); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

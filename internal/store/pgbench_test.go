package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// BenchmarkConnectionPairs is the API benchmark's connection scenario at
// C=32 without HTTP (one shared gateway with four interfaces, each client
// its own network and its own range of VLANs: no two connections collide),
// on SQLite and on PostgreSQL side by side: issue 12's "PostgreSQL within
// 2× of SQLite" for the store alone. Run with -cpu 2 (32 clients).
func BenchmarkConnectionPairs(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchConnectionPairs(b, "sqlite://"+filepath.Join(b.TempDir(), "l2gw.db"))
	})
	b.Run("postgres", func(b *testing.B) {
		benchConnectionPairs(b, testenv.PostgresDatabase(b, testenv.StartPostgres(b)))
	})
}

func benchConnectionPairs(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	r := model.SwitchReport{Switch: model.Switch{Name: "sw1"}}
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		r.Switch.Ports = append(r.Switch.Ports, model.SwitchPort{Name: p})
	}
	if err := s.ReportSwitch(ctx, r); err != nil {
		b.Fatal(err)
	}
	devs := []model.Device{{Name: "sw1", Interfaces: []model.Interface{{Name: "p1"}, {Name: "p2"}, {Name: "p3"}, {Name: "p4"}}}}
	gw, err := s.CreateGateway(ctx, model.Gateway{Devices: devs})
	if err != nil {
		b.Fatal(err)
	}
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
			c, err := s.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[i].ID, SegmentationID: &vlan})
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

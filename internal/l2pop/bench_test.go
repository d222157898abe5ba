package l2pop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// BenchmarkMACToCast measures, per iteration, the time from a switch
// report committing a new bare-metal MAC to the real SQLite store until a
// real oslo.messaging agent (neutron's L2populationRpcCallBackMixin) has
// received the add_fdb_entries cast for it: store commit -> Notify ->
// Runner pass (snapshot, Compute, diff) -> RabbitMQ (confirmed) ->
// agent. It reports p50 and p99 in ms, and the p50 of the commit alone. The agent's record is polled every
// 0.2 ms, which bounds the resolution.
func BenchmarkMACToCast(b *testing.B) {
	rmq := testenv.StartRabbitMQ(b)
	rcv := startReceiversTB(b, rmq.URL, "compute1")
	ctx := b.Context()
	st, netID, gwID := benchStore(b)
	vlan := 100
	if _, err := st.CreateConnection(ctx, model.Connection{GatewayID: gwID, NetworkID: netID, SegmentationID: &vlan}); err != nil {
		b.Fatal(err)
	}
	r, err := New(st, Config{TransportURL: rmq.URL, Reassert: -1})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(rctx) })
	defer func() { cancel(); wg.Wait() }()
	// The connection's first cast (flooding entry) arrives first.
	waitLine(b, rcv.out, FloodingMAC, 0)

	var macs []model.LocalMAC
	var lat, commit []time.Duration
	i := 0
	for b.Loop() {
		i++
		mac := fmt.Sprintf("aa:bb:cc:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)
		macs = append(macs, model.LocalMAC{Switch: sw1, NetworkID: netID, MAC: mac, IPAddress: "10.1.0.1", LocatorIP: swIP})
		size := fileSize(rcv.out)
		t0 := time.Now()
		if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: benchSwitch(), LocalMACs: macs}); err != nil {
			b.Fatal(err)
		}
		commit = append(commit, time.Since(t0))
		waitLine(b, rcv.out, mac, size)
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	slices.Sort(commit)
	// Of which the store's durable commit (SQLite, synchronous=FULL).
	b.ReportMetric(ms(commit[len(commit)/2]), "commit-p50-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkConnectToCast measures, per iteration, the time from a
// connection committed to the real SQLite store until a real agent has
// received its add_fdb_entries (the flooding entry); the connection is
// then deleted and its remove_fdb_entries awaited, untimed. p50 and p99 in
// ms.
func BenchmarkConnectToCast(b *testing.B) {
	rmq := testenv.StartRabbitMQ(b)
	rcv := startReceiversTB(b, rmq.URL, "compute1")
	ctx := b.Context()
	st, netID, gwID := benchStore(b)
	r, err := New(st, Config{TransportURL: rmq.URL, Reassert: -1})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(rctx) })
	defer func() { cancel(); wg.Wait() }()
	testenv.Eventually(b, 30*time.Second, "connected to the broker", func() (bool, string) {
		return r.SystemStatus().Broker.Connected, "not yet"
	})
	vlan := 100
	var lat []time.Duration
	for b.Loop() {
		size := fileSize(rcv.out)
		t0 := time.Now()
		c, err := st.CreateConnection(ctx, model.Connection{GatewayID: gwID, NetworkID: netID, SegmentationID: &vlan})
		if err != nil {
			b.Fatal(err)
		}
		waitLine(b, rcv.out, `"add"`, size)
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		size = fileSize(rcv.out)
		if err := st.DeleteConnection(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		waitLine(b, rcv.out, `"remove"`, size)
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPublish measures the cast throughput to a real RabbitMQ with
// publisher confirms: each op publishes 100 add_fdb_entries casts of one
// network with 50 entries and waits for the broker's confirms, with one
// real agent consuming the fanout.
func BenchmarkPublish(b *testing.B) {
	rmq := testenv.StartRabbitMQ(b)
	startReceiversTB(b, rmq.URL, "compute1")
	u, err := ParseTransportURL(rmq.URL)
	if err != nil {
		b.Fatal(err)
	}
	p, _, err := dial(b.Context(), u, nil, DefaultExchange, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	es := []Entry{{FloodingMAC, FloodingIP}}
	for i := range 49 {
		es = append(es, Entry{fmt.Sprintf("aa:bb:cc:00:00:%02x", i), fmt.Sprintf("10.0.0.%d", i+1)})
	}
	body, err := castBody(MethodAdd, FDB{net1: {VNI: 1000, Ports: map[string][]Entry{swIP: es}}}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	casts := make([]cast, 100)
	for i := range casts {
		casts[i] = cast{Body: body}
	}
	b.SetBytes(int64(len(body) * len(casts)))
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := p.publish(b.Context(), casts); err != nil {
			b.Fatal(err)
		}
		n += len(casts)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "casts/s")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitLine polls path, from byte from on, for a line containing s.
func waitLine(b *testing.B, path, s string, from int64) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	t := time.NewTicker(200 * time.Microsecond)
	defer t.Stop()
	for range t.C {
		if fileSize(path) > from {
			data, err := os.ReadFile(path)
			if err == nil && strings.Contains(string(data[from:]), s) {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("no cast with %s received within 30s", s)
		}
	}
}

// benchStore opens a real SQLite store (closed at cleanup) holding switch
// sw1 (reported, tunnel IP swIP, port1), network net1 (VNI 1000) and
// gateway gw1 on sw1/port1, and returns the network's and gateway's ids.
func benchStore(b *testing.B) (st store.Store, netID, gwID string) {
	ctx := b.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: benchSwitch()}); err != nil {
		b.Fatal(err)
	}
	nets, err := st.CreateNetworks(ctx, []model.Network{{Name: "net1", NetworkType: "vxlan", VNI: 1000, AdminStateUp: true}})
	if err != nil {
		b.Fatal(err)
	}
	gw, err := st.CreateGateway(ctx, model.Gateway{Name: "gw1", Devices: []model.Device{{Name: sw1, Interfaces: []model.Interface{{Name: "port1"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	return st, nets[0].ID, gw.ID
}

// benchSwitch is switch sw1 as its agent reports it.
func benchSwitch() model.Switch {
	return model.Switch{Name: sw1, TunnelIPs: []string{swIP}, Ports: []model.SwitchPort{{Name: "port1"}}, Connected: true}
}

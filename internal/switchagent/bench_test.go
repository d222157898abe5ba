package switchagent

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// notifier is a Reporter that forwards statuses on a channel.
type notifier struct{ st chan model.SwitchStatus }

func (n *notifier) ReportSwitch(context.Context, model.SwitchReport) error { return nil }
func (n *notifier) SetSwitchStatus(_ context.Context, s model.SwitchStatus) error {
	n.st <- s
	return nil
}

func (n *notifier) wait(b *testing.B, ok func(model.SwitchStatus) bool) {
	b.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case s := <-n.st:
			if ok(s) {
				return
			}
		case <-deadline:
			b.Fatal("timed out waiting for the agent")
		}
	}
}

// bigPlan has n remote MACs behind hosts locators in one logical switch,
// bound on two ports, flooding to every host.
func bigPlan(n, hosts int) planner.SwitchPlan {
	b := newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 100, "net1")
	var ips []string
	for h := 0; h < hosts; h++ {
		ips = append(ips, hostIP(h))
	}
	for i := 0; i < n; i++ {
		b.mac("net1", macN(i), fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff), ips[i%hosts])
	}
	return b.flood("net1", ips...).build()
}

func hostIP(h int) string { return fmt.Sprintf("10.200.%d.%d", h>>8, h&0xff) }
func macN(i int) string   { return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16, (i>>8)&0xff, i&0xff) }

// rawIngest inserts one logical switch, hosts locators and n
// Ucast_Macs_Remote rows in one transaction over one libovsdb connection,
// and returns the transaction's duration; the rows are deleted after.
func rawIngest(b *testing.B, c client.Client, n, hosts int) time.Duration {
	ops := []ovsdb.Operation{{Op: ovsdb.OperationInsert, Table: vtep.LogicalSwitchTable, UUIDName: "ls",
		Row: ovsdb.Row{"name": "raw", "tunnel_key": ovsdb.OvsSet{GoSet: []any{4000}}}}}
	for h := 0; h < hosts; h++ {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorTable, UUIDName: fmt.Sprintf("l%d", h),
			Row: ovsdb.Row{"encapsulation_type": planner.EncapVXLAN, "dst_ip": hostIP(h)}})
	}
	for i := 0; i < n; i++ {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.UcastMacsRemoteTable,
			Row: ovsdb.Row{"MAC": macN(i), "logical_switch": ovsdb.UUID{GoUUID: "ls"}, "locator": ovsdb.UUID{GoUUID: fmt.Sprintf("l%d", i%hosts)},
				"ipaddr": fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff)}})
	}
	start := time.Now()
	res, err := c.Transact(context.Background(), ops...)
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		b.Fatal(err)
	}
	del := []ovsdb.Operation{
		{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable, Where: []ovsdb.Condition{{Column: "MAC", Function: ovsdb.ConditionNotEqual, Value: ""}}},
		{Op: ovsdb.OperationDelete, Table: vtep.LogicalSwitchTable, Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: "raw"}}},
	}
	res, err = c.Transact(context.Background(), del...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ovsdb.CheckOperationResults(res, del); err != nil {
		b.Fatal(err)
	}
	return d
}

func rawClient(b *testing.B, o *testenv.OVSDB) client.Client {
	m, err := vtep.FullDatabaseModel()
	if err != nil {
		b.Fatal(err)
	}
	l := logr.Discard()
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(o.UnixTarget()), client.WithLogger(&l))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkConverge10k applies a 10,000-port plan (100 host VTEPs) to an
// empty switch and compares it with ovsdb-server's raw ingest of the same
// rows in one transaction. Metrics: commit-s (plan set -> the agent's
// transaction committed: the switch is programmed), agent-s (plan set ->
// status "applied": committed and seen in the agent's own cache), raw-s, and
// the ratios to raw-s.
func BenchmarkConverge10k(b *testing.B) {
	const n, hosts = 10000, 100
	o := newSwitch(b, false, "port1", "port2")
	raw := rawClient(b, o)
	plans, nt := newFakePlans(), &notifier{st: make(chan model.SwitchStatus, 1024)}
	plans.Set(1, newPlan().build())
	startAgent(b, Config{Target: o.UnixTarget(), Switch: "gatewayhost", AuditInterval: -1}, plans, nt)
	nt.wait(b, func(s model.SwitchStatus) bool { return s.Revision == 1 })
	big := bigPlan(n, hosts)
	rev := int64(1)
	var agentTotal, commitTotal, rawTotal time.Duration
	runs := 0
	for b.Loop() {
		rawTotal += rawIngest(b, raw, n, hosts)

		rev++
		start := time.Now()
		plans.Set(rev, big)
		want := rev
		var committed time.Time
		nt.wait(b, func(s model.SwitchStatus) bool { committed = s.LastSync; return s.Revision == want && s.Error == "" })
		agentTotal += time.Since(start)
		commitTotal += committed.Sub(start)
		runs++

		rev++
		plans.Set(rev, newPlan().build())
		want = rev
		nt.wait(b, func(s model.SwitchStatus) bool { return s.Revision == want && s.Error == "" })
	}
	b.ReportMetric(agentTotal.Seconds()/float64(runs), "agent-s")
	b.ReportMetric(rawTotal.Seconds()/float64(runs), "raw-s")
	b.ReportMetric(commitTotal.Seconds()/float64(runs), "commit-s")
	b.ReportMetric(commitTotal.Seconds()/rawTotal.Seconds(), "commit/raw")
	b.ReportMetric(agentTotal.Seconds()/rawTotal.Seconds(), "agent/raw")
}

// BenchmarkResync10k programs 10,000 MACs, restarts ovsdb-server with an
// empty database, re-creates the switch (as the switch itself would) and
// measures until the agent reports the plan applied again (resync-s, from
// before the vtep-ctl that re-creates the switch) and until its transaction
// committed (commit-s).
func BenchmarkResync10k(b *testing.B) {
	const n, hosts = 10000, 100
	o := testenv.StartOVSDB(b, false)
	createSwitch(b, o, "port1", "port2")
	plans, nt := newFakePlans(), &notifier{st: make(chan model.SwitchStatus, 1024)}
	plans.Set(1, bigPlan(n, hosts))
	startAgent(b, Config{Target: o.UnixTarget(), Switch: "gatewayhost", AuditInterval: -1, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}, plans, nt)
	nt.wait(b, func(s model.SwitchStatus) bool { return s.Revision == 1 && s.Error == "" && s.Connected })
	var total, commitTotal time.Duration
	runs := 0
	for b.Loop() {
		o.Restart(b, true)
		nt.wait(b, func(s model.SwitchStatus) bool { return s.Connected && s.Error != "" })
		start := time.Now()
		createSwitch(b, o, "port1", "port2")
		var committed time.Time
		nt.wait(b, func(s model.SwitchStatus) bool { committed = s.LastSync; return s.Connected && s.Error == "" })
		total += time.Since(start)
		commitTotal += committed.Sub(start)
		runs++
		if got := len(filter(state(b, o), "Ucast_Macs_Remote ")); got != n {
			b.Fatalf("%d remote MACs after resync; want %d", got, n)
		}
	}
	b.ReportMetric(total.Seconds()/float64(runs), "resync-s")
	b.ReportMetric(commitTotal.Seconds()/float64(runs), "commit-s")
}

// BenchmarkDiffAndEncode10k measures the agent's own CPU per convergence
// of a 10,000-MAC network on an empty switch: the full diff, and the JSON
// encoding of its transaction as libovsdb would send it (each Operation
// through its MarshalJSON, by reflection) and as the agent sends it.
func BenchmarkDiffAndEncode10k(b *testing.B) {
	plan := bigPlan(10000, 100)
	a := baseActual()
	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			if ch := diffPlan(&plan, a, "S", "l2gw"); len(ch.ops) < 10000 {
				b.Fatalf("%d operations", len(ch.ops))
			}
		}
	})
	ops := diffPlan(&plan, a, "S", "l2gw").ops
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(ops); err != nil {
				b.Fatal(err)
			}
		}
	})
	// append: the agent's own encoder (opjson.go), what it sends since
	// the raw transaction connection (txnconn.go).
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendOps(buf[:0], ops); err != nil {
				b.Fatal(err)
			}
		}
	})
}

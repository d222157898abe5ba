package switchagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// ingestOps is a connection's worth of rows on gatewayhost: a logical
// switch, locators, n remote MACs, a flood row and VLAN bindings on both
// ports, tied together by named UUIDs.
func ingestOps(n, hosts int) []ovsdb.Operation {
	ops := []ovsdb.Operation{{Op: ovsdb.OperationInsert, Table: vtep.LogicalSwitchTable, UUIDName: "ls",
		Row: ovsdb.Row{"name": "net1", "tunnel_key": ovsdb.OvsSet{GoSet: []any{4000}},
			"other_config": ovsdb.OvsMap{GoMap: map[any]any{OwnerKey: DefaultOwner}}}}}
	var locs []any
	for h := range hosts {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorTable, UUIDName: fmt.Sprintf("l%d", h),
			Row: ovsdb.Row{"encapsulation_type": planner.EncapVXLAN, "dst_ip": hostIP(h)}})
		locs = append(locs, ovsdb.UUID{GoUUID: fmt.Sprintf("l%d", h)})
	}
	for i := range n {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.UcastMacsRemoteTable,
			Row: ovsdb.Row{"MAC": macN(i), "logical_switch": ovsdb.UUID{GoUUID: "ls"}, "locator": ovsdb.UUID{GoUUID: fmt.Sprintf("l%d", i%hosts)},
				"ipaddr": fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff)}})
	}
	ops = append(ops,
		ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.PhysicalLocatorSetTable, UUIDName: "set",
			Row: ovsdb.Row{"locators": ovsdb.OvsSet{GoSet: locs}}},
		ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vtep.McastMacsRemoteTable,
			Row: ovsdb.Row{"MAC": "unknown-dst", "logical_switch": ovsdb.UUID{GoUUID: "ls"}, "locator_set": ovsdb.UUID{GoUUID: "set"}}})
	for _, p := range []string{"port1", "port2"} {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: vtep.PhysicalPortTable,
			Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: p}},
			Mutations: []ovsdb.Mutation{{Column: vtep.PhysicalPortVLANBindingsColumn, Mutator: ovsdb.MutateOperationInsert,
				Value: ovsdb.OvsMap{GoMap: map[any]any{100: ovsdb.UUID{GoUUID: "ls"}}}}}})
	}
	return ops
}

func libovsdbClient(t testing.TB, o *testenv.OVSDB) client.Client {
	t.Helper()
	m, err := vtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	l := logr.Discard()
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(o.UnixTarget()), client.WithLogger(&l))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func dialTestTxn(t testing.TB, target string) *txnConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialTxn(ctx, target, "hardware_vtep", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// resultShape is what the agent reads of a transaction's results: which
// operations failed and how, and which inserted a row.
func resultShape(res []ovsdb.OperationResult) []string {
	var out []string
	for _, r := range res {
		out = append(out, fmt.Sprintf("count=%d error=%q inserted=%v rows=%d", r.Count, r.Error, r.UUID.GoUUID != "", len(r.Rows)))
	}
	return out
}

// TestTxnConnSameAsLibovsdb runs the same transactions through the raw
// transaction connection and through libovsdb's Transact against two real
// ovsdb-servers holding the same switch: the databases end equal and the
// results agree (inserts, a select, a failing fence, a failing insert).
func TestTxnConnSameAsLibovsdb(t *testing.T) {
	ours, theirs := newSwitch(t, false, "port1", "port2"), newSwitch(t, false, "port1", "port2")
	raw := dialTestTxn(t, ours.UnixTarget())
	lib := libovsdbClient(t, theirs)
	ctx := context.Background()
	swUUID := func(c client.Client) string {
		res, err := c.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: vtep.PhysicalSwitchTable, Columns: []string{"_uuid"}})
		if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
			t.Fatalf("select switch: %v %+v", err, res)
		}
		return res[0].Rows[0]["_uuid"].(ovsdb.UUID).GoUUID
	}
	steps := []struct {
		name string
		ops  func(sw string) []ovsdb.Operation
	}{
		{"insert 500 ports", func(string) []ovsdb.Operation { return ingestOps(500, 9) }},
		{"select", func(string) []ovsdb.Operation {
			return []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: vtep.UcastMacsRemoteTable,
				Where: []ovsdb.Condition{{Column: "MAC", Function: ovsdb.ConditionEqual, Value: macN(7)}}, Columns: []string{"MAC", "ipaddr"}}}
		}},
		{"fenced", func(sw string) []ovsdb.Operation {
			return []ovsdb.Operation{fenceOp(sw, "gatewayhost", 3),
				{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable, Where: []ovsdb.Condition{{Column: "MAC", Function: ovsdb.ConditionNotEqual, Value: ""}}}}
		}},
		{"duplicate logical switch", func(string) []ovsdb.Operation { return ingestOps(1, 1)[:1] }},
		{"delete half", func(string) []ovsdb.Operation {
			var ops []ovsdb.Operation
			for i := 0; i < 500; i += 2 {
				ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationDelete, Table: vtep.UcastMacsRemoteTable,
					Where: []ovsdb.Condition{{Column: "MAC", Function: ovsdb.ConditionEqual, Value: macN(i)}}})
			}
			return ops
		}},
	}
	swOurs, swTheirs := swUUID(lib), ""
	{
		res, err := raw.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: vtep.PhysicalSwitchTable, Columns: []string{"_uuid"}})
		if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
			t.Fatalf("select switch: %v %+v", err, res)
		}
		swTheirs, swOurs = swOurs, res[0].Rows[0]["_uuid"].(ovsdb.UUID).GoUUID
	}
	for _, s := range steps {
		got, err := raw.Transact(ctx, s.ops(swOurs)...)
		if err != nil {
			t.Fatalf("%s: txnConn.Transact: %v", s.name, err)
		}
		want, err := lib.Transact(ctx, s.ops(swTheirs)...)
		if err != nil {
			t.Fatalf("%s: libovsdb Transact: %v", s.name, err)
		}
		if d := cmp.Diff(resultShape(want), resultShape(got)); d != "" {
			t.Errorf("%s: results (-libovsdb +txnConn):\n%s", s.name, d)
		}
		if s.name == "select" && (len(got) != 1 || !cmp.Equal(got[0].Rows, want[0].Rows)) {
			t.Errorf("select: rows %v; want %v", got[0].Rows, want[0].Rows)
		}
		if d := cmp.Diff(state(t, theirs), state(t, ours)); d != "" {
			t.Fatalf("%s: database (-libovsdb +txnConn):\n%s", s.name, d)
		}
	}
	if err := raw.Echo(ctx); err != nil {
		t.Fatalf("Echo: %v", err)
	}
}

// TestTxnConnLifecycle: a dead server ends the connection (Done, errors
// from calls), a closed one refuses calls, and ctx bounds a call.
func TestTxnConnLifecycle(t *testing.T) {
	o := newSwitch(t, false, "port1")
	c := dialTestTxn(t, o.UnixTarget())
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Transact(cctx, ingestOps(10, 1)...); !errors.Is(err, context.Canceled) {
		t.Fatalf("Transact(canceled ctx) = %v; want context.Canceled", err)
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatalf("Echo after a canceled call: %v", err)
	}
	o.Stop()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the server stopped")
	}
	if err := c.Echo(ctx); !errors.Is(err, errTxnClosed) {
		t.Fatalf("Echo on a dead connection = %v; want errTxnClosed", err)
	}

	o2 := newSwitch(t, false, "port1")
	c2 := dialTestTxn(t, o2.UnixTarget())
	c2.Close()
	if _, err := c2.Transact(ctx, ingestOps(1, 1)...); !errors.Is(err, errTxnClosed) {
		t.Fatalf("Transact after Close = %v; want errTxnClosed", err)
	}
	if _, err := dialTxn(ctx, "unix:"+t.TempDir()+"/none.sock", "hardware_vtep", nil, nil); err == nil {
		t.Fatal("dialTxn to a missing socket succeeded")
	}
	if _, err := dialTxn(ctx, "udp:1.2.3.4:5", "hardware_vtep", nil, nil); err == nil {
		t.Fatal("dialTxn to udp: succeeded")
	}
}

// TestTxnConnAnswersEcho: the server's inactivity probe (an "echo"
// request, RFC 7047 §4.1.11) is answered with its params, and requests
// it does not expect are ignored. The peer is the test over a pipe:
// ovsdb-server probes tcp/ssl clients only after 5 s of silence.
func TestTxnConnAnswersEcho(t *testing.T) {
	ours, peer := net.Pipe()
	c := &txnConn{db: "hardware_vtep", conn: ours, pending: map[uint64]pendingCall{}, done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { peer.Close(); c.Close() })
	dec := json.NewDecoder(peer)
	for _, req := range []string{
		`{"id":null,"method":"update","params":[null,{}]}`,
		`{"id":"echo","method":"echo","params":[1,"x"]}`,
	} {
		if _, err := peer.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "echo", "result": []any{1.0, "x"}, "error": nil}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("echo reply (-want +got):\n%s", d)
	}
}

// TestTxnConnBigMessages: a transaction far larger than spillAt goes out
// in pieces and commits whole; its results (~0.4 MB) keep the reader's
// decoder, a select of every column of every row (~2 MB, over bigMessage)
// replaces it, and the connection goes on working after them.
func TestTxnConnBigMessages(t *testing.T) {
	o := newSwitch(t, false, "port1", "port2")
	c := dialTestTxn(t, o.UnixTarget())
	ctx := context.Background()
	const n = 8000 // ~1.6 MB of request, ~0.4 MB of results
	ops := ingestOps(n, 50)
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		t.Fatalf("Transact(%d operations): %v", len(ops), err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Transact(%d operations) = %d results", len(ops), len(res))
	}
	for i, r := range res {
		if r.Error != "" || ops[i].Op == ovsdb.OperationInsert && r.UUID.GoUUID == "" {
			t.Fatalf("result %d (%s %s) = %+v", i, ops[i].Op, ops[i].Table, r)
		}
	}
	for range 2 {
		res, err = c.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: vtep.UcastMacsRemoteTable})
		if err != nil {
			t.Fatalf("select every remote mac: %v", err)
		}
		if len(res) != 1 || len(res[0].Rows) != n {
			t.Fatalf("select every remote mac: %d results, %d rows; want 1, %d", len(res), len(res[0].Rows), n)
		}
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatalf("Echo after the big messages: %v", err)
	}
}

// TestTxnConnReadsAheadOfBigMessage: what the reader read ahead of a
// message larger than bigMessage (the next messages, in the same write)
// is not lost when its decoder is replaced.
func TestTxnConnReadsAheadOfBigMessage(t *testing.T) {
	ours, peer := net.Pipe()
	got := make(chan string, 4)
	c := &txnConn{db: "hardware_vtep", conn: ours, pending: map[uint64]pendingCall{}, done: make(chan struct{}),
		notify: func(method string, params json.RawMessage) { got <- fmt.Sprintf("%s %d", method, len(params)) }}
	go c.read()
	t.Cleanup(func() { peer.Close(); c.Close() })
	big := `{"id":null,"method":"big","params":["` + strings.Repeat("x", 2*bigMessage) + `"]}`
	small := `{"id":null,"method":"small","params":[]}`
	go func() { _, _ = peer.Write([]byte(big + small + big + small)) }()
	var seen []string
	for range 4 {
		select {
		case s := <-got:
			seen = append(seen, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("notifications after %v: none", seen)
		}
	}
	bigLen := fmt.Sprintf("big %d", 2*bigMessage+4)
	if d := cmp.Diff([]string{bigLen, "small 2", bigLen, "small 2"}, seen); d != "" {
		t.Fatalf("notifications (-want +got):\n%s", d)
	}
}

// TestDecodeInsertResults: the fast path decodes what the json path
// decodes, and leaves to it (ok false) every result it does not know.
func TestDecodeInsertResults(t *testing.T) {
	const u1, u2 = "0b0c8c9e-5d4a-4c1b-9b53-5f6f3f1b2a01", "a1b2c3d4-0000-4000-8000-00000000beef"
	for _, tc := range []struct {
		raw  string
		fast bool
	}{
		{`[{"uuid":["uuid","` + u1 + `"]},{"uuid":["uuid","` + u2 + `"]}]`, true},
		{`[{},{"count":3},{"uuid":["uuid","` + u1 + `"]},{"count":0}]`, true},
		{`[]`, true},
		{`[{"uuid":["uuid","` + u1 + `"]},{"error":"constraint violation","details":"x"}]`, false},
		{`[{"rows":[{"MAC":"aa:00:00:00:00:01"}]}]`, false},
		{`[{"uuid": ["uuid", "` + u1 + `"]}]`, false},
		{`[{"uuid":["uuid","not-a-uuid-not-a-uuid-not-a-uuid-xx"]}]`, false},
		{`[null,{"count":1}]`, false},
		{`[{"count":12345678901}]`, false},
		{`[{"count":1},]`, false},
		{`[{"uuid":["uuid","` + u1 + `"]}{"count":1}]`, false},
	} {
		got, ok := decodeInsertResults([]byte(tc.raw))
		if ok != tc.fast {
			t.Errorf("decodeInsertResults(%s) ok = %v; want %v", tc.raw, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		want, err := decodeResultsJSON([]byte(tc.raw))
		if err != nil {
			t.Fatalf("decodeResultsJSON(%s): %v", tc.raw, err)
		}
		if len(want) == 0 {
			want = []ovsdb.OperationResult{}
		}
		if d := cmp.Diff(want, got.All()); d != "" {
			t.Errorf("decodeInsertResults(%s) (-json +fast):\n%s", tc.raw, d)
		}
		if got.Len() != len(want) {
			t.Errorf("decodeInsertResults(%s).Len() = %d; want %d", tc.raw, got.Len(), len(want))
		}
		if len(want) > 0 {
			if g, w := got.From(1).All(), want[1:]; !cmp.Equal(w, g) {
				t.Errorf("decodeInsertResults(%s).From(1) = %v; want %v", tc.raw, g, w)
			}
		}
	}
}

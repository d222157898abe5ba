package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/bench/internal/figures"
	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/testenv"
)

var switchPorts = []string{"port1", "port2"}

// Fixed parts of the workload.
const (
	switchName = "gatewayhost"
	switchIP   = "192.0.2.1"
	benchVNI   = 5000
	benchVLAN  = 100
	waitLimit  = 2 * time.Minute // one wait for the switch; far above any target
)

func hostName(h int) string { return fmt.Sprintf("host-%05d", h) }
func hostIP(h int) string   { return fmt.Sprintf("10.200.%d.%d", h>>8, h&0xff) }
func macN(i int) string     { return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16, (i>>8)&0xff, i&0xff) }
func ipN(i int) string      { return fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff) }

// bench holds the setup shared by the measurements: the API client, the
// switch's ovsdb-server and a monitor on it, and the created resources.
type bench struct {
	o       options
	srv     *l2gwServer
	sw      *vtepwatch.Server
	tmp     string
	api     *client.Client
	view    *vtepwatch.View
	mon     *vtepwatch.Conn
	network string
	gateway string
	conn    string // current connection id
	nextMAC int    // next unused MAC index (churn ports)
	rawOps  []byte
}

// newBench waits for the agent to report the switch, creates hosts, the
// network (bulk-creating its ports) and the gateway, and starts the monitor.
func newBench(ctx context.Context, o options, tmp string, srv *l2gwServer, sw *vtepwatch.Server, hc *http.Client) (*bench, error) {
	api, err := client.New(srv.url, client.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, srv: srv, sw: sw, tmp: tmp, api: api, nextMAC: o.ports}
	if err := b.waitSwitch(ctx, func(s neutron.Switch) bool { return s.Connected && len(s.Ports) == len(switchPorts) }); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for h := range o.hosts {
		if _, err := api.CreateHost(ctx, neutron.HostCreate{Name: hostName(h), VTEPIP: hostIP(h)}); err != nil {
			return nil, fmt.Errorf("create host: %w", err)
		}
	}
	nw, err := api.CreateNetwork(ctx, neutron.NetworkCreate{Name: "bench", NetworkType: "vxlan", SegmentationID: benchVNI})
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	b.network = nw.ID
	tPorts := time.Now()
	for i := 0; i < o.ports; i += o.batch {
		var ps []neutron.PortCreate
		for j := i; j < min(i+o.batch, o.ports); j++ {
			ps = append(ps, b.port(j))
		}
		if _, err := api.CreatePorts(ctx, ps); err != nil {
			return nil, fmt.Errorf("bulk create ports: %w", err)
		}
	}
	dPorts := time.Since(tPorts)
	var itfs []neutron.InterfaceRequest
	for _, p := range switchPorts {
		itfs = append(itfs, neutron.InterfaceRequest{Name: p})
	}
	gw, err := api.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw", Devices: []neutron.DeviceRequest{{DeviceName: switchName, Interfaces: itfs}}})
	if err != nil {
		return nil, fmt.Errorf("create gateway: %w", err)
	}
	b.gateway = gw.ID
	logln("setup: %d hosts, %d ports (%d per request: %.0f ports/s) in %.1f s", o.hosts, o.ports, o.batch,
		float64(o.ports)/dPorts.Seconds(), time.Since(t0).Seconds())
	if b.view, b.mon, err = vtepwatch.Watch(ctx, sw.Target()); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	b.rawOps = rawOps(o.ports, o.hosts)
	return b, nil
}

func (b *bench) close() {
	if b.mon != nil {
		b.mon.Close()
	}
}

// port is the i-th port: MAC i on host i%hosts.
func (b *bench) port(i int) neutron.PortCreate {
	return neutron.PortCreate{NetworkID: b.network, MACAddress: macN(i), HostID: hostName(i % b.o.hosts),
		FixedIPs: []neutron.FixedIP{{IPAddress: ipN(i)}}}
}

// waitSwitch polls the API's view of the switch until ok.
func (b *bench) waitSwitch(ctx context.Context, ok func(neutron.Switch) bool) error {
	err := testenv.Poll(ctx, waitLimit, func() error {
		sw, err := b.api.GetSwitch(ctx, switchName)
		if err != nil {
			return err
		}
		if !ok(sw) {
			return fmt.Errorf("%+v", sw)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("switch %s not as expected in the API: %w", switchName, err)
	}
	return nil
}

func (b *bench) wait(ctx context.Context, cond func(*vtepwatch.View) bool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	return b.view.Wait(ctx, cond)
}

// convergence measures, per run, the raw ingest on a fresh database and
// l2gw's connection create -> all rows; every run but the last deletes the
// connection again (timing that too).
func (b *bench) convergence(ctx context.Context, r *report) error {
	for i := range b.o.runs {
		raw, err := b.rawIngest(ctx, fmt.Sprintf("raw%d", i), false)
		if err != nil {
			return fmt.Errorf("raw ingest: %w", err)
		}
		r.rawTxn = append(r.rawTxn, raw.txn)
		r.rawSeen = append(r.rawSeen, raw.seen)
		raw2, err := b.rawIngest(ctx, fmt.Sprintf("raw%d-mon", i), true)
		if err != nil {
			return fmt.Errorf("raw ingest with the agent's monitor: %w", err)
		}
		r.raw2Txn = append(r.raw2Txn, raw2.txn)
		r.raw2Seen = append(r.raw2Seen, raw2.seen)
		r.raw2CPU = append(r.raw2CPU, raw2.cpu)
		logln("raw ingest run %d with a second monitor of every column (as the agent's): txn %.0f ms, seen %.0f ms, ovsdb-server CPU %.0f ms",
			i+1, ms(raw2.txn), ms(raw2.seen), ms(raw2.cpu))

		swPID, err := b.sw.PID()
		if err != nil {
			return err
		}
		cpu := startCPU(swPID, b.srv.pid)
		t0 := time.Now()
		c, err := b.api.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: b.gateway, NetworkID: b.network,
			SegmentationID: strconv.Itoa(benchVLAN)})
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		tAPI := time.Since(t0)
		b.conn = c.ID
		at, err := b.wait(ctx, vtepwatch.Programmed(1, b.o.ports, len(switchPorts)))
		if err != nil {
			return err
		}
		conv := at.Sub(t0)
		used := cpu.stop()
		r.convOVSDBCPU = append(r.convOVSDBCPU, used[0])
		r.convL2GWCPU = append(r.convL2GWCPU, used[1])
		// What the agent still does once the switch has the rows (before
		// issue 12 item 7: decode its own 10,000 rows from its monitor)
		// is not on the way to the switch but is CPU the switch's host
		// pays: the server's CPU until settleTime after the rows are seen.
		if !reconcile.Sleep(ctx, time.Until(at.Add(settleTime))) {
			return ctx.Err()
		}
		r.convL2GWCPUSettled = append(r.convL2GWCPUSettled, cpu.stop()[1])
		r.rawCPU = append(r.rawCPU, raw.cpu)
		r.convAPI = append(r.convAPI, tAPI)
		r.conv = append(r.conv, conv)
		logln("convergence run %d: raw txn %.0f ms (seen %.0f ms, ovsdb-server CPU %.0f ms); l2gw %.0f ms (API answered %.1f ms) = %.2f× raw txn; CPU until seen: ovsdb-server %.0f ms, l2gw server %.0f ms",
			i+1, ms(raw.txn), ms(raw.seen), ms(raw.cpu), ms(conv), ms(tAPI), conv.Seconds()/raw.txn.Seconds(), ms(used[0]), ms(used[1]))
		if i == b.o.runs-1 {
			break
		}
		t0 = time.Now()
		if err := b.api.DeleteConnection(ctx, b.conn); err != nil {
			return fmt.Errorf("delete connection: %w", err)
		}
		at, err = b.wait(ctx, vtepwatch.Empty)
		if err != nil {
			return err
		}
		r.remove = append(r.remove, at.Sub(t0))
		logln("convergence run %d: connection delete -> switch clean %.0f ms", i+1, ms(at.Sub(t0)))
	}
	return nil
}

// settleTime is how long after the monitor has every row the l2gw
// server's CPU is still counted (convL2GWCPUSettled).
const settleTime = time.Second

// rawResult is a raw ingest: write -> reply, write -> the monitor has
// every row, and ovsdb-server's CPU time in between.
type rawResult struct{ txn, seen, cpu time.Duration }

// rawIngest starts a fresh ovsdb-server with the same switch, and sends the
// rows l2gw writes for the connection (logical switch, locators, every
// Ucast_Macs_Remote, the flooding row and its locator set, the two VLAN
// bindings) as one transaction over one connection. txn is write -> reply;
// seen is write -> a monitor connection has every row.
//
// With agentMon, a second connection monitors every column of the tables
// the switch agent monitors, as its libovsdb cache does: the same
// ingest plus the work ovsdb-server does for the agent's own monitor.
func (b *bench) rawIngest(ctx context.Context, name string, agentMon bool) (rawResult, error) {
	o, err := vtepwatch.Start(ctx, b.tmp, name)
	if err != nil {
		return rawResult{}, err
	}
	defer o.Stop()
	if err := o.AddSwitch(ctx, switchName, switchIP, switchPorts); err != nil {
		return rawResult{}, err
	}
	v, mon, err := vtepwatch.Watch(ctx, o.Target())
	if err != nil {
		return rawResult{}, err
	}
	defer mon.Close()
	if agentMon {
		am, err := vtepwatch.Dial(ctx, o.Target(), func(time.Time, json.RawMessage) {})
		if err != nil {
			return rawResult{}, err
		}
		defer am.Close()
		if _, _, _, err := am.Call(ctx, "monitor", []byte(`["hardware_vtep","agent",`+agentMonitor+`]`)); err != nil {
			return rawResult{}, err
		}
	}
	tx, err := vtepwatch.Dial(ctx, o.Target(), nil)
	if err != nil {
		return rawResult{}, err
	}
	defer tx.Close()
	pid, err := o.PID()
	if err != nil {
		return rawResult{}, err
	}
	cpu := startCPU(pid)
	sent, got, err := tx.Transact(ctx, b.rawOps)
	if err != nil {
		return rawResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	at, err := v.Wait(wctx, vtepwatch.Programmed(1, b.o.ports, len(switchPorts)))
	if err != nil {
		return rawResult{}, err
	}
	return rawResult{txn: got.Sub(sent), seen: at.Sub(sent), cpu: cpu.stop()[0]}, nil
}

// agentMonitor monitors every column (RFC 7047 §4.1.5: columns omitted) of
// the tables the switch agent's cache held before issue 12 item 7, inserts
// of Ucast_Macs_Remote included: the switch's work for an agent that is
// sent its own rows back (the agent now monitors that table without
// inserts, internal/switchagent/remotemacs.go). Kept as the comparison.
const agentMonitor = `{"Global":{},"Physical_Switch":{},"Physical_Port":{},"Logical_Switch":{},"Physical_Locator":{},` +
	`"Physical_Locator_Set":{},"Ucast_Macs_Remote":{},"Mcast_Macs_Remote":{},"Ucast_Macs_Local":{},"Mcast_Macs_Local":{},"Logical_Router":{}}`

// rawOps encodes the raw transaction as a JSON array of operations (RFC
// 7047 section 5.2), named UUIDs tying the rows together.
func rawOps(n, hosts int) []byte {
	var w bytes.Buffer
	w.WriteString(`[{"op":"insert","table":"Logical_Switch","uuid-name":"ls","row":{"name":"raw","tunnel_key":`)
	w.WriteString(strconv.Itoa(benchVNI))
	w.WriteString(`}}`)
	for h := range hosts {
		fmt.Fprintf(&w, `,{"op":"insert","table":"Physical_Locator","uuid-name":"l%d","row":{"encapsulation_type":"vxlan_over_ipv4","dst_ip":%q}}`, h, hostIP(h))
	}
	for i := range n {
		fmt.Fprintf(&w, `,{"op":"insert","table":"Ucast_Macs_Remote","row":{"MAC":%q,"logical_switch":["named-uuid","ls"],"locator":["named-uuid","l%d"],"ipaddr":%q}}`,
			macN(i), i%hosts, ipN(i))
	}
	w.WriteString(`,{"op":"insert","table":"Physical_Locator_Set","uuid-name":"ls_set","row":{"locators":["set",[`)
	for h := range hosts {
		if h > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(&w, `["named-uuid","l%d"]`, h)
	}
	w.WriteString(`]]}},{"op":"insert","table":"Mcast_Macs_Remote","row":{"MAC":"unknown-dst","logical_switch":["named-uuid","ls"],"locator_set":["named-uuid","ls_set"]}}`)
	for _, p := range switchPorts {
		fmt.Fprintf(&w, `,{"op":"mutate","table":"Physical_Port","where":[["name","==",%q]],"mutations":[["vlan_bindings","insert",["map",[[%d,["named-uuid","ls"]]]]]]}`, p, benchVLAN)
	}
	w.WriteByte(']')
	return w.Bytes()
}

// churn creates o.churn ports one by one on the connected network, each
// waited for on the switch before the next, then deletes them one by one.
func (b *bench) churn(ctx context.Context, r *report) error {
	for run := range b.o.runs {
		var create, del, apiCreate []time.Duration
		var ids []string
		var macs []string
		for range b.o.churn {
			i := b.nextMAC
			b.nextMAC++
			mac := macN(i)
			t0 := time.Now()
			p, err := b.api.CreatePort(ctx, b.port(i))
			if err != nil {
				return fmt.Errorf("create port: %w", err)
			}
			tAPI := time.Since(t0)
			at, err := b.wait(ctx, func(v *vtepwatch.View) bool { return v.HasMAC(mac) })
			if err != nil {
				return fmt.Errorf("port %s: %w", mac, err)
			}
			create = append(create, at.Sub(t0))
			apiCreate = append(apiCreate, tAPI)
			ids = append(ids, p.ID)
			macs = append(macs, mac)
		}
		for k, id := range ids {
			mac := macs[k]
			t0 := time.Now()
			if err := b.api.DeletePort(ctx, id); err != nil {
				return fmt.Errorf("delete port: %w", err)
			}
			at, err := b.wait(ctx, func(v *vtepwatch.View) bool { return !v.HasMAC(mac) })
			if err != nil {
				return fmt.Errorf("deleted port %s: %w", mac, err)
			}
			del = append(del, at.Sub(t0))
		}
		q := func(d []time.Duration, p float64) time.Duration { return quantile(d, p) }
		r.churnC50 = append(r.churnC50, q(create, 0.5))
		r.churnC99 = append(r.churnC99, q(create, 0.99))
		r.churnCMax = append(r.churnCMax, q(create, 1))
		r.churnAPI50 = append(r.churnAPI50, q(apiCreate, 0.5))
		r.churnAPI99 = append(r.churnAPI99, q(apiCreate, 0.99))
		r.churnD50 = append(r.churnD50, q(del, 0.5))
		r.churnD99 = append(r.churnD99, q(del, 0.99))
		logln("churn run %d: create->row p50 %.2f p99 %.2f max %.2f ms (API p50 %.2f p99 %.2f); delete->gone p50 %.2f p99 %.2f ms",
			run+1, ms(q(create, 0.5)), ms(q(create, 0.99)), ms(q(create, 1)), ms(q(apiCreate, 0.5)), ms(q(apiCreate, 0.99)),
			ms(q(del, 0.5)), ms(q(del, 0.99)))
	}
	return nil
}

// quantile is the nearest-rank q-quantile of d (q in (0, 1]).
func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return figures.Quantile(s, q)
}

// resync empties the switch database under the running agent and re-creates
// the switch, as a switch rebooting with a wiped database would.
func (b *bench) resync(ctx context.Context, r *report) error {
	for run := range b.o.runs {
		b.mon.Close()
		b.mon = nil
		if err := b.sw.RestartEmpty(ctx); err != nil {
			return err
		}
		// The agent must have reconnected and found no switch; otherwise the
		// figure would include its redial backoff.
		if err := b.waitSwitch(ctx, func(s neutron.Switch) bool { return s.Connected && s.SyncError != "" }); err != nil {
			return err
		}
		var err error
		if b.view, b.mon, err = vtepwatch.Watch(ctx, b.sw.Target()); err != nil {
			return err
		}
		t0 := time.Now()
		if err := b.sw.AddSwitch(ctx, switchName, switchIP, switchPorts); err != nil {
			return err
		}
		tSwitch, err := b.wait(ctx, func(v *vtepwatch.View) bool { return v.Switches() == 1 })
		if err != nil {
			return err
		}
		at, err := b.wait(ctx, vtepwatch.Programmed(1, b.o.ports, len(switchPorts)))
		if err != nil {
			return err
		}
		r.resync = append(r.resync, at.Sub(tSwitch))
		r.resyncCtl = append(r.resyncCtl, at.Sub(t0))
		logln("resync run %d: Physical_Switch seen -> %d MACs restored %.0f ms (from vtep-ctl start %.0f ms)",
			run+1, b.o.ports, ms(at.Sub(tSwitch)), ms(at.Sub(t0)))
	}
	return nil
}

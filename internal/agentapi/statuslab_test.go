package agentapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/linuxvxlan"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// statusLab is the agent protocol and the API on a real store, a real
// ovsdb-server holding switch sw1 (ports p1..p4) programmed by a switch
// agent, and host agents h1 and h2 in network namespaces, all speaking
// HTTP to the server as remote agents do (each plan event reaching them
// planDelay late: slow agents). Three networks are connected
// through three gateways on sw1; their ports sit on veth interfaces in
// the hosts' namespaces:
//
//	net1 (VNI 1001) gw1 = sw1 p1,    VLAN 101  ports on h1 (tap11) and h2 (tap12)
//	net2 (VNI 1002) gw2 = sw1 p2,    VLAN 102  port on h1 (tap21)
//	net3 (VNI 1003) gw3 = sw1 p3;p4, VLAN 103  port on h2 (tap32)
type statusLab struct {
	t     *testing.T
	e     *env
	ctx   context.Context
	o     *testenv.OVSDB
	nl    *testenv.NetLab
	c     *client.Client
	link  *agentlink.Link
	hosts map[string]*labHost
	nets  []*labNet
	ports map[string][]string // switch ports in the database while the switch exists
	// switchGone: the database was emptied and the switch not re-created.
	switchGone bool
	logs       *logBuffer // the agents' and the handler's logs, shown on failure
	log        *slog.Logger
	// complete is, per connection, whether the last settled dump showed
	// everything it needs (see settled).
	complete map[string]bool
	// planDelay delays every plan event on its way to an agent (see
	// slowSource).
	planDelay time.Duration
	// stale counts the polls of settled that saw a connection in_sync
	// while rows it needs were missing, before its status had shown the
	// break: the agents' time to notice (see settled).
	stale int
}

// logBuffer keeps log lines for a failure report.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

type labHost struct {
	name, ns, vtep string
	stop           func() // nil while the agent is not running
}

type labNet struct {
	name     string
	vni      int
	vlan     int
	swPorts  []string
	id, conn string
	ports    []labPort
}

type labPort struct {
	id, host, ifc, mac string
}

func newStatusLab(t *testing.T) *statusLab {
	t.Helper()
	nl := testenv.NewNetLab(t)
	testenv.RequireCommand(t, "vtep-ctl")
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, agentapi.Config{Keepalive: time.Second, Logger: log.With("part", "server")})
	o := testenv.StartOVSDB(t, false)
	c, err := client.New(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	l := &statusLab{t: t, e: e, ctx: e.ctx, o: o, nl: nl, c: c, link: agentlink.New(c, agentlink.Config{}),
		hosts: map[string]*labHost{}, ports: map[string][]string{}, logs: logs, log: log, complete: map[string]bool{},
		planDelay: 30 * time.Millisecond}
	l.createSwitch()
	l.startSwitchAgent()
	for i, name := range []string{"h1", "h2"} {
		h := &labHost{name: name, ns: nl.AddNS(name), vtep: fmt.Sprintf("192.0.2.%d", 11+i)}
		l.hosts[name] = h
		l.startHostAgent(h)
	}
	testenv.Eventually(t, 30*time.Second, "sw1 reported with its ports", func() (bool, string) {
		sw, err := c.GetSwitch(l.ctx, "sw1")
		return err == nil && len(sw.Ports) == 4, fmt.Sprintf("%+v %v", sw, err)
	})
	l.nets = []*labNet{
		{name: "net1", vni: 1001, vlan: 101, swPorts: []string{"p1"}, ports: []labPort{{host: "h1", ifc: "tap11", mac: "fa:16:3e:00:01:01"}, {host: "h2", ifc: "tap12", mac: "fa:16:3e:00:01:02"}}},
		{name: "net2", vni: 1002, vlan: 102, swPorts: []string{"p2"}, ports: []labPort{{host: "h1", ifc: "tap21", mac: "fa:16:3e:00:02:01"}}},
		{name: "net3", vni: 1003, vlan: 103, swPorts: []string{"p3", "p4"}, ports: []labPort{{host: "h2", ifc: "tap32", mac: "fa:16:3e:00:03:02"}}},
	}
	for _, n := range l.nets {
		nw, err := c.CreateNetwork(l.ctx, neutron.NetworkCreate{Name: n.name, NetworkType: "vxlan", SegmentationID: n.vni})
		l.must(err)
		n.id = nw.ID
		for i := range n.ports {
			p := &n.ports[i]
			l.addInterface(p.host, p.ifc)
			pt, err := c.CreatePort(l.ctx, neutron.PortCreate{NetworkID: n.id, Name: p.ifc, MACAddress: p.mac, HostID: p.host,
				Profile: &neutron.BindingProfile{InterfaceName: p.ifc}})
			l.must(err)
			p.id = pt.ID
		}
		var ifs []neutron.InterfaceRequest
		for _, sp := range n.swPorts {
			ifs = append(ifs, neutron.InterfaceRequest{Name: sp})
		}
		gw, err := c.CreateGateway(l.ctx, neutron.GatewayCreate{Name: "gw-" + n.name, Devices: []neutron.DeviceRequest{{DeviceName: "sw1", Interfaces: ifs}}})
		l.must(err)
		conn, err := c.CreateConnection(l.ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.id, SegmentationID: fmt.Sprint(n.vlan)})
		l.must(err)
		n.conn = conn.ID
	}
	return l
}

func (l *statusLab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

// createSwitch creates sw1 with its tunnel IP and the ports in l.ports (all
// four the first time), as the switch's firmware would.
func (l *statusLab) createSwitch() {
	l.t.Helper()
	if l.ports["sw1"] == nil {
		l.ports["sw1"] = []string{"p1", "p2", "p3", "p4"}
	}
	args := []string{"add-ps", "sw1", "--", "set", "Physical_Switch", "sw1", "tunnel_ips=192.0.2.1"}
	for _, p := range l.ports["sw1"] {
		args = append(args, "--", "add-port", "sw1", p)
	}
	l.o.VTEPCtl(l.t, args...)
	l.switchGone = false
}

func (l *statusLab) startSwitchAgent() {
	l.t.Helper()
	a, err := switchagent.New(switchagent.Config{Target: l.o.UnixTarget(), Switch: "sw1", ProbeInterval: 500 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, ReportDebounce: 5 * time.Millisecond,
		Logger: l.log.With("part", "switch agent")},
		slowSource[planner.SwitchPlan, planner.SwitchDelta]{l.link.Switches(), l.planDelay}, l.link)
	l.must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	l.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			l.t.Errorf("switch agent Run = %v", err)
		}
	})
}

// startHostAgent starts h's host agent (remote: over the agent protocol).
func (l *statusLab) startHostAgent(h *labHost) {
	l.t.Helper()
	a, err := hostagent.New(hostagent.Config{Host: h.name, VTEPIP: h.vtep, NetNS: h.ns, HeartbeatInterval: 5 * time.Second,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Logger: l.log.With("part", "host agent")},
		slowSource[planner.HostPlan, planner.HostDelta]{l.link.Hosts(), l.planDelay}, l.link)
	l.must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			l.t.Errorf("host agent %s Run = %v", h.name, err)
		}
	}
	l.t.Cleanup(h.stop)
}

// killHostAgent stops h's agent without a word to the server: its plan
// stream just ends, as when the process is killed.
func (l *statusLab) killHostAgent(h *labHost) {
	h.stop()
	h.stop = nil
}

func (l *statusLab) addInterface(host, ifc string) {
	l.t.Helper()
	// A veth pair (this kernel has no dummy devices): ifc and its peer ifc+"p".
	ns := l.hosts[host].ns
	l.nl.Veth(ns, ifc, ns, ifc+"p")
}

func (l *statusLab) delInterface(host, ifc string) {
	l.t.Helper()
	l.nl.IP(l.hosts[host].ns, "link", "del", ifc)
}

func (l *statusLab) net(name string) *labNet {
	for _, n := range l.nets {
		if n.name == name {
			return n
		}
	}
	l.t.Fatalf("no network %s", name)
	return nil
}

func (l *statusLab) status(conn string) (agentwire.ConnectionStatus, error) {
	return l.c.ConnectionStatus(l.ctx, conn)
}

// switchTunnelIP is sw1's tunnel IP (createSwitch).
const switchTunnelIP = "192.0.2.1"

// dump reads what each connection needs from the switch database and the
// hosts' kernels (and whether the hosts' agents run), and returns, per
// connection, what is missing (empty: everything is there). On the switch
// a connection needs its logical switch, the bindings of its ports, a
// remote MAC per port of the network toward its host's VTEP and the
// unknown-dst flooding row toward every host of the network; on each host
// of its ports, the agent, the network's bridge with the VXLAN device and
// the port's interface on it, and the VXLAN FDB: per peer (another host
// of the network) its ports' MACs (self and bridge entries) and flooding
// to it, and flooding to the switch's tunnel IP.
func (l *statusLab) dump() (map[string][]string, error) {
	missing := map[string][]string{}
	db, err := dumpVTEP(l.ctx, strings.TrimPrefix(l.o.UnixTarget(), "unix:"))
	if err != nil {
		return nil, err
	}
	links := map[string]map[string]netlink.Link{}
	fdbs := map[string]map[int][]netlink.Neigh{} // host -> link index -> entries
	for name, h := range l.hosts {
		ls, fdb, err := hostDump(h.ns)
		if err != nil {
			return nil, err
		}
		links[name] = map[string]netlink.Link{}
		for _, lk := range ls {
			links[name][lk.Attrs().Name] = lk
		}
		fdbs[name] = map[int][]netlink.Neigh{}
		for _, e := range fdb {
			fdbs[name][e.LinkIndex] = append(fdbs[name][e.LinkIndex], e)
		}
	}
	for _, n := range l.nets {
		var miss []string
		hostsOf := map[string]bool{}
		for _, p := range n.ports {
			hostsOf[p.host] = true
		}
		swPorts, swExists := db.switches["sw1"]
		switch {
		case !swExists:
			miss = append(miss, "switch sw1")
		case !db.logicalSwitches[n.id]:
			miss = append(miss, "logical switch "+n.name)
		default:
			for _, p := range n.swPorts {
				if !slices.Contains(swPorts, p) {
					miss = append(miss, "switch port "+p)
				} else if db.bindings[fmt.Sprintf("%s/%d", p, n.vlan)] != n.id {
					miss = append(miss, "binding "+p)
				}
			}
			for _, p := range n.ports {
				if db.remoteMACs[n.id+" "+p.mac] != l.hosts[p.host].vtep {
					miss = append(miss, "remote mac "+p.mac)
				}
			}
			for h := range hostsOf {
				if !slices.Contains(db.mcast[n.id+" "+planner.UnknownDst], l.hosts[h].vtep) {
					miss = append(miss, "switch flooding to "+h)
				}
			}
		}
		for _, p := range n.ports {
			h := l.hosts[p.host]
			if h.stop == nil {
				miss = append(miss, "agent "+h.name)
			}
			br, vx, ifc := links[h.name][hostagent.BridgeName(n.vni)], links[h.name][hostagent.VXLANName(n.vni)], links[h.name][p.ifc]
			switch {
			case br == nil || vx == nil || vx.Attrs().MasterIndex != br.Attrs().Index:
				miss = append(miss, "bridge on "+h.name)
			case ifc == nil || ifc.Attrs().MasterIndex != br.Attrs().Index:
				miss = append(miss, "interface "+p.ifc)
			}
		}
		for h := range hostsOf {
			vx := links[h][hostagent.VXLANName(n.vni)]
			if vx == nil {
				continue // "bridge on h" above
			}
			self, master := fdbOf(fdbs[h][vx.Attrs().Index])
			if !self[zeroMAC+" "+switchTunnelIP] {
				miss = append(miss, "flooding on "+h+" to the switch")
			}
			for _, p := range n.ports {
				if p.host == h {
					continue
				}
				peer := l.hosts[p.host].vtep
				if !self[zeroMAC+" "+peer] {
					miss = append(miss, "flooding on "+h+" to "+p.host)
				}
				if !self[p.mac+" "+peer] || !master[p.mac] {
					miss = append(miss, "fdb on "+h+" of "+p.mac)
				}
			}
		}
		missing[n.conn] = compactStrings(miss)
	}
	return missing, nil
}

// zeroMAC is the VXLAN FDB entry of flooding (linuxvxlan).
const zeroMAC = "00:00:00:00:00:00"

// hostDump reads the links and the bridge FDB of namespace ns.
func hostDump(ns string) ([]netlink.Link, []netlink.Neigh, error) {
	nh, err := testenv.NetlinkHandle(ns)
	if err != nil {
		return nil, nil, err
	}
	defer nh.Close()
	ls, err := nh.LinkList()
	if err != nil {
		return nil, nil, fmt.Errorf("links of %s: %w", ns, err)
	}
	fdb, err := nh.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, nil, fmt.Errorf("fdb of %s: %w", ns, err)
	}
	return ls, fdb, nil
}

// fdbOf returns a VXLAN device's self entries ("MAC DST") and the MACs of
// its static bridge entries.
func fdbOf(entries []netlink.Neigh) (self, master map[string]bool) {
	self, master = map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		switch {
		case e.Flags&netlink.NTF_SELF != 0 && e.IP != nil:
			self[e.HardwareAddr.String()+" "+e.IP.String()] = true
		case linuxvxlan.IsBridgeEntry(e) && e.State&netlink.NUD_NOARP != 0:
			master[e.HardwareAddr.String()] = true
		}
	}
	return self, master
}

func compactStrings(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// settled waits until every connection's status agrees with a dump of the
// switch and the hosts and with want (per connection: true when the lab's
// model says everything it needs is there): in_sync exactly when nothing
// is missing, otherwise error or pending with a reason; check sees each
// settled status (to check reasons).
//
// While it waits, a status that lies fails at once: in_sync read between
// two dumps that both miss a row the connection needs. Only once the
// status can know: for a connection that was incomplete when the last
// settled returned (the action repairs it), from the start; for one that
// was complete (the action breaks it), once its status has shown it not
// in_sync — before that, in_sync is the agents' time to notice the break,
// which no status can beat (counted in l.stale).
func (l *statusLab) settled(what string, want map[string]bool, check func(conn string, st agentwire.ConnectionStatus) error) {
	l.t.Helper()
	armed := map[string]bool{}
	for _, n := range l.nets {
		armed[n.conn] = !l.complete[n.conn]
	}
	var why string
	var last map[string][]string
	// Polled closely (testenv.Poll backs off to 100 ms): a lie lasts as
	// long as an agent takes to act on what it reported.
	err := pollClosely(l.ctx, 30*time.Second, func() error {
		before, err := l.dump()
		if err != nil {
			return err
		}
		sts := map[string]agentwire.ConnectionStatus{}
		for _, n := range l.nets {
			st, err := l.status(n.conn)
			if err != nil {
				return err
			}
			sts[n.conn] = st
		}
		missing, err := l.dump()
		if err != nil {
			return err
		}
		for _, n := range l.nets {
			st := sts[n.conn]
			inSync := st.State == agentwire.StateInSync
			if !inSync {
				armed[n.conn] = true
			}
			if both := intersect(before[n.conn], missing[n.conn]); inSync && len(both) > 0 {
				if armed[n.conn] {
					why = fmt.Sprintf("%s: status in_sync (%+v %+v) while the switch and hosts miss %q before and after it", n.name, st.Status, st.Hosts, both)
					return fmt.Errorf("%w: %s", errStop, why)
				}
				l.stale++
			}
		}
		last = missing
		for _, n := range l.nets {
			st := sts[n.conn]
			complete := len(missing[n.conn]) == 0
			if complete != want[n.conn] {
				why = fmt.Sprintf("%s: switch and hosts miss %q; the model expects complete=%v", n.name, missing[n.conn], want[n.conn])
				return fmt.Errorf("%s", why)
			}
			inSync := st.State == agentwire.StateInSync
			if inSync != complete {
				why = fmt.Sprintf("%s: status %s (%+v %+v) while the switch and hosts miss %q", n.name, st.State, st.Status, st.Hosts, missing[n.conn])
				return fmt.Errorf("%s", why)
			}
			if !inSync && !hasReason(st) {
				why = fmt.Sprintf("%s: status %s without a reason: %+v %+v", n.name, st.State, st.Status, st.Hosts)
				return fmt.Errorf("%s", why)
			}
			if check != nil {
				if err := check(n.conn, st); err != nil {
					why = n.name + ": " + err.Error()
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("%s: not settled: %s (%v)\nlast logs:\n%s", what, why, err, l.logs.tail(300))
	}
	for _, n := range l.nets {
		l.complete[n.conn] = len(last[n.conn]) == 0
	}
}

// pollClosely calls fn until it returns nil (then nil), gives up after
// timeout with fn's last error, or at once on an error made by
// testenv.StopPolling; it pauses 2 ms between calls.
func pollClosely(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if errors.Is(err, errStop) {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// errStop ends a pollClosely at once.
var errStop = errors.New("status lied")

// intersect returns the items of a (sorted) that are in b.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// hasReason reports whether every entry not in sync says why, and that
// they are not all in sync.
func hasReason(st agentwire.ConnectionStatus) bool {
	bad := 0
	for _, s := range st.Status {
		if s.State != agentwire.StateInSync {
			bad++
			if s.Reason == "" || s.State != agentwire.StateError && s.State != agentwire.StatePending {
				return false
			}
		}
	}
	for _, s := range st.Hosts {
		if s.State != agentwire.StateInSync {
			bad++
			if s.Reason == "" || s.State != agentwire.StateError && s.State != agentwire.StatePending {
				return false
			}
		}
	}
	return bad > 0
}

// reasons returns the connection's reasons, "switch sw1: …" and "host h1: …".
func reasons(st agentwire.ConnectionStatus) string {
	var out []string
	for _, s := range st.Status {
		if s.Reason != "" {
			out = append(out, "switch "+s.Switch+": "+s.State+": "+s.Reason)
		}
	}
	for _, s := range st.Hosts {
		if s.Reason != "" {
			out = append(out, "host "+s.Host+": "+s.State+": "+s.Reason)
		}
	}
	return strings.Join(out, " | ")
}

// all returns want with every connection set to v.
func (l *statusLab) all(v bool) map[string]bool {
	out := map[string]bool{}
	for _, n := range l.nets {
		out[n.conn] = v
	}
	return out
}

// slowSource delays every plan event by delay before its agent gets it:
// an agent slow to act on a plan (a loaded switch or host), which widens
// the time between a change the server knows of and the rows that realise
// it, so that a status claiming in_sync too early is seen to.
type slowSource[P, D any] struct {
	src   planstream.Source[P, D]
	delay time.Duration
}

func (s slowSource[P, D]) Watch(ctx context.Context, name string, from int64) (planstream.Stream[P, D], error) {
	st, err := s.src.Watch(ctx, name, from)
	if err != nil {
		return nil, err
	}
	return slowStream[P, D]{st, s.delay}, nil
}

type slowStream[P, D any] struct {
	planstream.Stream[P, D]
	delay time.Duration
}

func (s slowStream[P, D]) Next(ctx context.Context) (planner.Event[P, D], error) {
	ev, err := s.Stream.Next(ctx)
	if err != nil {
		return ev, err
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ev, ctx.Err()
	case <-t.C:
	}
	return ev, nil
}

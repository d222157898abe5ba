package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/l2gw/l2gw/bench/internal/figures"
	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/testenv"
)

// convergeLimit bounds each wait for convergence; far above the target.
const convergeLimit = 10 * time.Minute

func run(ctx context.Context, o options) (err error) {
	tmp, err := os.MkdirTemp("", "scalebench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			logln("kept %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	bin := o.binary
	if bin == "" {
		if bin, err = testenv.BuildL2GWInto(tmp); err != nil {
			return err
		}
	}
	if o.postgres {
		logln("starting PostgreSQL")
		pg, err := testenv.RunPostgres()
		if err != nil {
			return err
		}
		defer pg.Close()
		o.database = pg.DSN
	}
	dsn := o.database
	reuse := false
	if dsn == "" {
		dir := tmp
		if o.state != "" {
			dir = o.state
			if reuse, err = sameWorkload(dir, o); err != nil {
				return err
			}
		}
		dsn = "sqlite://" + filepath.Join(dir, "l2gw.db")
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, Proxy: nil}}
	l := &lab{o: o, w: workload{o}, bin: bin, tmp: tmp, dsn: dsn, hc: hc}
	defer l.close()

	logln("starting %d switches", o.switches)
	if err := l.startSwitches(ctx); err != nil {
		return err
	}
	var netIDs []string
	if reuse {
		logln("reusing the inventory in %s", o.state)
		if err := l.startServers(ctx); err != nil {
			return err
		}
		if err := l.pruneChurnPorts(ctx); err != nil {
			return err
		}
	} else {
		if strings.HasPrefix(dsn, "postgres") {
			// The setup's bulk creates make group commits of thousands of
			// ports, longer than the default --db-timeout on a loaded
			// machine; the measured cold start runs with the defaults.
			l.serverArgs = []string{"--db-timeout", "2m"}
		}
		if err := l.startServers(ctx); err != nil {
			return err
		}
		if err := l.startAgents(); err != nil {
			return err
		}
		if netIDs, err = l.setup(ctx); err != nil {
			return err
		}
		if o.state != "" {
			if err := saveWorkload(o.state, o); err != nil {
				return err
			}
		}
	}

	// Cold start: everything in the database, every switch wiped, no
	// process running; then servers, switch agents and host agents at once.
	l.stopProcesses()
	l.serverArgs = nil
	if err := l.wipeSwitches(ctx); err != nil {
		return err
	}
	if err := l.watchSwitches(ctx); err != nil {
		return err
	}
	logln("cold start")
	t0 := time.Now()
	if err := l.startServers(ctx); err != nil {
		return err
	}
	tServers := time.Since(t0)
	var coldProfiled sync.WaitGroup
	if o.profile != "" {
		coldProfiled.Go(func() { l.profile(ctx, "cold", o.coldProfile, o.profile) })
	}
	if netIDs == nil {
		if netIDs, err = l.networkIDs(ctx); err != nil {
			return err
		}
	}
	if err := l.startAgents(); err != nil {
		return err
	}
	f := newFleet(o)
	fctx, stopFleet := context.WithCancel(ctx)
	var fleetDone sync.WaitGroup
	fleetDone.Go(func() { f.run(fctx, l.links) })
	defer func() { stopFleet(); fleetDone.Wait() }()

	wctx, cancel := context.WithTimeout(ctx, convergeLimit)
	defer cancel()
	tSwitches, err := l.switchesProgrammed(wctx)
	if err != nil {
		return fmt.Errorf("cold convergence, switches: %w", err)
	}
	want := l.w.hostNetworks()
	var why string
	err = testenv.Poll(wctx, convergeLimit, func() error {
		var ok bool
		if ok, why = f.converged(want); !ok {
			return errors.New(why)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cold convergence, hosts: %w", err)
	}
	tHosts := time.Now()
	r := report{o: o, serverStart: tServers, switchesAt: tSwitches.Sub(t0), hostsAt: tHosts.Sub(t0)}
	for _, s := range l.servers {
		rss, _, err := testenv.Memory(s.PID)
		if err != nil {
			return err
		}
		r.rss = append(r.rss, rss)
	}
	logln("converged: switches %.1f s, hosts %.1f s", r.switchesAt.Seconds(), r.hostsAt.Seconds())
	coldProfiled.Wait()

	if err := l.churn(ctx, f, netIDs, &r); err != nil {
		return err
	}
	for _, s := range l.servers {
		rss, peak, err := testenv.Memory(s.PID)
		if err != nil {
			return err
		}
		r.rssAfterChurn = append(r.rssAfterChurn, rss)
		r.peak = append(r.peak, peak)
	}
	r.print(os.Stdout)
	return nil
}

// setup creates the inventory through the API (replica 0) while the
// switch agents run: hosts are registered by their simulated agents, then
// networks, ports, one gateway per switch and one connection per network.
func (l *lab) setup(ctx context.Context) (netIDs []string, err error) {
	o, w := l.o, l.w
	api := l.apis[0]
	t0 := time.Now()
	// The switches must be reported before a gateway can use them.
	err = testenv.Poll(ctx, 2*time.Minute, func() error {
		sws, err := api.ListSwitches(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if len(sws) != o.switches {
			return fmt.Errorf("%d of %d switches reported", len(sws), o.switches)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f := newFleet(o)
	fctx, stopFleet := context.WithCancel(ctx)
	var fleetDone sync.WaitGroup
	fleetDone.Go(func() { f.run(fctx, l.links) })
	defer func() { stopFleet(); fleetDone.Wait() }()
	err = testenv.Poll(ctx, 2*time.Minute, func() error {
		hs, err := api.ListHosts(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if len(hs) != o.hosts {
			return fmt.Errorf("%d of %d hosts registered", len(hs), o.hosts)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	netIDs = make([]string, o.networks)
	for n := 0; n < o.networks; n += 500 {
		var ns []neutron.NetworkCreate
		for k := n; k < min(n+500, o.networks); k++ {
			ns = append(ns, neutron.NetworkCreate{Name: networkName(k), NetworkType: "vxlan", SegmentationID: vniBase + k})
		}
		got, err := api.CreateNetworks(ctx, ns)
		if err != nil {
			return nil, fmt.Errorf("create networks: %w", err)
		}
		for k, nw := range got {
			netIDs[n+k] = nw.ID
		}
	}
	tPorts := time.Now()
	err = forEach((o.ports+o.batch-1)/o.batch, func(b int) error {
		var ps []neutron.PortCreate
		for i := b * o.batch; i < min((b+1)*o.batch, o.ports); i++ {
			ps = append(ps, l.port(netIDs, i))
		}
		return retryUnavailable(ctx, func() error { _, err := api.CreatePorts(ctx, ps); return err })
	})
	if err != nil {
		return nil, fmt.Errorf("bulk create ports: %w", err)
	}
	dPorts := time.Since(tPorts)
	gws := make([]string, o.switches)
	err = forEach(o.switches, func(s int) error {
		return retryUnavailable(ctx, func() error {
			gw, err := api.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw-" + switchName(s),
				Devices: []neutron.DeviceRequest{{DeviceName: switchName(s), Interfaces: []neutron.InterfaceRequest{{Name: switchPort}}}}})
			gws[s] = gw.ID
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("create gateways: %w", err)
	}
	err = forEach(o.networks, func(n int) error {
		return retryUnavailable(ctx, func() error {
			_, err := api.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gws[w.switchOf(n)], NetworkID: netIDs[n],
				SegmentationID: strconv.Itoa(w.vlanOf(n))})
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("create connections: %w", err)
	}
	logln("setup: %d hosts, %d networks, %d ports (%.0f ports/s), %d connections in %.1f s",
		o.hosts, o.networks, o.ports, float64(o.ports)/dPorts.Seconds(), o.networks, time.Since(t0).Seconds())
	return netIDs, nil
}

// port is port i: its network, host, MAC and IP follow from i.
func (l *lab) port(netIDs []string, i int) neutron.PortCreate {
	return neutron.PortCreate{NetworkID: netIDs[l.w.networkOf(i)], MACAddress: macN(i), HostID: hostName(l.w.hostOf(i)),
		DeviceOwner: "compute:nova", FixedIPs: []neutron.FixedIP{{IPAddress: ipN(i)}}}
}

// churn runs o.churnRate port changes per second for o.churnDuration,
// through the replicas in turn: a create of a new port, then a delete of
// the oldest churn port, alternately. Each create is timed until its MAC
// is on the network's switch and at every other host of the network.
func (l *lab) churn(ctx context.Context, f *fleet, netIDs []string, r *report) error {
	o, w := l.o, l.w
	if o.churnRate == 0 || o.churnDuration <= 0 {
		return nil
	}
	logln("churn: %d changes/s for %s", o.churnRate, o.churnDuration)
	var (
		mu      sync.Mutex
		created []string // churn ports not yet deleted, oldest first
		wg      sync.WaitGroup
		errs    int
		firstE  error
	)
	fail := func(err error) {
		mu.Lock()
		errs++
		if firstE == nil {
			firstE = err
		}
		mu.Unlock()
	}
	var profiled sync.WaitGroup
	defer profiled.Wait()
	if o.profile != "" {
		// Over the churn but its first and last second (start-up, drain).
		profiled.Go(func() {
			if !reconcile.Sleep(ctx, time.Second) {
				return
			}
			l.profile(ctx, "churn", o.churnDuration-2*time.Second, o.profile)
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(o.churnRate))
	defer tick.Stop()
	begin := time.Now()
	r.churnBegan = begin
	end := begin.Add(o.churnDuration)
	next := o.ports
	for k := 0; time.Now().Before(end); k++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		// Changes alternate between creates and deletes, and each kind
		// between the replicas.
		replica := k / 2 % len(l.apis)
		api := l.apis[replica]
		if k%2 == 1 {
			mu.Lock()
			var id string
			if len(created) > 0 {
				id, created = created[0], created[1:]
			}
			mu.Unlock()
			if id != "" {
				wg.Go(func() {
					if err := api.DeletePort(ctx, id); err != nil {
						fail(err)
					}
				})
			}
			continue
		}
		i := next
		next++
		n := w.networkOf(i)
		var peers []string
		for _, h := range w.networkHosts(n) {
			if h != w.hostOf(i) {
				peers = append(peers, hostName(h))
			}
		}
		wg.Go(func() {
			t0 := time.Now()
			fannedOut := f.watchMAC(macN(i), t0, peers)
			p, err := api.CreatePort(ctx, l.port(netIDs, i))
			if err != nil {
				fail(err)
				return
			}
			dAPI := time.Since(t0)
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			mac := macN(i)
			at, err := l.views[w.switchOf(n)].Wait(wctx, func(v *vtepwatch.View) bool { return v.HasMAC(mac) })
			if err != nil {
				fail(err)
				return
			}
			// Deleted only once seen on the switch and at every peer host:
			// a delete right after the create may rightly cancel it before
			// the switch or a slower host's plan stream has it.
			select {
			case <-fannedOut:
			case <-wctx.Done():
			}
			mu.Lock()
			created = append(created, p.ID)
			r.creates = append(r.creates, churnCreate{start: t0.Sub(begin), replica: replica, api: dAPI, row: at.Sub(t0)})
			mu.Unlock()
		})
	}
	wg.Wait()
	// Let the fan-out of the last creates finish.
	_ = testenv.Poll(ctx, 30*time.Second, func() error {
		if n := f.unfinished(); n > 0 {
			return fmt.Errorf("%d MACs not yet at every peer host", n)
		}
		return nil
	})
	f.mu.Lock()
	r.fanout = slices.Clone(f.fanout)
	r.fanoutMissing = len(f.pending)
	f.mu.Unlock()
	r.churnErrors = errs
	if firstE != nil {
		logln("churn: %d errors, the first: %v", errs, firstE)
	}
	return nil
}

// q is the quantile of d (sorted here).
func q(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return figures.Quantile(s, p)
}

// networkIDs lists the workload's networks (by name) from replica 0.
func (l *lab) networkIDs(ctx context.Context) ([]string, error) {
	nets, err := l.apis[0].ListNetworks(ctx, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	ids := make([]string, l.o.networks)
	for _, n := range nets {
		var k int
		if _, err := fmt.Sscanf(n.Name, "net-%05d", &k); err == nil && k >= 0 && k < len(ids) {
			ids[k] = n.ID
		}
	}
	for k, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("network %s missing from the reused store", networkName(k))
		}
	}
	return ids, nil
}

// workloadKey is what makes a stored inventory this run's.
func workloadKey(o options) string {
	return fmt.Sprintf("switches=%d hosts=%d ports=%d networks=%d hosts-per-network=%d\n",
		o.switches, o.hosts, o.ports, o.networks, o.hostsPerNetwork)
}

// sameWorkload reports whether dir holds the inventory of o's workload.
func sameWorkload(dir string, o options) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "workload"))
	if errors.Is(err, os.ErrNotExist) {
		for _, f := range []string{"l2gw.db", "l2gw.db-wal", "l2gw.db-shm"} {
			os.Remove(filepath.Join(dir, f))
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if string(b) != workloadKey(o) {
		return false, fmt.Errorf("%s holds another workload (%s); remove it or choose another -state", dir, b)
	}
	return true, nil
}

func saveWorkload(dir string, o options) error {
	return os.WriteFile(filepath.Join(dir, "workload"), []byte(workloadKey(o)), 0o644)
}

// pruneChurnPorts deletes the ports an earlier run's churn left in a
// reused store (their MACs are numbered from o.ports up), so every switch
// and host again expects exactly the workload.
func (l *lab) pruneChurnPorts(ctx context.Context) error {
	ports, err := l.apis[0].ListPorts(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	var extra []string
	for _, p := range ports {
		var a, b, c int
		if _, err := fmt.Sscanf(p.MACAddress, "fa:16:3e:%02x:%02x:%02x", &a, &b, &c); err == nil && a<<16|b<<8|c >= l.o.ports {
			extra = append(extra, p.ID)
		}
	}
	if len(extra) > 0 {
		logln("deleting %d ports left by an earlier run's churn", len(extra))
	}
	return forEach(len(extra), func(i int) error { return l.apis[0].DeletePort(ctx, extra[i]) })
}

// retryUnavailable runs fn again while it fails with 503: a group commit
// that outlasts --db-timeout or loses its PostgreSQL connection is rolled
// back whole and answered 503, "try again later".
func retryUnavailable(ctx context.Context, fn func() error) error {
	for try := 1; ; try++ {
		err := fn()
		var e *client.Error
		if err == nil || try == 5 || !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
			return err
		}
		logln("setup: %v; again", err)
		if !reconcile.Sleep(ctx, time.Duration(try)*time.Second) {
			return ctx.Err()
		}
	}
}

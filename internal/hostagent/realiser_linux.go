package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/linuxvxlan"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
)

// Realiser makes the kernel state of one network namespace equal a
// planner.HostPlan, touching only what it owns (see the package comment).
// It keeps no state of its own between calls: each Realise reads the kernel
// by netlink dumps and applies the difference (linuxvxlan.Dataplane), so a
// new Realiser on the same namespace converges from whatever an earlier one
// left. Calls must not run concurrently.
type Realiser struct {
	ns  netns.NsHandle
	h   *netlink.Handle
	dp  *linuxvxlan.Dataplane
	log *slog.Logger
}

// NewRealiser returns a Realiser working in the network namespace ns, or in
// the caller's namespace when ns is netns.None(). The caller keeps ownership
// of ns and must keep it open until Close.
func NewRealiser(ns netns.NsHandle, cfg RealiserConfig) (*Realiser, error) {
	var vtep netip.Addr
	if cfg.VTEPIP != nil {
		v4 := cfg.VTEPIP.To4()
		if v4 == nil {
			return nil, fmt.Errorf("vtep ip %s: only IPv4 underlays are supported", cfg.VTEPIP)
		}
		vtep, _ = netip.AddrFromSlice(v4)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	dp, err := linuxvxlan.New(h, linuxvxlan.Config{Names: ownNames(), Local: vtep, MTU: cfg.DefaultMTU, Logger: log})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("new realiser: %w", err)
	}
	return &Realiser{ns: ns, h: h, dp: dp, log: log}, nil
}

// Close releases the netlink socket. Kernel state stays as it is.
func (r *Realiser) Close() error {
	r.h.Close()
	return nil
}

// Cleanup removes every device and FDB entry the Realiser owns in its
// namespace, releasing the ports enslaved to our bridges.
func (r *Realiser) Cleanup(ctx context.Context) error {
	_, err := r.Realise(ctx, planner.HostPlan{})
	return err
}

// Realise makes the namespace's kernel state equal plan. It carries on past
// a failing network and returns all errors joined (Result says whose each
// is); a later call retries.
func (r *Realiser) Realise(ctx context.Context, plan planner.HostPlan) (Result, error) {
	nets, netOf, skipped := r.desired(plan)
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(skipped)) {
		errs = append(errs, skipped[id])
	}
	res, err := r.dp.Sync(ctx, nets)
	out := Result{Changes: res.Changes, MissingInterfaces: res.Missing, NetworkErrors: skipped, HostError: res.GlobalError}
	for vni, e := range res.NetworkErrors {
		if id, ok := netOf[vni]; ok {
			out.NetworkErrors[id] = errors.Join(out.NetworkErrors[id], e)
		}
	}
	if err != nil {
		errs = append(errs, err)
	}
	attached, aerr := r.attached(plan)
	if aerr != nil {
		out.HostError = errors.Join(out.HostError, aerr)
		errs = append(errs, aerr)
	}
	out.Attached = attached
	if len(errs) > 0 {
		return out, fmt.Errorf("realise host plan: %w", errors.Join(errs...))
	}
	return out, nil
}

// attached reads which interfaces of the plan are enslaved to their
// network's bridge.
func (r *Realiser) attached(plan planner.HostPlan) (map[string][]string, error) {
	links, err := r.dp.Links()
	if err != nil {
		return nil, fmt.Errorf("read attached interfaces: %w", err)
	}
	byName := make(map[string]netlink.Link, len(links))
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}
	out := map[string][]string{}
	for id, n := range plan.Networks {
		br := byName[BridgeName(n.VNI)]
		if br == nil || !linuxvxlan.ValidVNI(n.VNI) {
			continue
		}
		for _, ifc := range n.Interfaces {
			if l := byName[ifc]; l != nil && l.Attrs().MasterIndex == br.Attrs().Index {
				out[id] = append(out[id], ifc)
			}
		}
		slices.Sort(out[id])
	}
	return out, nil
}

// desired turns a plan into data plane networks and the network id of
// each VNI, skipping entries the kernel cannot take so that one bad item
// does not block the others; what it skips is an error of its network
// (skipped, by network id), but for a MAC's second destination, which is
// only logged.
func (r *Realiser) desired(plan planner.HostPlan) (nets []linuxvxlan.Network, netOf map[int]string, skipped map[string]error) {
	ids := slices.Sorted(maps.Keys(plan.Networks))
	netOf = map[int]string{}
	skipped = map[string]error{}
	skip := func(id string, err error) { skipped[id] = errors.Join(skipped[id], err) }
	ifaceVNI := map[string]int{}
	for _, id := range ids {
		n := plan.Networks[id]
		if !linuxvxlan.ValidVNI(n.VNI) {
			skip(id, fmt.Errorf("network %s: vni %d out of range", id, n.VNI))
			continue
		}
		if other, dup := netOf[n.VNI]; dup {
			skip(id, fmt.Errorf("network %s: vni %d is network %s's too: not realised", id, n.VNI, other))
			continue
		}
		netOf[n.VNI] = id
		d := linuxvxlan.Network{VNI: n.VNI, MTU: max(n.MTU, 0), Remotes: map[string]netip.Addr{}}
		for _, ifc := range n.Interfaces {
			if _, _, owned := parseOwned(ifc); owned || ifc == "" || len(ifc) > unix.IFNAMSIZ-1 {
				skip(id, fmt.Errorf("network %s: interface %q: not a valid interface name of a port", id, ifc))
				continue
			}
			if other, dup := ifaceVNI[ifc]; dup {
				skip(id, fmt.Errorf("network %s: interface %s is a port of network %s too (vni %d): not attached", id, ifc, netOf[other], other))
				continue
			}
			ifaceVNI[ifc] = n.VNI
			d.Ports = append(d.Ports, ifc)
		}
		// The host overlay (peers: the network's other hosts) and the
		// gateway's part (bare-metal MACs, switches) are realised alike: a
		// VXLAN FDB entry per MAC toward its VTEP, flooding to every VTEP.
		remote := func(m, ip string) {
			mac, okMAC := model.UnicastMAC(m)
			dst, ok := model.IPv4(ip)
			if !okMAC || !ok {
				skip(id, fmt.Errorf("network %s: fdb entry %s dst %s: want a unicast MAC and an IPv4 address", id, m, ip))
				return
			}
			// A unicast VXLAN FDB entry has exactly one remote (the kernel
			// appends further remotes only to the zero and multicast MACs).
			if _, dup := d.Remotes[mac]; dup {
				r.log.Warn("skipping second fdb destination of a mac", "vni", n.VNI, "mac", m, "dst_ip", ip)
				return
			}
			d.Remotes[mac] = dst
		}
		flood := func(ip string) {
			dst, ok := model.IPv4(ip)
			if !ok {
				skip(id, fmt.Errorf("network %s: flood address %q: want an IPv4 address", id, ip))
				return
			}
			if !slices.Contains(d.Flood, dst) {
				d.Flood = append(d.Flood, dst)
			}
		}
		for _, pr := range n.Peers {
			for _, m := range pr.MACs {
				remote(m, pr.VTEPIP)
			}
			flood(pr.VTEPIP)
		}
		for _, e := range n.FDB {
			remote(e.MAC, e.DstIP)
		}
		for _, ip := range n.FloodIPs {
			flood(ip)
		}
		nets = append(nets, d)
	}
	return nets, netOf, skipped
}

// WatchLinks calls changed with the name of every link added, changed or
// removed in the Realiser's namespace until ctx is done (it then returns nil)
// or the subscription breaks. changed must not block.
func (r *Realiser) WatchLinks(ctx context.Context, changed func(name string)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	opts := netlink.LinkSubscribeOptions{
		// Called for malformed or foreign messages; a broken socket also
		// closes ch, which ends the watch below.
		ErrorCallback: func(err error) {
			r.log.Debug("link event error", "error", err)
		},
	}
	if r.ns.IsOpen() {
		ns := r.ns
		opts.Namespace = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(ch, done, opts); err != nil {
		return fmt.Errorf("subscribe to link events: %w", err)
	}
	// The library's reader goroutine exits (closing ch) once done closes its
	// socket, provided it is not blocked sending: keep draining until then.
	defer func() {
		close(done)
		for range ch {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-ch:
			if !ok {
				return errors.New("link events: subscription closed")
			}
			if u.Link != nil {
				changed(u.Link.Attrs().Name)
			}
		}
	}
}

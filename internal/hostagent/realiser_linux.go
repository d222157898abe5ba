package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/planner"
)

// Realiser makes the kernel state of one network namespace equal a
// planner.HostPlan, touching only what it owns (see the package comment).
// It keeps no state of its own between calls: each Realise reads the kernel
// by netlink dumps and applies the difference, so a new Realiser on the same
// namespace converges from whatever an earlier one left. Calls must not run
// concurrently.
type Realiser struct {
	ns   netns.NsHandle
	h    *netlink.Handle
	vtep net.IP
	mtu  int
	log  *slog.Logger
}

// NewRealiser returns a Realiser working in the network namespace ns, or in
// the caller's namespace when ns is netns.None(). The caller keeps ownership
// of ns and must keep it open until Close.
func NewRealiser(ns netns.NsHandle, cfg RealiserConfig) (*Realiser, error) {
	var vtep net.IP
	if cfg.VTEPIP != nil {
		vtep = cfg.VTEPIP.To4()
		if vtep == nil {
			return nil, fmt.Errorf("vtep ip %s: only IPv4 underlays are supported", cfg.VTEPIP)
		}
	}
	mtu := cfg.DefaultMTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 {
		return nil, fmt.Errorf("default mtu %d: too small", mtu)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return &Realiser{ns: ns, h: h, vtep: vtep, mtu: mtu, log: log}, nil
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

// desiredNet is the kernel state of one network (VNI).
type desiredNet struct {
	vni        int
	mtu        int
	ifaces     []string
	self       map[fdbKey]bool // VXLAN remotes, zero MAC included
	masterMACs map[string]bool // static bridge entries toward the VXLAN port
}

// fdbKey is one VXLAN FDB remote: a MAC (canonical lower case) and a dst.
type fdbKey struct {
	mac string
	dst string
}

// desired turns a plan into kernel terms, skipping (and logging) entries the
// kernel cannot take so that one bad item does not block the others.
func (r *Realiser) desired(plan planner.HostPlan) (map[int]*desiredNet, map[string]int) {
	ids := make([]string, 0, len(plan.Networks))
	for id := range plan.Networks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	nets := map[int]*desiredNet{}
	ifaceVNI := map[string]int{}
	for _, id := range ids {
		n := plan.Networks[id]
		if !validVNI(n.VNI) {
			r.log.Warn("skipping network with invalid vni", "network_id", id, "vni", n.VNI)
			continue
		}
		if _, dup := nets[n.VNI]; dup {
			r.log.Warn("skipping network whose vni another network uses", "network_id", id, "vni", n.VNI)
			continue
		}
		d := &desiredNet{vni: n.VNI, mtu: n.MTU, self: map[fdbKey]bool{}, masterMACs: map[string]bool{}}
		if d.mtu <= 0 {
			d.mtu = r.mtu
		}
		for _, ifc := range n.Interfaces {
			if _, _, owned := parseOwned(ifc); owned || ifc == "" || len(ifc) > unix.IFNAMSIZ-1 {
				r.log.Warn("skipping invalid interface name", "network_id", id, "vni", n.VNI, "interface", ifc)
				continue
			}
			if other, dup := ifaceVNI[ifc]; dup {
				r.log.Warn("skipping interface planned on two networks", "interface", ifc, "vni", n.VNI, "other_vni", other)
				continue
			}
			ifaceVNI[ifc] = n.VNI
			d.ifaces = append(d.ifaces, ifc)
		}
		for _, e := range n.FDB {
			mac, err := net.ParseMAC(e.MAC)
			dst := net.ParseIP(e.DstIP).To4()
			if err != nil || len(mac) != 6 || dst == nil || mac[0]&1 == 1 {
				r.log.Warn("skipping invalid fdb entry", "vni", n.VNI, "mac", e.MAC, "dst_ip", e.DstIP)
				continue
			}
			// A unicast VXLAN FDB entry has exactly one remote (the kernel
			// appends further remotes only to the zero and multicast MACs).
			if d.masterMACs[mac.String()] {
				r.log.Warn("skipping second fdb destination of a mac", "vni", n.VNI, "mac", e.MAC, "dst_ip", e.DstIP)
				continue
			}
			d.self[fdbKey{mac.String(), dst.String()}] = true
			d.masterMACs[mac.String()] = true
		}
		for _, ip := range n.FloodIPs {
			dst := net.ParseIP(ip).To4()
			if dst == nil {
				r.log.Warn("skipping invalid flood ip", "vni", n.VNI, "dst_ip", ip)
				continue
			}
			d.self[fdbKey{zeroMAC.String(), dst.String()}] = true
		}
		nets[n.VNI] = d
	}
	return nets, ifaceVNI
}

// Realise makes the namespace's kernel state equal plan. It carries on past
// a failing network and returns all errors joined; a later call retries.
func (r *Realiser) Realise(ctx context.Context, plan planner.HostPlan) (Result, error) {
	var res Result
	nets, ifaceVNI := r.desired(plan)
	if len(nets) > 0 && r.vtep == nil {
		return res, errors.New("realise host plan: no vtep ip configured")
	}
	links, err := r.h.LinkList()
	if err != nil {
		return res, fmt.Errorf("list links: %w", err)
	}
	byName := map[string]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}

	var errs []error
	vnis := make([]int, 0, len(nets))
	for vni := range nets {
		vnis = append(vnis, vni)
	}
	slices.Sort(vnis)

	// 1. Devices of the plan.
	bridges := map[int]netlink.Link{} // desired vni -> bridge
	vxlans := map[int]netlink.Link{}
	for _, vni := range vnis {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := nets[vni]
		br, err := r.ensureBridge(d, byName[BridgeName(vni)], &res)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		bridges[vni] = br
		vx, err := r.ensureVXLAN(d, byName[VXLANName(vni)], br, &res)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vxlans[vni] = vx
	}

	// 2. Ports: release those that left the plan, move and enslave the others.
	ourBridge := map[int]int{} // ifindex -> vni, for every bridge of ours
	for _, l := range links {
		if p, vni, ok := parseOwned(l.Attrs().Name); ok && p == BridgePrefix {
			if _, isBridge := l.(*netlink.Bridge); isBridge {
				ourBridge[l.Attrs().Index] = vni
			}
		}
	}
	for _, br := range bridges {
		ourBridge[br.Attrs().Index] = 0
	}
	for _, l := range links {
		a := l.Attrs()
		if _, isBridge := ourBridge[a.MasterIndex]; !isBridge {
			continue
		}
		if _, _, owned := parseOwned(a.Name); owned {
			continue // our VXLAN devices: handled in step 1 or removed in step 4
		}
		if _, planned := ifaceVNI[a.Name]; planned {
			continue // enslaved to the right bridge below
		}
		if err := r.h.LinkSetNoMaster(l); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("release %s: %w", a.Name, err))
			continue
		}
		res.Changes++
		r.log.Info("released port", "interface", a.Name)
	}
	for _, vni := range vnis {
		br, ok := bridges[vni]
		if !ok {
			continue
		}
		for _, name := range nets[vni].ifaces {
			l, exists := byName[name]
			if !exists {
				res.MissingInterfaces = append(res.MissingInterfaces, name)
				continue
			}
			if err := r.ensurePort(l, br, vni, &res); err != nil {
				errs = append(errs, err)
			}
		}
	}
	sort.Strings(res.MissingInterfaces)

	// 3. FDB entries on our VXLAN devices.
	for _, vni := range vnis {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if vx, ok := vxlans[vni]; ok {
			if err := r.syncFDB(nets[vni], vx, &res); err != nil {
				errs = append(errs, err)
			}
		}
	}

	// 4. Our devices that left the plan: VXLAN devices (and their FDB) first,
	// then bridges (which releases any port still on them).
	for _, wantPrefix := range []string{VXLANPrefix, BridgePrefix} {
		for _, l := range links {
			p, vni, ok := parseOwned(l.Attrs().Name)
			if !ok || p != wantPrefix {
				continue
			}
			if _, keep := nets[vni]; keep {
				continue
			}
			if err := r.h.LinkDel(l); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
				continue
			}
			res.Changes++
			r.log.Info("deleted device", "device", l.Attrs().Name, "vni", vni)
		}
	}
	return res, errors.Join(errs...)
}

// ensureBridge creates or repairs the bridge of a network and returns it.
func (r *Realiser) ensureBridge(d *desiredNet, cur netlink.Link, res *Result) (netlink.Link, error) {
	name := BridgeName(d.vni)
	if cur != nil {
		if _, ok := cur.(*netlink.Bridge); !ok {
			if err := r.h.LinkDel(cur); err != nil && !isGone(err) {
				return nil, fmt.Errorf("replace %s (type %s): %w", name, cur.Type(), err)
			}
			res.Changes++
			r.log.Info("deleted device of wrong type", "device", name, "type", cur.Type())
			cur = nil
		}
	}
	if cur == nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: d.mtu}}
		if err := r.h.LinkAdd(br); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		res.Changes++
		r.log.Info("created bridge", "device", name, "vni", d.vni, "mtu", d.mtu)
		var err error
		if cur, err = r.h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("read back %s: %w", name, err)
		}
		r.noIPv6(cur)
	}
	return cur, r.ensureMTUUp(cur, d.mtu, res)
}

// vxlanMatches reports whether an existing VXLAN device has the attributes
// we would create it with (those that cannot be changed in place).
func (r *Realiser) vxlanMatches(v *netlink.Vxlan, vni int) bool {
	return v.VxlanId == vni && v.SrcAddr.Equal(r.vtep) && !v.Learning && v.Port == VXLANPort &&
		!v.FlowBased && (v.Group == nil || v.Group.IsUnspecified()) && v.VtepDevIndex == 0
}

// ensureVXLAN creates or repairs the VXLAN device of a network, enslaved to
// br and up, and returns it.
func (r *Realiser) ensureVXLAN(d *desiredNet, cur netlink.Link, br netlink.Link, res *Result) (netlink.Link, error) {
	name := VXLANName(d.vni)
	if cur != nil {
		if v, ok := cur.(*netlink.Vxlan); !ok || !r.vxlanMatches(v, d.vni) {
			// Recreating drops its FDB; syncFDB below restores it.
			if err := r.h.LinkDel(cur); err != nil && !isGone(err) {
				return nil, fmt.Errorf("replace %s: %w", name, err)
			}
			res.Changes++
			r.log.Info("deleted outdated vxlan device", "device", name, "vni", d.vni)
			cur = nil
		}
	}
	if cur == nil {
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: d.mtu},
			VxlanId:   d.vni,
			SrcAddr:   r.vtep,
			Learning:  false,
			Port:      VXLANPort,
		}
		if err := r.h.LinkAdd(vx); err != nil {
			return nil, fmt.Errorf("create vxlan %s: %w", name, err)
		}
		res.Changes++
		r.log.Info("created vxlan device", "device", name, "vni", d.vni, "local", r.vtep.String(), "mtu", d.mtu)
		var err error
		if cur, err = r.h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("read back %s: %w", name, err)
		}
		r.noIPv6(cur)
	}
	if cur.Attrs().MasterIndex != br.Attrs().Index {
		if err := r.h.LinkSetMasterByIndex(cur, br.Attrs().Index); err != nil {
			return nil, fmt.Errorf("enslave %s to %s: %w", name, br.Attrs().Name, err)
		}
		res.Changes++
		r.log.Info("enslaved vxlan device", "device", name, "bridge", br.Attrs().Name)
	}
	return cur, r.ensureMTUUp(cur, d.mtu, res)
}

// ensurePort makes the plan interface l a port of br, up.
func (r *Realiser) ensurePort(l, br netlink.Link, vni int, res *Result) error {
	a := l.Attrs()
	if a.MasterIndex != br.Attrs().Index {
		if err := r.h.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
			if isGone(err) {
				res.MissingInterfaces = append(res.MissingInterfaces, a.Name)
				return nil
			}
			return fmt.Errorf("enslave %s to %s: %w", a.Name, br.Attrs().Name, err)
		}
		res.Changes++
		r.log.Info("enslaved port", "interface", a.Name, "bridge", br.Attrs().Name, "vni", vni)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := r.h.LinkSetUp(l); err != nil && !isGone(err) {
			return fmt.Errorf("set %s up: %w", a.Name, err)
		}
		res.Changes++
		r.log.Info("set port up", "interface", a.Name)
	}
	return nil
}

func (r *Realiser) ensureMTUUp(l netlink.Link, mtu int, res *Result) error {
	a := l.Attrs()
	if a.MTU != mtu {
		if err := r.h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set %s mtu %d: %w", a.Name, mtu, err)
		}
		res.Changes++
		r.log.Info("set mtu", "device", a.Name, "mtu", mtu)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := r.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", a.Name, err)
		}
		res.Changes++
		r.log.Info("set device up", "device", a.Name)
	}
	return nil
}

// noIPv6 stops the kernel giving our devices an IPv6 link-local address, so
// the host sends no ND/MLD of its own into tenant networks. Best effort: it
// fails where IPv6 is disabled, which has the same effect.
func (r *Realiser) noIPv6(l netlink.Link) {
	if err := r.h.LinkSetIP6AddrGenMode(l, in6AddrGenModeNone); err != nil {
		r.log.Debug("ipv6 addr_gen_mode none not set", "device", l.Attrs().Name, "error", err)
	}
}

// syncFDB makes the FDB of one VXLAN device equal d: "self" entries are the
// VXLAN remotes, static "master" entries point the bridge at the VXLAN port.
func (r *Realiser) syncFDB(d *desiredNet, vx netlink.Link, res *Result) error {
	idx := vx.Attrs().Index
	name := vx.Attrs().Name
	entries, err := r.fdbList(idx)
	if err != nil {
		return fmt.Errorf("list fdb of %s: %w", name, err)
	}
	haveSelf := map[fdbKey]bool{}
	haveMaster := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.Flags&netlink.NTF_SELF != 0 && e.IP != nil:
			haveSelf[fdbKey{e.HardwareAddr.String(), e.IP.String()}] = true
		case isBridgeEntry(e) && e.State&netlink.NUD_NOARP != 0 && e.State&netlink.NUD_PERMANENT == 0:
			haveMaster[e.HardwareAddr.String()] = true
		}
	}
	var errs []error
	zero := zeroMAC.String()
	// Additions first. A unicast MAC has one remote, replaced in place when
	// it moves to another switch; the zero MAC collects one remote per
	// flood IP ("bridge fdb append").
	for _, k := range sortedKeys(d.self) {
		if haveSelf[k] {
			continue
		}
		n := selfNeigh(idx, k)
		op, add := "replace", r.h.NeighSet
		if k.mac == zero {
			op, add = "append", r.h.NeighAppend
		}
		if err := add(n); err != nil {
			errs = append(errs, fmt.Errorf("fdb %s %s dev %s dst %s: %w", op, k.mac, name, k.dst, err))
			continue
		}
		res.Changes++
		r.log.Info("added fdb entry", "device", name, "vni", d.vni, "mac", k.mac, "dst_ip", k.dst)
	}
	for _, mac := range sortedStrings(d.masterMACs) {
		if haveMaster[mac] {
			continue
		}
		if err := r.h.NeighSet(masterNeigh(idx, mac)); err != nil {
			errs = append(errs, fmt.Errorf("fdb add %s dev %s master static: %w", mac, name, err))
			continue
		}
		res.Changes++
		r.log.Info("added bridge fdb entry", "device", name, "vni", d.vni, "mac", mac)
	}
	for _, k := range sortedKeys(haveSelf) {
		if d.self[k] || (k.mac != zero && d.masterMACs[k.mac]) {
			continue // wanted, or replaced by the wanted remote above
		}
		if err := r.h.NeighDel(selfNeigh(idx, k)); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("fdb del %s dev %s dst %s: %w", k.mac, name, k.dst, err))
			continue
		}
		res.Changes++
		r.log.Info("removed fdb entry", "device", name, "vni", d.vni, "mac", k.mac, "dst_ip", k.dst)
	}
	for _, mac := range sortedStrings(haveMaster) {
		if d.masterMACs[mac] {
			continue
		}
		if err := r.h.NeighDel(masterNeigh(idx, mac)); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("fdb del %s dev %s master: %w", mac, name, err))
			continue
		}
		res.Changes++
		r.log.Info("removed bridge fdb entry", "device", name, "vni", d.vni, "mac", mac)
	}
	return errors.Join(errs...)
}

// isBridgeEntry reports whether a dumped AF_BRIDGE neighbour is the bridge's
// (master) entry rather than the device's own: the kernel marks bridge entries
// with NDA_MASTER and leaves NTF_MASTER unset in dumps.
func isBridgeEntry(e netlink.Neigh) bool {
	return e.Flags&netlink.NTF_SELF == 0 && (e.MasterIndex != 0 || e.Flags&netlink.NTF_MASTER != 0)
}

// fdbList dumps the bridge-family neighbour table of one device, retrying a
// dump the kernel reports as interrupted by concurrent changes.
func (r *Realiser) fdbList(index int) ([]netlink.Neigh, error) {
	var err error
	for range 5 {
		var ns []netlink.Neigh
		ns, err = r.h.NeighList(index, unix.AF_BRIDGE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return ns, err
		}
	}
	return nil, err
}

func selfNeigh(index int, k fdbKey) *netlink.Neigh {
	mac, _ := net.ParseMAC(k.mac) // canonical: parsed before
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		IP:           net.ParseIP(k.dst),
		HardwareAddr: mac,
	}
}

func masterNeigh(index int, macText string) *netlink.Neigh {
	mac, _ := net.ParseMAC(macText)
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_MASTER,
		State:        netlink.NUD_NOARP, // "static": forwarded, not delivered locally
		HardwareAddr: mac,
	}
}

// isGone reports whether err means the object is already absent.
func isGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.As(err, &nf)
}

func sortedKeys(m map[fdbKey]bool) []fdbKey {
	ks := make([]fdbKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b fdbKey) int {
		if a.mac != b.mac {
			if a.mac < b.mac {
				return -1
			}
			return 1
		}
		switch {
		case a.dst < b.dst:
			return -1
		case a.dst > b.dst:
			return 1
		}
		return 0
	})
	return ks
}

func sortedStrings(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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

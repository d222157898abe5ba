package linuxvxlan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// minMTU is the smallest IPv4 MTU (RFC 791).
const minMTU = 68

// Config configures a Dataplane.
type Config struct {
	// Names is the naming convention of our devices. Required.
	Names Names
	// Local is the IPv4 source address of the VXLAN devices. Required to
	// Sync networks; an empty Sync (cleanup) works without it.
	Local netip.Addr
	// MTU is the MTU of a Network whose MTU is 0; 0 means DefaultMTU.
	MTU int
	// Logger receives one Info record per kernel change; nil discards.
	Logger *slog.Logger
}

// Dataplane makes the VXLAN networks of one network namespace equal a list
// of Networks. It keeps no state between calls: each Sync reads the kernel
// and applies the difference. Calls must not run concurrently.
type Dataplane struct {
	nl    Netlink
	names Names
	local net.IP // nil: not configured
	mtu   int
	log   *slog.Logger
}

// New returns a Dataplane working through nl, which stays the caller's.
func New(nl Netlink, cfg Config) (*Dataplane, error) {
	if err := cfg.Names.validate(); err != nil {
		return nil, err
	}
	var local net.IP
	if cfg.Local.IsValid() {
		if !cfg.Local.Unmap().Is4() {
			return nil, fmt.Errorf("local address %s: only IPv4 underlays are supported", cfg.Local)
		}
		local = net.IP(cfg.Local.Unmap().AsSlice())
	}
	mtu := cmp.Or(cfg.MTU, DefaultMTU)
	if mtu < minMTU {
		return nil, fmt.Errorf("mtu %d: too small", mtu)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dataplane{nl: nl, names: cfg.Names, local: local, mtu: mtu, log: log}, nil
}

// Network is the desired state of one VNI.
type Network struct {
	VNI int
	// MTU of the bridge and the VXLAN device; 0 means Config.MTU.
	MTU int
	// Ports are the interfaces to enslave to the bridge. A port that does
	// not exist is reported in Result.Missing.
	Ports []string
	// Remotes maps unicast MACs to the VTEP behind which they are.
	Remotes map[string]netip.Addr
	// Flood lists the VTEPs that get broadcast, unknown unicast and multicast.
	Flood []netip.Addr
}

// Result says what a Sync did and what it could not do.
type Result struct {
	// Changes counts kernel objects created, modified or removed.
	Changes int
	// Missing lists (sorted) ports that do not exist.
	Missing []string
	// Failed holds the error of every network whose devices could not be
	// made; its ports were left alone.
	Failed map[int]error
	// PortErrors holds the error of every port that could not be enslaved.
	PortErrors map[string]error
	// NetworkErrors holds, by VNI, every error that concerns one network:
	// what Failed and PortErrors hold, its FDB entries, what it asks that
	// the kernel cannot take, and the removal of a port from its bridge or
	// of its devices (a VNI not wanted: left-over devices). A wanted VNI
	// not in it, with GlobalError nil, was realised as given.
	NetworkErrors map[int]error
	// GlobalError holds the errors that concern no single network (no
	// local address, the kernel's links or FDB could not be read, the
	// context ended): no network can be taken as realised.
	GlobalError error
	// Learned lists the dynamic bridge entries (MACs learnt from traffic)
	// on the ports of the networks, sorted by VNI and MAC.
	Learned []Learned
}

// Learned is a MAC the kernel learnt on a port of a network's bridge.
type Learned struct {
	VNI int
	MAC string
}

// Links returns the links of the namespace, reading the dump again when the
// kernel reports it interrupted.
func (d *Dataplane) Links() ([]netlink.Link, error) {
	links, err := dump(d.nl.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return links, nil
}

// network is a validated Network in kernel terms.
type network struct {
	vni     int
	mtu     int
	ports   []string
	remotes map[string]netip.Addr // canonical MAC
	flood   []netip.Addr
}

// errNoLocal is returned by a Sync with networks but no local address.
var errNoLocal = errors.New("no local vtep address configured")

// Sync makes our devices, ports and FDB entries equal nets (see the package
// comment). It carries on past a failing network, port or entry, records
// the failure in the Result and returns all errors joined.
func (d *Dataplane) Sync(ctx context.Context, nets []Network) (Result, error) {
	res := Result{Failed: map[int]error{}, PortErrors: map[string]error{}, NetworkErrors: map[int]error{}}
	want, portVNI, errs := d.validate(nets, &res)
	if len(want) > 0 && d.local == nil {
		return res, res.global(errNoLocal)
	}
	links, err := d.Links()
	if err != nil {
		return res, res.global(err)
	}
	byName := map[string]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}
	vnis := slices.Sorted(maps.Keys(want))

	// 1. The devices of every network.
	bridges := map[int]netlink.Link{}
	vxlans := map[int]netlink.Link{}
	for _, vni := range vnis {
		if err := ctx.Err(); err != nil {
			return res, res.global(err)
		}
		br, vx, err := d.ensureDevices(want[vni], byName, &res)
		if err != nil {
			res.Failed[vni] = err
			errs = append(errs, res.network(vni, err))
			continue
		}
		bridges[vni], vxlans[vni] = br, vx
	}

	// 2. Ports: release those planned nowhere, enslave the others.
	errs = append(errs, d.releasePorts(links, bridges, portVNI, &res)...)
	members := map[int][]netlink.Link{}
	for _, vni := range vnis {
		br, ok := bridges[vni]
		if !ok {
			continue
		}
		for _, name := range want[vni].ports {
			l, err := d.ensurePort(byName[name], name, br, vni, &res)
			if err != nil {
				res.PortErrors[name] = err
				errs = append(errs, res.network(vni, err))
			}
			if l != nil {
				members[vni] = append(members[vni], l)
			}
		}
	}
	slices.Sort(res.Missing)

	// 3. FDB entries of the VXLAN devices, and what the bridges learnt.
	if len(vxlans) > 0 {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, res.global(err))...)
		}
		fdb, err := dump(func() ([]netlink.Neigh, error) { return d.nl.NeighList(0, familyBridge) })
		if err != nil {
			errs = append(errs, res.global(fmt.Errorf("list fdb: %w", err)))
		} else {
			byLink := map[int][]netlink.Neigh{}
			for _, n := range fdb {
				byLink[n.LinkIndex] = append(byLink[n.LinkIndex], n)
			}
			for _, vni := range vnis {
				vx, ok := vxlans[vni]
				if !ok {
					continue
				}
				if err := d.syncFDB(want[vni], vx, byLink[vx.Attrs().Index], &res); err != nil {
					errs = append(errs, res.network(vni, err))
				}
				for _, m := range members[vni] {
					res.Learned = append(res.Learned, learned(vni, bridges[vni], byLink[m.Attrs().Index])...)
				}
			}
		}
	}

	slices.SortFunc(res.Learned, func(a, b Learned) int {
		return cmp.Or(cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC))
	})

	// 4. Our devices whose network is gone: VXLAN devices (and their FDB)
	// first, then bridges, which releases any port still on them.
	errs = append(errs, d.deleteUnwanted(links, want, &res)...)
	return res, errors.Join(errs...)
}

// network records err as one of network vni's and returns it.
func (r *Result) network(vni int, err error) error {
	r.NetworkErrors[vni] = errors.Join(r.NetworkErrors[vni], err)
	return err
}

// global records err as concerning every network and returns it.
func (r *Result) global(err error) error {
	r.GlobalError = errors.Join(r.GlobalError, err)
	return err
}

// validate turns nets into kernel terms, keeping what it can: a network, a
// port or an entry the kernel cannot take is an error and is skipped, so
// that it does not block the rest. It returns the networks by VNI and the
// VNI of every port.
func (d *Dataplane) validate(nets []Network, res *Result) (map[int]*network, map[string]int, []error) {
	want := map[int]*network{}
	portVNI := map[string]int{}
	var errs []error
	for _, n := range nets {
		if !ValidVNI(n.VNI) {
			errs = append(errs, res.network(n.VNI, fmt.Errorf("network vni %d: out of range", n.VNI)))
			continue
		}
		if _, dup := want[n.VNI]; dup {
			errs = append(errs, res.network(n.VNI, fmt.Errorf("network vni %d: given twice", n.VNI)))
			continue
		}
		w := &network{vni: n.VNI, mtu: cmp.Or(n.MTU, d.mtu), remotes: map[string]netip.Addr{}}
		if w.mtu < minMTU {
			err := fmt.Errorf("network vni %d: mtu %d too small", n.VNI, w.mtu)
			res.Failed[n.VNI] = err
			errs = append(errs, res.network(n.VNI, err))
			continue
		}
		for _, p := range n.Ports {
			var err error
			switch other, dup := portVNI[p]; {
			case p == "" || len(p) > maxIfName:
				err = fmt.Errorf("port %q of vni %d: invalid interface name", p, n.VNI)
			case dup:
				err = fmt.Errorf("port %s of vni %d: already a port of vni %d", p, n.VNI, other)
			default:
				if kind, _ := d.names.Parse(p); kind != NotOwned {
					err = fmt.Errorf("port %s of vni %d: name reserved for our own devices", p, n.VNI)
				}
			}
			if err != nil {
				res.PortErrors[p] = err
				errs = append(errs, res.network(n.VNI, err))
				continue
			}
			portVNI[p] = n.VNI
			w.ports = append(w.ports, p)
		}
		for mac, dst := range n.Remotes {
			hw, ok := model.UnicastMAC(mac)
			if !ok || !dst.Unmap().Is4() {
				errs = append(errs, res.network(n.VNI, fmt.Errorf("fdb entry %s dst %s of vni %d: want a unicast MAC and an IPv4 address", mac, dst, n.VNI)))
				continue
			}
			w.remotes[hw] = dst.Unmap()
		}
		for _, dst := range n.Flood {
			if !dst.Unmap().Is4() {
				errs = append(errs, res.network(n.VNI, fmt.Errorf("flood address %s of vni %d: want IPv4", dst, n.VNI)))
				continue
			}
			w.flood = append(w.flood, dst.Unmap())
		}
		want[n.VNI] = w
	}
	return want, portVNI, errs
}

// ensureDevices makes the bridge and the VXLAN device of a network.
func (d *Dataplane) ensureDevices(n *network, byName map[string]netlink.Link, res *Result) (br, vx netlink.Link, err error) {
	brName, vxName := d.names.BridgeName(n.vni), d.names.VXLANName(n.vni)
	br, err = d.ensureLink(byName[brName], &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: brName, MTU: n.mtu}},
		func(l netlink.Link) bool { _, ok := l.(*netlink.Bridge); return ok }, n.vni, res)
	if err != nil {
		return nil, nil, err
	}
	if err := d.ensureMTUUp(br, n.mtu, res); err != nil {
		return nil, nil, err
	}
	tmpl := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: vxName, MTU: n.mtu},
		VxlanId:   n.vni,
		SrcAddr:   d.local,
		Learning:  false,
		Port:      Port,
	}
	vx, err = d.ensureLink(byName[vxName], tmpl, func(l netlink.Link) bool {
		v, ok := l.(*netlink.Vxlan)
		return ok && d.vxlanMatches(v, n.vni)
	}, n.vni, res)
	if err != nil {
		return nil, nil, err
	}
	if vx.Attrs().MasterIndex != br.Attrs().Index {
		if err := d.nl.LinkSetMasterByIndex(vx, br.Attrs().Index); err != nil {
			return nil, nil, fmt.Errorf("enslave %s to %s: %w", vxName, brName, err)
		}
		res.Changes++
		d.log.Info("enslaved vxlan device", "device", vxName, "bridge", brName, "vni", n.vni)
		// Remote MACs come from the plan (static master entries), never
		// from bridge learning on the tunnel port. The kernel resets the
		// flag when the port joins a bridge, so this goes with enslaving.
		if err := d.nl.LinkSetLearning(vx, false); err != nil {
			return nil, nil, fmt.Errorf("bridge learning off on %s: %w", vxName, err)
		}
	}
	if err := d.ensureMTUUp(vx, n.mtu, res); err != nil {
		return nil, nil, err
	}
	return br, vx, nil
}

// vxlanMatches reports whether an existing VXLAN device has the attributes
// we would create it with (those that cannot be changed in place).
func (d *Dataplane) vxlanMatches(v *netlink.Vxlan, vni int) bool {
	return v.VxlanId == vni && v.SrcAddr.Equal(d.local) && !v.Learning && v.Port == Port &&
		!v.FlowBased && (v.Group == nil || v.Group.IsUnspecified()) && v.VtepDevIndex == 0
}

// ensureLink returns the device cur, or, when cur is missing or does not
// match, a new device made from tmpl (deleting cur first).
func (d *Dataplane) ensureLink(cur, tmpl netlink.Link, matches func(netlink.Link) bool, vni int, res *Result) (netlink.Link, error) {
	name := tmpl.Attrs().Name
	if cur != nil && matches(cur) {
		return cur, nil
	}
	if cur != nil {
		// A VXLAN device recreated here loses its FDB; syncFDB restores it.
		if err := d.nl.LinkDel(cur); err != nil && !IsGone(err) {
			return nil, fmt.Errorf("replace %s (type %s): %w", name, cur.Type(), err)
		}
		res.Changes++
		d.log.Info("deleted outdated device", "device", name, "type", cur.Type(), "vni", vni)
	}
	if err := d.nl.LinkAdd(tmpl); err != nil {
		if vx, ok := tmpl.(*netlink.Vxlan); ok && errors.Is(err, unix.EEXIST) {
			// The kernel allows one VXLAN device per VNI and UDP port: the
			// name is free (we looked), so a foreign device holds the VNI.
			return nil, fmt.Errorf("create %s %s: %w: another VXLAN device holds vni %d on udp port %d", tmpl.Type(), name, err, vx.VxlanId, vx.Port)
		}
		return nil, fmt.Errorf("create %s %s: %w", tmpl.Type(), name, err)
	}
	res.Changes++
	d.log.Info("created device", "device", name, "type", tmpl.Type(), "vni", vni, "mtu", tmpl.Attrs().MTU)
	l, err := d.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("read back %s: %w", name, err)
	}
	// No IPv6 link-local address, so the host sends no ND/MLD of its own
	// into tenant networks. Best effort: it fails where IPv6 is disabled,
	// which has the same effect.
	if err := d.nl.LinkSetIP6AddrGenMode(l, in6AddrGenModeNone); err != nil {
		d.log.Debug("ipv6 addr_gen_mode none not set", "device", name, "error", err)
	}
	return l, nil
}

func (d *Dataplane) ensureMTUUp(l netlink.Link, mtu int, res *Result) error {
	a := l.Attrs()
	if a.MTU != mtu {
		if err := d.nl.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set %s mtu %d: %w", a.Name, mtu, err)
		}
		res.Changes++
		d.log.Info("set mtu", "device", a.Name, "mtu", mtu)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := d.nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", a.Name, err)
		}
		res.Changes++
		d.log.Info("set device up", "device", a.Name)
	}
	return nil
}

// releasePorts frees the ports of our bridges that no network plans; ports
// planned on another network are moved by ensurePort instead, and our
// VXLAN devices are handled with their network.
func (d *Dataplane) releasePorts(links []netlink.Link, bridges map[int]netlink.Link, portVNI map[string]int, res *Result) []error {
	ours := map[int]int{} // bridge ifindex -> VNI
	for _, l := range links {
		if kind, vni := d.names.Parse(l.Attrs().Name); kind == KindBridge {
			if _, isBridge := l.(*netlink.Bridge); isBridge {
				ours[l.Attrs().Index] = vni
			}
		}
	}
	for vni, br := range bridges {
		ours[br.Attrs().Index] = vni
	}
	enslaved := map[string]netlink.Link{}
	for _, l := range links {
		a := l.Attrs()
		if kind, _ := d.names.Parse(a.Name); kind == NotOwned {
			if _, ok := ours[a.MasterIndex]; ok {
				enslaved[a.Name] = l
			}
		}
	}
	_, release := diff(portVNI, enslaved, strings.Compare)
	var errs []error
	for _, name := range release {
		if err := d.nl.LinkSetNoMaster(enslaved[name]); err != nil && !IsGone(err) {
			// A port left on a wanted network's bridge is that network's
			// problem: it carries the network's traffic.
			errs = append(errs, res.network(ours[enslaved[name].Attrs().MasterIndex], fmt.Errorf("release %s: %w", name, err)))
			continue
		}
		res.Changes++
		d.log.Info("released port", "interface", name)
	}
	return errs
}

// ensurePort makes the port l (named name, nil when missing) a port of br,
// up, and returns it; nil when it is missing or vanished.
func (d *Dataplane) ensurePort(l netlink.Link, name string, br netlink.Link, vni int, res *Result) (netlink.Link, error) {
	if l == nil {
		res.Missing = append(res.Missing, name)
		return nil, nil
	}
	a := l.Attrs()
	if a.MasterIndex != br.Attrs().Index {
		if err := d.nl.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
			if IsGone(err) {
				res.Missing = append(res.Missing, name)
				return nil, nil
			}
			return nil, fmt.Errorf("enslave %s to %s: %w", name, br.Attrs().Name, err)
		}
		res.Changes++
		d.log.Info("enslaved port", "interface", name, "bridge", br.Attrs().Name, "vni", vni)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := d.nl.LinkSetUp(l); err != nil {
			if IsGone(err) {
				res.Missing = append(res.Missing, name)
				return nil, nil
			}
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
		res.Changes++
		d.log.Info("set port up", "interface", name)
	}
	return l, nil
}

// deleteUnwanted deletes our devices whose VNI is not wanted.
func (d *Dataplane) deleteUnwanted(links []netlink.Link, want map[int]*network, res *Result) []error {
	owned := map[Kind]map[int]netlink.Link{KindVXLAN: {}, KindBridge: {}}
	for _, l := range links {
		if kind, vni := d.names.Parse(l.Attrs().Name); kind != NotOwned {
			owned[kind][vni] = l
		}
	}
	var errs []error
	for _, kind := range []Kind{KindVXLAN, KindBridge} {
		_, remove := diff(want, owned[kind], cmp.Compare[int])
		for _, vni := range remove {
			l := owned[kind][vni]
			if err := d.nl.LinkDel(l); err != nil && !IsGone(err) {
				errs = append(errs, res.network(vni, fmt.Errorf("delete %s: %w", l.Attrs().Name, err)))
				continue
			}
			res.Changes++
			d.log.Info("deleted device", "device", l.Attrs().Name, "vni", vni)
		}
	}
	return errs
}

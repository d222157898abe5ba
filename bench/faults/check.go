package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/linuxvxlan"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// The device checks compare states as sorted sets of lines, one per row or
// kernel object, so that a difference prints as the lines missing and the
// lines too many.

// diffLines returns "- line" for each wanted line missing from got and
// "+ line" for each line of got not wanted, or nil when they are equal.
func diffLines(want, got []string) []string {
	w, g := setOf(want), setOf(got)
	var d []string
	for _, s := range want {
		if !g[s] {
			d = append(d, "- "+s)
		}
	}
	for _, s := range got {
		if !w[s] {
			d = append(d, "+ "+s)
		}
	}
	return slices.Compact(d)
}

func setOf(lines []string) map[string]bool {
	m := make(map[string]bool, len(lines))
	for _, s := range lines {
		m[s] = true
	}
	return m
}

// plans computes every switch's and host's plan from the stored state, as
// the servers' plan feeds do (the default planner configuration, which is
// what the lab's replicas run with).
func plans(ctx context.Context, st store.Store) (*planner.Planner, error) {
	snap, err := st.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("store snapshot: %w", err)
	}
	p, err := planner.New(planner.Config{}, snap.Inventory)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return p, nil
}

// switchLines is a switch plan in the form of switchState's lines.
func switchLines(p planner.SwitchPlan) []string {
	var out []string
	for _, ls := range p.LogicalSwitches {
		out = append(out, fmt.Sprintf("ls %s vni %d", ls.Name, ls.VNI))
	}
	for k, ls := range p.Bindings {
		out = append(out, fmt.Sprintf("binding %s vlan %d -> %s", k.Port, k.VLAN, ls))
	}
	for _, m := range p.RemoteMACs {
		out = append(out, fmt.Sprintf("ucast %s %s ip %q -> %s", m.LogicalSwitch, m.MAC, m.IP, m.LocatorIP))
	}
	for _, m := range p.McastRemotes {
		out = append(out, fmt.Sprintf("mcast %s %s -> %s", m.LogicalSwitch, planner.UnknownDst, strings.Join(m.LocatorIPs, ",")))
	}
	slices.Sort(out)
	return out
}

// switchState reads the hardware_vtep rows l2gw programs (every
// Logical_Switch, Physical_Port binding, Ucast_Macs_Remote and
// Mcast_Macs_Remote: on these switches no one else writes them) in one
// transaction and returns them as lines. Physical_Switch's other_config
// (l2gw's lease keys) is not compared.
func switchState(ctx context.Context, o *ovsdbServer) ([]string, error) {
	sel := func(table string, cols ...string) string {
		c, _ := json.Marshal(cols)
		return fmt.Sprintf(`{"op":"select","table":%q,"where":[],"columns":%s}`, table, c)
	}
	out, err := o.transact(ctx, strings.Join([]string{
		sel("Logical_Switch", "_uuid", "name", "tunnel_key"),
		sel("Physical_Port", "name", "vlan_bindings"),
		sel("Physical_Locator", "_uuid", "dst_ip"),
		sel("Physical_Locator_Set", "_uuid", "locators"),
		sel("Ucast_Macs_Remote", "MAC", "logical_switch", "locator", "ipaddr"),
		sel("Mcast_Macs_Remote", "MAC", "logical_switch", "locator_set"),
	}, ","))
	if err != nil {
		return nil, err
	}
	var res []struct {
		Rows  []map[string]json.RawMessage `json:"rows"`
		Error string                       `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("ovsdb-client output: %w", err)
	}
	if len(res) != 6 {
		return nil, fmt.Errorf("ovsdb-client: %d results, want 6", len(res))
	}
	for _, r := range res {
		if r.Error != "" {
			return nil, fmt.Errorf("ovsdb select: %s", r.Error)
		}
	}
	lsName, locIP, locSet := map[string]string{}, map[string]string{}, map[string][]string{}
	var lines []string
	for _, r := range res[0].Rows {
		name, id := atom(r["name"]), uuid(r["_uuid"])
		lsName[id] = name
		key := "none"
		if k := set(r["tunnel_key"]); len(k) == 1 {
			key = string(k[0])
		}
		lines = append(lines, fmt.Sprintf("ls %s vni %s", name, key))
	}
	for _, r := range res[2].Rows {
		locIP[uuid(r["_uuid"])] = atom(r["dst_ip"])
	}
	for _, r := range res[3].Rows {
		var ips []string
		for _, l := range set(r["locators"]) {
			ips = append(ips, locIP[uuid(l)])
		}
		slices.Sort(ips)
		locSet[uuid(r["_uuid"])] = ips
	}
	for _, r := range res[1].Rows {
		port := atom(r["name"])
		for _, kv := range pairs(r["vlan_bindings"]) {
			lines = append(lines, fmt.Sprintf("binding %s vlan %s -> %s", port, kv[0], lsName[uuid(kv[1])]))
		}
	}
	for _, r := range res[4].Rows {
		lines = append(lines, fmt.Sprintf("ucast %s %s ip %q -> %s", lsName[uuid(r["logical_switch"])], atom(r["MAC"]),
			atom(r["ipaddr"]), locIP[uuid(r["locator"])]))
	}
	for _, r := range res[5].Rows {
		lines = append(lines, fmt.Sprintf("mcast %s %s -> %s", lsName[uuid(r["logical_switch"])], atom(r["MAC"]),
			strings.Join(locSet[uuid(r["locator_set"])], ",")))
	}
	slices.Sort(lines)
	return lines, nil
}

// OVSDB JSON values (RFC 7047 section 5.1): atoms, ["uuid", id],
// ["set", [...]] (or a single atom) and ["map", [[k, v], ...]].

func atom(b json.RawMessage) string {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

func uuid(b json.RawMessage) string {
	var u []string
	if json.Unmarshal(b, &u) == nil && len(u) == 2 && u[0] == "uuid" {
		return u[1]
	}
	return string(b)
}

func set(b json.RawMessage) []json.RawMessage {
	var tagged []json.RawMessage
	if json.Unmarshal(b, &tagged) == nil && len(tagged) == 2 && atom(tagged[0]) == "set" {
		var elems []json.RawMessage
		_ = json.Unmarshal(tagged[1], &elems) // a malformed set reads as empty, and then differs from the plan
		return elems
	}
	if len(b) == 0 {
		return nil
	}
	return []json.RawMessage{b}
}

func pairs(b json.RawMessage) [][2]json.RawMessage {
	var tagged []json.RawMessage
	if json.Unmarshal(b, &tagged) != nil || len(tagged) != 2 || atom(tagged[0]) != "map" {
		return nil
	}
	var kvs [][2]json.RawMessage
	_ = json.Unmarshal(tagged[1], &kvs) // a malformed map reads as empty, and then differs from the plan
	return kvs
}

// hostLines is the kernel state a host plan asks for, in hostState's form
// (see internal/hostagent's package doc): per network the bridge and the
// VXLAN device in it, a "self" FDB entry per peer MAC and bare-metal MAC
// toward its VTEP and an all-zeros one per flood destination, and a static
// bridge entry per MAC.
func hostLines(p planner.HostPlan) []string {
	var out []string
	for _, n := range p.Networks {
		vx, br := hostagent.VXLANName(n.VNI), hostagent.BridgeName(n.VNI)
		out = append(out, "link "+br, "link "+vx+" master "+br)
		entry := func(mac, ip string) {
			out = append(out, fmt.Sprintf("fdb %s %s dst %s self", vx, mac, ip))
			if mac != zeroMAC {
				out = append(out, fmt.Sprintf("fdb %s %s master static", vx, mac))
			}
		}
		for _, peer := range n.Peers {
			entry(zeroMAC, peer.VTEPIP)
			for _, mac := range peer.MACs {
				entry(mac, peer.VTEPIP)
			}
		}
		for _, e := range n.FDB {
			entry(e.MAC, e.DstIP)
		}
		for _, ip := range n.FloodIPs {
			entry(zeroMAC, ip)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

const zeroMAC = "00:00:00:00:00:00"

// hostState reads by netlink the devices the host agent owns in a
// namespace (by its naming convention) and their FDB entries: every "self"
// entry of our VXLAN devices, and their static bridge entries (learned and
// local ones belong to the kernel).
func hostState(ns string) ([]string, error) {
	h, err := testenv.NetlinkHandle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("links in %s: %w", ns, err)
	}
	byIndex := map[int]string{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	names := linuxvxlan.Names{Bridge: hostagent.BridgePrefix, VXLAN: hostagent.VXLANPrefix}
	var out []string
	for _, l := range links {
		a := l.Attrs()
		kind, _ := names.Parse(a.Name)
		if kind != linuxvxlan.KindVXLAN && kind != linuxvxlan.KindBridge {
			continue
		}
		s := "link " + a.Name
		if a.MasterIndex != 0 {
			s += " master " + byIndex[a.MasterIndex]
		}
		out = append(out, s)
		if kind != linuxvxlan.KindVXLAN {
			continue
		}
		neighs, err := h.NeighList(a.Index, unix.AF_BRIDGE)
		if err != nil {
			if linuxvxlan.IsGone(err) {
				continue
			}
			return nil, fmt.Errorf("fdb of %s in %s: %w", a.Name, ns, err)
		}
		for _, n := range neighs {
			switch {
			case n.Flags&netlink.NTF_SELF != 0:
				out = append(out, fmt.Sprintf("fdb %s %s dst %s self", a.Name, mac(n.HardwareAddr), n.IP))
			case linuxvxlan.IsBridgeEntry(n) && n.State == netlink.NUD_NOARP:
				out = append(out, fmt.Sprintf("fdb %s %s master static", a.Name, mac(n.HardwareAddr)))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func mac(hw net.HardwareAddr) string {
	if len(hw) == 0 {
		return zeroMAC
	}
	return hw.String()
}

// coverage is how many planned lines the last device check compared.
type coverage struct{ switchRows, hostObjects int }

// devicesDiff compares every switch and host of the lab with its plan and
// returns the differences, prefixed by the device, or nil.
func devicesDiff(ctx context.Context, l *lab, st store.Store) ([]string, coverage, error) {
	var cov coverage
	p, err := plans(ctx, st)
	if err != nil {
		return nil, cov, err
	}
	var diff []string
	var errs []error
	for i, name := range switchNames {
		got, err := switchState(ctx, l.ovsdbs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want := switchLines(p.SwitchPlan(name))
		cov.switchRows += len(want)
		for _, d := range diffLines(want, got) {
			diff = append(diff, name+": "+d)
		}
	}
	for _, name := range hostNames {
		got, err := hostState(l.ns(name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want := hostLines(p.HostPlan(name))
		cov.hostObjects += len(want)
		for _, d := range diffLines(want, got) {
			diff = append(diff, name+": "+d)
		}
	}
	return diff, cov, errors.Join(errs...)
}

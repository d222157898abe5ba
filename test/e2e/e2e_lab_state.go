package e2e

import (
	"fmt"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/testenv"
)

// vtepTables are the hardware_vtep tables (and columns without row UUIDs
// where possible) whose rows a controller or the switch makes for a
// connection.
var vtepTables = []struct{ table, columns string }{
	{"Logical_Switch", "name,tunnel_key,replication_mode"},
	{"Physical_Port", "name,vlan_bindings"},
	{"Ucast_Macs_Remote", "MAC,ipaddr"},
	{"Mcast_Macs_Remote", "MAC"},
	{"Ucast_Macs_Local", "MAC,ipaddr"},
	{"Mcast_Macs_Local", "MAC"},
	{"Physical_Locator", "encapsulation_type,dst_ip"},
	{"Physical_Locator_Set", "locators"},
}

// State is a text picture of everything l2gw, or a switch on its orders,
// may make in the lab: per namespace (compute1, compute2, sw) its devices
// (name, kind, master) and its permanent and static FDB entries; the switch's
// hardware_vtep rows; and for ovs-vtep its Open vSwitch bridges and ports.
// Learned FDB entries and counters are left out: they are the kernel's.
type State map[string]string

// State reads the lab's state.
func (l *Lab) State() (State, error) {
	s := State{}
	for _, ns := range []struct{ role, name string }{
		{"compute1", l.Compute1}, {"compute2", l.Compute2}, {"sw", l.Switch},
	} {
		links, err := linksOf(ns.name)
		if err != nil {
			return nil, err
		}
		s[ns.role+" links"] = links
		fdb, err := l.run("bridge", "-n", ns.name, "fdb", "show")
		if err != nil {
			return nil, fmt.Errorf("bridge -n %s fdb show: %v: %s", ns.name, err, fdb)
		}
		s[ns.role+" fdb"] = strings.Join(filterLines(fdb, func(line string) bool {
			return strings.Contains(line, "permanent") || strings.Contains(line, "static")
		}), "\n")
	}
	for _, tc := range vtepTables {
		args := append([]string{"dump", "--format=csv", "--no-headings", "unix:" + l.VTEPDB, "hardware_vtep", tc.table},
			strings.Split(tc.columns, ",")...)
		out, err := l.run("ovsdb-client", args...)
		if err != nil {
			return nil, fmt.Errorf("ovsdb-client dump %s: %v: %s", tc.table, err, out)
		}
		s["vtep "+tc.table] = strings.Join(filterLines(out, func(line string) bool {
			return !strings.HasSuffix(line, " table") // the table title line
		}), "\n")
	}
	ovs, err := l.OVSState()
	if err != nil {
		return nil, err
	}
	if ovs != "" {
		s["ovs bridges"] = ovs
	}
	return s, nil
}

// filterLines returns the trimmed non-empty lines of s that keep accepts,
// sorted.
func filterLines(s string, keep func(string) bool) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && keep(line) {
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// linksOf lists the devices of namespace ns as "name kind master=M", sorted.
func linksOf(ns string) (string, error) {
	h, err := testenv.NetlinkHandle(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return "", fmt.Errorf("links of %s: %w", ns, err)
	}
	names := map[int]string{}
	for _, lk := range links {
		names[lk.Attrs().Index] = lk.Attrs().Name
	}
	var out []string
	for _, lk := range links {
		a := lk.Attrs()
		line := a.Name + " " + lk.Type()
		if a.MasterIndex != 0 {
			line += " master=" + names[a.MasterIndex]
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return strings.Join(out, "\n"), nil
}

// VXLANPackets returns the rx and tx packet counters of device dev in ns.
func VXLANPackets(ns, dev string) (rx, tx uint64, err error) {
	h, err := testenv.NetlinkHandle(ns)
	if err != nil {
		return 0, 0, err
	}
	defer h.Close()
	lk, err := h.LinkByName(dev)
	if err != nil {
		return 0, 0, fmt.Errorf("%s in %s: %w", dev, ns, err)
	}
	st := lk.Attrs().Statistics
	if st == nil {
		return 0, 0, fmt.Errorf("%s in %s: no statistics", dev, ns)
	}
	return st.RxPackets, st.TxPackets, nil
}

// FDBHas reports whether ns's FDB has the VXLAN entry "mac dev dev dst ip".
func (l *Lab) FDBHas(ns, dev, mac, ip string) (bool, error) {
	out, err := l.run("bridge", "-n", ns, "fdb", "show", "dev", dev)
	if err != nil {
		return false, fmt.Errorf("bridge -n %s fdb show dev %s: %v: %s", ns, dev, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.EqualFold(f[0], mac) && slices.Contains(f, "dst") &&
			f[slices.Index(f, "dst")+1] == ip {
			return true, nil
		}
	}
	return false, nil
}

package softvtep

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Port maps a Physical_Port of the switch to the Linux interface behind it.
type Port struct {
	Name      string // Physical_Port name, e.g. "port1"
	Interface string // Linux interface, e.g. "p1"; bindings use "p1.<vlan>"
}

// ParsePort parses "NAME=IFNAME" as given to --port.
func ParsePort(s string) (Port, error) {
	name, ifname, ok := strings.Cut(s, "=")
	if !ok || name == "" || ifname == "" {
		return Port{}, fmt.Errorf("port %q: want NAME=IFNAME", s)
	}
	return Port{Name: name, Interface: ifname}, nil
}

// Config configures a soft VTEP.
type Config struct {
	// OVSDB is the hardware_vtep database endpoint ("unix:PATH", "tcp:IP:PORT").
	// It is reached from the caller's network namespace. Required.
	OVSDB string
	// Name is the Physical_Switch name. Required.
	Name string
	// TunnelIP is the switch's VTEP IPv4 address (Physical_Switch.tunnel_ips,
	// local address of the VXLAN devices). Required.
	TunnelIP netip.Addr
	// Ports are the switch's Physical_Ports. Required, names and interfaces unique.
	Ports []Port
	// NetNS is the named network namespace (/run/netns/NAME) holding the data
	// plane. Empty: the caller's namespace.
	NetNS string
	// Cleanup removes every device the soft VTEP owns when Run returns. False
	// (the default) keeps forwarding across restarts, like a hardware switch.
	Cleanup bool
	// ResyncInterval is the period of the full reconcile that catches missed
	// events. Zero means 5s.
	ResyncInterval time.Duration
	// MTU of the VXLAN devices. Zero means 1450 (1500 underlay minus 50 bytes
	// of VXLAN encapsulation).
	MTU int
	// Registerer receives the soft VTEP's metrics (internal/metrics'
	// reconcile metrics, component "softvtep"). Nil: not registered.
	Registerer prometheus.Registerer
}

func (c *Config) validate() error {
	var errs []error
	if c.OVSDB == "" {
		errs = append(errs, errors.New("ovsdb endpoint is required"))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("switch name is required"))
	}
	if !c.TunnelIP.Is4() {
		errs = append(errs, fmt.Errorf("tunnel ip %q: want an IPv4 address", c.TunnelIP))
	}
	if len(c.Ports) == 0 {
		errs = append(errs, errors.New("at least one port is required"))
	}
	names, ifnames := map[string]bool{}, map[string]bool{}
	for _, p := range c.Ports {
		if names[p.Name] {
			errs = append(errs, fmt.Errorf("port %s given twice", p.Name))
		}
		if ifnames[p.Interface] {
			errs = append(errs, fmt.Errorf("interface %s given twice", p.Interface))
		}
		if len(p.Interface) > maxIfName {
			errs = append(errs, fmt.Errorf("interface %s: name longer than %d", p.Interface, maxIfName))
		}
		names[p.Name], ifnames[p.Interface] = true, true
	}
	if c.ResyncInterval < 0 {
		errs = append(errs, errors.New("resync interval must not be negative"))
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		errs = append(errs, fmt.Errorf("mtu %d out of range", c.MTU))
	}
	return errors.Join(errs...)
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.ResyncInterval == 0 {
		d.ResyncInterval = 5 * time.Second
	}
	if d.MTU == 0 {
		d.MTU = 1450
	}
	return d
}

package switchagent

import (
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// Switch-learnt MACs that are not unicast are never reported (so never
// planned to hosts) and logged once, not on every pass.
func TestLocalMACsNotUnicastIgnored(t *testing.T) {
	o := newSwitch(t, false, "port1")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").build())
	ignored := msgCounter{msg: "local mac ignored", n: new(atomic.Int64)}
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", ReportDebounce: 10 * time.Millisecond, Logger: slog.New(ignored)}, plans, rec)
	rec.waitSynced(t, 1, "")
	bad := []string{"ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:01", "33:33:00:00:00:01"}
	for _, mac := range bad {
		o.VTEPCtl(t, "add-ucast-local", "net1", mac, "192.0.2.1")
	}
	// Behind a locator that is not the switch's tunnel IP: not the switch's.
	o.VTEPCtl(t, "add-ucast-local", "net1", "00:aa:00:00:00:02", "198.51.100.7")
	bad = append(bad, "00:aa:00:00:00:02")
	o.VTEPCtl(t, "add-ucast-local", "net1", "00:aa:00:00:00:01", "192.0.2.1")
	want := []model.LocalMAC{{Switch: "gatewayhost", NetworkID: "net-net1", MAC: "00:aa:00:00:00:01", LocatorIP: "192.0.2.1"}}
	eventually(t, 20*time.Second, func() string {
		got, _ := rec.lastReport()
		if diff := cmp.Diff(want, got.LocalMACs); diff != "" {
			return "local macs (-want +got):\n" + diff
		}
		return ""
	})
	// More passes: the same lines are not logged again.
	for i := range 5 {
		o.VTEPCtl(t, "add-port", "gatewayhost", fmt.Sprintf("port%d", i+2))
	}
	eventually(t, 20*time.Second, func() string {
		got, _ := rec.lastReport()
		if len(got.Switch.Ports) != 6 {
			return fmt.Sprintf("%d ports reported; want 6", len(got.Switch.Ports))
		}
		return ""
	})
	if n := ignored.n.Load(); n != int64(len(bad)) {
		t.Errorf("%d %q lines; want %d (one per MAC)", n, ignored.msg, len(bad))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.reports {
		for _, m := range r.LocalMACs {
			if slices.Contains(bad, m.MAC) {
				t.Errorf("reported local mac %s", m.MAC)
			}
		}
	}
}

// A switch whose tunnel IP is not IPv4 shows a fault and is not programmed
// until it has an IPv4 one.
func TestTunnelIPNotIPv4(t *testing.T) {
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", `tunnel_ips="2001:db8::1"`,
		"--", "add-port", "gatewayhost", "port1")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").mac("net1", "fa:16:3e:00:00:01", "", "192.0.2.11").flood("net1", "192.0.2.11").build())
	startAgent(t, Config{Target: o.UnixTarget(), Switch: "gatewayhost", ReportDebounce: 10 * time.Millisecond}, plans, rec)
	const fault = "tunnel ip 2001:db8::1 is not IPv4: hardware_vtep locators are vxlan_over_ipv4"
	eventually(t, 20*time.Second, func() string {
		s, _ := rec.lastStatus()
		r, _ := rec.lastReport()
		if !s.Connected || s.Error != fault || s.Revision != 0 {
			return fmt.Sprintf("status %+v; want connected, nothing applied, error %q", s, fault)
		}
		if !slices.Contains(r.Switch.FaultStatus, fault) {
			return fmt.Sprintf("report faults %q; want %q", r.Switch.FaultStatus, fault)
		}
		return ""
	})
	if got := ourState(t, state(t, o)); len(got) != 0 {
		t.Fatalf("switch programmed with an IPv6 tunnel ip: %q", got)
	}
	o.VTEPCtl(t, "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.1")
	rec.waitSynced(t, 1, "")
	if got := filter(state(t, o), "binding ", "Ucast_Macs_Remote "); !cmp.Equal(got, []string{
		"Ucast_Macs_Remote net1 fa:16:3e:00:00:01 ip= -> 192.0.2.11", "binding port1/100 net1"}) {
		t.Errorf("state %q after the IPv4 tunnel ip", got)
	}
	if r, _ := rec.lastReport(); len(r.Switch.FaultStatus) != 0 {
		t.Errorf("faults %q after the IPv4 tunnel ip", r.Switch.FaultStatus)
	}
}

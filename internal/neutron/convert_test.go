package neutron

import (
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

func TestPortStatus(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		mod  func(p *model.Port, h **model.Host, s **model.HostStatus)
		want string
	}{
		{"attached under a running agent", func(*model.Port, **model.Host, **model.HostStatus) {}, PortActive},
		{"no host known", func(_ *model.Port, h **model.Host, _ **model.HostStatus) { *h = nil }, PortDown},
		{"no agent status", func(_ *model.Port, _ **model.Host, s **model.HostStatus) { *s = nil }, PortDown},
		{"agent gone", func(_ *model.Port, _ **model.Host, s **model.HostStatus) { (*s).Connected = false }, PortDown},
		{"heartbeat expired", func(_ *model.Port, h **model.Host, _ **model.HostStatus) {
			(*h).LastHeartbeat = now.Add(-2 * HostAliveWindow)
		}, PortDown},
		{"interface missing", func(_ *model.Port, _ **model.Host, s **model.HostStatus) {
			(*s).Networks = []model.HostNetworkStatus{{NetworkID: "n1", Missing: []string{"tap1"}}}
		}, PortDown},
		{"attached to another network", func(_ *model.Port, _ **model.Host, s **model.HostStatus) {
			(*s).Networks = []model.HostNetworkStatus{{NetworkID: "n2", Attached: []string{"tap1"}}}
		}, PortDown},
		{"admin down", func(p *model.Port, _ **model.Host, _ **model.HostStatus) { p.AdminStateUp = false }, PortDown},
		{"no interface", func(p *model.Port, _ **model.Host, _ **model.HostStatus) { p.InterfaceName = "" }, PortDown},
		{"no host", func(p *model.Port, _ **model.Host, _ **model.HostStatus) { p.HostID = "" }, PortDown},
	}
	for _, tc := range tests {
		p := model.Port{ID: "p", NetworkID: "n1", HostID: "h1", InterfaceName: "tap1", AdminStateUp: true}
		h := &model.Host{Name: "h1", LastHeartbeat: now.Add(-time.Second)}
		s := &model.HostStatus{Name: "h1", Connected: true, Networks: []model.HostNetworkStatus{{NetworkID: "n1", Attached: []string{"tap1"}}}}
		tc.mod(&p, &h, &s)
		if got := PortStatus(p, h, s, now); got != tc.want {
			t.Errorf("%s: PortStatus() = %s; want %s", tc.name, got, tc.want)
		}
	}
}

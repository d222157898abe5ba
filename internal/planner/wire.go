package planner

import (
	"encoding/json"
	"fmt"
)

// The wire form of plans lists every map as an array sorted by key (struct
// keys cannot be JSON object keys), so equal plans encode to equal bytes:
//
//	{"switch":"sw1","logical_switches":[...],"bindings":[{"port":"p1","vlan":100,"logical_switch":"<net>"}],
//	 "remote_macs":[...],"mcast_remotes":[...]}
//	{"host":"compute1","networks":[...]}
type switchPlanWire struct {
	Switch          string          `json:"switch"`
	LogicalSwitches []LogicalSwitch `json:"logical_switches"`
	Bindings        []Binding       `json:"bindings"`
	RemoteMACs      []RemoteMAC     `json:"remote_macs"`
	McastRemotes    []McastRemote   `json:"mcast_remotes"`
}

type hostPlanWire struct {
	Host     string        `json:"host"`
	Networks []HostNetwork `json:"networks"`
}

// MarshalJSON encodes the plan in its list form, sorted by key.
func (p SwitchPlan) MarshalJSON() ([]byte, error) {
	d := DiffSwitch(SwitchPlan{}, p)
	w := switchPlanWire{
		Switch:          p.Switch,
		LogicalSwitches: nonNil(d.UpsertLogicalSwitches),
		Bindings:        nonNil(d.UpsertBindings),
		RemoteMACs:      nonNil(d.UpsertRemoteMACs),
		McastRemotes:    nonNil(d.UpsertMcastRemotes),
	}
	for i := range w.McastRemotes {
		w.McastRemotes[i].LocatorIPs = nonNil(w.McastRemotes[i].LocatorIPs)
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the list form. A key listed twice is an error.
func (p *SwitchPlan) UnmarshalJSON(b []byte) error {
	var w switchPlanWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode switch plan: %w", err)
	}
	np := NewSwitchPlan(w.Switch)
	for _, v := range w.LogicalSwitches {
		if _, dup := np.LogicalSwitches[v.Name]; dup {
			return fmt.Errorf("decode switch plan: logical switch %q listed twice", v.Name)
		}
		np.LogicalSwitches[v.Name] = v
	}
	for _, v := range w.Bindings {
		if _, dup := np.Bindings[v.Key()]; dup {
			return fmt.Errorf("decode switch plan: binding %s/%d listed twice", v.Port, v.VLAN)
		}
		np.Bindings[v.Key()] = v.LogicalSwitch
	}
	for _, v := range w.RemoteMACs {
		if _, dup := np.RemoteMACs[v.Key()]; dup {
			return fmt.Errorf("decode switch plan: remote mac %s in %q listed twice", v.MAC, v.LogicalSwitch)
		}
		np.RemoteMACs[v.Key()] = v
	}
	for _, v := range w.McastRemotes {
		if _, dup := np.McastRemotes[v.LogicalSwitch]; dup {
			return fmt.Errorf("decode switch plan: mcast remote of %q listed twice", v.LogicalSwitch)
		}
		np.McastRemotes[v.LogicalSwitch] = v
	}
	*p = np
	return nil
}

// MarshalJSON encodes the plan with its networks as a list sorted by id.
func (p HostPlan) MarshalJSON() ([]byte, error) {
	d := DiffHost(HostPlan{}, p)
	return json.Marshal(hostPlanWire{Host: p.Host, Networks: nonNil(d.UpsertNetworks)})
}

// UnmarshalJSON decodes the list form. A network listed twice is an error.
func (p *HostPlan) UnmarshalJSON(b []byte) error {
	var w hostPlanWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode host plan: %w", err)
	}
	np := NewHostPlan(w.Host)
	for _, v := range w.Networks {
		if _, dup := np.Networks[v.NetworkID]; dup {
			return fmt.Errorf("decode host plan: network %q listed twice", v.NetworkID)
		}
		np.Networks[v.NetworkID] = v
	}
	*p = np
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

package planner

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSwitchPlanJSON(t *testing.T) {
	sp := baseSwitch()
	sp.Bindings[BindingKey{"port0", 0}] = net1
	b, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"switch":"gatewayhost",` +
		`"logical_switches":[{"name":"` + net1 + `","network_id":"` + net1 + `","vni":1000,"replication_mode":"source_node","description":"net1"}],` +
		`"bindings":[{"port":"port0","vlan":0,"logical_switch":"` + net1 + `"},{"port":"port1","vlan":100,"logical_switch":"` + net1 + `"},{"port":"port2","vlan":100,"logical_switch":"` + net1 + `"}],` +
		`"remote_macs":[{"logical_switch":"` + net1 + `","mac":"fa:16:3e:18:b5:c1","ip":"10.0.0.186","locator_ip":"127.0.0.11"},{"logical_switch":"` + net1 + `","mac":"fa:16:3e:bc:94:ce","ip":"10.0.0.37","locator_ip":"127.0.0.12"}],` +
		`"mcast_remotes":[{"logical_switch":"` + net1 + `","locator_ips":["127.0.0.11","127.0.0.12"]}]}`
	if string(b) != want {
		t.Errorf("json.Marshal(plan) =\n%s\nwant\n%s", b, want)
	}
	var got SwitchPlan
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sp, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	empty, err := json.Marshal(NewSwitchPlan("sw"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"switch":"sw","logical_switches":[],"bindings":[],"remote_macs":[],"mcast_remotes":[]}`; string(empty) != want {
		t.Errorf("json.Marshal(empty plan) = %s; want %s", empty, want)
	}
	var e SwitchPlan
	if err := json.Unmarshal(empty, &e); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(NewSwitchPlan("sw"), e); diff != "" {
		t.Errorf("empty round trip (-want +got):\n%s", diff)
	}
}

func TestHostPlanJSON(t *testing.T) {
	hp := baseHost("compute1", "tap1")
	hp.Networks["n2"] = HostNetwork{NetworkID: "n2", VNI: 7, FDB: []FDBEntry{{MAC: "52:54:00:00:00:01", DstIP: "192.0.2.1"}}}
	hp.Networks["n3"] = HostNetwork{NetworkID: "n3", VNI: 8, Peers: []Peer{{VTEPIP: "192.0.2.2", MACs: []string{"fa:16:3e:00:00:01"}}, {VTEPIP: "192.0.2.3"}}}
	b, err := json.Marshal(hp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"host":"compute1","networks":[` +
		`{"network_id":"` + net1 + `","vni":1000,"mtu":1450,"interfaces":["tap1"],"flood_ips":["127.0.0.42"]},` +
		`{"network_id":"n2","vni":7,"fdb":[{"mac":"52:54:00:00:00:01","dst_ip":"192.0.2.1"}]},` +
		`{"network_id":"n3","vni":8,"peers":[{"vtep_ip":"192.0.2.2","macs":["fa:16:3e:00:00:01"]},{"vtep_ip":"192.0.2.3"}]}]}`
	if string(b) != want {
		t.Errorf("json.Marshal(plan) =\n%s\nwant\n%s", b, want)
	}
	var got HostPlan
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hp, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDeltaJSON(t *testing.T) {
	old := baseSwitch()
	nw := baseSwitch()
	delete(nw.Bindings, BindingKey{"port2", 100})
	nw.Bindings[BindingKey{"port3", 7}] = net1
	delete(nw.RemoteMACs, MACKey{net1, "fa:16:3e:18:b5:c1"})
	nw.McastRemotes[net1] = McastRemote{LogicalSwitch: net1, LocatorIPs: []string{"127.0.0.12"}}
	d := DiffSwitch(old, nw)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"upsert_bindings":[{"port":"port3","vlan":7,"logical_switch":"` + net1 + `"}],` +
		`"delete_bindings":[{"port":"port2","vlan":100}],` +
		`"delete_remote_macs":[{"logical_switch":"` + net1 + `","mac":"fa:16:3e:18:b5:c1"}],` +
		`"upsert_mcast_remotes":[{"logical_switch":"` + net1 + `","locator_ips":["127.0.0.12"]}]}`
	if string(b) != want {
		t.Errorf("json.Marshal(delta) =\n%s\nwant\n%s", b, want)
	}
	var got SwitchDelta
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	applied := old.Clone()
	applied.Apply(got)
	if diff := cmp.Diff(nw, applied); diff != "" {
		t.Errorf("Apply(old, delta) (-want +got):\n%s", diff)
	}

	hd := DiffHost(baseHost("c", "tap1"), HostPlan{Host: "c", Networks: map[string]HostNetwork{"n2": {NetworkID: "n2", VNI: 2}}})
	hb, err := json.Marshal(hd)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"upsert_networks":[{"network_id":"n2","vni":2}],"delete_networks":["` + net1 + `"]}`; string(hb) != want {
		t.Errorf("json.Marshal(host delta) = %s; want %s", hb, want)
	}
	var hgot HostDelta
	if err := json.Unmarshal(hb, &hgot); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hd, hgot); diff != "" {
		t.Errorf("host delta round trip (-want +got):\n%s", diff)
	}
}

func TestPlanJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		v    any
	}{
		{"switch: not an object", `[]`, &SwitchPlan{}},
		{"switch: duplicate binding", `{"bindings":[{"port":"a","vlan":1,"logical_switch":"x"},{"port":"a","vlan":1,"logical_switch":"y"}]}`, &SwitchPlan{}},
		{"switch: duplicate mac", `{"remote_macs":[{"logical_switch":"x","mac":"m"},{"logical_switch":"x","mac":"m"}]}`, &SwitchPlan{}},
		{"switch: duplicate ls", `{"logical_switches":[{"name":"x"},{"name":"x"}]}`, &SwitchPlan{}},
		{"switch: duplicate mcast", `{"mcast_remotes":[{"logical_switch":"x"},{"logical_switch":"x"}]}`, &SwitchPlan{}},
		{"host: bad type", `{"networks":{}}`, &HostPlan{}},
		{"host: duplicate network", `{"networks":[{"network_id":"n"},{"network_id":"n"}]}`, &HostPlan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.in), tt.v); err == nil {
				t.Errorf("json.Unmarshal(%s) succeeded; want error", tt.in)
			}
		})
	}
}

func FuzzSwitchPlanJSON(f *testing.F) {
	b, _ := json.Marshal(baseSwitch())
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p SwitchPlan
		if err := json.Unmarshal(in, &p); err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q SwitchPlan
		if err := json.Unmarshal(out, &q); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		// The encoding is canonical: a decoded plan re-encodes to a fixed point.
		again, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(out) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, again)
		}
	})
}

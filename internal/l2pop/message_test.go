package l2pop

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCastBody checks the oslo.messaging 2.0 envelope and the inner
// message fields a Neutron agent's dispatcher and context need
// (openstack.md §2); that the agents accept it is what
// TestL2PopAgainstRealAgents shows.
func TestCastBody(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 42, 11, 96524000, time.UTC)
	b, err := castBody(MethodAdd, FDB{net1: {VNI: 1000, Ports: map[string][]Entry{swIP: {{FloodingMAC, FloodingIP}}}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("envelope %s: %v", b, err)
	}
	if env["oslo.version"] != "2.0" {
		t.Errorf("oslo.version = %q; want 2.0", env["oslo.version"])
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(env["oslo.message"]), &inner); err != nil {
		t.Fatalf("oslo.message %q: %v", env["oslo.message"], err)
	}
	for _, k := range []string{"_unique_id", "_context_request_id"} {
		if s, _ := inner[k].(string); len(s) < 32 {
			t.Errorf("%s = %v; want a uuid", k, inner[k])
		}
		delete(inner, k)
	}
	want := map[string]any{
		"method":  "add_fdb_entries",
		"version": "1.0",
		"args": map[string]any{"fdb_entries": map[string]any{net1: map[string]any{
			"segment_id": 1000.0, "network_type": "vxlan", "ports": map[string]any{swIP: []any{[]any{FloodingMAC, FloodingIP}}}}}},
		"_context_is_admin": true, "_context_roles": []any{"admin"}, "_context_timestamp": "2026-11-26 10:42:11.096524",
		"_context_user_id": nil, "_context_project_id": nil, "_context_tenant_id": nil,
		"_context_user_name": "l2gw", "_context_read_deleted": "no",
	}
	if diff := cmp.Diff(want, inner); diff != "" {
		t.Errorf("inner message (-want +got):\n%s", diff)
	}
	if _, ok := inner["_msg_id"]; ok {
		t.Error("a cast carries _msg_id")
	}
}

func TestInventoryEvent(t *testing.T) {
	env := func(inner string) []byte {
		b, _ := json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": inner})
		return b
	}
	tests := []struct {
		name string
		body []byte
		want bool
	}{
		{"port update", env(`{"event_type":"port.update.end","payload":{}}`), true},
		{"network create", env(`{"event_type":"network.create.end"}`), true},
		{"subnet", env(`{"event_type":"subnet.create.end"}`), false},
		{"not oslo", []byte(`{"event_type":"port.update.end"}`), false},
		{"garbage", []byte(`not json`), false},
	}
	for _, tc := range tests {
		if got := inventoryEvent(tc.body); got != tc.want {
			t.Errorf("%s: inventoryEvent = %v; want %v", tc.name, got, tc.want)
		}
	}
}

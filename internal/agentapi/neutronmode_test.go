package agentapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
)

// TestInventoryFromNeutron: with the inventory mirrored from Neutron, a
// host agent's registration is refused (409, the configured message) and
// the system status carries the mirror's state.
func TestInventoryFromNeutron(t *testing.T) {
	const msg = "The inventory is managed by Neutron."
	inv := &agentwire.InventoryStatus{Source: "neutron", URL: "http://neutron:9696", State: "unreachable", Summary: "neutron: unreachable since …"}
	e := newEnv(t, agentapi.Config{InventoryReadOnly: msg, Inventory: func() *agentwire.InventoryStatus { return inv }})
	code, body := e.do("POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"192.0.2.9"}`)
	var fault neutron.ErrorBody
	if code != http.StatusConflict || json.Unmarshal(body, &fault) != nil || fault.NeutronError.Message != msg {
		t.Errorf("register host = %d %s; want 409 %q", code, body, msg)
	}
	code, body = e.do("GET", agentwire.SystemStatusPath, "")
	var st agentwire.SystemStatus
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
		t.Fatalf("status = %d %s", code, body)
	}
	if st.Server.Inventory == nil || *st.Server.Inventory != *inv {
		t.Errorf("status server.inventory = %+v; want %+v", st.Server.Inventory, inv)
	}
}

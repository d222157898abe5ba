package agentapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
)

// TestRegisterHostConflict: a registration whose VTEP IP differs from the
// recorded one is a 409 that says which IP is recorded and how to change
// it, and leaves the host as it was; the agent link hands it on as a
// model.ErrConflict fault (the host agent stops on it).
func TestRegisterHostConflict(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	code, body := e.do("POST", neutron.PathHosts, `{"host":{"name":"compute1","vtep_ip":"192.0.2.2"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create host = %d %s", code, body)
	}
	var created struct {
		Host neutron.Host `json:"host"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	want := "Host compute1 is recorded with VTEP IP 192.0.2.2, but its agent registers 192.0.2.9. If the host's VTEP IP really changed, " +
		"change it through the API first: l2gw host-update compute1 --vtep-ip 192.0.2.9 (PUT /v2.0/hosts/" + created.Host.ID +
		"); otherwise start the host agent with --vtep-ip 192.0.2.2."

	code, body = e.do("POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"192.0.2.9"}`)
	var fault neutron.ErrorBody
	if code != http.StatusConflict || json.Unmarshal(body, &fault) != nil {
		t.Fatalf("register with another ip = %d %s; want 409", code, body)
	}
	if fault.NeutronError.Type != "HostVTEPIPConflict" || fault.NeutronError.Message != want {
		t.Errorf("register with another ip = %+v; want HostVTEPIPConflict %q", fault.NeutronError, want)
	}
	_, err := e.link(agentlink.Config{}).RegisterHost(e.ctx, "compute1", "192.0.2.9", time.Now())
	var f *model.Fault
	if !errors.Is(err, model.ErrConflict) || !errors.As(err, &f) || f.Message != want {
		t.Errorf("agentlink RegisterHost(other ip) = %v; want a model.ErrConflict fault with the server's message", err)
	}
	code, body = e.do("GET", neutron.PathHosts+"/"+created.Host.ID, "")
	if code != http.StatusOK || !strings.Contains(string(body), `"vtep_ip":"192.0.2.2"`) || !strings.Contains(string(body), `"alive":false`) {
		t.Errorf("host after refused registrations = %d %s; want 192.0.2.2, not alive", code, body)
	}

	// The recorded IP registers; an IPv4-mapped form of it is the same IP.
	for _, ip := range []string{"192.0.2.2", "::ffff:192.0.2.2"} {
		if code, body := e.do("POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"`+ip+`"}`); code != http.StatusOK {
			t.Errorf("register %s = %d %s; want 200", ip, code, body)
		}
	}
	// After host-update, the new IP registers and the old one is refused.
	if code, body := e.do("PUT", neutron.PathHosts+"/"+created.Host.ID, `{"host":{"vtep_ip":"192.0.2.9"}}`); code != http.StatusOK {
		t.Fatalf("host update = %d %s", code, body)
	}
	if _, err := e.link(agentlink.Config{}).RegisterHost(e.ctx, "compute1", "192.0.2.9", time.Now()); err != nil {
		t.Errorf("register the updated ip = %v", err)
	}
	if code, body := e.do("POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"192.0.2.2"}`); code != http.StatusConflict {
		t.Errorf("register the old ip after the update = %d %s; want 409", code, body)
	}
}

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

// TestLeaseEndpoints drives the switch and host lease endpoints over HTTP
// against a real store: acquire, a second agent refused with a 409 naming
// the holder, renew, release and takeover with the next epoch, bad input,
// other methods; and the agent link's view of a refusal.
func TestLeaseEndpoints(t *testing.T) {
	e := newEnv(t, agentapi.Config{})
	for _, path := range []string{agentwire.SwitchLeasePath("sw1"), agentwire.HostLeasePath("compute1")} {
		t.Run(path, func(t *testing.T) {
			take := func(body string) (int, agentwire.LeaseResponse, neutron.ErrorBody) {
				t.Helper()
				code, b := e.do("POST", path, body)
				var ok agentwire.LeaseResponse
				var fault neutron.ErrorBody
				if code == http.StatusOK {
					if err := json.Unmarshal(b, &ok); err != nil {
						t.Fatalf("POST %s = %s: %v", path, b, err)
					}
				} else if err := json.Unmarshal(b, &fault); err != nil {
					t.Fatalf("POST %s = %d %s: %v", path, code, b, err)
				}
				return code, ok, fault
			}
			code, l, _ := take(`{"agent":"a","instance":"a1","duration_ms":60000}`)
			if code != http.StatusOK || l.Lease.Agent != "a" || l.Lease.Epoch != 1 || l.Lease.DurationMS != agentapi.MaxLeaseDuration.Milliseconds() || l.Lease.ExpiresInMS <= 0 {
				t.Fatalf("acquire = %d %+v; want a at epoch 1 for the longest lease the server grants", code, l)
			}
			code, _, f := take(`{"agent":"b","instance":"b1","duration_ms":2000}`)
			if code != http.StatusConflict || f.NeutronError.Type != "LeaseHeld" || !strings.Contains(f.NeutronError.Message, " is served by agent a (epoch 1") {
				t.Errorf("second agent = %d %+v; want 409 LeaseHeld naming agent a", code, f)
			}
			if code, l, _ := take(`{"agent":"a","instance":"a1","epoch":1,"duration_ms":2000}`); code != http.StatusOK || l.Lease.Epoch != 1 || l.Lease.DurationMS != 2000 {
				t.Errorf("renew = %d %+v; want epoch 1 for 2s", code, l)
			}
			if code, _, f := take(`{"agent":"b","instance":"b1","epoch":1,"duration_ms":2000}`); code != http.StatusConflict || f.NeutronError.Type != "LeaseLost" {
				t.Errorf("renew by another = %d %+v; want 409 LeaseLost", code, f)
			}
			if code, body := e.do("DELETE", path+"?agent=a&instance=a1&epoch=1", ""); code != http.StatusNoContent {
				t.Errorf("release = %d %s; want 204", code, body)
			}
			if code, l, _ := take(`{"agent":"b","instance":"b1","duration_ms":2000}`); code != http.StatusOK || l.Lease.Agent != "b" || l.Lease.Epoch != 2 {
				t.Errorf("takeover after the release = %d %+v; want b at epoch 2", code, l)
			}
			for _, body := range []string{
				`{"instance":"x","duration_ms":1}`,
				`{"agent":"x","duration_ms":1}`,
				`{"agent":"x","instance":"x","duration_ms":0}`,
				`{"agent":"x","instance":"x","epoch":-1,"duration_ms":1}`,
				`{"agent":"x","instance":"x","duration_ms":1,"extra":1}`,
			} {
				if code, _, _ := take(body); code != http.StatusBadRequest {
					t.Errorf("POST %s = %d; want 400", body, code)
				}
			}
			if code, _ := e.do("DELETE", path+"?agent=a&instance=a1&epoch=x", ""); code != http.StatusBadRequest {
				t.Errorf("release with a bad epoch = %d; want 400", code)
			}
			if code, _ := e.do("GET", path, ""); code != http.StatusMethodNotAllowed {
				t.Errorf("GET = %d; want 405", code)
			}
		})
	}
	_, err := e.link(agentlink.Config{}).AcquireLease(e.ctx, "switch", "sw1", "c", "c1", 0, time.Second)
	var f *model.Fault
	if !errors.Is(err, model.ErrConflict) || !errors.As(err, &f) || !strings.Contains(f.Message, "agent b") {
		t.Errorf("agentlink AcquireLease of a held lease = %v; want a model.ErrConflict fault naming agent b", err)
	}
}

package agentapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// TestInvalidUTF8Names: a host or switch name that is not UTF-8, in the
// path ("%ff") or in a report body, is refused with 400 instead of being
// stored (or looked up) with U+FFFD in its place.
func TestInvalidUTF8Names(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour})
	tests := []struct {
		name, method, path, body string
		msg                      string
	}{
		{"register host", "POST", agentwire.HostRegisterPath("compute\xff1"), `{"vtep_ip":"192.0.2.9"}`,
			`Invalid input for name. Reason: "compute\xff1" is not valid UTF-8.`},
		{"host plan", "GET", agentwire.HostPlanPath("compute\xc3"), ``,
			`Invalid input for name. Reason: "compute\xc3" is not valid UTF-8.`},
		{"switch report", "POST", agentwire.SwitchReportPath("sw\xed\xa0\x80"), `{"switch":{},"local_macs":[]}`,
			`Invalid input for name. Reason: "sw\xed\xa0\x80" is not valid UTF-8.`},
		{"switch status", "PUT", agentwire.SwitchStatusPath("\x80"), `{"connected":true}`,
			`Invalid input for name. Reason: "\x80" is not valid UTF-8.`},
		{"switch plan", "GET", agentwire.SwitchPlanPath("sw\xff"), ``,
			`Invalid input for name. Reason: "sw\xff" is not valid UTF-8.`},
		{"port name in a report", "POST", agentwire.SwitchReportPath("sw7"), "{\"switch\":{\"name\":\"sw7\",\"ports\":[{\"name\":\"eth\xff\"}]},\"local_macs\":[]}",
			"Invalid input for switch.ports[0].name. Reason: not valid UTF-8 (byte 0xff at byte 45); JSON strings must be Unicode text (RFC 8259 section 8)."},
		{"switch name in a report, escaped", "POST", agentwire.SwitchReportPath("sw7"), `{"switch":{"name":"sw7\udfff"},"local_macs":[]}`,
			`Invalid input for switch.name. Reason: unpaired surrogate escape \udfff at byte 22; JSON strings must be Unicode text (RFC 8259 section 8).`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.do(tc.method, tc.path, tc.body)
			var eb neutron.ErrorBody
			if code != http.StatusBadRequest || json.Unmarshal(body, &eb) != nil {
				t.Fatalf("%s %s = %d %s; want 400 NeutronError", tc.method, tc.path, code, body)
			}
			if eb.NeutronError.Type != "HTTPBadRequest" || eb.NeutronError.Message != tc.msg {
				t.Errorf("error = %s %q;\nwant  HTTPBadRequest %q", eb.NeutronError.Type, eb.NeutronError.Message, tc.msg)
			}
		})
	}
	if hs, err := e.st.ListHosts(e.ctx, store.Query{}); err != nil || len(hs) != 0 {
		t.Errorf("hosts after refused registrations = %+v, %v; want none", hs, err)
	}
	if sws, err := e.st.ListSwitches(e.ctx, store.Query{}); err != nil || len(sws) != 0 {
		t.Errorf("switches after refused reports = %+v, %v; want none", sws, err)
	}
	// A valid non-ASCII name works.
	if code, body := e.do("POST", agentwire.HostRegisterPath("rechner-ü"), `{"vtep_ip":"192.0.2.9"}`); code != http.StatusOK {
		t.Errorf("register rechner-ü = %d %s; want 200", code, body)
	}
}

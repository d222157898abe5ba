package agentapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/testenv"
)

// A switch whose agent reports over HTTP is shown disconnected once its last
// plan stream ends; a switch whose status never came over HTTP (an agent
// inside the server) is not touched by someone reading its plan stream.
func TestSwitchDisconnectedWhenStreamsEnd(t *testing.T) {
	tests := []struct {
		name          string
		remoteStatus  bool // the agent sends its status over HTTP
		streams       int
		wantConnected bool
		wantError     string
	}{
		{"remote agent, one stream", true, 1, false, agentapi.ErrAgentGone},
		{"remote agent, two streams", true, 2, false, agentapi.ErrAgentGone},
		{"status only from inside the server", false, 1, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, agentapi.Config{})
			const report = `{"switch":{"name":"sw1","tunnel_ips":["192.0.2.1"],"ports":[{"name":"p1"}]},"local_macs":[]}`
			if code, body := e.do("POST", agentwire.SwitchReportPath("sw1"), report); code != http.StatusNoContent {
				t.Fatalf("report = %d %s", code, body)
			}
			if tc.remoteStatus {
				const status = `{"connected":true,"last_sync":"2026-01-02T03:04:05Z","revision":1,"error":""}`
				if code, body := e.do("PUT", agentwire.SwitchStatusPath("sw1"), status); code != http.StatusNoContent {
					t.Fatalf("status = %d %s", code, body)
				}
			}
			var streams []*stream
			for range tc.streams {
				s := e.openStream(agentwire.SwitchPlanPath("sw1"), 0)
				s.next() // the snapshot: the stream is being served
				streams = append(streams, s)
			}
			for i, s := range streams {
				if sw := e.apiSwitch("sw1"); !sw.Connected {
					t.Fatalf("with %d of %d streams open: connected = false; want true", len(streams)-i, len(streams))
				}
				s.close()
			}
			testenv.Eventually(t, 20*time.Second, "switch status after the last stream", func() (bool, string) {
				sw := e.apiSwitch("sw1")
				return sw.Connected == tc.wantConnected && sw.SyncError == tc.wantError,
					"connected=" + map[bool]string{true: "true", false: "false"}[sw.Connected] + " sync_error=" + sw.SyncError
			})
			if !tc.wantConnected {
				if sw := e.apiSwitch("sw1"); sw.LastSync.IsZero() {
					t.Errorf("last_sync lost by the disconnect mark: %+v", sw)
				}
			}
		})
	}
}

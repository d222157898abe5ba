package logging

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogHidesCredentials: the access log names method, path and
// status, never a header or the query, where tokens travel.
func TestAccessLogHidesCredentials(t *testing.T) {
	const token = "TokMarker4b2a"
	for _, format := range []string{FormatText, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, Options{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			h := HTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}), HTTPConfig{Logger: log, AccessLog: true})
			r := httptest.NewRequest(http.MethodGet, "/v2.0/l2-gateways?token="+token, nil)
			r.Header.Set("X-Auth-Token", token)
			r.Header.Set("X-Subject-Token", token)
			r.Header.Set("Authorization", "Bearer "+token)
			r.Header.Set(RequestIDHeader, token)
			r.Header.Set("Cookie", "session="+token)
			h.ServeHTTP(httptest.NewRecorder(), r)
			got := buf.String()
			if !strings.Contains(got, "/v2.0/l2-gateways") || !strings.Contains(got, "401") {
				t.Errorf("access log = %q; want the path and status", got)
			}
			if strings.Contains(got, token) {
				t.Errorf("access log = %q; shows the token", got)
			}
		})
	}
}

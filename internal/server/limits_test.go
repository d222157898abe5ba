package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDeadlinesSkipStreams checks that an answer idle past the write
// deadline is cut, except a plan stream's or the status page's events.
func TestDeadlinesSkipStreams(t *testing.T) {
	const write = 200 * time.Millisecond
	srv := httptest.NewServer(deadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "a")
		http.NewResponseController(w).Flush()
		// Idle like a plan stream between keepalives.
		select {
		case <-time.After(3 * write):
		case <-r.Context().Done():
			if !streaming(r) {
				return // the write deadline ended the request
			}
			t.Errorf("%s: context ended: %v", r.URL.Path, r.Context().Err())
		}
		io.WriteString(w, "b")
	}), write, write))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/l2gw/v1/switches/tor1/plan", "ab"},
		{"/l2gw/v1/hosts/h1/plan", "ab"},
		{"/ui/api/events", "ab"},
		{"/v2.0/ports", "a"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := srv.Client().Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if string(b) != tc.want {
				t.Errorf("GET %s = %q (%v); want %q", tc.path, b, err, tc.want)
			}
		})
	}
}

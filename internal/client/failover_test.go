package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
)

// deadURL is the URL of a port nobody listens on any more.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

// TestFailover: with several servers, a request that cannot connect goes to
// the next server at once; a 5xx answer is returned but moves the client to
// the next server for the following requests; a single server never moves.
func TestFailover(t *testing.T) {
	ctx := context.Background()
	live, _ := newServer(t)
	dead := deadURL(t)

	c := newClient(t, dead+", "+live)
	if got, want := c.BaseURLs(), []string{dead, live}; !cmp.Equal(got, want) {
		t.Fatalf("BaseURLs() = %v; want %v", got, want)
	}
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatalf("CreateNetwork with the first server down: %v", err)
	}
	if c.BaseURL() != live {
		t.Errorf("BaseURL() = %s after the first server refused; want %s", c.BaseURL(), live)
	}
	if _, err := c.GetNetwork(ctx, n.ID); err != nil {
		t.Errorf("GetNetwork: %v", err)
	}

	// A replica answering 503 (its database is down): the error is the
	// caller's (a write may have been applied), the next request goes on.
	var sick atomic.Int64
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		sick.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"NeutronError": {"type": "HTTPServiceUnavailable", "message": "The database is unavailable", "detail": ""}}`))
	}))
	defer unavailable.Close()
	c = newClient(t, unavailable.URL+","+live)
	_, err = c.GetNetwork(ctx, n.ID)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("GetNetwork through the sick server = %v; want its 503", err)
	}
	if _, err := c.GetNetwork(ctx, n.ID); err != nil {
		t.Fatalf("GetNetwork after the 503: %v; want the next server's answer", err)
	}
	if sick.Load() != 1 {
		t.Errorf("the sick server got %d requests; want 1", sick.Load())
	}

	// One server: a refused connection is the caller's error.
	c = newClient(t, dead)
	if _, err := c.GetNetwork(ctx, n.ID); err == nil {
		t.Fatal("GetNetwork through a dead single server succeeded")
	}
	if c.BaseURL() != dead {
		t.Errorf("BaseURL() = %s; want %s (nowhere else to go)", c.BaseURL(), dead)
	}

	for _, tc := range []struct {
		in   string
		want []string // nil: an error
	}{
		{in: ","},
		{in: "http://a:1,ftp://b"},
		{in: "http://a:1,,http://b:2/v2.0", want: []string{"http://a:1", "http://b:2"}},
	} {
		c, err := client.New(tc.in)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("client.New(%q) succeeded; want an error", tc.in)
		case tc.want != nil && err != nil:
			t.Errorf("client.New(%q) = %v; want %v", tc.in, err, tc.want)
		case tc.want != nil && !cmp.Equal(c.BaseURLs(), tc.want):
			t.Errorf("client.New(%q).BaseURLs() = %v; want %v", tc.in, c.BaseURLs(), tc.want)
		}
	}
}

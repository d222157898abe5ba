package agentapi_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// cutStore is a real store whose database the test declares unreachable
// (the PostgreSQL store's own detection is tested in internal/store and,
// with replicas, in internal/server).
type cutStore struct {
	store.Store
	down atomic.Bool
}

func (s *cutStore) Unreachable() (time.Time, bool) { return time.Time{}, s.down.Load() }

// TestDatabaseGate: while the store reports its database unreachable, an
// open plan stream ends and new ones are refused with 503; once it is
// reachable again, plan streams are served.
func TestDatabaseGate(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &cutStore{Store: st}
	feed, err := planfeed.New(cs, planfeed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := agentapi.New(cs, feed, agentapi.Config{Keepalive: time.Hour})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = feed.Run(ctx) })
	wg.Go(func() { _ = h.RunDatabaseGate(ctx, 10*time.Millisecond) })
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	open := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+agentwire.HostPlanPath("h1"), nil)
		if err != nil {
			return nil, err
		}
		return hc.Do(req)
	}
	resp, err := open()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("plan stream = %v, %v; want 200", resp, err)
	}
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadBytes('\n'); err != nil { // the snapshot
		t.Fatal(err)
	}
	cs.down.Store(true)
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := r.ReadBytes('\n'); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("plan stream still open 10s after the database became unreachable")
	}
	resp.Body.Close()
	if resp, err := open(); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("plan stream while unreachable = %v, %v; want 503", resp, err)
	} else {
		resp.Body.Close()
	}

	cs.down.Store(false)
	testenv.Eventually(t, 10*time.Second, "plan stream served again", func() (bool, string) {
		resp, err := open()
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

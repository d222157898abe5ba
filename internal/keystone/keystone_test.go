package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a Keystone that knows a set of tokens and one service password.
type fake struct {
	mu        sync.Mutex
	tokens    map[string]time.Time // token -> expires_at
	svc       string               // the valid service token
	logins    atomic.Int32
	checks    atomic.Int32
	gate      chan struct{} // when set, validations wait on it
	loginGate chan struct{} // when set, logins wait on it
	unhealthy atomic.Bool
	// revokedAtIssue is how many of the next logins issue a token that is
	// already revoked (in the second of a revocation event).
	revokedAtIssue atomic.Int32
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.unhealthy.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		n := f.logins.Add(1)
		if gate := f.loginGate; gate != nil {
			f.mu.Unlock()
			<-gate
			f.mu.Lock()
		}
		tok := "svc-" + string(rune('0'+n))
		f.svc = tok
		if f.revokedAtIssue.Add(-1) >= 0 {
			f.svc = "revoked"
		}
		w.Header().Set("X-Subject-Token", tok)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":{}}`))
	case http.MethodGet:
		f.checks.Add(1)
		if gate := f.gate; gate != nil {
			f.mu.Unlock()
			<-gate
			f.mu.Lock()
		}
		if r.Header.Get("X-Auth-Token") != f.svc {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		exp, ok := f.tokens[r.Header.Get("X-Subject-Token")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": exp.UTC().Format(time.RFC3339Nano),
			"user":       map[string]any{"id": "u1"},
			"project":    map[string]any{"id": "p1"},
			"roles":      []map[string]any{{"name": "member"}, {"name": "admin"}},
		}})
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, cfg Config) (*fake, *clock, *Validator) {
	t.Helper()
	clk := &clock{now: time.Now()}
	f := &fake{tokens: map[string]time.Time{"good": clk.Now().Add(time.Hour)}}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	cfg.URL, cfg.Username, cfg.Password, cfg.Project = ts.URL, "l2gw", "pw", "service"
	cfg.Now = clk.Now
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, clk, v
}

func TestValidateCachesUpToTTL(t *testing.T) {
	f, clk, v := setup(t, Config{CacheTTL: time.Minute})
	ctx := context.Background()
	tok, err := v.Validate(ctx, "good")
	if err != nil || tok.ProjectID != "p1" || tok.UserID != "u1" || len(tok.Roles) != 2 {
		t.Fatalf("Validate(good) = %+v, %v; want p1/u1 with 2 roles", tok, err)
	}
	for range 5 {
		if _, err := v.Validate(ctx, "good"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.checks.Load(); n != 1 {
		t.Errorf("checks = %d; want 1 (cached)", n)
	}
	f.mu.Lock()
	delete(f.tokens, "good") // revoked
	f.mu.Unlock()
	clk.Add(59 * time.Second)
	if _, err := v.Validate(ctx, "good"); err != nil {
		t.Errorf("Validate(revoked) inside the TTL = %v; want cached success", err)
	}
	clk.Add(2 * time.Second)
	if _, err := v.Validate(ctx, "good"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Validate(revoked) past the TTL = %v; want ErrInvalidToken", err)
	}
}

func TestValidateNeverPastExpiresAt(t *testing.T) {
	f, clk, v := setup(t, Config{CacheTTL: time.Hour})
	f.tokens["short"] = clk.Now().Add(10 * time.Second)
	ctx := context.Background()
	if _, err := v.Validate(ctx, "short"); err != nil {
		t.Fatal(err)
	}
	clk.Add(11 * time.Second)
	// Keystone would now answer 404; the fake still knows the token, so a
	// second check with an expires_at in the past must count as invalid.
	if _, err := v.Validate(ctx, "short"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Validate(expired) = %v; want ErrInvalidToken", err)
	}
	if n := f.checks.Load(); n != 2 {
		t.Errorf("checks = %d; want 2 (the entry ended at expires_at)", n)
	}
}

func TestNegativeCache(t *testing.T) {
	f, clk, v := setup(t, Config{NegativeTTL: 5 * time.Second})
	ctx := context.Background()
	for range 3 {
		if _, err := v.Validate(ctx, "bad"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Validate(bad) = %v; want ErrInvalidToken", err)
		}
	}
	if n := f.checks.Load(); n != 1 {
		t.Errorf("checks = %d; want 1 (negative cache)", n)
	}
	f.mu.Lock()
	f.tokens["bad"] = clk.Now().Add(time.Hour) // now valid
	f.mu.Unlock()
	clk.Add(6 * time.Second)
	if _, err := v.Validate(ctx, "bad"); err != nil {
		t.Errorf("Validate after the negative TTL = %v; want success", err)
	}
	if _, err := v.Validate(ctx, ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Validate(\"\") = %v; want ErrInvalidToken", err)
	}
}

func TestSingleflight(t *testing.T) {
	f, _, v := setup(t, Config{})
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Validate(context.Background(), "good")
			errs <- err
		}()
	}
	// Wait until the one validation reached the fake, then let it answer.
	deadline := time.Now().Add(5 * time.Second)
	for f.checks.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.checks.Load(); n != 1 {
		t.Errorf("checks = %d; want 1 for 20 concurrent callers", n)
	}
}

func TestServiceTokenRenewedOn401(t *testing.T) {
	for _, tc := range []struct {
		name           string
		revokedAtIssue int32 // renewals that fall in the revocation's second
		wantLogins     int32
	}{
		{"renewed", 0, 2},
		{"renewed in the second of its revocation", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, v := setup(t, Config{})
			ctx := context.Background()
			if _, err := v.Validate(ctx, "good"); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.svc = "revoked" // Keystone no longer accepts l2gw's token
			f.tokens["other"] = time.Now().Add(time.Hour)
			f.mu.Unlock()
			f.revokedAtIssue.Store(tc.revokedAtIssue)
			if _, err := v.Validate(ctx, "other"); err != nil {
				t.Fatalf("Validate after the service token was revoked = %v; want renewed and success", err)
			}
			if n := f.logins.Load(); n != tc.wantLogins {
				t.Errorf("logins = %d; want %d", n, tc.wantLogins)
			}
		})
	}
}

func TestUnavailableNotCached(t *testing.T) {
	f, _, v := setup(t, Config{Timeout: time.Second})
	ctx := context.Background()
	if _, err := v.Validate(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	f.unhealthy.Store(true)
	if _, err := v.Validate(ctx, "good"); err != nil {
		t.Errorf("cached token while Keystone is down = %v; want success", err)
	}
	f.mu.Lock()
	f.tokens["new"] = time.Now().Add(time.Hour)
	f.mu.Unlock()
	if _, err := v.Validate(ctx, "new"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Validate(new) while Keystone is down = %v; want ErrUnavailable", err)
	}
	f.unhealthy.Store(false)
	if _, err := v.Validate(ctx, "new"); err != nil {
		t.Errorf("Validate(new) once Keystone is back = %v; want success (no negative entry)", err)
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://k:5000":      "http://k:5000/v3",
		"http://k:5000/":     "http://k:5000/v3",
		"http://k:5000/v3":   "http://k:5000/v3",
		"https://k/identity": "https://k/identity/v3",
	} {
		if got := BaseURL(in); got != want {
			t.Errorf("BaseURL(%q) = %q; want %q", in, got, want)
		}
	}
}

package keystone

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestLoginRenews logs an agent's service user in to the real Keystone:
// the token is kept while young, validates with the user's roles, and is
// replaced by a new one past three quarters of its life; a wrong password
// is an ErrUnavailable error naming the user.
func TestLoginRenews(t *testing.T) {
	ks := testenv.StartKeystone(t, time.Hour)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l, err := NewLogin(Config{URL: ks.URL, Username: "neutron", Password: "neutronpass", Project: "service", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	first, err := l.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{URL: ks.URL, Username: "l2gw", Password: "l2gwpass", Project: "service"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Validate(ctx, first)
	if err != nil || !slices.Contains(tok.Roles, "service") {
		t.Fatalf("Validate(login token) = %+v, %v; want a token with role service", tok, err)
	}
	advance(40 * time.Minute) // past 30 minutes: maxTokenUse
	// Keystone's fernet tokens differ by their issue second.
	time.Sleep(1100 * time.Millisecond)
	if again, err := l.Token(ctx); err != nil || again == first {
		t.Errorf("Token() after 40 minutes = same %v, %v; want a new token", again == first, err)
	}
	second, _ := l.Token(ctx)
	advance(time.Minute)
	if again, err := l.Token(ctx); err != nil || again != second {
		t.Errorf("Token() a minute later = same %v, %v; want the same token", again == second, err)
	}

	bad, err := NewLogin(Config{URL: ks.URL, Username: "neutron", Password: "wrong", Project: "service"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Token(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Token() with a wrong password = %v; want ErrUnavailable", err)
	}
}

// TestLoginSlowKeystone: while Keystone is slow to answer a login, a
// caller whose context ends returns at once with its context's error (no
// lock is held across the login), and concurrent callers share the one
// login under way.
func TestLoginSlowKeystone(t *testing.T) {
	gate := make(chan struct{})
	f := &fake{loginGate: gate}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	l, err := NewLogin(Config{URL: ts.URL, Username: "agent", Password: "pw", Project: "service", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// The first caller starts the login and waits for it.
	first := make(chan error, 1)
	go func() {
		tok, err := l.Token(t.Context())
		if err == nil && tok != "svc-1" {
			err = fmt.Errorf("token %q; want svc-1", tok)
		}
		first <- err
	}()
	testenv.Eventually(t, 5*time.Second, "the login reaches Keystone", func() (bool, string) {
		return f.logins.Load() == 1, "no login yet"
	})
	// A second caller gives up while the login is under way.
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		_, err := l.Token(ctx)
		second <- err
	}()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("Token(cancelled ctx) = %v; want ErrUnavailable wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("Token(cancelled ctx) still blocked on another caller's slow login")
	}

	var wg sync.WaitGroup
	toks := make([]string, 20)
	errs := make([]error, 20)
	for i := range toks {
		wg.Go(func() { toks[i], errs[i] = l.Token(t.Context()) })
	}
	close(gate)
	wg.Wait()
	if err := <-first; err != nil {
		t.Errorf("Token() of the first caller: %v", err)
	}
	for i := range toks {
		if errs[i] != nil || toks[i] != "svc-1" {
			t.Errorf("Token() #%d = %q, %v; want svc-1 (the one login)", i, toks[i], errs[i])
		}
	}
	if n := f.logins.Load(); n != 1 {
		t.Errorf("logins = %d; want 1 for 22 callers", n)
	}
	if tok, err := l.Token(t.Context()); err != nil || tok != "svc-1" {
		t.Errorf("Token() after the login = %q, %v; want the kept svc-1", tok, err)
	}
	l.Invalidate("svc-1")
	if tok, err := l.Token(t.Context()); err != nil || tok != "svc-2" {
		t.Errorf("Token() after Invalidate = %q, %v; want a new login svc-2", tok, err)
	}
}

package keystone

import (
	"errors"
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

package keystone

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Login is a client's own token: a password login of a user (an agent's
// service user) to a project, kept and renewed before it expires, for
// clients that run longer than a token lives.
type Login struct {
	cfg  Config
	base string
	hc   *http.Client

	mu      sync.Mutex // serialises logins
	tok     string
	renewAt time.Time
}

// NewLogin returns a Login of cfg's URL, Username, Password and Project
// (required; domains default to "Default", Timeout to 5 s; the cache
// settings are unused). It does not contact Keystone.
func NewLogin(cfg Config) (*Login, error) {
	cfg, hc, err := cfg.forLogin()
	if err != nil {
		return nil, fmt.Errorf("keystone login: %w", err)
	}
	return &Login{cfg: cfg, base: BaseURL(cfg.URL), hc: hc}, nil
}

// maxTokenUse bounds how long a token is used when Keystone does not say
// when it expires.
const maxTokenUse = 30 * time.Minute

// Token returns the current token, logging in first when there is none or
// it is past three quarters of its life (so that a request never carries
// one about to expire). Errors wrap ErrUnavailable.
func (l *Login) Token(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	if l.tok != "" && now.Before(l.renewAt) {
		return l.tok, nil
	}
	tok, exp, err := passwordLogin(ctx, l.hc, l.base, l.cfg)
	if err != nil {
		return "", err
	}
	life := maxTokenUse
	if !exp.IsZero() {
		life = min(life, exp.Sub(now)*3/4)
	}
	l.tok, l.renewAt = tok, now.Add(life)
	return tok, nil
}

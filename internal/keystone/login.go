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
//
// Concurrent callers share one login (single flight). The login runs in
// a goroutine of its own, bounded by the configured timeout, and no lock
// is held while it talks to Keystone: a caller whose context ends returns
// at once with its context's error, whatever Keystone does.
type Login struct {
	cfg  Config
	base string
	hc   *http.Client

	mu      sync.Mutex // guards the fields below; never held across I/O
	tok     string
	renewAt time.Time
	flight  *loginCall // the login under way, nil when none
}

// loginCall is one login that callers wait for; its fields are set
// before done is closed.
type loginCall struct {
	done chan struct{}
	tok  string
	err  error
}

// NewLogin returns a Login of cfg's URL, Username, Password and Project
// (required; domains default to "Default", Timeout to 5 s; the cache
// settings are unused). It does not contact Keystone.
func NewLogin(cfg Config) (*Login, error) {
	cfg, hc, err := cfg.forLogin()
	if err != nil {
		return nil, fmt.Errorf("keystone login: %w", err)
	}
	return newLogin(cfg, hc), nil
}

func newLogin(cfg Config, hc *http.Client) *Login {
	return &Login{cfg: cfg, base: BaseURL(cfg.URL), hc: hc}
}

// maxTokenUse bounds how long a token is used when Keystone does not say
// when it expires.
const maxTokenUse = 30 * time.Minute

// Token returns the current token, logging in first when there is none or
// it is past three quarters of its life (so that a request never carries
// one about to expire). Errors wrap ErrUnavailable; when ctx ends first,
// they wrap ctx's error too.
func (l *Login) Token(ctx context.Context) (string, error) {
	l.mu.Lock()
	if l.tok != "" && l.cfg.Now().Before(l.renewAt) {
		tok := l.tok
		l.mu.Unlock()
		return tok, nil
	}
	c := l.flight
	if c == nil {
		c = &loginCall{done: make(chan struct{})}
		l.flight = c
		// The login outlives a caller that gives up, as others may wait
		// on it; passwordLogin bounds it by the configured timeout.
		go l.login(context.WithoutCancel(ctx), c)
	}
	l.mu.Unlock()
	select {
	case <-c.done:
		return c.tok, c.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// Invalidate drops tok if it is still the current token (Keystone refused
// it), so the next Token logs in again. Callers that saw the same refusal
// thus cause one login, not one each.
func (l *Login) Invalidate(tok string) {
	l.mu.Lock()
	if l.tok == tok {
		l.tok = ""
	}
	l.mu.Unlock()
}

// renew drops the current token unless a login is under way already (its
// token is new), so the next Token logs in again.
func (l *Login) renew() {
	l.mu.Lock()
	if l.flight == nil {
		l.tok = ""
	}
	l.mu.Unlock()
}

// login logs in once and hands the result to the waiting callers.
func (l *Login) login(ctx context.Context, c *loginCall) {
	now := l.cfg.Now()
	tok, exp, err := passwordLogin(ctx, l.hc, l.base, l.cfg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		life := maxTokenUse
		if !exp.IsZero() {
			life = min(life, exp.Sub(now)*3/4)
		}
		l.tok, l.renewAt = tok, now.Add(life)
	}
	l.flight = nil
	c.tok, c.err = tok, err
	close(c.done)
}

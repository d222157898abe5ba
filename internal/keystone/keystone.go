// Package keystone validates OpenStack Keystone tokens (Identity API v3,
// "Validate and show information for token": GET /v3/auth/tokens with
// X-Subject-Token) with a service token of l2gw's own, and caches the
// answers: a valid token for at most Config.CacheTTL and never past its
// expires_at, an invalid one for Config.NegativeTTL, with one validation in
// flight per token.
package keystone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sentinel errors of Validate.
var (
	// ErrInvalidToken: Keystone says the token is not valid (404), or the
	// request carries none.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable: Keystone could not be asked (unreachable, timeout,
	// 5xx, or the service user cannot log in).
	ErrUnavailable = errors.New("keystone unavailable")
)

// Token is what l2gw needs of a validated token.
type Token struct {
	UserID    string
	ProjectID string
	Roles     []string
	ExpiresAt time.Time
}

// Config configures a Validator. URL and the service user's Username,
// Password and Project are required.
type Config struct {
	// URL is the identity endpoint, http://HOST:5000/v3; without /v3 it is added.
	URL string
	// Username, Password, Project name l2gw's service user and its project;
	// UserDomain and ProjectDomain default to "Default".
	Username, Password, Project string
	UserDomain, ProjectDomain   string
	// HTTPClient talks to Keystone; nil means one with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call to Keystone; zero means 5 s.
	Timeout time.Duration
	// CacheTTL bounds how long a valid token is cached; zero means 300 s.
	CacheTTL time.Duration
	// NegativeTTL is how long an invalid token is remembered; zero means 5 s.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; zero means 100000.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// BaseURL returns the identity endpoint u with /v3 and without a trailing slash.
func BaseURL(u string) string {
	u = strings.TrimRight(u, "/")
	if !strings.HasSuffix(u, "/v3") {
		u += "/v3"
	}
	return u
}

type entry struct {
	tok   *Token // nil: invalid
	until time.Time
}

type call struct {
	done chan struct{}
	tok  *Token
	err  error
}

// Validator validates tokens against Keystone, with a cache.
type Validator struct {
	cfg  Config
	base string
	hc   *http.Client

	mu       sync.Mutex
	cache    map[[32]byte]entry
	inflight map[[32]byte]*call

	svc *Login // l2gw's own token, for asking Keystone about others
}

// forLogin checks the settings a password login needs and fills the
// defaults of the domains ("Default"), the timeout (5 s), the clock and
// the HTTP client.
func (cfg Config) forLogin() (Config, *http.Client, error) {
	if cfg.URL == "" || cfg.Username == "" || cfg.Password == "" || cfg.Project == "" {
		return cfg, nil, errors.New("URL, user, password and project are required")
	}
	if cfg.UserDomain == "" {
		cfg.UserDomain = "Default"
	}
	if cfg.ProjectDomain == "" {
		cfg.ProjectDomain = "Default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	return cfg, hc, nil
}

// New returns a Validator; it does not contact Keystone.
func New(cfg Config) (*Validator, error) {
	cfg, hc, err := cfg.forLogin()
	if err != nil {
		return nil, fmt.Errorf("keystone: %w", err)
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 300 * time.Second
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	return &Validator{cfg: cfg, base: BaseURL(cfg.URL), hc: hc, svc: newLogin(cfg, hc),
		cache: map[[32]byte]entry{}, inflight: map[[32]byte]*call{}}, nil
}

// URL returns the identity endpoint, with /v3.
func (v *Validator) URL() string { return v.base }

// Validate returns the token's identity, from the cache when it holds an
// answer, else from Keystone (one request per token however many callers
// wait). Errors are ErrInvalidToken or ErrUnavailable (wrapped).
func (v *Validator) Validate(ctx context.Context, token string) (*Token, error) {
	if token == "" {
		return nil, ErrInvalidToken
	}
	key := sha256.Sum256([]byte(token))
	now := v.cfg.Now()
	v.mu.Lock()
	if e, ok := v.cache[key]; ok {
		if now.Before(e.until) {
			v.mu.Unlock()
			if e.tok == nil {
				return nil, ErrInvalidToken
			}
			return e.tok, nil
		}
		delete(v.cache, key)
	}
	c, ok := v.inflight[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		v.inflight[key] = c
		// The call outlives a caller that gives up: others may wait on it.
		go v.run(context.WithoutCancel(ctx), key, token, c)
	}
	v.mu.Unlock()
	select {
	case <-c.done:
		return c.tok, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (v *Validator) run(ctx context.Context, key [32]byte, token string, c *call) {
	c.tok, c.err = v.validate(ctx, token)
	now := v.cfg.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.inflight, key)
	close(c.done)
	var e entry
	switch {
	case c.err == nil:
		until := now.Add(v.cfg.CacheTTL)
		if !c.tok.ExpiresAt.IsZero() && c.tok.ExpiresAt.Before(until) {
			until = c.tok.ExpiresAt
		}
		e = entry{tok: c.tok, until: until}
	case errors.Is(c.err, ErrInvalidToken):
		e = entry{until: now.Add(v.cfg.NegativeTTL)}
	default:
		return // unavailable: ask again next time
	}
	if len(v.cache) >= v.cfg.MaxEntries {
		for k, old := range v.cache {
			if !now.Before(old.until) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= v.cfg.MaxEntries {
			clear(v.cache)
		}
	}
	v.cache[key] = e
}

// revocationGranularity is how finely Keystone dates revocation events
// and tokens: a second. A token issued in the second of an event that
// revokes its user's tokens (the user disabled and enabled again, say) is
// revoked with them.
const revocationGranularity = time.Second

// validate asks Keystone, renewing the service token if Keystone answers
// 401 for it: at once, and if the new token is refused too (issued in the
// second of the revocation), once more a revocationGranularity later.
func (v *Validator) validate(ctx context.Context, token string) (*Token, error) {
	for attempt := 0; ; attempt++ {
		svc, err := v.svc.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("service login: %w", err)
		}
		tok, status, err := v.check(ctx, svc, token)
		if status != http.StatusUnauthorized || attempt == 2 {
			return tok, err
		}
		v.svc.Invalidate(svc)
		if attempt == 1 {
			t := time.NewTimer(revocationGranularity)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w: renew the service token: %w", ErrUnavailable, ctx.Err())
			case <-t.C:
			}
		}
	}
}

func (v *Validator) check(ctx context.Context, svc, token string) (*Token, int, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+"/auth/tokens?nocatalog", nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("X-Auth-Token", svc)
	req.Header.Set("X-Subject-Token", token)
	req.Header.Set("Accept", "application/json")
	resp, err := v.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: validate token: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, resp.StatusCode, ErrInvalidToken
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, resp.StatusCode, fmt.Errorf("%w: validate token: keystone answered %s", ErrUnavailable, resp.Status)
	}
	var body struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
			Project struct {
				ID string `json:"id"`
			} `json:"project"`
			Roles []struct {
				Name string `json:"name"`
			} `json:"roles"`
		} `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&body); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%w: validate token: decode: %w", ErrUnavailable, err)
	}
	t := &Token{UserID: body.Token.User.ID, ProjectID: body.Token.Project.ID, ExpiresAt: body.Token.ExpiresAt}
	for _, r := range body.Token.Roles {
		t.Roles = append(t.Roles, r.Name)
	}
	if !t.ExpiresAt.IsZero() && !v.cfg.Now().Before(t.ExpiresAt) {
		return nil, resp.StatusCode, ErrInvalidToken
	}
	return t, resp.StatusCode, nil
}

// passwordLogin logs cfg's user in to cfg's project at the identity
// endpoint base and returns the new token and when it expires (zero when
// Keystone did not say). Its errors wrap ErrUnavailable.
func passwordLogin(ctx context.Context, hc *http.Client, base string, cfg Config) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	type named struct {
		Name string `json:"name"`
	}
	var body struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   named  `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string `json:"name"`
					Domain named  `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	body.Auth.Identity.Methods = []string{"password"}
	u := &body.Auth.Identity.Password.User
	u.Name, u.Password, u.Domain.Name = cfg.Username, cfg.Password, cfg.UserDomain
	p := &body.Auth.Scope.Project
	p.Name, p.Domain.Name = cfg.Project, cfg.ProjectDomain
	b, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/tokens?nocatalog", bytes.NewReader(b))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	var answer struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", time.Time{}, fmt.Errorf("%w: login as %q: keystone answered %s", ErrUnavailable, cfg.Username, resp.Status)
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("%w: login: no X-Subject-Token", ErrUnavailable)
	}
	return tok, answer.Token.ExpiresAt, nil
}

// ServiceToken returns l2gw's own (service user's) token, for calls l2gw
// makes to other services (Neutron); renew logs in again, after a service
// refused the token. It is the token the validator itself uses.
func (v *Validator) ServiceToken(ctx context.Context, renew bool) (string, error) {
	if renew {
		v.svc.renew()
	}
	tok, err := v.svc.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("service login: %w", err)
	}
	return tok, nil
}

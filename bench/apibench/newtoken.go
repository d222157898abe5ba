package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// keystoneLogin names a Keystone user whose new tokens -new-tokens times.
type keystoneLogin struct {
	url, user, password, project string // url: http://HOST:5000/v3
}

// login asks Keystone for a new project-scoped token of l (domain Default).
func (l keystoneLogin) login(ctx context.Context, hc *http.Client) (string, error) {
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"password":%q,"domain":{"name":"Default"}}}},"scope":{"project":{"name":%q,"domain":{"name":"Default"}}}}}`,
		l.user, l.password, l.project)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(l.url, "/")+"/auth/tokens?nocatalog", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("keystone login %s: %s", l.user, res.Status)
	}
	return res.Header.Get("X-Subject-Token"), nil
}

// newTokenLatency times, n times, the first request of a new token (the
// server validates it with Keystone) and the second (served from the
// server's token cache), each a GET of the gateway list.
func newTokenLatency(ctx context.Context, a *apiClient, l keystoneLogin, n int) (first, second []float64, err error) {
	for range n {
		tok, err := l.login(ctx, a.hc)
		if err != nil {
			return nil, nil, err
		}
		c := *a
		c.token = tok
		for i, into := range []*[]float64{&first, &second} {
			t := time.Now()
			code, _, err := c.do(ctx, http.MethodGet, "/v2.0/l2-gateways", nil, false)
			if err != nil {
				return nil, nil, err
			}
			if code != http.StatusOK {
				return nil, nil, fmt.Errorf("GET /v2.0/l2-gateways with a new token (request %d) = %d", i+1, code)
			}
			*into = append(*into, ms(time.Since(t)))
		}
	}
	return first, second, nil
}

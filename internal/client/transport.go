package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Do sends one request to path (relative to the base URL, with query q)
// with the client's credentials: in, when not nil, is sent as JSON; a 2xx
// answer's body is decoded into out when not nil; any other answer is an
// *Error. The agent link (internal/agentlink) speaks the agent protocol
// through it.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return c.do(ctx, method, path, q, in, out)
}

// Open sends a GET to path and returns the response of a 200 answer, whose
// body the caller reads (a plan stream) and closes; any other answer is an
// *Error. The HTTP client must not time out whole requests.
func (c *Client) Open(ctx context.Context, path string, q url.Values, accept string) (*http.Response, error) {
	for tries := 1; ; tries++ {
		i, base := c.current()
		req, err := c.newRequest(ctx, base, http.MethodGet, path, q)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		resp, err := c.hc.Do(req)
		if err != nil {
			// A GET is safe to send elsewhere whatever went wrong.
			if c.failed(i) && tries < len(c.bases) && ctx.Err() == nil {
				continue
			}
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			if resp.StatusCode >= 500 {
				c.failed(i)
			}
			return nil, parseError(resp)
		}
		return resp, nil
	}
}

// Failed tells the client that the server it talks to now failed in a way
// only the caller saw (a plan stream that broke or went silent), so that
// the next request goes to the next server.
func (c *Client) Failed() {
	i, _ := c.current()
	c.failed(i)
}

// newRequest builds a request to path with the client's headers.
func (c *Client) newRequest(ctx context.Context, base, method, path string, q url.Values) (*http.Request, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s %s: token: %w", method, path, err)
		}
		if tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
	}
	return req, nil
}

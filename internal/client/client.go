// Package client is the Go client of l2gw's Neutron-compatible REST API
// (/v2.0/l2-gateways, /v2.0/l2-gateway-connections and the inventory). It
// speaks the wire shapes of internal/neutron, so it works against l2gw's
// server and, for the l2-gateway resources, against networking-l2gw itself.
//
// Every method takes a context first. Failed requests return *Error, parsed
// from the NeutronError body; callers branch on it with errors.As.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/l2gw/l2gw/internal/neutron"
)

// DefaultURL is the API address used when none is configured: the
// server's default loopback bind and Neutron's port.
const DefaultURL = "http://127.0.0.1:9696"

// Client talks to an l2gw (or Neutron) API endpoint, or to several l2gw
// server replicas serving the same state. It is safe for concurrent use.
type Client struct {
	bases     []string // scheme://host[:port][/prefix], without /v2.0 and trailing '/'
	cur       atomic.Int64
	hc        *http.Client
	token     func(ctx context.Context) (string, error)
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (TLS
// settings, timeouts, transports in tests). The default is http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken sends a fixed X-Auth-Token header (a Keystone token).
func WithToken(token string) Option {
	return WithTokenFunc(func(context.Context) (string, error) { return token, nil })
}

// WithTokenFunc calls f before every request for the X-Auth-Token header
// value; an empty string sends no header. It is the hook for Keystone
// authentication, whose tokens expire and must be renewed.
func WithTokenFunc(f func(ctx context.Context) (string, error)) Option {
	return func(c *Client) { c.token = f }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the API at baseURL, e.g. "http://127.0.0.1:9696"
// (a trailing "/v2.0" is accepted and ignored). baseURL may list several
// servers separated by commas (replicas of one l2gw deployment): the
// client talks to one at a time and moves to the next when one cannot be
// connected to (the request then goes to the next at once: it was never
// sent) or fails otherwise or answers 5xx (the error is returned: the
// request may have taken effect; the caller's retry goes to the next).
func New(baseURL string, opts ...Option) (*Client, error) {
	c := &Client{hc: http.DefaultClient, userAgent: "l2gw-client"}
	for _, one := range strings.Split(baseURL, ",") {
		one = strings.TrimSpace(one)
		if one == "" && strings.Contains(baseURL, ",") {
			continue
		}
		base, err := parseBase(one)
		if err != nil {
			return nil, err
		}
		c.bases = append(c.bases, base)
	}
	if len(c.bases) == 0 {
		return nil, fmt.Errorf("api url %q: no server", baseURL)
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func parseBase(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("api url %q (want http://host:port): %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("api url %q: want http://host:port or https://host:port", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("api url %q: must not have a query or fragment", baseURL)
	}
	base := strings.TrimRight(u.String(), "/")
	return strings.TrimSuffix(base, neutron.Base), nil
}

// current returns the index and base URL of the server in use.
func (c *Client) current() (int64, string) {
	i := c.cur.Load()
	return i, c.bases[int(i)%len(c.bases)]
}

// failed moves off the server at index i, unless another request did so
// already, and reports whether there is another server to try.
func (c *Client) failed(i int64) bool {
	if len(c.bases) == 1 {
		return false
	}
	c.cur.CompareAndSwap(i, i+1)
	return true
}

// notSent reports whether a transport error happened before the request
// could reach the server (no connection), so sending it elsewhere is safe.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// BaseURLs lists the servers the client may talk to, in order.
func (c *Client) BaseURLs() []string { return slices.Clone(c.bases) }

// BaseURL is the endpoint the client talks to now, without the /v2.0 prefix.
func (c *Client) BaseURL() string {
	_, b := c.current()
	return b
}

// Error is a failed API request: the HTTP status and, when the body was a
// NeutronError, its type and message (else Message holds the start of the
// body or the status text).
type Error struct {
	Status  int
	Type    string
	Message string
	Detail  string
}

// Error returns the server's message, as neutronclient prints it.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
}

// IsPreconditionFailed reports whether err is an API error with status 412:
// a conditional update (If-Match) found the object changed.
func IsPreconditionFailed(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusPreconditionFailed
}

// IsNotFound reports whether err is an API or resolution error with status 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// ListOptions narrows a list request. Filters are attribute equality filters
// (repeating a value ORs them: name=a&name=b); Fields limits the keys of the
// returned objects; Limit and Marker page (the client returns one page).
type ListOptions struct {
	Filters url.Values
	Fields  []string
	Limit   int
	Marker  string
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	for k, vs := range o.Filters {
		v[k] = append([]string(nil), vs...)
	}
	for _, f := range o.Fields {
		v.Add("fields", f)
	}
	if o.Limit > 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Marker != "" {
		v.Set("marker", o.Marker)
	}
	return v
}

// Filter is a shorthand for ListOptions with equality filters given as
// key, value pairs: Filter("name", "gw1", "tenant_id", "t").
func Filter(kv ...string) ListOptions {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return ListOptions{Filters: v}
}

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 64 << 10

// do sends one request. in, when not nil, is sent as JSON; a 2xx response
// body is decoded into out when out is not nil.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return c.doHeader(ctx, method, path, q, nil, in, out)
}

// doHeader is do with extra request headers. With several servers, a
// request that cannot connect goes to the next one, each server tried once.
func (c *Client) doHeader(ctx context.Context, method, path string, q url.Values, hdr http.Header, in, out any) error {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	for tries := 1; ; tries++ {
		i, base := c.current()
		resp, err := c.send(ctx, base, method, path, q, hdr, b, in != nil)
		if err != nil {
			if c.failed(i) && notSent(err) && tries < len(c.bases) && ctx.Err() == nil {
				continue
			}
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			c.failed(i)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return parseError(resp)
		}
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
		return nil
	}
}

// send sends one request to the server at base.
func (c *Client) send(ctx context.Context, base, method, path string, q url.Values, hdr http.Header, b []byte, hasBody bool) (*http.Response, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if hasBody {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
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
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

func parseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode}
	var nb neutron.ErrorBody
	if json.Unmarshal(b, &nb) == nil && (nb.NeutronError.Type != "" || nb.NeutronError.Message != "") {
		e.Type, e.Message, e.Detail = nb.NeutronError.Type, nb.NeutronError.Message, nb.NeutronError.Detail
		return e
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	if msg == "" {
		msg = resp.Status
	}
	e.Message = msg
	return e
}

// envelope decodes {"<key>": <value>} into the value.
func decodeEnvelope(raw map[string]json.RawMessage, key string, out any) error {
	v, ok := raw[key]
	if !ok {
		return fmt.Errorf("response has no %q key", key)
	}
	if err := json.Unmarshal(v, out); err != nil {
		return fmt.Errorf("decode %q: %w", key, err)
	}
	return nil
}

func getOne[T any](ctx context.Context, c *Client, r neutron.Resource, id string, fields []string) (T, error) {
	var zero T
	q := url.Values{}
	for _, f := range fields {
		q.Add("fields", f)
	}
	var raw map[string]json.RawMessage
	if err := c.do(ctx, http.MethodGet, r.MemberPath(url.PathEscape(id)), q, nil, &raw); err != nil {
		return zero, err
	}
	var v T
	if err := decodeEnvelope(raw, r.Member, &v); err != nil {
		return zero, fmt.Errorf("get %s %s: %w", r.Member, id, err)
	}
	return v, nil
}

func listAll[T any](ctx context.Context, c *Client, r neutron.Resource, o ListOptions) ([]T, error) {
	var raw map[string]json.RawMessage
	if err := c.do(ctx, http.MethodGet, r.Path, o.values(), nil, &raw); err != nil {
		return nil, err
	}
	v := []T{}
	if err := decodeEnvelope(raw, r.Collection, &v); err != nil {
		return nil, fmt.Errorf("list %s: %w", r.Collection, err)
	}
	return v, nil
}

func send[T any](ctx context.Context, c *Client, method, path, key string, body any) (T, error) {
	return sendHeader[T](ctx, c, method, path, key, nil, body)
}

func sendHeader[T any](ctx context.Context, c *Client, method, path, key string, hdr http.Header, body any) (T, error) {
	var zero T
	var raw map[string]json.RawMessage
	if err := c.doHeader(ctx, method, path, nil, hdr, map[string]any{key: body}, &raw); err != nil {
		return zero, err
	}
	var v T
	if err := decodeEnvelope(raw, key, &v); err != nil {
		return zero, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return v, nil
}

func create[T any](ctx context.Context, c *Client, r neutron.Resource, body any) (T, error) {
	return send[T](ctx, c, http.MethodPost, r.Path, r.Member, body)
}

func createBulk[T any](ctx context.Context, c *Client, r neutron.Resource, bodies any) ([]T, error) {
	return send[[]T](ctx, c, http.MethodPost, r.Path, r.Collection, bodies)
}

func update[T any](ctx context.Context, c *Client, r neutron.Resource, id string, body any) (T, error) {
	return send[T](ctx, c, http.MethodPut, r.MemberPath(url.PathEscape(id)), r.Member, body)
}

func remove(ctx context.Context, c *Client, r neutron.Resource, id string) error {
	return c.do(ctx, http.MethodDelete, r.MemberPath(url.PathEscape(id)), nil, nil, nil)
}

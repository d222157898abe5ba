// Package neutronproxy puts l2gw in front of neutron-server
// (l2gw server --neutron-proxy): l2gw answers its own resources and hands
// every other request to Neutron unchanged, streamed, so that the cloud's
// network endpoint can point at l2gw and the unchanged `openstack l2gw`
// client (which resolves network names through the same endpoint) works
// (openstack.md section 3).
package neutronproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/neutron"
)

// Config tunes a Proxy; the zero value is usable.
type Config struct {
	Logger *slog.Logger // nil discards
	// Transport carries the requests to Neutron; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds the extension list l2gw reads from Neutron; zero
	// means 30 s. Forwarded requests are bounded by their caller.
	Timeout time.Duration
}

// Proxy forwards requests to Neutron.
type Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	rt     http.RoundTripper
	cfg    Config
	log    *slog.Logger
}

// New returns a Proxy to the Neutron at target (http(s)://HOST:PORT).
func New(target string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("neutron proxy: URL %q: want http(s)://HOST:PORT", target)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	p := &Proxy{target: u, rt: cfg.Transport, cfg: cfg, log: cfg.Logger}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// Neutron builds its links (paging, self) from Host: the
			// client's, so that they point back at l2gw.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			// A chain of proxies: keep what the first one saw.
			for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Get(h); v != "" {
					pr.Out.Header.Set(h, v)
				}
			}
		},
		Transport: cfg.Transport,
		// Streams (large lists) reach the client as Neutron writes them.
		FlushInterval: -1,
		ErrorHandler:  p.unavailable,
	}
	return p, nil
}

// ServeHTTP forwards r to Neutron.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.rp.ServeHTTP(w, r)
}

// unavailable answers a request Neutron could not be reached for: 503 in
// Neutron's error shape, as a load balancer would.
func (p *Proxy) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	p.log.WarnContext(r.Context(), "neutron unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
	api.WriteErrorBody(w, http.StatusServiceUnavailable, neutron.Error{Type: "ServiceUnavailable",
		Message: "The networking service (Neutron) behind l2gw is unreachable."})
}

// Extensions returns Neutron's extension list as the caller of r sees it
// (its token goes along).
func (p *Proxy) Extensions(r *http.Request) ([]neutron.Extension, error) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.target.String()+neutron.PathExtensions, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	for _, h := range []string{"X-Auth-Token", "X-Openstack-Request-Id"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := p.rt.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("neutron extensions: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("neutron extensions: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var body struct {
		Extensions []neutron.Extension `json:"extensions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("neutron extensions: %w", err)
	}
	return body.Extensions, nil
}

// Package ui serves the operator's live status page under /ui/: the
// topology (networks, gateways, switches with their ports, hosts) and each
// connection's state per switch and host, pushed to the browser with
// Server-Sent Events as the store changes. It is read-only and its data
// sits behind the API's authentication and policy; the page itself (plain
// HTML, CSS and JavaScript embedded in the binary, no build step, no
// external fetches) holds no data.
package ui

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// Prefix is where the page is mounted.
const Prefix = "/ui/"

// Action is the policy action of the page's data endpoints (admin-only
// under api.DefaultPolicy, like every other action).
const Action = "get_status_page"

// TokenCookie is the cookie the page stores a Keystone token in: an
// EventSource cannot send headers, so the data endpoints take the token
// from this cookie when the request has no X-Auth-Token header.
const TokenCookie = "l2gw_token"

//go:embed assets
var assets embed.FS

// Store is what the page reads of the store (store.Store implements it).
type Store interface {
	ListGateways(ctx context.Context, q store.Query) ([]model.Gateway, error)
	ListConnections(ctx context.Context, q store.Query) ([]model.Connection, error)
	ListNetworks(ctx context.Context, q store.Query) ([]model.Network, error)
	ListHosts(ctx context.Context, q store.Query) ([]model.Host, error)
	ListHostStatuses(ctx context.Context, q store.Query) ([]model.HostStatus, error)
	ListSwitches(ctx context.Context, q store.Query) ([]model.Switch, error)
	Revision(ctx context.Context) (int64, error)
	Notify() <-chan struct{}
}

// Statuser computes a connection's status per switch and host
// (*agentapi.Handler implements it).
type Statuser interface {
	ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error)
}

// Config tunes the handler; the zero value is usable.
type Config struct {
	// Authenticator identifies callers of the data endpoints; nil means
	// api.NoAuth.
	Authenticator api.Authenticator
	// Policy decides who may read them (action Action); nil means
	// api.DefaultPolicy (admin only).
	Policy *api.Policy
	// Logger receives failures; nil discards.
	Logger *slog.Logger
	// Interval is how often Run re-reads the state, while a stream is
	// open, when neither the store (Notify) nor Changed announces a
	// change: for what changes with time alone (an agent's presence
	// expiring) or in another replica (its agents' status writes). One
	// read serves every stream. Zero means 1s.
	Interval time.Duration
	// MinGap is the least time between two reads of Run, so a burst of
	// changes sends a few snapshots, not one per change. Zero means
	// 250ms.
	MinGap time.Duration
	// Keepalive is the longest silence on an event stream (a comment line
	// is sent); zero means 15s.
	Keepalive time.Duration
	// Now is the clock that decides whether a host's agent runs; nil means
	// time.Now.
	Now func() time.Time
	// Registerer receives the page's metrics: l2gw_ui_topology_reads_total
	// and l2gw_ui_event_streams. Nil: not registered.
	Registerer prometheus.Registerer
}

// Handler serves the page, its assets and its data endpoints.
type Handler struct {
	st     Store
	status Statuser
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux

	stopOnce sync.Once
	stop     chan struct{} // closed by Close: event streams end

	reads atomic.Int64  // topology reads (Reads)
	wake  chan struct{} // 1-buffered: Changed, or a first stream opened

	mu      sync.Mutex
	viewers int           // open event streams
	seq     uint64        // of the last event published
	latest  *event        // what every stream sends next; nil: none yet
	next    chan struct{} // closed when latest is replaced
}

// New returns the handler; status computes connection states.
func New(st Store, status Statuser, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Authenticator == nil {
		cfg.Authenticator = api.NoAuth{}
	}
	if cfg.Policy == nil {
		cfg.Policy = api.DefaultPolicy()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.MinGap <= 0 {
		cfg.MinGap = 250 * time.Millisecond
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{st: st, status: status, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), stop: make(chan struct{}),
		wake: make(chan struct{}, 1), next: make(chan struct{})}
	metrics.Register(cfg.Registerer, prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "l2gw_ui_topology_reads_total",
		Help: "Reads of the status page's topology (store lists and every connection's status), for all event streams together and GET /ui/api/topology.",
	}, func() float64 { return float64(h.reads.Load()) }))
	metrics.Register(cfg.Registerer, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "l2gw_ui_event_streams",
		Help: "Status page event streams open.",
	}, func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return float64(h.viewers)
	}))
	files := http.StripPrefix("/ui", http.FileServerFS(Assets()))
	h.mux.Handle("GET /ui/{$}", noStore(files))
	h.mux.Handle("GET /ui/app.js", noStore(files))
	h.mux.Handle("GET /ui/style.css", noStore(files))
	h.mux.HandleFunc("GET /ui/api/topology", h.authorized(h.topology))
	h.mux.HandleFunc("GET /ui/api/events", h.authorized(h.events))
	h.mux.HandleFunc("/ui/", api.NotFound)
	return h
}

// Mount registers the handler on mux under Prefix, and redirects /ui there.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(Prefix, h)
	mux.Handle("GET /ui", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// Close ends the open event streams and Run (the server calls it at shutdown:
// http.Server.Shutdown does not wait for them otherwise).
func (h *Handler) Close() { h.stopOnce.Do(func() { close(h.stop) }) }

// authorized runs fn when the caller may read the page's data.
func (h *Handler) authorized(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") == "" {
			if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
				// The page stores it URI-encoded.
				if tok, err := url.PathUnescape(c.Value); err == nil {
					r = r.Clone(r.Context())
					r.Header.Set("X-Auth-Token", tok)
				}
			}
		}
		if _, err := api.Authorize(r, h.cfg.Authenticator, h.cfg.Policy, Action); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fn(w, r)
	}
}

// noStore keeps browsers from caching the page across l2gw upgrades.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// Assets returns the page's files (index.html, app.js, style.css).
func Assets() fs.FS {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return static
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// Config tunes the API handler; the zero value is usable.
type Config struct {
	// Logger receives request failures (Error) and per-request detail
	// (Debug). Nil discards.
	Logger *slog.Logger
	// Authenticator identifies callers. Nil means NoAuth: everyone is admin.
	Authenticator Authenticator
	// Policy decides who may do what. Nil means DefaultPolicy (admin only).
	Policy *Policy
	// MaxBodyBytes limits request bodies (413 above). Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Registry receives the API's metrics and is served on /metrics. Nil
	// means a new registry of the handler's own.
	Registry *prometheus.Registry
	// NoMetrics leaves /metrics out of the API (404), for a server that
	// serves it on a separate bind.
	NoMetrics bool
	// MetricsAuth makes /metrics authenticate like the API (a token, and
	// the policy's admin rule); false serves it to anyone, as Prometheus
	// scrapers expect.
	MetricsAuth bool
	// Now is the clock (host liveness). Nil means time.Now.
	Now func() time.Time
	// InventoryReadOnly, when set, refuses every write of networks, ports
	// and hosts with 409 and this message: the inventory is mirrored from
	// elsewhere (l2gw server --inventory neutron).
	InventoryReadOnly string
	// Upstream, when set, is the Neutron the API stands in front of
	// (--neutron-proxy): every request that is not for l2gw's own
	// resources (gateways, connections, hosts, switches, local MACs,
	// /healthz, /metrics) is handed to it, networks and ports included,
	// and /v2.0/extensions lists its extensions with l2gw's.
	Upstream Upstream
}

// Upstream is a Neutron behind the API (internal/neutronproxy).
type Upstream interface {
	http.Handler
	// Extensions returns the upstream's extensions as the caller of r
	// may see them.
	Extensions(r *http.Request) ([]neutron.Extension, error)
}

// Store is what the API needs of the store (store.Store implements it):
// the resources' reads and writes, the switches' leases (to show their
// holders), the revision, list generations for its cache of list answers,
// and the health probe.
type Store interface {
	CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error)
	GetGateway(ctx context.Context, id string) (model.Gateway, error)
	ListGateways(ctx context.Context, q store.Query) ([]model.Gateway, error)
	UpdateGateway(ctx context.Context, id string, u model.GatewayUpdate) (model.Gateway, error)
	AddGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error)
	RemoveGatewayInterfaces(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error)
	DeleteGateway(ctx context.Context, id string) error

	CreateConnection(ctx context.Context, c model.Connection) (model.Connection, error)
	GetConnection(ctx context.Context, id string) (model.Connection, error)
	ListConnections(ctx context.Context, q store.Query) ([]model.Connection, error)
	DeleteConnection(ctx context.Context, id string) error

	CreateNetworks(ctx context.Context, nets []model.Network) ([]model.Network, error)
	GetNetwork(ctx context.Context, id string) (model.Network, error)
	ListNetworks(ctx context.Context, q store.Query) ([]model.Network, error)
	UpdateNetwork(ctx context.Context, n model.Network) (model.Network, error)
	DeleteNetwork(ctx context.Context, id string) error

	CreatePorts(ctx context.Context, ports []model.Port) ([]model.Port, error)
	GetPort(ctx context.Context, id string) (model.Port, error)
	ListPorts(ctx context.Context, q store.Query) ([]model.Port, error)
	UpdatePort(ctx context.Context, p model.Port) (model.Port, error)
	DeletePort(ctx context.Context, id string) error

	CreateHost(ctx context.Context, h model.Host) (model.Host, error)
	GetHost(ctx context.Context, id string) (model.Host, error)
	ListHosts(ctx context.Context, q store.Query) ([]model.Host, error)
	UpdateHost(ctx context.Context, h model.Host) (model.Host, error)
	DeleteHost(ctx context.Context, id string) error
	ListHostStatuses(ctx context.Context, q store.Query) ([]model.HostStatus, error)

	GetSwitch(ctx context.Context, name string) (model.Switch, error)
	ListSwitches(ctx context.Context, q store.Query) ([]model.Switch, error)
	ListLocalMACs(ctx context.Context, q store.Query) ([]model.LocalMAC, error)
	ListLeases(ctx context.Context, kind store.LeaseKind, q store.Query) ([]store.Lease, error)

	Revision(ctx context.Context) (int64, error)
	ListGeneration(kind store.Kind) (gen uint64, ok bool)
	// Check fails unless the store accepts a write (/healthz).
	Check(ctx context.Context) error
}

type handler struct {
	st      Store
	log     *slog.Logger
	auth    Authenticator
	policy  *Policy
	maxBody int64
	now     func() time.Time
	mux     *http.ServeMux
	lists   *listCache
	// encodes bounds the big list bodies encoded at once (maxListEncodes).
	encodes chan struct{}

	noMetrics, metricsAuth bool     // Config.NoMetrics, Config.MetricsAuth
	readOnly               string   // Config.InventoryReadOnly
	upstream               Upstream // Config.Upstream

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the HTTP handler of the whole northbound API.
func New(st Store, cfg Config) http.Handler {
	h := &handler{
		st: st, log: cfg.Logger, auth: cfg.Authenticator, policy: cfg.Policy,
		maxBody: cfg.MaxBodyBytes, now: cfg.Now, mux: http.NewServeMux(),
		lists: newListCache(st), noMetrics: cfg.NoMetrics, metricsAuth: cfg.MetricsAuth,
		encodes:  make(chan struct{}, maxListEncodes),
		readOnly: cfg.InventoryReadOnly, upstream: cfg.Upstream,
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.auth == nil {
		h.auth = NoAuth{}
	}
	if h.policy == nil {
		h.policy = DefaultPolicy()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// A registry shared with other handlers may already hold them: then
	// the handlers count together.
	h.requests = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "l2gw_api_requests_total",
		Help: "API requests by method, route pattern and status code.",
	}, []string{"method", "route", "code"}))
	h.duration = metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "l2gw_api_request_duration_seconds",
		Help:    "API request handling time by method and route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route"}))
	h.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return h.mux
}

// endpoint is one method of a route. noAuth serves without credentials;
// otherwise the caller must be allowed action by the policy.
type endpoint struct {
	method string
	fn     http.HandlerFunc
	noAuth bool
	action string // policy action, e.g. "create_port"
}

func (h *handler) routes(metricsHandler http.Handler) {
	if h.upstream == nil {
		// In front of Neutron, its own version documents are answered.
		h.route("/{$}", endpoint{method: http.MethodGet, fn: h.versions, noAuth: true})
		h.route(neutron.Base, endpoint{method: http.MethodGet, fn: h.versionResources, noAuth: true})
		h.route(neutron.Base+"/{$}", endpoint{method: http.MethodGet, fn: h.versionResources, noAuth: true})
	}
	h.route("/healthz", endpoint{method: http.MethodGet, fn: metrics.Healthz(h.st.Check, h.log), noAuth: true})
	switch {
	case h.noMetrics:
	case h.metricsAuth:
		h.route("/metrics", endpoint{method: http.MethodGet, fn: metricsHandler.ServeHTTP, action: "get_metrics"})
	default:
		h.route("/metrics", endpoint{method: http.MethodGet, fn: metricsHandler.ServeHTTP, noAuth: true})
	}
	h.route(neutron.PathExtensions, endpoint{method: http.MethodGet, fn: h.listExtensions})
	h.route(neutron.PathExtensions+"/{alias}", endpoint{method: http.MethodGet, fn: h.showExtension})

	h.crud(neutron.Gateways, h.listGateways, h.createGateway,
		show(h, h.st.GetGateway, neutron.KeyGateway, neutron.FromGateway), h.updateGateway, h.remove(h.st.DeleteGateway))
	h.gatewayActions()
	h.crud(neutron.Connections, h.listConnections, h.createConnection,
		h.showConnection(), h.updateConnection, h.remove(h.st.DeleteConnection))
	createNet, updateNet, delNet := h.createNetworks, h.updateNetwork, h.remove(h.st.DeleteNetwork)
	createPort, updatePort, delPort := h.createPorts, h.updatePort, h.remove(h.st.DeletePort)
	createHost, updateHost, delHost := h.createHost, h.updateHost, h.remove(h.st.DeleteHost)
	if h.readOnly != "" {
		createNet, updateNet, delNet = h.refuseWrite, h.refuseWrite, h.refuseWrite
		createPort, updatePort, delPort = h.refuseWrite, h.refuseWrite, h.refuseWrite
		createHost, updateHost, delHost = h.refuseWrite, h.refuseWrite, h.refuseWrite
	}
	if h.upstream == nil {
		h.crud(neutron.Networks, h.listNetworks, createNet,
			show(h, h.st.GetNetwork, neutron.KeyNetwork, neutron.FromNetwork), updateNet, delNet)
		h.crud(neutron.Ports, h.listPorts, createPort,
			show(h, h.getPort, neutron.KeyPort, func(p neutron.Port) neutron.Port { return p }), updatePort, delPort)
	}
	h.crud(neutron.Hosts, h.listHosts, createHost,
		show(h, h.st.GetHost, neutron.KeyHost, func(x model.Host) neutron.Host { return neutron.FromHost(x, h.now()) }),
		updateHost, delHost)
	h.crud(neutron.Switches, h.listSwitches, nil, h.showSwitch, nil, nil)
	h.crud(neutron.LocalMACs, h.listLocalMACs, nil, nil, nil, nil)

	if h.upstream != nil {
		// Anything else is Neutron's, which authenticates it itself.
		h.mux.HandleFunc("/", h.instrument("upstream", h.upstream.ServeHTTP))
		return
	}
	// Anything else: Neutron's 404.
	h.mux.HandleFunc("/", h.instrument("other", NotFound))
}

// refuseWrite answers a write of the mirrored inventory: 409, saying
// where the inventory is managed.
func (h *handler) refuseWrite(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, model.NewFault(model.ErrConflict, "InventoryReadOnly", "%s", h.readOnly))
}

// crud routes a resource's handlers (nil: method not allowed), each behind
// the policy action Neutron names it by: get_, create_, update_ or delete_
// and the member key (lists are get_ too).
func (h *handler) crud(res neutron.Resource, list, create, show, update, del http.HandlerFunc) {
	var coll, member []endpoint
	if list != nil {
		coll = append(coll, endpoint{method: http.MethodGet, fn: list, action: "get_" + res.Member})
	}
	if create != nil {
		coll = append(coll, endpoint{method: http.MethodPost, fn: create, action: "create_" + res.Member})
	}
	if show != nil {
		member = append(member, endpoint{method: http.MethodGet, fn: show, action: "get_" + res.Member})
	}
	if update != nil {
		member = append(member, endpoint{method: http.MethodPut, fn: update, action: "update_" + res.Member})
	}
	if del != nil {
		member = append(member, endpoint{method: http.MethodDelete, fn: del, action: "delete_" + res.Member})
	}
	h.route(res.Path, coll...)
	if len(member) > 0 {
		h.route(res.Path+"/{id}", member...)
	}
}

// show serves GET on a member: the object get finds by the path's id,
// shown by wire under key (honouring ?fields=).
func show[M, W any](h *handler, get func(context.Context, string) (M, error), key string, wire func(M) W) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := get(r.Context(), r.PathValue("id"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeMember(w, r, http.StatusOK, key, wire(m))
	}
}

// remove serves DELETE on a member: del the path's id, then 204.
func (h *handler) remove(del func(context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Deletes are unconditional: a revision constraint is refused,
		// not ignored.
		if err := refuseIfMatch(r, "this operation"); err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := del(r.Context(), r.PathValue("id")); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// route registers "METHOD pattern" for each endpoint and, for the pattern
// alone, a 405 NeutronError with Allow (ServeMux's own 405 is text/plain).
func (h *handler) route(pattern string, eps ...endpoint) {
	methods := make([]string, 0, len(eps))
	for _, ep := range eps {
		fn := ep.fn
		if ep.action != "" {
			fn = h.authorize(ep.action, fn)
		}
		if !ep.noAuth {
			fn = h.authenticate(fn)
		}
		h.mux.HandleFunc(ep.method+" "+pattern, h.instrument(pattern, fn))
		methods = append(methods, ep.method)
	}
	h.mux.HandleFunc(pattern, h.instrument(pattern, MethodNotAllowed(methods...)))
}

// instrument counts and times requests by route pattern, and turns a panic
// (a bug) into a logged 500 rather than a dropped connection.
func (h *handler) instrument(route string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &metrics.StatusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !sw.Written() {
					writeErrorBody(sw, http.StatusInternalServerError, neutron.Error{Type: "HTTPInternalServerError", Message: internalErrorMessage})
				}
			}
			code := sw.Code()
			h.requests.WithLabelValues(r.Method, route, strconv.Itoa(code)).Inc()
			h.duration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
		}()
		next(sw, r)
	}
}

func (h *handler) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.auth.Authenticate(r)
		if err != nil {
			h.log.DebugContext(r.Context(), "authentication failed", logAttrs(r), "err", err)
			h.writeError(w, r, authFailure(h.auth, err))
			return
		}
		next(w, r.WithContext(withCredentials(r.Context(), c)))
	}
}

// authorize serves next only to callers the policy allows action.
func (h *handler) authorize(action string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.enforce(r, action); err != nil {
			h.writeError(w, r, err)
			return
		}
		next(w, r)
	}
}

// enforce applies the policy to the request's caller.
func (h *handler) enforce(r *http.Request, action string) error {
	c, ok := CredentialsFrom(r.Context())
	if !ok {
		return model.NewFault(errUnauthorized, "HTTPUnauthorized", "Authentication required")
	}
	return h.policy.Enforce(c, action)
}

// caller's project, the default tenant of created objects.
func callerProject(r *http.Request) string {
	c, _ := CredentialsFrom(r.Context())
	return c.ProjectID
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErrorBody(w, http.StatusInternalServerError, neutron.Error{Type: "HTTPInternalServerError", Message: internalErrorMessage})
		return
	}
	writeJSONBytes(w, status, b)
}

// writeJSONBytes answers an encoded JSON body.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

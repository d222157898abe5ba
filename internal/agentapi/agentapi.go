// Package agentapi is the server side of the server <-> agent protocol
// (wire form and rules in internal/agentwire): switch reports and status,
// host registration, and the switch and host plan streams served from a
// planfeed.Feed; plus the per-switch status of gateway connections on the
// northbound API. It also adapts the Feed to the agents' Plans interfaces
// for agents running inside the server (Local).
package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/store"
)

// Store is what the handler needs of the store (store.Store implements it).
type Store interface {
	ReportSwitch(ctx context.Context, r model.SwitchReport) error
	SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error
	SwitchGone(ctx context.Context, name, reason string) error
	HostGone(ctx context.Context, name, reason string) error
	ClaimPresence(ctx context.Context, switches, hosts []string) error
	GetSwitch(ctx context.Context, name string) (model.Switch, error)
	ListSwitches(ctx context.Context, q store.Query) ([]model.Switch, error)
	RegisterHost(ctx context.Context, name, vtepIP string, at time.Time) (model.Host, error)
	ListHosts(ctx context.Context, q store.Query) ([]model.Host, error)
	SetHostStatus(ctx context.Context, s model.HostStatus) error
	GetHostStatus(ctx context.Context, name string) (model.HostStatus, error)
	ListHostStatuses(ctx context.Context, q store.Query) ([]model.HostStatus, error)
	ListPorts(ctx context.Context, q store.Query) ([]model.Port, error)
	GetConnection(ctx context.Context, id string) (model.Connection, error)
	GetGateway(ctx context.Context, id string) (model.Gateway, error)
	Revision(ctx context.Context) (int64, error)
	Reachability
}

// Config tunes the handler; the zero value is usable.
type Config struct {
	// Logger receives failures (Error) and per-stream detail (Debug); nil discards.
	Logger *slog.Logger
	// Authenticator identifies callers; nil means api.NoAuth.
	Authenticator api.Authenticator
	// Policy decides who may do what; nil means api.DefaultPolicy (admin only).
	// Actions: get_l2_gateway_connection_status, get_status (the system
	// status); and the agent actions report_switch, update_switch_status,
	// get_switch_plan, register_host, update_host_status, get_host_plan,
	// acquire_switch_lease, release_switch_lease, acquire_host_lease,
	// release_host_lease (lease.go), which it decides only under
	// api.NoAuth: otherwise they need an agent's credential (identity.go).
	Policy *api.Policy
	// AgentRole is the Keystone role of the service user agents
	// authenticate as when they present a token instead of a client
	// certificate (identity.go); empty means DefaultAgentRole. Tokens
	// without it, admins' included, cannot use the agent protocol.
	AgentRole string
	// AgentSwitches lists, by a name in a switch agent's certificate
	// (SwitchAgentOU), the further switches it serves: "tor-agent-1" →
	// ["tor1", "tor2"]. A certificate always serves the switches it names.
	AgentSwitches map[string][]string
	// Keepalive is the longest silence on a plan stream; zero means 15s.
	// A stream whose write does not complete within 2×Keepalive is dropped.
	Keepalive time.Duration
	// MaxBodyBytes limits request bodies; zero means api.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxReportBytes limits switch report bodies, which carry up to
	// MaxLocalMACs local MACs; zero means MaxBodyBytes when that is set,
	// else DefaultMaxReportBytes.
	MaxReportBytes int64
	// StatusWait bounds how long a status request waits for the plans to
	// catch up with the store; zero means 2s.
	StatusWait time.Duration
	// Now is the clock of host heartbeats (and of whether a host's agent
	// runs: neutron.HostAgentRunning); nil means time.Now.
	Now func() time.Time
	// Registerer receives the handler's metrics (metrics.go). Nil: not
	// registered.
	Registerer prometheus.Registerer
	// Database names the store in the system status, which shows it
	// through store.Redact (no password in any form). Empty shows nothing.
	Database string
	// Started is when the server started, for the system status; zero
	// means when New ran.
	Started time.Time
	// L2Pop, when set, adds the l2pop state of the compute hosts to the
	// connection and system status (l2pop.go).
	L2Pop L2PopStatus
	// InventoryReadOnly, when set, refuses host registrations with 409 and
	// this message: hosts are mirrored from Neutron's agents.
	InventoryReadOnly string
	// Inventory, when set, reports the mirrored inventory's state in the
	// system status.
	Inventory func() *agentwire.InventoryStatus
}

// Handler serves the agent endpoints under agentwire.Prefix and
// GET /v2.0/l2-gateway-connections/{id}/status.
type Handler struct {
	st   Store
	feed *planfeed.Feed
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	// agents and hostAgents track which switches and hosts have an agent
	// with a plan stream open.
	agents     *presence[model.SwitchStatus]
	hostAgents *presence[model.HostStatus]
	m          *handlerMetrics
	// conflicts holds the port MAC conflicts of each switch's last report.
	conflicts reportConflicts
	// gate lets plan streams run while the store reaches its database
	// (dbgate.go).
	gate *streamGate
}

// New returns the handler. The feed must be running for streams and status
// to make progress.
func New(st Store, feed *planfeed.Feed, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = api.DefaultPolicy()
	}
	if cfg.AgentRole == "" {
		cfg.AgentRole = DefaultAgentRole
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = 15 * time.Second
	}
	if cfg.MaxReportBytes <= 0 {
		cfg.MaxReportBytes = cfg.MaxBodyBytes
		if cfg.MaxReportBytes <= 0 {
			cfg.MaxReportBytes = DefaultMaxReportBytes
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = api.DefaultMaxBodyBytes
	}
	if cfg.StatusWait <= 0 {
		cfg.StatusWait = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Now()
	}
	h := &Handler{st: st, feed: feed, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), m: newHandlerMetrics(cfg.Registerer),
		agents: switchPresence(st), hostAgents: hostPresence(st), gate: newStreamGate()}
	p := agentwire.Prefix
	h.handle("POST "+p+"/switches/{name}/report", "report_switch", h.reportSwitch)
	h.handle("PUT "+p+"/switches/{name}/status", "update_switch_status", h.switchStatus)
	h.handle("GET "+p+"/switches/{name}/plan", "get_switch_plan", h.switchPlan)
	h.handle("POST "+p+"/hosts/{name}/register", "register_host", h.registerHost)
	h.handle("PUT "+p+"/hosts/{name}/status", "update_host_status", h.hostStatus)
	h.handle("GET "+p+"/hosts/{name}/plan", "get_host_plan", h.hostPlan)
	h.handle("GET "+agentwire.SystemStatusPath, "get_status", h.systemStatus)
	h.mountLeases()
	h.handle("GET "+neutron.PathConnections+"/{id}/status", "get_l2_gateway_connection_status", h.connectionStatus)
	h.mux.HandleFunc(p+"/", h.count("other", api.NotFound))
	return h
}

// Mount registers the handler on mux for its paths: agentwire.Prefix and
// the connection status path. The rest of mux (the northbound API on "/")
// is untouched.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(agentwire.Prefix+"/", h)
	mux.Handle("GET "+neutron.PathConnections+"/{id}/status", h)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// handle registers fn for "METHOD path" behind authorized, and a
// NeutronError 405 with Allow for other methods.
func (h *Handler) handle(pattern, action string, fn http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	h.mux.HandleFunc(pattern, h.count(path, h.authorized(action, fn)))
	h.mux.HandleFunc(path, h.count(path, api.MethodNotAllowed(method)))
}

// authorized checks a request before fn: an agent action needs the
// agent's identity for the path's host or switch (identity.go), any other
// action the API's authentication and policy; the name in the path must
// be UTF-8.
func (h *Handler) authorized(action string, fn http.HandlerFunc) http.HandlerFunc {
	kind, isAgent := agentActions[action]
	return func(w http.ResponseWriter, r *http.Request) {
		var err error
		if isAgent {
			// A refused agent is a misconfiguration or an attempt to act
			// for another host or switch: the operator should see it.
			if err = h.authorizeAgent(r, action, kind); errors.Is(err, model.ErrForbidden) {
				h.log.WarnContext(r.Context(), "agent request refused", "action", action, "name", r.PathValue("name"),
					"remote", r.RemoteAddr, "reason", err)
			}
		} else {
			_, err = api.Authorize(r, h.cfg.Authenticator, h.cfg.Policy, action)
		}
		if err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		// A switch or host name is text: "%ff" in the path would otherwise
		// be stored (or shown) as U+FFFD, another name than the agent's.
		if name := r.PathValue("name"); !utf8.ValidString(name) {
			api.WriteError(w, r, h.log, invalid("Invalid input for name. Reason: %q is not valid UTF-8.", name))
			return
		}
		fn(w, r)
	}
}

func invalid(format string, args ...any) error {
	return model.NewFault(model.ErrInvalid, "HTTPBadRequest", format, args...)
}

// decode reads a JSON body into v, rejecting unknown keys (typos in an
// agent are bugs better seen at once), strings that are not Unicode text
// (api.CheckUTF8: names would change) and oversized bodies.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return h.decodeAtMost(w, r, v, h.cfg.MaxBodyBytes)
}

func (h *Handler) decodeAtMost(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return model.NewFault(model.ErrTooLarge, "HTTPRequestEntityTooLarge", "Request is too large.")
		}
		return invalid("Malformed request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("Malformed request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("Malformed request body: data after the JSON value")
	}
	return api.CheckUTF8(body)
}

func (h *Handler) reportSwitch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var rep agentwire.SwitchReport
	if err := h.decodeAtMost(w, r, &rep, h.cfg.MaxReportBytes); err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	if rep.Switch.Name != "" && rep.Switch.Name != name {
		api.WriteError(w, r, h.log, invalid("Switch name %q in the body differs from %q in the path.", rep.Switch.Name, name))
		return
	}
	if err := checkSwitchReport(name, rep); err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	// A MAC of a port is never taken from a switch: the report is stored
	// without it and the conflict shows as the switch's sync problem.
	kept, conflicts, err := h.portMACConflicts(r.Context(), name, rep.LocalMACs)
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	rep.LocalMACs = kept
	if err := h.st.ReportSwitch(r.Context(), rep.Store(name)); err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	if h.conflicts.swap(name, conflicts) {
		if err := h.showConflicts(r.Context(), name, conflicts); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) switchStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := readStatus(h, w, r, checkSwitchStatus, func(s agentwire.SwitchStatus) int64 { return s.Revision })
	if !ok {
		return
	}
	name := r.PathValue("name")
	h.answerStatus(w, r, h.agents.setStatus(r.Context(), name, withConflicts(st.Store(name), h.conflicts.get(name))))
}

func (h *Handler) hostStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := readStatus(h, w, r, checkHostStatus, func(s agentwire.HostStatus) int64 {
		// A network's revision may be ahead of the host's (another network
		// failed), never of the store.
		rev := s.Revision
		for _, n := range s.Networks {
			rev = max(rev, n.Revision)
		}
		return rev
	})
	if !ok {
		return
	}
	name := r.PathValue("name")
	h.answerStatus(w, r, h.hostAgents.setStatus(r.Context(), name, st.Store(name)))
}

// readStatus decodes an agent's status body and checks it, its revision
// against the store's included; on failure it answers the error and
// returns false.
func readStatus[T any](h *Handler, w http.ResponseWriter, r *http.Request, check func(T) error, revision func(T) int64) (T, bool) {
	var st T
	err := h.decode(w, r, &st)
	if err == nil {
		err = check(st)
	}
	if err == nil {
		err = h.checkRevision(r.Context(), revision(st))
	}
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return st, false
	}
	return st, true
}

// answerStatus answers a status update: 204, or the error of storing it.
func (h *Handler) answerStatus(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) registerHost(w http.ResponseWriter, r *http.Request) {
	if h.cfg.InventoryReadOnly != "" {
		api.WriteError(w, r, h.log, model.NewFault(model.ErrConflict, "InventoryReadOnly", "%s", h.cfg.InventoryReadOnly))
		return
	}
	var reg agentwire.HostRegistration
	if err := h.decode(w, r, &reg); err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	// IPv4 only: hardware_vtep switches only have vxlan_over_ipv4 locators.
	ip, ok := model.VTEPIPv4(reg.VTEPIP)
	if !ok {
		api.WriteError(w, r, h.log, invalid("Invalid input for vtep_ip. Reason: '%s' is not a valid IPv4 address: hardware_vtep switches reach VTEPs over vxlan_over_ipv4 only.", reg.VTEPIP))
		return
	}
	if err := checkName("host name", r.PathValue("name")); err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	now := h.cfg.Now()
	// A VTEP IP other than the recorded one is a 409 (HostVTEPIPConflict):
	// the agent stops and says how to change the host through the API.
	hst, err := h.st.RegisterHost(r.Context(), r.PathValue("name"), ip, now)
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	b, err := json.Marshal(agentwire.HostResponse{Host: neutron.FromHost(hst, now)})
	if err != nil {
		api.WriteError(w, r, h.log, fmt.Errorf("encode host: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
